// Integration: libdfsclient (client/file_system.h) over three real dfs-meta
// and three real dfs-chunkserver processes in three zones. Files across
// several chunks read back exactly; a chunk server killed with -9 while a
// file is written or read costs the application nothing; the block cache
// serves a second read without the chunk servers.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <signal.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "client/file_system.h"
#include "client/meta_client.h"
#include "tests/support/bytes.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/meta_leader.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kRoot = 1;
constexpr uint64_t kChunk = 4 << 20;

class Cluster {
 public:
  // `trash_days` "0": an unlinked file's inode goes at once.
  explicit Cluster(const std::string& chunk_size = "4MiB", const std::string& dead_after = "3s",
                   const std::string& trash_days = "1")
      : meta_("dfs-meta", 3,
              {"--chunk-size", chunk_size, "--node-dead-after", dead_after, "--trash-days",
               trash_days}),
        chunks_(meta_.dir() + "/chunk", 3, meta_.AddressList(), {"--scrub-rate", "0"}) {
    for (int i = 1; i <= 3; i++)
      REQUIRE(chunks_.WaitRegistered(i));
  }

  std::unique_ptr<client::FileSystem> Mount(const std::string& zone = "z1",
                                            const std::string& cache_dir = "",
                                            uint64_t readahead = 4 << 20) {
    client::FileSystemOptions o;
    o.readahead = readahead;
    o.meta = meta_.AddressList();
    o.zone = zone;
    o.meta_timeout = 30s;
    o.chunk_timeout = 3s;
    o.cache_dir = cache_dir;
    auto fs = client::FileSystem::Open(o);
    REQUIRE(fs.ok());
    return std::move(fs).value();
  }

  uint64_t Leader() const { return testing::MetaLeader(meta_); }

  testing::ChunkServers& chunks() { return chunks_; }
  testing::ServerGroup& meta() { return meta_; }
  // The chunk server index (1..3) with this node id.
  int Index(uint64_t node_id) {
    for (int i = 1; i <= 3; i++)
      if (chunks_.node_id(i) == node_id) return i;
    return 0;
  }

 private:
  testing::ServerGroup meta_;
  testing::ChunkServers chunks_;
};

using testing::Pattern;

bool Same(const std::string& a, const std::string& b) {
  return a == b;
}

