#include "client/fuse/fuse_ops.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/logging.h"

namespace dfs::client {

namespace {

// The largest read and write, and the kernel's readahead (DESIGN §5).
constexpr unsigned kMaxIo = 1 << 20;
// Entries per ReadDir call to the meta service.
constexpr uint32_t kDirPage = 1024;
// statfs: the block size reported, and the free inodes (dfs has no inode table).
constexpr uint64_t kStatFsBlock = 4096;
constexpr uint64_t kFreeInodes = 1ull << 32;
constexpr uint64_t kRootInode = FUSE_ROOT_ID;
// Read on every write by the kernel (file_remove_privs); see GetXattr.
constexpr const char* kCapabilityXattr = "security.capability";

// One open directory: a window of its listing. Offsets the kernel sees: 0
// is ".", 1 is "..", 2 + i is the i-th entry of the listing in name order;
// the kernel asks for the entries from an offset on.
struct DirHandle {
  std::mutex mu;
  uint64_t inode = 0;
  uint64_t parent = 0;
  uint64_t first = 2;                 // the offset of entries[0]
  std::vector<pb::DirEntry> entries;  // fetched, from `first` on
  std::string cookie;                 // the last name fetched; "" before the first page
  bool eof = false;
  bool fresh = true;  // holds the listing's start fetched by opendir, not yet served

  void Restart() {
    first = 2;
    entries.clear();
    cookie.clear();
    eof = false;
  }
  // Forgets the entries before `offset`: the kernel reads forward.
  void DropBefore(uint64_t offset) {
    if (offset <= first) return;
    const size_t n = std::min<uint64_t>(offset - first, entries.size());
    entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(n));
    first += n;
  }
  Status FetchPage(FileSystem* fs, const Caller& caller) {
    ASSIGN_OR_RETURN(pb::ReadDirReply page, fs->ReadDir(caller, inode, cookie, kDirPage));
    if (page.entries_size() > 0) cookie = page.entries(page.entries_size() - 1).name();
    for (pb::DirEntry& e : *page.mutable_entries())
      entries.push_back(std::move(e));
    eof = page.eof() || page.entries_size() == 0;
    return Status::Ok();
  }
};

FuseMount* Self(fuse_req_t req) {
  return static_cast<FuseMount*>(fuse_req_userdata(req));
}

// The caller's credentials. Root passes every mode check, so its groups
// (read from /proc by libfuse) are not worth fetching.
Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller c;
  c.uid = ctx->uid;
  c.gid = ctx->gid;
  if (c.uid == 0) return c;
  std::vector<gid_t> groups(32);
  int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
  if (n > static_cast<int>(groups.size())) {
    groups.resize(n);
    n = fuse_req_getgroups(req, n, groups.data());
  }
  for (int i = 0; i < std::min<int>(n, static_cast<int>(groups.size())); i++)
    c.groups.push_back(groups[i]);
  return c;
}

int Errno(const Status& s) {
  const int err = s.ToErrno();
  return err > 0 ? err : EIO;
}

void ReplyErrno(fuse_req_t req, int err) {
  fuse_reply_err(req, err);
}

