// rename: plain moves, replacing, the type rules, loops, NOREPLACE,
// EXCHANGE, same-inode no-ops, and the sticky bit.
#include <catch2/catch.hpp>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

using ops::kRenameExchange;
using ops::kRenameNoReplace;

TEST_CASE("rename: a file within a directory and across directories", "[meta][rename]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "a");
  auto d = s.Mkdir(kRoot, "d");
  REQUIRE(s.Rename(kRoot, "a", kRoot, "b").ok());
  CHECK(CodeOf(s.Lookup(kRoot, "a")) == ErrorCode::NOT_FOUND);
  CHECK(s.Lookup(kRoot, "b")->inode() == f->inode());
  CHECK(s.Attr(f->inode())->ctime().sec() == s.now_ns / 1000000000);

  REQUIRE(s.Rename(kRoot, "b", d->inode(), "c").ok());
  CHECK(s.Lookup(d->inode(), "c")->inode() == f->inode());
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"d"});
  CHECK(s.Attr(kRoot)->nlink() == 3);
  CHECK(s.Attr(d->inode())->nlink() == 2);
  CHECK(s.Attr(d->inode())->mtime().sec() == s.now_ns / 1000000000);
  CHECK(s.Attr(kRoot)->mtime().sec() == s.now_ns / 1000000000);
}

TEST_CASE("rename: a directory across parents moves its link", "[meta][rename]") {
  TestStore s;
  auto a = s.Mkdir(kRoot, "a");
  auto b = s.Mkdir(kRoot, "b");
  auto sub = s.Mkdir(a->inode(), "sub");
  CHECK(s.Attr(a->inode())->nlink() == 3);
  REQUIRE(s.Rename(a->inode(), "sub", b->inode(), "moved").ok());
  CHECK(s.Attr(a->inode())->nlink() == 2);
  CHECK(s.Attr(b->inode())->nlink() == 3);
  CHECK(s.Attr(kRoot)->nlink() == 4);
  // Its parent pointer moved too: b is now an ancestor of it.
  CHECK(CodeOf(s.Rename(kRoot, "b", sub->inode(), "loop")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(s.Rename(kRoot, "a", sub->inode(), "fine").ok());
}

TEST_CASE("rename: replacing a file", "[meta][rename]") {
  TestStore s;
  REQUIRE(s.RegisterNode(0, "n1:1", "z").ok());
  auto src = s.CreateFile(kRoot, "src");
  auto dst = s.CreateFile(kRoot, "dst");
  auto chunk = s.AllocateChunk(dst->inode(), 0, {1});
  pb::MetaReply reply = s.Apply(RenameCmd(kRoot, "src", kRoot, "dst"));
  REQUIRE(ReplyStatus(reply).ok());
  CHECK(s.Lookup(kRoot, "dst")->inode() == src->inode());
  CHECK(CodeOf(s.Lookup(kRoot, "src")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Attr(dst->inode())) == ErrorCode::NOT_FOUND);
  REQUIRE(reply.freed_chunks_size() == 1);
  CHECK(reply.freed_chunks(0) == chunk->chunk_id());
  REQUIRE(s->Garbage(10).size() == 1);
  CHECK(s->InodeCount() == 2);
}

TEST_CASE("rename: replacing an empty directory by a directory", "[meta][rename]") {
  TestStore s;
  auto a = s.Mkdir(kRoot, "a");
  auto p = s.Mkdir(kRoot, "p");
  auto target = s.Mkdir(p->inode(), "t");
  REQUIRE(s.Mkdir(a->inode(), "inner").ok());
  CHECK(s.Attr(kRoot)->nlink() == 4);
  REQUIRE(s.Rename(kRoot, "a", p->inode(), "t").ok());
  CHECK(s.Lookup(p->inode(), "t")->inode() == a->inode());
  CHECK(CodeOf(s.Attr(target->inode())) == ErrorCode::NOT_FOUND);
  CHECK(s.Attr(kRoot)->nlink() == 3);
  CHECK(s.Attr(p->inode())->nlink() == 3);
  CHECK(s.ListNames(a->inode()) == std::vector<std::string>{"inner"});
}

TEST_CASE("rename: type rules and non-empty targets", "[meta][rename]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d");
  auto full = s.Mkdir(kRoot, "full");
  REQUIRE(s.CreateFile(full->inode(), "x").ok());
  REQUIRE(s.CreateFile(kRoot, "f").ok());
  REQUIRE(s.Mkdir(kRoot, "empty").ok());
  CHECK(CodeOf(s.Rename(kRoot, "d", kRoot, "full")) == ErrorCode::NOT_EMPTY);
  CHECK(CodeOf(s.Rename(kRoot, "d", kRoot, "f")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Rename(kRoot, "f", kRoot, "empty")) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s.Rename(kRoot, "missing", kRoot, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Rename(kRoot, "f", 99, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Rename(kRoot, "f", s.Lookup(kRoot, "f")->inode(), "x")) ==
        ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Rename(kRoot, "f", kRoot, "")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Rename(kRoot, "f", kRoot, std::string(256, 'x'))) == ErrorCode::NAME_TOO_LONG);
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"d", "empty", "f", "full"});
  CHECK(s.Attr(kRoot)->nlink() == 5);
}

