#include "meta/server/replica_report.h"

#include <algorithm>
#include <utility>

#include "meta/meta_store.h"

namespace dfs::meta {

namespace {

bool Lists(const pb::ChunkRecord& record, uint64_t node_id) {
  return std::find(record.replicas().begin(), record.replicas().end(), node_id) !=
         record.replicas().end();
}

// The verdicts of one Judge call as they are built: one delete per chunk,
// at most max_deletes of them, one forget per chunk.
class VerdictBuilder {
 public:
  explicit VerdictBuilder(size_t max_deletes) : max_deletes_(max_deletes) {}

  bool full() const { return out_.deletes.size() >= max_deletes_; }
  // False when the reply has no room left for it.
  bool Delete(uint64_t chunk_id, uint64_t version) {
    if (deleting_.contains(chunk_id)) return true;
    if (full()) return false;
    deleting_.insert(chunk_id);
    pb::ChunkReport& d = out_.deletes.emplace_back();
    d.set_chunk_id(chunk_id);
    d.set_version(version);
    return true;
  }
  void Forget(uint64_t chunk_id) {
    if (forgetting_.insert(chunk_id).second) out_.forgets.push_back(chunk_id);
  }
  ReplicaVerdicts& out() { return out_; }

 private:
  const size_t max_deletes_;
  ReplicaVerdicts out_;
  std::set<uint64_t> deleting_;
  std::set<uint64_t> forgetting_;
};

// The verdict on one replica that `node_id` reported holding; false when
// it needed a delete and the reply was full.
Result<bool> JudgeHeld(const ChunkCatalog& catalog, uint64_t node_id, uint64_t chunk_id,
                       const HeldReplica& held, VerdictBuilder* verdicts) {
  ASSIGN_OR_RETURN(ChunkFate fate, catalog.Fate(chunk_id));
  switch (fate.kind) {
    case ChunkFate::Kind::kUnknown:
      // An orphan: no file references the id and no garbage record is left
      // (every listed replica was drained; this one was written late, or
      // copied and never listed). Only the version seen is condemned.
      return verdicts->Delete(chunk_id, held.version);
    case ChunkFate::Kind::kGarbage:
      // Listed or not, every copy of a garbage chunk goes.
      return verdicts->Delete(chunk_id, kEveryVersion);
    case ChunkFate::Kind::kLive:
      // Stale: the chain moved on without this server. A chain member with
      // an old version is kept (the leader is giving it the new one), and
      // so is an unlisted replica at the current version or above (a copy
      // about to join the chain).
      if (held.version < fate.record.version() && !Lists(fate.record, node_id)) {
        return verdicts->Delete(chunk_id, held.version);
      }
      return true;
  }
  return true;
}

}  // namespace

Result<ChunkFate> StoreCatalog::Fate(uint64_t chunk_id) const {
  // The chunk map first, garbage second: a chunk only ever moves from the
  // one to the other, so two reads at different moments cannot miss a
  // chunk that a server holds (one allocated between them is on no server
  // yet).
  ChunkFate fate;
  Result<LocatedChunk> live = store_->FindChunk(chunk_id);
  if (live.ok()) {
    fate.kind = ChunkFate::Kind::kLive;
    fate.record = std::move(live->record);
    return fate;
  }
  if (live.status().code() != ErrorCode::NOT_FOUND) return live.status();
  Result<pb::ChunkRecord> garbage = store_->FindGarbage(chunk_id);
  if (garbage.ok()) {
    fate.kind = ChunkFate::Kind::kGarbage;
    fate.record = std::move(garbage).value();
    return fate;
  }
  if (garbage.status().code() != ErrorCode::NOT_FOUND) return garbage.status();
  return fate;
}

Result<std::vector<uint64_t>> StoreCatalog::GarbageOn(uint64_t node_id, uint64_t after,
                                                      size_t max) const {
  return store_->GarbageOn(node_id, after, max);
}

void ReplicaReport::Apply(const pb::HeartbeatRequest& req) {
  if (req.full_report()) {
    held_.clear();
    changed_.clear();
    for (const pb::ChunkReport& r : req.changed()) {
      if (!r.deleted()) held_[r.chunk_id()] = HeldReplica{r.version(), r.corrupt()};
    }
    complete_ = true;
    sweep_after_.reset();
    sweep_fast_ = true;
    garbage_after_ = 0;
    return;
  }
  for (const pb::ChunkReport& r : req.changed()) {
    if (r.deleted()) {
      held_.erase(r.chunk_id());
      changed_.erase(r.chunk_id());
      gone_.insert(r.chunk_id());
    } else if (complete_) {
      held_[r.chunk_id()] = HeldReplica{r.version(), r.corrupt()};
      changed_.insert(r.chunk_id());
      gone_.erase(r.chunk_id());
    }
  }
}

Result<ReplicaVerdicts> ReplicaReport::Judge(const ChunkCatalog& catalog) {
  VerdictBuilder verdicts(limits_.max_deletes);

  // Replicas the server deleted: garbage records that list it let go.
  std::set<uint64_t> gone;
  gone.swap(gone_);
  for (uint64_t chunk_id : gone) {
    ASSIGN_OR_RETURN(ChunkFate fate, catalog.Fate(chunk_id));
    if (fate.kind == ChunkFate::Kind::kGarbage && Lists(fate.record, node_id_)) {
      verdicts.Forget(chunk_id);
    }
  }
  if (!complete_) {
    // Nothing is known of what the server holds: judging absent replicas
    // would forget garbage it still has.
    verdicts.out().send_full_report = true;
    return std::move(verdicts.out());
  }

  // Garbage that lists this server, a window at a time: what it holds is
  // deleted, what it does not is forgotten.
  ASSIGN_OR_RETURN(std::vector<uint64_t> garbage,
                   catalog.GarbageOn(node_id_, garbage_after_, limits_.garbage_window));
  bool wrap = garbage.size() < limits_.garbage_window;
  for (uint64_t chunk_id : garbage) {
    if (held_.contains(chunk_id)) {
      if (!verdicts.Delete(chunk_id, kEveryVersion)) {
        wrap = false;
        break;
      }
    } else {
      verdicts.Forget(chunk_id);
    }
    garbage_after_ = chunk_id;
  }
  if (wrap) garbage_after_ = 0;

  // Reported replicas: those that changed since the last verdict, then the
  // sweep with what is left of the budget.
  size_t checks = 0;
  while (!changed_.empty() && checks < limits_.max_checks && !verdicts.full()) {
    uint64_t chunk_id = *changed_.begin();
    if (auto it = held_.find(chunk_id); it != held_.end()) {
      ASSIGN_OR_RETURN(bool fit, JudgeHeld(catalog, node_id_, chunk_id, it->second, &verdicts));
      if (!fit) break;
      checks++;
    }
    changed_.erase(changed_.begin());
  }
  size_t budget = limits_.max_checks - checks;
  if (!sweep_fast_) budget = std::min(budget, limits_.sweep_checks);
  auto it = sweep_after_ ? held_.upper_bound(*sweep_after_) : held_.begin();
  for (; budget > 0 && it != held_.end() && !verdicts.full(); budget--, ++it) {
    ASSIGN_OR_RETURN(bool fit, JudgeHeld(catalog, node_id_, it->first, it->second, &verdicts));
    if (!fit) break;
    sweep_after_ = it->first;
  }
  if (it == held_.end()) {
    sweep_after_.reset();
    sweep_fast_ = false;
  }
  return std::move(verdicts.out());
}

std::optional<HeldReplica> ReplicaReport::Held(uint64_t chunk_id) const {
  auto it = held_.find(chunk_id);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

std::vector<CorruptReplica> ReplicaReport::Corrupt() const {
  std::vector<CorruptReplica> out;
  for (const auto& [chunk_id, held] : held_) {
    if (held.corrupt) out.push_back(CorruptReplica{node_id_, chunk_id, held.version});
  }
  return out;
}

}  // namespace dfs::meta
