// ChunkStore: the chunk replicas one dfs-chunkserver keeps on its local
// disks (DESIGN §4). Layout and crash rules: docs/chunk_store.md.
//
// Each replica is a sparse file under one of the data directories; its
// metadata (version, length, state, one XXH3-64 checksum per 64 KiB block)
// lives in a small RocksDB in the same directory. Every stored checksum
// covers a whole kBlockSize block as it is on disk, zeros included where
// nothing was written. Blocks never written have no checksum and read as
// zeros without touching the disk.
//
// Crash rule: after kill -9 or power loss every block either verifies
// against its checksum (old or new contents), or is detected as torn and
// reported CORRUPT. Bytes that fail their checksum are never returned.
// Durability: Write returns once the data and its checksums are in the
// operating system's hands; Sync makes a replica durable (fdatasync of the
// data file and a synced RocksDB write).
//
// Full disks: a slice of each data directory's file system (`reserve`) is
// kept free for the metadata. New replicas and block writes are refused
// with NO_SPACE, before anything changes, when they would eat into it, and
// a block write first allocates its blocks (fallocate), so running out of
// space while writing data fails the write before its intents are logged.
// Deletes, version moves, truncates and syncs may use the reserve. If the
// metadata store fails a write anyway (another process filled the disk),
// writes to that directory fail until it has been reopened, by itself,
// once space is back; reads go on. chunk_store_dir.h has why and how.
//
// Disk I/O goes through io_uring (liburing).
//
// Thread-safe: any method from any thread. Writes to one chunk are applied
// one at a time, in the order their calls take the chunk's lock; the chain
// (server/chunk_service.h) decides that order.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace dfs::server {

enum class ReplicaState : uint8_t {
  kReady = 0,    // serves reads and writes, reported to the meta leader
  kCopying = 1,  // being filled by re-replication; not reported, not served
  kCorrupt = 2,  // failed a checksum; not served, reported as corrupt
};

struct ReplicaInfo {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t length = 0;  // one past the highest byte ever written (or truncated to)
  ReplicaState state = ReplicaState::kReady;
};

// One entry of the incremental report a heartbeat carries.
struct ReplicaChange {
  enum Kind : uint8_t { kAdded, kDeleted, kCorrupt };
  Kind kind;
  ReplicaInfo info;  // for kDeleted: chunk_id and the version deleted
};

struct ReadResult {
  std::string data;                 // exactly the bytes asked for
  std::vector<uint64_t> checksums;  // BlockChecksums(data): one per kBlockSize piece from offset
  uint64_t replica_length = 0;      // the replica's length when it was read
};

struct ChunkStoreOptions {
  std::vector<std::string> dirs;      // one or more data directories; created if missing
  uint64_t chunk_size = 64ull << 20;  // largest replica; a multiple of kBlockSize
  // Space this server offers, at most; 0: all of the data directories'
  // file systems. With a limit, free space is the limit less the replicas'
  // lengths (and never more than the file systems have free).
  uint64_t capacity = 0;
  // Bytes of each data directory's file system kept free for the metadata
  // store; 0: the larger of 64 MiB and 1% of the file system.
  uint64_t reserve = 0;
};

class ChunkStore {
 public:
  // Opens (or creates) every directory's store and indexes its replicas.
  // Replicas left in kCopying by a crash are deleted. Fails if a directory
  // cannot be opened: NO_SPACE, before its RocksDB is opened, while a
  // directory's file system has less than half the reserve free (the
  // caller waits for space and tries again).
  static Result<std::unique_ptr<ChunkStore>> Open(ChunkStoreOptions options);
  virtual ~ChunkStore() = default;

  // Creates an empty replica at `version` on the directory with the most
  // free space. Same chunk at the same version already there: OK (a retry;
  // UNAVAILABLE if it is still being copied, CORRUPT if marked corrupt).
  // Another version there: STALE_VERSION. version 0: INVALID_ARGUMENT.
  // NO_SPACE: no directory has more than the reserve free.
  virtual Status Create(uint64_t chunk_id, uint64_t version) = 0;

  // Writes `data` at `offset`. `checksums` are BlockChecksums(data): one per
  // kBlockSize piece of `data` counted from `offset` (the last may be
  // short); the data is verified against them before anything is written
  // (CHECKSUM_MISMATCH otherwise). Unaligned edges are read, verified,
  // merged and re-checksummed (read-modify-write); an edge block that fails
  // its checksum fails the write with CORRUPT and marks the replica kCorrupt
  // as Read does. Errors and no change on disk: NOT_FOUND (no replica),
  // STALE_VERSION (version differs), INVALID_ARGUMENT (offset + size past
  // chunk_size, empty data, wrong number of checksums), CORRUPT (replica
  // marked corrupt), NO_SPACE (the write would leave less than the reserve
  // free, or the blocks cannot be allocated).
  virtual Status Write(uint64_t chunk_id, uint64_t version, uint64_t offset,
                       std::span<const uint8_t> data, std::span<const uint64_t> checksums) = 0;

