// Namespace operations as root: create, lookup, unlink, rmdir, link,
// symlinks, readdir, setattr basics, access.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

TEST_CASE("ValidateName: 1-255 bytes, no '/', no NUL, not '.' or '..'", "[meta][namespace]") {
  CHECK(ValidateName("a").ok());
  CHECK(ValidateName(std::string(255, 'x')).ok());
  CHECK(ValidateName("...").ok());
  CHECK(ValidateName(".hidden").ok());
  CHECK(ValidateName("").code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ValidateName(".").code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ValidateName("..").code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ValidateName("a/b").code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ValidateName(std::string("a\0b", 3)).code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ValidateName(std::string(256, 'x')).code() == ErrorCode::NAME_TOO_LONG);
}

TEST_CASE("create: a regular file with the caller's ids, mode less umask, times now",
          "[meta][namespace]") {
  TestStore s;
  s.caller = User(1000, 100);
  REQUIRE(s.Chmod(kRoot, 0777).status().code() == ErrorCode::NOT_PERMITTED);
  s.caller = Root();
  REQUIRE(s.Chmod(kRoot, 0777).ok());
  s.caller = User(1000, 100);
  pb::MetaCommand cmd = CreateCmd(kRoot, "f", pb::FILE_TYPE_REGULAR, 0666);
  cmd.mutable_create()->set_umask(022);
  pb::MetaReply reply = s.Apply(cmd);
  REQUIRE(ReplyStatus(reply).ok());
  const pb::InodeAttr& attr = reply.attr();
  CHECK(attr.inode() == 2);
  CHECK(attr.type() == pb::FILE_TYPE_REGULAR);
  CHECK(attr.mode() == 0644);
  CHECK(attr.uid() == 1000);
  CHECK(attr.gid() == 100);
  CHECK(attr.nlink() == 1);
  CHECK(attr.size() == 0);
  CHECK(attr.mtime().sec() == s.now_ns / 1000000000);
  CHECK(attr.ctime().sec() == s.now_ns / 1000000000);
  CHECK(attr.atime().sec() == s.now_ns / 1000000000);

  auto root = s.Attr(kRoot);
  CHECK(root->mtime().sec() == s.now_ns / 1000000000);
  CHECK(root->nlink() == 2);
  auto looked_up = s.Lookup(kRoot, "f");
  REQUIRE(looked_up.ok());
  CHECK(looked_up->SerializeAsString() == attr.SerializeAsString());
  CHECK(s->InodeCount() == 2);
}

TEST_CASE("create: an existing name", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.Mkdir(kRoot, "d").ok());
  REQUIRE(s.Symlink(kRoot, "l", "f").ok());

  SECTION("exclusive: EEXIST") {
    CHECK(CodeOf(s.CreateFile(kRoot, "f")) == ErrorCode::ALREADY_EXISTS);
  }
  SECTION("not exclusive: the existing regular file, unchanged") {
    auto again = AttrOf(s.Apply(CreateCmd(kRoot, "f", pb::FILE_TYPE_REGULAR, 0600, false)));
    REQUIRE(again.ok());
    CHECK(again->SerializeAsString() == f->SerializeAsString());
  }
  SECTION("not exclusive over a directory: EISDIR") {
    CHECK(CodeOf(AttrOf(s.Apply(CreateCmd(kRoot, "d", pb::FILE_TYPE_REGULAR, 0644, false)))) ==
          ErrorCode::IS_A_DIRECTORY);
  }
  SECTION("not exclusive over a symlink: EEXIST") {
    CHECK(CodeOf(AttrOf(s.Apply(CreateCmd(kRoot, "l", pb::FILE_TYPE_REGULAR, 0644, false)))) ==
          ErrorCode::ALREADY_EXISTS);
  }
  SECTION("mkdir, symlink, mknod over anything: EEXIST") {
    CHECK(CodeOf(s.Mkdir(kRoot, "f")) == ErrorCode::ALREADY_EXISTS);
    CHECK(CodeOf(s.Mkdir(kRoot, "d")) == ErrorCode::ALREADY_EXISTS);
    CHECK(CodeOf(s.Symlink(kRoot, "d", "x")) == ErrorCode::ALREADY_EXISTS);
    CHECK(CodeOf(AttrOf(s.Apply(CreateCmd(kRoot, "f", pb::FILE_TYPE_FIFO, 0644, false)))) ==
          ErrorCode::ALREADY_EXISTS);
  }
  CHECK(s->InodeCount() == 4);
}