TEST_CASE("rename: a directory into its own subtree is EINVAL", "[meta][rename]") {
  TestStore s;
  auto a = s.Mkdir(kRoot, "a");
  auto b = s.Mkdir(a->inode(), "b");
  auto c = s.Mkdir(b->inode(), "c");
  CHECK(CodeOf(s.Rename(kRoot, "a", a->inode(), "x")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Rename(kRoot, "a", c->inode(), "x")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Rename(a->inode(), "b", c->inode(), "x")) == ErrorCode::INVALID_ARGUMENT);
  // Out of the subtree is fine, and so is up.
  REQUIRE(s.Rename(b->inode(), "c", kRoot, "c").ok());
  CHECK(s.Attr(b->inode())->nlink() == 2);
  // An ancestor as the target is not empty.
  CHECK(CodeOf(s.Rename(a->inode(), "b", kRoot, "a")) == ErrorCode::NOT_EMPTY);
}

TEST_CASE("rename: RENAME_NOREPLACE", "[meta][rename]") {
  TestStore s;
  REQUIRE(s.CreateFile(kRoot, "a").ok());
  REQUIRE(s.CreateFile(kRoot, "b").ok());
  CHECK(CodeOf(s.Rename(kRoot, "a", kRoot, "b", kRenameNoReplace)) == ErrorCode::ALREADY_EXISTS);
  CHECK(s.Lookup(kRoot, "a").ok());
  REQUIRE(s.Rename(kRoot, "a", kRoot, "c", kRenameNoReplace).ok());
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"b", "c"});
}

TEST_CASE("rename: flags", "[meta][rename]") {
  TestStore s;
  REQUIRE(s.CreateFile(kRoot, "a").ok());
  REQUIRE(s.CreateFile(kRoot, "b").ok());
  CHECK(CodeOf(s.Rename(kRoot, "a", kRoot, "b", kRenameNoReplace | kRenameExchange)) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Rename(kRoot, "a", kRoot, "b", 4)) == ErrorCode::INVALID_ARGUMENT);
}

TEST_CASE("rename: RENAME_EXCHANGE", "[meta][rename]") {
  TestStore s;
  auto p1 = s.Mkdir(kRoot, "p1");
  auto p2 = s.Mkdir(kRoot, "p2");
  auto f = s.CreateFile(p1->inode(), "f");
  auto d = s.Mkdir(p2->inode(), "d");
  REQUIRE(s.CreateFile(d->inode(), "inside").ok());

  SECTION("both names must exist") {
    CHECK(CodeOf(s.Rename(p1->inode(), "f", p2->inode(), "none", kRenameExchange)) ==
          ErrorCode::NOT_FOUND);
    CHECK(CodeOf(s.Rename(p1->inode(), "none", p2->inode(), "d", kRenameExchange)) ==
          ErrorCode::NOT_FOUND);
  }
  SECTION("a file and a directory across parents swap, links follow the directory") {
    CHECK(s.Attr(p1->inode())->nlink() == 2);
    CHECK(s.Attr(p2->inode())->nlink() == 3);
    REQUIRE(s.Rename(p1->inode(), "f", p2->inode(), "d", kRenameExchange).ok());
    CHECK(s.Lookup(p1->inode(), "f")->inode() == d->inode());
    CHECK(s.Lookup(p2->inode(), "d")->inode() == f->inode());
    CHECK(s.Attr(p1->inode())->nlink() == 3);
    CHECK(s.Attr(p2->inode())->nlink() == 2);
    CHECK(s.Attr(kRoot)->nlink() == 4);
    CHECK(s.Attr(d->inode())->ctime().sec() == s.now_ns / 1000000000);
    CHECK(s.Attr(f->inode())->ctime().sec() == s.now_ns / 1000000000);
    // The directory's parent is p1 now: moving p1 into it is a loop.
    CHECK(CodeOf(s.Rename(kRoot, "p1", d->inode(), "x")) == ErrorCode::INVALID_ARGUMENT);
    CHECK(s.Rename(kRoot, "p2", d->inode(), "x").ok());
  }
  SECTION("two directories swap") {
    auto e = s.Mkdir(p1->inode(), "e");
    REQUIRE(s.Rename(p1->inode(), "e", p2->inode(), "d", kRenameExchange).ok());
    CHECK(s.Lookup(p1->inode(), "e")->inode() == d->inode());
    CHECK(s.Lookup(p2->inode(), "d")->inode() == e->inode());
    CHECK(s.Attr(p1->inode())->nlink() == 3);
    CHECK(s.Attr(p2->inode())->nlink() == 3);
  }
  SECTION("within one directory") {
    REQUIRE(s.CreateFile(p1->inode(), "g").ok());
    auto g = s.Lookup(p1->inode(), "g");
    REQUIRE(s.Rename(p1->inode(), "f", p1->inode(), "g", kRenameExchange).ok());
    CHECK(s.Lookup(p1->inode(), "f")->inode() == g->inode());
    CHECK(s.Lookup(p1->inode(), "g")->inode() == f->inode());
  }
  SECTION("a directory with its own ancestor is EINVAL") {
    CHECK(CodeOf(s.Rename(kRoot, "p2", p2->inode(), "d", kRenameExchange)) ==
          ErrorCode::INVALID_ARGUMENT);
    CHECK(CodeOf(s.Rename(p2->inode(), "d", kRoot, "p2", kRenameExchange)) ==
          ErrorCode::INVALID_ARGUMENT);
  }
  CHECK(s->InodeCount() >= 6);
}

