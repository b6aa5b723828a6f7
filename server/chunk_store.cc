// The chunk store: data files, per-block checksums and the write protocol
// that keeps every block old, new or detected across a crash. The format
// and the reasoning behind each step: docs/chunk_store.md.
#include "server/chunk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "common/checksum.h"
#include "common/logging.h"
#include "server/chunk_store_dir.h"
#include "server/chunk_store_testing.h"
#include "server/io_ring.h"

namespace dfs::server {
namespace {

constexpr uint64_t kBs = kBlockSize;

std::string Hex(uint64_t chunk_id) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, chunk_id);
  return buf;
}

std::string HexSum(uint64_t sum) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, sum);
  return buf;
}

// "chunk 000000000000002a v3": how every message names a replica.
std::string Name(uint64_t chunk_id, uint64_t version) {
  return "chunk " + Hex(chunk_id) + " v" + std::to_string(version);
}

std::string BlockName(uint32_t block) {
  return "block " + std::to_string(block) + " (offset " + std::to_string(block * kBs) + ")";
}

// The checksum of a block never written: kBlockSize zeros.
uint64_t ZeroBlockSum() {
  static const uint64_t sum = [] {
    std::vector<uint8_t> zeros(kBs, 0);
    return BlockChecksum(zeros.data(), zeros.size());
  }();
  return sum;
}

uint32_t BlocksIn(uint64_t length) {
  return static_cast<uint32_t>((length + kBs - 1) / kBs);
}

// An open file descriptor, closed when it goes out of scope; -1 stands for
// a data file that does not exist (yet), which reads as all zeros.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle() {
    if (fd_ >= 0) close(fd_);
  }
  FileHandle(FileHandle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileHandle& operator=(FileHandle&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  int get() const { return fd_; }
  bool exists() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

enum class FileMode {
  kRead,          // a missing file gives a handle that does not exist
  kReadWrite,     // likewise
  kCreate,        // read-write, made if missing
  kCreateDirect,  // kCreate with O_DIRECT: writes skip the page cache
};

Result<FileHandle> OpenDataFile(const std::string& path, FileMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case FileMode::kRead:
      flags |= O_RDONLY;
      break;
    case FileMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case FileMode::kCreate:
      flags |= O_RDWR | O_CREAT;
      break;
    case FileMode::kCreateDirect:
      flags |= O_RDWR | O_CREAT | O_DIRECT;
      break;
  }
  const int fd = open(path.c_str(), flags, 0644);
  if (fd >= 0) return FileHandle(fd);
  if (mode == FileMode::kCreateDirect && errno == EINVAL) {
    // A file system without O_DIRECT (tmpfs): buffered writes it is.
    return OpenDataFile(path, FileMode::kCreate);
  }
  if (mode != FileMode::kCreate && mode != FileMode::kCreateDirect && errno == ENOENT) {
    return FileHandle();
  }
  return Status::FromErrno(errno, "open " + path);
}

// Memory for O_DIRECT writes: 4 KiB aligned, one per thread, grown as needed.
struct AlignedBuffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  ~AlignedBuffer() { std::free(data); }
};

AlignedBuffer& ThreadAlignedBuffer(size_t bytes) {
  thread_local AlignedBuffer buffer;
  if (buffer.size < bytes) {
    std::free(buffer.data);
    void* p = nullptr;
    DFS_CHECK(posix_memalign(&p, 4096, bytes) == 0) << "cannot allocate " << bytes << " bytes";
    buffer.data = static_cast<uint8_t*>(p);
    buffer.size = bytes;
  }
  return buffer;
}

// Reads `len` bytes at `offset`; what lies past the end of the file (or
// the whole range, for a file that does not exist) is zeros.
Status ReadFileRange(const FileHandle& file, uint64_t offset, uint8_t* buf, size_t len) {
  size_t got = 0;
  if (file.exists()) {
    ASSIGN_OR_RETURN(got, RingRead(file.get(), buf, len, offset));
  }
  std::memset(buf + got, 0, len - got);
  return Status::Ok();
}

Status FsyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  FileHandle dir(fd);
  return RingFsync(dir.get()).WithContext("fsync " + path);
}

// Whether a block read back from disk is one its metadata allows: its
// current checksum (or, with none, all zeros: the block as never written)
// or the checksum of a write in progress. Anything else is a torn or
// damaged block.
bool BlockMatches(uint64_t actual, std::optional<uint64_t> current,
                  std::optional<uint64_t> pending) {
  if (current ? actual == *current : actual == ZeroBlockSum()) return true;
  return pending && actual == *pending;
}

Status TornBlock(uint64_t chunk_id, uint64_t version, uint32_t block, uint64_t actual,
                 std::optional<uint64_t> current, std::optional<uint64_t> pending) {
  std::string message = Name(chunk_id, version) + " " + BlockName(block) + ": checksum " +
                        HexSum(actual) + ", expected " +
                        (current ? HexSum(*current) : std::string("zeros (never written)"));
  if (pending) message += " or " + HexSum(*pending) + " (write in progress)";
  return Status::Corrupt(message);
}

// One replica in memory. The store's index maps a chunk id to it.
struct Replica {
  Replica(uint64_t id, size_t dir_index) : chunk_id(id), dir(dir_index) {}

  const uint64_t chunk_id;
  const size_t dir;  // index into the store's directories

  // Held exclusively by everything that changes the replica (data or
  // metadata), shared by reads.
  std::shared_mutex mu;
  // Guarded by mu.
  uint64_t version = 0;
  uint64_t length = 0;
  ReplicaState state = ReplicaState::kReady;
  bool removed = false;  // deleted or replaced: no longer in the index

  // Whether the data file's directory entry is known durable; the first
  // Sync after the file appears syncs its directory.
  std::atomic<bool> entry_synced{false};

  ReplicaInfo info() const { return ReplicaInfo{chunk_id, version, length, state}; }
};

// A replica and a lock on it; the lock is released first.
template <class Lock>
struct Locked {
  std::shared_ptr<Replica> replica;
  Lock lock;
};
using Exclusive = Locked<std::unique_lock<std::shared_mutex>>;
using Shared = Locked<std::shared_lock<std::shared_mutex>>;

class ChunkStoreImpl final : public ChunkStore {
 public:
  explicit ChunkStoreImpl(ChunkStoreOptions options)
      : ChunkStore(options.chunk_size), options_(std::move(options)) {}

  Status Init();

