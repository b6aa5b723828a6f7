#include "meta/meta_store_txn.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <limits>
#include <memory>
#include <string>

#include "common/check.h"

namespace dfs::meta {

namespace {

const char* CounterKey(Counter counter) {
  switch (counter) {
    case Counter::kNextInode:
      return keys::kNextInode;
    case Counter::kNextChunkId:
      return keys::kNextChunkId;
    case Counter::kNextNodeId:
      return keys::kNextNodeId;
    case Counter::kInodeCount:
      return keys::kInodeCount;
    case Counter::kNextTrashId:
      return keys::kNextTrashId;
    case Counter::kTrashEntries:
      return keys::kTrashEntries;
    case Counter::kTrashBytes:
      return keys::kTrashBytes;
  }
  DFS_CHECK(false) << "unknown counter";
  return "";
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

}  // namespace

MetaTxn MetaTxn::ReadOnly(rocksdb::DB* db, const FamilyHandles& families,
                          const rocksdb::Snapshot* snapshot) {
  return MetaTxn(db, families, snapshot, nullptr);
}

MetaTxn MetaTxn::ReadWrite(rocksdb::DB* db, const FamilyHandles& families,
                           rocksdb::WriteBatchWithIndex* batch) {
  DFS_CHECK(batch != nullptr);
  return MetaTxn(db, families, nullptr, batch);
}

Result<std::optional<std::string>> MetaTxn::Get(Family family, const std::string& key) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot_;
  rocksdb::ColumnFamilyHandle* cf = families_[static_cast<size_t>(family)];
  std::string value;
  rocksdb::Status s = batch_ != nullptr ? batch_->GetFromBatchAndDB(db_, options, cf, key, &value)
                                        : db_->Get(options, cf, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) {
    return Status::IoError(std::string("reading ") + keys::kFamilies[static_cast<size_t>(family)] +
                           ": " + s.ToString());
  }
  return std::optional<std::string>(std::move(value));
}

template <class Message>
Result<std::optional<Message>> MetaTxn::GetMessage(Family family, const std::string& key) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(family, key));
  if (!value) return std::optional<Message>();
  Message message;
  if (!message.ParseFromString(*value)) {
    return Status::Corrupt(std::string("unparsable ") + Message::descriptor()->name() + " in " +
                           keys::kFamilies[static_cast<size_t>(family)]);
  }
  return std::optional<Message>(std::move(message));
}

Result<std::optional<pb::InodeRecord>> MetaTxn::GetInode(uint64_t inode) const {
  return GetMessage<pb::InodeRecord>(Family::kInodes, keys::Id(inode));
}

Result<std::optional<pb::DentryRecord>> MetaTxn::GetDentry(uint64_t parent,
                                                           std::string_view name) const {
  return GetMessage<pb::DentryRecord>(Family::kDentries, keys::Named(parent, name));
}

Result<std::optional<pb::ChunkRecord>> MetaTxn::GetChunk(uint64_t inode, uint64_t index) const {
  return GetMessage<pb::ChunkRecord>(Family::kChunks, keys::Chunk(inode, index));
}

Result<uint64_t> MetaTxn::GetLayoutVersion() const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kDefault, keys::kLayoutVersion));
  return value ? keys::DecodeLittleEndian(*value) : uint64_t{0};
}

Result<std::optional<LocatedChunk>> MetaTxn::FindChunk(uint64_t chunk_id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> key, Get(Family::kChunkIds, keys::Id(chunk_id)));
  if (!key) return std::optional<LocatedChunk>();
  if (key->size() != 16) {
    return Status::Corrupt("bad chunk_ids entry for chunk " + std::to_string(chunk_id));
  }
  LocatedChunk out;
  out.inode = keys::DecodeBigEndian(*key);
  out.index = keys::DecodeBigEndian(std::string_view(*key).substr(8));
  ASSIGN_OR_RETURN(std::optional<pb::ChunkRecord> record, GetChunk(out.inode, out.index));
  if (!record || record->chunk_id() != chunk_id) {
    return Status::Corrupt("chunk_ids sends chunk " + std::to_string(chunk_id) + " to inode " +
                           std::to_string(out.inode) + " index " + std::to_string(out.index) +
                           ", which does not hold it");
  }
  out.record = std::move(*record);
  return std::optional<LocatedChunk>(std::move(out));
}

Result<std::optional<pb::ChunkRecord>> MetaTxn::GetGarbage(uint64_t chunk_id) const {
  return GetMessage<pb::ChunkRecord>(Family::kGarbage, keys::Id(chunk_id));
}