TEST_CASE("rename: onto the same inode is a no-op", "[meta][rename]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "a");
  REQUIRE(s.Link(f->inode(), kRoot, "b").ok());
  uint64_t applied = s->AppliedIndex();
  auto before = s.Attr(f->inode());
  REQUIRE(s.Rename(kRoot, "a", kRoot, "a").ok());
  REQUIRE(s.Rename(kRoot, "a", kRoot, "b").ok());
  CHECK(s.Attr(f->inode())->SerializeAsString() == before->SerializeAsString());
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"a", "b"});
  CHECK(s->AppliedIndex() == applied + 2);
  // NOREPLACE still refuses an existing target.
  CHECK(CodeOf(s.Rename(kRoot, "a", kRoot, "b", kRenameNoReplace)) == ErrorCode::ALREADY_EXISTS);
}

TEST_CASE("rename: the sticky bit protects other users' entries", "[meta][rename]") {
  TestStore s;
  auto tmp = s.Mkdir(kRoot, "tmp", 01777);
  uint64_t t = tmp->inode();
  s.caller = User(1001, 1001);
  REQUIRE(s.CreateFile(t, "alice").ok());
  s.caller = User(1002, 1002);
  REQUIRE(s.CreateFile(t, "bob").ok());

  // Bob can neither move nor replace nor delete Alice's file...
  CHECK(CodeOf(s.Rename(t, "alice", t, "mine")) == ErrorCode::NOT_PERMITTED);
  CHECK(CodeOf(s.Rename(t, "bob", t, "alice")) == ErrorCode::NOT_PERMITTED);
  CHECK(CodeOf(s.Rename(t, "bob", t, "alice", kRenameExchange)) == ErrorCode::NOT_PERMITTED);
  CHECK(CodeOf(s.Unlink(t, "alice")) == ErrorCode::NOT_PERMITTED);
  // ...but his own, freely.
  CHECK(s.Rename(t, "bob", t, "bob2").ok());
  // The directory's owner and root may.
  s.caller = Root();
  REQUIRE(s.Chown(t, 1003, 1003).ok());
  s.caller = User(1003, 1003);
  CHECK(s.Rename(t, "alice", t, "by-owner").ok());
  s.caller = Root();
  CHECK(s.Unlink(t, "by-owner").ok());
  CHECK(s.ListNames(t) == std::vector<std::string>{"bob2"});
}

TEST_CASE("rename: needs write and search on both parents, and on a moving directory",
          "[meta][rename]") {
  TestStore s;
  auto src = s.Mkdir(kRoot, "src", 0777);
  auto ro = s.Mkdir(kRoot, "ro", 0555);
  auto dst = s.Mkdir(kRoot, "dst", 0777);
  s.caller = User(1000, 1000);
  REQUIRE(s.CreateFile(src->inode(), "f").ok());
  CHECK(CodeOf(s.Rename(src->inode(), "f", ro->inode(), "f")) == ErrorCode::PERMISSION_DENIED);
  s.caller = Root();
  REQUIRE(s.Mkdir(src->inode(), "rootdir", 0755).ok());
  s.caller = User(1000, 1000);
  // A directory that changes parent needs write permission on itself.
  CHECK(CodeOf(s.Rename(src->inode(), "rootdir", dst->inode(), "x")) ==
        ErrorCode::PERMISSION_DENIED);
  // Within its parent it does not.
  CHECK(s.Rename(src->inode(), "rootdir", src->inode(), "renamed").ok());
  CHECK(s.Rename(src->inode(), "f", dst->inode(), "f").ok());
}

}  // namespace
}  // namespace dfs::meta::testing