  Status Create(uint64_t chunk_id, uint64_t version) override;
  Status Write(uint64_t chunk_id, uint64_t version, uint64_t offset, std::span<const uint8_t> data,
               std::span<const uint64_t> checksums) override;
  Result<ReadResult> Read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                          uint64_t length) override;
  Status Sync(uint64_t chunk_id, uint64_t version) override;
  Status Truncate(uint64_t chunk_id, uint64_t version, uint64_t length) override;
  Status SetVersion(uint64_t chunk_id, uint64_t old_version, uint64_t new_version) override;
  Status BeginCopy(uint64_t chunk_id, uint64_t version, bool replace) override;
  Status FinishCopy(uint64_t chunk_id, uint64_t version, uint64_t length) override;
  Status Delete(uint64_t chunk_id, uint64_t max_version) override;
  Result<ReplicaInfo> Stat(uint64_t chunk_id) override;
  std::vector<ReplicaInfo> List() override;
  Status VerifyBlock(uint64_t chunk_id, uint64_t block_index) override;
  std::vector<ReplicaChange> TakeChanges() override;
  uint64_t CapacityBytes() override;
  uint64_t FreeBytes() override;

  void SetCrashPoint(CrashPoint point) { crash_point_.store(point); }

 private:
  // Open: settles the intents a crash left, drops copies, builds the index.
  Status Recover(size_t dir_index);
  Status SettleIntents(DataDir& dir, std::map<uint64_t, ReplicaInfo>& replicas);
  // Adds a replica found on disk to the index; of two replicas of one chunk
  // (a crash between replacing one and adding the other) the newer stays.
  Status Index(size_t dir_index, const ReplicaInfo& info);

  // The replica of `chunk_id`, locked; nullopt if there is none.
  template <class L>
  std::optional<L> Find(uint64_t chunk_id);
  Result<Exclusive> LockExclusive(uint64_t chunk_id);
  Result<Shared> LockShared(uint64_t chunk_id);

  // NOT_FOUND-free checks for serving a replica at `version`: STALE_VERSION,
  // then the state (kCopying allowed only if `copying_ok`, else
  // UNAVAILABLE; kCorrupt is CORRUPT).
  Status CheckServable(const Replica& r, uint64_t version, bool copying_ok) const;

  // Makes a new replica record, unless one for the chunk appeared in the
  // meantime (then false).
  Result<bool> TryAdd(uint64_t chunk_id, uint64_t version, ReplicaState state);
  size_t ChooseDir();
  // NO_SPACE if adding `bytes` to `dir` would leave less than its reserve
  // free (chunk_store.h, "Full disks").
  Status CheckRoom(const DataDir& dir, uint64_t bytes);
  // Deletes a replica's metadata (durably) and then its data file.
  Status RemoveReplicaData(DataDir& dir, uint64_t chunk_id);
  // Takes a locked replica out of the index after RemoveReplicaData.
  void Unindex(Replica& r);

  Status WriteLocked(Replica& r, uint64_t offset, std::span<const uint8_t> data,
                     std::span<const uint64_t> checksums);
  // The write protocol: intents, data, commit (docs/chunk_store.md). Writes
  // whole blocks from `first`; `sums` are their checksums, `pieces` their
  // bytes; the replica's length becomes `new_length` with the intents.
  Status WriteBlocks(Replica& r, uint32_t first, std::span<const uint64_t> sums,
                     std::span<const std::span<const uint8_t>> pieces, uint64_t new_length);
  // A block's contents as stored, verified; zeros for blocks never written.
  // A block that fails marks the replica corrupt (CORRUPT).
  Result<std::vector<uint8_t>> LoadBlock(Replica& r, uint32_t block);
  Status TruncateLocked(Replica& r, uint64_t length);

  void MarkCorrupt(const std::shared_ptr<Replica>& r, uint64_t version, const Status& why);
  void MarkCorruptLocked(Replica& r, const Status& why);
  void Queue(ReplicaChange::Kind kind, const ReplicaInfo& info);

  bool Crash(CrashPoint point);
  static Status SimulatedCrash() { return Status::Unavailable("simulated crash"); }

  DataDir& DirOf(const Replica& r) { return *dirs_[r.dir]; }
  std::string DataFile(const Replica& r) { return DirOf(r).DataFile(r.chunk_id); }

  const ChunkStoreOptions options_;
  std::vector<std::unique_ptr<DataDir>> dirs_;

  std::mutex mu_;  // never held while waiting for a replica's lock
  std::map<uint64_t, std::shared_ptr<Replica>> index_;  // guarded by mu_
  std::vector<size_t> replicas_per_dir_;                // guarded by mu_

  std::mutex changes_mu_;
  std::vector<ReplicaChange> changes_;  // guarded by changes_mu_

  std::atomic<CrashPoint> crash_point_{CrashPoint::kNone};
};

// ---------------------------------------------------------------------------
// Open and recovery

Status ChunkStoreImpl::Init() {
  for (const std::string& path : options_.dirs) {
    ASSIGN_OR_RETURN(std::unique_ptr<DataDir> dir, DataDir::Open(path, options_.reserve));
    dirs_.push_back(std::move(dir));
  }
  replicas_per_dir_.assign(dirs_.size(), 0);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    RETURN_IF_ERROR(Recover(i), "while recovering data directory " << dirs_[i]->path());
  }
  DFS_LOG(INFO) << "chunk store: " << index_.size() << " replicas in " << dirs_.size()
                << " directories";
  return Status::Ok();
}

Status ChunkStoreImpl::Recover(size_t dir_index) {
  DataDir& dir = *dirs_[dir_index];
  ASSIGN_OR_RETURN(std::vector<ReplicaInfo> list, dir.LoadReplicas());
  std::map<uint64_t, ReplicaInfo> replicas;
  for (const ReplicaInfo& info : list)
    replicas[info.chunk_id] = info;
  RETURN_IF_ERROR(SettleIntents(dir, replicas));
  for (const auto& [chunk_id, info] : replicas) {
    if (info.state == ReplicaState::kCopying) {
      DFS_LOG(INFO) << "dropping unfinished copy of " << Name(chunk_id, info.version) << " in "
                    << dir.path();
      RETURN_IF_ERROR(RemoveReplicaData(dir, chunk_id));
      continue;
    }
    RETURN_IF_ERROR(Index(dir_index, info));
  }
  return Status::Ok();
}

