// The Raft log as the core sees it: the stable part in Storage plus the
// unstable tail (and possibly a snapshot) that the driver has not persisted
// yet, with the commit and applied indexes.
#pragma once

#include <optional>
#include <vector>

#include "meta/raft/storage.h"
#include "meta/raft/types.h"

namespace dfs::raft {

class RaftLog {
 public:
  // REQUIRES: storage outlives the log.
  RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const { return *Term(LastIndex()); }
  // nullopt when i was compacted away or lies beyond the last index.
  std::optional<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  // Whether a log ending at (last_index, last_term) is at least as
  // up-to-date as ours (§5.4.1).
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Appends as the leader. REQUIRES: entries[0].index == LastIndex() + 1.
  void Append(const std::vector<Entry>& entries);

  // Appends entries from the leader whose previous entry is
  // (index, log_term). Returns the index of the last new entry, or nullopt
  // when the previous entry does not match.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& entries);

  // The largest i <= index whose term is <= term (or the first index we
  // cannot see): where a follower's and a leader's logs may match.
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  void CommitTo(uint64_t index);
  // Commits max_index if its entry is from `term` (§5.4.2). Returns whether
  // the commit index moved.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void AppliedTo(uint64_t index);

  // Entries [lo, hi) with at most max_bytes (at least one). nullopt when lo
  // was compacted.
  std::optional<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  // Committed entries not yet applied (bounded per Ready).
  std::vector<Entry> NextCommittedEntries() const;
  bool HasNextCommittedEntries() const { return committed_ > applied_; }

  const std::vector<Entry>& UnstableEntries() const { return unstable_; }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_snapshot_; }
  // The driver persisted entries up to (index, term) / the snapshot at index.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapshotTo(uint64_t index);

  // Replaces the log with a snapshot from the leader.
  void Restore(const Snapshot& snapshot);

  // A snapshot to send to a lagging follower: the unstable one if any, else
  // storage's.
  Snapshot GetSnapshot() const;

 private:
  void TruncateAndAppend(const std::vector<Entry>& entries, size_t from);

  const Storage* storage_;
  uint64_t max_committed_bytes_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;  // unstable_[k].index == unstable_offset_ + k
  uint64_t unstable_offset_ = 0;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace dfs::raft
