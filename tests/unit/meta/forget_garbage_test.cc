// forget_garbage: draining garbage records as chunk servers delete their
// replicas.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

std::vector<uint64_t> Replicas(const pb::ChunkRecord& record) {
  return std::vector<uint64_t>(record.replicas().begin(), record.replicas().end());
}

std::vector<uint64_t> GarbageOn(MetaStore& store, uint64_t node_id) {
  Result<std::vector<uint64_t>> ids = store.GarbageOn(node_id, 0, 100);
  REQUIRE(ids.ok());
  return *ids;
}

Status Forget(TestStore& s, const std::vector<std::pair<uint64_t, uint64_t>>& pairs) {
  return ReplyStatus(s.Apply(ForgetGarbageCmd(pairs)));
}

// Chunk servers 1-3; file "f" with chunk 0 (id 1) on 1, 2, 3 and chunk 1
// (id 2) on 2, unlinked; file "live" with chunk 0 (id 3) on 1.
void Populate(TestStore& s) {
  REQUIRE(s.RegisterNode(0, "10.0.0.1:7000", "a").ok());
  REQUIRE(s.RegisterNode(0, "10.0.0.2:7000", "b").ok());
  REQUIRE(s.RegisterNode(0, "10.0.0.3:7000", "c").ok());
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.AllocateChunk(f->inode(), 0, {1, 2, 3})->chunk_id() == 1);
  REQUIRE(s.AllocateChunk(f->inode(), 1, {2})->chunk_id() == 2);
  auto live = s.CreateFile(kRoot, "live");
  REQUIRE(s.AllocateChunk(live->inode(), 0, {1})->chunk_id() == 3);
  REQUIRE(s.Unlink(kRoot, "f").ok());
}

TEST_CASE("forget_garbage: a node leaves the record; the last one takes the record along",
          "[meta][garbage]") {
  TestStore s;
  Populate(s);
  REQUIRE(Forget(s, {{1, 2}}).ok());
  Result<pb::ChunkRecord> record = s->FindGarbage(1);
  REQUIRE(record.ok());
  CHECK(Replicas(*record) == std::vector<uint64_t>{1, 3});
  CHECK(GarbageOn(s.store(), 2) == std::vector<uint64_t>{2});
  CHECK(GarbageOn(s.store(), 1) == std::vector<uint64_t>{1});

  // Several pairs in one command, the same chunk twice among them: each
  // sees the one before.
  REQUIRE(Forget(s, {{1, 1}, {1, 3}, {2, 2}}).ok());
  CHECK(CodeOf(s->FindGarbage(1)) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s->FindGarbage(2)) == ErrorCode::NOT_FOUND);
  CHECK(s->Garbage(10).empty());
  for (uint64_t node : {1, 2, 3})
    CHECK(GarbageOn(s.store(), node).empty());

  std::string dir = s.state_dir();
  s.Close();
  CHECK(CountKeys(dir, "garbage") == 0);
  CHECK(CountKeys(dir, "garbage_by_node") == 0);
  CHECK(CountKeys(dir, "chunk_ids") == 1);  // the live chunk
}

TEST_CASE("forget_garbage: idempotent; unknown chunks and unlisted nodes change nothing",
          "[meta][garbage]") {
  TestStore s;
  Populate(s);
  REQUIRE(Forget(s, {{1, 2}}).ok());
  auto Snapshot = [&] {
    std::string out;
    for (const pb::ChunkRecord& r : s->Garbage(10))
      out += r.SerializeAsString() + "|";
    for (uint64_t node : {1, 2, 3, 9}) {
      for (uint64_t id : GarbageOn(s.store(), node))
        out += std::to_string(node) + ":" + std::to_string(id) + ",";
    }
    return out;
  };
  std::string before = Snapshot();

  CHECK(Forget(s, {{1, 2}}).ok());   // again: 2 is no longer listed
  CHECK(Forget(s, {{1, 9}}).ok());   // a node it never listed
  CHECK(Forget(s, {{99, 1}}).ok());  // no such chunk
  CHECK(Forget(s, {{3, 1}}).ok());   // a live chunk is not garbage
  CHECK(Forget(s, {{0, 0}}).ok());
  CHECK(Forget(s, {}).ok());
  CHECK(Snapshot() == before);
  CHECK(s->FindChunk(3).ok());

  // Kept across a reopen like everything else.
  s.Reopen();
  CHECK(Snapshot() == before);
  REQUIRE(Forget(s, {{1, 1}, {1, 3}}).ok());
  CHECK(CodeOf(s->FindGarbage(1)) == ErrorCode::NOT_FOUND);
}

}  // namespace
}  // namespace dfs::meta::testing
