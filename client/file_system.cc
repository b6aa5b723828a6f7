#include "client/file_system.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "client/block_cache.h"
#include "client/chunk_client.h"
#include "client/lock_client.h"
#include "client/meta_pool.h"
#include "client/watch_client.h"
#include "common/checksum.h"
#include "common/logging.h"
#include "common/thread_pool.h"

namespace dfs::client {
namespace {

constexpr uint32_t kSetAttrSize = pb::SETATTR_SIZE;
constexpr int kChainAttempts = 4;   // a chain of 3 loses at most 2 before it is empty
constexpr int kStaleAttempts = 30;  // about 10 s of waiting for a chain to settle
// How long a chunk server a read could not reach is asked last.
constexpr std::chrono::seconds kSuspectFor{15};
constexpr size_t kPiecesInFlight = 4;  // per open file

pb::Timespec Now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  pb::Timespec t;
  t.set_sec(ns / 1000000000);
  t.set_nsec(static_cast<uint32_t>(ns % 1000000000));
  return t;
}

// What every open handle of one inode on this mount shares: the size as
// the mount's writers have made it (appends go there, readers see it),
// whether any handle holds writes not yet committed (then the block cache,
// keyed by the committed data_version, cannot serve the inode), and the
// chains the writers moved chunks to.
struct InodeState {
  std::mutex append_mu;  // an O_APPEND write picks its offset and grows the size under it
  std::atomic<uint64_t> size{0};
  std::atomic<int> writers{0};  // handles with uncommitted writes
  // The newest attributes the meta service gave for the inode (guarded by
  // FileSystemImpl::handles_mu_): what getattr answers once another mount
  // removed the inode while it is open here.
  pb::InodeAttr attr;

  void GrowTo(uint64_t end) {
    uint64_t cur = size.load();
    while (cur < end && !size.compare_exchange_weak(cur, end)) {
    }
  }

  // A chain a handle here writes on (after AllocateChunk, ReplaceChain or
  // following repair). The other handles read through it instead of the
  // older chain they cached: a replica dropped from it keeps the old
  // version but not the writes since, and answers the bytes it lacks with
  // zeros (chaos seed 11: a reader read an append as zeros that way).
  void Publish(uint64_t index, const pb::ChunkLocation& loc) {
    std::lock_guard lock(chains_mu);
    auto [it, fresh] = chains.try_emplace(index, loc);
    if (!fresh &&
        (it->second.chunk_id() != loc.chunk_id() || it->second.version() < loc.version())) {
      it->second = loc;
    }
  }
  // Replaces `loc` (chunk `index`) with a newer chain of the same chunk
  // that a handle here published, if any.
  void Newest(uint64_t index, pb::ChunkLocation* loc) {
    std::lock_guard lock(chains_mu);
    auto it = chains.find(index);
    if (it != chains.end() && it->second.chunk_id() == loc->chunk_id() &&
        it->second.version() > loc->version()) {
      *loc = it->second;
    }
  }
  // A resize may free and reallocate chunks: forget them all.
  void ForgetChains() {
    std::lock_guard lock(chains_mu);
    chains.clear();
  }

 private:
  std::mutex chains_mu;
  std::map<uint64_t, pb::ChunkLocation> chains;  // chunk index -> newest chain written on
};

// A background readahead: one range of one chunk on its way into the block
// cache. A reader that misses a block inside it waits for it rather than
// fetching the same bytes again.
struct Prefetch {
  uint64_t start = 0, end = 0;  // file offsets
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;

  void Finish() {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return done; });
  }
  bool Done() {
    std::lock_guard lock(mu);
    return done;
  }
  bool Covers(uint64_t offset) {
    std::lock_guard lock(mu);
    return !done && offset >= start && offset < end;
  }
};

// One open file: what it wrote and has not yet made durable, and what it
// knows of the file's chunks.
struct OpenFile {
  uint64_t inode = 0;
  int flags = 0;
  Caller caller;
  std::shared_ptr<InodeState> shared;

  std::mutex mu;              // everything below
  uint64_t size = 0;          // the file size as this handle sees it
  uint64_t data_version = 0;  // at open; the cache key of unchanged data
  bool wrote = false;         // wrote since the last commit: bypass the cache
  Status deferred;            // a buffered write that failed: reported at flush
  uint64_t buffer_offset = 0;
  std::string buffer;                            // contiguous bytes at buffer_offset
  std::set<uint64_t> dirty;                      // chunk indexes written since the last sync
  std::map<uint64_t, pb::ChunkLocation> chunks;  // index -> location (reads and writes)
  std::set<uint64_t> created;                    // indexes this handle created replicas for
  uint64_t last_read_end = 0;                    // sequential detection for readahead
  uint64_t read_ahead_to = 0;                    // readahead was asked up to here
  std::shared_ptr<Prefetch> prefetch;            // the background readahead, if any
  // Pieces on their way down a chain (write-behind), by byte range; a piece
  // overlapping one in flight waits for it, so later bytes win.
  std::vector<std::pair<uint64_t, uint64_t>> in_flight;
  std::condition_variable landed;  // an in-flight piece finished
  uint64_t lock_session = 0;       // the lock session this handle took locks in
};

class FileSystemImpl final : public FileSystem {
 public:
  FileSystemImpl(FileSystemOptions options, MetaClientOptions meta_options)
      : options_(std::move(options)),
        meta_(meta_options, options_.meta_sessions),
        locks_(meta_options) {}

  Status Init();

