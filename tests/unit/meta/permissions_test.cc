// POSIX permission checks for callers other than root: search, write,
// setgid inheritance, chmod/chown/truncate/utimes rules, xattr namespaces.
#include <catch2/catch.hpp>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

pb::InodeAttr Attr(uint32_t mode, uint32_t uid, uint32_t gid,
                   pb::FileType type = pb::FILE_TYPE_REGULAR) {
  pb::InodeAttr a;
  a.set_inode(42);
  a.set_type(type);
  a.set_mode(mode);
  a.set_uid(uid);
  a.set_gid(gid);
  return a;
}

TEST_CASE("Permits: the owner, group or other class applies, never a mix", "[meta][permissions]") {
  pb::InodeAttr a = Attr(0640, 10, 20);
  CHECK(Permits(User(10, 99), a, kMayRead | kMayWrite));
  CHECK_FALSE(Permits(User(10, 99), a, kMayExec));
  CHECK(Permits(User(11, 20), a, kMayRead));
  CHECK_FALSE(Permits(User(11, 20), a, kMayWrite));
  CHECK(Permits(User(11, 5, {7, 20}), a, kMayRead));  // supplementary group
  CHECK_FALSE(Permits(User(11, 21), a, kMayRead));
  // The owner class applies to the owner even when it grants less.
  CHECK_FALSE(Permits(User(10, 20), Attr(0070, 10, 20), kMayRead));
  CHECK(Permits(User(10, 20), a, 0));
}

TEST_CASE("Permits: root reads and writes anything, executes what has an x bit",
          "[meta][permissions]") {
  CHECK(Permits(Root(), Attr(0000, 10, 20), kMayRead | kMayWrite));
  CHECK_FALSE(Permits(Root(), Attr(0600, 10, 20), kMayExec));
  CHECK(Permits(Root(), Attr(0001, 10, 20), kMayExec));
  CHECK(Permits(Root(), Attr(0000, 10, 20, pb::FILE_TYPE_DIRECTORY), kMayExec));
}

TEST_CASE("permissions: search permission on the parent for every entry operation",
          "[meta][permissions]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d", 0766);  // others: rw-, no search
  auto f = s.CreateFile(d->inode(), "f", 0666);
  REQUIRE(s.Mkdir(d->inode(), "sub", 0777).ok());
  s.caller = User(1000, 1000);
  CHECK(CodeOf(s.Lookup(d->inode(), "f")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.CreateFile(d->inode(), "g")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Unlink(d->inode(), "f")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Rmdir(d->inode(), "sub")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Rename(d->inode(), "f", d->inode(), "g")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Link(f->inode(), d->inode(), "h")) == ErrorCode::PERMISSION_DENIED);
  // Listing needs read only, but without search the attributes stay hidden.
  auto list = s->ReadDir(s.caller, d->inode(), "", 10);
  REQUIRE(list.ok());
  REQUIRE(list->entries_size() == 2);
  CHECK(list->entries(0).attr().inode() == f->inode());
  CHECK(list->entries(0).attr().type() == pb::FILE_TYPE_REGULAR);
  CHECK(list->entries(0).attr().mode() == 0);
}

TEST_CASE("permissions: write permission on the directory to add or remove entries",
          "[meta][permissions]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d", 0755);
  REQUIRE(s.CreateFile(d->inode(), "f", 0666).ok());
  REQUIRE(s.Mkdir(d->inode(), "sub", 0777).ok());
  s.caller = User(1000, 1000);
  CHECK(s.Lookup(d->inode(), "f").ok());
  CHECK(CodeOf(s.CreateFile(d->inode(), "g")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Mkdir(d->inode(), "g")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Unlink(d->inode(), "f")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Rmdir(d->inode(), "sub")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.Link(s.Lookup(d->inode(), "f")->inode(), d->inode(), "g")) ==
        ErrorCode::PERMISSION_DENIED);
  // An existing name answers EEXIST first, as Linux does.
  CHECK(CodeOf(s.CreateFile(d->inode(), "f")) == ErrorCode::ALREADY_EXISTS);
  // A missing name answers ENOENT before EACCES.
  CHECK(CodeOf(s.Unlink(d->inode(), "none")) == ErrorCode::NOT_FOUND);
  // Reading needs r.
  auto closed = [&] {
    s.caller = Root();
    auto c = s.Mkdir(kRoot, "closed", 0711);
    s.caller = User(1000, 1000);
    return c;
  }();
  CHECK(CodeOf(s->ReadDir(s.caller, closed->inode(), "", 10)) == ErrorCode::PERMISSION_DENIED);
}

