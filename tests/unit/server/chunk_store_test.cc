// ChunkStore: replicas, reads and writes at any alignment, checksums,
// versions, copies, reopening, corruption and the crash rules.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "common/checksum.h"
#include "server/chunk_store.h"
#include "server/chunk_store_testing.h"
#include "tests/unit/temp_dir.h"

namespace dfs::server {
namespace {

constexpr uint64_t kBs = kBlockSize;
constexpr uint64_t kChunkSize = 16 * kBs;  // 1 MiB chunks keep the tests small

ErrorCode CodeOf(const Status& status) {
  return status.code();
}
template <class T>
ErrorCode CodeOf(const Result<T>& result) {
  return result.status().code();
}

// `n` bytes that differ with `seed` and never repeat a block.
std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng() % 255 + 1);  // never zero, so holes stand out
  return s;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint64_t> Sums(const std::string& s) {
  return BlockChecksums(s.data(), s.size());
}

// A store in a fresh temporary directory (or several), with a model of
// each chunk's bytes to compare reads against.
class TestStore {
 public:
  explicit TestStore(int dirs = 1) {
    for (int i = 0; i < dirs; ++i)
      dirs_.push_back(tmp_.path() + "/data" + std::to_string(i));
    Reopen();
  }

  ChunkStore* operator->() { return store_.get(); }
  ChunkStore* get() { return store_.get(); }

  // Closes the store and opens it again, as a restarted process does.
  void Reopen() {
    store_.reset();
    Result<std::unique_ptr<ChunkStore>> opened = ChunkStore::Open({dirs_, kChunkSize});
    REQUIRE(opened.ok());
    store_ = std::move(opened).value();
  }

  Status Write(uint64_t chunk, uint64_t version, uint64_t offset, const std::string& data) {
    return store_->Write(chunk, version, offset, Bytes(data), Sums(data));
  }

  // Reads and checks that the checksums returned are those of the data.
  std::string Read(uint64_t chunk, uint64_t version, uint64_t offset, uint64_t length) {
    Result<ReadResult> read = store_->Read(chunk, version, offset, length);
    REQUIRE(read.ok());
    REQUIRE(read->data.size() == length);
    CHECK(read->checksums == Sums(read->data));
    return read->data;
  }

  // The data file of a replica, wherever it is (docs/chunk_store.md).
  std::string DataFile(uint64_t chunk) const {
    char name[64];
    std::snprintf(name, sizeof(name), "/chunks/%02" PRIx64 "/%016" PRIx64, chunk & 0xff, chunk);
    for (const std::string& dir : dirs_) {
      if (std::filesystem::exists(dir + name)) return dir + name;
    }
    return "";
  }

  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  dfs::testing::TempDir tmp_;
  std::vector<std::string> dirs_;
  std::unique_ptr<ChunkStore> store_;
};

// Overwrites bytes of a file in place, as a failing disk (or a torn write) would.
void Scribble(const std::string& path, uint64_t offset, const std::string& bytes) {
  const int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(bytes.size()));
  close(fd);
}

std::string ReadFile(const std::string& path, uint64_t offset, size_t length) {
  std::string bytes(length, '\0');
  const int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  const ssize_t n = pread(fd, bytes.data(), length, static_cast<off_t>(offset));
  close(fd);
  REQUIRE(n >= 0);
  bytes.resize(static_cast<size_t>(n));
  return bytes;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

void Apply(std::string& model, uint64_t offset, const std::string& data) {
  model.replace(offset, data.size(), data);
}

TEST_CASE("ChunkStore: Open refuses bad options", "[server][chunk_store]") {
  dfs::testing::TempDir tmp;
  CHECK(CodeOf(ChunkStore::Open({{}, kChunkSize})) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ChunkStore::Open({{tmp.path()}, 0})) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ChunkStore::Open({{tmp.path()}, kBs + 1})) == ErrorCode::INVALID_ARGUMENT);
}

TEST_CASE("ChunkStore: Create is idempotent at one version and stale at another",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(7, 3).ok());
  CHECK(s->Create(7, 3).ok());  // a retry
  CHECK(CodeOf(s->Create(7, 4)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s->Create(7, 2)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s->Create(8, 0)) == ErrorCode::INVALID_ARGUMENT);

  Result<ReplicaInfo> info = s->Stat(7);
  REQUIRE(info.ok());
  CHECK(info->chunk_id == 7);
  CHECK(info->version == 3);
  CHECK(info->length == 0);
  CHECK(info->state == ReplicaState::kReady);
  CHECK(CodeOf(s->Stat(8)) == ErrorCode::NOT_FOUND);

  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);  // the retry added nothing
  CHECK(changes[0].kind == ReplicaChange::kAdded);
  CHECK(changes[0].info.chunk_id == 7);
  CHECK(changes[0].info.version == 3);
  CHECK(s->TakeChanges().empty());

  // An empty replica reads as zeros.
  CHECK(s.Read(7, 3, 100, 1000) == std::string(1000, '\0'));
}

