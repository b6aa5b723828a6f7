// MetaTxn: typed access to the metadata state in RocksDB, the one place
// that knows the layout of docs/meta.md ("Storage").
//
// A read-write MetaTxn collects an Apply call's changes in a
// WriteBatchWithIndex and reads through it, so a command sees the effects of
// the commands applied before it in the same call. A read-only MetaTxn reads
// one consistent DB snapshot. Neither owns the DB, the batch or the
// snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "meta/meta_store_keys.h"
#include "proto/meta.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Snapshot;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace dfs::meta {

// Column families, indexing keys::kFamilies.
enum class Family : size_t {
  kDefault,
  kInodes,
  kDentries,
  kChunks,
  kXattrs,
  kNodes,
  kSessions,
  kGarbage,
};
using FamilyHandles = std::array<rocksdb::ColumnFamilyHandle*, keys::kFamilyCount>;

// Counters of the default column family; absent reads as 0.
enum class Counter { kNextInode, kNextChunkId, kNextNodeId, kInodeCount };

// One entry of a directory listing.
struct NamedDentry {
  std::string name;
  pb::DentryRecord record;
};

// One chunk of a file's chunk map.
struct IndexedChunk {
  uint64_t index = 0;
  pb::ChunkRecord record;
};

class MetaTxn {
 public:
  // Reads the DB as of `snapshot` (null: the latest state); cannot write.
  static MetaTxn ReadOnly(rocksdb::DB* db, const FamilyHandles& families,
                          const rocksdb::Snapshot* snapshot);
  // Reads `batch` over the DB; writes go into `batch`.
  static MetaTxn ReadWrite(rocksdb::DB* db, const FamilyHandles& families,
                           rocksdb::WriteBatchWithIndex* batch);

  // Point reads: nullopt when absent, CORRUPT for a record that does not
  // parse, IO_ERROR when RocksDB fails.
  Result<std::optional<pb::InodeRecord>> GetInode(uint64_t inode) const;
  Result<std::optional<pb::DentryRecord>> GetDentry(uint64_t parent, std::string_view name) const;
  Result<std::optional<pb::ChunkRecord>> GetChunk(uint64_t inode, uint64_t index) const;
  Result<std::optional<std::string>> GetXattr(uint64_t inode, std::string_view name) const;
  Result<std::optional<pb::NodeRecord>> GetNode(uint64_t node_id) const;
  Result<std::optional<pb::SessionRecord>> GetSession(uint64_t session_id) const;
  Result<std::optional<pb::FormatCommand>> GetFormat() const;
  Result<uint64_t> GetCounter(Counter counter) const;
  Result<uint64_t> GetAppliedIndex() const;

  // Scans, in key order.
  // Up to `max` entries of `parent` with names after `after` ("" = first).
  Result<std::vector<NamedDentry>> ListDentries(uint64_t parent, std::string_view after,
                                                size_t max) const;
  Result<bool> HasDentries(uint64_t parent) const;
  // Chunks of `inode` with first_index <= index < end.
  Result<std::vector<IndexedChunk>> ListChunks(uint64_t inode, uint64_t first_index,
                                               uint64_t end) const;
  Result<std::vector<std::string>> ListXattrNames(uint64_t inode) const;
  Result<std::vector<pb::NodeRecord>> ListNodes() const;
  Result<std::vector<pb::ChunkRecord>> ListGarbage(size_t max) const;

  // Writes. REQUIRES: a read-write MetaTxn.
  void PutInode(const pb::InodeRecord& record);  // keyed by record.attr().inode()
  void DeleteInode(uint64_t inode);
  void PutDentry(uint64_t parent, std::string_view name, const pb::DentryRecord& record);
  void DeleteDentry(uint64_t parent, std::string_view name);
  void PutChunk(uint64_t inode, uint64_t index, const pb::ChunkRecord& record);
  void DeleteChunk(uint64_t inode, uint64_t index);
  void PutXattr(uint64_t inode, std::string_view name, std::string_view value);
  void DeleteXattr(uint64_t inode, std::string_view name);
  void PutNode(const pb::NodeRecord& record);
  void PutSession(uint64_t session_id, const pb::SessionRecord& record);
  void PutGarbage(const pb::ChunkRecord& record);  // keyed by record.chunk_id()
  void PutFormat(const pb::FormatCommand& format);
  void PutCounter(Counter counter, uint64_t value);
  void PutAppliedIndex(uint64_t index);

 private:
  MetaTxn(rocksdb::DB* db, const FamilyHandles& families, const rocksdb::Snapshot* snapshot,
          rocksdb::WriteBatchWithIndex* batch)
      : db_(db), families_(families), snapshot_(snapshot), batch_(batch) {}

  Result<std::optional<std::string>> Get(Family family, const std::string& key) const;
  template <class Message>
  Result<std::optional<Message>> GetMessage(Family family, const std::string& key) const;
  // Calls visit(key, value) for the keys that start with `prefix`, from
  // `start` (which must start with `prefix`) on, while it returns true.
  // A visit that fails stops the scan with its status.
  Status Scan(
      Family family, const std::string& prefix, const std::string& start,
      const std::function<Result<bool>(std::string_view key, std::string_view value)>& visit) const;
  void Put(Family family, const std::string& key, std::string_view value);
  void Delete(Family family, const std::string& key);

  rocksdb::DB* db_;
  FamilyHandles families_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::WriteBatchWithIndex* batch_;  // null: read-only
};

}  // namespace dfs::meta
