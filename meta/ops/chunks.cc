#include "meta/ops/chunks.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dfs::meta::ops {

Result<pb::ChunkLocation> LocateChunk(const MetaTxn& txn, uint64_t chunk_size, uint64_t file_size,
                                      const IndexedChunk& chunk) {
  pb::ChunkLocation out;
  out.set_chunk_id(chunk.record.chunk_id());
  out.set_version(chunk.record.version());
  out.set_index(chunk.index);
  // Indexes are bounded by kMaxFileSize / chunk_size, so this cannot wrap.
  uint64_t start = chunk.index * chunk_size;
  out.set_length(file_size > start ? std::min(file_size - start, chunk_size) : 0);
  for (uint64_t node_id : chunk.record.replicas()) {
    pb::ChunkReplica* replica = out.add_replicas();
    replica->set_node_id(node_id);
    for (uint64_t joining : chunk.record.joining())
      if (joining == node_id) replica->set_joining(true);
    ASSIGN_OR_RETURN(std::optional<pb::NodeRecord> node, txn.GetNode(node_id));
    if (node) {
      replica->set_address(node->address());
      replica->set_zone(node->zone());
    }
  }
  return out;
}

Status CheckChain(const MetaTxn& txn, const google::protobuf::RepeatedField<uint64_t>& nodes) {
  if (nodes.empty()) return Status::InvalidArgument("a chunk needs at least one replica");
  std::set<uint64_t> seen;
  for (uint64_t node_id : nodes) {
    if (!seen.insert(node_id).second) {
      return Status::InvalidArgument("node " + std::to_string(node_id) + " listed twice");
    }
    ASSIGN_OR_RETURN(std::optional<pb::NodeRecord> node, txn.GetNode(node_id));
    if (!node) return Status::NotFound("no chunk server " + std::to_string(node_id));
  }
  return Status::Ok();
}

Status FreeChunks(MetaTxn& txn, uint64_t inode, uint64_t first_index, pb::MetaReply* reply) {
  ASSIGN_OR_RETURN(std::vector<IndexedChunk> chunks,
                   txn.ListChunks(inode, first_index, std::numeric_limits<uint64_t>::max()));
  for (const IndexedChunk& chunk : chunks) {
    txn.PutGarbage(chunk.record);
    txn.DeleteChunk(inode, chunk.index, chunk.record.chunk_id());
    reply->add_freed_chunks(chunk.record.chunk_id());
  }
  return Status::Ok();
}

uint64_t ChunksCovering(uint64_t size, uint64_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

}  // namespace dfs::meta::ops
