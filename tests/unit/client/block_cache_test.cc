// BlockCache: the RAM LRU, the disk tier across reopening, its bound, damaged
// files, the cluster check, Invalidate and concurrent use.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "client/block_cache.h"
#include "client/block_cache_testing.h"
#include "common/checksum.h"
#include "tests/unit/temp_dir.h"

namespace dfs::client {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kBs = kBlockSize;
constexpr uint64_t kHeader = 48;  // docs/block_cache.md

// `n` bytes that differ with `seed`.
std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

// The one content a key has in these tests, as data_version promises.
std::string DataOf(const BlockKey& key, size_t n = kBs) {
  return Pattern(n, key.inode * 1000003 + key.data_version * 1009 + key.block);
}

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

// Where docs/block_cache.md says the block file of `key` lives.
std::string BlockPath(const std::string& dir, const BlockKey& key) {
  return dir + "/blocks/" + Hex(key.inode) + "/" + Hex(key.data_version) + "-" + Hex(key.block);
}

// The disk tier's charge for a block of `n` bytes: header and data, rounded
// up to 4 KiB.
uint64_t DiskCharge(uint64_t n) {
  return (kHeader + n + 4095) / 4096 * 4096;
}

std::unique_ptr<BlockCache> OpenCache(BlockCacheOptions options) {
  Result<std::unique_ptr<BlockCache>> opened = BlockCache::Open(std::move(options));
  INFO(opened.status());
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

BlockCacheOptions RamOnly(uint64_t ram_bytes) {
  BlockCacheOptions options;
  options.ram_bytes = ram_bytes;
  return options;
}

BlockCacheOptions DiskOnly(const std::string& dir, uint64_t disk_bytes = 1ull << 30) {
  BlockCacheOptions options;
  options.ram_bytes = 0;
  options.dir = dir;
  options.disk_bytes = disk_bytes;
  options.cluster_id = "cluster-a";
  return options;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(file);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x40));
}

TEST_CASE("BlockCache: Get returns what Put stored", "[client][block_cache]") {
  auto cache = OpenCache(RamOnly(1 << 20));
  const BlockKey key{7, 1, 3};
  CHECK_FALSE(cache->Get(key).has_value());
  cache->Put(key, DataOf(key));
  CHECK(cache->Get(key) == DataOf(key));
  const BlockKey short_key{7, 1, 4};
  cache->Put(short_key, DataOf(short_key, 100));  // the last block of a file
  CHECK(cache->Get(short_key) == DataOf(short_key, 100));

  const BlockCacheStats stats = cache->stats();
  CHECK(stats.ram_hits == 2);
  CHECK(stats.misses == 1);
  CHECK(stats.disk_hits == 0);
  CHECK(stats.ram_bytes == kBs + 100);
}

TEST_CASE("BlockCache: Contains tells what is cached without reading or counting it",
          "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/cache";
  const BlockKey in_ram{9, 1, 0}, on_disk{9, 1, 1}, absent{9, 2, 0};
  {
    BlockCacheOptions options = DiskOnly(dir);
    options.ram_bytes = 1 << 20;
    auto cache = OpenCache(options);
    cache->Put(on_disk, DataOf(on_disk));
  }  // written to disk; the reopened cache has it on disk only
  BlockCacheOptions options = DiskOnly(dir);
  options.ram_bytes = 1 << 20;
  auto cache = OpenCache(options);
  cache->Put(in_ram, DataOf(in_ram));
  CHECK(cache->Contains(in_ram));
  CHECK(cache->Contains(on_disk));
  CHECK_FALSE(cache->Contains(absent));
  BlockCacheStats stats = cache->stats();
  CHECK(stats.ram_hits + stats.disk_hits + stats.misses == 0);
  CHECK(stats.ram_bytes == kBs);  // the disk block was not promoted
  cache->Invalidate(9);
  CHECK_FALSE(cache->Contains(in_ram));
  CHECK_FALSE(cache->Contains(on_disk));
}

TEST_CASE("BlockCache: data_version and block are part of the key", "[client][block_cache]") {
  auto cache = OpenCache(RamOnly(1 << 20));
  const BlockKey v1{7, 1, 0}, v2{7, 2, 0}, other_block{7, 1, 1}, other_inode{8, 1, 0};
  cache->Put(v1, DataOf(v1));
  cache->Put(v2, DataOf(v2));
  CHECK(cache->Get(v1) == DataOf(v1));
  CHECK(cache->Get(v2) == DataOf(v2));
  CHECK(DataOf(v1) != DataOf(v2));
  CHECK_FALSE(cache->Get(other_block).has_value());
  CHECK_FALSE(cache->Get(other_inode).has_value());
}

