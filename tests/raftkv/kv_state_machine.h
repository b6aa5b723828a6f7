// A key-value map in RocksDB driven by Raft: the state machine of the Raft
// integration tests and raft-bench. Entries carry "key\0value".
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>

#include "common/result.h"
#include "meta/raft/state_machine.h"

namespace rocksdb {
class DB;
}

namespace dfs::raftkv {

class KvStateMachine : public raft::StateMachine {
 public:
  // Opens (or creates) the map in `dir`.
  static Result<std::unique_ptr<KvStateMachine>> Open(const std::string& dir);
  ~KvStateMachine() override;
  KvStateMachine(const KvStateMachine&) = delete;
  KvStateMachine& operator=(const KvStateMachine&) = delete;

  static std::string EncodePut(const std::string& key, const std::string& value);

  uint64_t AppliedIndex() const override;
  std::vector<std::string> Apply(std::span<const raft::Entry> entries) override;
  Status Checkpoint(const std::string& dir) override;
  Status Restore(const std::string& dir) override;

  // Thread-safe; reads the local state (call after a read barrier).
  Result<std::optional<std::string>> Get(const std::string& key) const;

 private:
  explicit KvStateMachine(std::string dir);
  Status OpenDb();

  const std::string dir_;
  mutable std::shared_mutex mu_;  // exclusive only while Restore swaps the DB
  std::unique_ptr<rocksdb::DB> db_;
  uint64_t applied_ = 0;
};

}  // namespace dfs::raftkv
