// Random (version 4) UUIDs, e.g. the cluster id fixed at format time.
#pragma once

#include <string>

namespace dfs {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" from the kernel's random source.
std::string NewUuid();

}  // namespace dfs
