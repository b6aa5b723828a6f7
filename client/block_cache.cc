// The block cache: an LRU in RAM over an LRU of one file per block on local
// disk, written by a background thread. The on-disk format, the eviction
// policy and what happens after a crash: docs/block_cache.md.
#include "client/block_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "client/block_cache_testing.h"
#include "common/checksum.h"
#include "common/logging.h"

namespace dfs::client {
namespace {

namespace fs = std::filesystem;

// The block file header: docs/block_cache.md, "Block files".
constexpr char kMagic[8] = {'d', 'f', 's', 'c', 'a', 'c', 'h', 'e'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 48;
constexpr size_t kMaxFileSize = kHeaderSize + kBlockSize;

// What a block file is charged against disk_bytes: its size rounded up to
// the 4 KiB a file system allocates at least, so that many small blocks
// cannot take far more disk than the bound says.
constexpr uint64_t kDiskAllocationUnit = 4096;

// Bytes of Put data waiting for the disk writer; beyond this, Put skips the
// disk tier rather than block a reader or grow memory without bound.
constexpr uint64_t kMaxQueuedBytes = 32ull << 20;

constexpr char kClusterFile[] = "CLUSTER";
constexpr char kLockFile[] = "LOCK";
constexpr char kBlocksDir[] = "blocks";
constexpr char kTempDir[] = "tmp";

uint64_t DiskCharge(uint64_t file_size) {
  return (file_size + kDiskAllocationUnit - 1) / kDiskAllocationUnit * kDiskAllocationUnit;
}

uint64_t Mix(uint64_t x) {  // the finalizer of MurmurHash3
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

struct KeyHash {
  size_t operator()(const BlockKey& key) const {
    return static_cast<size_t>(Mix(key.inode ^ Mix(key.data_version ^ Mix(key.block))));
  }
};

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

// Parses exactly 16 lowercase hex digits, as Hex writes them.
std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(digit);
  }
  return v;
}

std::string KeyName(const BlockKey& key) {
  return "inode " + std::to_string(key.inode) + " v" + std::to_string(key.data_version) +
         " block " + std::to_string(key.block);
}

void PutLe(char* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t GetLe(const char* in, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// An open file descriptor, closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  // Closes now, reporting the error a deferred write may surface at close.
  int Close() {
    const int rc = close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Reads up to `len` bytes at `offset`; fewer only at the end of the file.
Result<size_t> ReadAt(int fd, char* buf, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "write");
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& path) {
  Fd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return Status::FromErrno(errno, "open " + path);
  if (fsync(dir.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return Status::Ok();
}

// What reading one block file found.
struct BlockFile {
  enum State { kGood, kMissing, kDamaged, kUnreadable };
  State state = kGood;
  std::string data;     // kGood: the block
  std::string problem;  // otherwise: why not
};

BlockFile Bad(BlockFile::State state, std::string problem) {
  return BlockFile{state, std::string(), std::move(problem)};
}

// Reads and verifies the block file of `key` at `path`.
BlockFile ReadBlockFile(const std::string& path, const BlockKey& key) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Bad(BlockFile::kMissing, "no such file");
    return Bad(BlockFile::kUnreadable, Status::FromErrno(errno, "open").ToString());
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Bad(BlockFile::kUnreadable, Status::FromErrno(errno, "fstat").ToString());
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderSize || size > kMaxFileSize)
    return Bad(BlockFile::kDamaged, "file of " + std::to_string(size) + " bytes");

  char header[kHeaderSize];
  Result<size_t> got = ReadAt(fd.get(), header, kHeaderSize, 0);
  if (!got.ok()) return Bad(BlockFile::kUnreadable, got.status().ToString());
  if (*got != kHeaderSize) return Bad(BlockFile::kDamaged, "short header");
  if (std::memcmp(header, kMagic, sizeof(kMagic)) != 0) return Bad(BlockFile::kDamaged, "no magic");
  const uint64_t version = GetLe(header + 8, 4);
  if (version != kFormatVersion)
    return Bad(BlockFile::kDamaged, "format version " + std::to_string(version));
  const uint64_t length = GetLe(header + 12, 4);
  const BlockKey named{GetLe(header + 16, 8), GetLe(header + 24, 8), GetLe(header + 32, 8)};
  if (!(named == key)) return Bad(BlockFile::kDamaged, "header names " + KeyName(named));
  if (length != size - kHeaderSize) {
    return Bad(BlockFile::kDamaged, "header says " + std::to_string(length) + " bytes, file has " +
                                        std::to_string(size - kHeaderSize));
  }
  const uint64_t checksum = GetLe(header + 40, 8);

  BlockFile file;
  file.data.resize(length);
  got = ReadAt(fd.get(), file.data.data(), length, kHeaderSize);
  if (!got.ok()) return Bad(BlockFile::kUnreadable, got.status().ToString());
  if (*got != length) return Bad(BlockFile::kDamaged, "short data");
  if (BlockChecksum(file.data.data(), file.data.size()) != checksum)
    return Bad(BlockFile::kDamaged, "checksum mismatch");
  return file;
}

// Writes the block file of `key` to `temp`, then renames it to `path`,
// making `dir` (the inode's directory) if it is missing. No fsync: a file
// torn by a crash fails its length or checksum when read.
Status WriteBlockFile(const std::string& temp, const std::string& dir, const std::string& path,
                      const BlockKey& key, const std::string& data) {
  char header[kHeaderSize];
  std::memcpy(header, kMagic, sizeof(kMagic));
  PutLe(header + 8, kFormatVersion, 4);
  PutLe(header + 12, data.size(), 4);
  PutLe(header + 16, key.inode, 8);
  PutLe(header + 24, key.data_version, 8);
  PutLe(header + 32, key.block, 8);
  PutLe(header + 40, BlockChecksum(data.data(), data.size()), 8);

  Status status = [&]() -> Status {
    Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Status::FromErrno(errno, "create " + temp);
    RETURN_IF_ERROR(WriteAll(fd.get(), header, kHeaderSize), temp);
    RETURN_IF_ERROR(WriteAll(fd.get(), data.data(), data.size()), temp);
    if (const int err = fd.Close(); err != 0) return Status::FromErrno(err, "close " + temp);
    if (rename(temp.c_str(), path.c_str()) == 0) return Status::Ok();
    if (errno != ENOENT) return Status::FromErrno(errno, "rename to " + path);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FromErrno(errno, "mkdir " + dir);
    if (rename(temp.c_str(), path.c_str()) != 0)
      return Status::FromErrno(errno, "rename to " + path);
    return Status::Ok();
  }();
  if (!status.ok()) unlink(temp.c_str());
  return status;
}

// Reads a small file whole; nullopt if it does not exist.
Result<std::optional<std::string>> ReadSmallFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Status::FromErrno(errno, "open " + path);
  }
  std::string content(4096, '\0');
  ASSIGN_OR_RETURN(size_t n, ReadAt(fd.get(), content.data(), content.size(), 0), path);
  content.resize(n);
  return std::optional<std::string>(std::move(content));
}

// Replaces `path` with `content` durably (temp file, fsync, rename, fsync
// of the directory).
Status WriteSmallFileDurably(const std::string& dir, const std::string& path,
                             const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Status::FromErrno(errno, "create " + temp);
    RETURN_IF_ERROR(WriteAll(fd.get(), content.data(), content.size()), temp);
    if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + temp);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "rename to " + path);
  return FsyncDir(dir);
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec && ec.value() != ENOENT) return Status::FromErrno(ec.value(), "remove " + path);
  return Status::Ok();
}