TEST_CASE("BlockCache: the RAM tier evicts the least recently used by bytes",
          "[client][block_cache]") {
  auto cache = OpenCache(RamOnly(3 * kBs));
  const BlockKey a{1, 1, 0}, b{1, 1, 1}, c{1, 1, 2}, d{1, 1, 3};
  cache->Put(a, DataOf(a));
  cache->Put(b, DataOf(b));
  cache->Put(c, DataOf(c));
  CHECK(cache->stats().ram_bytes == 3 * kBs);
  REQUIRE(cache->Get(a).has_value());  // a is now the most recent; b the least
  cache->Put(d, DataOf(d));
  CHECK(cache->stats().ram_bytes == 3 * kBs);
  CHECK_FALSE(cache->Get(b).has_value());
  CHECK(cache->Get(a) == DataOf(a));
  CHECK(cache->Get(c) == DataOf(c));
  CHECK(cache->Get(d) == DataOf(d));

  SECTION("small blocks count by their size") {
    // 3 full blocks in; 3 small ones evict only the least recent full one.
    for (uint64_t i = 0; i < 3; ++i) {
      const BlockKey small{2, 1, i};
      cache->Put(small, DataOf(small, 1000));
    }
    CHECK_FALSE(cache->Get(a).has_value());
    CHECK(cache->Get(c).has_value());
    CHECK(cache->Get(d).has_value());
    CHECK(cache->stats().ram_bytes == 2 * kBs + 3000);
  }
  SECTION("a block larger than the whole tier is not kept") {
    auto tiny = OpenCache(RamOnly(1000));
    tiny->Put(a, DataOf(a));
    CHECK_FALSE(tiny->Get(a).has_value());
    CHECK(tiny->stats().ram_bytes == 0);
  }
}

TEST_CASE("BlockCache: Put of a cached key replaces it without double counting",
          "[client][block_cache]") {
  auto cache = OpenCache(RamOnly(1 << 20));
  const BlockKey key{1, 1, 0};
  cache->Put(key, DataOf(key));
  cache->Put(key, DataOf(key));
  CHECK(cache->stats().ram_bytes == kBs);
  CHECK(cache->Get(key) == DataOf(key));
}

TEST_CASE("BlockCache: the disk tier survives reopening", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/cache";
  const BlockKey full{42, 5, 0}, last{42, 5, 1};
  {
    BlockCacheOptions options = DiskOnly(dir);
    options.ram_bytes = 1 << 20;
    auto cache = OpenCache(options);
    cache->Put(full, DataOf(full));
    cache->Put(last, DataOf(last, 1234));
    CHECK(cache->Get(full) == DataOf(full));  // from RAM at once
    // Destroying the cache finishes its queued disk writes.
  }
  CHECK(fs::file_size(BlockPath(dir, full)) == kHeader + kBs);
  CHECK(fs::file_size(BlockPath(dir, last)) == kHeader + 1234);

  BlockCacheOptions options = DiskOnly(dir);
  options.ram_bytes = 1 << 20;
  auto cache = OpenCache(options);
  BlockCacheStats stats = cache->stats();
  CHECK(stats.disk_bytes == DiskCharge(kBs) + DiskCharge(1234));
  CHECK(stats.ram_bytes == 0);

  CHECK(cache->Get(full) == DataOf(full));
  CHECK(cache->Get(last) == DataOf(last, 1234));
  stats = cache->stats();
  CHECK(stats.disk_hits == 2);
  CHECK(stats.ram_hits == 0);
  CHECK(stats.ram_bytes == kBs + 1234);  // promoted

  CHECK(cache->Get(full) == DataOf(full));
  CHECK(cache->stats().ram_hits == 1);
  CHECK(cache->stats().disk_hits == 2);
}

TEST_CASE("BlockCache: without a RAM tier, Get reads the disk", "[client][block_cache]") {
  testing::TempDir tmp;
  auto cache = OpenCache(DiskOnly(tmp.path()));
  const BlockKey key{3, 9, 2};
  cache->Put(key, DataOf(key));
  FlushForTesting(cache.get());
  CHECK(cache->Get(key) == DataOf(key));
  const BlockCacheStats stats = cache->stats();
  CHECK(stats.disk_hits == 1);
  CHECK(stats.ram_bytes == 0);
  CHECK(stats.disk_bytes == DiskCharge(kBs));
}