  Result<pb::InodeAttr> Lookup(const Caller& c, uint64_t parent, const std::string& name) override {
    ASSIGN_OR_RETURN(pb::InodeAttr attr, Meta(c)->Lookup(parent, name));
    OverlayOpenSize(&attr);
    return attr;
  }
  Result<pb::InodeAttr> GetAttr(const Caller& c, uint64_t inode) override {
    Result<pb::InodeAttr> attr = Meta(c)->GetAttr(inode);
    if (!attr.ok()) {
      if (attr.status().code() != ErrorCode::NOT_FOUND) return attr.status();
      std::optional<pb::InodeAttr> open = OpenButRemoved(inode);
      if (!open) return attr.status();
      return *open;
    }
    OverlayOpenSize(&*attr);
    RememberAttr(*attr);
    return attr;
  }
  Result<pb::InodeAttr> SetAttr(const Caller& c, pb::SetAttrRequest req) override;
  Result<pb::InodeAttr> Create(const Caller& c, uint64_t parent, const std::string& name,
                               pb::FileType type, uint32_t mode, bool exclusive,
                               const std::string& symlink_target) override {
    return Meta(c)->Create(parent, name, type, mode, exclusive, symlink_target);
  }
  Status Unlink(const Caller& c, uint64_t parent, const std::string& name) override {
    ASSIGN_OR_RETURN(bool hidden, HideIfOpen(c, parent, name));
    if (hidden) return Status::Ok();
    return Meta(c)->Unlink(parent, name);
  }
  Status Rmdir(const Caller& c, uint64_t parent, const std::string& name) override {
    return Meta(c)->Rmdir(parent, name);
  }
  Status Rename(const Caller& c, uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, uint32_t flags) override {
    if (flags == 0) {
      // Replacing a file this mount has open: keep it, hidden, until closed.
      ASSIGN_OR_RETURN(bool hidden, HideIfOpen(c, new_parent, new_name));
      (void)hidden;
    }
    return Meta(c)->Rename(parent, name, new_parent, new_name, flags);
  }
  Result<pb::InodeAttr> Link(const Caller& c, uint64_t inode, uint64_t new_parent,
                             const std::string& new_name) override {
    return Meta(c)->Link(inode, new_parent, new_name);
  }
  Result<std::string> ReadLink(const Caller& c, uint64_t inode) override {
    return Meta(c)->ReadLink(inode);
  }
  Result<pb::ReadDirReply> ReadDir(const Caller& c, uint64_t inode, const std::string& cookie,
                                   uint32_t max_entries) override {
    ASSIGN_OR_RETURN(pb::ReadDirReply reply, Meta(c)->ReadDir(inode, cookie, max_entries));
    for (pb::DirEntry& e : *reply.mutable_entries())
      OverlayOpenSize(e.mutable_attr());
    return reply;
  }
  Result<pb::StatFsReply> StatFs(const Caller& c) override { return Meta(c)->StatFs(); }
  Status Access(const Caller& c, uint64_t inode, uint32_t mask) override {
    return Meta(c)->Access(inode, mask);
  }
  Result<std::string> GetXattr(const Caller& c, uint64_t inode, const std::string& name) override {
    return Meta(c)->GetXattr(inode, name);
  }
  Status SetXattr(const Caller& c, uint64_t inode, const std::string& name,
                  const std::string& value, uint32_t flags) override {
    return Meta(c)->SetXattr(inode, name, value, flags);
  }
  Result<std::vector<std::string>> ListXattr(const Caller& c, uint64_t inode) override {
    return Meta(c)->ListXattr(inode);
  }
  Status RemoveXattr(const Caller& c, uint64_t inode, const std::string& name) override {
    return Meta(c)->RemoveXattr(inode, name);
  }

  Result<OpenResult> OpenFile(const Caller& c, uint64_t inode, int flags) override;
  Result<OpenResult> CreateFile(const Caller& c, uint64_t parent, const std::string& name,
                                uint32_t mode, int flags) override;
  Result<std::string> Read(uint64_t handle, uint64_t offset, uint64_t size) override;
  Result<uint64_t> Write(uint64_t handle, uint64_t offset, std::string_view data) override;
  Status Flush(uint64_t handle) override;
  Status Release(uint64_t handle) override;
  Status Allocate(uint64_t handle, uint64_t offset, uint64_t length) override;
  Status SetLock(uint64_t handle, pb::LockRange lock, bool wait, CallCanceller* cancel) override;
  Result<std::optional<pb::LockRange>> GetLock(uint64_t handle, pb::LockRange lock) override;
  Status ReleaseLocks(uint64_t handle, pb::LockKind kind, uint64_t owner) override;
  uint64_t lock_session() const override { return locks_.current(); }

  void SetInvalidationHandler(InvalidationHandler handler) override {
    std::lock_guard lock(watch_mu_);
    on_invalidate_ = std::move(handler);
  }
  ~FileSystemImpl() override {
    if (watch_) watch_->Stop();
  }

  FileSystemStats stats() const override {
    FileSystemStats s;
    s.chunk_reads = chunk_reads_;
    s.chunk_read_bytes = chunk_read_bytes_;
    s.chunk_writes = chunk_writes_;
    s.chain_retries = chain_retries_;
    s.cache_hits = cache_hits_;
    s.cache_misses = cache_misses_;
    return s;
  }
  const std::string& cluster_id() const override { return cluster_id_; }
  uint64_t chunk_size() const override { return chunk_size_; }

 private:
  MetaPool::Lease Meta(const Caller& c) { return meta_.Acquire(c.uid, c.gid, c.groups); }
  std::shared_ptr<struct OpenFile> Handle(uint64_t handle);
  // SESSION_EXPIRED if `f` took locks in a lock session that lapsed.
  // REQUIRES: f.mu held.
  // May renew the lock session first (LockClient::Confirm).
  Status CheckLocksHeld(const struct OpenFile& f);
  // The open file `handle` for a lock call, its locks not lost; sets
  // lock->lock_session to this mount's session (opened if need be).
  Result<std::shared_ptr<struct OpenFile>> LockingHandle(uint64_t handle, pb::LockRange* lock);
  uint64_t AddHandle(std::shared_ptr<struct OpenFile> f, const pb::InodeAttr& attr,
                     bool* keep_cache);
  // A handle on the file `attr` describes, opened with `flags` by `c`.
  OpenResult NewHandle(const Caller& c, const pb::InodeAttr& attr, int flags);
  // REQUIRES: f->mu held. The handle now holds uncommitted writes.
  static void MarkWrote(struct OpenFile* f) {
    if (!f->wrote) f->shared->writers++;
    f->wrote = true;
  }
  // Sends what the other handles of f's inode on this mount have buffered,
  // so that f reads their bytes (writes are visible to every descriptor
  // at once, as on a local file system). REQUIRES: f->mu not held.
  void FlushOtherWriters(struct OpenFile* f);
  // An entry about to be unlinked or renamed over whose file is open here
  // is renamed to a hidden name instead (as NFS clients do), and unlinked
  // when its last handle here closes, so the open descriptors keep
  // reading and writing it (POSIX). True if it was hidden.
  Result<bool> HideIfOpen(const Caller& c, uint64_t parent, const std::string& name);
  // A change another mount made (watch stream): drop what this mount
  // caches of it, then tell the kernel through the handler.
  void Invalidate(const pb::WatchEvent& event);
  // An open handle that wrote past the committed size shows its own size.
  void OverlayOpenSize(pb::InodeAttr* attr);
  // Keeps a getattr's answer as the newest known attributes of an inode
  // open here (for OpenButRemoved).
  void RememberAttr(const pb::InodeAttr& attr);
  // Another mount removed `inode`, which is open here: its last known
  // attributes with no links, as a local file system answers fstat on an
  // unlinked open file. Without it, the kernel's permission check right
  // after a create (a GETATTR) fails when another mount unlinks the new
  // file at once, and the open(O_CREAT) fails or, retried by the kernel on
  // ESTALE, creates the file a second time. nullopt if it is not open here.
  std::optional<pb::InodeAttr> OpenButRemoved(uint64_t inode);

