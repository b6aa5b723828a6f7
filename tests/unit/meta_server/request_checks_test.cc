#include "meta/server/request_checks.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "meta/ops/validate.h"
#include "proto/field_checks.h"

namespace dfs::meta {
namespace {

constexpr uint64_t kChunk = 64 << 20;

// The refusal of `s`: its code, and a message that names `field`.
void CheckRefused(const Status& s, ErrorCode code, const std::string& field) {
  INFO(s);
  CHECK(s.code() == code);
  CHECK(s.message().find(field) != std::string::npos);
}

pb::RpcHeader Header() {
  pb::RpcHeader h;
  h.set_cluster_id("0b5c3e4a-6f3c-4d8e-9a51-1f2e3d4c5b6a");
  h.set_session_id(77);
  h.set_sequence(1);
  h.set_uid(1000);
  h.set_gid(1000);
  return h;
}

TEST_CASE("Request checks: headers", "[request_checks]") {
  pb::LookupRequest req;
  *req.mutable_header() = Header();
  req.set_parent(1);
  req.set_name("photo.jpg");
  CHECK(CheckRequest(req).ok());

  SECTION("an empty cluster id is one the caller has not learned yet") {
    req.mutable_header()->clear_cluster_id();
    CHECK(CheckRequest(req).ok());
  }
  SECTION("a cluster id longer than any UUID") {
    req.mutable_header()->set_cluster_id(std::string(kMaxClusterIdLength + 1, 'a'));
    CheckRefused(CheckRequest(req), ErrorCode::INVALID_ARGUMENT, "header.cluster_id");
  }
  SECTION("more groups than Linux allows") {
    for (int i = 0; i <= kMaxGroups; i++)
      req.mutable_header()->add_groups(static_cast<uint32_t>(i));
    CheckRefused(CheckRequest(req), ErrorCode::INVALID_ARGUMENT, "header.groups");
  }
  SECTION("a mutation of a session numbers from 1; reads ignore sessions") {
    req.mutable_header()->set_sequence(0);
    CHECK(CheckRequest(req).ok());
    pb::EntryRequest unlink;
    *unlink.mutable_header() = req.header();
    unlink.set_parent(1);
    unlink.set_name("photo.jpg");
    CheckRefused(CheckRequest(unlink), ErrorCode::INVALID_ARGUMENT, "header.sequence");
    unlink.mutable_header()->set_session_id(0);  // not deduplicated: any sequence
    CHECK(CheckRequest(unlink).ok());
  }
}

TEST_CASE("Request checks: names and ids of namespace calls", "[request_checks]") {
  pb::EntryRequest req;
  *req.mutable_header() = Header();
  req.set_parent(1);
  req.set_name(std::string(kMaxNameLength, 'x'));
  CHECK(CheckRequest(req).ok());

  req.set_parent(0);
  CheckRefused(CheckRequest(req), ErrorCode::INVALID_ARGUMENT, "parent");
  req.set_parent(1);
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."),
                                 std::string("a/b"), std::string("a\0b", 3)}) {
    req.set_name(bad);
    CheckRefused(CheckRequest(req), ErrorCode::INVALID_ARGUMENT, "name");
  }
  req.set_name(std::string(kMaxNameLength + 1, 'x'));
  CheckRefused(CheckRequest(req), ErrorCode::NAME_TOO_LONG, "name");

  pb::RenameRequest rename;
  *rename.mutable_header() = Header();
  rename.set_parent(1);
  rename.set_name("a");
  rename.set_new_parent(1);
  rename.set_new_name("b");
  CHECK(CheckRequest(rename).ok());
  rename.set_new_parent(0);
  CheckRefused(CheckRequest(rename), ErrorCode::INVALID_ARGUMENT, "new_parent");
  rename.set_new_parent(1);
  rename.set_flags(3);  // NOREPLACE and EXCHANGE
  CHECK(CheckRequest(rename).code() == ErrorCode::INVALID_ARGUMENT);
  rename.set_flags(0);
  rename.set_new_name("..");
  CHECK(CheckRequest(rename).code() == ErrorCode::INVALID_ARGUMENT);