// Every intent is settled, whatever step the crash interrupted: see
// docs/chunk_store.md, "Crash rules".
Status ChunkStoreImpl::SettleIntents(DataDir& dir, std::map<uint64_t, ReplicaInfo>& replicas) {
  ASSIGN_OR_RETURN(std::vector<Intent> intents, dir.LoadIntents());
  if (intents.empty()) return Status::Ok();
  MetaBatch batch(dir);
  std::set<uint64_t> torn;
  std::vector<uint8_t> block(kBs);
  for (const Intent& intent : intents) {
    batch.DeleteIntent(intent.kind, intent.chunk_id, intent.block);
    const auto it = replicas.find(intent.chunk_id);
    const std::string path = dir.DataFile(intent.chunk_id);
    switch (intent.kind) {
      case Intent::kRemove:
        // A replica of the chunk made again afterwards owns the file now.
        if (it == replicas.end() && unlink(path.c_str()) != 0 && errno != ENOENT) {
          return Status::FromErrno(errno, "unlink " + path);
        }
        break;
      case Intent::kTruncate: {
        if (it == replicas.end()) break;
        ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(path, FileMode::kReadWrite));
        if (!file.exists()) break;
        struct stat st;
        if (fstat(file.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
        if (static_cast<uint64_t>(st.st_size) > intent.value &&
            ftruncate(file.get(), static_cast<off_t>(intent.value)) != 0) {
          return Status::FromErrno(errno, "truncate " + path);
        }
        break;
      }
      case Intent::kWrite: {
        if (it == replicas.end() || uint64_t{intent.block} * kBs >= it->second.length) break;
        const ReplicaInfo& info = it->second;
        ASSIGN_OR_RETURN(auto current, dir.BlockSums(intent.chunk_id, intent.block, 1));
        ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(path, FileMode::kRead));
        RETURN_IF_ERROR(ReadFileRange(file, intent.block * kBs, block.data(), kBs),
                        "reading " << path);
        const uint64_t actual = BlockChecksum(block.data(), kBs);
        if (actual == intent.value) {
          batch.PutBlockSum(intent.chunk_id, intent.block, intent.value);  // new
        } else if (!BlockMatches(actual, current[0], std::nullopt)) {
          DFS_LOG(ERROR) << "torn write found in " << dir.path() << ": "
                         << TornBlock(intent.chunk_id, info.version, intent.block, actual,
                                      current[0], intent.value);
          torn.insert(intent.chunk_id);
        }
        break;
      }
    }
  }
  for (uint64_t chunk_id : torn) {
    ReplicaInfo& info = replicas[chunk_id];
    if (info.state == ReplicaState::kCorrupt) continue;
    const bool was_copying = info.state == ReplicaState::kCopying;
    info.state = ReplicaState::kCorrupt;
    batch.PutReplica(info);
    if (!was_copying) Queue(ReplicaChange::kCorrupt, info);
  }
  return dir.Commit(batch, /*sync=*/true);
}

