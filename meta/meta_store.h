// MetaStore: the metadata state machine of dfs-meta (docs/meta.md). Raft
// applies MetaCommands to it on every replica; the leader answers reads
// from it after a read barrier.
//
// State lives in RocksDB (column families for inodes, dentries, chunks,
// xattrs, nodes, sessions, garbage, locks and the trash, and two indexes:
// chunk_ids and garbage_by_node); every Apply call is one atomic WriteBatch that also
// records the applied index, so a restart neither loses nor repeats an
// entry.
//
// Threads: Apply, Checkpoint and Restore are called on the Raft driver
// thread; every read may be called from any thread at the same time and
// sees the state as of some completed Apply.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/fsck.h"
#include "meta/ops/locks.h"
#include "meta/ops/permissions.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"
#include "meta/raft/state_machine.h"
#include "proto/meta.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace dfs::meta {

class MetaTxn;

// The MetaReply of a failed command: error.code is the ErrorCode's number,
// error.message the status message. OK gives an empty reply.
pb::MetaReply MakeReply(const Status& status);

// The Status a reply's error stands for (OK when it has none).
Status ReplyStatus(const pb::MetaReply& reply);

class MetaStore : public raft::StateMachine {
 public:
  // Opens the state in `dir` (`<data>/state`), creating an empty,
  // unformatted one if there is none.
  static Result<std::unique_ptr<MetaStore>> Open(const std::string& dir);
  ~MetaStore() override;
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  // raft::StateMachine.
  uint64_t AppliedIndex() const override;
  // Entries carry serialized pb::MetaCommands. Returns one serialized
  // pb::MetaReply per command entry and "" for empty (no-op) and
  // membership entries, which only move the applied index. A command that
  // does not parse gets INVALID_ARGUMENT; every command but `format` gets
  // UNAVAILABLE ("not formatted") before format. A command sees the
  // effects of the commands before it in the same call. Storage failures
  // stop the process (a replica must not diverge).
  // REQUIRES: entries[0].index == AppliedIndex() + 1, indexes consecutive.
  std::vector<std::string> Apply(std::span<const raft::Entry> entries) override;
  Status Checkpoint(const std::string& dir) override;
  // Replaces the state by the checkpoint in `dir`, which stays untouched.
  Status Restore(const std::string& dir) override;

  // What `format` fixed; false, "" and 0 before.
  bool formatted() const;
  std::string cluster_id() const;
  uint64_t chunk_size() const;

