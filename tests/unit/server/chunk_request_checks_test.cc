#include "server/chunk_request_checks.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>

#include "common/checksum.h"
#include "proto/field_checks.h"

namespace dfs::server {
namespace {

constexpr uint64_t kChunk = 8 << 20;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
const ChunkRequestContext kSelf{kChunk, /*self_node_id=*/1};

void CheckRefused(const Status& s, const std::string& field) {
  INFO(s);
  CHECK(s.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(s.message().find(field) != std::string::npos);
}

pb::ChunkReplica Replica(uint64_t node_id) {
  pb::ChunkReplica r;
  r.set_node_id(node_id);
  r.set_address("127.0.0.1:" + std::to_string(7100 + node_id));
  r.set_zone("z" + std::to_string(node_id));
  return r;
}

pb::WriteRequest Write(uint64_t offset, const std::string& data) {
  pb::WriteRequest w;
  w.mutable_header()->set_cluster_id("0b5c3e4a-6f3c-4d8e-9a51-1f2e3d4c5b6a");
  w.set_chunk_id(9);
  w.set_version(1);
  w.set_offset(offset);
  w.set_data(data);
  std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  w.mutable_checksums()->Assign(sums.begin(), sums.end());
  *w.add_chain() = Replica(2);
  *w.add_chain() = Replica(3);
  return w;
}

TEST_CASE("Chunk request checks: writes", "[chunk_request_checks]") {
  CHECK(CheckRequest(Write(0, std::string(100000, 'd')), kSelf).ok());
  CHECK(CheckRequest(Write(kChunk - 1, "x"), kSelf).ok());

  SECTION("ids and versions") {
    pb::WriteRequest w = Write(0, "x");
    w.set_chunk_id(0);
    CheckRefused(CheckRequest(w, kSelf), "chunk_id");
    w.set_chunk_id(9);
    w.set_version(0);
    CheckRefused(CheckRequest(w, kSelf), "version");
  }
  SECTION("offset and length within the chunk") {
    CheckRefused(CheckRequest(Write(kChunk, "x"), kSelf), "data");
    CheckRefused(CheckRequest(Write(kChunk - 1, "xy"), kSelf), "data");
    CheckRefused(CheckRequest(Write(kMax, "x"), kSelf), "data");
    CheckRefused(CheckRequest(Write(0, ""), kSelf), "data");
    const ChunkRequestContext big{uint64_t{1} << 30, 1};
    CheckRefused(CheckRequest(Write(0, std::string(kMaxIoBytes + 1, 'd')), big), "data");
  }
  SECTION("one checksum per 64 KiB piece") {
    pb::WriteRequest w = Write(0, std::string(kBlockSize + 1, 'd'));
    REQUIRE(w.checksums_size() == 2);
    w.mutable_checksums()->RemoveLast();
    CheckRefused(CheckRequest(w, kSelf), "checksums");
    w.add_checksums(1);
    w.add_checksums(2);
    CheckRefused(CheckRequest(w, kSelf), "checksums");
  }
  SECTION("a chain: bounded, each replica once, never this server") {
    pb::WriteRequest w = Write(0, "x");
    *w.add_chain() = Replica(2);
    CheckRefused(CheckRequest(w, kSelf), "chain");
    w = Write(0, "x");
    *w.add_chain() = Replica(1);
    CheckRefused(CheckRequest(w, kSelf), "chain");
    w = Write(0, "x");
    pb::ChunkReplica same_address = Replica(4);
    same_address.set_address(Replica(2).address());
    *w.add_chain() = same_address;
    CheckRefused(CheckRequest(w, kSelf), "chain");
    w = Write(0, "x");
    w.mutable_chain(0)->set_address("");
    CheckRefused(CheckRequest(w, kSelf), "chain.address");
    w = Write(0, "x");
    w.clear_chain();
    for (int i = 2; i <= kMaxChainLength; i++)
      *w.add_chain() = Replica(static_cast<uint64_t>(i));
    CHECK(CheckRequest(w, kSelf).ok());
    *w.add_chain() = Replica(kMaxChainLength + 1);
    CheckRefused(CheckRequest(w, kSelf), "chain");
  }
}

TEST_CASE("Chunk request checks: reads and chain operations", "[chunk_request_checks]") {
  pb::ReadRequest read;
  read.set_chunk_id(9);
  read.set_version(1);
  read.set_offset(kChunk);
  CHECK(CheckRequest(read, kSelf).ok());  // an empty read at the end
  read.set_length(1);
  CheckRefused(CheckRequest(read, kSelf), "length");
  read.set_offset(0);
  read.set_length(kChunk);
  CHECK(CheckRequest(read, kSelf).ok());
  read.set_length(kMax);
  CheckRefused(CheckRequest(read, kSelf), "length");
  const ChunkRequestContext big{uint64_t{1} << 30, 1};
  read.set_length(kMaxIoBytes + 1);
  CheckRefused(CheckRequest(read, big), "length");

  pb::TruncateChunkRequest truncate;
  truncate.set_chunk_id(9);
  truncate.set_version(1);
  truncate.set_length(kChunk);
  CHECK(CheckRequest(truncate, kSelf).ok());
  truncate.set_length(kChunk + 1);
  CheckRefused(CheckRequest(truncate, kSelf), "length");

  pb::CreateChunkRequest create;
  create.set_chunk_id(9);
  create.set_version(1);
  *create.add_chain() = Replica(2);
  CHECK(CheckRequest(create, kSelf).ok());
  create.set_version(0);
  CheckRefused(CheckRequest(create, kSelf), "version");

  pb::SyncRequest sync;
  sync.set_chunk_id(9);
  sync.set_version(1);
  CHECK(CheckRequest(sync, kSelf).ok());
  *sync.add_chain() = Replica(2);
  sync.mutable_chain(0)->set_node_id(0);
  CheckRefused(CheckRequest(sync, kSelf), "chain.node_id");

  pb::DeleteChunkRequest del;
  del.set_chunk_id(9);
  CheckRefused(CheckRequest(del, kSelf), "version");
}

TEST_CASE("Chunk request checks: versions, copies and rechains", "[chunk_request_checks]") {
  pb::SetVersionRequest sv;
  sv.set_chunk_id(9);
  sv.set_old_version(0);  // from any lower version
  sv.set_new_version(3);
  CHECK(CheckRequest(sv, kSelf).ok());
  sv.set_old_version(3);  // a retry
  CHECK(CheckRequest(sv, kSelf).ok());
  sv.set_old_version(kMax);
  CheckRefused(CheckRequest(sv, kSelf), "old_version");
  sv.set_old_version(0);
  sv.set_new_version(0);
  CheckRefused(CheckRequest(sv, kSelf), "new_version");

  pb::ReplicateRequest copy;
  copy.set_chunk_id(9);
  copy.set_version(2);
  *copy.mutable_source() = Replica(2);
  CHECK(CheckRequest(copy, kSelf).ok());
  *copy.mutable_source() = Replica(1);
  CheckRefused(CheckRequest(copy, kSelf), "source");
  copy.clear_source();
  CheckRefused(CheckRequest(copy, kSelf), "source");

  pb::RechainRequest rechain;
  rechain.set_chunk_id(9);
  rechain.set_version(4);
  *rechain.mutable_head() = Replica(1);
  *rechain.add_members() = Replica(2);
  *rechain.add_joiners() = Replica(3);
  CHECK(CheckRequest(rechain, kSelf).ok());
  SECTION("the head is this server") {
    *rechain.mutable_head() = Replica(5);
    CheckRefused(CheckRequest(rechain, kSelf), "head");
    rechain.clear_head();
    CheckRefused(CheckRequest(rechain, kSelf), "head");
  }
  SECTION("each replica once, the whole chain bounded") {
    *rechain.add_joiners() = Replica(2);
    CheckRefused(CheckRequest(rechain, kSelf), "joiners");
    rechain.clear_joiners();
    for (int i = 3; i <= kMaxChainLength; i++)
      *rechain.add_joiners() = Replica(static_cast<uint64_t>(i));
    CHECK(CheckRequest(rechain, kSelf).ok());
    *rechain.add_joiners() = Replica(kMaxChainLength + 1);
    CheckRefused(CheckRequest(rechain, kSelf), "joiners");
  }
}

}  // namespace
}  // namespace dfs::server
