// ChunkStore on a full disk (chunk_store.h, "Full disks"): writes fail
// with NO_SPACE and change nothing, reads go on, nothing aborts (RocksDB
// 7.8 asserts after a failed write of its own files), Open waits for space
// instead of opening RocksDB into a full disk, and the store writes again
// by itself once space is back. Real files and a real RocksDB on a small
// tmpfs filled to the last byte, as the chaos tool's disk-full nemesis does
// (tests/fault/nemesis.cc); skipped where tmpfs cannot be mounted.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "common/checksum.h"
#include "server/chunk_store.h"
#include "tests/unit/temp_dir.h"

namespace dfs::server {
namespace {

constexpr uint64_t kBs = kBlockSize;
constexpr uint64_t kChunkSize = 16 * kBs;  // 1 MiB

std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng() % 255 + 1);
  return s;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A tmpfs of `bytes` of its own, unmounted (with everything in it) at the
// end, and a ballast file to fill it with.
class SmallDisk {
 public:
  explicit SmallDisk(uint64_t bytes) : path_(tmp_.path() + "/disk") {
    if (tmp_.path().empty() || mkdir(path_.c_str(), 0755) != 0) return;
    const std::string options = "size=" + std::to_string(bytes);
    mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }

  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

  uint64_t Free() const {
    struct statvfs vfs;
    REQUIRE(statvfs(path_.c_str(), &vfs) == 0);
    return uint64_t{vfs.f_bavail} * vfs.f_frsize;
  }

  // Takes all but `leave` bytes of what is free, in shrinking steps down to
  // a page, as the nemesis does.
  void Fill(uint64_t leave = 0) {
    const int fd = open(Ballast().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    uint64_t taken = static_cast<uint64_t>(st.st_size);
    for (uint64_t step = 1ull << 30; step >= 4096; step /= 2) {
      while (Free() >= leave + step &&
             fallocate(fd, 0, static_cast<off_t>(taken), static_cast<off_t>(step)) == 0)
        taken += step;
    }
    close(fd);
    REQUIRE(Free() <= leave + 4096);
  }
  void Empty() { REQUIRE(unlink(Ballast().c_str()) == 0); }

 private:
  std::string Ballast() const { return path_ + "/ballast"; }

  dfs::testing::TempDir tmp_;
  const std::string path_;
  bool mounted_ = false;
};

Result<std::unique_ptr<ChunkStore>> OpenOn(const SmallDisk& disk, uint64_t reserve) {
  ChunkStoreOptions options;
  options.dirs = {disk.path() + "/data"};
  options.chunk_size = kChunkSize;
  options.reserve = reserve;
  return ChunkStore::Open(options);
}

Status Write(ChunkStore* store, uint64_t chunk, uint64_t version, uint64_t offset,
             const std::string& data) {
  return store->Write(chunk, version, offset, Bytes(data),
                      BlockChecksums(data.data(), data.size()));
}

std::string Read(ChunkStore* store, uint64_t chunk, uint64_t version, uint64_t length) {
  Result<ReadResult> read = store->Read(chunk, version, 0, length);
  REQUIRE(read.ok());
  return read->data;
}

// The reopen after a failed metadata write is tried at most once a second.
void WaitForReopen() {
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
}

TEST_CASE("ChunkStore: a full disk refuses writes, serves reads, delays Open and recovers",
          "[server][chunk_store][full_disk]") {
  SmallDisk disk(64 << 20);
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs here (not root?): skipped");
    return;
  }
  constexpr uint64_t kReserve = 8 << 20;
  const std::string one = Pattern(kChunkSize, 1);
  const std::string two = Pattern(5 * kBs + 100, 2);
  {
    Result<std::unique_ptr<ChunkStore>> opened = OpenOn(disk, kReserve);
    REQUIRE(opened.ok());
    ChunkStore* store = opened->get();
    REQUIRE(store->Create(1, 1).ok());
    REQUIRE(store->Create(2, 1).ok());
    REQUIRE(store->Create(3, 1).ok());
    REQUIRE(Write(store, 1, 1, 0, one).ok());
    REQUIRE(Write(store, 2, 1, 0, two).ok());
    REQUIRE(store->Sync(1, 1).ok());
    const uint64_t offered = store->FreeBytes();
    CHECK(offered + kReserve <= disk.Free());

    disk.Fill();
    CHECK(store->FreeBytes() == 0);  // nothing offered to the meta leader
    // New data of every kind is refused before anything changes...
    for (int i = 0; i < 50; ++i) {
      CHECK(Write(store, 1, 1, (i % 16) * kBs, Pattern(kBs, 100 + i)).code() ==
            ErrorCode::NO_SPACE);
      CHECK(Write(store, 2, 1, 5 * kBs + 100, Pattern(3 * kBs, 200 + i)).code() ==
            ErrorCode::NO_SPACE);
      CHECK(Write(store, 3, 1, 1000, "unaligned").code() == ErrorCode::NO_SPACE);
    }
    CHECK(store->Create(4, 1).code() == ErrorCode::NO_SPACE);
    CHECK(store->BeginCopy(5, 1).code() == ErrorCode::NO_SPACE);
    // ...while reads go on, and what frees space or only moves versions
    // may use the reserve.
    CHECK(Read(store, 1, 1, kChunkSize) == one);
    CHECK(Read(store, 2, 1, two.size()) == two);
    CHECK(store->VerifyBlock(1, 3).ok());
    CHECK(store->SetVersion(2, 1, 2).ok());
    CHECK(store->Delete(3, 1).ok());
    CHECK(store->Sync(1, 1).ok());
    CHECK(store->Stat(2)->length == two.size());
  }
  // A restart while the disk is full waits instead of opening RocksDB.
  // (Closing gave back what RocksDB had preallocated for its log.)
  disk.Fill();
  Result<std::unique_ptr<ChunkStore>> full = OpenOn(disk, kReserve);
  REQUIRE_FALSE(full.ok());
  CHECK(full.status().code() == ErrorCode::NO_SPACE);

