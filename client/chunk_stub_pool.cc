#include "client/chunk_stub_pool.h"

#include <grpcpp/grpcpp.h>

#include "proto/tls.h"

namespace dfs::client {

pb::ChunkService::Stub* ChunkStubPool::Get(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxChunkMessageBytes);
    args.SetMaxSendMessageSize(kMaxChunkMessageBytes);
    // A restarted peer should be reachable again within a heartbeat or so.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub = pb::ChunkService::NewStub(tls::Channel(address, args));
  }
  return stub.get();
}

}  // namespace dfs::client