  pb::LinkRequest link;
  *link.mutable_header() = Header();
  link.set_inode(5);
  link.set_new_parent(1);
  link.set_new_name("b");
  CHECK(CheckRequest(link).ok());
  link.set_inode(0);
  CheckRefused(CheckRequest(link), ErrorCode::INVALID_ARGUMENT, "inode");

  pb::ReadDirRequest readdir;
  *readdir.mutable_header() = Header();
  readdir.set_inode(1);
  readdir.set_max_entries(std::numeric_limits<uint32_t>::max());  // served a page of the most
  CHECK(CheckRequest(readdir).ok());
  readdir.set_cookie("last-name");
  CHECK(CheckRequest(readdir).ok());
  readdir.set_cookie(std::string(10000, 'c'));
  CheckRefused(CheckRequest(readdir), ErrorCode::NAME_TOO_LONG, "cookie");
  readdir.set_cookie("");
  readdir.set_inode(0);
  CheckRefused(CheckRequest(readdir), ErrorCode::INVALID_ARGUMENT, "inode");

  pb::GetAttrRequest getattr;
  getattr.set_inode(1);
  getattr.set_access_mask(7);
  CHECK(CheckRequest(getattr).ok());
  getattr.set_access_mask(8);
  CheckRefused(CheckRequest(getattr), ErrorCode::INVALID_ARGUMENT, "access_mask");

  pb::AccessRequest access;
  access.set_inode(1);
  access.set_mask(0xffffffff);
  CheckRefused(CheckRequest(access), ErrorCode::INVALID_ARGUMENT, "mask");
}