// Entries keyed by BlockKey in least-recently-used order, charged by bytes.
// Find, Touch, Insert and Erase are O(1); EraseInode is O(blocks of the
// inode). Not thread-safe.
template <class V>
class LruMap {
 public:
  struct Entry {
    BlockKey key;
    uint64_t bytes;
    V value;
  };

  // The entry of `key`, or null; its recency is unchanged.
  Entry* Find(const BlockKey& key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &*it->second;
  }

  // The entry of `key`, now the most recently used; or null.
  Entry* Touch(const BlockKey& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    list_.splice(list_.begin(), list_, it->second);
    return &*it->second;
  }

  // Adds `key` as the most recently used entry; an entry of the same key is
  // replaced.
  void Insert(const BlockKey& key, uint64_t bytes, V value) {
    Erase(key);
    list_.push_front(Entry{key, bytes, std::move(value)});
    map_.emplace(key, list_.begin());
    by_inode_[key.inode].insert(key);
    bytes_ += bytes;
  }

  // Removes the entry of `key`, if any.
  std::optional<Entry> Erase(const BlockKey& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return Remove(it->second);
  }

  // Removes and returns the least recently used entry. REQUIRES: !empty().
  Entry PopOldest() { return Remove(std::prev(list_.end())); }

  // Removes every entry of `inode`.
  std::vector<Entry> EraseInode(uint64_t inode) {
    std::vector<Entry> erased;
    auto it = by_inode_.find(inode);
    if (it == by_inode_.end()) return erased;
    const std::unordered_set<BlockKey, KeyHash> keys = std::move(it->second);
    by_inode_.erase(it);
    for (const BlockKey& key : keys) {
      auto entry = map_.find(key);
      bytes_ -= entry->second->bytes;
      erased.push_back(std::move(*entry->second));
      list_.erase(entry->second);
      map_.erase(entry);
    }
    return erased;
  }

  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  using List = std::list<Entry>;

