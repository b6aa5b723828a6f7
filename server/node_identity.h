// NodeIdentity: who a chunk server is, kept in every one of its data
// directories (file IDENTITY) so that a restarted server comes back as the
// same node of the same cluster, and a data directory of another cluster is
// refused rather than mixed in. Format: docs/chunkserver.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace dfs::server {

struct NodeIdentity {
  std::string cluster_id;  // empty: never registered
  uint64_t node_id = 0;
  uint64_t chunk_size = 0;

  bool registered() const { return node_id != 0; }
};

// Reads the identity of the data directories. Directories without an
// IDENTITY file are new; the others must all agree (CORRUPT otherwise,
// naming the directories). None has one: an empty identity.
Result<NodeIdentity> LoadNodeIdentity(const std::vector<std::string>& dirs);

// Writes `identity` into every directory, durably (temp file, fsync,
// rename, fsync of the directory).
Status SaveNodeIdentity(const std::vector<std::string>& dirs, const NodeIdentity& identity);

}  // namespace dfs::server