TEST_CASE("Request checks: create and setattr", "[request_checks]") {
  pb::CreateRequest create;
  *create.mutable_header() = Header();
  create.set_parent(1);
  create.set_name("f");
  create.set_type(pb::FILE_TYPE_REGULAR);
  create.set_mode(0100644);  // type bits a client left in are fine
  create.set_umask(022);
  CHECK(CheckRequest(create).ok());

  SECTION("unknown types") {
    create.set_type(pb::FILE_TYPE_UNSPECIFIED);
    CHECK(CheckRequest(create).code() == ErrorCode::INVALID_ARGUMENT);
    create.set_type(static_cast<pb::FileType>(999));
    CHECK(CheckRequest(create).code() == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("mode and umask bits beyond any meaning") {
    create.set_mode(0xffffffff);
    CheckRefused(CheckRequest(create), ErrorCode::INVALID_ARGUMENT, "mode");
    create.set_mode(0644);
    create.set_umask(01000);
    CheckRefused(CheckRequest(create), ErrorCode::INVALID_ARGUMENT, "umask");
  }
  SECTION("a symlink target only for a symlink, and a valid one") {
    create.set_symlink_target(std::string(10 << 20, 't'));
    CheckRefused(CheckRequest(create), ErrorCode::INVALID_ARGUMENT, "symlink_target");
    create.set_type(pb::FILE_TYPE_SYMLINK);
    CHECK(CheckRequest(create).code() == ErrorCode::NAME_TOO_LONG);
    create.set_symlink_target("../target");
    CHECK(CheckRequest(create).ok());
    create.set_symlink_target("");
    CHECK(CheckRequest(create).code() == ErrorCode::NOT_FOUND);  // as symlink(2)
  }

  pb::SetAttrRequest setattr;
  *setattr.mutable_header() = Header();
  setattr.set_inode(2);
  setattr.set_mode(0xffffffff);  // not selected: ignored
  CHECK(CheckRequest(setattr).ok());
  setattr.set_valid(pb::SETATTR_MODE);
  CheckRefused(CheckRequest(setattr), ErrorCode::INVALID_ARGUMENT, "mode");
  setattr.set_mode(04755);
  CHECK(CheckRequest(setattr).ok());
  setattr.set_valid(0x100);
  CHECK(CheckRequest(setattr).code() == ErrorCode::INVALID_ARGUMENT);
  setattr.set_valid(pb::SETATTR_SIZE);
  setattr.set_size(std::numeric_limits<uint64_t>::max());
  CHECK(CheckRequest(setattr).code() == ErrorCode::FILE_TOO_LARGE);
  setattr.set_valid(pb::SETATTR_MTIME);
  setattr.mutable_mtime()->set_nsec(1000000000);
  CHECK(CheckRequest(setattr).code() == ErrorCode::INVALID_ARGUMENT);
  setattr.set_valid(pb::SETATTR_MTIME_NOW);  // the field is not used
  CHECK(CheckRequest(setattr).ok());
  setattr.set_inode(0);
  CheckRefused(CheckRequest(setattr), ErrorCode::INVALID_ARGUMENT, "inode");
}

TEST_CASE("Request checks: extended attributes", "[request_checks]") {
  pb::XattrRequest req;
  *req.mutable_header() = Header();
  req.set_inode(2);
  req.set_name("user.origin");
  req.set_value(std::string(kMaxXattrValueLength, 'v'));
  CHECK(CheckSetXattrRequest(req).ok());

  SECTION("a value above 64 KiB") {
    req.set_value(std::string(kMaxXattrValueLength + 1, 'v'));
    CHECK(CheckSetXattrRequest(req).code() == ErrorCode::RANGE);
  }
  SECTION("names and flags") {
    req.set_name("");
    CHECK(CheckSetXattrRequest(req).code() == ErrorCode::INVALID_ARGUMENT);
    req.set_name("nonamespace");
    CHECK(CheckSetXattrRequest(req).code() == ErrorCode::NOT_SUPPORTED);
    req.set_name(std::string("user.") + std::string(300, 'n'));
    CHECK(CheckSetXattrRequest(req).code() == ErrorCode::RANGE);
    req.set_name("user.origin");
    req.set_flags(3);
    CHECK(CheckSetXattrRequest(req).code() == ErrorCode::INVALID_ARGUMENT);
  }
  SECTION("a get, a list and a remove take no value and no flags") {
    CheckRefused(CheckGetXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "value");
    CheckRefused(CheckRemoveXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "value");
    req.clear_value();
    CHECK(CheckGetXattrRequest(req).ok());
    CHECK(CheckRemoveXattrRequest(req).ok());
    req.set_flags(1);
    CheckRefused(CheckGetXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "flags");
    CheckRefused(CheckRemoveXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "flags");
    req.set_flags(0);
    CheckRefused(CheckListXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "name");
    req.clear_name();
    CHECK(CheckListXattrRequest(req).ok());
    req.set_inode(0);
    CheckRefused(CheckListXattrRequest(req), ErrorCode::INVALID_ARGUMENT, "inode");
  }
}

TEST_CASE("Request checks: chunks, nodes and heartbeats", "[request_checks]") {
  pb::AllocateChunkRequest alloc;
  *alloc.mutable_header() = Header();
  alloc.set_inode(2);
  alloc.set_index(kMaxFileSize / kChunk - 1);
  alloc.add_failed_nodes(3);
  CHECK(CheckRequest(alloc, kChunk).ok());
  alloc.set_index(kMaxFileSize / kChunk);
  CheckRefused(CheckRequest(alloc, kChunk), ErrorCode::FILE_TOO_LARGE, "index");
  CHECK(CheckRequest(alloc, 0).ok());  // not formatted: the state machine decides
  alloc.set_index(0);
  alloc.add_failed_nodes(0);
  CheckRefused(CheckRequest(alloc, kChunk), ErrorCode::INVALID_ARGUMENT, "failed_nodes");
  alloc.clear_failed_nodes();
  for (int i = 1; i <= kMaxChainLength + 1; i++)
    alloc.add_failed_nodes(static_cast<uint64_t>(i));
  CheckRefused(CheckRequest(alloc, kChunk), ErrorCode::INVALID_ARGUMENT, "failed_nodes");

  pb::CommitWriteRequest commit;
  *commit.mutable_header() = Header();
  commit.set_inode(2);
  commit.set_size(kMaxFileSize);
  CHECK(CheckRequest(commit).ok());
  commit.set_size(kMaxFileSize + 1);
  CHECK(CheckRequest(commit).code() == ErrorCode::FILE_TOO_LARGE);
  commit.set_size(1);
  commit.mutable_mtime()->set_nsec(2000000000);
  CheckRefused(CheckRequest(commit), ErrorCode::INVALID_ARGUMENT, "mtime");

  pb::RegisterNodeRequest reg;
  *reg.mutable_header() = Header();
  reg.set_address("cs-a1.example.net:7101");
  reg.set_zone("eu-west-1a");
  CHECK(CheckRequest(reg).ok());
  reg.set_address("");
  CheckRefused(CheckRequest(reg), ErrorCode::INVALID_ARGUMENT, "address");
  reg.set_address("127.0.0.1:7101");
  reg.set_zone("");
  CheckRefused(CheckRequest(reg), ErrorCode::INVALID_ARGUMENT, "zone");

  pb::HeartbeatRequest hb;
  *hb.mutable_header() = Header();
  hb.set_node_id(4);
  pb::ChunkReport* r = hb.add_changed();
  r->set_chunk_id(9);
  r->set_version(2);
  r->set_length(kChunk);
  CHECK(CheckRequest(hb, kChunk).ok());
  r->set_length(kChunk + 1);
  CheckRefused(CheckRequest(hb, kChunk), ErrorCode::INVALID_ARGUMENT, "changed.length");
  r->set_length(1);
  r->set_version(0);
  CheckRefused(CheckRequest(hb, kChunk), ErrorCode::INVALID_ARGUMENT, "changed.version");
  r->set_version(1);
  r->set_chunk_id(0);
  CheckRefused(CheckRequest(hb, kChunk), ErrorCode::INVALID_ARGUMENT, "changed.chunk_id");
  r->set_chunk_id(9);
  hb.set_node_id(0);
  CheckRefused(CheckRequest(hb, kChunk), ErrorCode::INVALID_ARGUMENT, "node_id");

  pb::WatchRequest watch;
  for (int i = 0; i < kMaxWatchSessions; i++)
    watch.add_own_sessions(static_cast<uint64_t>(i));
  CHECK(CheckRequest(watch).ok());
  watch.add_own_sessions(1);
  CheckRefused(CheckRequest(watch), ErrorCode::INVALID_ARGUMENT, "own_sessions");
}

TEST_CASE("Request checks: locks", "[request_checks]") {
  pb::LockRequest lock;
  lock.set_inode(2);
  lock.mutable_lock()->set_type(pb::LOCK_TYPE_WRITE);
  lock.mutable_lock()->set_end(std::numeric_limits<uint64_t>::max());
  lock.mutable_lock()->set_lock_session(3);
  CHECK(CheckRequest(lock).ok());
  lock.mutable_lock()->set_lock_session(0);
  CheckRefused(CheckRequest(lock), ErrorCode::INVALID_ARGUMENT, "lock_session");
  lock.mutable_lock()->set_lock_session(3);
  lock.mutable_lock()->set_kind(static_cast<pb::LockKind>(7));
  CheckRefused(CheckRequest(lock), ErrorCode::INVALID_ARGUMENT, "lock");
  lock.mutable_lock()->set_kind(pb::LOCK_KIND_POSIX);
  lock.mutable_lock()->set_start(10);
  lock.mutable_lock()->set_end(9);
  CheckRefused(CheckRequest(lock), ErrorCode::INVALID_ARGUMENT, "lock");

  pb::ReleaseLocksRequest release;
  release.set_inode(2);
  release.set_lock_session(3);
  CHECK(CheckRequest(release).ok());
  release.set_kind(static_cast<pb::LockKind>(-1));
  CheckRefused(CheckRequest(release), ErrorCode::INVALID_ARGUMENT, "kind");

  pb::LockSessionRequest session;  // opens one
  CHECK(CheckRequest(session).ok());
  session.set_close(true);
  CheckRefused(CheckRequest(session), ErrorCode::INVALID_ARGUMENT, "lock_session");
}

TEST_CASE("Request checks: admin calls", "[request_checks]") {
  pb::MemberChangeRequest member;
  member.set_id(4);
  member.set_address("10.0.0.4:7001");
  CHECK(CheckAddMemberRequest(member).ok());
  CheckRefused(CheckMemberRequest(member), ErrorCode::INVALID_ARGUMENT, "address");
  member.set_address("10.0.0.4");  // no port
  CheckRefused(CheckAddMemberRequest(member), ErrorCode::INVALID_ARGUMENT, "address");
  member.clear_address();
  CHECK(CheckMemberRequest(member).ok());
  member.set_id(0);
  CheckRefused(CheckMemberRequest(member), ErrorCode::INVALID_ARGUMENT, "id");

  pb::NodeRequest drain;
  CheckRefused(CheckRequest(drain), ErrorCode::INVALID_ARGUMENT, "node_id");

  pb::SetRepairLimitsRequest limits;
  CHECK(CheckRequest(limits).ok());  // nothing changes
  limits.set_max_jobs(kMaxRepairJobs);
  limits.set_bandwidth(0);  // unlimited
  CHECK(CheckRequest(limits).ok());
  limits.set_max_jobs(0);
  CheckRefused(CheckRequest(limits), ErrorCode::INVALID_ARGUMENT, "max_jobs");
  limits.set_max_jobs(1);
  limits.set_per_node_jobs(kMaxRepairJobs + 1);
  CheckRefused(CheckRequest(limits), ErrorCode::INVALID_ARGUMENT, "per_node_jobs");

  pb::TrashRestoreRequest restore;
  restore.set_id(7);
  CHECK(CheckRequest(restore).ok());
  restore.set_to_name("back");
  CheckRefused(CheckRequest(restore), ErrorCode::INVALID_ARGUMENT, "to_name");
  restore.set_to_parent(1);
  CHECK(CheckRequest(restore).ok());
  restore.set_to_name("a/b");
  CheckRefused(CheckRequest(restore), ErrorCode::INVALID_ARGUMENT, "to_name");
  restore.set_id(0);
  CheckRefused(CheckRequest(restore), ErrorCode::INVALID_ARGUMENT, "id");

  pb::TrashPurgeRequest purge;
  CHECK(CheckRequest(purge).ok());  // everything
  purge.set_older_than_sec(kMaxTrashAgeSec);
  CHECK(CheckRequest(purge).ok());
  for (double bad :
       {-1.0, kMaxTrashAgeSec * 2, std::nan(""), std::numeric_limits<double>::infinity()}) {
    purge.set_older_than_sec(bad);
    CheckRefused(CheckRequest(purge), ErrorCode::INVALID_ARGUMENT, "older_than_sec");
  }

  pb::FsckRequest fsck;  // inode 0: the root
  CHECK(CheckRequest(fsck).ok());
  pb::TrashListRequest list;
  list.set_max(std::numeric_limits<uint32_t>::max());  // served a page of the most
  CHECK(CheckRequest(list).ok());
}

TEST_CASE("Field checks: addresses, zones, replicas", "[request_checks]") {
  for (const char* good :
       {"127.0.0.1:7101", "cs-a1.example.net:7101", "[::1]:7001", "localhost:1", "node_2:65535"}) {
    INFO(good);
    CHECK(CheckAddress("a", good).ok());
  }
  for (const std::string& bad :
       {std::string(), std::string(":7101"), std::string("host"), std::string("host:"),
        std::string("host:0"), std::string("host:65536"), std::string("host:99999999999"),
        std::string("host:+1"), std::string("ho/st:1"), std::string("host:1/x"),
        std::string("a b:1"), std::string("h\0st:1", 6), std::string("[]:1"), std::string("[::1:1"),
        std::string(kMaxAddressLength, 'a') + ":1"}) {
    INFO(bad);
    CheckRefused(CheckAddress("address", bad), ErrorCode::INVALID_ARGUMENT, "address");
  }
  CHECK(CheckZone("zone", "eu-west-1a").ok());
  CHECK(CheckZone("zone", "rack 17").ok());
  CHECK(CheckZone("zone", "").code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(CheckZone("zone", std::string(kMaxZoneLength + 1, 'z')).code() ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(CheckZone("zone", std::string("a\nb")).code() == ErrorCode::INVALID_ARGUMENT);

  pb::ChunkReplica r;
  r.set_node_id(1);
  r.set_address("127.0.0.1:7101");
  CHECK(CheckReplica("chain", r).ok());  // the zone is optional
  r.set_node_id(0);
  CheckRefused(CheckReplica("chain", r), ErrorCode::INVALID_ARGUMENT, "chain.node_id");
}

}  // namespace
}  // namespace dfs::meta