  disk.Empty();
  Result<std::unique_ptr<ChunkStore>> opened = OpenOn(disk, kReserve);
  REQUIRE(opened.ok());
  ChunkStore* store = opened->get();
  CHECK(Read(store, 1, 1, kChunkSize) == one);
  CHECK(Read(store, 2, 2, two.size()) == two);
  CHECK(store->Stat(3).status().code() == ErrorCode::NOT_FOUND);
  const std::string again = Pattern(kChunkSize, 3);
  REQUIRE(store->Create(4, 1).ok());
  REQUIRE(Write(store, 4, 1, 0, again).ok());
  REQUIRE(store->Sync(4, 1).ok());
  CHECK(Read(store, 4, 1, kChunkSize) == again);
}

TEST_CASE("ChunkStore: a failed metadata write stops the directory until space is back",
          "[server][chunk_store][full_disk]") {
  SmallDisk disk(64 << 20);
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs here (not root?): skipped");
    return;
  }
  // Little room when the store opens, so RocksDB cannot preallocate its
  // log, and a reserve too small to stop anything: the disk filling up
  // makes RocksDB's own writes fail, as another process filling it would.
  disk.Fill(2 << 20);
  Result<std::unique_ptr<ChunkStore>> opened = OpenOn(disk, 64 << 10);
  REQUIRE(opened.ok());
  ChunkStore* store = opened->get();
  const std::string data = Pattern(3 * kBs, 4);
  REQUIRE(store->Create(1, 1).ok());
  REQUIRE(Write(store, 1, 1, 0, data).ok());
  REQUIRE(store->Sync(1, 1).ok());
  disk.Fill();

  // Growing by Truncate logs a few bytes and writes no data: repeat until
  // the log cannot take them.
  uint64_t length = data.size();
  Status failed;
  for (int i = 0; i < 100000 && failed.ok(); ++i) {
    failed = store->Truncate(1, 1, length + 1);
    if (failed.ok()) ++length;
  }
  REQUIRE(failed.code() == ErrorCode::NO_SPACE);
  // The directory's RocksDB now takes no writes, syncs included (a synced
  // log after a failed append aborted RocksDB 7.8), and still serves reads.
  for (int i = 0; i < 20; ++i) {
    CHECK(store->Truncate(1, 1, length + 1).code() == ErrorCode::NO_SPACE);
    CHECK(store->Sync(1, 1).code() == ErrorCode::NO_SPACE);
    CHECK(store->SetVersion(1, 1, 2).code() == ErrorCode::NO_SPACE);
  }
  CHECK(Read(store, 1, 1, data.size()) == data);
  CHECK(store->Stat(1)->length == length);
  // Space back: the next write (a second after the failure) reopens it.
  disk.Empty();
  WaitForReopen();
  REQUIRE(store->SetVersion(1, 1, 2).ok());
  REQUIRE(store->Truncate(1, 2, length + 1).ok());
  ++length;
  REQUIRE(store->Sync(1, 2).ok());
  CHECK(Read(store, 1, 2, data.size()) == data);

  // Everything acknowledged is there after a restart.
  opened->reset();
  opened = OpenOn(disk, 64 << 10);
  REQUIRE(opened.ok());
  store = opened->get();
  Result<ReplicaInfo> info = store->Stat(1);
  REQUIRE(info.ok());
  CHECK(info->version == 2);
  CHECK(info->length == length);
  CHECK(Read(store, 1, 2, data.size()) == data);
}

}  // namespace
}  // namespace dfs::server
