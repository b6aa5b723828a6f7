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
#include <utility>
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
  kChunkIds,
  kGarbageByNode,
  kLocks,
  kTrash,
};
using FamilyHandles = std::array<rocksdb::ColumnFamilyHandle*, keys::kFamilyCount>;

// Counters of the default column family; absent reads as 0.
enum class Counter {
  kNextInode,
  kNextChunkId,
  kNextNodeId,
  kInodeCount,
  kNextTrashId,
  kTrashEntries,
  kTrashBytes,
};

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

// A chunk found by its id: the file and index it belongs to.
struct LocatedChunk {
  uint64_t inode = 0;
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
  // Through the chunk_ids index; CORRUPT if the index and the chunk map
  // disagree.
  Result<std::optional<LocatedChunk>> FindChunk(uint64_t chunk_id) const;
  Result<std::optional<pb::ChunkRecord>> GetGarbage(uint64_t chunk_id) const;
  Result<std::optional<std::string>> GetXattr(uint64_t inode, std::string_view name) const;
  Result<std::optional<pb::NodeRecord>> GetNode(uint64_t node_id) const;
  Result<std::optional<pb::SessionRecord>> GetSession(uint64_t session_id) const;
  Result<std::optional<pb::TrashRecord>> GetTrash(uint64_t trash_id) const;
  Result<std::optional<pb::FormatCommand>> GetFormat() const;
  Result<uint64_t> GetCounter(Counter counter) const;
  Result<uint64_t> GetAppliedIndex() const;
  Result<uint64_t> GetLayoutVersion() const;  // 0 when absent

  // Scans, in key order.
  // Up to `max` entries of `parent` with names after `after` ("" = first).
  Result<std::vector<NamedDentry>> ListDentries(uint64_t parent, std::string_view after,
                                                size_t max) const;
  Result<bool> HasDentries(uint64_t parent) const;
  // Chunks of `inode` with first_index <= index < end.
  Result<std::vector<IndexedChunk>> ListChunks(uint64_t inode, uint64_t first_index,
                                               uint64_t end) const;
  // Up to `max` chunks of every file, in (inode, index) order, from the
  // first after (after_inode, after_index); (0, 0) starts at the first.
  Result<std::vector<LocatedChunk>> ScanChunks(uint64_t after_inode, uint64_t after_index,
                                               size_t max) const;
  // Up to `max` inode numbers above `after`, ascending.
  Result<std::vector<uint64_t>> ScanInodeIds(uint64_t after, size_t max) const;
  Result<std::vector<std::string>> ListXattrNames(uint64_t inode) const;
  Result<std::vector<pb::NodeRecord>> ListNodes() const;
  Result<std::vector<pb::ChunkRecord>> ListGarbage(size_t max) const;
  // Up to `max` ids of sessions last seen before `before_ns`.
  Result<std::vector<uint64_t>> ListIdleSessions(int64_t before_ns, size_t max) const;
  // Up to `max` ids of garbage chunks whose replicas include `node_id`,
  // from the first id above `after` on.
  Result<std::vector<uint64_t>> ListGarbageOn(uint64_t node_id, uint64_t after, size_t max) const;
  // Up to `max` trash records with ids above `after`, ascending.
  Result<std::vector<pb::TrashRecord>> ListTrash(uint64_t after, size_t max) const;

  // Writes. REQUIRES: a read-write MetaTxn.
  //
  // The indexes follow the records they index, so these hold after every
  // write: chunk_ids maps id -> (inode, index) exactly for the records of
  // the chunk map, and garbage_by_node holds (node, chunk) exactly for the
  // nodes each garbage record lists.
  void PutInode(const pb::InodeRecord& record);  // keyed by record.attr().inode()
  void DeleteInode(uint64_t inode);
  void PutDentry(uint64_t parent, std::string_view name, const pb::DentryRecord& record);
  void DeleteDentry(uint64_t parent, std::string_view name);
  // Also indexes the chunk id. REQUIRES: a record already at (inode,
  // index) has the same chunk id (ids never move).
  void PutChunk(uint64_t inode, uint64_t index, const pb::ChunkRecord& record);
  // Also drops the chunk id from the index.
  void DeleteChunk(uint64_t inode, uint64_t index, uint64_t chunk_id);
  void PutXattr(uint64_t inode, std::string_view name, std::string_view value);
  void DeleteXattr(uint64_t inode, std::string_view name);
  void PutNode(const pb::NodeRecord& record);
  void PutSession(uint64_t session_id, const pb::SessionRecord& record);
  void DeleteSession(uint64_t session_id);
  void PutTrash(const pb::TrashRecord& record);  // keyed by record.id()
  void DeleteTrash(uint64_t trash_id);
  // Keyed by record.chunk_id(); indexes each of its replicas. REQUIRES: a
  // node that an earlier record of this id listed and this one does not
  // has been dropped with DeleteGarbageReplica.
  void PutGarbage(const pb::ChunkRecord& record);
  // Drops (node, chunk) from the garbage_by_node index only.
  void DeleteGarbageReplica(uint64_t chunk_id, uint64_t node_id);
  // REQUIRES: every replica of the record dropped with DeleteGarbageReplica.
  void DeleteGarbage(uint64_t chunk_id);
  void PutFormat(const pb::FormatCommand& format);
  void PutCounter(Counter counter, uint64_t value);
  void PutAppliedIndex(uint64_t index);
  void PutLayoutVersion(uint64_t version);

  // Builds chunk_ids and garbage_by_node from the chunk map and garbage (a
  // state written before those indexes existed) and records the current
  // layout. Returns how many chunk and garbage records were indexed.
  Result<std::pair<uint64_t, uint64_t>> RebuildIndexes();

  // Locks (docs/locks.md), in the locks family: "L" + inode holds the
  // inode's lock table, "S" + id a lock session, "N" the last session id
  // handed out.
  Result<std::optional<pb::LockList>> GetLockList(uint64_t inode) const;
  // An empty list deletes the key.
  void PutLockList(uint64_t inode, const pb::LockList& list);
  Result<std::optional<pb::LockSessionRecord>> GetLockSession(uint64_t lock_session) const;
  void PutLockSession(uint64_t lock_session, const pb::LockSessionRecord& record);
  void DeleteLockSession(uint64_t lock_session);
  Result<uint64_t> GetLastLockSession() const;
  void PutLastLockSession(uint64_t lock_session);
  // Every inode's lock table / every lock session, in key order, while
  // `visit` returns true.
  Status ScanLockLists(
      const std::function<Result<bool>(uint64_t inode, const pb::LockList&)>& visit) const;
  Status ScanLockSessions(
      const std::function<Result<bool>(uint64_t id, const pb::LockSessionRecord&)>& visit) const;

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
  // Scan of the locks family's records under a one-byte prefix.
  template <class Message>
  Status ScanLockRecords(
      const char* prefix,
      const std::function<Result<bool>(uint64_t id, const Message&)>& visit) const;
  void Put(Family family, const std::string& key, std::string_view value);
  void Delete(Family family, const std::string& key);

  rocksdb::DB* db_;
  FamilyHandles families_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::WriteBatchWithIndex* batch_;  // null: read-only
};

}  // namespace dfs::meta
