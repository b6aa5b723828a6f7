// ChunkClient: the client side of the chunk servers (proto/chunk.proto), as
// libdfsclient, benchmarks and tests use it. Chain operations go to the
// first replica of a chunk with the others as its chain; checksums are
// computed here on write and verified here on read, so data is covered end
// to end.
//
// A chain operation that fails names the replica that failed in
// `*failed_node` (0 when no replica is to blame, e.g. bad input): the
// caller reports it to the meta leader, which drops it from the chain.
//
// Thread-safe; calls may run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/chunk_stub_pool.h"
#include "common/result.h"
#include "proto/common.pb.h"

namespace dfs::client {

struct ChunkClientOptions {
  std::string cluster_id;
  std::chrono::milliseconds rpc_timeout{30000};
};

class ChunkClient {
 public:
  explicit ChunkClient(ChunkClientOptions options);

  // REQUIRES for chain operations: chunk.replicas() is not empty.
  Status Create(const pb::ChunkLocation& chunk, uint64_t* failed_node = nullptr);
  // `sync`: every replica also makes the chunk durable (Sync) before it answers.
  Status Write(const pb::ChunkLocation& chunk, uint64_t offset, std::string_view data,
               uint64_t* failed_node = nullptr, bool sync = false);
  Status Sync(const pb::ChunkLocation& chunk, uint64_t* failed_node = nullptr);
  Status Truncate(const pb::ChunkLocation& chunk, uint64_t length, uint64_t* failed_node = nullptr);

  // Moves one replica from old_version to new_version (after the meta
  // leader dropped a failed replica from the chain and bumped the version).
  Status SetVersion(const pb::ChunkReplica& replica, uint64_t chunk_id, uint64_t old_version,
                    uint64_t new_version);

  // Reads [offset, offset + length) of the chunk from one replica and
  // verifies it against the checksums the replica sent (CHECKSUM_MISMATCH:
  // damaged on the way; try another replica).
  Result<std::string> Read(const pb::ChunkReplica& replica, uint64_t chunk_id, uint64_t version,
                           uint64_t offset, uint64_t length);

 private:
  template <class Request, class Call>
  Status Chain(const pb::ChunkLocation& chunk, Request* req, uint64_t* failed_node, Call call);
  pb::RpcHeader Header() const;

  const ChunkClientOptions options_;
  ChunkStubPool stubs_;
};

}  // namespace dfs::client
