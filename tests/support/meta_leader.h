// Which dfs-meta of a group leads right now, for tests that kill the leader.
#pragma once

#include <cstdint>

#include "tests/support/server_group.h"

namespace dfs::testing {

// The id of the running server that is leader now, or 0 if none answers
// as leader. A read does not tell (followers serve reads through the
// leader); a chunk-server heartbeat does: only the leader takes one, and it
// answers an unknown node with NOT_FOUND where followers say NOT_LEADER.
uint64_t MetaLeader(const ServerGroup& group);

}  // namespace dfs::testing
