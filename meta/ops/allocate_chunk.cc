// allocate_chunk: the chunk at (inode, index) for a writer. A new chunk
// takes the chain the leader placed; an existing one keeps its chain, less
// the replicas a writer saw fail.
#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "meta/ops/chunks.h"
#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

Result<pb::InodeRecord> RequireChunkedFile(const MetaTxn& txn, const OpContext& ctx,
                                           const pb::AllocateChunkCommand& req) {
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, req.inode()));
  if (file.attr().type() == pb::FILE_TYPE_DIRECTORY) {
    return Status::IsADirectory("inode " + std::to_string(req.inode()) + " is a directory");
  }
  if (file.attr().type() != pb::FILE_TYPE_REGULAR) {
    return Status::InvalidArgument("inode " + std::to_string(req.inode()) + " has no chunks");
  }
  RETURN_IF_ERROR(CheckInodeWritable(file, "allocate_chunk"));
  if (req.index() >= kMaxFileSize / ctx.chunk_size) {
    return Status::FileTooLarge("chunk index " + std::to_string(req.index()));
  }
  return file;
}

// The chain of `chunk` without the failed nodes, in order.
std::vector<uint64_t> Survivors(const pb::ChunkRecord& chunk, const pb::AllocateChunkCommand& req) {
  std::vector<uint64_t> out;
  for (uint64_t node_id : chunk.replicas()) {
    bool failed = std::find(req.failed_nodes().begin(), req.failed_nodes().end(), node_id) !=
                  req.failed_nodes().end();
    if (!failed) out.push_back(node_id);
  }
  return out;
}

}  // namespace

Result<pb::MetaReply> AllocateChunk(MetaTxn& txn, const OpContext& ctx,
                                    const pb::AllocateChunkCommand& req) {
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireChunkedFile(txn, ctx, req));
  ASSIGN_OR_RETURN(std::optional<pb::ChunkRecord> existing, txn.GetChunk(req.inode(), req.index()));
  IndexedChunk chunk;
  chunk.index = req.index();

  if (!existing) {
    RETURN_IF_ERROR(CheckChain(txn, req.replicas()));
    ASSIGN_OR_RETURN(uint64_t id, txn.GetCounter(Counter::kNextChunkId));
    txn.PutCounter(Counter::kNextChunkId, id + 1);
    chunk.record.set_chunk_id(id);
    chunk.record.set_version(1);
    chunk.record.mutable_replicas()->Assign(req.replicas().begin(), req.replicas().end());
    chunk.record.set_zone_degraded(req.zone_degraded());
    txn.PutChunk(req.inode(), req.index(), chunk.record);
  } else {
    chunk.record = std::move(*existing);
    // Another writer, or a retry, gets the chunk as it is. A writer that
    // saw replicas fail takes them out of the chain; the survivors get a
    // new version, so a replica that missed writes is recognisably stale.
    // The repair scheduler restores the lost copies later.
    std::vector<uint64_t> survivors = Survivors(chunk.record, req);
    if (survivors.size() != static_cast<size_t>(chunk.record.replicas_size())) {
      if (survivors.empty()) {
        return Status::Unavailable("every replica of chunk " +
                                   std::to_string(chunk.record.chunk_id()) + " failed");
      }
      chunk.record.mutable_replicas()->Assign(survivors.begin(), survivors.end());
      std::vector<uint64_t> joining;
      for (uint64_t node_id : chunk.record.joining()) {
        if (std::find(survivors.begin(), survivors.end(), node_id) != survivors.end()) {
          joining.push_back(node_id);
        }
      }
      if (joining.size() == survivors.size()) {
        return Status::Unavailable("every copy of chunk " +
                                   std::to_string(chunk.record.chunk_id()) +
                                   " failed; only replicas still joining are left");
      }
      chunk.record.mutable_joining()->Assign(joining.begin(), joining.end());
      chunk.record.set_version(chunk.record.version() + 1);
      txn.PutChunk(req.inode(), req.index(), chunk.record);
    }
  }

  pb::MetaReply reply;
  ASSIGN_OR_RETURN(*reply.mutable_chunk(),
                   LocateChunk(txn, ctx.chunk_size, file.attr().size(), chunk));
  return reply;
}

}  // namespace dfs::meta::ops
