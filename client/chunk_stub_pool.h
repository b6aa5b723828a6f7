// ChunkStubPool: one gRPC channel and ChunkService stub per chunk server address,
// made on first use and shared by every call (clients, chain forwarding,
// re-replication). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "proto/chunk.grpc.pb.h"

namespace dfs::client {

// Largest message a chunk server sends or accepts: a write or read of a few
// MiB plus its checksums and headers.
constexpr int kMaxChunkMessageBytes = 16 << 20;

class ChunkStubPool {
 public:
  pb::ChunkService::Stub* Get(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<pb::ChunkService::Stub>> stubs_;
};

}  // namespace dfs::client
