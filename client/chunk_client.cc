#include "client/chunk_client.h"

#include <grpcpp/grpcpp.h>

#include "common/checksum.h"
#include "proto/chunk.grpc.pb.h"
#include "proto/wire_error.h"

namespace dfs::client {

ChunkClient::ChunkClient(ChunkClientOptions options) : options_(std::move(options)) {}

pb::RpcHeader ChunkClient::Header() const {
  pb::RpcHeader h;
  h.set_cluster_id(options_.cluster_id);
  return h;
}

template <class Request, class Call>
Status ChunkClient::Chain(const pb::ChunkLocation& chunk, Request* req, uint64_t* failed_node,
                          Call call) {
  if (failed_node) *failed_node = 0;
  if (chunk.replicas_size() == 0) return Status::InvalidArgument("chunk has no replicas");
  *req->mutable_header() = Header();
  req->set_chunk_id(chunk.chunk_id());
  req->set_version(chunk.version());
  for (int i = 1; i < chunk.replicas_size(); i++)
    *req->add_chain() = chunk.replicas(i);
  const pb::ChunkReplica& head = chunk.replicas(0);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  pb::ChainReply reply;
  grpc::Status rpc = call(stubs_.Get(head.address()), &ctx, *req, &reply);
  if (!rpc.ok()) {
    if (failed_node) *failed_node = head.node_id();
    return Status::Unavailable("replica " + std::to_string(head.node_id()) + " at " +
                               head.address() + ": " + rpc.error_message());
  }
  if (failed_node) *failed_node = reply.failed_node();
  return StatusFromProto(reply.error());
}

Status ChunkClient::Create(const pb::ChunkLocation& chunk, uint64_t* failed_node) {
  pb::CreateChunkRequest req;
  return Chain(chunk, &req, failed_node, [](auto* stub, auto* ctx, auto& r, auto* reply) {
    return stub->CreateChunk(ctx, r, reply);
  });
}

Status ChunkClient::Write(const pb::ChunkLocation& chunk, uint64_t offset, std::string_view data,
                          uint64_t* failed_node, bool sync) {
  pb::WriteRequest req;
  req.set_offset(offset);
  req.set_sync(sync);
  req.set_data(data.data(), data.size());
  std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  req.mutable_checksums()->Assign(sums.begin(), sums.end());
  return Chain(chunk, &req, failed_node, [](auto* stub, auto* ctx, auto& r, auto* reply) {
    return stub->Write(ctx, r, reply);
  });
}

Status ChunkClient::Sync(const pb::ChunkLocation& chunk, uint64_t* failed_node) {
  pb::SyncRequest req;
  return Chain(chunk, &req, failed_node, [](auto* stub, auto* ctx, auto& r, auto* reply) {
    return stub->Sync(ctx, r, reply);
  });
}

Status ChunkClient::Truncate(const pb::ChunkLocation& chunk, uint64_t length,
                             uint64_t* failed_node) {
  pb::TruncateChunkRequest req;
  req.set_length(length);
  return Chain(chunk, &req, failed_node, [](auto* stub, auto* ctx, auto& r, auto* reply) {
    return stub->TruncateChunk(ctx, r, reply);
  });
}

Status ChunkClient::SetVersion(const pb::ChunkReplica& replica, uint64_t chunk_id,
                               uint64_t old_version, uint64_t new_version) {
  pb::SetVersionRequest req;
  *req.mutable_header() = Header();
  req.set_chunk_id(chunk_id);
  req.set_old_version(old_version);
  req.set_new_version(new_version);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  pb::Error reply;
  grpc::Status rpc = stubs_.Get(replica.address())->SetVersion(&ctx, req, &reply);
  const std::string who =
      "replica " + std::to_string(replica.node_id()) + " at " + replica.address();
  if (!rpc.ok()) return Status::Unavailable(who + ": " + rpc.error_message());
  return StatusFromProto(reply).WithContext(who);
}

Result<std::string> ChunkClient::Read(const pb::ChunkReplica& replica, uint64_t chunk_id,
                                      uint64_t version, uint64_t offset, uint64_t length) {
  pb::ReadRequest req;
  *req.mutable_header() = Header();
  req.set_chunk_id(chunk_id);
  req.set_version(version);
  req.set_offset(offset);
  req.set_length(length);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  pb::ReadReply reply;
  grpc::Status rpc = stubs_.Get(replica.address())->Read(&ctx, req, &reply);
  const std::string who =
      "replica " + std::to_string(replica.node_id()) + " at " + replica.address();
  if (!rpc.ok()) return Status::Unavailable(who + ": " + rpc.error_message());
  RETURN_IF_ERROR(StatusFromProto(reply.error()), who);
  if (reply.data().size() != length) {
    return Status::Corrupt(who + " sent " + std::to_string(reply.data().size()) +
                           " bytes for a read of " + std::to_string(length));
  }
  RETURN_IF_ERROR(VerifyBlocks(reply.data().data(), reply.data().size(), reply.checksums().data(),
                               reply.checksums_size()),
                  "data from " << who);
  return std::move(*reply.mutable_data());
}

}  // namespace dfs::client