TEST_CASE("permissions: new entries belong to the caller, or to a setgid parent's group",
          "[meta][permissions]") {
  TestStore s;
  auto shared = s.Mkdir(kRoot, "shared", 02777);
  CHECK(shared->mode() == 0777);  // mkdir ignores setgid in its mode, as Linux
  REQUIRE(s.Chown(shared->inode(), 0, 50).ok());
  REQUIRE(s.Chmod(shared->inode(), 02777).ok());
  auto plain = s.Mkdir(kRoot, "plain", 0777);
  s.caller = User(1000, 100);

  auto f = s.CreateFile(plain->inode(), "f");
  CHECK(f->uid() == 1000);
  CHECK(f->gid() == 100);

  auto g = s.CreateFile(shared->inode(), "g");
  CHECK(g->uid() == 1000);
  CHECK(g->gid() == 50);
  CHECK((g->mode() & kSetGid) == 0);
  auto sub = s.Mkdir(shared->inode(), "sub", 0755);
  CHECK(sub->gid() == 50);
  CHECK(sub->mode() == 02755);  // a directory passes setgid on
  // A setgid file in a group its creator is not in loses setgid.
  auto sg = s.CreateFile(shared->inode(), "sg", 02755);
  CHECK(sg->mode() == 0755);
  s.caller = User(1000, 100, {50});
  auto sg2 = s.CreateFile(shared->inode(), "sg2", 02755);
  CHECK(sg2->mode() == 02755);
}

TEST_CASE("permissions: chmod by the owner or root", "[meta][permissions]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d", 0777);
  s.caller = User(1000, 100);
  auto f = s.CreateFile(d->inode(), "f", 0644);
  CHECK(s.Chmod(f->inode(), 0600).ok());
  s.caller = User(1001, 100);
  CHECK(CodeOf(s.Chmod(f->inode(), 0666)) == ErrorCode::NOT_PERMITTED);
  s.caller = Root();
  CHECK(s.Chmod(f->inode(), 02755).value().mode() == 02755);
  // A non-root owner outside the file's group cannot set setgid.
  REQUIRE(s.Chown(f->inode(), 1000, 77).ok());
  s.caller = User(1000, 100);
  CHECK(s.Chmod(f->inode(), 02755).value().mode() == 0755);
  s.caller = User(1000, 100, {77});
  CHECK(s.Chmod(f->inode(), 02755).value().mode() == 02755);
}

TEST_CASE("permissions: chown by root; chgrp by the owner to its own groups",
          "[meta][permissions]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d", 0777);
  s.caller = User(1000, 100, {200});
  auto f = s.CreateFile(d->inode(), "f", 0644);
  CHECK(CodeOf(s.Chown(f->inode(), 1001, 100)) == ErrorCode::NOT_PERMITTED);
  CHECK(s.Chown(f->inode(), 1000, 200).ok());  // to one of its groups
  CHECK(CodeOf(s.Chown(f->inode(), 1000, 300)) == ErrorCode::NOT_PERMITTED);
  s.caller = User(1001, 200);
  CHECK(CodeOf(s.Chown(f->inode(), 1000, 200)) == ErrorCode::NOT_PERMITTED);  // not the owner
  s.caller = Root();
  auto a = s.Chown(f->inode(), 5, 6);
  REQUIRE(a.ok());
  CHECK(a->uid() == 5);
  CHECK(a->gid() == 6);
}

TEST_CASE("permissions: chown clears setuid and setgid on regular files", "[meta][permissions]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f", 06755);
  CHECK(f->mode() == 06755);
  CHECK(s.Chown(f->inode(), 7, 7).value().mode() == 0755);
  // setgid without group exec (mandatory locking) is not a privilege: kept.
  REQUIRE(s.Chmod(f->inode(), 06745).ok());
  CHECK(s.Chown(f->inode(), 8, 8).value().mode() == 02745);
  // Directories keep theirs.
  auto d = s.Mkdir(kRoot, "d", 0755);
  REQUIRE(s.Chmod(d->inode(), 06755).ok());
  CHECK(s.Chown(d->inode(), 7, 7).value().mode() == 06755);
}