  // Write path. REQUIRES: `lock` holds f->mu (waits release it).
  // Starts sending the buffer in pieces; errors land in f->deferred.
  void SendBuffer(const std::shared_ptr<struct OpenFile>& f, std::unique_lock<std::mutex>& lock);
  // Waits until no piece of `f` is in flight; returns f->deferred.
  Status WaitLanded(struct OpenFile* f, std::unique_lock<std::mutex>& lock);
  // Sends one piece down its chunk's chain, replacing failed replicas.
  // Called without f->mu.
  Status SendPiece(struct OpenFile* f, uint64_t offset, std::string_view data);
  // The same with f->mu held (released during the chain call); `sync`: the
  // replicas make the chunk durable with the write.
  Status SendPieceLocked(struct OpenFile* f, uint64_t offset, std::string_view data,
                         std::unique_lock<std::mutex>& lock, bool sync);
  Status SyncAndCommit(const std::shared_ptr<struct OpenFile>& f,
                       std::unique_lock<std::mutex>& lock);
  // The chunk at `index` ready for writing: allocated, created on its chain.
  // REQUIRES: `lock` holds f->mu.
  Result<pb::ChunkLocation> WriteChunk(struct OpenFile* f, uint64_t index,
                                       std::unique_lock<std::mutex>& lock);
  // Drops `failed` from the chunk's chain through the meta leader and moves
  // the survivors to the new version. Returns the new location.
  Result<pb::ChunkLocation> ReplaceChain(struct OpenFile* f, const pb::ChunkLocation& old,
                                         uint64_t failed);
  // Runs op(location, &failed_node) on chunk `index` of `f` until it
  // succeeds. STALE_VERSION (repair or another writer moved the chunk on)
  // takes the current chain from the meta leader, after a short wait when
  // it has not moved yet (its head is still switching versions); a failed
  // replica is dropped (ReplaceChain). REQUIRES: `lock` holds f->mu; it is
  // released while `op` runs if `unlock_for_op`.
  template <class Op>
  Status OnChain(struct OpenFile* f, uint64_t index, pb::ChunkLocation* loc,
                 std::unique_lock<std::mutex>& lock, bool unlock_for_op, Op op);

  // Read path.
  Result<std::string> ReadRange(struct OpenFile* f, uint64_t offset, uint64_t length,
                                bool use_cache);
  Result<std::optional<pb::ChunkLocation>> ReadChunk(struct OpenFile* f, uint64_t index,
                                                     bool refresh);
  // Reads from the first replica of `loc` that answers. `stale_seen`: some
  // replica answered STALE_VERSION on the way (the chain may have moved on
  // without the one that answered).
  Result<std::string> FetchFromReplicas(const pb::ChunkLocation& loc, uint64_t offset,
                                        uint64_t length, bool* stale_seen);
  // Puts the whole blocks of `data`, read at `offset` of `inode` (at
  // `data_version`, `file_size` bytes long), into the cache.
  void CacheBlocks(uint64_t inode, uint64_t data_version, uint64_t file_size, uint64_t offset,
                   const std::string& data);
  // A sequential reader got up to `end`: keeps one readahead window in
  // flight ahead of it, in the background (REQUIRES: f->mu held).
  void ReadAheadFrom(struct OpenFile* f, uint64_t end);
  // Chunk servers a read could not reach (no answer within chunk_timeout,
  // connection refused) are asked last for kSuspectFor, or until one of
  // them answers again: one unreachable server then costs one timeout,
  // not one per read.
  bool Suspect(uint64_t node_id);
  void NoteReadOutcome(uint64_t node_id, const Status& s);

  const FileSystemOptions options_;
  MetaPool meta_;
  LockClient locks_;
  std::unique_ptr<ChunkClient> chunks_;  // made once the cluster id is known
  ThreadPool senders_{16};               // write-behind: pieces on their way
  std::unique_ptr<BlockCache> cache_;
  ThreadPool readers_{2};  // background readahead (stops before the cache and chunks_ go)
  std::string cluster_id_;
  uint64_t chunk_size_ = 0;

  std::mutex handles_mu_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<struct OpenFile>> handles_;
  std::unordered_map<uint64_t, uint64_t> seen_version_;  // inode -> data_version last opened
  std::unordered_map<uint64_t, std::weak_ptr<InodeState>> inode_states_;  // of open inodes
  struct Hidden {
    uint64_t parent;
    std::string name;
    Caller caller;
  };
  std::unordered_map<uint64_t, Hidden> hidden_;  // inode -> its hidden entry

  std::atomic<uint64_t> buffered_{0};
  std::mutex watch_mu_;
  InvalidationHandler on_invalidate_;   // guarded by watch_mu_
  std::unique_ptr<WatchClient> watch_;  // last: stopped before the rest goes
  std::atomic<uint64_t> chunk_reads_{0}, chunk_read_bytes_{0}, chunk_writes_{0}, chain_retries_{0},
      cache_hits_{0}, cache_misses_{0};
  std::mutex suspects_mu_;
  std::map<uint64_t, std::chrono::steady_clock::time_point> suspects_;  // node id → since
};

Status FileSystemImpl::Init() {
  // The first call finds a leader and learns who the cluster is.
  ASSIGN_OR_RETURN(pb::StatFsReply fs, Meta(Caller{})->StatFs(), "connecting to the meta service");
  if (fs.cluster_id().empty() || fs.chunk_size() == 0) {
    return Status::Unavailable("the meta service has not formatted the cluster yet");
  }
  cluster_id_ = fs.cluster_id();
  chunk_size_ = fs.chunk_size();
  meta_.SetClusterId(cluster_id_);
  locks_.SetClusterId(cluster_id_);
  chunks_ = std::make_unique<ChunkClient>(ChunkClientOptions{cluster_id_, options_.chunk_timeout});
  BlockCacheOptions co;
  co.ram_bytes = options_.ram_cache;
  co.dir = options_.cache_dir;
  co.disk_bytes = options_.cache_size;
  co.cluster_id = cluster_id_;
  ASSIGN_OR_RETURN(cache_, BlockCache::Open(co), "opening the block cache");
  if (options_.watch) {
    WatchClientOptions wo;
    wo.servers = options_.meta;
    wo.cluster_id = cluster_id_;
    wo.own_sessions = meta_.session_ids();
    watch_ = std::make_unique<WatchClient>(
        wo, [this](const pb::WatchEvent& event) { Invalidate(event); });
  }
  return Status::Ok();
}

void FileSystemImpl::Invalidate(const pb::WatchEvent& event) {
  {
    std::lock_guard lock(handles_mu_);
    for (uint64_t inode : event.inodes())
      seen_version_.erase(inode);  // the next open must not keep the kernel's pages
    if (event.resync()) seen_version_.clear();
  }
  for (uint64_t inode : event.inodes())
    cache_->Invalidate(inode);
  std::lock_guard lock(watch_mu_);
  if (on_invalidate_) on_invalidate_(event);
}

std::shared_ptr<OpenFile> FileSystemImpl::Handle(uint64_t handle) {
  std::lock_guard lock(handles_mu_);
  auto it = handles_.find(handle);
  return it == handles_.end() ? nullptr : it->second;
}

