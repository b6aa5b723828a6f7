// Cluster-wide advisory locks through real mounts (docs/locks.md): flock
// and fcntl locks taken on one mount hold against another; blocking waits
// wake promptly and end with EINTR on a signal; a mount that dies loses
// its locks after the lease, not before; one that stalls past the lease
// hears that it lost them; a meta leader change loses no lock and grants
// none twice.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLease = 3s;  // the cluster's --lock-lease

testing::MountedCluster& Cluster() {
  static testing::MountedCluster cluster([] {
    testing::MountedClusterOptions o;
    o.meta_args = {"--lock-lease", "3s"};
    return o;
  }());
  REQUIRE(cluster.ok());
  return cluster;
}

// Two mounts every case shares: two web servers.
testing::Mount& MountA() {
  static testing::Mount* m = Cluster().AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  return *m;
}
testing::Mount& MountB() {
  static testing::Mount* m = Cluster().AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  return *m;
}

// Opens `name` under the mount, creating it.
int OpenOn(testing::Mount& m, const std::string& name) {
  int fd = open((m.path() + "/" + name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  return fd;
}

int FlockErr(int fd, int op) {
  return flock(fd, op) == 0 ? 0 : errno;
}

// fcntl lock or unlock of [start, start + len) (len 0: to end of file).
int SetLk(int fd, short type, off_t start, off_t len, bool wait = false) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = start;
  l.l_len = len;
  return fcntl(fd, wait ? F_SETLKW : F_SETLK, &l) == 0 ? 0 : errno;
}

// F_GETLK for a write lock of [start, start + len).
struct flock GetLk(int fd, off_t start, off_t len) {
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = start;
  l.l_len = len;
  REQUIRE(fcntl(fd, F_GETLK, &l) == 0);
  return l;
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

TEST_CASE("flock on one mount holds against another; release is seen within 100 ms", "[locks]") {
  int a = OpenOn(MountA(), "flock-basic");
  int b = OpenOn(MountB(), "flock-basic");
  REQUIRE(FlockErr(a, LOCK_EX | LOCK_NB) == 0);
  CHECK(FlockErr(b, LOCK_EX | LOCK_NB) == EWOULDBLOCK);
  CHECK(FlockErr(b, LOCK_SH | LOCK_NB) == EWOULDBLOCK);
  // Shared with shared is fine.
  REQUIRE(FlockErr(a, LOCK_SH) == 0);  // downgrade
  CHECK(FlockErr(b, LOCK_SH | LOCK_NB) == 0);
  CHECK(FlockErr(a, LOCK_EX | LOCK_NB) == EWOULDBLOCK);
  REQUIRE(FlockErr(b, LOCK_UN) == 0);

  // Unlocked on A: B gets it at once.
  REQUIRE(FlockErr(a, LOCK_UN) == 0);
  auto t = Clock::now();
  CHECK(FlockErr(b, LOCK_EX | LOCK_NB) == 0);
  CHECK(MsSince(t) < 100);
  REQUIRE(FlockErr(b, LOCK_UN) == 0);

  // Closed on A (the kernel releases the flock in the background): B gets
  // it within 100 ms.
  REQUIRE(FlockErr(a, LOCK_EX | LOCK_NB) == 0);
  close(a);
  t = Clock::now();
  int err = EWOULDBLOCK;
  while (err == EWOULDBLOCK && MsSince(t) < 2000) {
    err = FlockErr(b, LOCK_EX | LOCK_NB);
    if (err == EWOULDBLOCK) std::this_thread::sleep_for(5ms);
  }
  CHECK(err == 0);
  CHECK(MsSince(t) < 100);
  close(b);
}

TEST_CASE("a blocking flock wakes promptly when the holder unlocks", "[locks]") {
  int a = OpenOn(MountA(), "flock-wait");
  int b = OpenOn(MountB(), "flock-wait");
  REQUIRE(FlockErr(a, LOCK_EX) == 0);
  std::atomic<bool> got{false};
  Clock::time_point got_at;
  std::thread waiter([&] {
    REQUIRE(FlockErr(b, LOCK_EX) == 0);
    got_at = Clock::now();
    got = true;
  });
  // Longer than one of the leader's held calls (about 4.5 s): the wait
  // spans several of them.
  std::this_thread::sleep_for(6s);
  CHECK_FALSE(got.load());
  REQUIRE(FlockErr(a, LOCK_UN) == 0);
  auto released = Clock::now();
  waiter.join();
  REQUIRE(got.load());
  double ms = std::chrono::duration<double, std::milli>(got_at - released).count();
  INFO("woken " << ms << " ms after the unlock");
  CHECK(ms < 100);
  CHECK(FlockErr(a, LOCK_EX | LOCK_NB) == EWOULDBLOCK);
  close(b);
  CHECK(FlockErr(a, LOCK_EX) == 0);  // the close released it
  close(a);
}

TEST_CASE("fcntl byte ranges: F_GETLK names the holder's range; ranges split and merge",
          "[locks]") {
  int a = OpenOn(MountA(), "posix-ranges");
  int b = OpenOn(MountB(), "posix-ranges");
  REQUIRE(SetLk(a, F_WRLCK, 100, 100) == 0);  // [100, 199]

  struct flock l = GetLk(b, 150, 1);
  CHECK(l.l_type == F_WRLCK);
  CHECK(l.l_start == 100);
  CHECK(l.l_len == 100);
  CHECK(l.l_pid == getpid());  // the holder, a process of this machine
  CHECK(SetLk(b, F_WRLCK, 150, 10) == EAGAIN);
  CHECK(SetLk(b, F_RDLCK, 199, 1) == EAGAIN);
  CHECK(SetLk(b, F_WRLCK, 0, 100) == 0);     // [0, 99]: no overlap
  CHECK(SetLk(b, F_WRLCK, 200, 0) == 0);     // [200, eof)
  CHECK(GetLk(b, 50, 1).l_type == F_UNLCK);  // B's own lock does not block B

  // Unlocking the middle splits A's lock in two.
  REQUIRE(SetLk(a, F_UNLCK, 120, 10) == 0);
  CHECK(GetLk(b, 125, 1).l_type == F_UNLCK);
  l = GetLk(b, 110, 1);
  CHECK(l.l_start == 100);
  CHECK(l.l_len == 20);
  l = GetLk(b, 150, 1);
  CHECK(l.l_start == 130);
  CHECK(l.l_len == 70);
  // Locking it again merges the three.
  REQUIRE(SetLk(a, F_WRLCK, 120, 10) == 0);
  l = GetLk(b, 125, 1);
  CHECK(l.l_start == 100);
  CHECK(l.l_len == 100);
  // A read lock in the middle is shared with B's readers there only.
  REQUIRE(SetLk(a, F_RDLCK, 140, 10) == 0);
  CHECK(SetLk(b, F_RDLCK, 140, 10) == 0);
  CHECK(SetLk(b, F_RDLCK, 139, 2) == EAGAIN);
  REQUIRE(SetLk(b, F_UNLCK, 0, 0) == 0);

  // POSIX: closing any descriptor of the file drops the process's locks.
  int a2 = OpenOn(MountA(), "posix-ranges");
  close(a2);
  CHECK(GetLk(b, 0, 0).l_type == F_UNLCK);
  close(a);
  close(b);
}

TEST_CASE("two shared flocks both upgrading: one wins, as on Linux", "[locks]") {
  int a = OpenOn(MountA(), "flock-upgrade");
  int b = OpenOn(MountB(), "flock-upgrade");
  REQUIRE(FlockErr(a, LOCK_SH) == 0);
  REQUIRE(FlockErr(b, LOCK_SH) == 0);
  std::atomic<bool> a_got{false};
  std::thread upgrader([&] {
    REQUIRE(FlockErr(a, LOCK_EX) == 0);  // waits: B shares it
    a_got = true;
  });
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(a_got.load());
  // A's waiting upgrade let go of its shared lock: B's upgrade succeeds.
  CHECK(FlockErr(b, LOCK_EX | LOCK_NB) == 0);
  REQUIRE(FlockErr(b, LOCK_UN) == 0);
  upgrader.join();
  CHECK(a_got.load());
  close(a);
  close(b);
}

TEST_CASE("an flock released late by a closed file does not drop the next open's lock", "[locks]") {
  // The kernel may give the next open the same struct file, and sends the
  // last one's RELEASE in the background: the holder is the handle.
  for (int i = 0; i < 20; i++) {
    int a = OpenOn(MountA(), "flock-reopen");
    REQUIRE(FlockErr(a, LOCK_EX | LOCK_NB) == 0);
    close(a);
    int a2 = OpenOn(MountA(), "flock-reopen");
    int b = OpenOn(MountB(), "flock-reopen");
    int err = EWOULDBLOCK;
    // The first lock goes with its release; then a2 takes it and holds it.
    for (int t = 0; t < 200 && err != 0; t++) {
      err = FlockErr(a2, LOCK_EX | LOCK_NB);
      if (err != 0) std::this_thread::sleep_for(5ms);
    }
    REQUIRE(err == 0);
    std::this_thread::sleep_for(20ms);
    CHECK(FlockErr(b, LOCK_EX | LOCK_NB) == EWOULDBLOCK);
    close(b);
    close(a2);
  }
}

TEST_CASE("F_SETLKW waits, and a signal ends the wait with EINTR", "[locks]") {
  int a = OpenOn(MountA(), "posix-wait");
  REQUIRE(SetLk(a, F_WRLCK, 0, 0) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No SA_RESTART: the interrupted fcntl returns EINTR.
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigaction(SIGALRM, &sa, nullptr);
    int b = open((MountB().path() + "/posix-wait").c_str(), O_RDWR | O_CLOEXEC);
    if (b < 0) _exit(10);
    alarm(1);
    int err = SetLk(b, F_WRLCK, 0, 0, /*wait=*/true);
    if (err != EINTR) _exit(20 + (err > 100 ? 99 : err));
    // After the interruption the lock is still A's, and a second wait is
    // granted once A lets go.
    if (SetLk(b, F_WRLCK, 0, 0) != EAGAIN) _exit(30);
    if (SetLk(b, F_WRLCK, 0, 0, /*wait=*/true) != 0) _exit(40);
    _exit(0);
  }
  std::this_thread::sleep_for(2500ms);
  REQUIRE(SetLk(a, F_UNLCK, 0, 0) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  close(a);
}

TEST_CASE("a mount killed with -9 loses its locks after the lease, not before", "[locks]") {
  testing::Mount* c = Cluster().AddMount({"allow_other"});
  REQUIRE(c != nullptr);
  int held = OpenOn(*c, "killed-holder");
  REQUIRE(FlockErr(held, LOCK_EX | LOCK_NB) == 0);
  REQUIRE(SetLk(held, F_WRLCK, 0, 10) == 0);
  int b = OpenOn(MountB(), "killed-holder");
  REQUIRE(FlockErr(b, LOCK_EX | LOCK_NB) == EWOULDBLOCK);

  REQUIRE(kill(c->pid(), SIGKILL) == 0);
  auto killed = Clock::now();
  int err = EWOULDBLOCK;
  while (err == EWOULDBLOCK && MsSince(killed) < 20000) {
    std::this_thread::sleep_for(50ms);
    err = FlockErr(b, LOCK_EX | LOCK_NB);
  }
  double ms = MsSince(killed);
  const double lease_ms = std::chrono::duration<double, std::milli>(kLease).count();
  INFO("the lock came free " << ms << " ms after the kill (lease " << lease_ms << " ms)");
  REQUIRE(err == 0);
  // The last renewal came about a quarter lease before the kill (more if
  // the mount was slow to send it): not free at once, free soon after.
  CHECK(ms >= 0.5 * lease_ms);
  CHECK(ms < lease_ms + 3000);
  CHECK(SetLk(b, F_WRLCK, 0, 10) == 0);  // the fcntl lock went too
  close(b);
  close(held);  // on a dead mount: ENOTCONN, nothing to check
}

TEST_CASE("a mount stalled past its lease gets errors on its old lock handles", "[locks]") {
  testing::Mount* c = Cluster().AddMount({"allow_other"});
  REQUIRE(c != nullptr);
  int held = OpenOn(*c, "stalled-holder");
  REQUIRE(FlockErr(held, LOCK_EX | LOCK_NB) == 0);
  int b = OpenOn(MountB(), "stalled-holder");

  REQUIRE(kill(c->pid(), SIGSTOP) == 0);
  std::this_thread::sleep_for(kLease + 2s);
  // Expired while it slept: another mount takes the lock.
  CHECK(FlockErr(b, LOCK_EX | LOCK_NB) == 0);
  REQUIRE(kill(c->pid(), SIGCONT) == 0);

  // At once, before any renewal of its own: the old handle says the locks
  // are gone, for writes and for locks.
  CHECK(write(held, "x", 1) == -1);
  CHECK(errno == EIO);
  CHECK(FlockErr(held, LOCK_EX | LOCK_NB) == EIO);
  // New handles on that mount lock again (a new session), and B's lock
  // holds against them.
  int fresh = OpenOn(*c, "stalled-holder");
  CHECK(FlockErr(fresh, LOCK_EX | LOCK_NB) == EWOULDBLOCK);
  REQUIRE(FlockErr(b, LOCK_UN) == 0);
  CHECK(FlockErr(fresh, LOCK_EX | LOCK_NB) == 0);
  close(fresh);
  close(held);
  close(b);
  CHECK(c->Unmount() == 0);
}

TEST_CASE("the meta leader dies while locks are held and waited for: none lost, none doubled",
          "[locks]") {
  int a = OpenOn(MountA(), "leader-kill");
  int b = OpenOn(MountB(), "leader-kill");
  REQUIRE(FlockErr(a, LOCK_EX) == 0);
  REQUIRE(SetLk(a, F_WRLCK, 0, 100) == 0);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    REQUIRE(FlockErr(b, LOCK_EX) == 0);
    got = true;
  });
  std::this_thread::sleep_for(500ms);

  auto& meta = Cluster().meta();
  uint64_t leader = testing::MetaLeader(meta);
  REQUIRE(leader != 0);
  meta.Kill(leader);
  // Through the election and well past one lease on the new leader.
  std::this_thread::sleep_for(kLease + 3s);
  CHECK_FALSE(got.load());  // A still holds it: not granted twice
  int b2 = OpenOn(MountB(), "leader-kill");
  CHECK(SetLk(b2, F_WRLCK, 50, 1) == EAGAIN);  // A's fcntl lock survived too
  close(b2);

  REQUIRE(FlockErr(a, LOCK_UN) == 0);
  auto t = Clock::now();
  while (!got && MsSince(t) < 10000)
    std::this_thread::sleep_for(10ms);
  CHECK(got.load());
  waiter.join();
  CHECK(FlockErr(a, LOCK_EX | LOCK_NB) == EWOULDBLOCK);  // B has it now
  REQUIRE(meta.Start(leader));
  close(b);
  close(a);
}

}  // namespace
}  // namespace dfs