void ReplyStatus(fuse_req_t req, const Status& s, const char* op) {
  if (!s.ok()) {
    // EIO means the cluster or the client failed, not the application: worth a line.
    DFS_LOG_IF(WARN, Errno(s) == EIO) << op << ": " << s;
    DFS_LOG_IF(DEBUG, Errno(s) != EIO) << op << ": " << s;
  }
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

// A call on an inode (not a name) that no longer exists: another mount
// unlinked it, or renamed another file over its name, between the kernel's
// LOOKUP and this call. ESTALE, as NFS answers, makes the kernel walk the
// path again with LOOKUP_REVAL (stat, open, chmod, truncate, access do), so
// the caller sees what the name is now; ENOENT would tell it that a name
// that never stopped existing is gone. A descriptor still open on such an
// inode gets ESTALE too.
void ReplyInodeStatus(fuse_req_t req, const Status& s, const char* op) {
  if (s.code() == ErrorCode::NOT_FOUND) {
    DFS_LOG(DEBUG) << op << ": " << s << " (ESTALE)";
    return ReplyErrno(req, ESTALE);
  }
  ReplyStatus(req, s, op);
}

mode_t TypeBits(pb::FileType type) {
  switch (type) {
    case pb::FILE_TYPE_DIRECTORY:
      return S_IFDIR;
    case pb::FILE_TYPE_SYMLINK:
      return S_IFLNK;
    case pb::FILE_TYPE_FIFO:
      return S_IFIFO;
    case pb::FILE_TYPE_SOCKET:
      return S_IFSOCK;
    default:
      return S_IFREG;
  }
}

timespec ToTimespec(const pb::Timespec& t) {
  timespec ts{};
  ts.tv_sec = t.sec();
  ts.tv_nsec = t.nsec();
  return ts;
}

pb::Timespec ToPb(const timespec& ts) {
  pb::Timespec t;
  t.set_sec(ts.tv_sec);
  t.set_nsec(static_cast<uint32_t>(ts.tv_nsec));
  return t;
}

struct stat ToStat(const pb::InodeAttr& a) {
  struct stat st {};
  st.st_ino = a.inode();
  st.st_mode = TypeBits(a.type()) | (a.mode() & 07777);
  st.st_nlink = a.nlink();
  st.st_uid = a.uid();
  st.st_gid = a.gid();
  st.st_rdev = a.rdev();
  st.st_size = static_cast<off_t>(a.size());
  st.st_blksize = 65536;
  st.st_blocks = static_cast<blkcnt_t>((a.size() + 511) / 512);
  st.st_atim = ToTimespec(a.atime());
  st.st_mtim = ToTimespec(a.mtime());
  st.st_ctim = ToTimespec(a.ctime());
  return st;
}

}  // namespace

// The callbacks of the operation table. Each answers its request exactly once.
struct FuseOps {
  static fuse_entry_param Entry(const FuseMount& m, const pb::InodeAttr& attr) {
    fuse_entry_param e{};
    e.ino = attr.inode();
    e.generation = 0;  // inode numbers are never reused
    e.attr = ToStat(attr);
    e.attr_timeout = m.options_.attr_timeout.count();
    e.entry_timeout = m.options_.entry_timeout.count();
    return e;
  }

  static void ReplyEntry(fuse_req_t req, uint64_t parent, const Result<pb::InodeAttr>& r,
                         const char* op) {
    if (!r.ok()) return ReplyStatus(req, r.status(), op);
    FuseMount* m = Self(req);
    m->NoteParent(parent, *r);
    fuse_entry_param e = Entry(*m, *r);
    fuse_reply_entry(req, &e);
  }

  static void ReplyAttr(fuse_req_t req, const Result<pb::InodeAttr>& r, const char* op) {
    if (!r.ok()) return ReplyInodeStatus(req, r.status(), op);
    struct stat st = ToStat(*r);
    fuse_reply_attr(req, &st, Self(req)->options_.attr_timeout.count());
  }

  static void Init(void* userdata, fuse_conn_info* conn) {
    (void)userdata;
    conn->max_write = kMaxIo;
    conn->max_read = kMaxIo;  // also -o max_read, see FuseSessionArgs
    conn->max_readahead = kMaxIo;
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    conn->time_gran = 1;
    auto want = [conn](unsigned cap) {
      if (conn->capable & cap) conn->want |= cap;
    };
    want(FUSE_CAP_READDIRPLUS);
    want(FUSE_CAP_ATOMIC_O_TRUNC);
    want(FUSE_CAP_ASYNC_READ);
    want(FUSE_CAP_PARALLEL_DIROPS);
    want(FUSE_CAP_CACHE_SYMLINKS);  // a symlink's target never changes
    want(FUSE_CAP_AUTO_INVAL_DATA);
    want(FUSE_CAP_POSIX_LOCKS);  // fcntl locks come here, for every mount to see
    want(FUSE_CAP_FLOCK_LOCKS);
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;  // attributes with every listing
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;   // FileSystem buffers writes itself
    conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
    DFS_LOG(INFO) << "FUSE protocol " << conn->proto_major << "." << conn->proto_minor
                  << ", max_write " << conn->max_write << ", capabilities 0x" << std::hex
                  << conn->want;
  }