  // Reads. Before format they all fail with UNAVAILABLE.
  // NOT_FOUND for a missing inode.
  Result<pb::InodeAttr> GetAttr(uint64_t inode) const;
  // Needs search permission on `parent`; NOT_FOUND, NOT_A_DIRECTORY,
  // PERMISSION_DENIED, INVALID_ARGUMENT / NAME_TOO_LONG for a bad name.
  Result<pb::InodeAttr> Lookup(const Credentials& caller, uint64_t parent,
                               const std::string& name) const;
  // Entries in name order after `cookie` (the last name returned; "" to
  // start), with full attributes (readdirplus); `eof` when exhausted.
  // max_entries 0 means 1024; at most 4096 are returned. Needs read
  // permission (attributes need search permission too). "." and ".." are
  // not listed.
  Result<pb::ReadDirReply> ReadDir(const Credentials& caller, uint64_t inode,
                                   const std::string& cookie, uint32_t max_entries) const;
  // INVALID_ARGUMENT if `inode` is not a symlink.
  Result<std::string> ReadLink(uint64_t inode) const;
  // NO_DATA for a missing attribute.
  Result<std::string> GetXattr(const Credentials& caller, uint64_t inode,
                               const std::string& name) const;
  Result<std::vector<std::string>> ListXattr(const Credentials& caller, uint64_t inode) const;
  // access(2): mask R_OK 4 | W_OK 2 | X_OK 1, or 0 for existence only.
  Status Access(const Credentials& caller, uint64_t inode, uint32_t mask) const;
  // ops::CheckedAttr: access checked and attributes read in one snapshot.
  Result<pb::InodeAttr> CheckedAttr(const Credentials& caller, uint64_t inode, uint32_t mask) const;
  // Chunks of a regular file with first_index <= index < first_index +
  // count (count 0: all from first_index); holes are absent. Replicas carry
  // address and zone; length is clipped to the file size.
  Result<pb::GetChunksReply> GetChunks(uint64_t inode, uint64_t first_index, uint64_t count) const;
  // Every registered chunk server, by node id.
  std::vector<pb::NodeRecord> Nodes() const;
  // One chunk server; NOT_FOUND if it never registered.
  Result<pb::NodeRecord> Node(uint64_t node_id) const;
  // Inodes that exist, root included.
  uint64_t InodeCount() const;
  // Up to `max` chunks no file references any more (from unlink, truncate,
  // rename over a file), by chunk id: to delete on the chunk servers.
  std::vector<pb::ChunkRecord> Garbage(size_t max) const;
  // The chunk `chunk_id` of some file, with its inode and index; NOT_FOUND
  // if no file holds it (it is garbage, or was never allocated).
  Result<LocatedChunk> FindChunk(uint64_t chunk_id) const;
  // Up to `max` chunks of every file, in (inode, index) order, after
  // (after_inode, after_index); (0, 0) starts at the first. For the repair
  // scheduler's sweep.
  Result<std::vector<LocatedChunk>> ScanChunks(uint64_t after_inode, uint64_t after_index,
                                               size_t max) const;
  // fsck (meta/ops/fsck.h) over one consistent view of the state.
  Result<ops::FsckCounts> Fsck(uint64_t start, const ops::FsckVisitor& visitor) const;
  // The garbage record of `chunk_id`; NOT_FOUND if it is not garbage.
  Result<pb::ChunkRecord> FindGarbage(uint64_t chunk_id) const;
  // Up to `max` ids, ascending and above `after`, of the garbage chunks
  // whose record lists `node_id`: the replicas that node has to delete.
  Result<std::vector<uint64_t>> GarbageOn(uint64_t node_id, uint64_t after, size_t max) const;
  // The trash (meta/ops/trash.h): its totals (no scan); up to `max` records
  // with ids above `after`, oldest first; the best-effort path of `name` in
  // directory `dir` ("" for the directory itself; "" when unknown).
  Result<ops::TrashTotals> TrashUsage() const;
  Result<std::vector<pb::TrashRecord>> ListTrash(uint64_t after, size_t max) const;
  Result<std::string> EntryPath(uint64_t dir, const std::string& name) const;
  // Locks (meta/ops/locks.h): the lock of another holder blocking `want`
  // on `inode`, if any; the lock sessions not expired; whether one is;
  // how many locks are held.
  Result<std::optional<pb::LockRange>> TestLock(uint64_t inode, const pb::LockRange& want) const;
  Result<std::vector<uint64_t>> LiveLockSessions() const;
  Result<bool> LockSessionLive(uint64_t lock_session) const;
  Result<ops::LockCounts> CountLocks() const;

 private:
  explicit MetaStore(std::string dir);
  Status OpenDb();
  // Fills the indexes of a state written before they existed.
  Status RebuildIndexes();
  void CloseDb();
  // Applies one command entry into `txn`; returns the serialized reply.
  std::string ApplyCommand(MetaTxn& txn, rocksdb::WriteBatchWithIndex& batch,
                           std::optional<pb::FormatCommand>* format, const std::string& data);
  // Runs `read` on a consistent snapshot; UNAVAILABLE before format.
  template <class Read>
  auto ReadState(Read read) const -> decltype(read(std::declval<const MetaTxn&>()));

  const std::string dir_;
  // Shared by Apply, Checkpoint and reads; exclusive while Restore swaps
  // the DB.
  mutable std::shared_mutex mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // keys::kFamilies order

  // Cached from the DB, updated after each Apply's write.
  mutable std::mutex cache_mu_;
  uint64_t applied_index_ = 0;
  std::optional<pb::FormatCommand> format_;
};

}  // namespace dfs::meta
