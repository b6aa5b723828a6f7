// change_chain: the repair scheduler moves a chunk to a new chain
// (docs/self_healing.md). Conditional on the chunk's id and version, so a
// plan made from an older state (a writer dropped a replica meanwhile, the
// file was truncated) changes nothing.
#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "meta/ops/chunks.h"
#include "meta/ops/ops.h"

namespace dfs::meta::ops {

namespace {

Status ValidateChain(const MetaTxn& txn, const pb::ChangeChainCommand& req) {
  RETURN_IF_ERROR(CheckChain(txn, req.replicas()));
  const std::set<uint64_t> seen(req.replicas().begin(), req.replicas().end());
  std::set<uint64_t> joining(req.joining().begin(), req.joining().end());
  if (joining.size() != static_cast<size_t>(req.joining_size())) {
    return Status::InvalidArgument("a joining node listed twice");
  }
  for (uint64_t node_id : joining) {
    if (!seen.count(node_id)) {
      return Status::InvalidArgument("joining node " + std::to_string(node_id) +
                                     " is not in the chain");
    }
  }
  if (joining.size() >= seen.size()) {
    return Status::InvalidArgument("a chain needs at least one replica that is not joining");
  }
  return Status::Ok();
}

}  // namespace

Result<pb::MetaReply> ChangeChain(MetaTxn& txn, const OpContext& ctx,
                                  const pb::ChangeChainCommand& req) {
  ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> file, txn.GetInode(req.inode()));
  ASSIGN_OR_RETURN(std::optional<pb::ChunkRecord> existing, txn.GetChunk(req.inode(), req.index()));
  if (!file || !existing || existing->chunk_id() != req.chunk_id()) {
    return Status::NotFound("chunk " + std::to_string(req.chunk_id()) + " is no longer at inode " +
                            std::to_string(req.inode()) + " index " + std::to_string(req.index()));
  }
  if (existing->version() != req.expect_version()) {
    return Status::StaleVersion("chunk " + std::to_string(req.chunk_id()) + " is at v" +
                                std::to_string(existing->version()) + ", not v" +
                                std::to_string(req.expect_version()));
  }
  RETURN_IF_ERROR(ValidateChain(txn, req));

  IndexedChunk chunk;
  chunk.index = req.index();
  chunk.record = std::move(*existing);
  chunk.record.mutable_replicas()->Assign(req.replicas().begin(), req.replicas().end());
  chunk.record.mutable_joining()->Assign(req.joining().begin(), req.joining().end());
  chunk.record.set_zone_degraded(req.zone_degraded());
  if (req.bump()) chunk.record.set_version(chunk.record.version() + 1);
  txn.PutChunk(req.inode(), req.index(), chunk.record);

  pb::MetaReply reply;
  ASSIGN_OR_RETURN(*reply.mutable_chunk(),
                   LocateChunk(txn, ctx.chunk_size, file->attr().size(), chunk));
  return reply;
}

}  // namespace dfs::meta::ops