Result<std::optional<std::string>> MetaTxn::GetXattr(uint64_t inode, std::string_view name) const {
  return Get(Family::kXattrs, keys::Named(inode, name));
}

Result<std::optional<pb::NodeRecord>> MetaTxn::GetNode(uint64_t node_id) const {
  return GetMessage<pb::NodeRecord>(Family::kNodes, keys::Id(node_id));
}

Result<std::optional<pb::SessionRecord>> MetaTxn::GetSession(uint64_t session_id) const {
  return GetMessage<pb::SessionRecord>(Family::kSessions, keys::Id(session_id));
}

Result<std::optional<pb::TrashRecord>> MetaTxn::GetTrash(uint64_t trash_id) const {
  return GetMessage<pb::TrashRecord>(Family::kTrash, keys::Id(trash_id));
}

Result<std::optional<pb::FormatCommand>> MetaTxn::GetFormat() const {
  return GetMessage<pb::FormatCommand>(Family::kDefault, keys::kFormat);
}

Result<uint64_t> MetaTxn::GetCounter(Counter counter) const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kDefault, CounterKey(counter)));
  return value ? keys::DecodeLittleEndian(*value) : uint64_t{0};
}

Result<uint64_t> MetaTxn::GetAppliedIndex() const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kDefault, keys::kAppliedIndex));
  return value ? keys::DecodeLittleEndian(*value) : uint64_t{0};
}

Status MetaTxn::Scan(
    Family family, const std::string& prefix, const std::string& start,
    const std::function<Result<bool>(std::string_view key, std::string_view value)>& visit) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot_;
  rocksdb::ColumnFamilyHandle* cf = families_[static_cast<size_t>(family)];
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, cf));
  // The batch iterator takes ownership of the DB iterator.
  if (batch_ != nullptr) it.reset(batch_->NewIteratorWithBase(cf, it.release()));
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!StartsWith(key, prefix)) break;
    ASSIGN_OR_RETURN(bool more,
                     visit(key, std::string_view(it->value().data(), it->value().size())));
    if (!more) break;
  }
  if (!it->status().ok()) {
    return Status::IoError(std::string("scanning ") + keys::kFamilies[static_cast<size_t>(family)] +
                           ": " + it->status().ToString());
  }
  return Status::Ok();
}

Result<std::vector<NamedDentry>> MetaTxn::ListDentries(uint64_t parent, std::string_view after,
                                                       size_t max) const {
  std::vector<NamedDentry> out;
  if (max == 0) return out;
  std::string prefix = keys::Id(parent);
  RETURN_IF_ERROR(
      Scan(Family::kDentries, prefix, keys::Named(parent, after),
           [&](std::string_view key, std::string_view value) -> Result<bool> {
             std::string_view name = key.substr(prefix.size());
             if (name.empty() || name == after) return true;  // the cookie itself
             NamedDentry entry;
             entry.name.assign(name);
             if (!entry.record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
               return Status::Corrupt("unparsable dentry in directory " + std::to_string(parent));
             }
             out.push_back(std::move(entry));
             return out.size() < max;
           }));
  return out;
}

Result<bool> MetaTxn::HasDentries(uint64_t parent) const {
  ASSIGN_OR_RETURN(std::vector<NamedDentry> first, ListDentries(parent, "", 1));
  return !first.empty();
}

Result<std::vector<uint64_t>> MetaTxn::ScanInodeIds(uint64_t after, size_t max) const {
  std::vector<uint64_t> out;
  if (max == 0) return out;
  RETURN_IF_ERROR(Scan(Family::kInodes, "", keys::Id(after),
                       [&](std::string_view key, std::string_view) -> Result<bool> {
                         if (key.size() != 8) return Status::Corrupt("bad inode key");
                         uint64_t inode = keys::DecodeBigEndian(key);
                         if (inode == after) return true;
                         out.push_back(inode);
                         return out.size() < max;
                       }));
  return out;
}

Result<std::vector<LocatedChunk>> MetaTxn::ScanChunks(uint64_t after_inode, uint64_t after_index,
                                                      size_t max) const {
  std::vector<LocatedChunk> out;
  if (max == 0) return out;
  const std::string after = keys::Chunk(after_inode, after_index);
  RETURN_IF_ERROR(
      Scan(Family::kChunks, "", after,
           [&](std::string_view key, std::string_view value) -> Result<bool> {
             if (key.size() != 16) return Status::Corrupt("bad chunk key");
             if (key == after) return true;
             LocatedChunk chunk;
             chunk.inode = keys::DecodeBigEndian(key.substr(0, 8));
             chunk.index = keys::DecodeBigEndian(key.substr(8));
             if (!chunk.record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
               return Status::Corrupt("unparsable chunk of inode " + std::to_string(chunk.inode));
             }
             out.push_back(std::move(chunk));
             return out.size() < max;
           }));
  return out;
}

