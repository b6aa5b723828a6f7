// FileSystem: libdfsclient, every file operation of a dfs mount without
// FUSE (DESIGN §5). The mount (client/fuse/) is a thin shell over it; tests
// and tools use it directly.
//
// Namespace calls go to the meta leader with the caller's credentials (the
// meta service checks permissions, not only the kernel). They retry across
// meta servers until `meta_timeout` (hard-mount semantics): a leader change
// is a pause, not an error.
//
// File data:
//   - Reads go to a replica in the mount's zone first, then the others; every
//     block is verified end to end; blocks pass through the BlockCache keyed
//     by (inode, data_version, block). Sequential reads trigger readahead.
//   - Writes are buffered per open file (write-behind, bounded) and sent in
//     large pieces down the chunk's replica chain. A replica that fails
//     mid-write is reported to the meta leader, which hands back a chain
//     without it (and a new version); the piece is sent again. The
//     application sees no error unless every replica is gone.
//   - Flush/Fsync/Release send what is buffered, make it durable on every
//     replica (Sync) and commit the new size and mtime through Raft. Errors
//     of buffered writes surface there, as POSIX allows.
//
// Thread-safe: the FUSE layer calls it from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/meta_client.h"
#include "common/result.h"
#include "proto/meta.pb.h"

namespace dfs::client {

// Who is asking: from the FUSE request (uid, gid, supplementary groups).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
};

struct FileSystemOptions {
  std::vector<std::string> meta;  // every dfs-meta address
  std::string zone;               // reads prefer replicas in this zone
  std::chrono::milliseconds meta_timeout{60000};
  std::chrono::milliseconds chunk_timeout{10000};  // one chunk server call
  uint64_t writeback_buffer = 64ull << 20;         // buffered-write bytes, all files together
  uint64_t write_piece = 4ull << 20;               // bytes per chain write
  uint64_t readahead = 4ull << 20;                 // bytes read ahead of a sequential reader
  uint64_t ram_cache = 256ull << 20;               // BlockCache RAM tier
  std::string cache_dir;                           // BlockCache disk tier; empty: none
  uint64_t cache_size = 1ull << 30;                // BlockCache disk bound
  int meta_sessions = 8;                           // concurrent metadata calls
  bool watch = true;  // keep a watch stream to the leader (push invalidations)
};

// Counters for tests and /metrics.
struct FileSystemStats {
  uint64_t chunk_reads = 0;  // Read RPCs to chunk servers
  uint64_t chunk_read_bytes = 0;
  uint64_t chunk_writes = 0;   // chain writes
  uint64_t chain_retries = 0;  // chain writes sent again after a replica failed
  uint64_t cache_hits = 0, cache_misses = 0;
};

class FileSystem {
 public:
  // Connects to the meta service (waits up to meta_timeout for a leader),
  // learns the cluster id and chunk size, opens the block cache.
  static Result<std::unique_ptr<FileSystem>> Open(FileSystemOptions options);
  virtual ~FileSystem() = default;

  // --- Namespace (errors are POSIX-mapped Status codes; see common/status.h).
  virtual Result<pb::InodeAttr> Lookup(const Caller& c, uint64_t parent,
                                       const std::string& name) = 0;
  virtual Result<pb::InodeAttr> GetAttr(const Caller& c, uint64_t inode) = 0;
  // `req.valid` says which fields to set (SetAttrBits). A size change also
  // cuts the chunk that holds the new end, so a later extension reads zeros.
  // An open handle's buffered writes are flushed first.
  virtual Result<pb::InodeAttr> SetAttr(const Caller& c, pb::SetAttrRequest req) = 0;
  // Regular files, directories, symlinks (target), FIFOs, sockets.
  virtual Result<pb::InodeAttr> Create(const Caller& c, uint64_t parent, const std::string& name,
                                       pb::FileType type, uint32_t mode, bool exclusive,
                                       const std::string& symlink_target = "") = 0;
  virtual Status Unlink(const Caller& c, uint64_t parent, const std::string& name) = 0;
  virtual Status Rmdir(const Caller& c, uint64_t parent, const std::string& name) = 0;
  // flags: RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2.
  virtual Status Rename(const Caller& c, uint64_t parent, const std::string& name,
                        uint64_t new_parent, const std::string& new_name, uint32_t flags) = 0;
  virtual Result<pb::InodeAttr> Link(const Caller& c, uint64_t inode, uint64_t new_parent,
                                     const std::string& new_name) = 0;
  virtual Result<std::string> ReadLink(const Caller& c, uint64_t inode) = 0;
  // One page of a directory listing; `cookie` is "" to start, then the
  // last name returned. Entries carry attributes (readdirplus).
  virtual Result<pb::ReadDirReply> ReadDir(const Caller& c, uint64_t inode,
                                           const std::string& cookie, uint32_t max_entries) = 0;
  virtual Result<pb::StatFsReply> StatFs(const Caller& c) = 0;
  virtual Status Access(const Caller& c, uint64_t inode, uint32_t mask) = 0;
  virtual Result<std::string> GetXattr(const Caller& c, uint64_t inode,
                                       const std::string& name) = 0;
  // flags: XATTR_CREATE = 1, XATTR_REPLACE = 2.
  virtual Status SetXattr(const Caller& c, uint64_t inode, const std::string& name,
                          const std::string& value, uint32_t flags) = 0;
  virtual Result<std::vector<std::string>> ListXattr(const Caller& c, uint64_t inode) = 0;
  virtual Status RemoveXattr(const Caller& c, uint64_t inode, const std::string& name) = 0;