Status ChunkStoreImpl::Index(size_t dir_index, const ReplicaInfo& info) {
  const auto it = index_.find(info.chunk_id);
  if (it != index_.end()) {
    Replica& other = *it->second;
    DFS_LOG(WARN) << Name(info.chunk_id, info.version) << " in " << dirs_[dir_index]->path()
                  << " and v" << other.version << " in " << dirs_[other.dir]->path()
                  << ": keeping the newer";
    if (other.version >= info.version) return RemoveReplicaData(*dirs_[dir_index], info.chunk_id);
    RETURN_IF_ERROR(RemoveReplicaData(*dirs_[other.dir], info.chunk_id));
    replicas_per_dir_[other.dir]--;
    index_.erase(it);
  }
  auto replica = std::make_shared<Replica>(info.chunk_id, dir_index);
  replica->version = info.version;
  replica->length = info.length;
  replica->state = info.state;
  index_[info.chunk_id] = std::move(replica);
  replicas_per_dir_[dir_index]++;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Finding and locking replicas

template <class L>
std::optional<L> ChunkStoreImpl::Find(uint64_t chunk_id) {
  while (true) {
    std::shared_ptr<Replica> replica;
    {
      std::lock_guard lock(mu_);
      const auto it = index_.find(chunk_id);
      if (it == index_.end()) return std::nullopt;
      replica = it->second;
    }
    L locked{replica, decltype(L::lock)(replica->mu)};
    if (!locked.replica->removed) return locked;
    // Deleted or replaced while we waited: look again.
  }
}

Result<Exclusive> ChunkStoreImpl::LockExclusive(uint64_t chunk_id) {
  std::optional<Exclusive> locked = Find<Exclusive>(chunk_id);
  if (!locked) return Status::NotFound("chunk " + Hex(chunk_id) + ": no replica here");
  return std::move(*locked);
}

Result<Shared> ChunkStoreImpl::LockShared(uint64_t chunk_id) {
  std::optional<Shared> locked = Find<Shared>(chunk_id);
  if (!locked) return Status::NotFound("chunk " + Hex(chunk_id) + ": no replica here");
  return std::move(*locked);
}

Status ChunkStoreImpl::CheckServable(const Replica& r, uint64_t version, bool copying_ok) const {
  if (r.version != version) {
    return Status::StaleVersion(Name(r.chunk_id, version) + ": the replica here is v" +
                                std::to_string(r.version));
  }
  if (r.state == ReplicaState::kCorrupt) {
    return Status::Corrupt(Name(r.chunk_id, version) + ": replica marked corrupt");
  }
  if (r.state == ReplicaState::kCopying && !copying_ok) {
    return Status::Unavailable(Name(r.chunk_id, version) + ": replica still being copied");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Creating and removing replicas

size_t ChunkStoreImpl::ChooseDir() {
  // Most free space first; directories sharing a file system see the same
  // free space, so the one with fewer replicas wins among them.
  std::map<dev_t, uint64_t> free_by_device;
  std::vector<uint64_t> free(dirs_.size(), 0);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    auto [it, inserted] = free_by_device.try_emplace(dirs_[i]->device(), 0);
    if (inserted) {
      struct statvfs vfs;
      if (statvfs(dirs_[i]->path().c_str(), &vfs) == 0) {
        it->second = uint64_t{vfs.f_bavail} * vfs.f_frsize;
      }
    }
    free[i] = it->second;
  }
  std::lock_guard lock(mu_);
  size_t best = 0;
  for (size_t i = 1; i < dirs_.size(); ++i) {
    if (free[i] > free[best] ||
        (free[i] == free[best] && replicas_per_dir_[i] < replicas_per_dir_[best])) {
      best = i;
    }
  }
  return best;
}

Status ChunkStoreImpl::CheckRoom(const DataDir& dir, uint64_t bytes) {
  ASSIGN_OR_RETURN(const uint64_t free, dir.FreeBytes());
  if (free >= dir.reserve() && free - dir.reserve() >= bytes) return Status::Ok();
  return Status::NoSpace(dir.path() + ": " + std::to_string(free) + " bytes free, of which " +
                         std::to_string(dir.reserve()) + " are kept for chunk metadata");
}

Result<bool> ChunkStoreImpl::TryAdd(uint64_t chunk_id, uint64_t version, ReplicaState state) {
  const size_t dir_index = ChooseDir();
  // The directory with the most room: if it has none, none has.
  RETURN_IF_ERROR(CheckRoom(*dirs_[dir_index], 0), "creating " << Name(chunk_id, version));
  auto replica = std::make_shared<Replica>(chunk_id, dir_index);
  replica->version = version;
  replica->state = state;
  std::unique_lock replica_lock(replica->mu);  // nobody else can hold it yet
  {
    std::lock_guard lock(mu_);
    if (index_.count(chunk_id) != 0) return false;
    index_[chunk_id] = replica;
    replicas_per_dir_[dir_index]++;
  }
  // Others may find the replica now and wait for its lock until it exists
  // on disk (or is taken back).
  DataDir& dir = *dirs_[dir_index];
  const std::string path = dir.DataFile(chunk_id);
  Status s;
  if (unlink(path.c_str()) != 0 && errno != ENOENT) s = Status::FromErrno(errno, "unlink " + path);
  if (s.ok()) {
    MetaBatch batch(dir);
    batch.DeleteIntent(Intent::kRemove, chunk_id);
    batch.DeleteIntent(Intent::kTruncate, chunk_id);
    batch.PutReplica(replica->info());
    s = dir.Commit(batch, /*sync=*/true);
  }
  if (!s.ok()) {
    Unindex(*replica);
    return s.WithContext("creating " + Name(chunk_id, version) + " in " + dir.path());
  }
  return true;
}

Status ChunkStoreImpl::RemoveReplicaData(DataDir& dir, uint64_t chunk_id) {
  MetaBatch batch(dir);
  batch.DeleteReplica(chunk_id);
  batch.PutIntent(Intent{Intent::kRemove, chunk_id, 0, 0});
  RETURN_IF_ERROR(dir.Commit(batch, /*sync=*/true));
  // From here the replica is gone; the intent finishes the unlink at the
  // next Open if this one does not happen.
  const std::string path = dir.DataFile(chunk_id);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    DFS_LOG(WARN) << "unlink " << path << ": " << std::strerror(errno) << " (retried at restart)";
    return Status::Ok();
  }
  MetaBatch done(dir);
  done.DeleteIntent(Intent::kRemove, chunk_id);
  Status s = dir.Commit(done, /*sync=*/false);
  if (!s.ok()) DFS_LOG(WARN) << "dropping removal intent of " << Hex(chunk_id) << ": " << s;
  return Status::Ok();
}

void ChunkStoreImpl::Unindex(Replica& r) {
  r.removed = true;
  std::lock_guard lock(mu_);
  const auto it = index_.find(r.chunk_id);
  if (it != index_.end() && it->second.get() == &r) {
    index_.erase(it);
    replicas_per_dir_[r.dir]--;
  }
}

Status ChunkStoreImpl::Create(uint64_t chunk_id, uint64_t version) {
  if (version == 0) return Status::InvalidArgument(Name(chunk_id, version) + ": version 0");
  while (true) {
    if (std::optional<Shared> locked = Find<Shared>(chunk_id)) {
      const Replica& r = *locked->replica;
      if (r.version != version) {
        return Status::StaleVersion("creating " + Name(chunk_id, version) +
                                    ": the replica here is v" + std::to_string(r.version));
      }
      return CheckServable(r, version, /*copying_ok=*/false).WithContext("creating");
    }
    ASSIGN_OR_RETURN(bool added, TryAdd(chunk_id, version, ReplicaState::kReady));
    if (added) {
      Queue(ReplicaChange::kAdded, ReplicaInfo{chunk_id, version, 0, ReplicaState::kReady});
      return Status::Ok();
    }
  }
}

Status ChunkStoreImpl::BeginCopy(uint64_t chunk_id, uint64_t version, bool replace) {
  if (version == 0) return Status::InvalidArgument(Name(chunk_id, version) + ": version 0");
  while (true) {
    if (std::optional<Exclusive> locked = Find<Exclusive>(chunk_id)) {
      Replica& r = *locked->replica;
      if (replace && r.version == version && r.state == ReplicaState::kCopying) {
        return Status::Unavailable("copying " + Name(chunk_id, version) +
                                   ": another copy is in progress");
      }
      if (r.version > version || (r.version == version && !replace)) {
        return Status::AlreadyExists("copying " + Name(chunk_id, version) +
                                     ": the replica here is v" + std::to_string(r.version));
      }
      const ReplicaInfo old = r.info();
      RETURN_IF_ERROR(RemoveReplicaData(DirOf(r), chunk_id),
                      "replacing " << Name(chunk_id, old.version));
      Unindex(r);
      if (old.state != ReplicaState::kCopying) Queue(ReplicaChange::kDeleted, old);
      DFS_LOG(INFO) << "replaced " << Name(chunk_id, old.version) << " to copy v" << version;
    }
    ASSIGN_OR_RETURN(bool added, TryAdd(chunk_id, version, ReplicaState::kCopying));
    if (added) return Status::Ok();
  }
}

Status ChunkStoreImpl::FinishCopy(uint64_t chunk_id, uint64_t version, uint64_t length) {
  if (length > chunk_size()) {
    return Status::InvalidArgument(Name(chunk_id, version) + ": length " + std::to_string(length) +
                                   " past chunk size " + std::to_string(chunk_size()));
  }
  ASSIGN_OR_RETURN(Exclusive locked, LockExclusive(chunk_id));
  Replica& r = *locked.replica;
  RETURN_IF_ERROR(CheckServable(r, version, /*copying_ok=*/true), "finishing copy");
  if (r.state == ReplicaState::kReady) return Status::Ok();  // a retry
  RETURN_IF_ERROR(TruncateLocked(r, length), "finishing copy of " << Name(chunk_id, version));
  ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(DataFile(r), FileMode::kRead));
  if (file.exists()) {
    RETURN_IF_ERROR(RingDatasync(file.get()), "syncing " << DataFile(r));
    RETURN_IF_ERROR(FsyncPath(DirOf(r).FanoutDir(chunk_id)));
    r.entry_synced = true;
  }
  ReplicaInfo info = r.info();
  info.state = ReplicaState::kReady;
  MetaBatch batch(DirOf(r));
  batch.PutReplica(info);
  RETURN_IF_ERROR(DirOf(r).Commit(batch, /*sync=*/true),
                  "finishing copy of " << Name(chunk_id, version));
  r.state = ReplicaState::kReady;
  Queue(ReplicaChange::kAdded, info);
  return Status::Ok();
}