Result<std::vector<IndexedChunk>> MetaTxn::ListChunks(uint64_t inode, uint64_t first_index,
                                                      uint64_t end) const {
  std::vector<IndexedChunk> out;
  if (first_index >= end) return out;
  RETURN_IF_ERROR(
      Scan(Family::kChunks, keys::Id(inode), keys::Chunk(inode, first_index),
           [&](std::string_view key, std::string_view value) -> Result<bool> {
             if (key.size() != 16) return Status::Corrupt("bad chunk key");
             uint64_t index = keys::DecodeBigEndian(key.substr(8));
             if (index >= end) return false;
             IndexedChunk chunk;
             chunk.index = index;
             if (!chunk.record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
               return Status::Corrupt("unparsable chunk of inode " + std::to_string(inode));
             }
             out.push_back(std::move(chunk));
             return true;
           }));
  return out;
}

Result<std::vector<std::string>> MetaTxn::ListXattrNames(uint64_t inode) const {
  std::vector<std::string> out;
  std::string prefix = keys::Id(inode);
  RETURN_IF_ERROR(Scan(Family::kXattrs, prefix, prefix,
                       [&](std::string_view key, std::string_view) -> Result<bool> {
                         out.emplace_back(key.substr(prefix.size()));
                         return true;
                       }));
  return out;
}

Result<std::vector<pb::NodeRecord>> MetaTxn::ListNodes() const {
  std::vector<pb::NodeRecord> out;
  RETURN_IF_ERROR(
      Scan(Family::kNodes, "", "", [&](std::string_view, std::string_view value) -> Result<bool> {
        pb::NodeRecord node;
        if (!node.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return Status::Corrupt("unparsable node record");
        }
        out.push_back(std::move(node));
        return true;
      }));
  return out;
}

Result<std::vector<pb::ChunkRecord>> MetaTxn::ListGarbage(size_t max) const {
  std::vector<pb::ChunkRecord> out;
  if (max == 0) return out;
  RETURN_IF_ERROR(
      Scan(Family::kGarbage, "", "", [&](std::string_view, std::string_view value) -> Result<bool> {
        pb::ChunkRecord chunk;
        if (!chunk.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return Status::Corrupt("unparsable garbage record");
        }
        out.push_back(std::move(chunk));
        return out.size() < max;
      }));
  return out;
}

Result<std::vector<uint64_t>> MetaTxn::ListIdleSessions(int64_t before_ns, size_t max) const {
  std::vector<uint64_t> out;
  if (max == 0) return out;
  RETURN_IF_ERROR(Scan(Family::kSessions, "", "",
                       [&](std::string_view key, std::string_view value) -> Result<bool> {
                         pb::SessionRecord record;
                         if (key.size() != 8 ||
                             !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                           return Status::Corrupt("unparsable session record");
                         }
                         if (record.last_seen_ns() < before_ns) {
                           out.push_back(keys::DecodeBigEndian(key));
                         }
                         return out.size() < max;
                       }));
  return out;
}

Result<std::vector<uint64_t>> MetaTxn::ListGarbageOn(uint64_t node_id, uint64_t after,
                                                     size_t max) const {
  std::vector<uint64_t> out;
  if (max == 0 || after == std::numeric_limits<uint64_t>::max()) return out;
  RETURN_IF_ERROR(Scan(Family::kGarbageByNode, keys::Id(node_id),
                       keys::GarbageReplica(node_id, after + 1),
                       [&](std::string_view key, std::string_view) -> Result<bool> {
                         if (key.size() != 16) return Status::Corrupt("bad garbage_by_node key");
                         out.push_back(keys::DecodeBigEndian(key.substr(8)));
                         return out.size() < max;
                       }));
  return out;
}

Result<std::vector<pb::TrashRecord>> MetaTxn::ListTrash(uint64_t after, size_t max) const {
  std::vector<pb::TrashRecord> out;
  if (max == 0 || after == std::numeric_limits<uint64_t>::max()) return out;
  RETURN_IF_ERROR(Scan(Family::kTrash, "", keys::Id(after + 1),
                       [&](std::string_view key, std::string_view value) -> Result<bool> {
                         pb::TrashRecord record;
                         if (key.size() != 8 ||
                             !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                           return Status::Corrupt("unparsable trash record");
                         }
                         out.push_back(std::move(record));
                         return out.size() < max;
                       }));
  return out;
}