  // Reads [offset, offset + length), any alignment, verifying every block it
  // touches. Bytes past the replica's length and never-written blocks read
  // as zeros; the range may not pass chunk_size (INVALID_ARGUMENT). A block that
  // fails its checksum marks the replica kCorrupt (a kCorrupt change is
  // queued) and the read returns CORRUPT. NOT_FOUND, STALE_VERSION as Write;
  // a kCopying replica is not served (UNAVAILABLE), a kCorrupt one is CORRUPT.
  virtual Result<ReadResult> Read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                                  uint64_t length) = 0;

  // Makes every completed write of this replica durable. NOT_FOUND,
  // STALE_VERSION, CORRUPT as Write.
  virtual Status Sync(uint64_t chunk_id, uint64_t version) = 0;

  // Shrinks or grows the replica to `length`: bytes past it read as zeros
  // afterwards (the edge block is rewritten, later blocks dropped).
  virtual Status Truncate(uint64_t chunk_id, uint64_t version, uint64_t length) = 0;

  // Moves the replica from `old_version` to `new_version` (durably).
  // Already at new_version: OK. Otherwise INVALID_ARGUMENT unless
  // new_version > old_version, then STALE_VERSION if not at old_version.
  // old_version 0 means "from any lower version" (a repair raising a
  // replica that missed a move): STALE_VERSION only if the replica is
  // newer than new_version. A replica marked corrupt (and not already at
  // new_version) is CORRUPT; a kCopying one moves like a ready one.
  // NOT_FOUND: no replica. A ready replica's move queues a kAdded change
  // with the new version.
  virtual Status SetVersion(uint64_t chunk_id, uint64_t old_version, uint64_t new_version) = 0;

  // Re-replication: creates the replica in kCopying (replacing any replica
  // of this chunk with a lower version), to be filled with Write (which
  // accepts kCopying replicas) and then either committed with FinishCopy
  // (synced, becomes kReady, a kAdded change is queued) or dropped with
  // Delete. A replica at `version` or higher already here: ALREADY_EXISTS.
  // NO_SPACE as Create.
  // With `replace`, a ready replica at `version` itself is replaced too (a
  // joiner copied again under the head's lock: whatever it holds may lack
  // writes); a replica still being copied is then UNAVAILABLE.
  virtual Status BeginCopy(uint64_t chunk_id, uint64_t version, bool replace = false) = 0;
  virtual Status FinishCopy(uint64_t chunk_id, uint64_t version, uint64_t length) = 0;

  // Deletes the replica if its version is <= max_version (data file and
  // metadata); queues a kDeleted change (not for a kCopying replica, which
  // was never reported). No replica: OK. A newer replica is kept:
  // STALE_VERSION.
  virtual Status Delete(uint64_t chunk_id, uint64_t max_version) = 0;

  virtual Result<ReplicaInfo> Stat(uint64_t chunk_id) = 0;
  // Every replica, kCopying ones included, in chunk id order (for the full
  // report and the scrubber).
  virtual std::vector<ReplicaInfo> List() = 0;

  // Verifies block `block_index` of a replica against its checksum (the
  // scrubber's step). On mismatch marks the replica kCorrupt, queues a
  // kCorrupt change and returns CORRUPT. Unwritten blocks: OK. A kCopying
  // replica: UNAVAILABLE; a kCorrupt one: CORRUPT.
  virtual Status VerifyBlock(uint64_t chunk_id, uint64_t block_index) = 0;

  // The changes since the last call (added at Create/FinishCopy, deleted,
  // corrupt), oldest first; the caller owns them now.
  virtual std::vector<ReplicaChange> TakeChanges() = 0;

  // Bytes of the file systems holding the data directories (each counted
  // once); free bytes do not count the reserves.
  virtual uint64_t CapacityBytes() = 0;
  virtual uint64_t FreeBytes() = 0;

  uint64_t chunk_size() const { return chunk_size_; }

 protected:
  explicit ChunkStore(uint64_t chunk_size) : chunk_size_(chunk_size) {}

 private:
  const uint64_t chunk_size_;
};

}  // namespace dfs::server
