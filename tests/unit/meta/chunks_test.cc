// Chunk servers, the chunk map, writes, truncate and garbage.
#include <catch2/catch.hpp>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

// Three chunk servers in three zones: node ids 1, 2, 3.
void RegisterNodes(TestStore& s) {
  REQUIRE(s.RegisterNode(0, "10.0.0.1:7000", "a").value() == 1);
  REQUIRE(s.RegisterNode(0, "10.0.0.2:7000", "b").value() == 2);
  REQUIRE(s.RegisterNode(0, "10.0.0.3:7000", "c").value() == 3);
}

std::vector<uint64_t> ChunkIds(const std::vector<pb::ChunkRecord>& chunks) {
  std::vector<uint64_t> ids;
  for (const auto& c : chunks)
    ids.push_back(c.chunk_id());
  return ids;
}

TEST_CASE("register_node: new ids from 1, updates by id, unknown ids refused", "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  std::vector<pb::NodeRecord> nodes = s->Nodes();
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[1].node_id() == 2);
  CHECK(nodes[1].address() == "10.0.0.2:7000");
  CHECK(nodes[1].zone() == "b");
  CHECK(nodes[1].capacity_bytes() == 1 << 30);
  CHECK(nodes[1].state() == "active");

  pb::MetaReply reply = s.Apply(RegisterNodeCmd(2, "10.0.0.9:7001", "z", 5));
  REQUIRE(ReplyStatus(reply).ok());
  CHECK(reply.node_id() == 2);
  nodes = s->Nodes();
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[1].address() == "10.0.0.9:7001");
  CHECK(nodes[1].zone() == "z");
  CHECK(nodes[1].capacity_bytes() == 5);

  CHECK(CodeOf(s.RegisterNode(9, "x:1", "a")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.RegisterNode(0, "", "a")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(s->Nodes().size() == 3);
  CHECK(s.RegisterNode(0, "10.0.0.4:7000", "a").value() == 4);
}

TEST_CASE("allocate_chunk: a new chunk gets a new id, version 1, the given chain",
          "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto c0 = s.AllocateChunk(f->inode(), 0, {2, 1, 3});
  REQUIRE(c0.ok());
  CHECK(c0->chunk_id() == 1);
  CHECK(c0->version() == 1);
  CHECK(c0->index() == 0);
  REQUIRE(c0->replicas_size() == 3);
  CHECK(c0->replicas(0).node_id() == 2);
  CHECK(c0->replicas(0).address() == "10.0.0.2:7000");
  CHECK(c0->replicas(0).zone() == "b");
  CHECK(c0->replicas(2).node_id() == 3);
  auto c5 = s.AllocateChunk(f->inode(), 5, {1});
  CHECK(c5->chunk_id() == 2);
  CHECK(c5->index() == 5);
}

TEST_CASE("allocate_chunk: an existing chunk keeps its chain whatever the placement says",
          "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto first = s.AllocateChunk(f->inode(), 0, {1, 2, 3});
  // A retry, or a second writer, with a fresh placement.
  auto again = s.AllocateChunk(f->inode(), 0, {3, 2});
  REQUIRE(again.ok());
  CHECK(again->SerializeAsString() == first->SerializeAsString());
  // Failed nodes that are not in the chain (already dropped) change nothing.
  auto unrelated = s.AllocateChunk(f->inode(), 0, {3}, {9});
  CHECK(unrelated->SerializeAsString() == first->SerializeAsString());
}

TEST_CASE("allocate_chunk: failed replicas leave the chain and the version is bumped",
          "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto first = s.AllocateChunk(f->inode(), 0, {1, 2, 3});
  auto changed = s.AllocateChunk(f->inode(), 0, {1, 3}, {2});
  REQUIRE(changed.ok());
  CHECK(changed->chunk_id() == first->chunk_id());
  CHECK(changed->version() == 2);
  REQUIRE(changed->replicas_size() == 2);
  CHECK(changed->replicas(0).node_id() == 1);  // survivors, in chain order
  CHECK(changed->replicas(1).node_id() == 3);
  auto chunks = s->GetChunks(f->inode(), 0, 0);
  REQUIRE(chunks->chunks_size() == 1);
  CHECK(chunks->chunks(0).version() == 2);
  // The same report again (a retry) changes nothing more.
  CHECK(s.AllocateChunk(f->inode(), 0, {1, 3}, {2})->version() == 2);
  // With no survivor the chunk is left alone: nothing to write to.
  CHECK(CodeOf(s.AllocateChunk(f->inode(), 0, {2}, {1, 3})) == ErrorCode::UNAVAILABLE);
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks(0).replicas_size() == 2);
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks(0).version() == 2);
}

