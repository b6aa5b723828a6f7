// Advisory locks: the range rules (lock_ranges.h) and the lock commands of
// the state machine (ops/locks.h).
#include <catch2/catch.hpp>

#include "meta/meta_store.h"
#include "meta/ops/lock_ranges.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

using ops::kLockEndOfFile;

pb::LockRange Posix(uint64_t session, uint64_t owner, pb::LockType type, uint64_t start,
                    uint64_t end) {
  pb::LockRange l;
  l.set_kind(pb::LOCK_KIND_POSIX);
  l.set_type(type);
  l.set_start(start);
  l.set_end(end);
  l.set_lock_session(session);
  l.set_owner(owner);
  return l;
}

pb::LockRange Flock(uint64_t session, uint64_t owner, pb::LockType type) {
  pb::LockRange l = Posix(session, owner, type, 0, kLockEndOfFile);
  l.set_kind(pb::LOCK_KIND_FLOCK);
  return l;
}

// The holder's ranges as "start-end:R|W", in order.
std::vector<std::string> Ranges(const pb::LockList& list) {
  std::vector<std::string> out;
  for (const pb::LockRange& l : list.locks()) {
    std::string end = l.end() == kLockEndOfFile ? "eof" : std::to_string(l.end());
    out.push_back(std::to_string(l.start()) + "-" + end + ":" +
                  (l.type() == pb::LOCK_TYPE_WRITE ? "W" : "R"));
  }
  return out;
}

constexpr auto R = pb::LOCK_TYPE_READ;
constexpr auto W = pb::LOCK_TYPE_WRITE;
constexpr auto U = pb::LOCK_TYPE_UNLOCK;

TEST_CASE("lock ranges: conflicts need another holder, overlap and a writer", "[meta][locks]") {
  pb::LockList list;
  ops::ApplyLock(&list, Posix(1, 1, W, 10, 19));
  CHECK(ops::FindLockConflict(list, Posix(2, 1, R, 0, 9)) == nullptr);    // before
  CHECK(ops::FindLockConflict(list, Posix(2, 1, R, 20, 29)) == nullptr);  // after
  CHECK(ops::FindLockConflict(list, Posix(2, 1, R, 19, 19)) != nullptr);
  CHECK(ops::FindLockConflict(list, Posix(1, 2, R, 15, 15)) != nullptr);  // other owner, same mount
  CHECK(ops::FindLockConflict(list, Posix(1, 1, W, 0, 100)) == nullptr);  // itself
  CHECK(ops::FindLockConflict(list, Flock(2, 1, W)) == nullptr);          // other kind
  CHECK(ops::FindLockConflict(list, Posix(2, 1, U, 0, 100)) == nullptr);

  pb::LockList shared;
  ops::ApplyLock(&shared, Posix(1, 1, R, 0, kLockEndOfFile));
  CHECK(ops::FindLockConflict(shared, Posix(2, 1, R, 5, 5)) == nullptr);
  const pb::LockRange* c = ops::FindLockConflict(shared, Posix(2, 1, W, 5, 5));
  REQUIRE(c != nullptr);
  CHECK(c->lock_session() == 1);
  CHECK(c->end() == kLockEndOfFile);
}

TEST_CASE("lock ranges: unlocking the middle splits, same types merge", "[meta][locks]") {
  pb::LockList list;
  ops::ApplyLock(&list, Posix(1, 1, W, 0, 99));
  CHECK(ops::ApplyLock(&list, Posix(1, 1, U, 40, 59)));
  CHECK(Ranges(list) == std::vector<std::string>{"0-39:W", "60-99:W"});
  // Filling the hole with the same type merges all three.
  CHECK_FALSE(ops::ApplyLock(&list, Posix(1, 1, W, 40, 59)));
  CHECK(Ranges(list) == std::vector<std::string>{"0-99:W"});
  // A read lock in the middle of a write lock: three pieces, the middle
  // weakened (a reader elsewhere may now get it).
  CHECK(ops::ApplyLock(&list, Posix(1, 1, R, 10, 19)));
  CHECK(Ranges(list) == std::vector<std::string>{"0-9:W", "10-19:R", "20-99:W"});
  // Adjacent ranges of the same type merge; to end of file stays open.
  ops::ApplyLock(&list, Posix(1, 1, W, 100, kLockEndOfFile));
  CHECK(Ranges(list) == std::vector<std::string>{"0-9:W", "10-19:R", "20-eof:W"});
  CHECK(ops::ApplyLock(&list, Posix(1, 1, U, 0, kLockEndOfFile)));
  CHECK(list.locks_size() == 0);
}

TEST_CASE("lock ranges: release by holder and by session", "[meta][locks]") {
  pb::LockList list;
  ops::ApplyLock(&list, Posix(1, 1, R, 0, 9));
  ops::ApplyLock(&list, Posix(1, 2, R, 0, 9));
  ops::ApplyLock(&list, Flock(1, 1, R));
  ops::ApplyLock(&list, Posix(2, 1, R, 0, 9));
  CHECK(ops::ReleaseHolder(&list, pb::LOCK_KIND_POSIX, 1, 1));
  CHECK_FALSE(ops::ReleaseHolder(&list, pb::LOCK_KIND_POSIX, 1, 1));
  CHECK(list.locks_size() == 3);  // the flock of the same owner stays
  CHECK(ops::ReleaseSession(&list, 1));
  REQUIRE(list.locks_size() == 1);
  CHECK(list.locks(0).lock_session() == 2);
}

// The state machine.

pb::MetaCommand OpenSessionCmd() {
  pb::MetaCommand cmd;
  cmd.mutable_open_lock_session();
  return cmd;
}