TEST_CASE("ChunkStore: writes at any alignment read back at any alignment",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  std::string model(kChunkSize, '\0');
  struct Piece {
    uint64_t offset;
    uint64_t size;
  };
  const Piece pieces[] = {
      {0, kBs},                // one aligned block
      {3 * kBs, 2 * kBs},      // aligned, two blocks, leaving a hole at 1-2
      {kBs / 2, 100},          // inside one block, unaligned both ends
      {2 * kBs - 10, 20},      // across a block boundary
      {5 * kBs + 7, 3 * kBs},  // unaligned start, spans four blocks
      {3 * kBs, kBs / 4},      // overwrite the head of a written block
      {9 * kBs, kBs + 1},      // aligned start, one byte into the next block
      {kChunkSize - 5, 5},     // the last bytes of the chunk
  };
  uint64_t seed = 1;
  for (const Piece& p : pieces) {
    const std::string data = Pattern(p.size, seed++);
    INFO("write at " << p.offset << " of " << p.size);
    REQUIRE(s.Write(1, 1, p.offset, data).ok());
    Apply(model, p.offset, data);
    CHECK(s.Read(1, 1, p.offset, p.size) == data);
  }
  CHECK(s->Stat(1)->length == kChunkSize);
  CHECK(s.Read(1, 1, 0, kChunkSize) == model);
  // Holes read as zeros.
  CHECK(s.Read(1, 1, kBs, kBs / 2 - 1) == std::string(kBs / 2 - 1, '\0'));
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, kBs - 1, kBs, 3 * kBs + 5, 7 * kBs + 13}) {
    for (uint64_t length : {uint64_t{1}, uint64_t{100}, kBs, kBs + 1, 3 * kBs - 7}) {
      INFO("read at " << offset << " of " << length);
      CHECK(s.Read(1, 1, offset, length) == model.substr(offset, length));
    }
  }
  CHECK(s.Read(1, 1, 0, 0).empty());
  CHECK(s.Read(1, 1, kChunkSize, 0).empty());
}

TEST_CASE("ChunkStore: bytes past the length read as zeros; the length is the highest byte written",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string data = Pattern(kBs + 300, 1);
  REQUIRE(s.Write(1, 1, 1000, data).ok());
  CHECK(s->Stat(1)->length == 1000 + data.size());
  REQUIRE(s.Write(1, 1, 0, "ab").ok());  // below the length: the length stays
  CHECK(s->Stat(1)->length == 1000 + data.size());
  const std::string all = s.Read(1, 1, 0, kChunkSize);
  CHECK(all.substr(1000, data.size()) == data);
  CHECK(all.substr(1000 + data.size()) == std::string(kChunkSize - 1000 - data.size(), '\0'));
  // A read tells the replica's length, wherever it reads (re-replication copies that much).
  CHECK(s->Read(1, 1, kChunkSize - 10, 10)->replica_length == 1000 + data.size());
  CHECK(CodeOf(s->Read(1, 1, kChunkSize - 10, 11)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->Read(1, 1, kChunkSize + 1, 0)) == ErrorCode::INVALID_ARGUMENT);
}

TEST_CASE("ChunkStore: blocks never written read as zeros without touching the disk",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  REQUIRE(s.Write(1, 1, 0, Pattern(kBs, 1)).ok());
  REQUIRE(s.Write(1, 1, 2 * kBs, Pattern(kBs, 2)).ok());
  // Junk in the hole of the data file is never read: block 1 has no checksum.
  Scribble(s.DataFile(1), kBs + 10, "junk");
  CHECK(s.Read(1, 1, kBs, kBs) == std::string(kBs, '\0'));
  CHECK(s->VerifyBlock(1, 1).ok());
  CHECK(s->Stat(1)->state == ReplicaState::kReady);
}