  Entry Remove(typename List::iterator it) {
    auto inode = by_inode_.find(it->key.inode);
    inode->second.erase(it->key);
    if (inode->second.empty()) by_inode_.erase(inode);
    map_.erase(it->key);
    bytes_ -= it->bytes;
    Entry entry = std::move(*it);
    list_.erase(it);
    return entry;
  }

  List list_;  // most recently used first
  std::unordered_map<BlockKey, typename List::iterator, KeyHash> map_;
  std::unordered_map<uint64_t, std::unordered_set<BlockKey, KeyHash>> by_inode_;
  uint64_t bytes_ = 0;
};

using BlockData = std::shared_ptr<const std::string>;

class BlockCacheImpl final : public BlockCache {
 public:
  explicit BlockCacheImpl(BlockCacheOptions options) : options_(std::move(options)) {}
  ~BlockCacheImpl() override;

  // Sets up the disk tier: lock, cluster check, index, writer thread.
  Status Init();

  std::optional<std::string> Get(const BlockKey& key) override;
  bool Contains(const BlockKey& key) override;
  void Put(const BlockKey& key, std::string data) override;
  void Invalidate(uint64_t inode) override;
  BlockCacheStats stats() const override;

  void Flush();

 private:
  // A block file on disk; `id` tells a file from a later one of the same key.
  struct DiskBlock {
    uint64_t id;
  };
  struct PendingWrite {
    BlockKey key;
    BlockData data;
  };
  using RamTier = LruMap<BlockData>;
  using DiskIndex = LruMap<DiskBlock>;

  bool has_disk() const { return !options_.dir.empty(); }
  std::string InodeDir(uint64_t inode) const {
    return options_.dir + "/" + kBlocksDir + "/" + Hex(inode);
  }
  std::string BlockPath(const BlockKey& key) const {
    return InodeDir(key.inode) + "/" + Hex(key.data_version) + "-" + Hex(key.block);
  }
  std::string TempPath(const BlockKey& key) const {
    return options_.dir + "/" + kTempDir + "/" + Hex(key.inode) + "-" + Hex(key.data_version) +
           "-" + Hex(key.block);
  }

