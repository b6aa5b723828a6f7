// DataDir: one data directory of the chunk store (server/chunk_store.h) —
// its replica data files and the RocksDB holding their metadata. It knows
// the on-disk format (docs/chunk_store.md) and nothing of the crash rules,
// locks or states, which are chunk_store.cc's.
//
// Layout under the directory:
//   chunks/<xx>/<16 hex digits>   one sparse data file per replica; xx is
//                                 the chunk id's low byte in hex
//   meta/                         RocksDB: column families replicas, blocks,
//                                 intents (and default: the format marker)
//
// Full disks. Debian's RocksDB 7.8 is built with assertions, and a
// RocksDB file writer that has failed once aborts the process on its next
// append, flush or sync (fixed upstream in 2024, facebook/rocksdb#12448).
// On a full disk that took down the chunk server, and every restart while
// the disk stayed full: RocksDB's info log (meta/LOG), written on every
// error and all through Open, was the writer that failed and then wrote
// again. So, in order of defence:
//   - RocksDB's info log goes to the dfs log (warnings and errors), never
//     to a file in the data directory.
//   - SyncLog is a synced empty write, not DB::SyncWAL: the write path
//     refuses after a failed log write; SyncWAL syncs the failed log and
//     aborts.
//   - The chunk store keeps `reserve` bytes of the file system free for
//     RocksDB's log, flushes and compactions: new replicas and block
//     writes are refused with NO_SPACE below it (chunk_store.cc), so only
//     another process filling the disk can make a RocksDB write fail.
//   - Once a write of a RocksDB instance has failed, that instance takes no
//     more writes: Commit and SyncLog refuse (NO_SPACE for a full disk)
//     without calling RocksDB, and the first one at least a second later
//     with half the reserve free closes the instance (which writes nothing
//     to a failed log) and opens it again, on a new log. RocksDB's own
//     recovery is turned off: in 7.8 it can resume writing to the failed
//     log and abort.
//   - Open, and that reopen, wait (NO_SPACE) until half the reserve is
//     free rather than open RocksDB into a full disk.
// Reads go on throughout, from the stopped instance until it is reopened.
//
// Thread-safe: reads and writes share the RocksDB instance; a reopen has
// it to itself. Path, device and reserve are immutable after Open.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/chunk_store.h"
#include "server/chunk_store_records.h"  // Intent

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace dfs::server {

class DataDir;

// Changes to one directory's metadata, applied atomically by
// DataDir::Commit (one RocksDB WriteBatch). It names column families, not
// a RocksDB instance's handles, so a reopen between building and
// committing it does no harm.
class MetaBatch {
 public:
  explicit MetaBatch(const DataDir& dir);
  ~MetaBatch();
  MetaBatch(const MetaBatch&) = delete;
  MetaBatch& operator=(const MetaBatch&) = delete;

  void PutReplica(const ReplicaInfo& info);
  // The replica record with every block checksum and intent of the chunk.
  void DeleteReplica(uint64_t chunk_id);

  void PutBlockSum(uint64_t chunk_id, uint32_t block, uint64_t sum);
  // Checksums and write intents of blocks `first` and up.
  void DropBlocksFrom(uint64_t chunk_id, uint32_t first);

  void PutIntent(const Intent& intent);
  void DeleteIntent(Intent::Kind kind, uint64_t chunk_id, uint32_t block = 0);

  bool empty() const;

 private:
  friend class DataDir;
  enum class Family : uint8_t { kReplicas, kBlocks, kIntents };
  struct Op {
    enum Kind : uint8_t { kPut, kDelete, kDeleteRange } kind;
    Family family;
    std::string key;
    std::string value;  // kPut: the value; kDeleteRange: the end key
  };
  const DataDir& dir_;
  std::vector<Op> ops_;
};

class DataDir {
 public:
  // Opens (creating what is missing) the data directory at `path`, keeping
  // `reserve` bytes of its file system for the metadata (0: the larger of
  // 64 MiB and 1% of the file system). NO_SPACE, before RocksDB is opened,
  // while less than half the reserve is free: the caller waits and retries.
  static Result<std::unique_ptr<DataDir>> Open(const std::string& path, uint64_t reserve = 0);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  // The file system holding the directory (st_dev), to count each once.
  dev_t device() const { return device_; }
  // Bytes of the file system kept free for the metadata (see the top).
  uint64_t reserve() const { return reserve_; }
  // Bytes of the file system free now (statvfs f_bavail).
  Result<uint64_t> FreeBytes() const;

  // Where the replica of `chunk_id` keeps its data, and the directory
  // holding that file.
  std::string DataFile(uint64_t chunk_id) const;
  std::string FanoutDir(uint64_t chunk_id) const;

  // Every replica record, in chunk id order; CORRUPT if one does not decode.
  Result<std::vector<ReplicaInfo>> LoadReplicas() const;
  // Every intent, in key order; CORRUPT if one does not decode.
  Result<std::vector<Intent>> LoadIntents() const;

  // The current checksums of blocks [first, first + count) of a chunk;
  // nullopt for blocks that have none.
  Result<std::vector<std::optional<uint64_t>>> BlockSums(uint64_t chunk_id, uint32_t first,
                                                         uint32_t count) const;
  // The checksums the write intents of blocks [first, first + count)
  // record; nullopt for blocks with no intent.
  Result<std::vector<std::optional<uint64_t>>> WriteIntents(uint64_t chunk_id, uint32_t first,
                                                            uint32_t count) const;

  // Applies `batch`; with `sync`, durably (the write-ahead log synced first).
  // After a failed write (of any caller) this RocksDB instance takes no
  // more: Commit fails with that error's code (NO_SPACE for a full disk)
  // until a Commit reopens it (see the top). A failed Commit may or may not
  // have applied its batch, as with any I/O error.
  Status Commit(MetaBatch& batch, bool sync);
  // Makes every committed batch durable. Fails as Commit does.
  Status SyncLog();

 private:
  friend class MetaBatch;
  DataDir() = default;

  // Opens and closes the RocksDB instance. REQUIRES: mu_ held exclusively
  // (or the DataDir not shared yet).
  Status OpenDb();
  void CloseDb();
  // After a failed write: reopens the instance if a second has passed since
  // the last try and half the reserve is free; otherwise the error to
  // refuse writes with.
  Status ReopenAfterFailure();
  rocksdb::ColumnFamilyHandle* Handle(MetaBatch::Family family) const;

  // The 8-byte values of keys prefix + chunk id + block in [first, first +
  // count) of one column family, by block.
  Result<std::vector<std::optional<uint64_t>>> ScanBlocks(rocksdb::ColumnFamilyHandle* family,
                                                          const std::string& prefix,
                                                          uint64_t chunk_id, uint32_t first,
                                                          uint32_t count) const;

  std::string path_;
  dev_t device_ = 0;
  uint64_t reserve_ = 0;

  // Shared by every use of db_ and the handles, exclusive to open or close
  // them. db_ is null only after a reopen that failed.
  mutable std::shared_mutex mu_;
  // A write failed: db_ takes no more until reopened.
  std::atomic<bool> failed_{false};
  std::mutex reopen_mu_;  // guards the two below
  Status failure_;        // the write that failed
  std::chrono::steady_clock::time_point next_reopen_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* replicas_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* blocks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* intents_cf_ = nullptr;
};

}  // namespace dfs::server