TEST_CASE("create: bad parents, names and types", "[meta][namespace]") {
  TestStore s;
  REQUIRE(s.CreateFile(kRoot, "file").ok());  // 2
  CHECK(CodeOf(s.CreateFile(99, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.CreateFile(2, "x")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.CreateFile(kRoot, "")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.CreateFile(kRoot, ".")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.CreateFile(kRoot, "..")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.CreateFile(kRoot, "a/b")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.CreateFile(kRoot, std::string("a\0b", 3))) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.CreateFile(kRoot, std::string(256, 'n'))) == ErrorCode::NAME_TOO_LONG);
  CHECK(s.CreateFile(kRoot, std::string(255, 'n')).ok());
  CHECK(CodeOf(AttrOf(s.Apply(CreateCmd(kRoot, "u", pb::FILE_TYPE_UNSPECIFIED, 0644)))) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(s->InodeCount() == 3);
}

TEST_CASE("mkdir: nlink 2, the parent gains a link", "[meta][namespace]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d", 0750);
  REQUIRE(d.ok());
  CHECK(d->type() == pb::FILE_TYPE_DIRECTORY);
  CHECK(d->nlink() == 2);
  CHECK(d->mode() == 0750);
  CHECK(s.Attr(kRoot)->nlink() == 3);
  REQUIRE(s.Mkdir(d->inode(), "e").ok());
  REQUIRE(s.CreateFile(d->inode(), "f").ok());
  CHECK(s.Attr(d->inode())->nlink() == 3);  // files do not count
}