  Status LockDir();
  Status CheckCluster();
  Status ScanBlocks();

  void WriterLoop();
  // REQUIRES: mu_ held. Evicts least recently used entries down to the
  // bound; the RAM tier's data is returned to be freed after the lock, the
  // disk tier's files to be removed after it.
  void TrimRam(std::vector<BlockData>* freed);
  std::vector<BlockKey> TrimDisk();
  // Removes evicted block files. Only the writer thread (or Init) may call
  // it: no file of these keys can be in the making meanwhile.
  void RemoveFiles(const std::vector<BlockKey>& keys);

  const BlockCacheOptions options_;
  Fd lock_fd_;  // holds the flock on <dir>/LOCK

  mutable std::mutex mu_;
  // Signals every change of queue_, busy_, writing_, removing_, stopping_.
  std::condition_variable cv_;
  RamTier ram_;
  DiskIndex disk_;
  std::deque<PendingWrite> queue_;  // for the writer, oldest first
  std::unordered_set<BlockKey, KeyHash> queued_;
  uint64_t queued_bytes_ = 0;
  bool busy_ = false;                           // the writer is handling a popped write
  std::optional<BlockKey> writing_;             // the block the writer writes without mu_
  bool writing_cancelled_ = false;              // an Invalidate of writing_'s inode came meanwhile
  std::unordered_map<uint64_t, int> removing_;  // inode -> Invalidates removing its directory
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  uint64_t dropped_writes_ = 0;  // queue full
  uint64_t failed_writes_ = 0;
  BlockCacheStats counters_;  // hits, misses, corrupt_dropped
  std::thread writer_;
};

BlockCacheImpl::~BlockCacheImpl() {
  if (!writer_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

Status BlockCacheImpl::Init() {
  if (!has_disk()) return Status::Ok();
  const std::string& dir = options_.dir;
  if (options_.cluster_id.empty()) {
    return Status::InvalidArgument("block cache " + dir +
                                   ": cluster_id is required with a disk tier");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "create block cache dir " + dir);
  if (!fs::is_directory(dir, ec)) {
    return Status::FromErrno(ec ? ec.value() : ENOTDIR, "block cache dir " + dir);
  }
  RETURN_IF_ERROR(LockDir(), "block cache " << dir);
  RETURN_IF_ERROR(CheckCluster(), "block cache " << dir);
  // Leftovers of writes a crash interrupted.
  RETURN_IF_ERROR(RemoveAll(dir + "/" + kTempDir), "block cache " << dir);
  for (const char* sub : {kTempDir, kBlocksDir}) {
    fs::create_directories(dir + "/" + sub, ec);
    if (ec) return Status::FromErrno(ec.value(), "create " + dir + "/" + sub);
  }
  RETURN_IF_ERROR(ScanBlocks(), "block cache " << dir);
  // The bound may have shrunk since the files were written.
  RemoveFiles(TrimDisk());
  DFS_LOG(INFO) << "block cache " << dir << ": " << disk_.size() << " blocks, " << disk_.bytes()
                << " bytes on disk (bound " << options_.disk_bytes << ")";
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::Ok();
}

Status BlockCacheImpl::LockDir() {
  const std::string path = options_.dir + "/" + kLockFile;
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return Status::FromErrno(errno, "open " + path);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable(path + " is locked: the dir is in use by another block cache");
    }
    return Status::FromErrno(errno, "flock " + path);
  }
  lock_fd_ = std::move(fd);
  return Status::Ok();
}

