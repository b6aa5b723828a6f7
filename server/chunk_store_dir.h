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
// Thread-safe: RocksDB is; the rest is immutable after Open.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/chunk_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

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
  uint64_t value = 0;
};

class DataDir;

// Changes to one directory's metadata, applied atomically by
// DataDir::Commit (one RocksDB WriteBatch).
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
  const DataDir& dir_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

class DataDir {
 public:
  // Opens (creating what is missing) the data directory at `path`.
  static Result<std::unique_ptr<DataDir>> Open(const std::string& path);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  // The file system holding the directory (st_dev), to count each once.
  dev_t device() const { return device_; }

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
  Status Commit(MetaBatch& batch, bool sync);
  // Makes every committed batch durable.
  Status SyncLog();

 private:
  friend class MetaBatch;
  DataDir() = default;

  // The 8-byte values of keys prefix + chunk id + block in [first, first +
  // count) of one column family, by block.
  Result<std::vector<std::optional<uint64_t>>> ScanBlocks(rocksdb::ColumnFamilyHandle* family,
                                                          const std::string& prefix,
                                                          uint64_t chunk_id, uint32_t first,
                                                          uint32_t count) const;

  std::string path_;
  dev_t device_ = 0;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* replicas_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* blocks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* intents_cf_ = nullptr;
};

}  // namespace dfs::server
