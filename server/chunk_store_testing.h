// Test hooks of the chunk store: simulated crashes inside a write, to check
// the crash rules of docs/chunk_store.md. Not for production code.
#pragma once

#include <cstdint>

#include "server/chunk_store.h"

namespace dfs::server {

// Where a simulated crash stops the store.
enum class CrashPoint : uint8_t {
  kNone,
  // Block writes (Write, and the edge block of a shrinking Truncate):
  kAfterIntent,  // write intents recorded; no data written
  kAfterData,    // intents recorded and data written; checksums not committed
  kLostIntent,   // data written but the intents never reached the log, as
                 // after a power loss that kept the data and lost the log tail
  // A shrinking Truncate:
  kBeforeFileCut,  // new length recorded; the data file not cut yet
};

// The next block write or Truncate of `store` that reaches `point` stops
// there as if the process had died: it returns UNAVAILABLE ("simulated
// crash") and leaves the disk as it is. The caller must then destroy the
// store and open it again, as a restarted process would.
void SimulateCrashForTesting(ChunkStore* store, CrashPoint point);

}  // namespace dfs::server
