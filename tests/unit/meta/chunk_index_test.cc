// The chunk_ids and garbage_by_node indexes: kept right by every command
// that writes chunks, and by reopen, checkpoint, restore and the upgrade of
// a state written before they existed.
#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "meta/meta_store_keys.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

// Three chunk servers in three zones: node ids 1, 2, 3.
void RegisterNodes(TestStore& s) {
  REQUIRE(s.RegisterNode(0, "10.0.0.1:7000", "a").value() == 1);
  REQUIRE(s.RegisterNode(0, "10.0.0.2:7000", "b").value() == 2);
  REQUIRE(s.RegisterNode(0, "10.0.0.3:7000", "c").value() == 3);
}

std::vector<uint64_t> Replicas(const pb::ChunkRecord& record) {
  return std::vector<uint64_t>(record.replicas().begin(), record.replicas().end());
}

// Where the index finds `chunk_id`: "inode/index@version", or the error.
std::string Where(MetaStore& store, uint64_t chunk_id) {
  Result<LocatedChunk> found = store.FindChunk(chunk_id);
  if (!found.ok()) return std::string(ErrorCodeName(found.status().code()));
  return std::to_string(found->inode) + "/" + std::to_string(found->index) + "@" +
         std::to_string(found->record.version());
}

std::vector<uint64_t> GarbageOn(MetaStore& store, uint64_t node_id, uint64_t after = 0,
                                size_t max = 100) {
  Result<std::vector<uint64_t>> ids = store.GarbageOn(node_id, after, max);
  REQUIRE(ids.ok());
  return *ids;
}

// What the index reads say about chunks 1-6 and nodes 1-3, for comparing
// two stores.
std::string Dump(MetaStore& store) {
  std::string out;
  for (uint64_t id = 1; id <= 6; id++) {
    out += Where(store, id) + " ";
    Result<pb::ChunkRecord> garbage = store.FindGarbage(id);
    out += garbage.ok() ? "garbage:" + std::to_string(garbage->replicas_size()) + " " : "- ";
  }
  for (uint64_t node = 1; node <= 3; node++) {
    out += "|";
    for (uint64_t id : GarbageOn(store, node))
      out += std::to_string(id) + ",";
  }
  return out;
}

// Two files: "f" with chunks 0-2 (ids 1-3, on nodes 1 and 2), truncated to
// one chunk, and "g" with chunk 0 (id 4, on node 3).
void Populate(TestStore& s) {
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  for (uint64_t i = 0; i < 3; i++)
    REQUIRE(s.AllocateChunk(f->inode(), i, {1, 2}).ok());
  REQUIRE(s.CommitWrite(f->inode(), 3 * kChunkSize).ok());
  REQUIRE(s.Truncate(f->inode(), kChunkSize).ok());
  auto g = s.CreateFile(kRoot, "g");
  REQUIRE(s.AllocateChunk(g->inode(), 0, {3}).ok());
}

// Makes the closed store in `dir` look written before the indexes existed:
// no index families, no layout version.
void MakeOldLayout(const std::string& dir) {
  EditRawStore(dir, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), handles[0], keys::kLayoutVersion).ok());
    for (size_t i = 0; i < handles.size(); i++) {
      std::string name = keys::kFamilies[i];
      if (name == "chunk_ids" || name == "garbage_by_node") {
        REQUIRE(db->DropColumnFamily(handles[i]).ok());
      }
    }
  });
}

