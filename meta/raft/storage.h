// The stable part of the Raft log, as the core reads it.
//
// The core never writes storage: the driver persists what a Ready hands it
// and compacts when it has a snapshot. Reads happen on the driver's thread
// between Advance() and the next GetReady(), so an implementation needs no
// locking for the core's sake.
#pragma once

#include <cstdint>
#include <vector>

#include "meta/raft/types.h"

namespace dfs::raft {

class Storage {
 public:
  virtual ~Storage() = default;

  // The persisted hard state and the membership at the last snapshot or the
  // initial membership of a new group.
  virtual HardState InitialHardState() const = 0;
  virtual ConfState InitialConfState() const = 0;

  // Index of the first entry still in the log; entries before it were
  // compacted into the snapshot. Always snapshot().meta.index + 1.
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry; FirstIndex() - 1 when the log is empty.
  virtual uint64_t LastIndex() const = 0;

  // Term of entry i.
  // REQUIRES: FirstIndex() - 1 <= i <= LastIndex() (i = FirstIndex() - 1 is
  // the snapshot's last entry).
  virtual uint64_t Term(uint64_t i) const = 0;

  // Entries [lo, hi), stopping early once max_bytes of data would be
  // exceeded, but always at least one entry when lo < hi.
  // REQUIRES: FirstIndex() <= lo <= hi <= LastIndex() + 1.
  virtual std::vector<Entry> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const = 0;

  // The most recent snapshot; empty() when there is none yet.
  virtual Snapshot GetSnapshot() const = 0;
};

}  // namespace dfs::raft