pb::MetaCommand LockCmd(uint64_t inode, const pb::LockRange& lock) {
  pb::MetaCommand cmd;
  cmd.mutable_lock()->set_inode(inode);
  *cmd.mutable_lock()->mutable_lock() = lock;
  return cmd;
}

pb::MetaCommand ExpireCmd(std::vector<uint64_t> sessions, int64_t forget_before = 0) {
  pb::MetaCommand cmd;
  for (uint64_t s : sessions)
    cmd.mutable_expire_lock_sessions()->add_lock_sessions(s);
  cmd.mutable_expire_lock_sessions()->set_forget_expired_before_ns(forget_before);
  return cmd;
}

TEST_CASE("locks: sessions, conflicts, release at close, expiry", "[meta][locks]") {
  TestStore s;
  uint64_t ino = s.CreateFile(kRoot, "f")->inode();
  uint64_t a = s.Apply(OpenSessionCmd()).lock_session();
  uint64_t b = s.Apply(OpenSessionCmd()).lock_session();
  REQUIRE(a != 0);
  REQUIRE(b == a + 1);

  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Flock(a, 7, W)))).ok());
  pb::MetaReply refused = s.Apply(LockCmd(ino, Flock(b, 9, R)));
  CHECK(ReplyStatus(refused).code() == ErrorCode::LOCK_CONFLICT);
  CHECK(refused.conflict().lock_session() == a);
  CHECK(refused.conflict().owner() == 7);
  // Flock ranges are the whole file whatever was asked.
  auto held = s->TestLock(ino, Flock(b, 9, R));
  REQUIRE(held.ok());
  REQUIRE(held->has_value());
  CHECK((*held)->end() == kLockEndOfFile);

  // POSIX locks do not see the flock.
  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Posix(b, 9, W, 0, 99)))).ok());
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Posix(a, 7, R, 50, 50)))).code() ==
        ErrorCode::LOCK_CONFLICT);

  // Close by the POSIX owner releases its ranges and names the inode.
  pb::MetaCommand release;
  release.mutable_release_locks()->set_inode(ino);
  release.mutable_release_locks()->set_kind(pb::LOCK_KIND_POSIX);
  release.mutable_release_locks()->set_lock_session(b);
  release.mutable_release_locks()->set_owner(9);
  pb::MetaReply released = s.Apply(release);
  REQUIRE(ReplyStatus(released).ok());
  CHECK(released.changed_inodes_size() == 1);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Posix(a, 7, R, 50, 50)))).ok());

  auto counts = s->CountLocks();
  REQUIRE(counts.ok());
  CHECK(counts->locks == 2);
  CHECK(counts->sessions == 2);

  // Session a lapses: all its locks go, its id is refused from then on.
  pb::MetaReply expired = s.Apply(ExpireCmd({a}));
  REQUIRE(ReplyStatus(expired).ok());
  CHECK(expired.changed_inodes_size() == 1);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Flock(b, 9, W)))).ok());
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Flock(a, 7, R)))).code() == ErrorCode::SESSION_EXPIRED);
  CHECK(s->LockSessionLive(a).value_or(true) == false);
  CHECK(s->LockSessionLive(b).value_or(false));
  CHECK(s->LiveLockSessions().value() == std::vector<uint64_t>{b});

  // Forgotten later; ids are never handed out again.
  s.Apply(ExpireCmd({}, s.now_ns + 1000LL * 1000000000LL));
  CHECK(s.Apply(OpenSessionCmd()).lock_session() == b + 1);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Flock(a, 7, R)))).code() == ErrorCode::SESSION_EXPIRED);
}

TEST_CASE("locks: an flock conversion drops the old lock first, as Linux does", "[meta][locks]") {
  TestStore s;
  uint64_t ino = s.CreateFile(kRoot, "f")->inode();
  uint64_t a = s.Apply(OpenSessionCmd()).lock_session();
  uint64_t b = s.Apply(OpenSessionCmd()).lock_session();
  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Flock(a, 1, R)))).ok());
  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Flock(b, 1, R)))).ok());
  // Both readers upgrade: the first is refused but has let go of its
  // shared lock, so the second one gets the exclusive lock.
  pb::MetaReply first = s.Apply(LockCmd(ino, Flock(a, 1, W)));
  CHECK(ReplyStatus(first).code() == ErrorCode::LOCK_CONFLICT);
  CHECK(first.changed_inodes_size() == 1);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Flock(b, 1, W)))).ok());
  CHECK(s->CountLocks()->locks == 1);
  // Converting back down keeps one lock.
  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Flock(b, 1, R)))).ok());
  CHECK(s->CountLocks()->locks == 1);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Flock(a, 1, R)))).ok());
}

TEST_CASE("locks: bad requests are refused and change nothing", "[meta][locks]") {
  TestStore s;
  uint64_t ino = s.CreateFile(kRoot, "f")->inode();
  uint64_t a = s.Apply(OpenSessionCmd()).lock_session();
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Posix(a, 1, W, 10, 5)))).code() ==
        ErrorCode::INVALID_ARGUMENT);
  pb::LockRange bad_type = Posix(a, 1, W, 0, 5);
  bad_type.set_type(static_cast<pb::LockType>(9));
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, bad_type))).code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino, Posix(0, 1, W, 0, 5)))).code() ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(ReplyStatus(s.Apply(LockCmd(ino + 1000, Posix(a, 1, W, 0, 5)))).code() ==
        ErrorCode::NOT_FOUND);
  CHECK(s->CountLocks()->locks == 0);
  // Locks survive a restart (they are replicated state).
  REQUIRE(ReplyStatus(s.Apply(LockCmd(ino, Posix(a, 1, W, 0, 5)))).ok());
  s.Reopen();
  CHECK(s->CountLocks()->locks == 1);
}

}  // namespace
}  // namespace dfs::meta::testing