  // --- Open files. A handle is a number, valid until Release.
  struct OpenResult {
    uint64_t handle = 0;
    pb::InodeAttr attr;  // as revalidated by the open
    // The file's data is unchanged since this mount last cached it (same
    // data_version): the kernel may keep its page cache.
    bool keep_cache = false;
  };
  // Opens `inode` with open(2) flags (O_ACCMODE, O_APPEND, O_TRUNC; the
  // meta service checks access). Close-to-open: revalidates the attributes.
  virtual Result<OpenResult> OpenFile(const Caller& c, uint64_t inode, int flags) = 0;
  // Creates and opens a regular file.
  virtual Result<OpenResult> CreateFile(const Caller& c, uint64_t parent, const std::string& name,
                                        uint32_t mode, int flags) = 0;
  // Up to `size` bytes at `offset`; shorter at the end of the file. Sees this
  // handle's own buffered writes.
  virtual Result<std::string> Read(uint64_t handle, uint64_t offset, uint64_t size) = 0;
  // Buffers `data` at `offset` (O_APPEND handles: at the end of the file).
  // Returns the bytes accepted (all of them) or an earlier write's error.
  virtual Result<uint64_t> Write(uint64_t handle, uint64_t offset, std::string_view data) = 0;
  // Sends, syncs and commits what the handle wrote (close(2) and fsync(2)).
  virtual Status Flush(uint64_t handle) = 0;
  // Flushes, then forgets the handle.
  virtual Status Release(uint64_t handle) = 0;
  // fallocate(2) mode 0: makes the file at least offset + length bytes.
  virtual Status Allocate(uint64_t handle, uint64_t offset, uint64_t length) = 0;

  // --- Advisory locks, enforced across every mount (docs/locks.md). `lock`
  // is taken for the open file `handle` (its inode); its lock_session is
  // filled in here. LOCK_CONFLICT (EAGAIN) when another holder has it and
  // `wait` is false; with `wait`, blocks until granted or INTERRUPTED
  // (EINTR) once `cancel` is cancelled. SESSION_EXPIRED (EIO) on a handle
  // whose locks the cluster released because this mount's lock lease
  // lapsed; writes on it fail the same way.
  virtual Status SetLock(uint64_t handle, pb::LockRange lock, bool wait, CallCanceller* cancel) = 0;
  // The lock of another holder that would block `lock`, if any.
  virtual Result<std::optional<pb::LockRange>> GetLock(uint64_t handle, pb::LockRange lock) = 0;
  // At close: drops every lock of (kind, owner) on the handle's file.
  virtual Status ReleaseLocks(uint64_t handle, pb::LockKind kind, uint64_t owner) = 0;
  // This mount's current lock session (0 before its first lock).
  virtual uint64_t lock_session() const = 0;

  // What another mount changed, as the meta leader pushes it over the
  // watch stream (proto/meta.proto WatchEvent; resync = revalidate
  // everything). The file system has already dropped its own caches for
  // it; `handler` passes it on (to the kernel). Called on the watch thread,
  // one event at a time.
  using InvalidationHandler = std::function<void(const pb::WatchEvent&)>;
  virtual void SetInvalidationHandler(InvalidationHandler handler) = 0;

  virtual FileSystemStats stats() const = 0;
  virtual const std::string& cluster_id() const = 0;
  virtual uint64_t chunk_size() const = 0;
};

}  // namespace dfs::client