TEST_CASE("BlockCache: the disk tier evicts the least recently used", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  auto cache = OpenCache(DiskOnly(dir, 3 * DiskCharge(kBs)));
  std::vector<BlockKey> keys;
  for (uint64_t i = 0; i < 5; ++i)
    keys.push_back(BlockKey{1, 1, i});

  for (int i = 0; i < 3; ++i)
    cache->Put(keys[i], DataOf(keys[i]));
  FlushForTesting(cache.get());
  REQUIRE(cache->Get(keys[0]).has_value());  // keys[1] is now the least recent
  cache->Put(keys[3], DataOf(keys[3]));
  FlushForTesting(cache.get());
  CHECK(cache->stats().disk_bytes == 3 * DiskCharge(kBs));
  CHECK_FALSE(fs::exists(BlockPath(dir, keys[1])));
  CHECK_FALSE(cache->Get(keys[1]).has_value());
  for (int i : {0, 2, 3})
    CHECK(cache->Get(keys[i]) == DataOf(keys[i]));

  SECTION("a smaller bound at Open evicts the oldest files") {
    cache.reset();
    // Write times decide recency across a restart.
    for (int i : {0, 2, 3}) {
      const struct timespec times[2] = {{1000 + i, 0}, {1000 + i, 0}};
      REQUIRE(utimensat(AT_FDCWD, BlockPath(dir, keys[i]).c_str(), times, 0) == 0);
    }
    cache = OpenCache(DiskOnly(dir, 2 * DiskCharge(kBs)));
    CHECK(cache->stats().disk_bytes == 2 * DiskCharge(kBs));
    CHECK_FALSE(fs::exists(BlockPath(dir, keys[0])));
    CHECK(cache->Get(keys[2]) == DataOf(keys[2]));
    CHECK(cache->Get(keys[3]) == DataOf(keys[3]));
  }
  SECTION("the last block of an inode takes its directory with it") {
    const BlockKey lone{2, 1, 0};
    cache->Put(lone, DataOf(lone));
    FlushForTesting(cache.get());
    for (uint64_t i = 10; i < 13; ++i) {
      cache->Put(BlockKey{3, 1, i}, DataOf(BlockKey{3, 1, i}));
      FlushForTesting(cache.get());
    }
    CHECK_FALSE(fs::exists(dir + "/blocks/" + Hex(2)));
  }
}

TEST_CASE("BlockCache: Invalidate drops every version of an inode", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  BlockCacheOptions options = DiskOnly(dir);
  options.ram_bytes = 1 << 20;
  auto cache = OpenCache(options);
  const BlockKey v1{5, 1, 0}, v2{5, 2, 0}, v2b{5, 2, 1}, other{6, 1, 0};
  for (const BlockKey& key : {v1, v2, v2b, other})
    cache->Put(key, DataOf(key));
  FlushForTesting(cache.get());
  REQUIRE(fs::exists(BlockPath(dir, v1)));

  cache->Invalidate(5);
  for (const BlockKey& key : {v1, v2, v2b})
    CHECK_FALSE(cache->Get(key).has_value());
  CHECK(cache->Get(other) == DataOf(other));
  CHECK_FALSE(fs::exists(dir + "/blocks/" + Hex(5)));
  BlockCacheStats stats = cache->stats();
  CHECK(stats.ram_bytes == kBs);
  CHECK(stats.disk_bytes == DiskCharge(kBs));

  // Nothing comes back after a restart.
  cache.reset();
  cache = OpenCache(options);
  for (const BlockKey& key : {v1, v2, v2b})
    CHECK_FALSE(cache->Get(key).has_value());
  CHECK(cache->Get(other) == DataOf(other));

  // The inode can be cached again.
  const BlockKey v3{5, 3, 0};
  cache->Put(v3, DataOf(v3));
  FlushForTesting(cache.get());
  CHECK(fs::exists(BlockPath(dir, v3)));
}

TEST_CASE("BlockCache: Invalidate drops writes still queued", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  auto cache = OpenCache(DiskOnly(dir));
  for (int round = 0; round < 20; ++round) {
    const BlockKey key{9, static_cast<uint64_t>(round), 0};
    cache->Put(key, DataOf(key));
    cache->Invalidate(9);
    FlushForTesting(cache.get());
    CHECK_FALSE(cache->Get(key).has_value());
    CHECK_FALSE(fs::exists(BlockPath(dir, key)));
  }
  CHECK(cache->stats().disk_bytes == 0);
}

