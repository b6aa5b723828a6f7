// Extended attributes: set, get, list, remove, flags, limits.
#include <catch2/catch.hpp>

#include "meta/meta_store.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

using ops::kXattrCreate;
using ops::kXattrReplace;

TEST_CASE("xattr: set, get, list, remove; ctime moves", "[meta][xattr]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  uint64_t ino = f->inode();
  REQUIRE(s.SetXattr(ino, "user.b", "2").ok());
  REQUIRE(s.SetXattr(ino, "user.a", std::string("bin\0ary", 7)).ok());
  CHECK(s.Attr(ino)->ctime().sec() == s.now_ns / 1000000000);
  CHECK(s->GetXattr(Root(), ino, "user.a").value_or("") == std::string("bin\0ary", 7));
  CHECK(s->ListXattr(Root(), ino).value() == std::vector<std::string>{"user.a", "user.b"});
  REQUIRE(s.SetXattr(ino, "user.b", "").ok());  // empty values are values
  CHECK(s->GetXattr(Root(), ino, "user.b").ok());
  REQUIRE(s.RemoveXattr(ino, "user.a").ok());
  CHECK(CodeOf(s->GetXattr(Root(), ino, "user.a")) == ErrorCode::NO_DATA);
  CHECK(s->ListXattr(Root(), ino).value() == std::vector<std::string>{"user.b"});
  CHECK(s.SetXattr(kRoot, "user.dir", "ok").ok());
}

TEST_CASE("xattr: XATTR_CREATE and XATTR_REPLACE", "[meta][xattr]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  uint64_t ino = f->inode();
  CHECK(CodeOf(s.SetXattr(ino, "user.k", "v", kXattrReplace)) == ErrorCode::NO_DATA);
  REQUIRE(s.SetXattr(ino, "user.k", "v1", kXattrCreate).ok());
  CHECK(CodeOf(s.SetXattr(ino, "user.k", "v2", kXattrCreate)) == ErrorCode::ALREADY_EXISTS);
  REQUIRE(s.SetXattr(ino, "user.k", "v3", kXattrReplace).ok());
  CHECK(s->GetXattr(Root(), ino, "user.k").value_or("") == "v3");
  CHECK(CodeOf(s.SetXattr(ino, "user.k", "v", kXattrCreate | kXattrReplace)) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.SetXattr(ino, "user.k", "v", 4)) == ErrorCode::INVALID_ARGUMENT);
}

TEST_CASE("xattr: missing attributes, bad names, value limits", "[meta][xattr]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  uint64_t ino = f->inode();
  CHECK(CodeOf(s->GetXattr(Root(), ino, "user.none")) == ErrorCode::NO_DATA);
  CHECK(CodeOf(s.RemoveXattr(ino, "user.none")) == ErrorCode::NO_DATA);
  CHECK(CodeOf(s.SetXattr(ino, "", "v")) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(s.SetXattr(ino, "user." + std::string(251, 'n'), "v")) == ErrorCode::RANGE);
  CHECK(s.SetXattr(ino, "user." + std::string(250, 'n'), "v").ok());
  CHECK(CodeOf(s.SetXattr(ino, "nonamespace", "v")) == ErrorCode::NOT_SUPPORTED);
  CHECK(CodeOf(s.SetXattr(ino, "user.", "v")) == ErrorCode::NOT_SUPPORTED);
  CHECK(s.SetXattr(ino, "user.big", std::string(64 * 1024, 'v')).ok());
  CHECK(CodeOf(s.SetXattr(ino, "user.big", std::string(64 * 1024 + 1, 'v'))) == ErrorCode::RANGE);
  CHECK(s->GetXattr(Root(), ino, "user.big").value().size() == 64 * 1024);
  CHECK(CodeOf(s.SetXattr(99, "user.a", "v")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s->GetXattr(Root(), 99, "user.a")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s->ListXattr(Root(), 99)) == ErrorCode::NOT_FOUND);
}

TEST_CASE("xattr: attributes go with their inode", "[meta][xattr]") {
  TestStore s;
  auto f = s.CreateFile(kRoot, "f");
  REQUIRE(s.SetXattr(f->inode(), "user.a", "1").ok());
  REQUIRE(s.Link(f->inode(), kRoot, "g").ok());
  REQUIRE(s.Unlink(kRoot, "f").ok());
  CHECK(s->GetXattr(Root(), f->inode(), "user.a").value_or("") == "1");  // one link left
  REQUIRE(s.Unlink(kRoot, "g").ok());
  CHECK(CodeOf(s->ListXattr(Root(), f->inode())) == ErrorCode::NOT_FOUND);
}

}  // namespace
}  // namespace dfs::meta::testing