uint64_t FileSystemImpl::AddHandle(std::shared_ptr<struct OpenFile> f, const pb::InodeAttr& attr,
                                   bool* keep_cache) {
  f->size = attr.size();
  f->data_version = attr.data_version();
  std::lock_guard lock(handles_mu_);
  std::shared_ptr<InodeState>& state = f->shared;
  state = inode_states_[attr.inode()].lock();
  if (!state) {
    state = std::make_shared<InodeState>();
    state->size = attr.size();
    inode_states_[attr.inode()] = state;
  } else if (state->writers == 0) {
    state->size = attr.size();  // nothing uncommitted here: the committed size is the size
  }
  state->attr = attr;
  f->size = std::max<uint64_t>(f->size, state->size);
  auto [it, fresh] = seen_version_.try_emplace(attr.inode(), attr.data_version());
  *keep_cache = !fresh && it->second == attr.data_version();
  it->second = attr.data_version();
  uint64_t h = next_handle_++;
  handles_[h] = std::move(f);
  return h;
}

void FileSystemImpl::OverlayOpenSize(pb::InodeAttr* attr) {
  std::lock_guard lock(handles_mu_);
  // A hidden entry is not a link the application made (HideIfOpen).
  if (hidden_.count(attr->inode()) && attr->nlink() > 0) attr->set_nlink(attr->nlink() - 1);
  auto it = inode_states_.find(attr->inode());
  if (it == inode_states_.end()) return;
  std::shared_ptr<InodeState> state = it->second.lock();
  if (state && state->writers > 0 && state->size > attr->size()) attr->set_size(state->size);
}

void FileSystemImpl::RememberAttr(const pb::InodeAttr& attr) {
  std::lock_guard lock(handles_mu_);
  auto it = inode_states_.find(attr.inode());
  if (it == inode_states_.end()) return;
  if (std::shared_ptr<InodeState> state = it->second.lock()) state->attr = attr;
}

std::optional<pb::InodeAttr> FileSystemImpl::OpenButRemoved(uint64_t inode) {
  std::lock_guard lock(handles_mu_);
  auto it = inode_states_.find(inode);
  if (it == inode_states_.end()) return std::nullopt;
  std::shared_ptr<InodeState> state = it->second.lock();
  if (!state) return std::nullopt;
  pb::InodeAttr attr = state->attr;
  attr.set_nlink(0);
  if (state->writers > 0) attr.set_size(std::max<uint64_t>(attr.size(), state->size));
  return attr;
}

void FileSystemImpl::FlushOtherWriters(struct OpenFile* f) {
  std::vector<std::shared_ptr<struct OpenFile>> others;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [h, g] : handles_)
      if (g->inode == f->inode && g.get() != f) others.push_back(g);
  }
  for (auto& g : others) {
    std::unique_lock lock(g->mu);
    if (g->buffer.empty() && g->in_flight.empty()) continue;
    SendBuffer(g, lock);
    // A failure stays with the writer's handle (reported at its close).
    (void)WaitLanded(g.get(), lock);
  }
}

Result<FileSystem::OpenResult> FileSystemImpl::OpenFile(const Caller& c, uint64_t inode,
                                                        int flags) {
  uint32_t mask = 0;
  int acc = flags & O_ACCMODE;
  if (acc == O_RDONLY || acc == O_RDWR) mask |= 4;
  if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC)) mask |= 2;
  ASSIGN_OR_RETURN(pb::InodeAttr attr, Meta(c)->GetAttr(inode, mask));
  if (attr.type() == pb::FILE_TYPE_DIRECTORY) return Status::IsADirectory("open of a directory");
  if ((flags & O_TRUNC) && acc != O_RDONLY && attr.size() != 0) {
    pb::SetAttrRequest req;
    req.set_inode(inode);
    req.set_valid(kSetAttrSize);
    req.set_size(0);
    ASSIGN_OR_RETURN(attr, SetAttr(c, req));
  }
  return NewHandle(c, attr, flags);
}

Result<FileSystem::OpenResult> FileSystemImpl::CreateFile(const Caller& c, uint64_t parent,
                                                          const std::string& name, uint32_t mode,
                                                          int flags) {
  ASSIGN_OR_RETURN(pb::InodeAttr attr, Meta(c)->Create(parent, name, pb::FILE_TYPE_REGULAR, mode,
                                                       (flags & O_EXCL) != 0));
  if ((flags & O_TRUNC) && attr.size() != 0) {
    // An existing file opened with O_CREAT|O_TRUNC.
    return OpenFile(c, attr.inode(), flags);
  }
  // The creator may write whatever the new mode says (open(2) semantics).
  return NewHandle(c, attr, flags);
}

FileSystem::OpenResult FileSystemImpl::NewHandle(const Caller& c, const pb::InodeAttr& attr,
                                                 int flags) {
  auto f = std::make_shared<struct OpenFile>();
  f->inode = attr.inode();
  f->flags = flags;
  f->caller = c;
  OpenResult out;
  out.attr = attr;
  out.handle = AddHandle(std::move(f), attr, &out.keep_cache);
  return out;
}

// ---------------------------------------------------------------------------
// Writes

Result<uint64_t> FileSystemImpl::Write(uint64_t handle, uint64_t offset, std::string_view data) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  std::unique_lock lock(f->mu);
  if (!f->deferred.ok()) return f->deferred;
  RETURN_IF_ERROR(CheckLocksHeld(*f));
  if (f->flags & O_APPEND) {
    // At the end of the file as every handle of this mount made it. Counted
    // as a writer first: a reader that sees the new size flushes this
    // buffer before reading (Read).
    MarkWrote(f.get());
    std::lock_guard append(f->shared->append_mu);
    offset = std::max(f->size, f->shared->size.load());
    f->shared->GrowTo(offset + data.size());
  }
  // The meta service's bound (meta/ops/validate.h); checked here without
  // overflow so a wrapped offset never reaches a chunk server.
  constexpr uint64_t kMaxFileSize = uint64_t{1} << 62;
  if (offset > kMaxFileSize || data.size() > kMaxFileSize - offset) {
    return Status::FileTooLarge("write past the largest file");
  }
  const bool contiguous = !f->buffer.empty() && offset == f->buffer_offset + f->buffer.size();
  if (!f->buffer.empty() && !contiguous) SendBuffer(f, lock);
  if (f->buffer.empty()) f->buffer_offset = offset;
  f->buffer.append(data);
  buffered_ += data.size();
  MarkWrote(f.get());
  f->size = std::max(f->size, offset + data.size());
  f->shared->GrowTo(f->size);
  if (f->buffer.size() >= options_.write_piece || buffered_ > options_.writeback_buffer) {
    SendBuffer(f, lock);
  }
  if (!f->deferred.ok()) return f->deferred;
  return data.size();
}