void MetaTxn::Put(Family family, const std::string& key, std::string_view value) {
  DFS_CHECK(batch_ != nullptr) << "write through a read-only MetaTxn";
  rocksdb::Status s = batch_->Put(families_[static_cast<size_t>(family)], key,
                                  rocksdb::Slice(value.data(), value.size()));
  DFS_CHECK(s.ok()) << "cannot add to the write batch: " << s.ToString();
}

void MetaTxn::Delete(Family family, const std::string& key) {
  DFS_CHECK(batch_ != nullptr) << "write through a read-only MetaTxn";
  rocksdb::Status s = batch_->Delete(families_[static_cast<size_t>(family)], key);
  DFS_CHECK(s.ok()) << "cannot add to the write batch: " << s.ToString();
}

void MetaTxn::PutInode(const pb::InodeRecord& record) {
  DFS_CHECK_NE(record.attr().inode(), 0u);
  Put(Family::kInodes, keys::Id(record.attr().inode()), record.SerializeAsString());
}

void MetaTxn::DeleteInode(uint64_t inode) {
  Delete(Family::kInodes, keys::Id(inode));
}

void MetaTxn::PutDentry(uint64_t parent, std::string_view name, const pb::DentryRecord& record) {
  Put(Family::kDentries, keys::Named(parent, name), record.SerializeAsString());
}

void MetaTxn::DeleteDentry(uint64_t parent, std::string_view name) {
  Delete(Family::kDentries, keys::Named(parent, name));
}

void MetaTxn::PutChunk(uint64_t inode, uint64_t index, const pb::ChunkRecord& record) {
  Put(Family::kChunks, keys::Chunk(inode, index), record.SerializeAsString());
  Put(Family::kChunkIds, keys::Id(record.chunk_id()), keys::Chunk(inode, index));
}

void MetaTxn::DeleteChunk(uint64_t inode, uint64_t index, uint64_t chunk_id) {
  Delete(Family::kChunks, keys::Chunk(inode, index));
  Delete(Family::kChunkIds, keys::Id(chunk_id));
}

void MetaTxn::PutXattr(uint64_t inode, std::string_view name, std::string_view value) {
  Put(Family::kXattrs, keys::Named(inode, name), value);
}

void MetaTxn::DeleteXattr(uint64_t inode, std::string_view name) {
  Delete(Family::kXattrs, keys::Named(inode, name));
}

void MetaTxn::PutNode(const pb::NodeRecord& record) {
  Put(Family::kNodes, keys::Id(record.node_id()), record.SerializeAsString());
}

void MetaTxn::PutSession(uint64_t session_id, const pb::SessionRecord& record) {
  Put(Family::kSessions, keys::Id(session_id), record.SerializeAsString());
}

void MetaTxn::DeleteSession(uint64_t session_id) {
  Delete(Family::kSessions, keys::Id(session_id));
}

void MetaTxn::PutTrash(const pb::TrashRecord& record) {
  Put(Family::kTrash, keys::Id(record.id()), record.SerializeAsString());
}

void MetaTxn::DeleteTrash(uint64_t trash_id) {
  Delete(Family::kTrash, keys::Id(trash_id));
}

void MetaTxn::PutGarbage(const pb::ChunkRecord& record) {
  Put(Family::kGarbage, keys::Id(record.chunk_id()), record.SerializeAsString());
  for (uint64_t node_id : record.replicas())
    Put(Family::kGarbageByNode, keys::GarbageReplica(node_id, record.chunk_id()), "");
}

void MetaTxn::DeleteGarbageReplica(uint64_t chunk_id, uint64_t node_id) {
  Delete(Family::kGarbageByNode, keys::GarbageReplica(node_id, chunk_id));
}

void MetaTxn::DeleteGarbage(uint64_t chunk_id) {
  Delete(Family::kGarbage, keys::Id(chunk_id));
}

void MetaTxn::PutFormat(const pb::FormatCommand& format) {
  Put(Family::kDefault, keys::kFormat, format.SerializeAsString());
}

void MetaTxn::PutCounter(Counter counter, uint64_t value) {
  Put(Family::kDefault, CounterKey(counter), keys::LittleEndian(value));
}