TEST_CASE("allocate_chunk: errors", "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  auto l = s.Symlink(kRoot, "l", "f");
  CHECK(CodeOf(s.AllocateChunk(99, 0, {1})) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.AllocateChunk(kRoot, 0, {1})) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s.AllocateChunk(l->inode(), 0, {1})) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.AllocateChunk(f->inode(), 0, {})) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.AllocateChunk(f->inode(), 0, {1, 1})) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.AllocateChunk(f->inode(), 0, {1, 9})) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.AllocateChunk(f->inode(), uint64_t{1} << 50, {1})) == ErrorCode::FILE_TOO_LARGE);
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks_size() == 0);
  // The chunk id counter did not move.
  CHECK(s.AllocateChunk(f->inode(), 0, {1})->chunk_id() == 1);
  // The placement only matters for a new chunk.
  CHECK(s.AllocateChunk(f->inode(), 0, {})->chunk_id() == 1);
}

TEST_CASE("commit_write: size grows and never shrinks, mtime, data_version", "[meta][chunks]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  uint64_t v0 = f->data_version();
  auto a = s.CommitWrite(f->inode(), 100);
  REQUIRE(a.ok());
  CHECK(a->size() == 100);
  CHECK(a->data_version() == v0 + 1);
  CHECK(a->mtime().sec() == s.now_ns / 1000000000);
  CHECK(a->ctime().sec() == s.now_ns / 1000000000);
  auto b = s.CommitWrite(f->inode(), 50);
  CHECK(b->size() == 100);
  CHECK(b->data_version() == v0 + 2);
  // An explicit mtime from the writer.
  pb::MetaCommand cmd = CommitWriteCmd(f->inode(), 200);
  cmd.mutable_commit_write()->mutable_mtime()->set_sec(77);
  auto c = AttrOf(s.Apply(cmd));
  CHECK(c->mtime().sec() == 77);
  CHECK(c->size() == 200);
  CHECK(s.Attr(f->inode())->size() == 200);

  CHECK(CodeOf(s.CommitWrite(kRoot, 1)) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s.CommitWrite(99, 1)) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.CommitWrite(f->inode(), uint64_t{1} << 63)) == ErrorCode::FILE_TOO_LARGE);
}

