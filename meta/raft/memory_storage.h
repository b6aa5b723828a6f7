// Storage kept in memory: the simulator's stable storage and the reference
// for what a persistent implementation must do.
#pragma once

#include "meta/raft/storage.h"

namespace dfs::raft {

class MemoryStorage : public Storage {
 public:
  // A new group: empty log, membership `conf_state`.
  explicit MemoryStorage(ConfState conf_state = {});

  HardState InitialHardState() const override { return hard_state_; }
  ConfState InitialConfState() const override { return snapshot_.meta.conf_state; }
  uint64_t FirstIndex() const override { return snapshot_.meta.index + 1; }
  uint64_t LastIndex() const override { return snapshot_.meta.index + entries_.size(); }
  uint64_t Term(uint64_t i) const override;
  std::vector<Entry> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Snapshot GetSnapshot() const override { return snapshot_; }

  void SetHardState(const HardState& hs) { hard_state_ = hs; }

  // Appends entries, replacing any existing suffix they conflict with.
  // REQUIRES: entries are contiguous and entries[0].index <= LastIndex() + 1.
  // Entries at or below the snapshot index are ignored.
  void Append(const std::vector<Entry>& entries);

  // Replaces the whole log with `snapshot` (a follower catching up).
  void ApplySnapshot(Snapshot snapshot);

  // Records a snapshot of the state machine at applied index `index` and
  // drops the log up to it. REQUIRES: FirstIndex() <= index <= LastIndex().
  void CreateSnapshotAndCompact(uint64_t index, const ConfState& conf_state, std::string data);

  // Drops the log suffix after `index`: what a crash does to unsynced
  // entries. REQUIRES: index >= FirstIndex() - 1.
  void TruncateAfter(uint64_t index);

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  std::vector<Entry> entries_;  // entries_[k].index == snapshot_.meta.index + 1 + k
};

}  // namespace dfs::raft
