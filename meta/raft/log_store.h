// RaftLogStore: the Raft log, hard state and snapshot record of one
// dfs-meta server, durable in RocksDB (column families "raft_log" and
// "raft_state"), with the live part of the log mirrored in memory so the
// core's reads never touch the disk.
//
// The on-disk format is in docs/raft.md ("Raft log store").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "meta/raft/memory_storage.h"
#include "meta/raft/storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace dfs::raft {

class RaftLogStore : public Storage {
 public:
  // Opens the store in `dir`, creating an empty one if there is none.
  static Result<std::unique_ptr<RaftLogStore>> Open(const std::string& dir);
  ~RaftLogStore() override;

  HardState InitialHardState() const override { return cache_.InitialHardState(); }
  ConfState InitialConfState() const override { return cache_.InitialConfState(); }
  uint64_t FirstIndex() const override { return cache_.FirstIndex(); }
  uint64_t LastIndex() const override { return cache_.LastIndex(); }
  uint64_t Term(uint64_t i) const override { return cache_.Term(i); }
  std::vector<Entry> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override {
    return cache_.Entries(lo, hi, max_bytes);
  }
  // The snapshot record; its data is empty: the state itself is a
  // checkpoint directory the state machine keeps (see RaftNode).
  Snapshot GetSnapshot() const override { return cache_.GetSnapshot(); }

  // True for a store that has never held a term or an entry.
  bool IsEmpty() const;

  // Writes the first entries of a new group (BootstrapEntries) as committed.
  // REQUIRES: IsEmpty().
  Status Bootstrap(const std::vector<NodeId>& voters);

  // Persists what one Ready asks for, in one atomic write: a snapshot record
  // (replacing the whole log), entries (replacing any conflicting suffix)
  // and the hard state. With sync, returns only once it is on disk.
  Status Save(const SnapshotMeta* snapshot, const std::vector<Entry>& entries,
              const std::optional<HardState>& hard_state, bool sync);

  // Records a local snapshot at meta.index and drops the log up to it.
  // REQUIRES: FirstIndex() <= meta.index <= LastIndex().
  Status Compact(const SnapshotMeta& meta);

  // Small named values kept beside the log (peer addresses, cluster id).
  Status PutMeta(const std::string& key, const std::string& value);
  std::optional<std::string> GetMeta(const std::string& key) const;

 private:
  RaftLogStore() = default;
  Status Load();

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  MemoryStorage cache_;
};

}  // namespace dfs::raft
