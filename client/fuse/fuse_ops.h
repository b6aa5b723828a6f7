// FuseMount: the FUSE low-level operations of dfs-mount, each a thin
// translation onto libdfsclient's FileSystem (DESIGN §5): the caller's
// uid/gid/groups from the request, inode numbers as they are, every Status
// answered with its errno (common/status.h). The FileSystem does the work
// (permissions, caching, write-behind, retries); this layer keeps only
// what the kernel protocol needs: open directory listings, the set of open
// file handles, the kernel cache timeouts, and passing other mounts'
// changes on to the kernel.
//
// What it tells the kernel (init): 1 MiB reads and writes, readdirplus
// always, atomic O_TRUNC, symlinks cached, no writeback cache (the client
// buffers writes itself).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "client/file_system.h"

struct fuse_lowlevel_ops;
struct fuse_session;

namespace dfs::client {

struct FuseMountOptions {
  std::chrono::duration<double> attr_timeout{1.0};   // kernel attribute cache
  std::chrono::duration<double> entry_timeout{1.0};  // kernel name cache, also negative entries
};

class FuseMount {
 public:
  // REQUIRES: `fs` outlives this object.
  FuseMount(FileSystem* fs, FuseMountOptions options);
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // The operation table for fuse_session_new, whose userdata must be this.
  static const fuse_lowlevel_ops* Ops();

  // The session, for notifications to the kernel: set before the loop runs
  // (starts the notifier thread), nullptr before the session is destroyed
  // (stops it; events not yet sent are dropped).
  void SetSession(fuse_session* session);

  // Releases every file handle still open: at unmount the kernel may drop
  // RELEASE requests it has not sent yet. Errors are logged.
  void ReleaseAll();

  // File handles open now.
  size_t open_files() const;

  // What another mount changed (FileSystem's InvalidationHandler, DESIGN §5
  // push invalidation), passed on to the kernel: attributes and pages of
  // each inode, and each (parent, name) entry, positive or negative, are
  // dropped. Returns at once: a notifier thread talks to the kernel, which
  // may have to wait for a request in flight on the same directory or file
  // (e.g. a create holding the directory's lock), and that request may in
  // turn wait at the meta leader for this very event to be acknowledged.
  // A resync cannot be passed on (the kernel has no "drop everything"):
  // its caches then age out within attr_timeout / entry_timeout.
  void ForwardInvalidation(const pb::WatchEvent& event);

 private:
  friend struct FuseOps;  // the callbacks, in fuse_ops.cc

  void RunNotifier();
  void InvalidateInode(fuse_session* se, uint64_t inode);
  void InvalidateEntry(fuse_session* se, uint64_t parent, const std::string& name);
  void TrackHandle(uint64_t handle);
  void UntrackHandle(uint64_t handle);
  // Remembers the parent of a directory, for ".." in listings.
  void NoteParent(uint64_t parent, const pb::InodeAttr& attr);
  uint64_t ParentOf(uint64_t dir) const;
  // Blocking lock waits, by id, so that the kernel's INTERRUPT (which may
  // come after the wait ended) finds its wait or nothing.
  uint64_t AddWait(std::shared_ptr<CallCanceller> cancel);
  void CancelWait(uint64_t id);
  void RemoveWait(uint64_t id);

  FileSystem* const fs_;
  const FuseMountOptions options_;
  std::atomic<fuse_session*> session_{nullptr};

  std::mutex notify_mu_;  // the notifier's queue
  std::condition_variable notify_cv_;
  std::deque<pb::WatchEvent> pending_;
  bool stop_notifier_ = false;
  std::thread notifier_;

  mutable std::mutex mu_;
  std::unordered_set<uint64_t> open_handles_;
  std::unordered_map<uint64_t, uint64_t> dir_parent_;
  std::mutex waits_mu_;
  uint64_t next_wait_ = 0;
  std::unordered_map<uint64_t, std::shared_ptr<CallCanceller>> waits_;
};

}  // namespace dfs::client