void FileSystemImpl::SendBuffer(const std::shared_ptr<struct OpenFile>& f,
                                std::unique_lock<std::mutex>& lock) {
  auto buffer = std::make_shared<std::string>(std::move(f->buffer));
  f->buffer.clear();
  uint64_t offset = f->buffer_offset;
  size_t at = 0;
  while (at < buffer->size()) {
    // One piece: at most write_piece bytes, never across a chunk boundary.
    uint64_t room = chunk_size_ - offset % chunk_size_;
    size_t n = std::min<uint64_t>({buffer->size() - at, room, options_.write_piece});
    const uint64_t begin = offset, end = offset + n;
    auto overlaps = [&] {
      for (auto [b, e] : f->in_flight)
        if (b < end && begin < e) return true;
      return false;
    };
    f->landed.wait(lock, [&] { return f->in_flight.size() < kPiecesInFlight && !overlaps(); });
    f->in_flight.emplace_back(begin, end);
    senders_.Submit([this, f, buffer, at, n, begin, end] {
      Status s = SendPiece(f.get(), begin, std::string_view(*buffer).substr(at, n));
      std::lock_guard done(f->mu);
      if (!s.ok() && f->deferred.ok()) f->deferred = s;
      auto it = std::find(f->in_flight.begin(), f->in_flight.end(), std::make_pair(begin, end));
      f->in_flight.erase(it);
      buffered_ -= n;
      f->landed.notify_all();
    });
    offset += n;
    at += n;
  }
}

Status FileSystemImpl::WaitLanded(struct OpenFile* f, std::unique_lock<std::mutex>& lock) {
  f->landed.wait(lock, [&] { return f->in_flight.empty(); });
  return f->deferred;
}

Result<pb::ChunkLocation> FileSystemImpl::WriteChunk(struct OpenFile* f, uint64_t index,
                                                     std::unique_lock<std::mutex>& lock) {
  if (f->created.count(index)) return f->chunks.at(index);
  ASSIGN_OR_RETURN(pb::ChunkLocation loc, Meta(f->caller)->AllocateChunk(f->inode, index));
  // New or not, make sure every replica of the chain has it (idempotent).
  RETURN_IF_ERROR(OnChain(f, index, &loc, lock, /*unlock_for_op=*/false,
                          [&](const pb::ChunkLocation& at, uint64_t* failed) {
                            // Not on joiners: repair copies them whole, and
                            // an empty replica there could pass for a copy.
                            pb::ChunkLocation members = at;
                            members.clear_replicas();
                            for (const pb::ChunkReplica& r : at.replicas())
                              if (!r.joining()) *members.add_replicas() = r;
                            return chunks_->Create(members, failed);
                          }),
                  "creating chunk " << index << " of inode " << f->inode);
  f->chunks[index] = loc;
  f->shared->Publish(index, loc);
  f->created.insert(index);
  return loc;
}

Result<pb::ChunkLocation> FileSystemImpl::ReplaceChain(struct OpenFile* f,
                                                       const pb::ChunkLocation& old,
                                                       uint64_t failed) {
  chain_retries_++;
  DFS_LOG(WARN) << "chunk " << old.chunk_id() << " v" << old.version() << ": replica " << failed
                << " failed; asking for a new chain";
  ASSIGN_OR_RETURN(pb::ChunkLocation loc,
                   Meta(f->caller)->AllocateChunk(f->inode, old.index(), {failed}));
  if (loc.version() != old.version()) {
    // The survivors move to the new version, so the dropped replica is
    // recognisably stale when it comes back.
    for (const pb::ChunkReplica& r : loc.replicas()) {
      Status s = chunks_->SetVersion(r, loc.chunk_id(), old.version(), loc.version());
      if (!s.ok()) DFS_LOG(WARN) << "moving to v" << loc.version() << ": " << s;
    }
  }
  f->chunks[old.index()] = loc;
  f->shared->Publish(old.index(), loc);
  return loc;
}

Status FileSystemImpl::SendPiece(struct OpenFile* f, uint64_t offset, std::string_view data) {
  std::unique_lock lock(f->mu);
  return SendPieceLocked(f, offset, data, lock, /*sync=*/false);
}

Status FileSystemImpl::SendPieceLocked(struct OpenFile* f, uint64_t offset, std::string_view data,
                                       std::unique_lock<std::mutex>& lock, bool sync) {
  const uint64_t index = offset / chunk_size_;
  ASSIGN_OR_RETURN(pb::ChunkLocation loc, WriteChunk(f, index, lock));
  RETURN_IF_ERROR(OnChain(f, index, &loc, lock, /*unlock_for_op=*/true,
                          [&](const pb::ChunkLocation& at, uint64_t* failed) {
                            chunk_writes_++;
                            return chunks_->Write(at, offset % chunk_size_, data, failed, sync);
                          }),
                  "writing " << data.size() << " bytes at " << offset << " of inode " << f->inode);
  // Synced with the write: durable on the chain that took it.
  if (!sync) f->dirty.insert(index);
  return Status::Ok();
}

template <class Op>
Status FileSystemImpl::OnChain(struct OpenFile* f, uint64_t index, pb::ChunkLocation* loc,
                               std::unique_lock<std::mutex>& lock, bool unlock_for_op, Op op) {
  int failures = 0, stale = 0;
  while (true) {
    uint64_t failed = 0;
    if (unlock_for_op) lock.unlock();
    Status s = op(*loc, &failed);
    if (unlock_for_op) lock.lock();
    if (s.ok()) return s;
    if (s.code() == ErrorCode::STALE_VERSION && stale < kStaleAttempts) {
      const uint64_t before = loc->version();
      ASSIGN_OR_RETURN(*loc, Meta(f->caller)->AllocateChunk(f->inode, index));
      f->chunks[index] = *loc;
      f->shared->Publish(index, *loc);
      if (loc->version() == before) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 << stale, 500)));
      }
      stale++;
      continue;
    }
    if (failed == 0 || s.code() == ErrorCode::INVALID_ARGUMENT || ++failures > kChainAttempts) {
      return s;
    }
    ASSIGN_OR_RETURN(*loc, ReplaceChain(f, *loc, failed));
  }
}