Status ChunkStoreImpl::Delete(uint64_t chunk_id, uint64_t max_version) {
  std::optional<Exclusive> locked = Find<Exclusive>(chunk_id);
  if (!locked) return Status::Ok();
  Replica& r = *locked->replica;
  if (r.version > max_version) {
    return Status::StaleVersion("deleting chunk " + Hex(chunk_id) + " up to v" +
                                std::to_string(max_version) + ": the replica here is v" +
                                std::to_string(r.version));
  }
  const ReplicaInfo old = r.info();
  RETURN_IF_ERROR(RemoveReplicaData(DirOf(r), chunk_id),
                  "deleting " << Name(chunk_id, old.version));
  Unindex(r);
  // A copy was never reported, so its end is not news either.
  if (old.state != ReplicaState::kCopying) Queue(ReplicaChange::kDeleted, old);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Writes

bool ChunkStoreImpl::Crash(CrashPoint point) {
  CrashPoint expected = point;
  return crash_point_.compare_exchange_strong(expected, CrashPoint::kNone);
}

Status ChunkStoreImpl::Write(uint64_t chunk_id, uint64_t version, uint64_t offset,
                             std::span<const uint8_t> data, std::span<const uint64_t> checksums) {
  if (data.empty()) {
    return Status::InvalidArgument(Name(chunk_id, version) + ": empty write at offset " +
                                   std::to_string(offset));
  }
  if (offset > chunk_size() || data.size() > chunk_size() - offset) {
    return Status::InvalidArgument(Name(chunk_id, version) + ": write of " +
                                   std::to_string(data.size()) + " bytes at offset " +
                                   std::to_string(offset) + " passes the chunk size " +
                                   std::to_string(chunk_size()));
  }
  // The data is checked against the writer's checksums before anything
  // else, and before the chunk's lock is taken.
  RETURN_IF_ERROR(VerifyBlocks(data.data(), data.size(), checksums.data(), checksums.size()),
                  Name(chunk_id, version) << ": write at offset " << offset);
  ASSIGN_OR_RETURN(Exclusive locked, LockExclusive(chunk_id));
  Replica& r = *locked.replica;
  RETURN_IF_ERROR(CheckServable(r, version, /*copying_ok=*/true), "writing");
  const uint64_t first_byte = offset / kBs * kBs;
  const uint64_t end_byte = (offset + data.size() + kBs - 1) / kBs * kBs;
  RETURN_IF_ERROR(CheckRoom(DirOf(r), end_byte - first_byte),
                  "writing " << Name(chunk_id, version));
  return WriteLocked(r, offset, data, checksums)
      .WithContext(Name(chunk_id, version) + ": write of " + std::to_string(data.size()) +
                   " bytes at offset " + std::to_string(offset));
}

Status ChunkStoreImpl::WriteLocked(Replica& r, uint64_t offset, std::span<const uint8_t> data,
                                   std::span<const uint64_t> checksums) {
  const uint64_t end = offset + data.size();
  const auto first = static_cast<uint32_t>(offset / kBs);
  const auto last = static_cast<uint32_t>((end - 1) / kBs);
  const uint32_t count = last - first + 1;
  const uint64_t head_skip = offset - first * kBs;  // bytes of the first block before the data
  const bool head_partial = head_skip != 0 || end < (first + 1) * kBs;
  const bool tail_partial = last != first && end % kBs != 0;

  // Edge blocks the data covers only in part: read, verified, merged.
  std::vector<uint64_t> sums(count);
  std::vector<uint8_t> head, tail;
  if (head_partial) {
    ASSIGN_OR_RETURN(head, LoadBlock(r, first));
    std::memcpy(head.data() + head_skip, data.data(),
                std::min<uint64_t>(data.size(), kBs - head_skip));
    sums[0] = BlockChecksum(head.data(), kBs);
  }
  if (tail_partial) {
    ASSIGN_OR_RETURN(tail, LoadBlock(r, last));
    const uint64_t tail_start = uint64_t{last} * kBs;
    std::memcpy(tail.data(), data.data() + (tail_start - offset), end - tail_start);
    sums[count - 1] = BlockChecksum(tail.data(), kBs);
  }
  // Whole blocks go from the caller's buffer; when the write is aligned
  // their checksums are the caller's, verified above.
  const uint32_t middle_first = first + (head_partial ? 1 : 0);
  const uint32_t middle_end = last + 1 - (tail_partial ? 1 : 0);
  for (uint32_t b = middle_first; b < middle_end; ++b) {
    const uint8_t* block = data.data() + (uint64_t{b} * kBs - offset);
    sums[b - first] = head_skip == 0 ? checksums[b - first] : BlockChecksum(block, kBs);
  }
  std::vector<std::span<const uint8_t>> pieces;
  if (head_partial) pieces.emplace_back(head);
  if (middle_end > middle_first) {
    pieces.push_back(data.subspan(uint64_t{middle_first} * kBs - offset,
                                  uint64_t{middle_end - middle_first} * kBs));
  }
  if (tail_partial) pieces.emplace_back(tail);
  return WriteBlocks(r, first, sums, pieces, std::max(r.length, end));
}

Status ChunkStoreImpl::WriteBlocks(Replica& r, uint32_t first, std::span<const uint64_t> sums,
                                   std::span<const std::span<const uint8_t>> pieces,
                                   uint64_t new_length) {
  uint64_t bytes = 0;
  for (std::span<const uint8_t> piece : pieces)
    bytes += piece.size();
  DFS_CHECK_EQ(bytes, sums.size() * kBs);
  DataDir& dir = DirOf(r);
  const uint64_t offset = uint64_t{first} * kBs;

  if (Crash(CrashPoint::kLostIntent)) {
    ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(DataFile(r), FileMode::kCreate));
    RETURN_IF_ERROR(RingWrite(file.get(), pieces, offset));
    return SimulatedCrash();
  }

  // 0. Room for the blocks: a disk that fills up fails the write here,
  //    before anything is logged, rather than in step 2 with the intents
  //    logged and a block possibly half written. (Where fallocate is not
  //    supported, step 2 finds out.)
  ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(DataFile(r), FileMode::kCreateDirect));
  if (fallocate(file.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(bytes)) != 0 &&
      (errno == ENOSPC || errno == EDQUOT)) {
    return Status::FromErrno(errno, "allocating " + std::to_string(bytes) + " bytes at offset " +
                                        std::to_string(offset) + " of " + DataFile(r));
  }

  // 1. Intents: each block's new checksum beside its current one, and the
  //    new length. Not synced: Sync orders them before the data on disk.
  MetaBatch intents(dir);
  for (uint32_t i = 0; i < sums.size(); ++i)
    intents.PutIntent(Intent{Intent::kWrite, r.chunk_id, first + i, sums[i]});
  if (new_length != r.length) {
    ReplicaInfo info = r.info();
    info.length = new_length;
    intents.PutReplica(info);
  }
  RETURN_IF_ERROR(dir.Commit(intents, /*sync=*/false), "recording write intents");
  r.length = new_length;
  if (Crash(CrashPoint::kAfterIntent)) return SimulatedCrash();

  // 2. The data, whole blocks, with O_DIRECT: copying megabytes into the
  //    page cache costs more CPU than the rest of a chain write together
  //    (perf, docs/chunk_store.md), and a replica's data is read far less
  //    often than written. O_DIRECT wants aligned memory: one copy into an
  //    aligned buffer. The page cache stays coherent (a direct write drops
  //    the cached pages of its range).
  AlignedBuffer& aligned = ThreadAlignedBuffer(bytes);
  size_t at = 0;
  for (std::span<const uint8_t> piece : pieces) {
    std::memcpy(aligned.data + at, piece.data(), piece.size());
    at += piece.size();
  }
  const std::span<const uint8_t> whole(aligned.data, bytes);
  RETURN_IF_ERROR(RingWrite(file.get(), std::span(&whole, 1), offset), "writing " << DataFile(r));
  if (Crash(CrashPoint::kAfterData)) return SimulatedCrash();

  // 3. Commit: the new checksums become current, the intents go.
  MetaBatch commit(dir);
  for (uint32_t i = 0; i < sums.size(); ++i) {
    commit.PutBlockSum(r.chunk_id, first + i, sums[i]);
    commit.DeleteIntent(Intent::kWrite, r.chunk_id, first + i);
  }
  return dir.Commit(commit, /*sync=*/false).WithContext("committing block checksums");
}