void MetaTxn::PutAppliedIndex(uint64_t index) {
  Put(Family::kDefault, keys::kAppliedIndex, keys::LittleEndian(index));
}

void MetaTxn::PutLayoutVersion(uint64_t version) {
  Put(Family::kDefault, keys::kLayoutVersion, keys::LittleEndian(version));
}

Result<std::pair<uint64_t, uint64_t>> MetaTxn::RebuildIndexes() {
  DFS_CHECK(batch_ != nullptr) << "write through a read-only MetaTxn";
  // Collected first, written after: the batch must not change under its
  // own iterators.
  std::vector<std::pair<uint64_t, std::string>> chunks;  // id, chunks key
  RETURN_IF_ERROR(Scan(Family::kChunks, "", "",
                       [&](std::string_view key, std::string_view value) -> Result<bool> {
                         pb::ChunkRecord record;
                         if (key.size() != 16 ||
                             !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                           return Status::Corrupt("bad chunk record");
                         }
                         chunks.emplace_back(record.chunk_id(), std::string(key));
                         return true;
                       }));
  ASSIGN_OR_RETURN(std::vector<pb::ChunkRecord> garbage,
                   ListGarbage(std::numeric_limits<size_t>::max()));
  for (const auto& [id, key] : chunks)
    Put(Family::kChunkIds, keys::Id(id), key);
  for (const pb::ChunkRecord& record : garbage)
    PutGarbage(record);
  PutLayoutVersion(keys::kCurrentLayout);
  return std::make_pair(static_cast<uint64_t>(chunks.size()),
                        static_cast<uint64_t>(garbage.size()));
}

// ------------------------------------------------------------------- locks

namespace {

constexpr char kLockListPrefix[] = "L";
constexpr char kLockSessionPrefix[] = "S";
constexpr char kLastLockSession[] = "N";

std::string LockKey(const char* prefix, uint64_t id) {
  return prefix + keys::BigEndian(id);
}

}  // namespace

Result<std::optional<pb::LockList>> MetaTxn::GetLockList(uint64_t inode) const {
  return GetMessage<pb::LockList>(Family::kLocks, LockKey(kLockListPrefix, inode));
}

void MetaTxn::PutLockList(uint64_t inode, const pb::LockList& list) {
  if (list.locks_size() == 0) {
    Delete(Family::kLocks, LockKey(kLockListPrefix, inode));
  } else {
    Put(Family::kLocks, LockKey(kLockListPrefix, inode), list.SerializeAsString());
  }
}

Result<std::optional<pb::LockSessionRecord>> MetaTxn::GetLockSession(uint64_t lock_session) const {
  return GetMessage<pb::LockSessionRecord>(Family::kLocks,
                                           LockKey(kLockSessionPrefix, lock_session));
}

void MetaTxn::PutLockSession(uint64_t lock_session, const pb::LockSessionRecord& record) {
  Put(Family::kLocks, LockKey(kLockSessionPrefix, lock_session), record.SerializeAsString());
}

void MetaTxn::DeleteLockSession(uint64_t lock_session) {
  Delete(Family::kLocks, LockKey(kLockSessionPrefix, lock_session));
}

Result<uint64_t> MetaTxn::GetLastLockSession() const {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(Family::kLocks, kLastLockSession));
  return value ? keys::DecodeLittleEndian(*value) : uint64_t{0};
}

void MetaTxn::PutLastLockSession(uint64_t lock_session) {
  Put(Family::kLocks, kLastLockSession, keys::LittleEndian(lock_session));
}

template <class Message>
Status MetaTxn::ScanLockRecords(
    const char* prefix,
    const std::function<Result<bool>(uint64_t id, const Message&)>& visit) const {
  return Scan(
      Family::kLocks, prefix, prefix,
      [&](std::string_view key, std::string_view value) -> Result<bool> {
        Message record;
        if (key.size() != 9 ||
            !record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return Status::Corrupt(std::string("unparsable lock record under '") + prefix + "'");
        }
        return visit(keys::DecodeBigEndian(key.substr(1)), record);
      });
}

Status MetaTxn::ScanLockLists(
    const std::function<Result<bool>(uint64_t inode, const pb::LockList&)>& visit) const {
  return ScanLockRecords<pb::LockList>(kLockListPrefix, visit);
}

Status MetaTxn::ScanLockSessions(
    const std::function<Result<bool>(uint64_t id, const pb::LockSessionRecord&)>& visit) const {
  return ScanLockRecords<pb::LockSessionRecord>(kLockSessionPrefix, visit);
}

}  // namespace dfs::meta