// A cache dir is used only by the cluster its CLUSTER file names. Without
// one (a new dir, or a wipe a crash interrupted) the blocks cannot be
// trusted either: both cases wipe what the cache owns and write CLUSTER.
Status BlockCacheImpl::CheckCluster() {
  const std::string& dir = options_.dir;
  const std::string path = dir + "/" + kClusterFile;
  ASSIGN_OR_RETURN(std::optional<std::string> found, ReadSmallFile(path));
  if (found) {
    if (!found->empty() && found->back() == '\n') found->pop_back();
    if (*found == options_.cluster_id) return Status::Ok();
    DFS_LOG(WARN) << "block cache " << dir << " holds blocks of cluster '" << *found
                  << "', not of '" << options_.cluster_id << "': wiping it";
  } else {
    DFS_LOG(INFO) << "block cache " << dir << " has no " << kClusterFile
                  << ": starting it empty for cluster '" << options_.cluster_id << "'";
  }
  // The wipe is durable before CLUSTER names the new cluster; a crash in
  // between leaves the old name, and the next Open wipes again.
  bool wiped = false;
  for (const char* sub : {kBlocksDir, kTempDir}) {
    const std::string p = dir + "/" + sub;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    RETURN_IF_ERROR(RemoveAll(p));
    wiped = true;
  }
  if (wiped) RETURN_IF_ERROR(FsyncDir(dir));
  return WriteSmallFileDurably(dir, path, options_.cluster_id + "\n");
}

// Rebuilds the disk index from blocks/. Recency is approximated by the
// files' mtimes (write time). Files the format does not allow are deleted.
Status BlockCacheImpl::ScanBlocks() {
  struct Found {
    BlockKey key;
    uint64_t charge;
    struct timespec mtime;
  };
  std::vector<Found> found;
  const std::string blocks = options_.dir + "/" + kBlocksDir;
  std::error_code ec;
  const fs::directory_iterator end;
  for (fs::directory_iterator inodes(blocks, ec); !ec && inodes != end; inodes.increment(ec)) {
    const std::string inode_path = inodes->path().string();
    const std::optional<uint64_t> inode = ParseHex(inodes->path().filename().string());
    std::error_code type_ec;
    if (!inode || inodes->symlink_status(type_ec).type() != fs::file_type::directory) {
      DFS_LOG(WARN) << "block cache: removing stray " << inode_path;
      RemoveAll(inode_path).IgnoreError();
      continue;
    }
    size_t kept = 0;
    std::error_code files_ec;
    for (fs::directory_iterator files(inode_path, files_ec); !files_ec && files != end;
         files.increment(files_ec)) {
      const std::string path = files->path().string();
      const std::string name = files->path().filename().string();
      std::optional<uint64_t> version, block;
      if (name.size() == 33 && name[16] == '-') {
        version = ParseHex(std::string_view(name).substr(0, 16));
        block = ParseHex(std::string_view(name).substr(17));
      }
      struct stat st;
      if (!version || !block || lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        DFS_LOG(WARN) << "block cache: removing stray " << path;
        RemoveAll(path).IgnoreError();
        continue;
      }
      const uint64_t size = static_cast<uint64_t>(st.st_size);
      if (size < kHeaderSize || size > kMaxFileSize) {
        DFS_LOG(WARN) << "block cache: dropping damaged " << path << " (" << size << " bytes)";
        unlink(path.c_str());
        ++counters_.corrupt_dropped;
        continue;
      }
      found.push_back(Found{BlockKey{*inode, *version, *block}, DiskCharge(size), st.st_mtim});
      ++kept;
    }
    if (files_ec) return Status::FromErrno(files_ec.value(), "list " + inode_path);
    if (kept == 0) rmdir(inode_path.c_str());
  }
  if (ec) return Status::FromErrno(ec.value(), "list " + blocks);
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
    return a.mtime.tv_nsec < b.mtime.tv_nsec;
  });
  for (const Found& f : found)  // oldest first, so the newest ends most recent
    disk_.Insert(f.key, f.charge, DiskBlock{next_id_++});
  return Status::Ok();
}

bool BlockCacheImpl::Contains(const BlockKey& key) {
  std::lock_guard lock(mu_);
  return ram_.Find(key) != nullptr || (has_disk() && disk_.Find(key) != nullptr);
}