Result<std::vector<uint8_t>> ChunkStoreImpl::LoadBlock(Replica& r, uint32_t block) {
  std::vector<uint8_t> bytes(kBs, 0);
  if (uint64_t{block} * kBs >= r.length) return bytes;  // past the end: never written
  DataDir& dir = DirOf(r);
  ASSIGN_OR_RETURN(auto current, dir.BlockSums(r.chunk_id, block, 1));
  ASSIGN_OR_RETURN(auto pending, dir.WriteIntents(r.chunk_id, block, 1));
  if (!current[0] && !pending[0]) return bytes;
  ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(DataFile(r), FileMode::kRead));
  RETURN_IF_ERROR(ReadFileRange(file, block * kBs, bytes.data(), kBs), "reading " << DataFile(r));
  const uint64_t actual = BlockChecksum(bytes.data(), kBs);
  if (!BlockMatches(actual, current[0], pending[0])) {
    Status torn = TornBlock(r.chunk_id, r.version, block, actual, current[0], pending[0]);
    MarkCorruptLocked(r, torn);
    return torn;
  }
  return bytes;
}

Status ChunkStoreImpl::Truncate(uint64_t chunk_id, uint64_t version, uint64_t length) {
  if (length > chunk_size()) {
    return Status::InvalidArgument(Name(chunk_id, version) + ": truncate to " +
                                   std::to_string(length) + " passes the chunk size " +
                                   std::to_string(chunk_size()));
  }
  ASSIGN_OR_RETURN(Exclusive locked, LockExclusive(chunk_id));
  Replica& r = *locked.replica;
  RETURN_IF_ERROR(CheckServable(r, version, /*copying_ok=*/true), "truncating");
  return TruncateLocked(r, length).WithContext(Name(chunk_id, version) + ": truncate to " +
                                               std::to_string(length));
}

Status ChunkStoreImpl::TruncateLocked(Replica& r, uint64_t length) {
  DataDir& dir = DirOf(r);
  if (length >= r.length) {
    // Growing: what lies past the old length already reads as zeros.
    if (length == r.length) return Status::Ok();
    ReplicaInfo info = r.info();
    info.length = length;
    MetaBatch batch(dir);
    batch.PutReplica(info);
    RETURN_IF_ERROR(dir.Commit(batch, /*sync=*/false));
    r.length = length;
    return Status::Ok();
  }
  // Shrinking. First the edge block gets zeros past the new length, by the
  // ordinary write protocol and before the length changes, so that no
  // checksum ever covers non-zero bytes past the length.
  const auto edge = static_cast<uint32_t>(length / kBs);
  if (length % kBs != 0) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> block, LoadBlock(r, edge));
    const size_t keep = length % kBs;
    if (std::any_of(block.begin() + keep, block.end(), [](uint8_t b) { return b != 0; })) {
      std::memset(block.data() + keep, 0, kBs - keep);
      const uint64_t sum = BlockChecksum(block.data(), kBs);
      const std::span<const uint8_t> piece(block);
      RETURN_IF_ERROR(WriteBlocks(r, edge, std::span(&sum, 1), std::span(&piece, 1), r.length),
                      "zeroing the tail of " << BlockName(edge));
    }
  }
  // Then, in one synced batch, the new length, the later blocks' checksums
  // dropped, and the intent to cut the file, which a restart finishes.
  const uint64_t file_size = uint64_t{BlocksIn(length)} * kBs;
  ReplicaInfo info = r.info();
  info.length = length;
  MetaBatch batch(dir);
  batch.PutReplica(info);
  batch.DropBlocksFrom(r.chunk_id, BlocksIn(length));
  batch.PutIntent(Intent{Intent::kTruncate, r.chunk_id, 0, file_size});
  RETURN_IF_ERROR(dir.Commit(batch, /*sync=*/true));
  r.length = length;
  if (Crash(CrashPoint::kBeforeFileCut)) return SimulatedCrash();

  ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(DataFile(r), FileMode::kReadWrite));
  if (file.exists()) {
    struct stat st;
    if (fstat(file.get(), &st) != 0) return Status::FromErrno(errno, "stat " + DataFile(r));
    if (static_cast<uint64_t>(st.st_size) > file_size &&
        ftruncate(file.get(), static_cast<off_t>(file_size)) != 0) {
      return Status::FromErrno(errno, "truncate " + DataFile(r));
    }
  }
  MetaBatch done(dir);
  done.DeleteIntent(Intent::kTruncate, r.chunk_id);
  return dir.Commit(done, /*sync=*/false);
}

