#include "meta/raft/memory_storage.h"

#include "common/check.h"

namespace dfs::raft {

MemoryStorage::MemoryStorage(ConfState conf_state) {
  snapshot_.meta.conf_state = conf_state;
}

uint64_t MemoryStorage::Term(uint64_t i) const {
  DFS_CHECK_GE(i + 1, FirstIndex());
  DFS_CHECK_LE(i, LastIndex());
  if (i == snapshot_.meta.index) return snapshot_.meta.term;
  return entries_[i - FirstIndex()].term;
}

std::vector<Entry> MemoryStorage::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  DFS_CHECK_LE(FirstIndex(), lo);
  DFS_CHECK_LE(lo, hi);
  DFS_CHECK_LE(hi, LastIndex() + 1);
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; i++) {
    const Entry& e = entries_[i - FirstIndex()];
    bytes += e.data.size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void MemoryStorage::Append(const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    if (e.index < FirstIndex()) continue;
    DFS_CHECK_LE(e.index, LastIndex() + 1);
    entries_.resize(e.index - FirstIndex());
    entries_.push_back(e);
  }
}

void MemoryStorage::ApplySnapshot(Snapshot snapshot) {
  // A snapshot older than ours carries nothing new; drivers may see one
  // when a slow stream lands after a newer one.
  if (snapshot.meta.index < snapshot_.meta.index) return;
  snapshot_ = std::move(snapshot);
  entries_.clear();
}

void MemoryStorage::CreateSnapshotAndCompact(uint64_t index, const ConfState& conf_state,
                                             std::string data) {
  DFS_CHECK_LE(FirstIndex(), index);
  DFS_CHECK_LE(index, LastIndex());
  uint64_t term = Term(index);
  entries_.erase(entries_.begin(), entries_.begin() + (index - FirstIndex() + 1));
  snapshot_.meta.index = index;
  snapshot_.meta.term = term;
  snapshot_.meta.conf_state = conf_state;
  snapshot_.data = std::move(data);
}

void MemoryStorage::TruncateAfter(uint64_t index) {
  DFS_CHECK_GE(index + 1, FirstIndex());
  if (index < LastIndex()) entries_.resize(index - snapshot_.meta.index);
}

}  // namespace dfs::raft