TEST_CASE("BlockCache: a damaged block file is dropped, not returned", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  const BlockKey key{11, 2, 7};
  auto cache = OpenCache(DiskOnly(dir));
  cache->Put(key, DataOf(key));
  FlushForTesting(cache.get());
  const std::string path = BlockPath(dir, key);
  REQUIRE(fs::exists(path));

  SECTION("a flipped data byte") {
    FlipByte(path, kHeader + 1000);
  }
  SECTION("a flipped checksum byte") {
    FlipByte(path, 40);
  }
  SECTION("a flipped key byte") {
    FlipByte(path, 16);
  }
  SECTION("a flipped magic byte") {
    FlipByte(path, 0);
  }
  SECTION("a truncated file") {
    fs::resize_file(path, kHeader + 100);
  }
  SECTION("an empty file") {
    fs::resize_file(path, 0);
  }
  SECTION("a longer file") {
    fs::resize_file(path, kHeader + kBs + 1);
  }
  SECTION("a torn file, header only") {
    fs::resize_file(path, kHeader);
  }

  CHECK_FALSE(cache->Get(key).has_value());
  BlockCacheStats stats = cache->stats();
  CHECK(stats.corrupt_dropped == 1);
  CHECK(stats.misses == 1);
  CHECK(stats.disk_bytes == 0);
  CHECK_FALSE(fs::exists(path));

  // A plain miss from now on; the block can be cached again.
  CHECK_FALSE(cache->Get(key).has_value());
  CHECK(cache->stats().corrupt_dropped == 1);
  cache->Put(key, DataOf(key));
  FlushForTesting(cache.get());
  CHECK(cache->Get(key) == DataOf(key));
}

TEST_CASE("BlockCache: damage found at Open", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  const BlockKey good{1, 1, 0}, cut{1, 1, 1}, flipped{1, 1, 2};
  {
    auto cache = OpenCache(DiskOnly(dir));
    for (const BlockKey& key : {good, cut, flipped})
      cache->Put(key, DataOf(key));
  }
  fs::resize_file(BlockPath(dir, cut), 10);  // shorter than a header
  FlipByte(BlockPath(dir, flipped), kHeader + 5);
  tmp.WriteFile("blocks/" + Hex(1) + "/not-a-block", "x");
  fs::create_directories(dir + "/blocks/zz");
  tmp.WriteFile("tmp/" + Hex(1) + "-" + Hex(1) + "-" + Hex(3), "torn");

  auto cache = OpenCache(DiskOnly(dir));
  CHECK(cache->stats().corrupt_dropped == 1);  // the short file, by its size
  CHECK_FALSE(fs::exists(BlockPath(dir, cut)));
  CHECK_FALSE(fs::exists(dir + "/blocks/" + Hex(1) + "/not-a-block"));
  CHECK_FALSE(fs::exists(dir + "/blocks/zz"));
  CHECK(fs::is_empty(dir + "/tmp"));

  CHECK(cache->Get(good) == DataOf(good));
  CHECK_FALSE(cache->Get(cut).has_value());
  CHECK_FALSE(cache->Get(flipped).has_value());  // by its checksum
  const BlockCacheStats stats = cache->stats();
  CHECK(stats.corrupt_dropped == 2);
  CHECK(stats.disk_hits == 1);
  CHECK(stats.disk_bytes == DiskCharge(kBs));
}

TEST_CASE("BlockCache: a cache dir of another cluster is wiped", "[client][block_cache]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  const BlockKey key{1, 1, 0};
  {
    auto cache = OpenCache(DiskOnly(dir));
    cache->Put(key, DataOf(key));
  }
  std::ifstream cluster_file(dir + "/CLUSTER");
  std::string cluster;
  std::getline(cluster_file, cluster);
  CHECK(cluster == "cluster-a");
  tmp.WriteFile("unrelated", "kept");

  BlockCacheOptions other = DiskOnly(dir);
  other.cluster_id = "cluster-b";
  {
    auto cache = OpenCache(other);
    CHECK(cache->stats().disk_bytes == 0);
    CHECK_FALSE(cache->Get(key).has_value());
    CHECK_FALSE(fs::exists(BlockPath(dir, key)));
    CHECK(fs::exists(dir + "/unrelated"));  // only what the cache owns goes
  }
  std::ifstream again(dir + "/CLUSTER");
  std::getline(again, cluster);
  CHECK(cluster == "cluster-b");

  // And back: cluster-a's block is gone for good.
  auto cache = OpenCache(DiskOnly(dir));
  CHECK_FALSE(cache->Get(key).has_value());

  SECTION("blocks without a CLUSTER file are not trusted either") {
    cache->Put(key, DataOf(key));
    cache.reset();
    fs::remove(dir + "/CLUSTER");
    cache = OpenCache(DiskOnly(dir));
    CHECK_FALSE(cache->Get(key).has_value());
    CHECK(fs::exists(dir + "/CLUSTER"));
  }
}