// ---------------------------------------------------------------------------
// Reads and verification

Result<ReadResult> ChunkStoreImpl::Read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                                        uint64_t length) {
  if (offset > chunk_size() || length > chunk_size() - offset) {
    return Status::InvalidArgument(Name(chunk_id, version) + ": read of " + std::to_string(length) +
                                   " bytes at offset " + std::to_string(offset) +
                                   " passes the chunk size " + std::to_string(chunk_size()));
  }
  ASSIGN_OR_RETURN(Shared locked, LockShared(chunk_id));
  const Replica& r = *locked.replica;
  RETURN_IF_ERROR(CheckServable(r, version, /*copying_ok=*/false), "reading");
  ReadResult result;
  result.replica_length = r.length;
  if (length == 0) return result;

  const auto first = static_cast<uint32_t>(offset / kBs);
  const auto last = static_cast<uint32_t>((offset + length - 1) / kBs);
  // Blocks from `stored_end` on lie past the length: zeros, never looked up.
  const uint32_t stored_end = std::min(last + 1, std::max(first, BlocksIn(r.length)));
  const uint32_t stored = stored_end - first;
  result.data.resize(uint64_t{last - first + 1} * kBs);  // zeros
  auto* buf = reinterpret_cast<uint8_t*>(result.data.data());
  std::vector<std::optional<uint64_t>> current, pending;
  if (stored > 0) {
    DataDir& dir = *dirs_[r.dir];
    ASSIGN_OR_RETURN(current, dir.BlockSums(chunk_id, first, stored),
                     "reading " << Name(chunk_id, version));
    ASSIGN_OR_RETURN(pending, dir.WriteIntents(chunk_id, first, stored),
                     "reading " << Name(chunk_id, version));
    ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(dir.DataFile(chunk_id), FileMode::kRead));
    // One read per run of written blocks; blocks never written stay zeros.
    for (uint32_t i = 0; i < stored;) {
      if (!current[i] && !pending[i]) {
        ++i;
        continue;
      }
      uint32_t j = i + 1;
      while (j < stored && (current[j] || pending[j]))
        ++j;
      RETURN_IF_ERROR(ReadFileRange(file, (uint64_t{first} + i) * kBs, buf + uint64_t{i} * kBs,
                                    uint64_t{j - i} * kBs),
                      "reading " << dir.DataFile(chunk_id));
      for (; i < j; ++i) {
        const uint64_t actual = BlockChecksum(buf + uint64_t{i} * kBs, kBs);
        if (BlockMatches(actual, current[i], pending[i])) {
          current[i] = actual;  // the checksum of what is returned
          continue;
        }
        Status torn = TornBlock(chunk_id, version, first + i, actual, current[i], pending[i]);
        std::shared_ptr<Replica> replica = locked.replica;
        locked.lock.unlock();
        MarkCorrupt(replica, version, torn);
        return torn;
      }
    }
  }

  // The block checksums of the result, reused where a result piece is a
  // whole stored block.
  const uint64_t head_skip = offset - uint64_t{first} * kBs;
  if (head_skip == 0) {
    for (uint64_t piece = 0; piece * kBs < length; ++piece) {
      const bool whole = (piece + 1) * kBs <= length;
      if (whole && piece >= stored) {
        result.checksums.push_back(ZeroBlockSum());
      } else if (whole && current[piece]) {
        result.checksums.push_back(*current[piece]);
      } else if (whole) {
        result.checksums.push_back(ZeroBlockSum());
      } else {
        result.checksums.push_back(BlockChecksum(buf + piece * kBs, length - piece * kBs));
      }
    }
    result.data.resize(length);
  } else {
    result.data.erase(0, head_skip);
    result.data.resize(length);
    result.checksums = BlockChecksums(result.data.data(), result.data.size());
  }
  return result;
}

Status ChunkStoreImpl::VerifyBlock(uint64_t chunk_id, uint64_t block_index) {
  if (block_index >= chunk_size() / kBs) {
    return Status::InvalidArgument("chunk " + Hex(chunk_id) + ": block " +
                                   std::to_string(block_index) + " past the chunk size");
  }
  const auto block = static_cast<uint32_t>(block_index);
  ASSIGN_OR_RETURN(Shared locked, LockShared(chunk_id));
  const Replica& r = *locked.replica;
  RETURN_IF_ERROR(CheckServable(r, r.version, /*copying_ok=*/false), "verifying");
  if (uint64_t{block} * kBs >= r.length) return Status::Ok();
  DataDir& dir = *dirs_[r.dir];
  ASSIGN_OR_RETURN(auto current, dir.BlockSums(chunk_id, block, 1));
  ASSIGN_OR_RETURN(auto pending, dir.WriteIntents(chunk_id, block, 1));
  if (!current[0] && !pending[0]) return Status::Ok();
  std::vector<uint8_t> bytes(kBs);
  ASSIGN_OR_RETURN(FileHandle file, OpenDataFile(dir.DataFile(chunk_id), FileMode::kRead));
  RETURN_IF_ERROR(ReadFileRange(file, block * kBs, bytes.data(), kBs),
                  "reading " << dir.DataFile(chunk_id));
  const uint64_t actual = BlockChecksum(bytes.data(), kBs);
  if (BlockMatches(actual, current[0], pending[0])) return Status::Ok();
  const uint64_t version = r.version;
  Status torn = TornBlock(chunk_id, version, block, actual, current[0], pending[0]);
  std::shared_ptr<Replica> replica = locked.replica;
  locked.lock.unlock();
  MarkCorrupt(replica, version, torn);
  return torn;
}

void ChunkStoreImpl::MarkCorrupt(const std::shared_ptr<Replica>& r, uint64_t version,
                                 const Status& why) {
  std::unique_lock lock(r->mu);
  // Deleted, or moved to another version, while the lock was let go: the
  // replica that failed is no longer this one.
  if (r->removed || r->version != version) return;
  MarkCorruptLocked(*r, why);
}

void ChunkStoreImpl::MarkCorruptLocked(Replica& r, const Status& why) {
  if (r.state == ReplicaState::kCorrupt) return;
  DFS_LOG(ERROR) << "marking " << Name(r.chunk_id, r.version) << " corrupt: " << why;
  const bool was_copying = r.state == ReplicaState::kCopying;
  r.state = ReplicaState::kCorrupt;
  MetaBatch batch(DirOf(r));
  batch.PutReplica(r.info());
  Status s = DirOf(r).Commit(batch, /*sync=*/true);
  // Still corrupt in memory: not served until the process restarts, when
  // the block is found again.
  if (!s.ok()) DFS_LOG(ERROR) << "recording " << Name(r.chunk_id, r.version) << " corrupt: " << s;
  if (!was_copying) Queue(ReplicaChange::kCorrupt, r.info());
}