TEST_CASE("symlink, fifo, socket; readlink", "[meta][namespace]") {
  TestStore s;
  auto l = s.Symlink(kRoot, "l", "some/where");
  REQUIRE(l.ok());
  CHECK(l->type() == pb::FILE_TYPE_SYMLINK);
  CHECK(l->mode() == 0777);
  CHECK(l->size() == 10);
  CHECK(s->ReadLink(l->inode()).value_or("") == "some/where");
  CHECK(CodeOf(s.Symlink(kRoot, "empty", "")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Symlink(kRoot, "long", std::string(4096, 'x'))) == ErrorCode::NAME_TOO_LONG);
  CHECK(s.Symlink(kRoot, "max", std::string(4095, 'x')).ok());

  auto fifo = AttrOf(s.Apply(CreateCmd(kRoot, "p", pb::FILE_TYPE_FIFO, 0600)));
  REQUIRE(fifo.ok());
  CHECK(fifo->type() == pb::FILE_TYPE_FIFO);
  auto sock = AttrOf(s.Apply(CreateCmd(kRoot, "s", pb::FILE_TYPE_SOCKET, 0600)));
  REQUIRE(sock.ok());
  CHECK(sock->type() == pb::FILE_TYPE_SOCKET);

  auto f = s.CreateFile(kRoot, "f");
  CHECK(CodeOf(s->ReadLink(f->inode())) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s->ReadLink(99)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("lookup and getattr errors", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  CHECK(CodeOf(s.Lookup(kRoot, "missing")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Lookup(f->inode(), "x")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Lookup(99, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Lookup(kRoot, "")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Lookup(kRoot, std::string(300, 'x'))) == ErrorCode::NAME_TOO_LONG);
  CHECK(CodeOf(s.Attr(99)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("unlink: the name goes, the inode with its last link", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.Unlink(kRoot, "f").ok());
  CHECK(CodeOf(s.Lookup(kRoot, "f")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Attr(f->inode())) == ErrorCode::NOT_FOUND);
  CHECK(s->InodeCount() == 1);
  CHECK(s.Attr(kRoot)->mtime().sec() == s.now_ns / 1000000000);
}

TEST_CASE("unlink: errors", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.Mkdir(kRoot, "d").ok());
  CHECK(CodeOf(s.Unlink(kRoot, "missing")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Unlink(kRoot, "d")) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s.Unlink(f->inode(), "x")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Unlink(99, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Unlink(kRoot, "..")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(s.Lookup(kRoot, "d").ok());
}

TEST_CASE("rmdir: an empty directory goes, its parent loses a link", "[meta][namespace]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d");
  REQUIRE(s.CreateFile(d->inode(), "f").ok());
  REQUIRE(s.CreateFile(kRoot, "file").ok());
  CHECK(CodeOf(s.Rmdir(kRoot, "d")) == ErrorCode::NOT_EMPTY);
  CHECK(CodeOf(s.Rmdir(kRoot, "file")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Rmdir(kRoot, "missing")) == ErrorCode::NOT_FOUND);
  REQUIRE(s.Unlink(d->inode(), "f").ok());
  CHECK(s.Attr(kRoot)->nlink() == 3);
  REQUIRE(s.Rmdir(kRoot, "d").ok());
  CHECK(s.Attr(kRoot)->nlink() == 2);
  CHECK(CodeOf(s.Attr(d->inode())) == ErrorCode::NOT_FOUND);
  CHECK(s->InodeCount() == 2);
}

TEST_CASE("link: another name, nlink + 1, ctime", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  auto d = s.Mkdir(kRoot, "d");
  auto linked = s.Link(f->inode(), d->inode(), "g");
  REQUIRE(linked.ok());
  CHECK(linked->nlink() == 2);
  CHECK(linked->ctime().sec() == s.now_ns / 1000000000);
  CHECK(s.Lookup(d->inode(), "g")->inode() == f->inode());
  CHECK(s.Attr(d->inode())->mtime().sec() == s.now_ns / 1000000000);

  CHECK(CodeOf(s.Link(d->inode(), kRoot, "dlink")) == ErrorCode::NOT_PERMITTED);
  CHECK(CodeOf(s.Link(f->inode(), kRoot, "d")) == ErrorCode::ALREADY_EXISTS);
  CHECK(CodeOf(s.Link(99, kRoot, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Link(f->inode(), 99, "x")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Link(f->inode(), f->inode(), "x")) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s.Link(f->inode(), kRoot, "")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(s.Attr(f->inode())->nlink() == 2);
}

TEST_CASE("hard links: counts through link, unlink and rename over a link", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "a");
  uint64_t ino = f->inode();
  REQUIRE(s.Link(ino, kRoot, "b").ok());
  REQUIRE(s.Link(ino, kRoot, "c").ok());
  CHECK(s.Attr(ino)->nlink() == 3);
  REQUIRE(s.Unlink(kRoot, "a").ok());
  CHECK(s.Attr(ino)->nlink() == 2);
  // Another file renamed over one of the names takes that link away.
  auto other = s.CreateFile(kRoot, "other");
  REQUIRE(s.Rename(kRoot, "other", kRoot, "b").ok());
  CHECK(s.Attr(ino)->nlink() == 1);
  CHECK(s.Lookup(kRoot, "b")->inode() == other->inode());
  // Renaming a link onto another link of the same file does nothing.
  REQUIRE(s.Link(ino, kRoot, "d").ok());
  REQUIRE(s.Rename(kRoot, "c", kRoot, "d").ok());
  CHECK(s.Lookup(kRoot, "c")->inode() == ino);
  CHECK(s.Lookup(kRoot, "d")->inode() == ino);
  CHECK(s.Attr(ino)->nlink() == 2);
  REQUIRE(s.Unlink(kRoot, "c").ok());
  REQUIRE(s.Unlink(kRoot, "d").ok());
  CHECK(CodeOf(s.Attr(ino)) == ErrorCode::NOT_FOUND);
  CHECK(s->InodeCount() == 2);
}

TEST_CASE("readdir: name order, full attributes, paging by cookie, eof", "[meta][namespace]") {
  TestStore s;
  for (std::string name : {"c", "a", "e", "b", "d"})
    REQUIRE(s.CreateFile(kRoot, name).ok());
  auto page1 = s->ReadDir(Root(), kRoot, "", 2);
  REQUIRE(page1.ok());
  REQUIRE(page1->entries_size() == 2);
  CHECK(page1->entries(0).name() == "a");
  CHECK(page1->entries(1).name() == "b");
  CHECK_FALSE(page1->eof());
  CHECK(page1->entries(0).attr().SerializeAsString() == s.Lookup(kRoot, "a")->SerializeAsString());
  auto page2 = s->ReadDir(Root(), kRoot, "b", 3);
  REQUIRE(page2->entries_size() == 3);
  CHECK(page2->entries(2).name() == "e");
  CHECK(page2->eof());
  auto past = s->ReadDir(Root(), kRoot, "e", 3);
  CHECK(past->entries_size() == 0);
  CHECK(past->eof());
  // A cookie need not be a name that exists.
  auto from_bb = s->ReadDir(Root(), kRoot, "bb", 10);
  CHECK(from_bb->entries(0).name() == "c");
  // max_entries 0 is the default page.
  CHECK(s->ReadDir(Root(), kRoot, "", 0)->entries_size() == 5);

  auto f = s.Lookup(kRoot, "a");
  CHECK(CodeOf(s->ReadDir(Root(), f->inode(), "", 10)) == ErrorCode::NOT_A_DIRECTORY);
  CHECK(CodeOf(s->ReadDir(Root(), 99, "", 10)) == ErrorCode::NOT_FOUND);
  auto empty = s.Mkdir(kRoot, "z");
  auto none = s->ReadDir(Root(), empty->inode(), "", 10);
  CHECK(none->entries_size() == 0);
  CHECK(none->eof());
}

TEST_CASE("readdir: paging under concurrent inserts and deletes", "[meta][namespace]") {
  TestStore s;
  std::set<std::string> stable;
  for (int i = 0; i < 60; i++) {
    std::string name = "n" + std::to_string(1000 + i * 10);
    REQUIRE(s.CreateFile(kRoot, name).ok());
    if (i % 3 != 0) stable.insert(name);  // every third is deleted during the listing
  }
  std::vector<std::string> seen;
  std::string cookie;
  int round = 0;
  for (;;) {
    auto page = s->ReadDir(Root(), kRoot, cookie, 7);
    REQUIRE(page.ok());
    for (const pb::DirEntry& e : page->entries())
      seen.push_back(e.name());
    if (page->eof()) break;
    cookie = seen.back();
    // Between pages: delete some names (before and after the cookie),
    // insert new ones before, after and right at the cookie.
    for (int i = round; i < 60; i += 9) {
      if (i % 3 == 0) {
        std::string victim = "n" + std::to_string(1000 + i * 10);
        if (s.Lookup(kRoot, victim).ok()) REQUIRE(s.Unlink(kRoot, victim).ok());
      }
    }
    REQUIRE(s.CreateFile(kRoot, "n" + std::to_string(1000 + round * 37 % 600) + "x").ok());
    REQUIRE(s.CreateFile(kRoot, cookie + "+").ok());
    REQUIRE(s.CreateFile(kRoot, "a" + std::to_string(round)).ok());
    round++;
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(unique.size() == seen.size());  // no name twice
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  for (const std::string& name : stable)
    CHECK(unique.count(name) == 1);  // present throughout: listed
  CHECK(round > 3);
}

TEST_CASE("setattr as owner: mode, times, valid bits", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  SECTION("chmod keeps the type and sets the permission bits") {
    auto a = s.Chmod(f->inode(), 0100640);  // file type bits are ignored
    REQUIRE(a.ok());
    CHECK(a->mode() == 0640);
    CHECK(a->type() == pb::FILE_TYPE_REGULAR);
    CHECK(a->ctime().sec() == s.now_ns / 1000000000);
  }
  SECTION("explicit times and now") {
    pb::SetAttrRequest req;
    req.set_inode(f->inode());
    req.set_valid(pb::SETATTR_ATIME | pb::SETATTR_MTIME);
    req.mutable_atime()->set_sec(111);
    req.mutable_atime()->set_nsec(5);
    req.mutable_mtime()->set_sec(222);
    auto a = s.SetAttr(req);
    REQUIRE(a.ok());
    CHECK(a->atime().sec() == 111);
    CHECK(a->atime().nsec() == 5);
    CHECK(a->mtime().sec() == 222);
    req.set_valid(pb::SETATTR_MTIME_NOW | pb::SETATTR_MTIME);
    a = s.SetAttr(req);
    CHECK(a->mtime().sec() == s.now_ns / 1000000000);
    CHECK(a->atime().sec() == 111);
  }
  SECTION("unknown bits and bad nanoseconds are INVALID_ARGUMENT") {
    pb::SetAttrRequest req;
    req.set_inode(f->inode());
    req.set_valid(1024);
    CHECK(CodeOf(s.SetAttr(req)) == ErrorCode::INVALID_ARGUMENT);
    req.set_valid(pb::SETATTR_ATIME);
    req.mutable_atime()->set_nsec(1000000000);
    CHECK(CodeOf(s.SetAttr(req)) == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("nothing valid changes nothing") {
    pb::SetAttrRequest req;
    req.set_inode(f->inode());
    auto a = s.SetAttr(req);
    REQUIRE(a.ok());
    CHECK(a->SerializeAsString() == f->SerializeAsString());
  }
  SECTION("missing inode") {
    CHECK(CodeOf(s.Chmod(99, 0644)) == ErrorCode::NOT_FOUND);
  }
}

TEST_CASE("access: existence and mode bits", "[meta][namespace]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f", 0644);
  CHECK(s->Access(Root(), f->inode(), 0).ok());
  CHECK(s->Access(Root(), f->inode(), 4 | 2).ok());
  // Root runs only what somebody may run; directories are always searchable.
  CHECK(s->Access(Root(), f->inode(), 1).code() == ErrorCode::PERMISSION_DENIED);
  CHECK(s->Access(Root(), kRoot, 1).ok());
  CHECK(s->Access(Root(), 99, 0).code() == ErrorCode::NOT_FOUND);
  CHECK(s->Access(Root(), f->inode(), 8).code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(s->Access(User(5, 5), f->inode(), 4).ok());
  CHECK(s->Access(User(5, 5), f->inode(), 2).code() == ErrorCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace dfs::meta::testing