TEST_CASE("get_chunks: a range of the chunk map, lengths from the file size", "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  for (uint64_t i : {0, 1, 3})
    REQUIRE(s.AllocateChunk(f->inode(), i, {1, 2}).ok());
  REQUIRE(s.CommitWrite(f->inode(), 3 * kChunkSize + 10).ok());
  auto all = s->GetChunks(f->inode(), 0, 0);
  REQUIRE(all.ok());
  CHECK(all->chunk_size() == kChunkSize);
  REQUIRE(all->chunks_size() == 3);  // the hole at 2 is absent
  CHECK(all->chunks(0).length() == kChunkSize);
  CHECK(all->chunks(2).index() == 3);
  CHECK(all->chunks(2).length() == 10);
  CHECK(all->chunks(0).replicas(1).address() == "10.0.0.2:7000");
  auto middle = s->GetChunks(f->inode(), 1, 2);
  REQUIRE(middle->chunks_size() == 1);
  CHECK(middle->chunks(0).index() == 1);
  CHECK(s->GetChunks(f->inode(), 4, 100)->chunks_size() == 0);
  CHECK(s->GetChunks(f->inode(), 3, UINT64_MAX)->chunks_size() == 1);
  CHECK(CodeOf(s->GetChunks(kRoot, 0, 0)) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s->GetChunks(99, 0, 0)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("truncate: frees chunks past the new size to garbage, bumps data_version",
          "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  for (uint64_t i = 0; i < 4; i++)
    REQUIRE(s.AllocateChunk(f->inode(), i, {1}).ok());  // chunk ids 1-4
  auto written = s.CommitWrite(f->inode(), 4 * kChunkSize);

  pb::SetAttrRequest req;
  req.set_inode(f->inode());
  req.set_valid(pb::SETATTR_SIZE);
  req.set_size(kChunkSize + 1);  // keeps chunks 0 and 1
  pb::MetaReply reply = s.Apply(SetAttrCmd(req));
  REQUIRE(ReplyStatus(reply).ok());
  CHECK(reply.attr().size() == kChunkSize + 1);
  CHECK(reply.attr().data_version() == written->data_version() + 1);
  CHECK(reply.attr().mtime().sec() == s.now_ns / 1000000000);
  CHECK(std::vector<uint64_t>(reply.freed_chunks().begin(), reply.freed_chunks().end()) ==
        std::vector<uint64_t>{3, 4});
  CHECK(ChunkIds(s->Garbage(10)) == std::vector<uint64_t>{3, 4});
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks_size() == 2);

  // Growing frees nothing but still bumps the version.
  auto grown = s.Truncate(f->inode(), 10 * kChunkSize);
  CHECK(grown->data_version() == reply.attr().data_version() + 1);
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks_size() == 2);
  // To zero: everything goes.
  REQUIRE(s.Truncate(f->inode(), 0).ok());
  CHECK(s->GetChunks(f->inode(), 0, 0)->chunks_size() == 0);
  CHECK(ChunkIds(s->Garbage(10)) == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(ChunkIds(s->Garbage(3)) == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("unlink of the last link: chunks to garbage, no records left behind", "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.AllocateChunk(f->inode(), 0, {1}).ok());
  REQUIRE(s.AllocateChunk(f->inode(), 1, {2}).ok());
  REQUIRE(s.SetXattr(f->inode(), "user.a", "1").ok());
  REQUIRE(s.Link(f->inode(), kRoot, "g").ok());
  pb::MetaReply first = s.Apply(UnlinkCmd(kRoot, "f"));
  CHECK(first.freed_chunks_size() == 0);
  CHECK(s->Garbage(10).empty());
  pb::MetaReply last = s.Apply(UnlinkCmd(kRoot, "g"));
  CHECK(last.freed_chunks_size() == 2);
  CHECK(ChunkIds(s->Garbage(10)) == std::vector<uint64_t>{1, 2});

  std::string dir = s.state_dir();
  s.Close();
  CHECK(CountKeys(dir, "chunks") == 0);
  CHECK(CountKeys(dir, "xattrs") == 0);
  CHECK(CountKeys(dir, "dentries") == 0);
  CHECK(CountKeys(dir, "inodes") == 1);
  CHECK(CountKeys(dir, "garbage") == 2);
  CHECK(CountKeys(dir, "chunk_ids") == 0);
  CHECK(CountKeys(dir, "garbage_by_node") == 2);
}

}  // namespace
}  // namespace dfs::meta::testing

namespace dfs::meta::testing {
namespace {

pb::MetaCommand ChangeChainCmd(uint64_t inode, const pb::ChunkLocation& at,
                               std::vector<uint64_t> replicas, std::vector<uint64_t> joining,
                               bool bump) {
  pb::MetaCommand cmd;
  pb::ChangeChainCommand* c = cmd.mutable_change_chain();
  c->set_inode(inode);
  c->set_index(at.index());
  c->set_chunk_id(at.chunk_id());
  c->set_expect_version(at.version());
  c->mutable_replicas()->Assign(replicas.begin(), replicas.end());
  c->mutable_joining()->Assign(joining.begin(), joining.end());
  c->set_bump(bump);
  return cmd;
}

std::vector<uint64_t> Nodes(const pb::ChunkLocation& loc) {
  std::vector<uint64_t> out;
  for (const auto& r : loc.replicas())
    out.push_back(r.node_id());
  return out;
}

TEST_CASE("change_chain: conditional on the version; joiners; bump", "[meta][chunks]") {
  TestStore s;
  RegisterNodes(s);
  REQUIRE(s.RegisterNode(0, "10.0.0.4:7000", "c").value() == 4);
  auto f = s.CreateFile(kRoot, "f");
  auto c0 = s.AllocateChunk(f->inode(), 0, {1, 2, 3});
  REQUIRE(c0.ok());

  // Server 3 died: 4 joins in its place, one version up.
  pb::MetaReply r = s.Apply(ChangeChainCmd(f->inode(), *c0, {1, 2, 4}, {4}, true));
  REQUIRE(ReplyStatus(r).ok());
  CHECK(r.chunk().version() == 2);
  CHECK(Nodes(r.chunk()) == std::vector<uint64_t>{1, 2, 4});
  // Clients learn which replica is still joining (never read, never created).
  CHECK_FALSE(r.chunk().replicas(0).joining());
  CHECK(r.chunk().replicas(2).joining());

  // A plan made at the old version changes nothing.
  pb::MetaReply late = s.Apply(ChangeChainCmd(f->inode(), *c0, {1, 2, 3}, {}, true));
  CHECK(CodeOf(ReplyStatus(late)) == ErrorCode::STALE_VERSION);

  // A writer that sees the joiner fail drops it from the joiners too.
  auto dropped = s.AllocateChunk(f->inode(), 0, {}, {4});
  REQUIRE(dropped.ok());
  CHECK(dropped->version() == 3);
  CHECK(Nodes(*dropped) == std::vector<uint64_t>{1, 2});

  // Invalid chains.
  CHECK(CodeOf(ReplyStatus(s.Apply(ChangeChainCmd(f->inode(), *dropped, {1, 1}, {}, true)))) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ReplyStatus(s.Apply(ChangeChainCmd(f->inode(), *dropped, {1, 9}, {}, true)))) ==
        ErrorCode::NOT_FOUND);
  CHECK(CodeOf(ReplyStatus(s.Apply(ChangeChainCmd(f->inode(), *dropped, {1, 2}, {3}, true)))) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ReplyStatus(s.Apply(ChangeChainCmd(f->inode(), *dropped, {4}, {4}, true)))) ==
        ErrorCode::INVALID_ARGUMENT);

  // The joiner copied: it becomes a member, no bump.
  pb::MetaReply add = s.Apply(ChangeChainCmd(f->inode(), *dropped, {1, 2, 4}, {4}, true));
  REQUIRE(ReplyStatus(add).ok());
  pb::MetaReply joined = s.Apply(ChangeChainCmd(f->inode(), add.chunk(), {1, 2, 4}, {}, false));
  REQUIRE(ReplyStatus(joined).ok());
  CHECK(joined.chunk().version() == 4);

  // Only joiners left after a failure: refused, nothing changes.
  pb::MetaReply again = s.Apply(ChangeChainCmd(f->inode(), joined.chunk(), {1, 4}, {4}, true));
  REQUIRE(ReplyStatus(again).ok());
  CHECK(CodeOf(s.AllocateChunk(f->inode(), 0, {}, {1}).status()) == ErrorCode::UNAVAILABLE);
}

}  // namespace
}  // namespace dfs::meta::testing