// ---------------------------------------------------------------------------
// Durability and versions

Status ChunkStoreImpl::Sync(uint64_t chunk_id, uint64_t version) {
  FileHandle file;
  std::string fanout;
  DataDir* dir = nullptr;
  {
    ASSIGN_OR_RETURN(Shared locked, LockShared(chunk_id));
    const Replica& r = *locked.replica;
    RETURN_IF_ERROR(CheckServable(r, version, /*copying_ok=*/true), "syncing");
    dir = dirs_[r.dir].get();
    ASSIGN_OR_RETURN(file, OpenDataFile(dir->DataFile(chunk_id), FileMode::kRead));
    if (file.exists() && !r.entry_synced) fanout = dir->FanoutDir(chunk_id);
  }
  // Writes that completed before this call are in the page cache of the
  // file; syncing needs no lock, so writes go on meanwhile.
  if (file.exists()) {
    RETURN_IF_ERROR(RingDatasync(file.get()), "syncing " << Name(chunk_id, version));
  }
  if (!fanout.empty()) {
    RETURN_IF_ERROR(FsyncPath(fanout), "syncing " << Name(chunk_id, version));
    if (std::optional<Shared> locked = Find<Shared>(chunk_id)) locked->replica->entry_synced = true;
  }
  return dir->SyncLog().WithContext("syncing " + Name(chunk_id, version));
}

Status ChunkStoreImpl::SetVersion(uint64_t chunk_id, uint64_t old_version, uint64_t new_version) {
  ASSIGN_OR_RETURN(Exclusive locked, LockExclusive(chunk_id));
  Replica& r = *locked.replica;
  if (r.version == new_version) return Status::Ok();
  if (new_version <= old_version) {
    return Status::InvalidArgument(Name(chunk_id, old_version) + ": new version " +
                                   std::to_string(new_version) + " is not newer");
  }
  // old_version 0: from whatever lower version the replica is at.
  if (old_version == 0 && r.version > new_version) {
    return Status::StaleVersion("moving " + Name(chunk_id, r.version) + " to v" +
                                std::to_string(new_version) + ": the replica here is newer");
  }
  const uint64_t from = old_version == 0 ? r.version : old_version;
  RETURN_IF_ERROR(CheckServable(r, from, /*copying_ok=*/true), "moving to v" << new_version);
  ReplicaInfo info = r.info();
  info.version = new_version;
  MetaBatch batch(DirOf(r));
  batch.PutReplica(info);
  RETURN_IF_ERROR(DirOf(r).Commit(batch, /*sync=*/true), Name(chunk_id, from)
                                                             << ": moving to v" << new_version);
  r.version = new_version;
  // The meta leader judges replicas by version: it hears of the move with
  // the next heartbeat (a copy in progress is reported when it finishes).
  if (info.state == ReplicaState::kReady) Queue(ReplicaChange::kAdded, info);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Reports

Result<ReplicaInfo> ChunkStoreImpl::Stat(uint64_t chunk_id) {
  ASSIGN_OR_RETURN(Shared locked, LockShared(chunk_id));
  return locked.replica->info();
}

std::vector<ReplicaInfo> ChunkStoreImpl::List() {
  std::vector<std::shared_ptr<Replica>> replicas;
  {
    std::lock_guard lock(mu_);
    replicas.reserve(index_.size());
    for (const auto& [chunk_id, replica] : index_)
      replicas.push_back(replica);
  }
  std::vector<ReplicaInfo> infos;
  infos.reserve(replicas.size());
  for (const std::shared_ptr<Replica>& replica : replicas) {
    std::shared_lock lock(replica->mu);
    if (!replica->removed) infos.push_back(replica->info());
  }
  return infos;
}

void ChunkStoreImpl::Queue(ReplicaChange::Kind kind, const ReplicaInfo& info) {
  std::lock_guard lock(changes_mu_);
  changes_.push_back(ReplicaChange{kind, info});
}

std::vector<ReplicaChange> ChunkStoreImpl::TakeChanges() {
  std::lock_guard lock(changes_mu_);
  std::vector<ReplicaChange> changes;
  changes.swap(changes_);
  return changes;
}

uint64_t ChunkStoreImpl::CapacityBytes() {
  std::set<dev_t> seen;
  uint64_t total = 0;
  for (const auto& dir : dirs_) {
    struct statvfs vfs;
    if (!seen.insert(dir->device()).second || statvfs(dir->path().c_str(), &vfs) != 0) continue;
    total += uint64_t{vfs.f_blocks} * vfs.f_frsize;
  }
  return options_.capacity > 0 ? std::min(total, options_.capacity) : total;
}

uint64_t ChunkStoreImpl::FreeBytes() {
  std::set<dev_t> seen;
  uint64_t total = 0;
  for (const auto& dir : dirs_) {
    if (!seen.insert(dir->device()).second) continue;
    // The reserve is not offered: the meta leader places nothing where
    // only the reserve is left.
    Result<uint64_t> free = dir->FreeBytes();
    if (free.ok()) total += *free - std::min(*free, dir->reserve());
  }
  if (options_.capacity == 0) return total;
  uint64_t used = 0;
  for (const ReplicaInfo& r : List())
    used += r.length;
  return std::min(total, options_.capacity - std::min(options_.capacity, used));
}

}  // namespace

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(ChunkStoreOptions options) {
  if (options.dirs.empty()) return Status::InvalidArgument("chunk store: no data directories");
  if (options.chunk_size == 0 || options.chunk_size % kBlockSize != 0 ||
      options.chunk_size / kBlockSize > UINT32_MAX) {
    return Status::InvalidArgument("chunk store: chunk size " + std::to_string(options.chunk_size) +
                                   " is not a positive multiple of " + std::to_string(kBlockSize));
  }
  auto store = std::make_unique<ChunkStoreImpl>(std::move(options));
  RETURN_IF_ERROR(store->Init(), "opening chunk store");
  return std::unique_ptr<ChunkStore>(std::move(store));
}

void SimulateCrashForTesting(ChunkStore* store, CrashPoint point) {
  auto* impl = dynamic_cast<ChunkStoreImpl*>(store);
  DFS_CHECK(impl != nullptr) << "not a ChunkStore from ChunkStore::Open";
  impl->SetCrashPoint(point);
}

}  // namespace dfs::server