TEST_CASE("permissions: truncate needs write permission", "[meta][permissions]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f", 0644);
  auto d = s.Mkdir(kRoot, "d");
  auto l = s.Symlink(kRoot, "l", "f");
  s.caller = User(1000, 1000);
  CHECK(CodeOf(s.Truncate(f->inode(), 0)) == ErrorCode::PERMISSION_DENIED);
  s.caller = Root();
  CHECK(s.Truncate(f->inode(), 10).ok());
  CHECK(CodeOf(s.Truncate(d->inode(), 0)) == ErrorCode::IS_A_DIRECTORY);
  CHECK(CodeOf(s.Truncate(l->inode(), 0)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.Truncate(f->inode(), uint64_t{1} << 63)) == ErrorCode::FILE_TOO_LARGE);
}

TEST_CASE("permissions: explicit times by the owner, 'now' by any writer", "[meta][permissions]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f", 0666);
  auto ro = s.CreateFile(kRoot, "ro", 0644);
  pb::SetAttrRequest explicit_times;
  explicit_times.set_inode(f->inode());
  explicit_times.set_valid(pb::SETATTR_MTIME);
  explicit_times.mutable_mtime()->set_sec(5);
  pb::SetAttrRequest now = explicit_times;
  now.set_valid(pb::SETATTR_ATIME_NOW | pb::SETATTR_MTIME_NOW);

  s.caller = User(1000, 1000);
  CHECK(CodeOf(s.SetAttr(explicit_times)) == ErrorCode::NOT_PERMITTED);
  CHECK(s.SetAttr(now).ok());
  now.set_inode(ro->inode());
  CHECK(CodeOf(s.SetAttr(now)) == ErrorCode::PERMISSION_DENIED);
  s.caller = Root();
  explicit_times.set_inode(ro->inode());
  CHECK(s.SetAttr(explicit_times).value().mtime().sec() == 5);
}

TEST_CASE("permissions: xattrs follow the mode bits and the namespace rules",
          "[meta][permissions][xattr]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f", 0644);
  auto l = s.Symlink(kRoot, "l", "f");
  REQUIRE(s.SetXattr(f->inode(), "user.a", "1").ok());
  REQUIRE(s.SetXattr(f->inode(), "trusted.t", "2").ok());
  s.caller = User(1000, 1000);
  CHECK(s->GetXattr(s.caller, f->inode(), "user.a").value_or("") == "1");
  CHECK(CodeOf(s.SetXattr(f->inode(), "user.b", "x")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.RemoveXattr(f->inode(), "user.a")) == ErrorCode::PERMISSION_DENIED);
  // trusted.* is root's: hidden from others.
  CHECK(CodeOf(s->GetXattr(s.caller, f->inode(), "trusted.t")) == ErrorCode::NO_DATA);
  CHECK(s->ListXattr(s.caller, f->inode()).value() == std::vector<std::string>{"user.a"});
  CHECK(s->ListXattr(Root(), f->inode()).value() ==
        std::vector<std::string>{"trusted.t", "user.a"});
  s.caller = Root();
  CHECK(CodeOf(s.SetXattr(l->inode(), "user.x", "1")) == ErrorCode::NOT_PERMITTED);
  CHECK(s.SetXattr(l->inode(), "trusted.x", "1").ok());
  s.caller = User(1000, 1000);
  CHECK(CodeOf(s.SetXattr(f->inode(), "trusted.t", "3")) == ErrorCode::NOT_PERMITTED);
  CHECK(CodeOf(s.SetXattr(f->inode(), "security.s", "3")) == ErrorCode::NOT_PERMITTED);
  s.caller = Root();
  REQUIRE(s.Chown(f->inode(), 1000, 1000).ok());
  s.caller = User(1000, 1000);
  CHECK(s.SetXattr(f->inode(), "security.s", "3").ok());
}

}  // namespace
}  // namespace dfs::meta::testing