TEST_CASE("ChunkStore: a refused write changes nothing", "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 2).ok());
  const std::string before = Pattern(3 * kBs, 1);
  REQUIRE(s.Write(1, 2, 0, before).ok());
  const std::string file_before = ReadFile(s.DataFile(1), 0, 4 * kBs);
  const std::string data = Pattern(kBs, 2);

  SECTION("past the chunk size") {
    CHECK(CodeOf(s.Write(1, 2, kChunkSize - 10, data)) == ErrorCode::INVALID_ARGUMENT);
    CHECK(CodeOf(s.Write(1, 2, kChunkSize + kBs, data)) == ErrorCode::INVALID_ARGUMENT);
    CHECK(CodeOf(s.Write(1, 2, UINT64_MAX - 10, data)) == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("empty") {
    CHECK(CodeOf(s.Write(1, 2, 10, "")) == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("wrong number of checksums") {
    std::vector<uint64_t> sums = Sums(data);
    sums.push_back(0);
    CHECK(CodeOf(s->Write(1, 2, 10, Bytes(data), sums)) == ErrorCode::INVALID_ARGUMENT);
    CHECK(CodeOf(s->Write(1, 2, 10, Bytes(data), {})) == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("wrong checksum") {
    std::vector<uint64_t> sums = Sums(data);
    sums[0] ^= 1;
    Status st = s->Write(1, 2, 10, Bytes(data), sums);
    CHECK(CodeOf(st) == ErrorCode::CHECKSUM_MISMATCH);
    CHECK_THAT(st.message(), Catch::Contains("0000000000000001"));
  }
  SECTION("wrong version") {
    Status st = s.Write(1, 1, 10, data);
    CHECK(CodeOf(st) == ErrorCode::STALE_VERSION);
    CHECK_THAT(st.message(), Catch::Contains("chunk 0000000000000001 v1"));
    CHECK(CodeOf(s.Write(1, 3, 10, data)) == ErrorCode::STALE_VERSION);
  }
  SECTION("unknown chunk") {
    CHECK(CodeOf(s.Write(9, 2, 10, data)) == ErrorCode::NOT_FOUND);
    CHECK(s.DataFile(9).empty());
  }
  CHECK(s.Read(1, 2, 0, 3 * kBs) == before);
  CHECK(s->Stat(1)->length == 3 * kBs);
  CHECK(ReadFile(s.DataFile(1), 0, 4 * kBs) == file_before);
}

TEST_CASE("ChunkStore: Truncate shrinks and grows; what was cut reads as zeros",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string data = Pattern(5 * kBs, 1);
  REQUIRE(s.Write(1, 1, 0, data).ok());

  const uint64_t cut = 2 * kBs + kBs / 3;
  REQUIRE(s->Truncate(1, 1, cut).ok());
  CHECK(s->Stat(1)->length == cut);
  CHECK(s.Read(1, 1, 0, cut) == data.substr(0, cut));
  CHECK(s.Read(1, 1, cut, kChunkSize - cut) == std::string(kChunkSize - cut, '\0'));
  // The blocks past the edge are gone from the file.
  CHECK(FileSize(s.DataFile(1)) <= 3 * kBs);

  REQUIRE(s->Truncate(1, 1, 4 * kBs + 1).ok());
  CHECK(s->Stat(1)->length == 4 * kBs + 1);
  CHECK(s.Read(1, 1, cut, 4 * kBs + 1 - cut) == std::string(4 * kBs + 1 - cut, '\0'));
  for (uint64_t b = 0; b < 5; ++b)
    CHECK(s->VerifyBlock(1, b).ok());

  // A write into the zeroed tail of the edge block merges with zeros.
  REQUIRE(s.Write(1, 1, cut + 10, "xyz").ok());
  std::string expected = data.substr(0, cut) + std::string(10, '\0') + "xyz";
  CHECK(s.Read(1, 1, 0, expected.size()) == expected);

  // Aligned shrink, to zero, and a length past the chunk size.
  REQUIRE(s->Truncate(1, 1, kBs).ok());
  CHECK(s.Read(1, 1, 0, 2 * kBs) == data.substr(0, kBs) + std::string(kBs, '\0'));
  REQUIRE(s->Truncate(1, 1, 0).ok());
  CHECK(s.Read(1, 1, 0, kBs) == std::string(kBs, '\0'));
  CHECK(s->Stat(1)->length == 0);
  CHECK(CodeOf(s->Truncate(1, 1, kChunkSize + 1)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->Truncate(1, 2, 0)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s->Truncate(2, 1, 0)) == ErrorCode::NOT_FOUND);

  s.Reopen();
  CHECK(s->Stat(1)->length == 0);
  CHECK(s.Read(1, 1, 0, kChunkSize) == std::string(kChunkSize, '\0'));
}

TEST_CASE("ChunkStore: SetVersion moves forward, durably; retries are OK",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  REQUIRE(s.Write(1, 1, 0, "hello").ok());
  s->TakeChanges();
  REQUIRE(s->SetVersion(1, 1, 2).ok());
  // The move is reported, so the meta leader sees the replica current.
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kAdded);
  CHECK(changes[0].info.version == 2);
  CHECK(s->SetVersion(1, 1, 2).ok());  // already there: a retry
  CHECK(s->TakeChanges().empty());
  CHECK(CodeOf(s->SetVersion(1, 5, 6)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s->SetVersion(1, 2, 2)) == ErrorCode::OK);  // at new_version already
  CHECK(CodeOf(s->SetVersion(1, 3, 1)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->SetVersion(9, 1, 2)) == ErrorCode::NOT_FOUND);
  CHECK(s->Stat(1)->version == 2);
  CHECK(CodeOf(s->Read(1, 1, 0, 5)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s.Write(1, 1, 0, "x")) == ErrorCode::STALE_VERSION);
  CHECK(s.Read(1, 2, 0, 5) == "hello");

  s.Reopen();
  CHECK(s->Stat(1)->version == 2);
  CHECK(s.Read(1, 2, 0, 5) == "hello");
}

TEST_CASE("ChunkStore: SetVersion from old version 0 raises from any lower version",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  REQUIRE(s.Write(1, 1, 0, "hello").ok());
  // From v1 straight to v4: the replica missed the moves in between.
  REQUIRE(s->SetVersion(1, 0, 4).ok());
  CHECK(s->Stat(1)->version == 4);
  CHECK(s->SetVersion(1, 0, 4).ok());                                 // already there: a retry
  CHECK(CodeOf(s->SetVersion(1, 0, 3)) == ErrorCode::STALE_VERSION);  // newer here
  CHECK(CodeOf(s->SetVersion(1, 0, 0)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->SetVersion(9, 0, 2)) == ErrorCode::NOT_FOUND);
  CHECK(s->Stat(1)->version == 4);
  CHECK(CodeOf(s->Read(1, 1, 0, 5)) == ErrorCode::STALE_VERSION);
  CHECK(s.Read(1, 4, 0, 5) == "hello");

  // A copy in progress moves too and stays kCopying.
  REQUIRE(s->BeginCopy(2, 1).ok());
  REQUIRE(s->SetVersion(2, 0, 3).ok());
  CHECK(s->Stat(2)->version == 3);
  CHECK(s->Stat(2)->state == ReplicaState::kCopying);

  // A corrupt replica does not move.
  REQUIRE(s->Create(3, 1).ok());
  REQUIRE(s.Write(3, 1, 0, Pattern(kBs, 3)).ok());
  Scribble(s.DataFile(3), 100, "bad");
  CHECK(CodeOf(s->VerifyBlock(3, 0)) == ErrorCode::CORRUPT);
  CHECK(CodeOf(s->SetVersion(3, 0, 2)) == ErrorCode::CORRUPT);
  CHECK(s->Stat(3)->version == 1);

  s.Reopen();
  CHECK(s->Stat(1)->version == 4);
  CHECK(s.Read(1, 4, 0, 5) == "hello");
}

TEST_CASE("ChunkStore: a replacing copy takes over a ready replica of its own version",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 3).ok());  // empty and ready, as a writer's Create makes it
  CHECK(CodeOf(s->BeginCopy(1, 3)) == ErrorCode::ALREADY_EXISTS);
  REQUIRE(s->BeginCopy(1, 3, /*replace=*/true).ok());
  CHECK(s->Stat(1)->state == ReplicaState::kCopying);
  // A second replacing copy while this one runs is refused, not mixed in.
  CHECK(CodeOf(s->BeginCopy(1, 3, /*replace=*/true)) == ErrorCode::UNAVAILABLE);
  const std::string data = Pattern(kBs + 5, 3);
  REQUIRE(s.Write(1, 3, 0, data).ok());
  REQUIRE(s->FinishCopy(1, 3, data.size()).ok());
  CHECK(s.Read(1, 3, 0, data.size()) == data);
  // Never over a newer replica.
  CHECK(CodeOf(s->BeginCopy(1, 2, /*replace=*/true)) == ErrorCode::ALREADY_EXISTS);
}

TEST_CASE("ChunkStore: a copy is written, then committed or dropped", "[server][chunk_store]") {
  TestStore s;
  const std::string data = Pattern(2 * kBs + 17, 1);

  REQUIRE(s->BeginCopy(1, 4).ok());
  CHECK(s->Stat(1)->state == ReplicaState::kCopying);
  CHECK(CodeOf(s->Read(1, 4, 0, 10)) == ErrorCode::UNAVAILABLE);
  CHECK(CodeOf(s->BeginCopy(1, 4)) == ErrorCode::ALREADY_EXISTS);
  REQUIRE(s.Write(1, 4, 0, data).ok());
  REQUIRE(s->FinishCopy(1, 4, data.size()).ok());
  CHECK(s->FinishCopy(1, 4, data.size()).ok());  // a retry
  Result<ReplicaInfo> info = s->Stat(1);
  CHECK(info->state == ReplicaState::kReady);
  CHECK(info->length == data.size());
  CHECK(s.Read(1, 4, 0, data.size()) == data);
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kAdded);
  CHECK(changes[0].info.chunk_id == 1);
  CHECK(changes[0].info.length == data.size());

  // A copy may end shorter than what was written into it: the rest is cut.
  REQUIRE(s->BeginCopy(2, 1).ok());
  REQUIRE(s.Write(2, 1, 0, data).ok());
  Status finished = s->FinishCopy(2, 1, 100);
  INFO(finished);
  REQUIRE(finished.ok());
  CHECK(s.Read(2, 1, 0, 2 * kBs) == data.substr(0, 100) + std::string(2 * kBs - 100, '\0'));
  s->TakeChanges();

  SECTION("an older replica is replaced by a copy") {
    REQUIRE(s->BeginCopy(1, 5).ok());
    CHECK(s->Stat(1)->version == 5);
    changes = s->TakeChanges();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == ReplicaChange::kDeleted);
    CHECK(changes[0].info.version == 4);
    REQUIRE(s->FinishCopy(1, 5, 0).ok());
    CHECK(s.Read(1, 5, 0, kBs) == std::string(kBs, '\0'));  // nothing of v4 is left
    CHECK(CodeOf(s->BeginCopy(1, 3)) == ErrorCode::ALREADY_EXISTS);
  }
  SECTION("a dropped copy leaves nothing") {
    REQUIRE(s->BeginCopy(3, 1).ok());
    REQUIRE(s.Write(3, 1, 0, data).ok());
    REQUIRE_FALSE(s.DataFile(3).empty());
    REQUIRE(s->Delete(3, 1).ok());
    CHECK(CodeOf(s->Stat(3)) == ErrorCode::NOT_FOUND);
    CHECK(s.DataFile(3).empty());
    CHECK(s->TakeChanges().empty());  // a copy was never reported
  }
  SECTION("an unfinished copy is dropped at restart") {
    REQUIRE(s->BeginCopy(3, 1).ok());
    REQUIRE(s.Write(3, 1, 0, data).ok());
    s.Reopen();
    CHECK(CodeOf(s->Stat(3)) == ErrorCode::NOT_FOUND);
    CHECK(s.DataFile(3).empty());
    CHECK(s.Read(1, 4, 0, data.size()) == data);
  }
}

TEST_CASE("ChunkStore: Delete removes replicas up to a version", "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 3).ok());
  REQUIRE(s.Write(1, 3, 0, Pattern(kBs, 1)).ok());
  s->TakeChanges();
  CHECK(CodeOf(s->Delete(1, 2)) == ErrorCode::STALE_VERSION);
  CHECK(s->Stat(1).ok());
  CHECK(s->Delete(9, 100).ok());  // no replica: OK

  REQUIRE(s->Delete(1, 3).ok());
  CHECK(CodeOf(s->Stat(1)) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s->Read(1, 3, 0, 1)) == ErrorCode::NOT_FOUND);
  CHECK(s.DataFile(1).empty());
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kDeleted);
  CHECK(changes[0].info.chunk_id == 1);
  CHECK(changes[0].info.version == 3);

  // Made again, the chunk starts empty, and the deletion stays across a restart.
  REQUIRE(s->Create(1, 4).ok());
  CHECK(s.Read(1, 4, 0, kBs) == std::string(kBs, '\0'));
  REQUIRE(s->Delete(1, 4).ok());
  s.Reopen();
  CHECK(CodeOf(s->Stat(1)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("ChunkStore: List and TakeChanges", "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(30, 1).ok());
  REQUIRE(s->Create(10, 2).ok());
  REQUIRE(s->Create(20, 3).ok());
  REQUIRE(s.Write(20, 3, 0, "abc").ok());
  REQUIRE(s->BeginCopy(40, 1).ok());
  REQUIRE(s->Delete(30, 1).ok());

  std::vector<ReplicaInfo> list = s->List();
  REQUIRE(list.size() == 3);
  CHECK(list[0].chunk_id == 10);
  CHECK(list[0].version == 2);
  CHECK(list[1].chunk_id == 20);
  CHECK(list[1].length == 3);
  CHECK(list[2].chunk_id == 40);
  CHECK(list[2].state == ReplicaState::kCopying);

  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 4);
  CHECK(changes[0].kind == ReplicaChange::kAdded);
  CHECK(changes[0].info.chunk_id == 30);
  CHECK(changes[1].kind == ReplicaChange::kAdded);
  CHECK(changes[1].info.chunk_id == 10);
  CHECK(changes[2].kind == ReplicaChange::kAdded);
  CHECK(changes[2].info.chunk_id == 20);
  CHECK(changes[3].kind == ReplicaChange::kDeleted);
  CHECK(changes[3].info.chunk_id == 30);
  CHECK(s->TakeChanges().empty());
}

TEST_CASE("ChunkStore: reopening keeps data, versions, lengths and checksums",
          "[server][chunk_store]") {
  TestStore s;
  std::string model(kChunkSize, '\0');
  REQUIRE(s->Create(5, 1).ok());
  const std::string a = Pattern(3 * kBs + 11, 1), b = Pattern(777, 2);
  REQUIRE(s.Write(5, 1, kBs / 2, a).ok());
  REQUIRE(s.Write(5, 1, 6 * kBs - 100, b).ok());
  Apply(model, kBs / 2, a);
  Apply(model, 6 * kBs - 100, b);
  REQUIRE(s->Sync(5, 1).ok());
  REQUIRE(s->SetVersion(5, 1, 7).ok());
  REQUIRE(s->Create(6, 1).ok());

  s.Reopen();
  std::vector<ReplicaInfo> list = s->List();
  REQUIRE(list.size() == 2);
  CHECK(list[0].chunk_id == 5);
  CHECK(list[0].version == 7);
  CHECK(list[0].length == 6 * kBs - 100 + 777);
  CHECK(list[0].state == ReplicaState::kReady);
  CHECK(list[1].chunk_id == 6);
  CHECK(s.Read(5, 7, 0, kChunkSize) == model);
  for (uint64_t block = 0; block < kChunkSize / kBs; ++block)
    CHECK(s->VerifyBlock(5, block).ok());
  CHECK(s->TakeChanges().empty());  // nothing new happened
  // The stored checksums are kept: a damaged block is still caught.
  Scribble(s.DataFile(5), kBs + 5, "!");
  CHECK(CodeOf(s->VerifyBlock(5, 1)) == ErrorCode::CORRUPT);
}

TEST_CASE("ChunkStore: Sync checks the replica", "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  CHECK(s->Sync(1, 1).ok());  // no data file yet
  REQUIRE(s.Write(1, 1, 0, "x").ok());
  CHECK(s->Sync(1, 1).ok());
  CHECK(s->Sync(1, 1).ok());
  CHECK(CodeOf(s->Sync(1, 2)) == ErrorCode::STALE_VERSION);
  CHECK(CodeOf(s->Sync(2, 1)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("ChunkStore: a damaged block is caught by Read and never returned",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string data = Pattern(4 * kBs, 1);
  REQUIRE(s.Write(1, 1, 0, data).ok());
  s->TakeChanges();
  // One bit of block 2 flips on disk.
  std::string byte = ReadFile(s.DataFile(1), 2 * kBs + 1234, 1);
  byte[0] ^= 0x10;
  Scribble(s.DataFile(1), 2 * kBs + 1234, byte);

  CHECK(s.Read(1, 1, 0, 2 * kBs) == data.substr(0, 2 * kBs));  // the blocks before are fine
  Result<ReadResult> read = s->Read(1, 1, kBs, 2 * kBs);
  REQUIRE(CodeOf(read) == ErrorCode::CORRUPT);
  CHECK_THAT(read.status().message(), Catch::Contains("chunk 0000000000000001 v1 block 2"));
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kCorrupt);
  CHECK(changes[0].info.chunk_id == 1);
  CHECK(changes[0].info.state == ReplicaState::kCorrupt);

  // Out of service from now on, across a restart too.
  CHECK(CodeOf(s->Read(1, 1, 0, 10)) == ErrorCode::CORRUPT);
  CHECK(CodeOf(s.Write(1, 1, 0, "x")) == ErrorCode::CORRUPT);
  CHECK(CodeOf(s->VerifyBlock(1, 0)) == ErrorCode::CORRUPT);
  s.Reopen();
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
  CHECK(CodeOf(s->Read(1, 1, 0, 10)) == ErrorCode::CORRUPT);
  // It can still be deleted, or replaced by a fresh copy.
  REQUIRE(s->BeginCopy(1, 2).ok());
  CHECK(s->Stat(1)->state == ReplicaState::kCopying);
}

TEST_CASE("ChunkStore: the scrubber's VerifyBlock catches a damaged block",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  REQUIRE(s.Write(1, 1, 0, Pattern(3 * kBs, 1)).ok());
  s->TakeChanges();
  Scribble(s.DataFile(1), kBs, "\x01");
  CHECK(s->VerifyBlock(1, 0).ok());
  CHECK(s->VerifyBlock(1, 2).ok());
  CHECK(s->VerifyBlock(1, 9).ok());  // never written
  CHECK(CodeOf(s->VerifyBlock(1, 16)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->VerifyBlock(2, 0)) == ErrorCode::NOT_FOUND);
  Status st = s->VerifyBlock(1, 1);
  CHECK(CodeOf(st) == ErrorCode::CORRUPT);
  CHECK_THAT(st.message(), Catch::Contains("block 1 (offset 65536)"));
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kCorrupt);
}

TEST_CASE("ChunkStore: an unaligned write over a damaged edge block fails with CORRUPT",
          "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string data = Pattern(2 * kBs, 1);
  REQUIRE(s.Write(1, 1, 0, data).ok());
  Scribble(s.DataFile(1), kBs + 100, "bad");
  const std::string file_before = ReadFile(s.DataFile(1), 0, 2 * kBs);
  CHECK(CodeOf(s.Write(1, 1, kBs + 10, "xyz")) == ErrorCode::CORRUPT);
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
  CHECK(ReadFile(s.DataFile(1), 0, 2 * kBs) == file_before);
  // A whole-block write needs no read of the old block, but the replica is
  // out of service already.
  CHECK(CodeOf(s.Write(1, 1, 0, data.substr(0, kBs))) == ErrorCode::CORRUPT);
}

// The crash rules (docs/chunk_store.md): after a crash at any step of a
// write, each block is old, new, or detected as torn.
TEST_CASE("ChunkStore: a crash before the data is written leaves the old block",
          "[server][chunk_store][crash]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string old_data = Pattern(2 * kBs, 1), new_data = Pattern(2 * kBs, 2);
  REQUIRE(s.Write(1, 1, 0, old_data).ok());
  SimulateCrashForTesting(s.get(), CrashPoint::kAfterIntent);
  CHECK(CodeOf(s.Write(1, 1, kBs / 2, new_data)) == ErrorCode::UNAVAILABLE);
  s.Reopen();
  Result<ReplicaInfo> info = s->Stat(1);
  CHECK(info->state == ReplicaState::kReady);
  // The length may count the lost write; its bytes read as zeros.
  CHECK(s.Read(1, 1, 0, 2 * kBs) == old_data);
  CHECK(s.Read(1, 1, 2 * kBs, kBs) == std::string(kBs, '\0'));
  for (uint64_t b = 0; b < 3; ++b)
    CHECK(s->VerifyBlock(1, b).ok());
  CHECK(s->TakeChanges().empty());
}

TEST_CASE("ChunkStore: a crash after the data is written keeps the new block",
          "[server][chunk_store][crash]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  std::string model(3 * kBs, '\0');
  const std::string old_data = Pattern(2 * kBs, 1), new_data = Pattern(2 * kBs, 2);
  REQUIRE(s.Write(1, 1, 0, old_data).ok());
  Apply(model, 0, old_data);
  SimulateCrashForTesting(s.get(), CrashPoint::kAfterData);
  CHECK(CodeOf(s.Write(1, 1, kBs / 2, new_data)) == ErrorCode::UNAVAILABLE);
  Apply(model, kBs / 2, new_data);
  s.Reopen();
  CHECK(s->Stat(1)->state == ReplicaState::kReady);
  CHECK(s->Stat(1)->length == kBs / 2 + 2 * kBs);
  CHECK(s.Read(1, 1, 0, 3 * kBs) == model);
  // The new checksums are current now: they survive another restart.
  s.Reopen();
  CHECK(s.Read(1, 1, 0, 3 * kBs) == model);
  for (uint64_t b = 0; b < 3; ++b)
    CHECK(s->VerifyBlock(1, b).ok());
}

TEST_CASE("ChunkStore: a torn block is detected at restart and never served",
          "[server][chunk_store][crash]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string old_data = Pattern(kBs, 1), new_data = Pattern(kBs, 2);
  const bool first_write = GENERATE(false, true);
  INFO((first_write ? "over a block never written" : "over a written block"));
  if (!first_write) REQUIRE(s.Write(1, 1, 0, old_data).ok());
  SimulateCrashForTesting(s.get(), CrashPoint::kAfterIntent);
  CHECK(CodeOf(s.Write(1, 1, 0, new_data)) == ErrorCode::UNAVAILABLE);
  // The crash hit in the middle of the data write: half of it landed.
  std::string file = s.DataFile(1);
  if (file.empty()) {  // the write would have made the file
    file = s.dirs()[0] + "/chunks/01/0000000000000001";
    const int fd = open(file.c_str(), O_CREAT | O_WRONLY, 0644);
    REQUIRE(fd >= 0);
    close(fd);
  }
  Scribble(file, 0, new_data.substr(0, kBs / 2));
  s.Reopen();
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
  CHECK(CodeOf(s->Read(1, 1, 0, 10)) == ErrorCode::CORRUPT);
  std::vector<ReplicaChange> changes = s->TakeChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ReplicaChange::kCorrupt);
  CHECK(changes[0].info.chunk_id == 1);
}

TEST_CASE("ChunkStore: data that landed without its intent is detected or ignored",
          "[server][chunk_store][crash]") {
  // Power loss may keep a data write and lose the log records before it.
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string old_data = Pattern(kBs, 1);
  REQUIRE(s.Write(1, 1, 0, old_data).ok());
  SimulateCrashForTesting(s.get(), CrashPoint::kLostIntent);
  CHECK(CodeOf(s.Write(1, 1, 0, Pattern(2 * kBs, 2))) == ErrorCode::UNAVAILABLE);
  s.Reopen();
  // Block 1 was never written as far as the metadata knows: old (zeros, and
  // past the length).
  CHECK(s->Stat(1)->length == kBs);
  CHECK(s.Read(1, 1, kBs, kBs) == std::string(kBs, '\0'));
  // Block 0 holds bytes no checksum knows: detected.
  CHECK(CodeOf(s->Read(1, 1, 0, kBs)) == ErrorCode::CORRUPT);
  CHECK(s->Stat(1)->state == ReplicaState::kCorrupt);
}

TEST_CASE("ChunkStore: a crash inside Truncate is finished at restart",
          "[server][chunk_store][crash]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  const std::string data = Pattern(6 * kBs, 1);
  REQUIRE(s.Write(1, 1, 0, data).ok());
  const uint64_t cut = kBs + 1000;

  SECTION("before the file is cut") {
    SimulateCrashForTesting(s.get(), CrashPoint::kBeforeFileCut);
    CHECK(CodeOf(s->Truncate(1, 1, cut)) == ErrorCode::UNAVAILABLE);
    CHECK(FileSize(s.DataFile(1)) == 6 * kBs);
    s.Reopen();
    CHECK(FileSize(s.DataFile(1)) == 2 * kBs);
    CHECK(s->Stat(1)->length == cut);
    CHECK(s.Read(1, 1, 0, 3 * kBs) == data.substr(0, cut) + std::string(3 * kBs - cut, '\0'));
  }
  SECTION("while zeroing the edge block") {
    SimulateCrashForTesting(s.get(), CrashPoint::kAfterIntent);
    CHECK(CodeOf(s->Truncate(1, 1, cut)) == ErrorCode::UNAVAILABLE);
    s.Reopen();
    // Nothing of the truncate happened.
    CHECK(s->Stat(1)->length == 6 * kBs);
    CHECK(s.Read(1, 1, 0, 6 * kBs) == data);
    REQUIRE(s->Truncate(1, 1, cut).ok());
    CHECK(s.Read(1, 1, 0, 3 * kBs) == data.substr(0, cut) + std::string(3 * kBs - cut, '\0'));
  }
  for (uint64_t b = 0; b < 6; ++b)
    CHECK(s->VerifyBlock(1, b).ok());
}

TEST_CASE("ChunkStore: replicas spread over several directories and are found again",
          "[server][chunk_store]") {
  TestStore s(3);
  for (uint64_t chunk = 1; chunk <= 12; ++chunk) {
    REQUIRE(s->Create(chunk, chunk).ok());
    REQUIRE(s.Write(chunk, chunk, chunk * 100, Pattern(kBs, chunk)).ok());
  }
  std::vector<int> per_dir(3, 0);
  for (uint64_t chunk = 1; chunk <= 12; ++chunk) {
    const std::string file = s.DataFile(chunk);
    for (size_t d = 0; d < 3; ++d)
      per_dir[d] += file.rfind(s.dirs()[d] + "/", 0) == 0 ? 1 : 0;
  }
  // The directories share one file system: they take turns.
  CHECK(per_dir == std::vector<int>{4, 4, 4});

  s.Reopen();
  REQUIRE(s->List().size() == 12);
  for (uint64_t chunk = 1; chunk <= 12; ++chunk)
    CHECK(s.Read(chunk, chunk, chunk * 100, kBs) == Pattern(kBs, chunk));

  // One file system, counted once.
  struct statvfs vfs;
  REQUIRE(statvfs(s.dirs()[0].c_str(), &vfs) == 0);
  CHECK(s->CapacityBytes() == uint64_t{vfs.f_blocks} * vfs.f_frsize);
  CHECK(s->FreeBytes() > 0);
  CHECK(s->FreeBytes() <= s->CapacityBytes());
}

TEST_CASE("ChunkStore: concurrent writers to one chunk lose nothing", "[server][chunk_store]") {
  TestStore s;
  REQUIRE(s->Create(1, 1).ok());
  // Each thread writes its own bytes, but the pieces share blocks, so every
  // write is a read-modify-write of blocks the others change too.
  constexpr int kThreads = 4;
  constexpr uint64_t kPiece = 3000;
  constexpr int kRounds = 40;
  std::string model(kChunkSize, '\0');
  std::vector<std::string> pieces;
  for (int round = 0; round < kRounds; ++round) {
    for (int t = 0; t < kThreads; ++t) {
      pieces.push_back(Pattern(kPiece, round * kThreads + t + 1));
      Apply(model, (round * kThreads + t) * kPiece * 2, pieces.back());
    }
  }
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const int i = round * kThreads + t;
        if (!s.Write(1, 1, i * kPiece * 2, pieces[i]).ok()) failures++;
      }
    });
  }
  // A reader meanwhile never sees an error or bytes that fail their checksum.
  std::thread reader([&] {
    while (!done) {
      Result<ReadResult> read = s->Read(1, 1, 0, kChunkSize);
      if (!read.ok() || read->checksums != Sums(read->data)) failures++;
    }
  });
  for (std::thread& t : threads)
    t.join();
  done = true;
  reader.join();
  CHECK(failures == 0);
  CHECK(s.Read(1, 1, 0, kChunkSize) == model);
  for (uint64_t b = 0; b < kChunkSize / kBs; ++b)
    CHECK(s->VerifyBlock(1, b).ok());
  CHECK(s->Stat(1)->state == ReplicaState::kReady);
}

}  // namespace
}  // namespace dfs::server