Status FileSystemImpl::SyncAndCommit(const std::shared_ptr<struct OpenFile>& f,
                                     std::unique_lock<std::mutex>& lock) {
  // The common small file: everything left is one piece of one chunk, and
  // nothing else of the file is on its way or unsynced. Its write carries
  // the sync: one trip down the chain instead of two.
  const uint64_t index = f->buffer_offset / chunk_size_;
  if (!f->buffer.empty() && f->in_flight.empty() && f->deferred.ok() &&
      f->buffer.size() <= options_.write_piece &&
      (f->buffer_offset + f->buffer.size() - 1) / chunk_size_ == index &&
      (f->dirty.empty() || (f->dirty.size() == 1 && *f->dirty.begin() == index))) {
    std::string piece = std::move(f->buffer);
    f->buffer.clear();
    const auto range = std::make_pair(f->buffer_offset, f->buffer_offset + piece.size());
    f->in_flight.push_back(range);  // others wait for it while the lock is released
    Status s = SendPieceLocked(f.get(), range.first, piece, lock, /*sync=*/true);
    f->in_flight.erase(std::find(f->in_flight.begin(), f->in_flight.end(), range));
    buffered_ -= piece.size();
    f->landed.notify_all();
    if (!s.ok()) return s;
    f->dirty.erase(index);
  }
  SendBuffer(f, lock);
  if (Status s = WaitLanded(f.get(), lock); !s.ok()) {
    f->deferred = Status::Ok();  // reported once, as close(2) does
    return s;
  }
  for (uint64_t index : f->dirty) {
    pb::ChunkLocation loc = f->chunks.at(index);
    RETURN_IF_ERROR(OnChain(f.get(), index, &loc, lock, /*unlock_for_op=*/false,
                            [&](const pb::ChunkLocation& at, uint64_t* failed) {
                              return chunks_->Sync(at, failed);
                            }),
                    "syncing chunk " << index << " of inode " << f->inode);
  }
  f->dirty.clear();
  if (!f->wrote) return Status::Ok();
  ASSIGN_OR_RETURN(pb::InodeAttr attr, Meta(f->caller)->CommitWrite(f->inode, f->size, Now()),
                   "committing inode " << f->inode);
  f->wrote = false;
  f->shared->writers--;
  f->size = attr.size();
  f->shared->GrowTo(attr.size());
  f->data_version = attr.data_version();
  std::lock_guard handles(handles_mu_);
  seen_version_[f->inode] = attr.data_version();
  return Status::Ok();
}

Status FileSystemImpl::Flush(uint64_t handle) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  std::unique_lock lock(f->mu);
  return SyncAndCommit(f, lock);
}

Status FileSystemImpl::Release(uint64_t handle) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  Status s;
  {
    std::unique_lock lock(f->mu);
    s = SyncAndCommit(f, lock);
    // A failed send leaves nothing buffered or in flight either way.
    f->landed.wait(lock, [&] { return f->in_flight.empty(); });
  }
  std::optional<Hidden> gone;
  {
    std::lock_guard lock(handles_mu_);
    handles_.erase(handle);
    bool last = true;
    for (auto& [h, g] : handles_)
      if (g->inode == f->inode) last = false;
    auto it = hidden_.find(f->inode);
    if (last && it != hidden_.end()) {
      gone = it->second;
      hidden_.erase(it);
    }
  }
  if (gone) {
    Status u = Meta(gone->caller)->Unlink(gone->parent, gone->name);
    if (!u.ok()) DFS_LOG(WARN) << "removing hidden " << gone->name << ": " << u;
  }
  return s;
}

Result<bool> FileSystemImpl::HideIfOpen(const Caller& c, uint64_t parent, const std::string& name) {
  {
    std::lock_guard lock(handles_mu_);
    if (handles_.empty()) return false;
  }
  Result<pb::InodeAttr> attr = Meta(c)->Lookup(parent, name);
  if (!attr.ok() || attr->type() != pb::FILE_TYPE_REGULAR) return false;  // the call will tell
  std::string hidden_name;
  {
    std::lock_guard lock(handles_mu_);
    bool open = false;
    for (auto& [h, g] : handles_)
      if (g->inode == attr->inode()) open = true;
    if (!open || hidden_.count(attr->inode())) return false;
    hidden_name = ".dfs-open-" + std::to_string(attr->inode()) + "-" + std::to_string(next_handle_);
  }
  RETURN_IF_ERROR(Meta(c)->Rename(parent, name, parent, hidden_name, /*RENAME_NOREPLACE=*/1));
  bool still_open = false;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [h, g] : handles_)
      if (g->inode == attr->inode()) still_open = true;
    if (still_open) hidden_[attr->inode()] = Hidden{parent, hidden_name, c};
  }
  // The last descriptor closed while the rename was on its way (chaos
  // seed 2 left such a file behind): nobody will unlink it at close.
  if (!still_open) {
    Status s = Meta(c)->Unlink(parent, hidden_name);
    DFS_LOG_IF(WARN, !s.ok()) << "removing hidden " << hidden_name << ": " << s;
  }
  return true;
}

Status FileSystemImpl::Allocate(uint64_t handle, uint64_t offset, uint64_t length) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  std::lock_guard lock(f->mu);
  // Space is not reserved (chunk servers allocate on write); the size grows.
  if (offset + length <= f->size) return Status::Ok();
  f->size = offset + length;
  f->shared->GrowTo(f->size);
  MarkWrote(f.get());
  return Status::Ok();
}

Result<pb::InodeAttr> FileSystemImpl::SetAttr(const Caller& c, pb::SetAttrRequest req) {
  const bool resize = (req.valid() & kSetAttrSize) != 0;
  std::vector<std::shared_ptr<struct OpenFile>> open;
  {
    std::lock_guard lock(handles_mu_);
    for (auto& [h, f] : handles_)
      if (f->inode == req.inode()) open.push_back(f);
  }
  if (resize) {
    // Buffered writes land before the cut, not after it.
    for (auto& f : open) {
      std::unique_lock lock(f->mu);
      RETURN_IF_ERROR(SyncAndCommit(f, lock));
    }
  }
  ASSIGN_OR_RETURN(pb::InodeAttr attr, Meta(c)->SetAttr(req));
  if (resize) {
    // The chunk holding the new end keeps bytes past it on its replicas:
    // cut them, so that a later extension reads zeros there.
    uint64_t in_chunk = req.size() % chunk_size_;
    if (in_chunk != 0) {
      ASSIGN_OR_RETURN(pb::GetChunksReply got,
                       Meta(c)->GetChunks(req.inode(), req.size() / chunk_size_, 1));
      for (const pb::ChunkLocation& loc : got.chunks()) {
        uint64_t failed = 0;
        RETURN_IF_ERROR(chunks_->Truncate(loc, in_chunk, &failed),
                        "cutting chunk " << loc.chunk_id() << " at " << in_chunk);
      }
    }
    for (auto& f : open) {
      std::lock_guard lock(f->mu);
      f->size = attr.size();
      f->shared->size = attr.size();
      f->shared->ForgetChains();
      f->chunks.clear();
      f->created.clear();
      f->data_version = attr.data_version();
    }
    cache_->Invalidate(req.inode());
  } else {
    // A chmod or utimens between write and close: the server's size does
    // not count this mount's buffered writes yet, and the kernel caches
    // the size this returns.
    OverlayOpenSize(&attr);
  }
  return attr;
}

// ---------------------------------------------------------------------------
// Reads

