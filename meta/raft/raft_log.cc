#include "meta/raft/raft_log.h"

#include <algorithm>

#include "common/check.h"

namespace dfs::raft {

RaftLog::RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage), max_committed_bytes_(max_committed_bytes_per_ready) {
  unstable_offset_ = storage_->LastIndex() + 1;
  // Everything up to the snapshot is committed and applied by definition.
  committed_ = storage_->FirstIndex() - 1;
  applied_ = storage_->FirstIndex() - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return storage_->LastIndex();
}

std::optional<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i + 1 < FirstIndex() || i > LastIndex()) return std::nullopt;
  if (unstable_snapshot_ && i == unstable_snapshot_->meta.index) {
    return unstable_snapshot_->meta.term;
  }
  if (i >= unstable_offset_ && !unstable_.empty()) return unstable_[i - unstable_offset_].term;
  if (unstable_snapshot_) return std::nullopt;  // below the new snapshot: gone
  return storage_->Term(i);
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  return last_term > LastTerm() || (last_term == LastTerm() && last_index >= LastIndex());
}

void RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  DFS_CHECK_GT(entries[0].index, committed_) << "appending over committed entries";
  TruncateAndAppend(entries, 0);
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + entries.size();
  // The first entry that is new or conflicts with ours; entries before it
  // are already in the log and must not be touched (they may be committed).
  size_t k = 0;
  for (; k < entries.size(); k++) {
    if (!MatchTerm(entries[k].index, entries[k].term)) break;
  }
  if (k < entries.size()) {
    DFS_CHECK_GT(entries[k].index, committed_) << "leader conflicts with a committed entry";
    TruncateAndAppend(entries, k);
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

void RaftLog::TruncateAndAppend(const std::vector<Entry>& entries, size_t from) {
  uint64_t after = entries[from].index;
  DFS_CHECK_LE(after, LastIndex() + 1);
  if (after == unstable_offset_ + unstable_.size()) {
    // Directly after the unstable tail.
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable tail and part of the stable log; the
    // driver's Append truncates storage the same way.
    unstable_.clear();
    unstable_offset_ = after;
  } else {
    unstable_.resize(after - unstable_offset_);
  }
  unstable_.insert(unstable_.end(), entries.begin() + from, entries.end());
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  if (index > LastIndex()) return index;
  for (uint64_t i = index; i > 0; i--) {
    auto t = Term(i);
    if (!t || *t <= term) return i;
  }
  return 0;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index <= committed_) return;
  DFS_CHECK_LE(index, LastIndex()) << "commit beyond the log";
  committed_ = index;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && MatchTerm(max_index, term)) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index == 0) return;
  DFS_CHECK_LE(index, committed_);
  DFS_CHECK_GE(index, applied_);
  applied_ = index;
}

std::optional<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const {
  DFS_CHECK_LE(lo, hi);
  DFS_CHECK_LE(hi, LastIndex() + 1);
  if (lo < FirstIndex()) return std::nullopt;
  std::vector<Entry> out;
  if (lo == hi) return out;
  if (lo < unstable_offset_) {
    out = storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes);
    // Storage stopped early for size: do not mix in unstable entries.
    if (out.empty() || out.back().index + 1 < std::min(hi, unstable_offset_)) return out;
  }
  uint64_t bytes = 0;
  for (const Entry& e : out)
    bytes += e.data.size();
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; i++) {
    const Entry& e = unstable_[i - unstable_offset_];
    bytes += e.data.size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return {};
  auto entries = Slice(lo, committed_ + 1, max_committed_bytes_);
  DFS_CHECK(entries.has_value()) << "committed entries were compacted before being applied";
  return std::move(*entries);
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (unstable_.empty() || index < unstable_offset_) return;
  if (index >= unstable_offset_ + unstable_.size()) return;
  if (unstable_[index - unstable_offset_].term != term) return;  // replaced since
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapshotTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) unstable_snapshot_.reset();
}

void RaftLog::Restore(const Snapshot& snapshot) {
  committed_ = snapshot.meta.index;
  unstable_.clear();
  unstable_offset_ = snapshot.meta.index + 1;
  unstable_snapshot_ = snapshot;
}

Snapshot RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->GetSnapshot();
}

}  // namespace dfs::raft
