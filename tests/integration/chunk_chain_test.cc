// Integration: three real dfs-meta and three real dfs-chunkserver
// processes on loopback. Chunks are placed by the meta leader; data written
// through the head of a chain must be byte-identical on every replica; bad
// requests change nothing; a killed replica is named by the failing write;
// after kill -9 in the middle of a stream of writes no replica serves a
// wrong byte; Rechain brings a new chain (joiners copied from the head,
// members raised) to a new version, atomically with respect to writes.
#define CATCH_CONFIG_MAIN
#include <signal.h>

#include <grpcpp/grpcpp.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "client/chunk_client.h"
#include "client/meta_client.h"
#include "common/checksum.h"
#include "proto/chunk.grpc.pb.h"
#include "tests/support/bytes.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/process.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using testing::FirstDifference;

using namespace std::chrono_literals;

constexpr uint64_t kRoot = 1;
constexpr uint64_t kChunkSize = 8 << 20;

// Three dfs-meta and `servers` chunk servers in zones z1..z<servers>.
class Cluster {
 public:
  explicit Cluster(int servers = 3)
      // No trash: an unlinked file's chunks become garbage at once.
      : meta_("dfs-meta", 3,
              {"--chunk-size", "8MiB", "--node-dead-after", "3s", "--trash-days", "0"}),
        chunks_(meta_.dir() + "/chunk", servers, meta_.AddressList(), {"--scrub-rate", "0"}) {
    for (int i = 1; i <= servers; i++)
      REQUIRE(chunks_.WaitRegistered(i));
    client::MetaClientOptions o;
    o.servers = meta_.AddressList();
    o.timeout = 30s;
    o.rpc_timeout = 2s;
    meta_client_ = std::make_unique<client::MetaClient>(o);
    meta_client_->SetClusterId(chunks_.cluster_id());
    chunk_client_ = std::make_unique<client::ChunkClient>(
        client::ChunkClientOptions{chunks_.cluster_id(), std::chrono::milliseconds(10000)});
  }

  // A new file's first chunk, placed by the meta leader and created on
  // every replica of its chain.
  pb::ChunkLocation NewChunk(const std::string& name) {
    auto file = meta_client_->Create(kRoot, name, pb::FILE_TYPE_REGULAR, 0644, true);
    REQUIRE(file.ok());
    auto chunk = meta_client_->AllocateChunk(file->inode(), 0);
    REQUIRE(chunk.ok());
    REQUIRE(chunk->replicas_size() == 3);
    REQUIRE(chunk_client_->Create(*chunk).ok());
    return *chunk;
  }

  // The index (1..size) of the chunk server with this node id.
  int Index(uint64_t node_id) const {
    for (int i = 1; i <= chunks_.size(); i++)
      if (chunks_.node_id(i) == node_id) return i;
    FAIL("unknown node " << node_id);
    return 0;
  }

  client::ChunkClient& chunk_client() { return *chunk_client_; }
  client::MetaClient& meta_client() { return *meta_client_; }
  testing::ChunkServers& chunks() { return chunks_; }

 private:
  testing::ServerGroup meta_;
  testing::ChunkServers chunks_;
  std::unique_ptr<client::MetaClient> meta_client_;
  std::unique_ptr<client::ChunkClient> chunk_client_;
};

using testing::Pattern;

// Applies a write to the expected contents of a chunk.
void Put(std::string* model, uint64_t offset, const std::string& data) {
  if (model->size() < offset + data.size()) model->resize(offset + data.size(), '\0');
  model->replace(offset, data.size(), data);
}

// Every replica of `chunk` holds exactly `model` (and zeros after it).
void CheckReplicas(Cluster& c, const pb::ChunkLocation& chunk, const std::string& model) {
  for (const pb::ChunkReplica& r : chunk.replicas()) {
    INFO("replica " << r.node_id());
    const uint64_t tail = std::min<uint64_t>(4096, kChunkSize - model.size());
    auto all = c.chunk_client().Read(r, chunk.chunk_id(), chunk.version(), 0, model.size() + tail);
    REQUIRE(all.ok());
    CHECK(FirstDifference(all->substr(0, model.size()), model) == "");
    CHECK(FirstDifference(all->substr(model.size()), std::string(tail, '\0')) == "");
    // Reads at odd places agree too.
    auto middle = c.chunk_client().Read(r, chunk.chunk_id(), chunk.version(), 65535, 70001);
    REQUIRE(middle.ok());
    CHECK(FirstDifference(*middle, model.substr(65535, 70001)) == "");
  }
}

