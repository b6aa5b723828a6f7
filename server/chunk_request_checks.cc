#include "server/chunk_request_checks.h"

#include <set>
#include <string>
#include <string_view>

#include "common/checksum.h"
#include "common/result.h"
#include "proto/field_checks.h"

namespace dfs::server {

namespace {

Status CheckChunk(uint64_t chunk_id, uint64_t version) {
  if (chunk_id == 0) return InvalidField("chunk_id", "0 is no chunk");
  if (version == 0) return InvalidField("version", "versions count from 1");
  return Status::Ok();
}

// [offset, offset + length) within a chunk of chunk_size bytes.
Status CheckRange(std::string_view what, uint64_t offset, uint64_t length, uint64_t chunk_size) {
  if (offset > chunk_size || length > chunk_size - offset) {
    return InvalidField(what, std::to_string(length) + " bytes at offset " +
                                  std::to_string(offset) + " pass the chunk size " +
                                  std::to_string(chunk_size));
  }
  return Status::Ok();
}

// Replicas that together with this server make one chain: each valid, none
// named twice (by id or address), this server not among them, at most
// `room` of them.
class ChainCheck {
 public:
  explicit ChainCheck(const ChunkRequestContext& ctx) : self_(ctx.self_node_id) {}

  Status Add(std::string_view field, const pb::ChunkReplica& replica) {
    RETURN_IF_ERROR(CheckReplica(field, replica));
    if (replica.node_id() == self_) {
      return InvalidField(field, "names this server (node " + std::to_string(self_) + ")");
    }
    if (!ids_.insert(replica.node_id()).second || !addresses_.insert(replica.address()).second) {
      return InvalidField(field, "replica " + std::to_string(replica.node_id()) + " at " +
                                     replica.address() + " is named twice");
    }
    return Status::Ok();
  }

  template <class Replicas>
  Status AddAll(std::string_view field, const Replicas& replicas, int room) {
    if (replicas.size() > room) {
      return InvalidField(field, std::to_string(replicas.size()) +
                                     " replicas, more than a chain of " +
                                     std::to_string(kMaxChainLength) + " holds");
    }
    for (const pb::ChunkReplica& r : replicas)
      RETURN_IF_ERROR(Add(field, r));
    return Status::Ok();
  }

  int size() const { return static_cast<int>(ids_.size()); }

 private:
  const uint64_t self_;
  std::set<uint64_t> ids_;
  std::set<std::string> addresses_;
};

// A chain operation's chunk and chain (the replicas after this one).
template <class Request>
Status CheckChainOp(const Request& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckChunk(req.chunk_id(), req.version()));
  ChainCheck chain(ctx);
  return chain.AddAll("chain", req.chain(), kMaxChainLength - 1);
}

}  // namespace

Status CheckRequest(const pb::CreateChunkRequest& req, const ChunkRequestContext& ctx) {
  return CheckChainOp(req, ctx);
}

Status CheckRequest(const pb::WriteRequest& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckChainOp(req, ctx));
  const uint64_t size = req.data().size();
  if (size == 0) return InvalidField("data", "empty write");
  if (size > kMaxIoBytes) {
    return InvalidField("data", std::to_string(size) + " bytes in one write (max " +
                                    std::to_string(kMaxIoBytes) + ")");
  }
  RETURN_IF_ERROR(CheckRange("data", req.offset(), size, ctx.chunk_size));
  const uint64_t pieces = (size + kBlockSize - 1) / kBlockSize;
  if (static_cast<uint64_t>(req.checksums_size()) != pieces) {
    return InvalidField("checksums", std::to_string(req.checksums_size()) + " for " +
                                         std::to_string(pieces) + " pieces of data");
  }
  return Status::Ok();
}

Status CheckRequest(const pb::SyncRequest& req, const ChunkRequestContext& ctx) {
  return CheckChainOp(req, ctx);
}

Status CheckRequest(const pb::TruncateChunkRequest& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckChainOp(req, ctx));
  if (req.length() > ctx.chunk_size) {
    return InvalidField("length", std::to_string(req.length()) + " passes the chunk size " +
                                      std::to_string(ctx.chunk_size));
  }
  return Status::Ok();
}

Status CheckRequest(const pb::ReadRequest& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckChunk(req.chunk_id(), req.version()));
  if (req.length() > kMaxIoBytes) {
    return InvalidField("length", std::to_string(req.length()) + " bytes in one read (max " +
                                      std::to_string(kMaxIoBytes) + ")");
  }
  return CheckRange("length", req.offset(), req.length(), ctx.chunk_size);
}

Status CheckRequest(const pb::SetVersionRequest& req, const ChunkRequestContext&) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  if (req.chunk_id() == 0) return InvalidField("chunk_id", "0 is no chunk");
  if (req.new_version() == 0) return InvalidField("new_version", "versions count from 1");
  if (req.old_version() > req.new_version()) {
    return InvalidField("old_version", "v" + std::to_string(req.old_version()) +
                                           " is above new_version v" +
                                           std::to_string(req.new_version()));
  }
  return Status::Ok();
}

Status CheckRequest(const pb::ReplicateRequest& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckChunk(req.chunk_id(), req.version()));
  ChainCheck source(ctx);
  return source.Add("source", req.source());
}

Status CheckRequest(const pb::DeleteChunkRequest& req, const ChunkRequestContext&) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  return CheckChunk(req.chunk_id(), req.version());
}

Status CheckRequest(const pb::RechainRequest& req, const ChunkRequestContext& ctx) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckChunk(req.chunk_id(), req.version()));
  // The head is this server as the joiners reach it.
  RETURN_IF_ERROR(CheckReplica("head", req.head()));
  if (req.head().node_id() != ctx.self_node_id) {
    return InvalidField("head", "names node " + std::to_string(req.head().node_id()) +
                                    ", not this server (node " + std::to_string(ctx.self_node_id) +
                                    ")");
  }
  ChainCheck chain(ctx);
  RETURN_IF_ERROR(chain.AddAll("members", req.members(), kMaxChainLength - 1));
  return chain.AddAll("joiners", req.joiners(), kMaxChainLength - 1 - chain.size());
}

}  // namespace dfs::server
