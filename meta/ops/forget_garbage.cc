// forget_garbage: chunk servers no longer hold these garbage replicas, so
// nobody needs to be told to delete them any more. Draining the last one
// drops the garbage record: the chunk is gone everywhere.
#include <algorithm>
#include <optional>

#include "meta/ops/ops.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> ForgetGarbage(MetaTxn& txn, const OpContext& /*ctx*/,
                                    const pb::ForgetGarbageCommand& req) {
  // Pairs are independent and each is idempotent: the leader may propose a
  // pair twice (a retry, a leader change), or one another leader already
  // forgot. Reads go through the batch, so a chunk named twice sees the
  // first change.
  for (const pb::GarbageReplica& pair : req.replicas()) {
    ASSIGN_OR_RETURN(std::optional<pb::ChunkRecord> record, txn.GetGarbage(pair.chunk_id()));
    if (!record) continue;
    auto* replicas = record->mutable_replicas();
    auto it = std::find(replicas->begin(), replicas->end(), pair.node_id());
    if (it == replicas->end()) continue;
    replicas->erase(it);
    txn.DeleteGarbageReplica(pair.chunk_id(), pair.node_id());
    if (replicas->empty()) {
      txn.DeleteGarbage(pair.chunk_id());
    } else {
      txn.PutGarbage(*record);
    }
  }
  return pb::MetaReply();
}

}  // namespace dfs::meta::ops