TEST_CASE("BlockCache: Open fails clearly on a dir it cannot use", "[client][block_cache]") {
  testing::TempDir tmp;
  SECTION("a file in the way") {
    const std::string file = tmp.WriteFile("file", "x");
    Result<std::unique_ptr<BlockCache>> opened = BlockCache::Open(DiskOnly(file + "/cache"));
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains(file));
  }
  SECTION("no cluster id") {
    BlockCacheOptions options = DiskOnly(tmp.path());
    options.cluster_id.clear();
    Result<std::unique_ptr<BlockCache>> opened = BlockCache::Open(options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("a dir in use by another cache") {
    auto first = OpenCache(DiskOnly(tmp.path()));
    Result<std::unique_ptr<BlockCache>> second = BlockCache::Open(DiskOnly(tmp.path()));
    REQUIRE_FALSE(second.ok());
    CHECK_THAT(second.status().message(), Catch::Contains("in use"));
    first.reset();
    CHECK(BlockCache::Open(DiskOnly(tmp.path())).ok());
  }
  SECTION("a dir without write permission") {
    if (geteuid() == 0) return;  // root writes anyway
    const std::string ro = tmp.path() + "/ro";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    Result<std::unique_ptr<BlockCache>> opened = BlockCache::Open(DiskOnly(ro));
    fs::permissions(ro, fs::perms::owner_all);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == ErrorCode::PERMISSION_DENIED);
  }
}

TEST_CASE("BlockCache: concurrent Put, Get and Invalidate stay consistent",
          "[client][block_cache]") {
  testing::TempDir tmp;
  BlockCacheOptions options = DiskOnly(tmp.path(), 40 * DiskCharge(4096));
  options.ram_bytes = 20 * 4096;  // both tiers evict all the time
  auto cache = OpenCache(options);

  constexpr int kThreads = 4;
  constexpr int kOps = 4000;
  // Sizes vary with the key: short last blocks among small full ones.
  auto size_of = [](const BlockKey& key) {
    return static_cast<size_t>(1 + (key.block * 997) % 4096);
  };
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < kOps; ++i) {
        const BlockKey key{rng() % 4, rng() % 3, rng() % 30};
        const uint64_t op = rng() % 100;
        if (op < 45) {
          cache->Put(key, DataOf(key, size_of(key)));
        } else if (op < 98) {
          std::optional<std::string> got = cache->Get(key);
          if (got) {
            ++hits;
            if (*got != DataOf(key, size_of(key))) ++wrong;
          }
        } else {
          cache->Invalidate(key.inode);
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  CHECK(wrong == 0);
  CHECK(hits > 0);

  FlushForTesting(cache.get());
  BlockCacheStats stats = cache->stats();
  CHECK(stats.ram_bytes <= options.ram_bytes);
  CHECK(stats.disk_bytes <= options.disk_bytes);
  CHECK(stats.corrupt_dropped == 0);
  CHECK(stats.ram_hits + stats.disk_hits == hits);

  // The index matches the files: after a restart every block the disk holds
  // is correct, and the accounting agrees with what is on disk.
  cache.reset();
  options.ram_bytes = 0;
  cache = OpenCache(options);
  const uint64_t disk_bytes = cache->stats().disk_bytes;
  CHECK(disk_bytes <= options.disk_bytes);
  uint64_t found = 0;
  for (uint64_t inode = 0; inode < 4; ++inode) {
    for (uint64_t version = 0; version < 3; ++version) {
      for (uint64_t block = 0; block < 30; ++block) {
        const BlockKey key{inode, version, block};
        std::optional<std::string> got = cache->Get(key);
        if (!got) continue;
        CHECK(*got == DataOf(key, size_of(key)));
        found += DiskCharge(got->size());
      }
    }
  }
  CHECK(found == disk_bytes);
  CHECK(cache->stats().corrupt_dropped == 0);
}

}  // namespace
}  // namespace dfs::client