TEST_CASE("chunk index: allocate_chunk indexes a new chunk; a version bump keeps it",
          "[meta][chunks][index]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  uint64_t ino = f->inode();
  REQUIRE(s.AllocateChunk(ino, 0, {1, 2, 3})->chunk_id() == 1);
  REQUIRE(s.AllocateChunk(ino, 7, {2})->chunk_id() == 2);

  Result<LocatedChunk> first = s->FindChunk(1);
  REQUIRE(first.ok());
  CHECK(first->inode == ino);
  CHECK(first->index == 0);
  CHECK(first->record.chunk_id() == 1);
  CHECK(Replicas(first->record) == std::vector<uint64_t>{1, 2, 3});
  CHECK(Where(s.store(), 2) == std::to_string(ino) + "/7@1");

  REQUIRE(s.AllocateChunk(ino, 0, {}, {2}).ok());  // node 2 failed: version 2
  CHECK(Where(s.store(), 1) == std::to_string(ino) + "/0@2");
  CHECK(Replicas(s->FindChunk(1)->record) == std::vector<uint64_t>{1, 3});

  CHECK(Where(s.store(), 3) == "NOT_FOUND");  // never allocated
  CHECK(Where(s.store(), 0) == "NOT_FOUND");
  CHECK(CodeOf(s->FindGarbage(1)) == ErrorCode::NOT_FOUND);
  CHECK(GarbageOn(s.store(), 1).empty());
}

TEST_CASE("chunk index: truncate, unlink and rename over move chunks from the index to garbage",
          "[meta][chunks][index]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto g = s.CreateFile(kRoot, "g");
  auto h = s.CreateFile(kRoot, "h");
  for (uint64_t i = 0; i < 3; i++)
    REQUIRE(s.AllocateChunk(f->inode(), i, {1, 2}).ok());  // ids 1-3
  REQUIRE(s.AllocateChunk(g->inode(), 0, {3}).ok());       // id 4
  REQUIRE(s.AllocateChunk(h->inode(), 0, {1}).ok());       // id 5
  REQUIRE(s.CommitWrite(f->inode(), 3 * kChunkSize).ok());

  SECTION("truncate") {
    REQUIRE(s.Truncate(f->inode(), kChunkSize).ok());
    CHECK(Where(s.store(), 1) == std::to_string(f->inode()) + "/0@1");
    CHECK(Where(s.store(), 2) == "NOT_FOUND");
    CHECK(Where(s.store(), 3) == "NOT_FOUND");
    Result<pb::ChunkRecord> freed = s->FindGarbage(2);
    REQUIRE(freed.ok());
    CHECK(freed->chunk_id() == 2);
    CHECK(Replicas(*freed) == std::vector<uint64_t>{1, 2});
    CHECK(GarbageOn(s.store(), 1) == std::vector<uint64_t>{2, 3});
    CHECK(GarbageOn(s.store(), 2) == std::vector<uint64_t>{2, 3});
    CHECK(GarbageOn(s.store(), 3).empty());
  }
  SECTION("unlink: the chunks stay while a link does") {
    REQUIRE(s.Link(f->inode(), kRoot, "f2").ok());
    REQUIRE(s.Unlink(kRoot, "f").ok());
    CHECK(Where(s.store(), 1) == std::to_string(f->inode()) + "/0@1");
    CHECK(CodeOf(s->FindGarbage(1)) == ErrorCode::NOT_FOUND);
    REQUIRE(s.Unlink(kRoot, "f2").ok());
    for (uint64_t id : {1, 2, 3}) {
      CHECK(Where(s.store(), id) == "NOT_FOUND");
      CHECK(s->FindGarbage(id).ok());
    }
    CHECK(GarbageOn(s.store(), 1) == std::vector<uint64_t>{1, 2, 3});
  }
  SECTION("rename over a file") {
    REQUIRE(s.Rename(kRoot, "h", kRoot, "g").ok());
    CHECK(Where(s.store(), 4) == "NOT_FOUND");
    CHECK(s->FindGarbage(4).ok());
    CHECK(Where(s.store(), 5) == std::to_string(h->inode()) + "/0@1");
    CHECK(GarbageOn(s.store(), 3) == std::vector<uint64_t>{4});
    CHECK(GarbageOn(s.store(), 1).empty());
  }
  SECTION("the garbage of a node, a page at a time") {
    REQUIRE(s.Unlink(kRoot, "f").ok());
    REQUIRE(s.Unlink(kRoot, "h").ok());
    CHECK(GarbageOn(s.store(), 1) == std::vector<uint64_t>{1, 2, 3, 5});
    CHECK(GarbageOn(s.store(), 1, 0, 2) == std::vector<uint64_t>{1, 2});
    CHECK(GarbageOn(s.store(), 1, 2, 2) == std::vector<uint64_t>{3, 5});
    CHECK(GarbageOn(s.store(), 1, 3) == std::vector<uint64_t>{5});
    CHECK(GarbageOn(s.store(), 1, 5).empty());
    CHECK(GarbageOn(s.store(), 1, UINT64_MAX).empty());
    CHECK(GarbageOn(s.store(), 1, 0, 0).empty());
    CHECK(GarbageOn(s.store(), 9).empty());

    std::string dir = s.state_dir();
    s.Close();
    CHECK(CountKeys(dir, "chunks") == 1);
    CHECK(CountKeys(dir, "chunk_ids") == 1);
    CHECK(CountKeys(dir, "garbage") == 4);
    CHECK(CountKeys(dir, "garbage_by_node") == 7);  // 1-3 on nodes 1 and 2, 5 on node 1
  }
}

