// WatchEventFor: what each committed mutation invalidates.
#include "meta/server/watch_events.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace dfs::meta {
namespace {

constexpr int64_t kNow = 1'700'000'000'123'456'789;

using Entries = std::set<std::pair<uint64_t, std::string>>;

pb::MetaCommand Command() {
  pb::MetaCommand cmd;
  cmd.set_session_id(77);
  cmd.set_sequence(1);
  cmd.set_now_ns(kNow);
  return cmd;
}

pb::MetaReply ReplyWithInode(uint64_t inode, int64_t ctime_ns) {
  pb::MetaReply reply;
  reply.mutable_attr()->set_inode(inode);
  reply.mutable_attr()->mutable_ctime()->set_sec(ctime_ns / 1'000'000'000);
  reply.mutable_attr()->mutable_ctime()->set_nsec(static_cast<uint32_t>(ctime_ns % 1'000'000'000));
  return reply;
}

std::set<uint64_t> InodesOf(const pb::WatchEvent& e) {
  return {e.inodes().begin(), e.inodes().end()};
}

Entries EntriesOf(const pb::WatchEvent& e) {
  Entries out;
  for (const pb::WatchEntry& entry : e.entries())
    out.emplace(entry.parent(), entry.name());
  return out;
}

TEST_CASE("WatchEventFor: create names the parent, the entry and the new inode", "[watch]") {
  pb::MetaCommand cmd = Command();
  cmd.mutable_create()->set_parent(1);
  cmd.mutable_create()->set_name("up.jpg");
  CHECK(EntriesToResolve(cmd).empty());
  auto e = WatchEventFor(cmd, ReplyWithInode(9, kNow), {});
  REQUIRE(e.has_value());
  CHECK(InodesOf(*e) == std::set<uint64_t>{1, 9});
  CHECK(EntriesOf(*e) == Entries{{1, "up.jpg"}});
  CHECK_FALSE(e->resync());

  // O_CREAT on an existing file (or a replayed reply): nothing changed now.
  CHECK_FALSE(WatchEventFor(cmd, ReplyWithInode(9, kNow - 5'000'000'000), {}).has_value());
}

TEST_CASE("WatchEventFor: failed commands and internal ones publish nothing", "[watch]") {
  pb::MetaCommand cmd = Command();
  cmd.mutable_setattr()->set_inode(4);
  pb::MetaReply failed;
  failed.mutable_error()->set_code(static_cast<uint32_t>(ErrorCode::PERMISSION_DENIED));
  CHECK_FALSE(WatchEventFor(cmd, failed, {}).has_value());

  pb::MetaCommand alloc = Command();
  alloc.mutable_allocate_chunk()->set_inode(4);
  CHECK_FALSE(WatchEventFor(alloc, pb::MetaReply(), {}).has_value());
  pb::MetaCommand forget = Command();
  forget.mutable_forget_garbage();
  CHECK_FALSE(WatchEventFor(forget, pb::MetaReply(), {}).has_value());
}

TEST_CASE("WatchEventFor: inode-only mutations", "[watch]") {
  pb::MetaCommand setattr = Command();
  setattr.mutable_setattr()->set_inode(4);
  setattr.mutable_setattr()->set_valid(pb::SETATTR_SIZE);
  pb::MetaCommand commit = Command();
  commit.mutable_commit_write()->set_inode(5);
  pb::MetaCommand setx = Command();
  setx.mutable_setxattr()->set_inode(6);
  pb::MetaCommand removex = Command();
  removex.mutable_removexattr()->set_inode(7);
  uint64_t expected = 4;
  for (const pb::MetaCommand* cmd : {&setattr, &commit, &setx, &removex}) {
    auto e = WatchEventFor(*cmd, pb::MetaReply(), {});
    REQUIRE(e.has_value());
    CHECK(InodesOf(*e) == std::set<uint64_t>{expected++});
    CHECK(e->entries().empty());
  }
}

TEST_CASE("WatchEventFor: unlink and rmdir name the entry and the inode it held", "[watch]") {
  pb::MetaCommand cmd = Command();
  cmd.mutable_unlink()->set_parent(3);
  cmd.mutable_unlink()->set_name("old");
  auto keys = EntriesToResolve(cmd);
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].parent == 3);
  CHECK(keys[0].name == "old");
  std::vector<uint64_t> resolved{12};
  auto e = WatchEventFor(cmd, pb::MetaReply(), resolved);
  REQUIRE(e.has_value());
  CHECK(InodesOf(*e) == std::set<uint64_t>{3, 12});
  CHECK(EntriesOf(*e) == Entries{{3, "old"}});

  pb::MetaCommand rmdir = Command();
  rmdir.mutable_rmdir()->set_parent(1);
  rmdir.mutable_rmdir()->set_name("d");
  std::vector<uint64_t> unknown{0};  // not found before proposing
  e = WatchEventFor(rmdir, pb::MetaReply(), unknown);
  REQUIRE(e.has_value());
  CHECK(InodesOf(*e) == std::set<uint64_t>{1});
  CHECK(EntriesOf(*e) == Entries{{1, "d"}});
}

TEST_CASE("WatchEventFor: rename names both parents, both entries, moved and replaced inodes",
          "[watch]") {
  pb::MetaCommand cmd = Command();
  pb::RenameRequest* r = cmd.mutable_rename();
  r->set_parent(2);
  r->set_name("a");
  r->set_new_parent(3);
  r->set_new_name("b");
  REQUIRE(EntriesToResolve(cmd).size() == 2);
  std::vector<uint64_t> resolved{10, 11};  // 10 moves, 11 is replaced
  auto e = WatchEventFor(cmd, pb::MetaReply(), resolved);
  REQUIRE(e.has_value());
  CHECK(InodesOf(*e) == std::set<uint64_t>{2, 3, 10, 11});
  CHECK(EntriesOf(*e) == Entries{{2, "a"}, {3, "b"}});

  // Within one directory, to a free name: listed once each.
  r->set_new_parent(2);
  resolved = {10, 0};
  e = WatchEventFor(cmd, pb::MetaReply(), resolved);
  REQUIRE(e.has_value());
  CHECK(e->inodes_size() == 2);
  CHECK(InodesOf(*e) == std::set<uint64_t>{2, 10});
  CHECK(EntriesOf(*e) == Entries{{2, "a"}, {2, "b"}});
}

TEST_CASE("WatchEventFor: link names the inode, the new parent and the new entry", "[watch]") {
  pb::MetaCommand cmd = Command();
  cmd.mutable_link()->set_inode(8);
  cmd.mutable_link()->set_new_parent(1);
  cmd.mutable_link()->set_new_name("hard");
  auto e = WatchEventFor(cmd, ReplyWithInode(8, kNow), {});
  REQUIRE(e.has_value());
  CHECK(InodesOf(*e) == std::set<uint64_t>{1, 8});
  CHECK(EntriesOf(*e) == Entries{{1, "hard"}});
}

}  // namespace
}  // namespace dfs::meta
