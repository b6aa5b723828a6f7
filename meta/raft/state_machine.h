// The replicated state machine a RaftNode drives: the metadata namespace in
// dfs-meta, a key-value map in the Raft tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/raft/types.h"

namespace dfs::raft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Index of the last applied entry as persisted; 0 for a new state.
  virtual uint64_t AppliedIndex() const = 0;

  // Applies committed entries, in order, and persists the new applied index
  // in the same atomic write as their effects, so a restart neither loses
  // nor repeats one. Entries with empty data (no-ops) and membership changes
  // only move the applied index. Returns one result per entry, handed to
  // the proposer. Called on the Raft driver thread.
  // REQUIRES: entries[0].index == AppliedIndex() + 1.
  virtual std::vector<std::string> Apply(std::span<const Entry> entries) = 0;

  // Writes a consistent copy of the whole state, as of AppliedIndex(), into
  // `dir` (which does not exist yet).
  virtual Status Checkpoint(const std::string& dir) = 0;

  // Replaces the whole state with the copy in `dir` (made by Checkpoint on
  // some node). Must not modify or consume `dir`.
  virtual Status Restore(const std::string& dir) = 0;
};

}  // namespace dfs::raft