Result<std::optional<pb::ChunkLocation>> FileSystemImpl::ReadChunk(struct OpenFile* f,
                                                                   uint64_t index, bool refresh) {
  if (!refresh) {
    auto it = f->chunks.find(index);
    if (it != f->chunks.end()) {
      f->shared->Newest(index, &it->second);  // another handle here moved it on
      return std::optional<pb::ChunkLocation>(it->second);
    }
  }
  // One call fetches the locations of a few chunks ahead too.
  ASSIGN_OR_RETURN(pb::GetChunksReply got, Meta(f->caller)->GetChunks(f->inode, index, 8));
  std::optional<pb::ChunkLocation> out;
  for (const pb::ChunkLocation& loc : got.chunks()) {
    // A chunk this handle created keeps the chain it writes on, unless the
    // leader's is newer (repair moved it on).
    auto mine = f->chunks.find(loc.index());
    if (!f->created.count(loc.index()) || mine == f->chunks.end() ||
        loc.version() > mine->second.version()) {
      f->chunks[loc.index()] = loc;
    }
    if (loc.index() == index) {
      f->shared->Newest(index, &f->chunks[index]);
      out = f->chunks[index];
    }
  }
  return out;
}

Result<std::string> FileSystemImpl::FetchFromReplicas(const pb::ChunkLocation& loc, uint64_t offset,
                                                      uint64_t length, bool* stale_seen) {
  // Replicas in the mount's zone first, then the others in chain order,
  // and the ones a read could not reach lately after all of them. Never
  // from a replica still joining: it may not hold the data yet.
  std::vector<const pb::ChunkReplica*> order;
  for (const auto& r : loc.replicas())
    if (r.zone() == options_.zone && !r.joining()) order.push_back(&r);
  for (const auto& r : loc.replicas())
    if (r.zone() != options_.zone && !r.joining()) order.push_back(&r);
  std::stable_partition(order.begin(), order.end(),
                        [&](const pb::ChunkReplica* r) { return !Suspect(r->node_id()); });
  Status last = Status::Unavailable("chunk " + std::to_string(loc.chunk_id()) + " has no replicas");
  for (const pb::ChunkReplica* r : order) {
    chunk_reads_++;
    Result<std::string> got = chunks_->Read(*r, loc.chunk_id(), loc.version(), offset, length);
    NoteReadOutcome(r->node_id(), got.status());
    if (got.ok()) {
      chunk_read_bytes_ += got->size();
      return got;
    }
    // A stale version says the chain moved on: the answer that matters.
    if (got.status().code() == ErrorCode::STALE_VERSION) *stale_seen = true;
    if (last.code() != ErrorCode::STALE_VERSION) last = got.status();
    DFS_LOG(WARN) << "read of chunk " << loc.chunk_id() << ": " << last << "; trying another";
  }
  return last;
}

bool FileSystemImpl::Suspect(uint64_t node_id) {
  std::lock_guard lock(suspects_mu_);
  auto it = suspects_.find(node_id);
  if (it == suspects_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second < kSuspectFor) return true;
  suspects_.erase(it);
  return false;
}

void FileSystemImpl::NoteReadOutcome(uint64_t node_id, const Status& s) {
  const ErrorCode code = s.code();
  std::lock_guard lock(suspects_mu_);
  if (code == ErrorCode::UNAVAILABLE || code == ErrorCode::TIMEOUT) {
    auto [it, fresh] = suspects_.insert_or_assign(node_id, std::chrono::steady_clock::now());
    DFS_LOG_IF(WARN, fresh) << "chunk server " << node_id << " did not answer a read (" << s
                            << "): asked last for " << kSuspectFor.count() << " s";
  } else {
    suspects_.erase(node_id);  // it answered, even if only with an error
  }
}

Result<std::string> FileSystemImpl::ReadRange(struct OpenFile* f, uint64_t offset, uint64_t length,
                                              bool use_cache) {
  // REQUIRES: [offset, offset + length) inside one chunk and inside the file.
  const uint64_t index = offset / chunk_size_;
  for (int attempt = 0;; attempt++) {
    ASSIGN_OR_RETURN(std::optional<pb::ChunkLocation> loc, ReadChunk(f, index, attempt > 0));
    if (!loc) return std::string(length, '\0');  // a hole
    bool stale_seen = false;
    Result<std::string> got = FetchFromReplicas(*loc, offset % chunk_size_, length, &stale_seen);
    if (got.ok() && stale_seen && attempt < kStaleAttempts) {
      // Another replica is past this version: the one that answered may be
      // a member the chain dropped, at the old version without the writes
      // since (it reads what it lacks as zeros). Its bytes count only if
      // the leader still names this chain.
      ASSIGN_OR_RETURN(std::optional<pb::ChunkLocation> now, ReadChunk(f, index, true));
      if (!now || now->chunk_id() != loc->chunk_id() || now->version() != loc->version()) {
        continue;
      }
    }
    if (got.ok()) {
      if (use_cache) CacheBlocks(f->inode, f->data_version, f->size, offset, *got);
      return got;
    }
    // A chain changed under us (version, replicas): refresh once. While
    // repair moves a chunk to a new version its replicas switch a moment
    // after the meta leader: wait for them a little.
    const bool stale = got.status().code() == ErrorCode::STALE_VERSION;
    if (got.status().code() == ErrorCode::INVALID_ARGUMENT ||
        attempt >= (stale ? kStaleAttempts : 1)) {
      return got.status();
    }
    if (stale && attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 << attempt, 500)));
    }
  }
}

void FileSystemImpl::CacheBlocks(uint64_t inode, uint64_t data_version, uint64_t file_size,
                                 uint64_t offset, const std::string& data) {
  // Whole blocks only: a partial one would be taken for the block later.
  const uint64_t first = offset / kBlockSize;
  for (uint64_t b = 0; b * kBlockSize < data.size(); b++) {
    uint64_t n = std::min<uint64_t>(kBlockSize, data.size() - b * kBlockSize);
    if (n == kBlockSize || offset + b * kBlockSize + n == file_size) {
      cache_->Put(BlockKey{inode, data_version, first + b}, data.substr(b * kBlockSize, n));
    }
  }
}

void FileSystemImpl::ReadAheadFrom(struct OpenFile* f, uint64_t end) {
  if (options_.readahead == 0) return;
  if (f->prefetch && f->prefetch->Done()) f->prefetch.reset();
  if (f->prefetch) return;  // one window in flight at a time
  uint64_t start = std::max(f->read_ahead_to, end) / kBlockSize * kBlockSize;
  if (start >= f->size || start >= end + options_.readahead) return;  // far enough ahead
  const uint64_t chunk_end = (start / chunk_size_ + 1) * chunk_size_;
  const uint64_t stop = std::min({start + options_.readahead, chunk_end, f->size});
  // Blocks the cache holds already (a second reader of the file) need no fetch.
  while (start < stop && cache_->Contains({f->inode, f->data_version, start / kBlockSize}))
    start += kBlockSize;
  f->read_ahead_to = stop;
  if (start >= stop) return;
  Result<std::optional<pb::ChunkLocation>> loc = ReadChunk(f, start / chunk_size_, false);
  if (!loc.ok() || !loc->has_value()) return;  // errors and holes: the reader's own path
  auto p = std::make_shared<Prefetch>();
  p->start = start;
  p->end = stop;
  f->prefetch = p;
  // The task runs without f->mu: it takes copies of what it needs.
  readers_.Submit(
      [this, p, inode = f->inode, version = f->data_version, size = f->size, loc = **loc] {
        bool stale_seen = false;
        Result<std::string> got =
            FetchFromReplicas(loc, p->start % chunk_size_, p->end - p->start, &stale_seen);
        // After a stale answer the reader's own path checks the chain.
        if (got.ok() && !stale_seen) CacheBlocks(inode, version, size, p->start, *got);
        p->Finish();
      });
}