TEST_CASE("chunk index: a chunk allocated and freed in one Apply call leaves no entry",
          "[meta][chunks][index]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto g = s.CreateFile(kRoot, "g");
  std::vector<pb::MetaCommand> batch;
  batch.push_back(AllocateChunkCmd(f->inode(), 0, {1}));     // id 1
  batch.push_back(UnlinkCmd(kRoot, "f"));                    // frees it
  batch.push_back(AllocateChunkCmd(g->inode(), 0, {2}));     // id 2
  batch.push_back(AllocateChunkCmd(g->inode(), 1, {2, 9}));  // refused: no node 9
  std::vector<pb::MetaReply> replies = s.ApplyAll(std::move(batch));
  CHECK(replies[3].error().code() == static_cast<uint32_t>(ErrorCode::NOT_FOUND));
  CHECK(Where(s.store(), 1) == "NOT_FOUND");
  CHECK(s->FindGarbage(1).ok());
  CHECK(Where(s.store(), 2) == std::to_string(g->inode()) + "/0@1");
  CHECK(Where(s.store(), 3) == "NOT_FOUND");

  std::string dir = s.state_dir();
  s.Close();
  CHECK(CountKeys(dir, "chunk_ids") == 1);
  CHECK(CountKeys(dir, "garbage_by_node") == 1);
}

TEST_CASE("chunk index: reopen, checkpoint and restore keep it", "[meta][chunks][index]") {
  TestStore source;
  Populate(source);
  std::string before = Dump(source.store());
  CHECK(before.find("garbage:2") != std::string::npos);
  source.Reopen();
  CHECK(Dump(source.store()) == before);

  std::string checkpoint = source.dir() + "/checkpoint";
  REQUIRE(source->Checkpoint(checkpoint).ok());
  TestStore target;
  REQUIRE(target->Restore(checkpoint).ok());
  CHECK(Dump(target.store()) == before);
  target.Reopen();
  CHECK(Dump(target.store()) == before);
}

TEST_CASE("chunk index: a state written before the index existed gets it when opened",
          "[meta][chunks][index]") {
  TestStore s;
  Populate(s);
  std::string before = Dump(s.store());
  std::string dir = s.state_dir();
  s.Close();
  MakeOldLayout(dir);

  SECTION("reopened") {
    s.Reopen();
    CHECK(Dump(s.store()) == before);
    // Rebuilt once, then kept like any other state.
    s.Reopen();
    CHECK(Dump(s.store()) == before);
    std::string reopened = s.state_dir();
    s.Close();
    CHECK(CountKeys(reopened, "chunk_ids") == 2);
    CHECK(CountKeys(reopened, "garbage_by_node") == 4);
  }
  SECTION("restored as a snapshot") {
    TestStore target(/*format=*/false);
    REQUIRE(target->Restore(dir).ok());
    CHECK(Dump(target.store()) == before);
  }
}

}  // namespace
}  // namespace dfs::meta::testing
