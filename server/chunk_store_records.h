// The records a chunk store data directory keeps in its RocksDB: every key
// and value byte by byte (the table in docs/chunk_store.md, "Metadata"),
// the encoders DataDir (server/chunk_store_dir.h) writes with and the
// decoders it reads with. Pure functions, no RocksDB, so that a test or a
// fuzzer (tests/fuzz/fuzz_chunk_meta.cc) can feed the decoders anything.
//
// Decoders take the exact bytes of one key and one value. They accept only
// what the matching encoder produces (fixed sizes, known states and intent
// kinds), so encode(decode(key, value)) gives back the same bytes, and
// return false for anything else, which DataDir reports as CORRUPT.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/chunk_store.h"

namespace dfs::server {

// Something the store set out to do to a data file and may not have
// finished when the process died; Open settles each one (chunk_store.cc).
struct Intent {
  enum Kind : char {
    kWrite = 'w',     // block `block` is being written; `value` is its new checksum
    kTruncate = 't',  // the data file is being cut to `value` bytes
    kRemove = 'd',    // the data file is being removed
  };
  Kind kind;
  uint64_t chunk_id = 0;
  uint32_t block = 0;  // kWrite only
  uint64_t value = 0;  // kWrite and kTruncate only
};

// Column family `replicas`: key chunk id (8 bytes BE); value version (8 LE),
// length (8 LE), state (1 byte).
std::string ChunkKey(uint64_t chunk_id);
std::string EncodeReplica(const ReplicaInfo& info);
// REQUIRES: info != nullptr. On false *info is unspecified.
bool DecodeReplica(std::string_view key, std::string_view value, ReplicaInfo* info);

// Column family `blocks`: key chunk id (8 BE) + block index (4 BE); value
// the block's checksum (8 LE). A `w` intent's key and value are a block
// record's behind the one-byte prefix.
std::string BlockKey(uint64_t chunk_id, uint32_t block);
// Sorts after every block key of the chunk: the exclusive end of a range.
std::string PastLastBlockKey(uint64_t chunk_id);
std::string EncodeBlockSum(uint64_t sum);
// REQUIRES: the out-pointers are not null.
bool DecodeBlockSum(std::string_view key, std::string_view value, uint64_t* chunk_id,
                    uint32_t* block, uint64_t* sum);

// Column family `intents`: key kind (1 byte) + chunk id (8 BE), + block
// (4 BE) for kWrite; value the new checksum or length (8 LE), empty for
// kRemove. `block` is ignored unless kind is kWrite.
std::string IntentKey(Intent::Kind kind, uint64_t chunk_id, uint32_t block);
std::string EncodeIntentValue(const Intent& intent);
// REQUIRES: intent != nullptr. Fields a kind does not use are left alone.
bool DecodeIntent(std::string_view key, std::string_view value, Intent* intent);

}  // namespace dfs::server