  static void Destroy(void* userdata) { static_cast<FuseMount*>(userdata)->ReleaseAll(); }

  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    FuseMount* m = Self(req);
    Result<pb::InodeAttr> r = m->fs_->Lookup(CallerOf(req), parent, name);
    if (!r.ok() && r.status().code() == ErrorCode::NOT_FOUND &&
        m->options_.entry_timeout.count() > 0) {
      // A negative entry: the kernel remembers the name is absent.
      fuse_entry_param e{};
      e.ino = 0;
      e.entry_timeout = m->options_.entry_timeout.count();
      fuse_reply_entry(req, &e);
      return;
    }
    ReplyEntry(req, parent, r, "lookup");
  }

  static void Forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
  static void ForgetMulti(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    ReplyAttr(req, Self(req)->fs_->GetAttr(CallerOf(req), ino), "getattr");
  }

  static void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      fuse_file_info*) {
    FuseMount* m = Self(req);
    pb::SetAttrRequest r;
    r.set_inode(ino);
    uint32_t valid = 0;
    if (to_set & FUSE_SET_ATTR_MODE) {
      valid |= pb::SETATTR_MODE;
      r.set_mode(attr->st_mode & 07777);
    }
    if (to_set & FUSE_SET_ATTR_UID) {
      valid |= pb::SETATTR_UID;
      r.set_uid(attr->st_uid);
    }
    if (to_set & FUSE_SET_ATTR_GID) {
      valid |= pb::SETATTR_GID;
      r.set_gid(attr->st_gid);
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
      valid |= pb::SETATTR_SIZE;
      r.set_size(static_cast<uint64_t>(attr->st_size));
    }
    // utimensat(UTIME_NOW) comes as *_NOW (with or without the plain bit).
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
      valid |= pb::SETATTR_ATIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
      valid |= pb::SETATTR_ATIME;
      *r.mutable_atime() = ToPb(attr->st_atim);
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
      valid |= pb::SETATTR_MTIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
      valid |= pb::SETATTR_MTIME;
      *r.mutable_mtime() = ToPb(attr->st_mtim);
    }
    // FUSE_SET_ATTR_CTIME: the server sets ctime on every change itself.
    if (valid == 0) return ReplyAttr(req, m->fs_->GetAttr(CallerOf(req), ino), "setattr");
    r.set_valid(valid);
    // An open handle (ftruncate) needs nothing more: SetAttr flushes the
    // inode's buffered writes before the size changes.
    ReplyAttr(req, m->fs_->SetAttr(CallerOf(req), std::move(r)), "setattr");
  }

  static void ReadLink(fuse_req_t req, fuse_ino_t ino) {
    Result<std::string> r = Self(req)->fs_->ReadLink(CallerOf(req), ino);
    if (!r.ok()) return ReplyStatus(req, r.status(), "readlink");
    fuse_reply_readlink(req, r->c_str());
  }

  static void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
    pb::FileType type;
    switch (mode & S_IFMT) {
      case S_IFREG:
      case 0:
        type = pb::FILE_TYPE_REGULAR;
        break;
      case S_IFIFO:
        type = pb::FILE_TYPE_FIFO;
        break;
      case S_IFSOCK:
        type = pb::FILE_TYPE_SOCKET;
        break;
      default:  // device nodes: mknod(2) says EPERM when the fs has no such type
        fuse_reply_err(req, EPERM);
        return;
    }
    ReplyEntry(
        req, parent,
        Self(req)->fs_->Create(CallerOf(req), parent, name, type, mode & 07777, /*exclusive=*/true),
        "mknod");
  }

  static void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    ReplyEntry(req, parent,
               Self(req)->fs_->Create(CallerOf(req), parent, name, pb::FILE_TYPE_DIRECTORY,
                                      mode & 07777, /*exclusive=*/true),
               "mkdir");
  }

  static void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    ReplyEntry(req, parent,
               Self(req)->fs_->Create(CallerOf(req), parent, name, pb::FILE_TYPE_SYMLINK, 0777,
                                      /*exclusive=*/true, target),
               "symlink");
  }

  static void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    ReplyStatus(req, Self(req)->fs_->Unlink(CallerOf(req), parent, name), "unlink");
  }

  static void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    ReplyStatus(req, Self(req)->fs_->Rmdir(CallerOf(req), parent, name), "rmdir");
  }

  static void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
                     const char* new_name, unsigned int flags) {
    // RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2) have FileSystem's values;
    // RENAME_WHITEOUT is for overlay file systems.
    if (flags & ~3u) return ReplyErrno(req, EINVAL);
    ReplyStatus(req,
                Self(req)->fs_->Rename(CallerOf(req), parent, name, new_parent, new_name, flags),
                "rename");
  }

  static void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
    ReplyEntry(req, new_parent, Self(req)->fs_->Link(CallerOf(req), ino, new_parent, new_name),
               "link");
  }

  // After a file's data changed elsewhere (no keep_cache), the kernel's
  // cached size may be stale too: drop its attributes so that the next read
  // or stat asks again (close-to-open for the size, not only the pages).
  static void InvalidateAttributes(FuseMount* m, uint64_t ino) {
    fuse_session* se = m->session_.load();
    if (se == nullptr) return;
    int err = fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
    DFS_LOG_IF(DEBUG, err != 0 && err != -ENOENT)
        << "inval_inode " << ino << ": " << std::strerror(-err);
  }

  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FuseMount* m = Self(req);
    Result<FileSystem::OpenResult> r = m->fs_->OpenFile(CallerOf(req), ino, fi->flags);
    if (!r.ok()) return ReplyInodeStatus(req, r.status(), "open");
    fi->fh = r->handle;
    fi->keep_cache = r->keep_cache;
    fi->direct_io = 0;
    if (!r->keep_cache) InvalidateAttributes(m, ino);
    m->TrackHandle(r->handle);
    if (fuse_reply_open(req, fi) != 0) {  // interrupted: no RELEASE will come
      m->UntrackHandle(r->handle);
      m->fs_->Release(r->handle).IgnoreError();
    }
  }

  static void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                     fuse_file_info* fi) {
    FuseMount* m = Self(req);
    Result<FileSystem::OpenResult> r =
        m->fs_->CreateFile(CallerOf(req), parent, name, mode & 07777, fi->flags);
    if (!r.ok()) return ReplyStatus(req, r.status(), "create");
    fi->fh = r->handle;
    fi->keep_cache = r->keep_cache;
    fi->direct_io = 0;
    m->TrackHandle(r->handle);
    fuse_entry_param e = Entry(*m, r->attr);
    if (fuse_reply_create(req, &e, fi) != 0) {
      m->UntrackHandle(r->handle);
      m->fs_->Release(r->handle).IgnoreError();
    }
  }

  static void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    Result<std::string> r = Self(req)->fs_->Read(fi->fh, static_cast<uint64_t>(off), size);
    if (!r.ok()) return ReplyStatus(req, r.status(), "read");
    fuse_reply_buf(req, r->data(), r->size());
  }

  static void Write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
                    fuse_file_info* fi) {
    Result<uint64_t> r =
        Self(req)->fs_->Write(fi->fh, static_cast<uint64_t>(off), std::string_view(buf, size));
    if (!r.ok()) return ReplyStatus(req, r.status(), "write");
    fuse_reply_write(req, *r);
  }

  // close(2) of one file descriptor: its errors are the application's.
  // POSIX: any close of the file drops the closing process's fcntl locks
  // on it (fi->lock_owner is that process).
  static void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    FuseMount* m = Self(req);
    Status s = m->fs_->Flush(fi->fh);
    Status unlocked = m->fs_->ReleaseLocks(fi->fh, pb::LOCK_KIND_POSIX, fi->lock_owner);
    DFS_LOG_IF(WARN, !unlocked.ok()) << "releasing locks at close: " << unlocked;
    ReplyStatus(req, s, "flush");
  }

  static void Fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
    ReplyStatus(req, Self(req)->fs_->Flush(fi->fh), "fsync");
  }

  // The last close: the kernel does not wait for the answer.
  static void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FuseMount* m = Self(req);
    if (fi->flock_release) {
      // The last close of an open file description drops its flock.
      Status unlocked = m->fs_->ReleaseLocks(fi->fh, pb::LOCK_KIND_FLOCK, FlockOwner(fi));
      DFS_LOG_IF(WARN, !unlocked.ok()) << "releasing flock at close: " << unlocked;
    }
    m->UntrackHandle(fi->fh);
    Status s = m->fs_->Release(fi->fh);
    DFS_LOG_IF(WARN, !s.ok()) << "release of inode " << ino << ": " << s;
    fuse_reply_err(req, 0);
  }

  // Advisory locks (docs/locks.md): every one goes to the meta leader, so
  // it holds against every mount of the cluster.
  static void GetLk(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, struct flock* lock) {
    pb::LockRange want = PosixRange(*lock, fi->lock_owner);
    Result<std::optional<pb::LockRange>> held = Self(req)->fs_->GetLock(fi->fh, want);
    if (!held.ok()) return ReplyStatus(req, held.status(), "getlk");
    if (!held->has_value()) {
      lock->l_type = F_UNLCK;
    } else {
      const pb::LockRange& h = **held;
      lock->l_type = h.type() == pb::LOCK_TYPE_WRITE ? F_WRLCK : F_RDLCK;
      lock->l_whence = SEEK_SET;
      lock->l_start = static_cast<off_t>(h.start());
      lock->l_len = h.end() == UINT64_MAX ? 0 : static_cast<off_t>(h.end() - h.start() + 1);
      // The holder's pid as its mount saw it. The kernel maps it into the
      // caller's pid namespace, and to 0 when no such process exists here
      // (a holder on another machine, as with NFS).
      lock->l_pid = static_cast<pid_t>(h.pid());
    }
    fuse_reply_lock(req, lock);
  }

  static void SetLk(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, struct flock* lock, int sleep) {
    pb::LockRange want = PosixRange(*lock, fi->lock_owner);
    ReplyStatus(req, TakeLock(req, fi->fh, want, sleep != 0), "setlk");
  }

  static void Flock(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, int op) {
    pb::LockRange want;
    want.set_kind(pb::LOCK_KIND_FLOCK);
    want.set_type((op & LOCK_EX)   ? pb::LOCK_TYPE_WRITE
                  : (op & LOCK_SH) ? pb::LOCK_TYPE_READ
                                   : pb::LOCK_TYPE_UNLOCK);
    want.set_start(0);
    want.set_end(UINT64_MAX);
    want.set_owner(FlockOwner(fi));
    want.set_pid(static_cast<uint32_t>(fuse_req_ctx(req)->pid));
    ReplyStatus(req, TakeLock(req, fi->fh, want, (op & LOCK_NB) == 0), "flock");
  }

  // The holder of an flock: the open file description, which is our file
  // handle. Not the kernel's lock owner: that is the address of the kernel's
  // struct file, which the next open may reuse while the RELEASE of the
  // last one (sent in the background) is still on its way, and that late
  // RELEASE would then drop the new lock.
  static uint64_t FlockOwner(const fuse_file_info* fi) { return fi->fh; }

  // struct flock as the kernel sends it (l_start absolute, l_len 0 = to the
  // end of file) as a LockRange.
  static pb::LockRange PosixRange(const struct flock& lock, uint64_t owner) {
    pb::LockRange r;
    r.set_kind(pb::LOCK_KIND_POSIX);
    r.set_type(lock.l_type == F_WRLCK   ? pb::LOCK_TYPE_WRITE
               : lock.l_type == F_RDLCK ? pb::LOCK_TYPE_READ
                                        : pb::LOCK_TYPE_UNLOCK);
    uint64_t start = static_cast<uint64_t>(std::max<off_t>(lock.l_start, 0));
    r.set_start(start);
    r.set_end(lock.l_len <= 0 ? UINT64_MAX : start + static_cast<uint64_t>(lock.l_len) - 1);
    r.set_owner(owner);
    r.set_pid(static_cast<uint32_t>(lock.l_pid));
    return r;
  }

  // A blocking lock waits until granted; a signal to the waiting process
  // makes the kernel send INTERRUPT, which cancels the wait (EINTR).
  static Status TakeLock(fuse_req_t req, uint64_t handle, const pb::LockRange& want, bool wait) {
    FuseMount* m = Self(req);
    if (!wait) return m->fs_->SetLock(handle, want, false, nullptr);
    auto cancel = std::make_shared<CallCanceller>();
    uint64_t id = m->AddWait(cancel);
    fuse_req_interrupt_func(
        req,
        [](fuse_req_t r, void* data) {
          Self(r)->CancelWait(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)));
        },
        reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
    Status s = m->fs_->SetLock(handle, want, true, cancel.get());
    m->RemoveWait(id);
    return s;
  }

  static void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    FuseMount* m = Self(req);
    auto d = std::make_unique<DirHandle>();
    d->inode = ino;
    d->parent = m->ParentOf(ino);
    // The first page now, so that opendir(3) reports EACCES and friends.
    Status s = d->FetchPage(m->fs_, CallerOf(req));
    if (!s.ok()) return ReplyStatus(req, s, "opendir");
    fi->fh = reinterpret_cast<uint64_t>(d.get());
    if (fuse_reply_open(req, fi) == 0) d.release();
  }

  static void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<DirHandle*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void FsyncDir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    fuse_reply_err(req, 0);  // namespace changes are committed in the Raft log already
  }

  // Fills `buf` with the entries of `d` from offset `off` on, as many as fit
  // in `size` bytes. An error only if not even one entry could be listed.
  static Status FillDirBuffer(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, DirHandle* d,
                              bool plus, std::vector<char>* buf) {
    FuseMount* m = Self(req);
    std::lock_guard<std::mutex> lock(d->mu);
    const Caller caller = CallerOf(req);
    const uint64_t start = static_cast<uint64_t>(std::max<off_t>(off, 0));
    // rewinddir(3) lists afresh; seekdir(3) backwards past the window too.
    if ((start == 0 && !d->fresh) || (start < d->first && d->first > 2)) d->Restart();
    d->fresh = false;
    d->DropBefore(start);

    buf->resize(size);
    size_t used = 0;
    for (uint64_t offset = start;; offset++) {
      fuse_entry_param e{};
      std::string name;
      if (offset < 2) {
        name = offset == 0 ? "." : "..";
        e.attr.st_ino = offset == 0 ? d->inode : d->parent;
        e.attr.st_mode = S_IFDIR;
      } else {
        while (offset - d->first >= d->entries.size() && !d->eof) {
          d->DropBefore(offset);
          Status s = d->FetchPage(m->fs_, caller);
          if (!s.ok()) {
            if (used == 0) return s;
            break;  // what is there so far; the next call tries again
          }
        }
        if (offset - d->first >= d->entries.size()) break;  // end of the listing
        const pb::DirEntry& de = d->entries[offset - d->first];
        name = de.name();
        if (plus && de.attr().nlink() > 0) {
          e = Entry(*m, de.attr());
        } else {
          // Plain readdir, or no attributes (the caller may not search
          // the directory): name, inode and type only, nothing cached.
          e.attr.st_ino = de.attr().inode();
          e.attr.st_mode = TypeBits(de.attr().type());
        }
      }
      char* at = buf->data() + used;
      const size_t left = size - used;
      const off_t next = static_cast<off_t>(offset + 1);
      const size_t need = plus ? fuse_add_direntry_plus(req, at, left, name.c_str(), &e, next)
                               : fuse_add_direntry(req, at, left, name.c_str(), &e.attr, next);
      if (need > left) break;
      if (plus && offset >= 2 && e.ino != 0) {
        m->NoteParent(ino, d->entries[offset - d->first].attr());
      }
      used += need;
    }
    buf->resize(used);
    return Status::Ok();
  }

  static void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                            fuse_file_info* fi, bool plus) {
    std::vector<char> buf;
    Status s = FillDirBuffer(req, ino, size, off, reinterpret_cast<DirHandle*>(fi->fh), plus, &buf);
    // Replied only once the handle is unlocked: as soon as the answer is
    // out, closedir(3) may make another worker delete the handle.
    if (!s.ok()) return ReplyStatus(req, s, "readdir");
    fuse_reply_buf(req, buf.data(), buf.size());
  }

  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    ReadDirCommon(req, ino, size, off, fi, /*plus=*/false);
  }

  static void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          fuse_file_info* fi) {
    ReadDirCommon(req, ino, size, off, fi, /*plus=*/true);
  }

  static void StatFs(fuse_req_t req, fuse_ino_t) {
    Result<pb::StatFsReply> r = Self(req)->fs_->StatFs(CallerOf(req));
    if (!r.ok()) return ReplyStatus(req, r.status(), "statfs");
    struct statvfs st {};
    st.f_bsize = kStatFsBlock;
    st.f_frsize = kStatFsBlock;
    st.f_blocks = r->total_bytes() / kStatFsBlock;
    st.f_bfree = r->free_bytes() / kStatFsBlock;
    st.f_bavail = st.f_bfree;
    st.f_files = r->inodes() + kFreeInodes;
    st.f_ffree = kFreeInodes;
    st.f_favail = kFreeInodes;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  }

  static void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                       size_t size, int flags) {
    // File capabilities are not kept: see GetXattr.
    if (std::strcmp(name, kCapabilityXattr) == 0) return ReplyErrno(req, EOPNOTSUPP);
    ReplyStatus(req,
                Self(req)->fs_->SetXattr(CallerOf(req), ino, name, std::string(value, size),
                                         static_cast<uint32_t>(flags)),
                "setxattr");
  }

  static void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    // The kernel asks for security.capability before every write to a FUSE
    // file (FUSE never marks inodes S_NOSEC): answered here, not by a round
    // trip per write. SetXattr refuses it, so there is never one.
    if (std::strcmp(name, kCapabilityXattr) == 0) return ReplyErrno(req, ENODATA);
    Result<std::string> r = Self(req)->fs_->GetXattr(CallerOf(req), ino, name);
    if (!r.ok()) return ReplyStatus(req, r.status(), "getxattr");
    if (size == 0) return (void)fuse_reply_xattr(req, r->size());  // a probe for the size
    if (r->size() > size) return ReplyErrno(req, ERANGE);
    fuse_reply_buf(req, r->data(), r->size());
  }

  static void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    Result<std::vector<std::string>> r = Self(req)->fs_->ListXattr(CallerOf(req), ino);
    if (!r.ok()) return ReplyStatus(req, r.status(), "listxattr");
    std::string names;
    for (const std::string& name : *r) {
      names += name;
      names += '\0';
    }
    if (size == 0) return (void)fuse_reply_xattr(req, names.size());
    if (names.size() > size) return ReplyErrno(req, ERANGE);
    fuse_reply_buf(req, names.data(), names.size());
  }

  static void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
    ReplyStatus(req, Self(req)->fs_->RemoveXattr(CallerOf(req), ino, name), "removexattr");
  }

  static void Access(fuse_req_t req, fuse_ino_t ino, int mask) {
    ReplyInodeStatus(req, Self(req)->fs_->Access(CallerOf(req), ino, static_cast<uint32_t>(mask)),
                     "access");
  }

  static void Fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                        fuse_file_info* fi) {
    if (mode != 0) return ReplyErrno(req, EOPNOTSUPP);  // KEEP_SIZE, PUNCH_HOLE, ...
    if (offset < 0 || length <= 0) return ReplyErrno(req, EINVAL);
    ReplyStatus(req,
                Self(req)->fs_->Allocate(fi->fh, static_cast<uint64_t>(offset),
                                         static_cast<uint64_t>(length)),
                "fallocate");
  }

  static fuse_lowlevel_ops MakeOps() {
    fuse_lowlevel_ops ops{};
    ops.init = Init;
    ops.destroy = Destroy;
    ops.lookup = Lookup;
    ops.forget = Forget;
    ops.forget_multi = ForgetMulti;
    ops.getattr = GetAttr;
    ops.setattr = SetAttr;
    ops.readlink = ReadLink;
    ops.mknod = MkNod;
    ops.mkdir = MkDir;
    ops.unlink = Unlink;
    ops.rmdir = RmDir;
    ops.symlink = Symlink;
    ops.rename = Rename;
    ops.link = Link;
    ops.open = Open;
    ops.create = Create;
    ops.read = Read;
    ops.write = Write;
    ops.flush = Flush;
    ops.getlk = GetLk;
    ops.setlk = SetLk;
    ops.flock = Flock;
    ops.release = Release;
    ops.fsync = Fsync;
    ops.opendir = OpenDir;
    ops.readdir = ReadDir;
    ops.readdirplus = ReadDirPlus;
    ops.releasedir = ReleaseDir;
    ops.fsyncdir = FsyncDir;
    ops.statfs = StatFs;
    ops.setxattr = SetXattr;
    ops.getxattr = GetXattr;
    ops.listxattr = ListXattr;
    ops.removexattr = RemoveXattr;
    ops.access = Access;
    ops.fallocate = Fallocate;
    return ops;
  }
};