pb::RpcHeader Header(const std::string& cluster_id) {
  pb::RpcHeader h;
  h.set_cluster_id(cluster_id);
  return h;
}

std::unique_ptr<pb::ChunkService::Stub> Stub(const std::string& address) {
  return pb::ChunkService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// The data file of a chunk's replica under a data directory: the one file
// named after the chunk id in hex (docs/chunk_store.md).
TEST_CASE("a chain of three replicas holds identical data; bad requests change nothing") {
  Cluster c;
  pb::ChunkLocation chunk = c.NewChunk("photo.jpg");
  client::ChunkClient& cc = c.chunk_client();
  std::string model;
  uint64_t failed = 0;

  // Aligned, unaligned, block-crossing and overwriting writes.
  std::vector<std::pair<uint64_t, std::string>> writes = {
      {0, Pattern(1 << 20, 1)},
      {(1 << 20) + 1234, Pattern(100 * 1024, 2)},
      {(3 << 20) - 5, Pattern(10, 3)},
      {65536 * 3 + 17, Pattern(65536 * 2, 4)},
      {kChunkSize - 65536, Pattern(65536, 5)},
  };
  for (const auto& [offset, data] : writes) {
    REQUIRE(cc.Write(chunk, offset, data, &failed).ok());
    Put(&model, offset, data);
  }
  REQUIRE(cc.Sync(chunk).ok());
  CheckReplicas(c, chunk, model);

  SECTION("bad requests: a clear error and no change on any replica") {
    pb::ChunkLocation stale = chunk;
    stale.set_version(chunk.version() + 1);
    Status s = cc.Write(stale, 0, Pattern(4096, 9), &failed);
    CHECK(s.code() == ErrorCode::STALE_VERSION);
    CHECK(failed == chunk.replicas(0).node_id());

    s = cc.Write(chunk, kChunkSize - 100, Pattern(4096, 9), &failed);
    CHECK(s.code() == ErrorCode::INVALID_ARGUMENT);

    pb::ChunkLocation unknown = chunk;
    unknown.set_chunk_id(chunk.chunk_id() + 1000);
    CHECK(cc.Write(unknown, 0, Pattern(4096, 9)).code() == ErrorCode::NOT_FOUND);

    // A checksum that does not match its data, sent by hand.
    auto head = Stub(chunk.replicas(0).address());
    pb::WriteRequest w;
    *w.mutable_header() = Header(c.chunks().cluster_id());
    w.set_chunk_id(chunk.chunk_id());
    w.set_version(chunk.version());
    w.set_offset(0);
    w.set_data(Pattern(4096, 9));
    w.add_checksums(BlockChecksum(w.data().data(), w.data().size()) ^ 1);
    for (int i = 1; i < chunk.replicas_size(); i++)
      *w.add_chain() = chunk.replicas(i);
    {
      grpc::ClientContext ctx;
      pb::ChainReply reply;
      REQUIRE(head->Write(&ctx, w, &reply).ok());
      CHECK(reply.error().code() == static_cast<uint32_t>(ErrorCode::CHECKSUM_MISMATCH));
    }
    // Another cluster's request.
    *w.mutable_header() = Header("00000000-0000-0000-0000-000000000000");
    w.set_checksums(0, BlockChecksum(w.data().data(), w.data().size()));
    {
      grpc::ClientContext ctx;
      pb::ChainReply reply;
      REQUIRE(head->Write(&ctx, w, &reply).ok());
      CHECK(reply.error().code() == static_cast<uint32_t>(ErrorCode::CLUSTER_MISMATCH));
    }
    CheckReplicas(c, chunk, model);
  }

  SECTION("truncate cuts every replica; bytes past it read as zeros") {
    const uint64_t cut = (1 << 20) + 40000;
    REQUIRE(cc.Truncate(chunk, cut).ok());
    model.resize(cut);
    CheckReplicas(c, chunk, model);
  }

  SECTION("a replica copied from another holds the same bytes") {
    pb::ChunkReplica target = chunk.replicas(2);
    auto stub = Stub(target.address());
    {
      grpc::ClientContext ctx;
      pb::DeleteChunkRequest del;
      *del.mutable_header() = Header(c.chunks().cluster_id());
      del.set_chunk_id(chunk.chunk_id());
      del.set_version(chunk.version());
      pb::Error reply;
      REQUIRE(stub->DeleteChunk(&ctx, del, &reply).ok());
      REQUIRE(reply.code() == 0);
    }
    CHECK(cc.Read(target, chunk.chunk_id(), chunk.version(), 0, 4096).status().code() ==
          ErrorCode::NOT_FOUND);
    grpc::ClientContext ctx;
    pb::ReplicateRequest rep;
    *rep.mutable_header() = Header(c.chunks().cluster_id());
    rep.set_chunk_id(chunk.chunk_id());
    rep.set_version(chunk.version());
    *rep.mutable_source() = chunk.replicas(0);
    pb::ReplicateReply reply;
    REQUIRE(stub->Replicate(&ctx, rep, &reply).ok());
    REQUIRE(reply.error().code() == 0);
    CheckReplicas(c, chunk, model);
  }

  SECTION("a flipped bit on disk is reported, never served") {
    const pb::ChunkReplica& victim = chunk.replicas(0);
    std::string file = c.chunks().ReplicaFile(c.Index(victim.node_id()), chunk.chunk_id());
    REQUIRE(!file.empty());
    {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(70000);
      char byte = 0;
      f.read(&byte, 1);
      byte ^= 0x10;
      f.seekp(70000);
      f.write(&byte, 1);
    }
    // Drop the page cache copy so the read sees the disk: not needed, the
    // write above went through the same page cache.
    auto bad = cc.Read(victim, chunk.chunk_id(), chunk.version(), 65536, 65536);
    CHECK(bad.status().code() == ErrorCode::CORRUPT);
    // The other replicas still serve the right bytes.
    auto good = cc.Read(chunk.replicas(1), chunk.chunk_id(), chunk.version(), 65536, 65536);
    REQUIRE(good.ok());
    CHECK(FirstDifference(*good, model.substr(65536, 65536)) == "");
    // And a copy from the corrupt replica fails instead of spreading it.
    auto stub = Stub(chunk.replicas(2).address());
    grpc::ClientContext ctx;
    pb::DeleteChunkRequest del;
    *del.mutable_header() = Header(c.chunks().cluster_id());
    del.set_chunk_id(chunk.chunk_id());
    del.set_version(chunk.version());
    pb::Error deleted;
    REQUIRE(stub->DeleteChunk(&ctx, del, &deleted).ok());
    grpc::ClientContext ctx2;
    pb::ReplicateRequest rep;
    *rep.mutable_header() = Header(c.chunks().cluster_id());
    rep.set_chunk_id(chunk.chunk_id());
    rep.set_version(chunk.version());
    *rep.mutable_source() = victim;
    pb::ReplicateReply reply;
    REQUIRE(stub->Replicate(&ctx2, rep, &reply).ok());
    CHECK(reply.error().code() == static_cast<uint32_t>(ErrorCode::CORRUPT));
    CHECK(cc.Read(chunk.replicas(2), chunk.chunk_id(), chunk.version(), 0, 4096).status().code() ==
          ErrorCode::NOT_FOUND);
  }
}

TEST_CASE("a killed replica makes the write fail naming it") {
  Cluster c;
  pb::ChunkLocation chunk = c.NewChunk("upload.bin");
  client::ChunkClient& cc = c.chunk_client();
  REQUIRE(cc.Write(chunk, 0, Pattern(65536, 1)).ok());

  const uint64_t middle = chunk.replicas(1).node_id();
  c.chunks().Kill(c.Index(middle));
  uint64_t failed = 0;
  Status s = cc.Write(chunk, 65536, Pattern(65536, 2), &failed);
  CHECK(!s.ok());
  CHECK(failed == middle);

  const uint64_t head = chunk.replicas(0).node_id();
  c.chunks().Kill(c.Index(head));
  s = cc.Write(chunk, 65536, Pattern(65536, 3), &failed);
  CHECK(s.code() == ErrorCode::UNAVAILABLE);
  CHECK(failed == head);
}

TEST_CASE("a silent replica at the end of the chain is named before the caller gives up") {
  Cluster c;
  pb::ChunkLocation chunk = c.NewChunk("silent.bin");
  // A caller with a short deadline: each hop forwards with less time than
  // its own caller has, so the replica before the silent one names it.
  client::ChunkClient quick(client::ChunkClientOptions{c.chunks().cluster_id(), 2000ms});
  REQUIRE(quick.Write(chunk, 0, Pattern(65536, 1)).ok());

  const uint64_t tail = chunk.replicas(2).node_id();
  const pid_t pid = c.chunks().pid(c.Index(tail));
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  uint64_t failed = 0;
  const auto start = std::chrono::steady_clock::now();
  Status s = quick.Write(chunk, 65536, Pattern(65536, 2), &failed);
  const auto took = std::chrono::steady_clock::now() - start;
  ::kill(pid, SIGCONT);
  INFO(s);
  CHECK(!s.ok());
  CHECK(failed == tail);
  CHECK(took < 2000ms);
}

TEST_CASE("kill -9 during a stream of writes: every block verifies or is reported") {
  Cluster c;
  pb::ChunkLocation chunk = c.NewChunk("stream.bin");
  client::ChunkClient& cc = c.chunk_client();
  constexpr uint64_t kBlocks = 64;  // 4 MiB of the chunk
  constexpr uint64_t kPerWrite = 4;

  // Every write fills whole blocks; a block's bytes are a function of the
  // write's seed and the block, so any content can be traced to a write.
  auto block_content = [](uint64_t seed, uint64_t block) {
    return Pattern(kBlockSize, seed * 1000 + block);
  };
  std::map<uint64_t, std::set<uint64_t>> sent;  // block -> seeds sent to it
  std::set<uint64_t> acked_blocks;              // blocks an acknowledged write covered
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::mutex mu;
  std::thread writer([&] {
    std::mt19937_64 rng(7);
    for (uint64_t seed = 1; !stop; seed++) {
      uint64_t first = rng() % (kBlocks - kPerWrite + 1);
      std::string data;
      {
        std::lock_guard lock(mu);
        for (uint64_t b = first; b < first + kPerWrite; b++) {
          data += block_content(seed, b);
          sent[b].insert(seed);
        }
      }
      if (!cc.Write(chunk, first * kBlockSize, data).ok()) break;
      {
        std::lock_guard lock(mu);
        for (uint64_t b = first; b < first + kPerWrite; b++)
          acked_blocks.insert(b);
      }
      acked++;
    }
  });
  while (acked < 50)
    std::this_thread::sleep_for(10ms);
  const int victim = c.Index(chunk.replicas(1).node_id());
  c.chunks().Kill(victim);
  stop = true;
  writer.join();
  REQUIRE(c.chunks().Start(victim));
  REQUIRE(c.chunks().WaitRegistered(victim));

  int verified = 0, reported = 0;
  for (const pb::ChunkReplica& r : chunk.replicas()) {
    for (uint64_t b = 0; b < kBlocks; b++) {
      INFO("replica " << r.node_id() << " block " << b);
      auto got = cc.Read(r, chunk.chunk_id(), chunk.version(), b * kBlockSize, kBlockSize);
      if (!got.ok()) {
        CHECK(got.status().code() == ErrorCode::CORRUPT);
        reported++;
        continue;
      }
      INFO("read " << got->size() << " bytes, first byte " << int(uint8_t((*got)[0])));
      // Zeros are the old content of a block no acknowledged write covered:
      // the write that failed at the kill may have reached some replicas only.
      bool known = !acked_blocks.count(b) && *got == std::string(kBlockSize, '\0');
      for (uint64_t seed : sent[b])
        known = known || *got == block_content(seed, b);
      CHECK(known);
      verified++;
    }
  }
  INFO(verified << " blocks verified, " << reported << " reported corrupt");
  CHECK(verified > 0);
}

// Polls until every replica of `chunk` answers NOT_FOUND; false on timeout.
bool GoneEverywhere(Cluster& c, const pb::ChunkLocation& chunk, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    int gone = 0;
    for (const pb::ChunkReplica& r : chunk.replicas()) {
      auto got = c.chunk_client().Read(r, chunk.chunk_id(), chunk.version(), 0, 4096);
      if (got.status().code() == ErrorCode::NOT_FOUND) gone++;
    }
    if (gone == chunk.replicas_size()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST_CASE("replicas of unlinked files and orphan replicas are deleted by heartbeat") {
  Cluster c;
  pb::ChunkLocation chunk = c.NewChunk("tmp.upload");
  REQUIRE(c.chunk_client().Write(chunk, 0, Pattern(100000, 1)).ok());
  REQUIRE(c.meta_client().Unlink(kRoot, "tmp.upload").ok());
  CHECK(GoneEverywhere(c, chunk, 10s));

  // A replica no file knows of (never allocated by the meta leader).
  pb::ChunkLocation orphan = c.NewChunk("keep.me");
  orphan.set_chunk_id(orphan.chunk_id() + 5000);
  REQUIRE(c.chunk_client().Create(orphan).ok());
  CHECK(GoneEverywhere(c, orphan, 10s));
}

// The chunk server outside `chunk`'s chain (the cluster has one more).
pb::ChunkReplica Outsider(Cluster& c, const pb::ChunkLocation& chunk) {
  for (int i = 1; i <= c.chunks().size(); i++) {
    bool listed = false;
    for (const pb::ChunkReplica& r : chunk.replicas())
      listed = listed || r.node_id() == c.chunks().node_id(i);
    if (!listed) return c.chunks().Replica(i);
  }
  FAIL("every chunk server is in the chain");
  return {};
}

// Sends Rechain to `head`; the RPC itself must get through.
pb::RechainReply Rechain(Cluster& c, const pb::ChunkReplica& head, uint64_t chunk_id,
                         uint64_t version, const std::vector<pb::ChunkReplica>& members,
                         const std::vector<pb::ChunkReplica>& joiners) {
  pb::RechainRequest req;
  *req.mutable_header() = Header(c.chunks().cluster_id());
  req.set_chunk_id(chunk_id);
  req.set_version(version);
  for (const pb::ChunkReplica& m : members)
    *req.add_members() = m;
  for (const pb::ChunkReplica& j : joiners)
    *req.add_joiners() = j;
  *req.mutable_head() = head;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  pb::RechainReply reply;
  grpc::Status rpc = Stub(head.address())->Rechain(&ctx, req, &reply);
  REQUIRE(rpc.ok());
  return reply;
}

// The length a replica reports (ReadReply.replica_length).
uint64_t ReplicaLength(Cluster& c, const pb::ChunkReplica& r, uint64_t chunk_id, uint64_t version) {
  pb::ReadRequest req;
  *req.mutable_header() = Header(c.chunks().cluster_id());
  req.set_chunk_id(chunk_id);
  req.set_version(version);
  req.set_offset(0);
  req.set_length(0);
  grpc::ClientContext ctx;
  pb::ReadReply reply;
  REQUIRE(Stub(r.address())->Read(&ctx, req, &reply).ok());
  REQUIRE(reply.error().code() == 0);
  return reply.replica_length();
}

// `chunk` at `version` on the chain `replicas`.
pb::ChunkLocation Moved(pb::ChunkLocation chunk, uint64_t version,
                        const std::vector<pb::ChunkReplica>& replicas) {
  chunk.set_version(version);
  chunk.clear_replicas();
  for (const pb::ChunkReplica& r : replicas)
    *chunk.add_replicas() = r;
  return chunk;
}

TEST_CASE("Rechain copies the head to a joiner and raises the members") {
  Cluster c(4);
  pb::ChunkLocation chunk = c.NewChunk("rechain.bin");
  client::ChunkClient& cc = c.chunk_client();
  const pb::ChunkReplica a = chunk.replicas(0), b = chunk.replicas(1), d2 = chunk.replicas(2);
  const pb::ChunkReplica d = Outsider(c, chunk);
  const uint64_t v = chunk.version(), id = chunk.chunk_id();

  // The joiner holds an older replica of the chunk, with other bytes and
  // longer than the real one: the copy must replace it, not overlay it.
  pb::ChunkLocation stray = Moved(chunk, v, {d});
  REQUIRE(cc.Create(stray).ok());
  REQUIRE(cc.Write(stray, 0, Pattern(700000, 99)).ok());

  std::string model;
  const std::vector<std::pair<uint64_t, std::string>> writes = {
      {0, Pattern(100000, 1)},    {100013, Pattern(70001, 2)}, {300007, Pattern(150000, 3)},
      {131077, Pattern(9999, 4)}, {500001, Pattern(33333, 5)}, {65535, Pattern(2, 6)},
  };
  for (const auto& [offset, data] : writes) {
    REQUIRE(cc.Write(chunk, offset, data).ok());
    Put(&model, offset, data);
  }

  pb::RechainReply reply = Rechain(c, a, id, v + 1, {b, d2}, {d});
  INFO(reply.error().message());
  REQUIRE(reply.error().code() == 0);
  CHECK(reply.failed_node() == 0);
  CHECK(reply.bytes_copied() >= model.size());

  pb::ChunkLocation moved = Moved(chunk, v + 1, {a, b, d2, d});
  CheckReplicas(c, moved, model);
  for (const pb::ChunkReplica& r : moved.replicas()) {
    INFO("replica " << r.node_id());
    CHECK(cc.Read(r, id, v, 0, 4096).status().code() == ErrorCode::STALE_VERSION);
    CHECK(ReplicaLength(c, r, id, v + 1) == model.size());
  }

  // A retry copies the joiner again (what it holds cannot be trusted), to
  // the same result.
  reply = Rechain(c, a, id, v + 1, {b, d2}, {d});
  CHECK(reply.error().code() == 0);
  CHECK(reply.bytes_copied() >= model.size());
  CheckReplicas(c, moved, model);

  // The new chain takes writes at the new version; the old version is refused.
  const std::string more = Pattern(77777, 7);
  REQUIRE(cc.Write(moved, 400003, more).ok());
  Put(&model, 400003, more);
  CheckReplicas(c, moved, model);
  CHECK(cc.Write(chunk, 0, Pattern(100, 8)).code() == ErrorCode::STALE_VERSION);
  CheckReplicas(c, moved, model);
}

TEST_CASE("Rechain copies over an empty replica a writer created on the joiner") {
  // Regression (chaos seed 1): a failed Rechain left the head raised; a
  // writer's Create then made an empty ready replica at the new version on
  // the joiner, and the retried Rechain took it for a finished copy.
  Cluster c(4);
  pb::ChunkLocation chunk = c.NewChunk("empty-joiner.bin");
  client::ChunkClient& cc = c.chunk_client();
  const pb::ChunkReplica a = chunk.replicas(0), b = chunk.replicas(1), d2 = chunk.replicas(2);
  const pb::ChunkReplica d = Outsider(c, chunk);
  const uint64_t v = chunk.version(), id = chunk.chunk_id();
  const std::string data = Pattern(300000, 11);
  REQUIRE(cc.Write(chunk, 0, data).ok());
  REQUIRE(cc.Create(Moved(chunk, v + 1, {d})).ok());  // empty, ready, at v+1

  pb::RechainReply reply = Rechain(c, a, id, v + 1, {b, d2}, {d});
  INFO(reply.error().message());
  REQUIRE(reply.error().code() == 0);
  CHECK(reply.bytes_copied() >= data.size());
  CheckReplicas(c, Moved(chunk, v + 1, {a, b, d2, d}), data);
}

TEST_CASE("a write racing with Rechain lands on the joiner or is refused as stale") {
  Cluster c(4);
  pb::ChunkLocation chunk = c.NewChunk("race.bin");
  client::ChunkClient& cc = c.chunk_client();
  const pb::ChunkReplica a = chunk.replicas(0), b = chunk.replicas(1), d2 = chunk.replicas(2);
  const pb::ChunkReplica d = Outsider(c, chunk);
  const uint64_t v = chunk.version(), id = chunk.chunk_id();
  // Enough data that the copy takes a while.
  REQUIRE(cc.Write(chunk, 0, Pattern(3 << 20, 1)).ok());
  std::string model = Pattern(3 << 20, 1);

  // One writer, so the writes that succeed were applied in this order.
  std::vector<std::pair<uint64_t, std::string>> acked;
  std::vector<Status> refused;
  std::atomic<int> acked_count{0};
  std::thread writer([&] {
    std::mt19937_64 rng(11);
    const auto end = std::chrono::steady_clock::now() + 60s;
    for (uint64_t seed = 100; std::chrono::steady_clock::now() < end; seed++) {
      const uint64_t offset = rng() % (4 << 20);
      std::string data = Pattern(1 + rng() % 80000, seed);
      Status s = cc.Write(chunk, offset, data);
      if (!s.ok()) {
        refused.push_back(s);
        break;  // after the Rechain every write at v is refused
      }
      acked.emplace_back(offset, std::move(data));
      acked_count++;
    }
  });
  while (acked_count < 20)
    std::this_thread::sleep_for(1ms);
  pb::RechainReply reply = Rechain(c, a, id, v + 1, {b, d2}, {d});
  writer.join();
  INFO(reply.error().message());
  REQUIRE(reply.error().code() == 0);
  REQUIRE(refused.size() == 1);
  INFO(refused[0]);
  CHECK(refused[0].code() == ErrorCode::STALE_VERSION);
  INFO(acked.size() << " writes acknowledged");
  CHECK(acked.size() >= 20);
  for (const auto& [offset, data] : acked)
    Put(&model, offset, data);
  CheckReplicas(c, Moved(chunk, v + 1, {a, b, d2, d}), model);
}

TEST_CASE("Rechain with an unreachable joiner names it; the head keeps the new version") {
  Cluster c(4);
  pb::ChunkLocation chunk = c.NewChunk("lost.bin");
  client::ChunkClient& cc = c.chunk_client();
  const pb::ChunkReplica a = chunk.replicas(0), b = chunk.replicas(1), d2 = chunk.replicas(2);
  const uint64_t v = chunk.version(), id = chunk.chunk_id();
  const std::string data = Pattern(200000, 1);
  REQUIRE(cc.Write(chunk, 1234, data).ok());

  pb::ChunkReplica gone;
  gone.set_node_id(999);
  gone.set_address("127.0.0.1:" + std::to_string(testing::FreePort()));  // nobody listens
  pb::RechainReply reply = Rechain(c, a, id, v + 1, {b, d2}, {gone});
  INFO(reply.error().message());
  CHECK(reply.error().code() == static_cast<uint32_t>(ErrorCode::UNAVAILABLE));
  CHECK(reply.failed_node() == 999);
  CHECK(reply.error().message().find("joiner 999") != std::string::npos);

  // The head moved (and refuses the old version); the members were not reached.
  auto head = cc.Read(a, id, v + 1, 1234, data.size());
  REQUIRE(head.ok());
  CHECK(FirstDifference(*head, data) == "");
  CHECK(cc.Read(a, id, v, 0, 4096).status().code() == ErrorCode::STALE_VERSION);
  for (const pb::ChunkReplica& r : {b, d2}) {
    auto got = cc.Read(r, id, v, 1234, data.size());
    REQUIRE(got.ok());
    CHECK(FirstDifference(*got, data) == "");
  }
}

}  // namespace
}  // namespace dfs