// Writes `data` in 1 MiB pieces through a fresh handle and closes it.
void WriteFile(client::FileSystem& fs, const std::string& name, const std::string& data,
               const std::function<void(size_t)>& after_piece = {}) {
  client::Caller root;
  auto h = fs.CreateFile(root, kRoot, name, 0644, O_WRONLY | O_CREAT | O_EXCL);
  REQUIRE(h.ok());
  for (size_t off = 0, i = 0; off < data.size(); off += 1 << 20, i++) {
    auto n = fs.Write(h->handle, off, std::string_view(data).substr(off, 1 << 20));
    REQUIRE(n.ok());
    if (after_piece) after_piece(i);
  }
  Status s = fs.Release(h->handle);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

std::string ReadFile(client::FileSystem& fs, const std::string& name, size_t piece = 1 << 20,
                     const std::function<void(size_t)>& after_piece = {}) {
  client::Caller root;
  auto attr = fs.Lookup(root, kRoot, name);
  REQUIRE(attr.ok());
  auto h = fs.OpenFile(root, attr->inode(), O_RDONLY);
  REQUIRE(h.ok());
  std::string out;
  for (size_t i = 0;; i++) {
    auto got = fs.Read(h->handle, out.size(), piece);
    INFO(got.status().ToString());
    REQUIRE(got.ok());
    if (got->empty()) break;
    out += *got;
    if (after_piece) after_piece(i);
  }
  REQUIRE(fs.Release(h->handle).ok());
  return out;
}

TEST_CASE("files across chunks read back exactly; the cache serves a second read") {
  Cluster c;
  auto fs = c.Mount();
  const std::string data = Pattern(3 * kChunk + 12345, 1);
  WriteFile(*fs, "big.bin", data);
  client::Caller root;
  auto attr = fs->Lookup(root, kRoot, "big.bin");
  REQUIRE(attr.ok());
  CHECK(attr->size() == data.size());

  auto other = c.Mount("z2");
  CHECK(Same(ReadFile(*other, "big.bin"), data));
  // Odd-sized reads at odd places.
  auto h = other->OpenFile(root, attr->inode(), O_RDONLY);
  REQUIRE(h.ok());
  auto mid = other->Read(h->handle, kChunk - 1000, 5000);
  REQUIRE(mid.ok());
  CHECK(Same(*mid, data.substr(kChunk - 1000, 5000)));
  auto tail = other->Read(h->handle, data.size() - 10, 100);
  REQUIRE(tail.ok());
  CHECK(Same(*tail, data.substr(data.size() - 10)));
  REQUIRE(other->Release(h->handle).ok());

  uint64_t reads = other->stats().chunk_reads;
  CHECK(Same(ReadFile(*other, "big.bin"), data));
  CHECK(other->stats().chunk_reads == reads);  // all from the block cache
  CHECK(other->stats().cache_hits > 0);

  SECTION("overwrite, sparse extension and truncate") {
    auto w = fs->OpenFile(root, attr->inode(), O_RDWR);
    REQUIRE(w.ok());
    std::string expect = data;
    REQUIRE(fs->Write(w->handle, 100, "hello").ok());
    expect.replace(100, 5, "hello");
    const uint64_t far = 5 * kChunk + 7;
    REQUIRE(fs->Write(w->handle, far, "end").ok());
    expect.resize(far, '\0');
    expect += "end";
    REQUIRE(fs->Release(w->handle).ok());
    CHECK(Same(ReadFile(*other, "big.bin"), expect));

    pb::SetAttrRequest cut;
    cut.set_inode(attr->inode());
    cut.set_valid(pb::SETATTR_SIZE);
    cut.set_size(kChunk + 10);
    REQUIRE(fs->SetAttr(root, cut).ok());
    expect.resize(kChunk + 10);
    CHECK(Same(ReadFile(*other, "big.bin"), expect));
    // Growing again shows zeros where the cut bytes were.
    cut.set_size(kChunk + 5000);
    REQUIRE(fs->SetAttr(root, cut).ok());
    expect.resize(kChunk + 5000, '\0');
    CHECK(Same(ReadFile(*other, "big.bin"), expect));
  }
}

TEST_CASE("a chunk server killed with -9 mid-write costs the writer nothing") {
  Cluster c;
  auto fs = c.Mount();
  const std::string data = Pattern(2 * kChunk + 777, 2);
  bool killed = false;
  WriteFile(*fs, "upload.bin", data, [&](size_t piece) {
    if (piece == 3 && !killed) {
      c.chunks().Kill(2);
      killed = true;
    }
  });
  CHECK(fs->stats().chain_retries > 0);
  auto reader = c.Mount("z3");
  CHECK(Same(ReadFile(*reader, "upload.bin"), data));
}

TEST_CASE("a chunk server killed with -9 mid-read costs the reader nothing") {
  Cluster c;
  auto fs = c.Mount();
  const std::string data = Pattern(2 * kChunk, 3);
  WriteFile(*fs, "movie.bin", data);
  // A reader in zone z1 reads from the z1 server first; kill it halfway.
  auto reader = c.Mount("z1");
  std::string got = ReadFile(*reader, "movie.bin", 1 << 20, [&](size_t piece) {
    if (piece == 2) c.chunks().Kill(1);
  });
  CHECK(Same(got, data));
}

// Chaos seed 11 with the namespace history: a file created on one mount
// and unlinked by another before the creator's open(2) returned. The
// kernel checks permissions on the new inode (a GETATTR) before open
// returns; the inode was gone, and the create failed with ENOENT (or,
// with ESTALE, the kernel created the file a second time).
TEST_CASE("getattr of a file open here that another mount removed answers, with no links") {
  Cluster c("4MiB", "3s", "0");  // no trash: the inode goes with its last link
  auto a = c.Mount("z1");
  auto b = c.Mount("z2");
  client::Caller root;
  auto created = a->CreateFile(root, kRoot, "brief.txt", 0644, O_WRONLY | O_CREAT | O_EXCL);
  REQUIRE(created.ok());
  const uint64_t inode = created->attr.inode();
  REQUIRE(b->Unlink(root, kRoot, "brief.txt").ok());
  auto attr = a->GetAttr(root, inode);
  INFO(attr.status().ToString());
  REQUIRE(attr.ok());
  CHECK(attr->inode() == inode);
  CHECK(attr->nlink() == 0);
  a->Release(created->handle).IgnoreError();  // its flush may fail: the file is gone
  // Not open anywhere: NOT_FOUND (the mount makes it ESTALE).
  CHECK(a->GetAttr(root, inode).status().code() == ErrorCode::NOT_FOUND);
}

// Chaos seed 7 (after the fixes): a reader in zone z2 waited 50 s for one
// 1 MiB read: the partitioned chunk server of its zone was asked first by
// every read and let each wait out the chunk timeout. Now the first read
// waits once and the server is asked last for a while.
TEST_CASE("a chunk server that does not answer costs one read timeout, not one per read") {
  // The meta service keeps the paused server in every chain meanwhile.
  Cluster c("1MiB", "60s");
  auto writer = c.Mount("z2");
  const std::string data = Pattern(8 << 20, 5);  // eight chunks, a replica of each in every zone
  WriteFile(*writer, "page.bin", data);
  WriteFile(*writer, "first.bin", "x");
  // Asks the z1 server first; chunk_timeout 3 s; no readahead, so that
  // each chunk is read by one call, one after another.
  auto reader = c.Mount("z1", "", 0);
  const int z1 = 1;
  REQUIRE(c.chunks().zone(z1) == "z1");
  // A connection to it is up before it stops answering (as in a
  // partition): calls on it wait for their deadline instead of failing
  // fast.
  REQUIRE(ReadFile(*reader, "first.bin") == "x");
  testing::PausedProcesses paused;
  REQUIRE(paused.Pause(c.chunks().pid(z1)));
  const auto start = std::chrono::steady_clock::now();
  // One read per chunk, each a new chunk for the reader.
  std::string got = ReadFile(*reader, "page.bin", 1 << 20);
  const auto took = std::chrono::steady_clock::now() - start;
  paused.Resume();
  CHECK(Same(got, data));
  INFO("eight chunk reads took " << std::chrono::duration<double>(took).count() << " s");
  CHECK(took < 6s);  // one 3 s timeout and some; not eight of them
}

// Chaos seed 11: a reader opened before an append cached the chunk's chain.
// The writer (same mount) lost a replica; the leader dropped it with a
// version bump. The dropped replica, still up at the old version without
// the append, answered the reader's read of the appended bytes with zeros
// (a replica reads as zeros past its end), and the kernel kept those pages
// for later opens. The reader must follow the writer's new chain.
TEST_CASE("a reader on the writer's mount never reads a replica the chain dropped") {
  Cluster c;
  const std::string before = Pattern(100000, 41), appended = Pattern(150000, 42);
  WriteFile(*c.Mount("z1"), "log.bin", before);
  client::MetaClientOptions mo;
  mo.servers = c.meta().AddressList();
  mo.timeout = 30s;
  client::MetaClient meta(mo);
  meta.SetClusterId(c.chunks().cluster_id());
  auto attr = meta.Lookup(kRoot, "log.bin");
  REQUIRE(attr.ok());
  auto chunks = meta.GetChunks(attr->inode(), 0, 1);
  REQUIRE(chunks.ok());
  REQUIRE(chunks->chunks_size() == 1);
  // The head: paused, it fails the writer's call to it (the writer blames
  // the head that does not answer), before any data is sent its way.
  const int dropped = c.Index(chunks->chunks(0).replicas(0).node_id());
  REQUIRE(dropped != 0);
  auto fs = c.Mount(c.chunks().zone(dropped));  // reads ask it first

  client::Caller root;
  auto r = fs->OpenFile(root, attr->inode(), O_RDONLY);
  REQUIRE(r.ok());
  auto head = fs->Read(r->handle, 0, 4096);  // the reader caches the chain at v1
  REQUIRE(head.ok());
  CHECK(*head == before.substr(0, 4096));
  auto w = fs->OpenFile(root, attr->inode(), O_WRONLY | O_APPEND);
  REQUIRE(w.ok());
  REQUIRE(fs->Write(w->handle, 0, appended).ok());

  testing::PausedProcesses paused;
  REQUIRE(paused.Pause(c.chunks().pid(dropped)));
  Status flushed = fs->Flush(w->handle);  // the chain goes on without it, at v2
  INFO(flushed.ToString());
  REQUIRE(flushed.ok());
  CHECK(fs->stats().chain_retries > 0);
  REQUIRE(fs->Release(w->handle).ok());
  // The dropped replica answers again, at v1 and 100000 bytes long. The
  // meta servers pause meanwhile, or its next replica report would get it
  // deleted before the read below reaches it.
  for (uint64_t id = 1; id <= 3; id++)
    REQUIRE(paused.Pause(c.meta().pid(id)));
  REQUIRE(kill(c.chunks().pid(dropped), SIGCONT) == 0);

  auto rest = fs->Read(r->handle, before.size(), appended.size());
  INFO(rest.status().ToString());
  REQUIRE(rest.ok());
  CHECK(testing::FirstDifference(*rest, appended) == "");
  paused.Resume();
  REQUIRE(fs->Release(r->handle).ok());
  CHECK(testing::FirstDifference(ReadFile(*fs, "log.bin"), before + appended) == "");
}

TEST_CASE("the meta leader killed during writes: no error reaches the writer") {
  Cluster c;
  auto fs = c.Mount();
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::thread writer([&] {
    for (int i = 0; !stop; i++) {
      WriteFile(*fs, "f" + std::to_string(i), Pattern(100000, i));
      done++;
    }
  });
  while (done < 5)
    std::this_thread::sleep_for(10ms);
  const uint64_t leader = c.Leader();
  REQUIRE(leader != 0);
  c.meta().Kill(leader);
  int before = done;
  while (done < before + 5)
    std::this_thread::sleep_for(10ms);
  stop = true;
  writer.join();
  auto reader = c.Mount("z2");
  for (int i = 0; i < done; i++)
    CHECK(Same(ReadFile(*reader, "f" + std::to_string(i)), Pattern(100000, i)));
}

TEST_CASE("a change on one mount is pushed to another within 200 ms") {
  Cluster c;
  auto a = c.Mount("z1");
  auto b = c.Mount("z2");
  WriteFile(*a, "page.html", "v1");
  client::Caller root;
  auto attr = b->Lookup(root, kRoot, "page.html");
  REQUIRE(attr.ok());
  REQUIRE(ReadFile(*b, "page.html") == "v1");

  std::mutex mu;
  std::set<uint64_t> inodes;
  std::set<std::string> names;
  b->SetInvalidationHandler([&](const pb::WatchEvent& e) {
    std::lock_guard lock(mu);
    inodes.insert(e.inodes().begin(), e.inodes().end());
    for (const auto& entry : e.entries())
      names.insert(entry.name());
  });
  auto seen = [&](auto pred) {
    auto end = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(mu);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(2ms);
    }
    return false;
  };
  // Rewrite on a: b hears of the inode, and its next open reads the new data.
  auto h = a->OpenFile(root, attr->inode(), O_WRONLY | O_TRUNC);
  REQUIRE(h.ok());
  REQUIRE(a->Write(h->handle, 0, "v2 is longer").ok());
  REQUIRE(a->Release(h->handle).ok());
  CHECK(seen([&] { return inodes.count(attr->inode()) > 0; }));
  CHECK(ReadFile(*b, "page.html") == "v2 is longer");
  // A new name on a: b hears of the entry.
  WriteFile(*a, "new.css", "body{}");
  CHECK(seen([&] { return names.count("new.css") > 0; }));
}

TEST_CASE("the default 64 MiB chunk size: writes and reads work") {
  Cluster c("64MiB");
  auto fs = c.Mount();
  const std::string data = Pattern(3 << 20, 5);
  WriteFile(*fs, "default.bin", data);
  CHECK(Same(ReadFile(*c.Mount("z2"), "default.bin"), data));
}

}  // namespace
}  // namespace dfs