FuseMount::FuseMount(FileSystem* fs, FuseMountOptions options) : fs_(fs), options_(options) {}

FuseMount::~FuseMount() {
  SetSession(nullptr);
}

const fuse_lowlevel_ops* FuseMount::Ops() {
  static const fuse_lowlevel_ops ops = FuseOps::MakeOps();
  return &ops;
}

void FuseMount::ReleaseAll() {
  std::unordered_set<uint64_t> handles;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handles.swap(open_handles_);
  }
  for (uint64_t handle : handles) {
    Status s = fs_->Release(handle);
    DFS_LOG_IF(WARN, !s.ok()) << "release of handle " << handle << " at unmount: " << s;
  }
  DFS_LOG_IF(INFO, !handles.empty()) << "released " << handles.size() << " handles at unmount";
}

size_t FuseMount::open_files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_handles_.size();
}

void FuseMount::SetSession(fuse_session* session) {
  if (session != nullptr) {
    session_ = session;
    std::lock_guard<std::mutex> lock(notify_mu_);
    if (notifier_.joinable()) return;
    stop_notifier_ = false;
    notifier_ = std::thread([this] { RunNotifier(); });
    return;
  }
  {
    std::lock_guard<std::mutex> lock(notify_mu_);
    stop_notifier_ = true;
    pending_.clear();
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  session_ = nullptr;
}

void FuseMount::ForwardInvalidation(const pb::WatchEvent& event) {
  if (event.resync()) DFS_LOG(INFO) << "watch resync: kernel caches age out within their timeouts";
  if (event.inodes_size() == 0 && event.entries_size() == 0) return;
  {
    std::lock_guard<std::mutex> lock(notify_mu_);
    if (stop_notifier_ || !notifier_.joinable()) return;
    pending_.push_back(event);
  }
  notify_cv_.notify_one();
}

void FuseMount::RunNotifier() {
  std::unique_lock<std::mutex> lock(notify_mu_);
  while (true) {
    notify_cv_.wait(lock, [this] { return stop_notifier_ || !pending_.empty(); });
    if (stop_notifier_) return;
    pb::WatchEvent event = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    fuse_session* se = session_.load();
    for (const pb::WatchEntry& entry : event.entries())
      InvalidateEntry(se, entry.parent(), entry.name());
    for (uint64_t inode : event.inodes())
      InvalidateInode(se, inode);
    lock.lock();
  }
}

void FuseMount::InvalidateInode(fuse_session* se, uint64_t inode) {
  int err = fuse_lowlevel_notify_inval_inode(se, inode, 0, 0);  // attributes and all pages
  DFS_LOG_IF(DEBUG, err != 0 && err != -ENOENT)
      << "inval_inode " << inode << ": " << std::strerror(-err);
}

void FuseMount::InvalidateEntry(fuse_session* se, uint64_t parent, const std::string& name) {
  int err = fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
  DFS_LOG_IF(DEBUG, err != 0 && err != -ENOENT)
      << "inval_entry " << parent << "/" << name << ": " << std::strerror(-err);
}

void FuseMount::TrackHandle(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  open_handles_.insert(handle);
}

void FuseMount::UntrackHandle(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  open_handles_.erase(handle);
}

void FuseMount::NoteParent(uint64_t parent, const pb::InodeAttr& attr) {
  if (attr.type() != pb::FILE_TYPE_DIRECTORY) return;
  std::lock_guard<std::mutex> lock(mu_);
  dir_parent_[attr.inode()] = parent;
}

uint64_t FuseMount::ParentOf(uint64_t dir) const {
  if (dir == kRootInode) return kRootInode;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dir_parent_.find(dir);
  return it != dir_parent_.end() ? it->second : dir;  // unknown: the kernel ignores it
}

uint64_t FuseMount::AddWait(std::shared_ptr<CallCanceller> cancel) {
  std::lock_guard lock(waits_mu_);
  uint64_t id = ++next_wait_;
  waits_[id] = std::move(cancel);
  return id;
}

void FuseMount::CancelWait(uint64_t id) {
  std::shared_ptr<CallCanceller> cancel;
  {
    std::lock_guard lock(waits_mu_);
    auto it = waits_.find(id);
    if (it == waits_.end()) return;  // the wait is over already
    cancel = it->second;
  }
  cancel->Cancel();
}

void FuseMount::RemoveWait(uint64_t id) {
  std::lock_guard lock(waits_mu_);
  waits_.erase(id);
}

}  // namespace dfs::client