Result<std::string> FileSystemImpl::Read(uint64_t handle, uint64_t offset, uint64_t size) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  // The size the other handles here made, taken before their buffers are
  // sent: what they write after it may be on no replica yet, and would
  // read as zeros. (A write counts in `writers` before it grows the size.)
  uint64_t others_size = f->shared->size.load();
  if (f->shared->writers > 0) FlushOtherWriters(f.get());
  std::unique_lock lock(f->mu);
  if (!f->buffer.empty() || !f->in_flight.empty()) {
    // The handle reads its own writes: they must be on the replicas first.
    SendBuffer(f, lock);
    RETURN_IF_ERROR(WaitLanded(f.get(), lock));
  }
  // Writes of other handles here count (they were sent just above); a
  // truncation since counts too.
  others_size = std::min(others_size, f->shared->size.load());
  f->size = std::max(f->size, others_size);
  if (offset >= f->size) return std::string();
  const uint64_t end = std::min(f->size, offset + size);
  // Uncommitted data of this mount is not what data_version names.
  const bool use_cache = f->shared->writers == 0;
  const bool sequential = offset == f->last_read_end && offset != 0;
  f->last_read_end = end;

  std::string out;
  out.reserve(end - offset);
  uint64_t pos = offset;
  while (pos < end) {
    const uint64_t block = pos / kBlockSize;
    const uint64_t block_start = block * kBlockSize;
    if (use_cache) {
      if (std::optional<std::string> hit = cache_->Get({f->inode, f->data_version, block})) {
        cache_hits_++;
        uint64_t skip = pos - block_start;
        if (hit->size() > skip) {
          uint64_t n = std::min<uint64_t>(hit->size() - skip, end - pos);
          out.append(*hit, skip, n);
          pos += n;
          continue;
        }
      }
      // A background readahead brings this block: wait for it, once.
      if (std::shared_ptr<Prefetch> p = f->prefetch; p && p->Covers(pos)) {
        p->Wait();
        continue;
      }
      cache_misses_++;
    }
    // A miss: fetch whole blocks from here to the end of the request (plus
    // readahead for a sequential reader), never past the chunk or the file.
    uint64_t want_end = end;
    if (sequential) want_end = std::max(want_end, end + options_.readahead);
    const uint64_t chunk_end = (pos / chunk_size_ + 1) * chunk_size_;
    want_end = std::min({want_end, chunk_end, f->size});
    uint64_t fetch_end =
        std::min({(want_end + kBlockSize - 1) / kBlockSize * kBlockSize, chunk_end, f->size});
    ASSIGN_OR_RETURN(std::string got,
                     ReadRange(f.get(), block_start, fetch_end - block_start, use_cache));
    if (sequential) f->read_ahead_to = std::max(f->read_ahead_to, fetch_end);
    uint64_t n = std::min(end, fetch_end) - pos;
    out.append(got, pos - block_start, n);
    pos += n;
  }
  if (sequential && use_cache) ReadAheadFrom(f.get(), end);
  return out;
}

}  // namespace

Result<std::unique_ptr<FileSystem>> FileSystem::Open(FileSystemOptions options) {
  if (options.meta.empty()) return Status::InvalidArgument("no meta servers given");
  if (options.write_piece == 0 || options.write_piece > (8u << 20)) {
    return Status::InvalidArgument("write_piece must be 1 byte to 8 MiB");
  }
  MetaClientOptions mo;
  mo.servers = options.meta;
  mo.timeout = options.meta_timeout;
  auto fs = std::make_unique<FileSystemImpl>(std::move(options), mo);
  RETURN_IF_ERROR(fs->Init());
  return std::unique_ptr<FileSystem>(std::move(fs));
}

// ------------------------------------------------------------------- locks

Status FileSystemImpl::CheckLocksHeld(const struct OpenFile& f) {
  return f.lock_session == 0 ? Status::Ok() : locks_.Confirm(f.lock_session);
}

Result<std::shared_ptr<struct OpenFile>> FileSystemImpl::LockingHandle(uint64_t handle,
                                                                       pb::LockRange* lock) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  {
    std::lock_guard guard(f->mu);
    RETURN_IF_ERROR(CheckLocksHeld(*f));
  }
  ASSIGN_OR_RETURN(uint64_t session, locks_.Session(), "opening a lock session");
  lock->set_lock_session(session);
  return f;
}

Status FileSystemImpl::SetLock(uint64_t handle, pb::LockRange lock, bool wait,
                               CallCanceller* cancel) {
  ASSIGN_OR_RETURN(std::shared_ptr<struct OpenFile> f, LockingHandle(handle, &lock));
  Status s = locks_.Lock(f->inode, lock, wait, cancel);
  bool held_before;
  {
    std::lock_guard guard(f->mu);
    held_before = f->lock_session != 0;
  }
  if (s.code() == ErrorCode::SESSION_EXPIRED && !held_before) {
    // The session lapsed just now, but this handle held nothing in it:
    // nothing was lost, so try in a new one.
    ASSIGN_OR_RETURN(f, LockingHandle(handle, &lock));
    s = locks_.Lock(f->inode, lock, wait, cancel);
  }
  RETURN_IF_ERROR(s);
  if (lock.type() != pb::LOCK_TYPE_UNLOCK) {
    std::lock_guard guard(f->mu);
    f->lock_session = lock.lock_session();
  }
  return Status::Ok();
}

Result<std::optional<pb::LockRange>> FileSystemImpl::GetLock(uint64_t handle, pb::LockRange lock) {
  // The caller's own locks never conflict: tested as this mount's session.
  ASSIGN_OR_RETURN(std::shared_ptr<struct OpenFile> f, LockingHandle(handle, &lock));
  return locks_.Test(f->inode, lock);
}

Status FileSystemImpl::ReleaseLocks(uint64_t handle, pb::LockKind kind, uint64_t owner) {
  std::shared_ptr<struct OpenFile> f = Handle(handle);
  if (!f) return Status::InvalidArgument("no open file " + std::to_string(handle));
  return locks_.Release(f->inode, kind, owner);
}

}  // namespace dfs::client