std::optional<std::string> BlockCacheImpl::Get(const BlockKey& key) {
  BlockData in_ram;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (RamTier::Entry* entry = ram_.Touch(key)) {
      in_ram = entry->value;
      ++counters_.ram_hits;
      // A block hot in RAM stays on disk too.
      if (has_disk()) disk_.Touch(key);
    } else if (DiskIndex::Entry* block = has_disk() ? disk_.Touch(key) : nullptr) {
      id = block->value.id;
    } else {
      ++counters_.misses;
      return std::nullopt;
    }
  }
  if (in_ram) return std::string(*in_ram);

  const std::string path = BlockPath(key);
  BlockFile file = ReadBlockFile(path, key);
  BlockData promoted;
  if (file.state == BlockFile::kGood && file.data.size() <= options_.ram_bytes)
    promoted = std::make_shared<const std::string>(file.data);

  std::vector<BlockData> freed;  // declared before the lock: freed after it is released
  std::lock_guard lock(mu_);
  // Whether the index still holds the file just read: an Invalidate or an
  // eviction may have taken it meanwhile.
  DiskIndex::Entry* entry = disk_.Find(key);
  const bool indexed = entry != nullptr && entry->value.id == id;
  switch (file.state) {
    case BlockFile::kGood:
      ++counters_.disk_hits;
      if (indexed && promoted) {
        ram_.Insert(key, promoted->size(), promoted);
        TrimRam(&freed);
      }
      return std::move(file.data);
    case BlockFile::kMissing:
      // Removed behind the cache's back, or by an eviction meanwhile.
      if (indexed) disk_.Erase(key);
      break;
    case BlockFile::kDamaged:
    case BlockFile::kUnreadable:
      if (indexed) {
        DFS_LOG(WARN) << "block cache: dropping " << path << ": " << file.problem;
        disk_.Erase(key);
        // Under mu_: the writer may write this key again once it is out of
        // the index, and that file must not be the one removed here.
        unlink(path.c_str());
        if (file.state == BlockFile::kDamaged) ++counters_.corrupt_dropped;
      }
      break;
  }
  ++counters_.misses;
  return std::nullopt;
}

void BlockCacheImpl::Put(const BlockKey& key, std::string data) {
  DFS_CHECK_LE(data.size(), kBlockSize) << "block cache: block too large, " << KeyName(key);
  if (data.empty()) return;  // no such block; and it would cost nothing to keep forever
  const bool to_ram = data.size() <= options_.ram_bytes;
  const bool to_disk = has_disk() && DiskCharge(kHeaderSize + data.size()) <= options_.disk_bytes;
  if (!to_ram && !to_disk) return;
  auto block = std::make_shared<const std::string>(std::move(data));

  std::vector<BlockData> freed;  // declared before the lock: freed after it is released
  std::lock_guard lock(mu_);
  if (to_ram) {
    ram_.Insert(key, block->size(), block);
    TrimRam(&freed);
  }
  if (!to_disk || disk_.Touch(key) != nullptr || queued_.contains(key)) return;
  if (queued_bytes_ + block->size() > kMaxQueuedBytes) {
    ++dropped_writes_;
    DFS_LOG_IF(WARN, std::has_single_bit(dropped_writes_))
        << "block cache: disk writer behind, " << dropped_writes_ << " blocks not written to disk";
    return;
  }
  queued_bytes_ += block->size();
  queued_.insert(key);
  queue_.push_back(PendingWrite{key, std::move(block)});
  cv_.notify_all();
}

