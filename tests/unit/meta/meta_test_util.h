// Test helpers for MetaStore: builders for MetaCommands, and a store in a
// temporary directory that applies them as Raft entries with consecutive
// indexes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include "common/result.h"

#include "meta/meta_store.h"
#include "meta/ops/ops.h"
#include "tests/unit/temp_dir.h"

namespace dfs::meta::testing {

inline constexpr uint64_t kRoot = 1;
inline constexpr uint64_t kChunkSize = 1 << 20;  // small, so tests can span chunks
inline constexpr char kClusterId[] = "test-cluster";

Credentials Root();
Credentials User(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {});

// Commands without caller, time or session (TestStore fills those in).
pb::MetaCommand FormatCmd(const std::string& cluster_id = kClusterId,
                          uint64_t chunk_size = kChunkSize);
pb::MetaCommand CreateCmd(uint64_t parent, const std::string& name, pb::FileType type,
                          uint32_t mode, bool exclusive = true, const std::string& target = "");
pb::MetaCommand UnlinkCmd(uint64_t parent, const std::string& name);
pb::MetaCommand RmdirCmd(uint64_t parent, const std::string& name);
pb::MetaCommand RenameCmd(uint64_t parent, const std::string& name, uint64_t new_parent,
                          const std::string& new_name, uint32_t flags = 0);
pb::MetaCommand LinkCmd(uint64_t inode, uint64_t new_parent, const std::string& new_name);
pb::MetaCommand SetAttrCmd(const pb::SetAttrRequest& req);
pb::MetaCommand SetXattrCmd(uint64_t inode, const std::string& name, const std::string& value,
                            uint32_t flags = 0);
pb::MetaCommand RemoveXattrCmd(uint64_t inode, const std::string& name);
pb::MetaCommand AllocateChunkCmd(uint64_t inode, uint64_t index, std::vector<uint64_t> replicas,
                                 std::vector<uint64_t> failed = {});
pb::MetaCommand CommitWriteCmd(uint64_t inode, uint64_t size);
pb::MetaCommand RegisterNodeCmd(uint64_t node_id, const std::string& address,
                                const std::string& zone, uint64_t capacity = 1 << 30);
// ForgetGarbage of (chunk id, node id) pairs.
pb::MetaCommand ForgetGarbageCmd(const std::vector<std::pair<uint64_t, uint64_t>>& pairs);

inline ErrorCode CodeOf(const Status& status) {
  return status.code();
}
template <class T>
ErrorCode CodeOf(const Result<T>& result) {
  return result.status().code();
}

// The reply as a Result: its attr on success.
Result<pb::InodeAttr> AttrOf(const pb::MetaReply& reply);

// Keys in one column family of a closed store (`dir` is its state
// directory).
size_t CountKeys(const std::string& dir, const std::string& family);
// Opens a closed store's RocksDB in `dir` with every family, runs `edit`
// on it (handles in keys::kFamilies order), closes it: for changes behind
// the state machine's back (old layouts, damage for fsck to find).
void EditRawStore(
    const std::string& dir,
    const std::function<void(rocksdb::DB*, const std::vector<rocksdb::ColumnFamilyHandle*>&)>&
        edit);
// Deletes one key of a closed store's family.
void DeleteRawKey(const std::string& dir, const std::string& family, const std::string& key);

// A MetaStore in a fresh temporary directory.
class TestStore {
 public:
  // Formatted (as root, at index 1) unless format is false.
  explicit TestStore(bool format = true);

  MetaStore& store() { return *store_; }
  MetaStore* operator->() { return store_.get(); }
  const std::string& dir() const { return dir_.path(); }
  std::string state_dir() const { return dir_.path() + "/state"; }

  // The caller, time and session of the next commands. Each command gets
  // a time one second after the previous one's.
  Credentials caller = Root();
  int64_t now_ns = 1700000000LL * 1000000000LL;

  // Stamps `cmd` with caller and time (session_id/sequence left as set).
  pb::MetaCommand Stamp(pb::MetaCommand cmd);
  // Applies the commands as one Apply call, one entry each.
  std::vector<pb::MetaReply> ApplyAll(std::vector<pb::MetaCommand> cmds);
  pb::MetaReply Apply(pb::MetaCommand cmd);
  // Applies raw entries data (consecutive indexes); returns Apply's strings.
  std::vector<std::string> ApplyRaw(const std::vector<std::string>& data);

  // Closes and reopens the store from disk.
  void Reopen();
  // Closes the store, keeping its files (for a raw look at them).
  void Close() { store_.reset(); }

  // Shortcuts: apply one command, return its outcome.
  Result<pb::InodeAttr> Mkdir(uint64_t parent, const std::string& name, uint32_t mode = 0755);
  Result<pb::InodeAttr> CreateFile(uint64_t parent, const std::string& name, uint32_t mode = 0644);
  Result<pb::InodeAttr> Symlink(uint64_t parent, const std::string& name,
                                const std::string& target);
  Status Unlink(uint64_t parent, const std::string& name);
  Status Rmdir(uint64_t parent, const std::string& name);
  Status Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, uint32_t flags = 0);
  Result<pb::InodeAttr> Link(uint64_t inode, uint64_t new_parent, const std::string& new_name);
  Result<pb::InodeAttr> SetAttr(const pb::SetAttrRequest& req);
  Result<pb::InodeAttr> Chmod(uint64_t inode, uint32_t mode);
  Result<pb::InodeAttr> Chown(uint64_t inode, uint32_t uid, uint32_t gid);
  Result<pb::InodeAttr> Truncate(uint64_t inode, uint64_t size);
  Status SetXattr(uint64_t inode, const std::string& name, const std::string& value,
                  uint32_t flags = 0);
  Status RemoveXattr(uint64_t inode, const std::string& name);
  Result<pb::ChunkLocation> AllocateChunk(uint64_t inode, uint64_t index,
                                          std::vector<uint64_t> replicas,
                                          std::vector<uint64_t> failed = {});
  Result<pb::InodeAttr> CommitWrite(uint64_t inode, uint64_t size);
  Result<uint64_t> RegisterNode(uint64_t node_id, const std::string& address,
                                const std::string& zone);

  // Reads as `caller`.
  Result<pb::InodeAttr> Lookup(uint64_t parent, const std::string& name) const;
  Result<pb::InodeAttr> Attr(uint64_t inode) const { return store_->GetAttr(inode); }
  // Every name of a directory, by paging with `page` entries per call.
  std::vector<std::string> ListNames(uint64_t dir, uint32_t page = 1000) const;

 private:
  dfs::testing::TempDir dir_;
  std::unique_ptr<MetaStore> store_;
  uint64_t next_index_ = 1;
};

}  // namespace dfs::meta::testing