void BlockCacheImpl::Invalidate(uint64_t inode) {
  std::vector<RamTier::Entry> freed;  // declared before the lock: freed after it is released
  {
    std::unique_lock lock(mu_);
    freed = ram_.EraseInode(inode);
    if (!has_disk()) return;
    disk_.EraseInode(inode);
    std::erase_if(queue_, [&](const PendingWrite& w) {
      if (w.key.inode != inode) return false;
      queued_.erase(w.key);
      queued_bytes_ -= w.data->size();
      return true;
    });
    // The directory goes once no file of the inode is in the making; Puts
    // from now on wait in the writer until it is gone (removing_).
    ++removing_[inode];
    if (writing_ && writing_->inode == inode) writing_cancelled_ = true;
    cv_.wait(lock, [&] { return !(writing_ && writing_->inode == inode); });
  }
  const Status removed = RemoveAll(InodeDir(inode));
  DFS_LOG_IF(WARN, !removed.ok()) << "block cache: invalidating inode " << inode << ": " << removed;
  {
    std::lock_guard lock(mu_);
    if (--removing_[inode] == 0) removing_.erase(inode);
  }
  cv_.notify_all();
}

BlockCacheStats BlockCacheImpl::stats() const {
  std::lock_guard lock(mu_);
  BlockCacheStats stats = counters_;
  stats.ram_bytes = ram_.bytes();
  stats.disk_bytes = disk_.bytes();
  return stats;
}

void BlockCacheImpl::Flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void BlockCacheImpl::WriterLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every queued write done
    PendingWrite w = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(w.key);
    queued_bytes_ -= w.data->size();
    busy_ = true;
    // Put after an Invalidate of the inode began: its directory is being
    // removed, and this block belongs in the next one.
    cv_.wait(lock, [&] { return !removing_.contains(w.key.inode); });
    std::vector<BlockKey> evicted;
    if (disk_.Find(w.key) == nullptr) {
      writing_ = w.key;
      writing_cancelled_ = false;
      lock.unlock();
      const Status written =
          WriteBlockFile(TempPath(w.key), InodeDir(w.key.inode), BlockPath(w.key), w.key, *w.data);
      lock.lock();
      writing_.reset();
      if (!written.ok()) {
        ++failed_writes_;
        DFS_LOG_IF(WARN, std::has_single_bit(failed_writes_))
            << "block cache: " << written << " (" << failed_writes_ << " failed writes so far)";
      } else if (!writing_cancelled_) {
        // If cancelled, the Invalidate waiting for us removes the file.
        disk_.Insert(w.key, DiskCharge(kHeaderSize + w.data->size()), DiskBlock{next_id_++});
        evicted = TrimDisk();
      }
      cv_.notify_all();  // an Invalidate may wait for writing_
    }
    if (!evicted.empty()) {
      lock.unlock();
      RemoveFiles(evicted);
      lock.lock();
    }
    busy_ = false;
    cv_.notify_all();
  }
}

void BlockCacheImpl::TrimRam(std::vector<BlockData>* freed) {
  while (ram_.bytes() > options_.ram_bytes)
    freed->push_back(ram_.PopOldest().value);
}

std::vector<BlockKey> BlockCacheImpl::TrimDisk() {
  std::vector<BlockKey> evicted;
  while (disk_.bytes() > options_.disk_bytes)
    evicted.push_back(disk_.PopOldest().key);
  return evicted;
}

void BlockCacheImpl::RemoveFiles(const std::vector<BlockKey>& keys) {
  for (const BlockKey& key : keys) {
    const std::string path = BlockPath(key);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      DFS_LOG(WARN) << "block cache: " << Status::FromErrno(errno, "remove " + path);
    }
    // Fails unless it was the inode's last block; keeps blocks/ small.
    rmdir(InodeDir(key.inode).c_str());
  }
}

}  // namespace

Result<std::unique_ptr<BlockCache>> BlockCache::Open(BlockCacheOptions options) {
  auto cache = std::make_unique<BlockCacheImpl>(std::move(options));
  RETURN_IF_ERROR(cache->Init());
  return std::unique_ptr<BlockCache>(std::move(cache));
}

void FlushForTesting(BlockCache* cache) {
  auto* impl = dynamic_cast<BlockCacheImpl*>(cache);
  DFS_CHECK(impl != nullptr) << "not a BlockCache from BlockCache::Open";
  impl->Flush();
}

}  // namespace dfs::client
