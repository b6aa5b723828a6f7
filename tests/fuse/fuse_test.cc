// FUSE: a real dfs cluster (3 dfs-meta, 3 dfs-chunkserver in zones z1..z3,
// 4 MiB chunks) mounted with dfs-mount, exercised through the kernel with
// plain POSIX calls, as an application sees it. Every case works in its own
// directory of one shared mount; the cases about mounting and unmounting
// bring their own mounts.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/file_system.h"
#include "client/meta_client.h"
#include "common/checksum.h"
#include "tests/support/bytes.h"
#include "tests/support/http.h"
#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

using testing::FirstDifference;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr uint64_t kChunk = 4 << 20;  // the cluster's --chunk-size
constexpr uid_t kNobody = 65534;

testing::MountedCluster& Cluster() {
  static testing::MountedCluster cluster;
  REQUIRE(cluster.ok());
  return cluster;
}

// The mount the cases share.
const std::string& Root() {
  static testing::Mount* mount = Cluster().AddMount({"allow_other"});
  REQUIRE(mount != nullptr);
  return mount->path();
}

// A fresh directory of the shared mount for one case.
std::string CaseDir(const std::string& name) {
  std::string dir = Root() + "/" + name;
  // Sections run the case again: the directory may exist.
  REQUIRE((mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST));
  return dir;
}

// errno of a failed call, 0 if it succeeded.
int Err(long rc) {
  return rc < 0 ? errno : 0;
}

using testing::Pattern;

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    REQUIRE(n > 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void PWriteAll(int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), offset);
    REQUIRE(n > 0);
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
}

std::string PRead(int fd, size_t size, off_t offset) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, out.data() + got, size - got, offset + static_cast<off_t>(got));
    REQUIRE(n >= 0);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

void PutFile(const std::string& path, std::string_view data, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, mode);
  REQUIRE(fd >= 0);
  WriteAll(fd, data);
  REQUIRE(close(fd) == 0);
}

std::string GetFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  std::string out;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<size_t>(n));
  REQUIRE(n == 0);
  REQUIRE(close(fd) == 0);
  return out;
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st;
}

struct stat LStat(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st;
}

// Runs `body` in a child process as uid and gid `id` with no supplementary
// groups; returns its exit code (what failed, 0 for nothing).
int AsUser(uid_t id, const std::function<int()>& body) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(id) != 0 || setuid(id) != 0) _exit(99);
    _exit(body());
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int AsNobody(const std::function<int()>& body) {
  return AsUser(kNobody, body);
}

std::set<std::string> List(const std::string& dir, std::map<std::string, int>* counts = nullptr) {
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  std::set<std::string> names;
  errno = 0;
  while (dirent* e = readdir(d)) {
    names.insert(e->d_name);
    if (counts) (*counts)[e->d_name]++;
  }
  REQUIRE(errno == 0);
  closedir(d);
  return names;
}

TEST_CASE("files: create, write, read, overwrite, append") {
  const std::string dir = CaseDir("files");
  const std::string f = dir + "/hello.txt";

  PutFile(f, "hello");
  CHECK(Stat(f).st_size == 5);
  CHECK(S_ISREG(Stat(f).st_mode));
  CHECK((Stat(f).st_mode & 0777) == 0644);
  CHECK(Stat(f).st_nlink == 1);
  CHECK(Stat(f).st_blocks == 1);
  CHECK(GetFile(f) == "hello");

  // Overwrite in place: the size stays.
  int fd = open(f.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  PWriteAll(fd, "J", 0);
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "Jello");

  // O_APPEND writes land at the end, whatever the file offset says.
  fd = open(f.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  WriteAll(fd, " world");
  WriteAll(fd, "!");
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "Jello world!");

  // Two appenders on one file: every write at the end at its time.
  int a = open(f.c_str(), O_WRONLY | O_APPEND);
  int b = open(f.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  WriteAll(a, "1");
  WriteAll(b, "2");
  WriteAll(a, "3");
  REQUIRE(close(a) == 0);
  REQUIRE(close(b) == 0);
  CHECK(GetFile(f) == "Jello world!123");

  // Read and write through one descriptor, unaligned, across blocks.
  const std::string big = Pattern(3 * 65536 + 777, 1);
  fd = open((dir + "/rw").c_str(), O_CREAT | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  WriteAll(fd, big);
  CHECK(FirstDifference(PRead(fd, big.size(), 0), big) == "");
  CHECK(PRead(fd, 100, 65536 - 50) == big.substr(65536 - 50, 100));
  PWriteAll(fd, "XYZ", 65535);
  std::string model = big;
  model.replace(65535, 3, "XYZ");
  CHECK(PRead(fd, 10, 65530) == model.substr(65530, 10));
  REQUIRE(fsync(fd) == 0);
  REQUIRE(close(fd) == 0);
  CHECK(FirstDifference(GetFile(dir + "/rw"), model) == "");
  CHECK(Stat(dir + "/rw").st_size == static_cast<off_t>(model.size()));
  CHECK(Stat(dir + "/rw").st_blksize == 65536);
  CHECK(Stat(dir + "/rw").st_blocks == static_cast<blkcnt_t>((model.size() + 511) / 512));

  // An empty file.
  PutFile(dir + "/empty", "");
  CHECK(Stat(dir + "/empty").st_size == 0);
  CHECK(GetFile(dir + "/empty").empty());
}

TEST_CASE("files: a chmod or utimens between write and close keeps the written size") {
  const std::string dir = CaseDir("setattr-open");
  const std::string f = dir + "/f";
  int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "buffered bytes", 14) == 14);
  // The attributes this returns are what the kernel caches for the file.
  REQUIRE(fchmod(fd, 0644) == 0);
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  CHECK(st.st_size == 14);
  REQUIRE(futimens(fd, nullptr) == 0);
  REQUIRE(fstat(fd, &st) == 0);
  CHECK(st.st_size == 14);
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "buffered bytes");
}

TEST_CASE("files: writes are visible before close, to every descriptor") {
  const std::string dir = CaseDir("visible");
  const std::string f = dir + "/log";
  const std::string data = Pattern(100000, 2);
  int w = open(f.c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(w >= 0);
  WriteAll(w, data);
  struct stat st {};
  REQUIRE(fstat(w, &st) == 0);
  CHECK(st.st_size == 100000);
  // A second descriptor, opened after the write, before any close.
  int r = open(f.c_str(), O_RDONLY);
  REQUIRE(r >= 0);
  CHECK(FirstDifference(PRead(r, data.size(), 0), data) == "");
  // After the attribute cache expires, the size is still right.
  std::this_thread::sleep_for(1200ms);
  CHECK(Stat(f).st_size == 100000);
  REQUIRE(close(r) == 0);
  REQUIRE(close(w) == 0);
  CHECK(FirstDifference(GetFile(f), data) == "");
}

TEST_CASE("files: truncate, extend, holes, fallocate") {
  const std::string dir = CaseDir("truncate");
  const std::string f = dir + "/t";
  const std::string data = Pattern(10000, 3);
  PutFile(f, data);

  SECTION("shrink and extend read zeros after the cut") {
    int fd = open(f.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 5000) == 0);
    struct stat st {};
    REQUIRE(fstat(fd, &st) == 0);
    CHECK(st.st_size == 5000);
    REQUIRE(close(fd) == 0);
    CHECK(GetFile(f) == data.substr(0, 5000));
    REQUIRE(truncate(f.c_str(), 20000) == 0);
    CHECK(Stat(f).st_size == 20000);
    CHECK(GetFile(f) == data.substr(0, 5000) + std::string(15000, '\0'));
    REQUIRE(truncate(f.c_str(), 0) == 0);
    CHECK(GetFile(f).empty());
  }

  SECTION("a cut in the middle of a chunk, then an extension, reads zeros") {
    const std::string ones(1 << 20, '\xff');
    PutFile(f, ones);
    REQUIRE(truncate(f.c_str(), 1000) == 0);
    REQUIRE(truncate(f.c_str(), 1 << 20) == 0);
    CHECK(GetFile(f) == ones.substr(0, 1000) + std::string((1 << 20) - 1000, '\0'));
  }

  SECTION("O_TRUNC empties the file") {
    int fd = open(f.c_str(), O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    struct stat st {};
    REQUIRE(fstat(fd, &st) == 0);
    CHECK(st.st_size == 0);
    WriteAll(fd, "new");
    REQUIRE(close(fd) == 0);
    CHECK(GetFile(f) == "new");
  }

  SECTION("ftruncate after buffered writes on the same descriptor") {
    int fd = open(f.c_str(), O_RDWR | O_TRUNC);
    REQUIRE(fd >= 0);
    const std::string more = Pattern(100000, 4);
    WriteAll(fd, more);
    REQUIRE(ftruncate(fd, 50000) == 0);
    PWriteAll(fd, "end", 60000);
    REQUIRE(close(fd) == 0);
    std::string want = more.substr(0, 50000) + std::string(10000, '\0') + "end";
    CHECK(FirstDifference(GetFile(f), want) == "");
  }

  SECTION("holes: sparse writes far apart, across chunks") {
    const std::string g = dir + "/sparse";
    int fd = open(g.c_str(), O_CREAT | O_RDWR, 0644);
    REQUIRE(fd >= 0);
    PWriteAll(fd, "head", 0);
    const off_t far = static_cast<off_t>(3 * kChunk + 12345);  // chunks 1 and 2 never written
    PWriteAll(fd, "tail", far);
    REQUIRE(close(fd) == 0);
    CHECK(Stat(g).st_size == far + 4);
    std::string want = "head" + std::string(static_cast<size_t>(far) - 4, '\0') + "tail";
    CHECK(FirstDifference(GetFile(g), want) == "");
    fd = open(g.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(PRead(fd, 8, static_cast<off_t>(kChunk) - 4) == std::string(8, '\0'));
    CHECK(PRead(fd, 100, far) == "tail");  // short at the end
    CHECK(PRead(fd, 100, far + 100).empty());
    REQUIRE(close(fd) == 0);
  }

  SECTION("fallocate mode 0 extends with zeros; other modes are not supported") {
    const std::string g = dir + "/alloc";
    int fd = open(g.c_str(), O_CREAT | O_RDWR, 0644);
    REQUIRE(fd >= 0);
    WriteAll(fd, "abc");
    REQUIRE(fallocate(fd, 0, 0, 1 << 20) == 0);
    struct stat st {};
    REQUIRE(fstat(fd, &st) == 0);
    CHECK(st.st_size == 1 << 20);
    CHECK(Err(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2 << 20)) == EOPNOTSUPP);
    CHECK(Err(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2)) == EOPNOTSUPP);
    REQUIRE(close(fd) == 0);
    CHECK(GetFile(g) == "abc" + std::string((1 << 20) - 3, '\0'));
  }
}

TEST_CASE("files: 40 MiB across ten chunks, verified by hash after a remount") {
  testing::MountedCluster& c = Cluster();
  testing::Mount* m = c.AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  const std::string f = m->path() + "/big.bin";
  const size_t size = 40 << 20;
  const std::string data = Pattern(size, 5);
  const uint64_t hash = BlockChecksum(data.data(), data.size());

  auto start = std::chrono::steady_clock::now();
  int fd = open(f.c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  for (size_t off = 0; off < size; off += 1 << 20)
    WriteAll(fd, std::string_view(data).substr(off, 1 << 20));
  REQUIRE(close(fd) == 0);  // no fsync: close makes it durable
  WARN("40 MiB written in "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
  // fusermount3 -u: the daemon flushes and exits 0.
  REQUIRE(m->Unmount(/*fusermount=*/true) == 0);

  testing::Mount* again = c.AddMount({"allow_other"});
  REQUIRE(again != nullptr);
  const std::string g = again->path() + "/big.bin";
  CHECK(Stat(g).st_size == static_cast<off_t>(size));
  start = std::chrono::steady_clock::now();
  std::string back = GetFile(g);
  WARN("40 MiB read in "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
  CHECK(back.size() == size);
  CHECK(BlockChecksum(back.data(), back.size()) == hash);
  CHECK(FirstDifference(back, data) == "");
  // Reads that straddle chunk boundaries.
  fd = open(g.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  for (uint64_t boundary = kChunk; boundary < size; boundary += kChunk)
    CHECK(PRead(fd, 1000, static_cast<off_t>(boundary - 300)) == data.substr(boundary - 300, 1000));
  REQUIRE(close(fd) == 0);
  // umount(2): exits 0 too.
  CHECK(again->Unmount() == 0);
}

TEST_CASE("close-to-open across two mounts: the next open sees new content and size") {
  const std::string dir = CaseDir("cto");
  // Long kernel caches on the reader: only the open's revalidation can help it.
  testing::Mount* reader =
      Cluster().AddMount({"allow_other", "attr_timeout=30", "entry_timeout=30"});
  REQUIRE(reader != nullptr);
  const std::string a = dir + "/f";
  const std::string b = reader->path() + "/cto/f";
  PutFile(a, "version one");
  CHECK(GetFile(b) == "version one");
  CHECK(Stat(b).st_size == 11);

  PutFile(a, "version two, longer than the first");
  CHECK(GetFile(b) == "version two, longer than the first");
  PutFile(a, "v3");
  CHECK(GetFile(b) == "v3");
  int fd = open(a.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  PWriteAll(fd, "V4", 0);  // same size, new bytes
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(b) == "V4");
  // A bigger file: pages the reader cached must not come back.
  const std::string big1 = Pattern(1 << 20, 8), big2 = Pattern(1 << 20, 9);
  PutFile(a, big1);
  CHECK(FirstDifference(GetFile(b), big1) == "");
  PutFile(a, big2);
  CHECK(FirstDifference(GetFile(b), big2) == "");
  CHECK(reader->Unmount() == 0);
}

// How long until `done` holds, polling; -1 ms if not within `limit`.
std::chrono::milliseconds TimeUntil(const std::function<bool()>& done,
                                    std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (!done()) {
    if (std::chrono::steady_clock::now() - start > limit) return std::chrono::milliseconds(-1);
    std::this_thread::sleep_for(5ms);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST_CASE("push invalidation: another mount's changes show at once despite 30 s kernel caches") {
  const std::string dir = CaseDir("push");
  testing::Mount* other =
      Cluster().AddMount({"allow_other", "attr_timeout=30", "entry_timeout=30"});
  REQUIRE(other != nullptr);
  const std::string mine = dir, theirs = other->path() + "/push";
  PutFile(mine + "/resized", "12345");
  // The other mount caches the file's attributes and the absence of "new".
  CHECK(Stat(theirs + "/resized").st_size == 5);
  struct stat st {};
  CHECK(Err(stat((theirs + "/new").c_str(), &st)) == ENOENT);
  std::this_thread::sleep_for(300ms);  // its watch stream is up

  PutFile(mine + "/new", "created");
  REQUIRE(truncate((mine + "/resized").c_str(), 100) == 0);
  auto seen = TimeUntil(
      [&] {
        struct stat a {
        }, b{};
        return stat((theirs + "/new").c_str(), &a) == 0 &&
               stat((theirs + "/resized").c_str(), &b) == 0 && b.st_size == 100;
      },
      5s);
  WARN("seen on the other mount after " << seen.count() << " ms");
  CHECK(seen.count() >= 0);
  CHECK(seen < 1s);
  CHECK(GetFile(theirs + "/new") == "created");
  // A removal too.
  REQUIRE(unlink((mine + "/new").c_str()) == 0);
  seen = TimeUntil([&] { return access((theirs + "/new").c_str(), F_OK) != 0; }, 5s);
  CHECK(seen.count() >= 0);
  CHECK(seen < 1s);
  CHECK(other->Unmount() == 0);
}

TEST_CASE(
    "another mount replacing or removing files: no false ENOENT, fstat of an open file works") {
  // The deploy pattern: one web server writes a new version beside the
  // old one and renames it over; another stats and opens the name all the
  // while. The name never stops existing, so neither may say ENOENT. With
  // no kernel caching every call asks the meta service: a LOOKUP, then a
  // GETATTR or OPEN of the inode it named, which the rename may have
  // removed in between; the mount answers ESTALE and the kernel walks the
  // path again.
  const std::string dir = CaseDir("replaced");
  testing::Mount* other = Cluster().AddMount({"allow_other", "attr_timeout=0", "entry_timeout=0"});
  REQUIRE(other != nullptr);
  PutFile(dir + "/current", "version 0");
  std::atomic<bool> stop{false};
  std::atomic<int> renames{0};
  std::thread writer([&] {
    for (int i = 1; !stop; i++) {
      PutFile(dir + "/next", "version " + std::to_string(i));
      if (rename((dir + "/next").c_str(), (dir + "/current").c_str()) != 0) break;
      renames++;
    }
  });
  const std::string theirs = other->path() + "/replaced/current";
  // The kernel walks again once: a second rename within that walk leaves
  // ESTALE to the caller, as on NFS; rare, and not a wrong answer.
  int stats = 0, opens = 0, missing = 0, stale = 0, other_errors = 0;
  auto count = [&](int rc) {
    if (rc >= 0) return;
    if (errno == ENOENT) {
      missing++;
    } else if (errno == ESTALE) {
      stale++;
    } else {
      other_errors++;
    }
  };
  const auto end = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < end) {
    struct stat st {};
    count(stat(theirs.c_str(), &st));
    stats++;
    int fd = open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
    count(fd);
    opens++;
    if (fd >= 0) close(fd);
  }
  stop = true;
  writer.join();
  INFO(stats << " stats and " << opens << " opens during " << renames << " renames; " << stale
             << " ESTALE");
  CHECK(renames > 20);
  CHECK(missing == 0);
  CHECK(other_errors == 0);

  // A file open on the uncached mount that this one removes still answers
  // fstat there (with no links or, here, the trash's); the kernel asks for
  // it in every open(O_CREAT) right after the create. Without a trash the
  // inode is gone at once: file_system_test covers that case.
  int fd = open((other->path() + "/replaced/held").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(unlink((dir + "/held").c_str()) == 0);
  struct stat st {};
  CHECK(fstat(fd, &st) == 0);
  close(fd);
  CHECK(other->Unmount() == 0);
}

TEST_CASE("rename: over files, directories, NOREPLACE and EXCHANGE") {
  const std::string dir = CaseDir("rename");
  const std::string a = dir + "/a", b = dir + "/b", c = dir + "/c";
  PutFile(a, "A");
  PutFile(c, "C");
  const ino_t a_ino = Stat(a).st_ino;

  REQUIRE(rename(a.c_str(), b.c_str()) == 0);
  CHECK(Err(access(a.c_str(), F_OK)) == ENOENT);
  CHECK(Stat(b).st_ino == a_ino);
  CHECK(GetFile(b) == "A");

  // Over an existing file: it is replaced.
  REQUIRE(rename(b.c_str(), c.c_str()) == 0);
  CHECK(GetFile(c) == "A");
  CHECK(Stat(c).st_ino == a_ino);
  CHECK(List(dir) == std::set<std::string>{".", "..", "c"});

  // Into another directory, and to the same name (nothing happens).
  REQUIRE(mkdir((dir + "/sub").c_str(), 0755) == 0);
  REQUIRE(rename(c.c_str(), (dir + "/sub/c2").c_str()) == 0);
  CHECK(GetFile(dir + "/sub/c2") == "A");
  REQUIRE(rename((dir + "/sub/c2").c_str(), (dir + "/sub/c2").c_str()) == 0);

  // RENAME_NOREPLACE.
  PutFile(a, "A2");
  CHECK(Err(renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, (dir + "/sub/c2").c_str(),
                      RENAME_NOREPLACE)) == EEXIST);
  CHECK(GetFile(dir + "/sub/c2") == "A");
  REQUIRE(renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_NOREPLACE) == 0);
  CHECK(GetFile(b) == "A2");

  // RENAME_EXCHANGE: both names stay, the files swap, even across directories.
  REQUIRE(renameat2(AT_FDCWD, b.c_str(), AT_FDCWD, (dir + "/sub/c2").c_str(), RENAME_EXCHANGE) ==
          0);
  CHECK(GetFile(b) == "A");
  CHECK(GetFile(dir + "/sub/c2") == "A2");
  CHECK(Err(renameat2(AT_FDCWD, b.c_str(), AT_FDCWD, (dir + "/none").c_str(), RENAME_EXCHANGE)) ==
        ENOENT);
  // A file and a directory can be exchanged too.
  REQUIRE(renameat2(AT_FDCWD, b.c_str(), AT_FDCWD, (dir + "/sub").c_str(), RENAME_EXCHANGE) == 0);
  CHECK(S_ISDIR(Stat(b).st_mode));
  CHECK(GetFile(dir + "/sub") == "A");
  CHECK(GetFile(b + "/c2") == "A2");
  REQUIRE(renameat2(AT_FDCWD, b.c_str(), AT_FDCWD, (dir + "/sub").c_str(), RENAME_EXCHANGE) == 0);

  // Directories: over an empty one yes, over a full one no, never into itself.
  REQUIRE(mkdir((dir + "/d1").c_str(), 0755) == 0);
  REQUIRE(mkdir((dir + "/d2").c_str(), 0755) == 0);
  PutFile(dir + "/d1/x", "x");
  REQUIRE(rename((dir + "/d1").c_str(), (dir + "/d2").c_str()) == 0);
  CHECK(GetFile(dir + "/d2/x") == "x");
  CHECK(Err(access((dir + "/d1").c_str(), F_OK)) == ENOENT);
  REQUIRE(mkdir((dir + "/d3").c_str(), 0755) == 0);
  CHECK(Err(rename((dir + "/d3").c_str(), (dir + "/d2").c_str())) == ENOTEMPTY);
  CHECK(Err(rename((dir + "/d2").c_str(), (dir + "/d2/inner").c_str())) == EINVAL);
  // File over directory, directory over file.
  CHECK(Err(rename(b.c_str(), (dir + "/d3").c_str())) == EISDIR);
  CHECK(Err(rename((dir + "/d3").c_str(), b.c_str())) == ENOTDIR);
  CHECK(Err(rename((dir + "/missing").c_str(), b.c_str())) == ENOENT);
  // A directory moved to another parent keeps its contents and its "..".
  REQUIRE(rename((dir + "/d2").c_str(), (dir + "/d3/d2").c_str()) == 0);
  CHECK(GetFile(dir + "/d3/d2/x") == "x");
  CHECK(Stat(dir + "/d3/d2/..").st_ino == Stat(dir + "/d3").st_ino);
}

TEST_CASE("a file unlinked or renamed over while open stays usable through its descriptor") {
  const std::string dir = CaseDir("orphans");
  const std::string data = Pattern(100000, 10);
  PutFile(dir + "/unlinked", data);
  int fd = open((dir + "/unlinked").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(unlink((dir + "/unlinked").c_str()) == 0);
  CHECK(FirstDifference(PRead(fd, data.size(), 0), data) == "");
  struct stat st {};
  CHECK(fstat(fd, &st) == 0);
  CHECK(st.st_nlink == 0);
  REQUIRE(close(fd) == 0);

  // The deploy pattern: readers keep the old file while rename(2) puts a new one in place.
  PutFile(dir + "/live", data);
  PutFile(dir + "/next", "the new version");
  fd = open((dir + "/live").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(rename((dir + "/next").c_str(), (dir + "/live").c_str()) == 0);
  CHECK(FirstDifference(PRead(fd, data.size(), 0), data) == "");
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(dir + "/live") == "the new version");

  // Writes to an unlinked file work until the last close.
  fd = open((dir + "/scratch").c_str(), O_CREAT | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(unlink((dir + "/scratch").c_str()) == 0);
  CHECK(pwrite(fd, "scratch", 7, 0) == 7);
  CHECK(fsync(fd) == 0);
  CHECK(PRead(fd, 7, 0) == "scratch");
  CHECK(close(fd) == 0);
}

TEST_CASE("hard links and link counts") {
  const std::string dir = CaseDir("links");
  const std::string f = dir + "/f", g = dir + "/g";
  PutFile(f, "shared");
  CHECK(Stat(f).st_nlink == 1);
  REQUIRE(link(f.c_str(), g.c_str()) == 0);
  CHECK(Stat(f).st_nlink == 2);
  CHECK(Stat(g).st_nlink == 2);
  CHECK(Stat(f).st_ino == Stat(g).st_ino);

  // One file, two names.
  int fd = open(g.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  WriteAll(fd, "+more");
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "shared+more");

  REQUIRE(mkdir((dir + "/other").c_str(), 0755) == 0);
  REQUIRE(link(f.c_str(), (dir + "/other/h").c_str()) == 0);
  CHECK(Stat(g).st_nlink == 3);
  REQUIRE(unlink(f.c_str()) == 0);
  CHECK(Stat(g).st_nlink == 2);
  CHECK(GetFile(dir + "/other/h") == "shared+more");
  REQUIRE(unlink(g.c_str()) == 0);
  CHECK(Stat(dir + "/other/h").st_nlink == 1);

  CHECK(Err(link((dir + "/other/h").c_str(), (dir + "/other").c_str())) == EEXIST);
  CHECK(Err(link((dir + "/other").c_str(), (dir + "/dirlink").c_str())) == EPERM);
  CHECK(Err(link((dir + "/missing").c_str(), (dir + "/x").c_str())) == ENOENT);

  // Directories: 2 + one per subdirectory.
  CHECK(Stat(dir + "/other").st_nlink == 2);
  REQUIRE(mkdir((dir + "/other/s1").c_str(), 0755) == 0);
  REQUIRE(mkdir((dir + "/other/s2").c_str(), 0755) == 0);
  CHECK(Stat(dir + "/other").st_nlink == 4);
  REQUIRE(rmdir((dir + "/other/s1").c_str()) == 0);
  CHECK(Stat(dir + "/other").st_nlink == 3);
}

TEST_CASE("symlinks") {
  const std::string dir = CaseDir("symlinks");
  PutFile(dir + "/target", "through the link");
  REQUIRE(symlink("target", (dir + "/rel").c_str()) == 0);
  REQUIRE(symlink((dir + "/target").c_str(), (dir + "/abs").c_str()) == 0);
  REQUIRE(symlink("nowhere/at/all", (dir + "/dangling").c_str()) == 0);

  char buf[4096];
  ssize_t n = readlink((dir + "/rel").c_str(), buf, sizeof(buf));
  REQUIRE(n == 6);
  CHECK(std::string(buf, 6) == "target");
  struct stat st = LStat(dir + "/abs");
  CHECK(S_ISLNK(st.st_mode));
  CHECK(st.st_size == static_cast<off_t>((dir + "/target").size()));
  CHECK(GetFile(dir + "/rel") == "through the link");
  CHECK(GetFile(dir + "/abs") == "through the link");
  CHECK(Stat(dir + "/rel").st_ino == Stat(dir + "/target").st_ino);
  CHECK(Err(stat((dir + "/dangling").c_str(), &st)) == ENOENT);
  CHECK(S_ISLNK(LStat(dir + "/dangling").st_mode));
  // A short buffer gets a truncated target, as readlink(2) does.
  CHECK(readlink((dir + "/dangling").c_str(), buf, 3) == 3);
  CHECK(Err(symlink("x", (dir + "/rel").c_str())) == EEXIST);
  CHECK(Err(readlink((dir + "/target").c_str(), buf, sizeof(buf))) == EINVAL);
  // Through a symlinked directory.
  REQUIRE(mkdir((dir + "/realdir").c_str(), 0755) == 0);
  REQUIRE(symlink("realdir", (dir + "/dirlink").c_str()) == 0);
  PutFile(dir + "/dirlink/inside", "in");
  CHECK(GetFile(dir + "/realdir/inside") == "in");
  REQUIRE(unlink((dir + "/rel").c_str()) == 0);
  CHECK(GetFile(dir + "/target") == "through the link");
}

TEST_CASE("extended attributes") {
  const std::string dir = CaseDir("xattr");
  const std::string f = dir + "/f";
  PutFile(f, "x");
  const char* p = f.c_str();

  REQUIRE(setxattr(p, "user.color", "blue", 4, 0) == 0);
  CHECK(getxattr(p, "user.color", nullptr, 0) == 4);  // size probe
  char buf[8192];
  REQUIRE(getxattr(p, "user.color", buf, sizeof(buf)) == 4);
  CHECK(std::string(buf, 4) == "blue");
  CHECK(Err(getxattr(p, "user.color", buf, 2)) == ERANGE);
  CHECK(Err(getxattr(p, "user.missing", buf, sizeof(buf))) == ENODATA);

  CHECK(Err(setxattr(p, "user.color", "red", 3, XATTR_CREATE)) == EEXIST);
  CHECK(Err(setxattr(p, "user.shape", "round", 5, XATTR_REPLACE)) == ENODATA);
  REQUIRE(setxattr(p, "user.color", "red", 3, XATTR_REPLACE) == 0);
  const std::string large = Pattern(4000, 6);
  REQUIRE(setxattr(p, "user.large", large.data(), large.size(), XATTR_CREATE) == 0);
  REQUIRE(setxattr(p, "user.empty", "", 0, 0) == 0);
  REQUIRE(getxattr(p, "user.large", buf, sizeof(buf)) == 4000);
  CHECK(std::string(buf, 4000) == large);
  CHECK(getxattr(p, "user.empty", buf, sizeof(buf)) == 0);

  ssize_t need = listxattr(p, nullptr, 0);
  const std::string want =
      std::string("user.color") + '\0' + "user.empty" + '\0' + "user.large" + '\0';
  REQUIRE(need == static_cast<ssize_t>(want.size()));
  CHECK(Err(listxattr(p, buf, 5)) == ERANGE);
  REQUIRE(listxattr(p, buf, sizeof(buf)) == need);
  std::set<std::string> names;
  for (ssize_t i = 0; i < need; i += static_cast<ssize_t>(std::strlen(buf + i)) + 1)
    names.insert(buf + i);
  CHECK(names == std::set<std::string>{"user.color", "user.empty", "user.large"});

  REQUIRE(removexattr(p, "user.color") == 0);
  CHECK(Err(getxattr(p, "user.color", buf, sizeof(buf))) == ENODATA);
  CHECK(Err(removexattr(p, "user.color")) == ENODATA);

  // On a directory too.
  REQUIRE(setxattr(dir.c_str(), "user.dir", "yes", 3, 0) == 0);
  CHECK(getxattr(dir.c_str(), "user.dir", buf, sizeof(buf)) == 3);
  // Writes still work on a file with attributes (the kernel asks about
  // security.capability before each one).
  int fd = open(p, O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  WriteAll(fd, "yz");
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "xyz");
}

TEST_CASE("readdir: 10,000 entries, each name exactly once") {
  const std::string dir = CaseDir("big");
  constexpr int kFiles = 10000;
  constexpr int kThreads = 8;
  // The kernel serializes creates in one directory (the directory's lock),
  // one meta round trip each: the entries are made through libdfsclient,
  // concurrently, and listed through the mount.
  client::FileSystemOptions options;
  options.meta = Cluster().meta().AddressList();
  options.meta_timeout = 30s;
  auto library = client::FileSystem::Open(options);
  REQUIRE(library.ok());
  const uint64_t parent = Stat(dir).st_ino;
  auto start = std::chrono::steady_clock::now();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kFiles; i += kThreads) {
        auto made = (*library)->Create(client::Caller{}, parent, "entry-" + std::to_string(i),
                                       pb::FILE_TYPE_REGULAR, 0644, true);
        if (!made.ok()) failures++;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  REQUIRE(failures == 0);
  // And a few through the kernel.
  for (int i = kFiles; i < kFiles + 10; i++)
    REQUIRE(mknod((dir + "/entry-" + std::to_string(i)).c_str(), S_IFREG | 0644, 0) == 0);
  REQUIRE(mkdir((dir + "/a-directory").c_str(), 0755) == 0);
  WARN(kFiles << " files created in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s");

  start = std::chrono::steady_clock::now();
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  std::map<std::string, int> count;
  std::map<std::string, unsigned char> type;
  errno = 0;
  while (dirent* e = readdir(d)) {
    count[e->d_name]++;
    type[e->d_name] = e->d_type;
  }
  REQUIRE(errno == 0);
  WARN("listed in "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
  CHECK(count.size() == kFiles + 10 + 3);
  int duplicates = 0, missing = 0;
  for (int i = 0; i < kFiles + 10; i++) {
    auto it = count.find("entry-" + std::to_string(i));
    if (it == count.end()) {
      missing++;
    } else if (it->second != 1) {
      duplicates++;
    }
  }
  CHECK(missing == 0);
  CHECK(duplicates == 0);
  CHECK(count["."] == 1);
  CHECK(count[".."] == 1);
  CHECK(type["entry-42"] == DT_REG);
  CHECK(type["a-directory"] == DT_DIR);

  // rewinddir lists again, from the start.
  rewinddir(d);
  int again = 0;
  while (readdir(d) != nullptr)
    again++;
  CHECK(again == kFiles + 10 + 3);
  // telldir/seekdir come back to the same place.
  rewinddir(d);
  for (int i = 0; i < 5000; i++)
    REQUIRE(readdir(d) != nullptr);
  long mark = telldir(d);
  std::string at_mark = readdir(d)->d_name;
  for (int i = 0; i < 100; i++)
    REQUIRE(readdir(d) != nullptr);
  seekdir(d, mark);
  dirent* e = readdir(d);
  REQUIRE(e != nullptr);
  CHECK(std::string(e->d_name) == at_mark);
  closedir(d);
  CHECK(Stat(dir + "/entry-9999").st_size == 0);
}

TEST_CASE("O_EXCL and other creation errors") {
  const std::string dir = CaseDir("excl");
  const std::string f = dir + "/f";
  int fd = open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  WriteAll(fd, "first");
  REQUIRE(close(fd) == 0);
  CHECK(Err(open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)) == EEXIST);
  fd = open(f.c_str(), O_CREAT | O_WRONLY, 0644);  // no O_EXCL: opens it
  REQUIRE(fd >= 0);
  REQUIRE(close(fd) == 0);
  CHECK(GetFile(f) == "first");
  REQUIRE(symlink("dangling-target", (dir + "/link").c_str()) == 0);
  CHECK(Err(open((dir + "/link").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)) == EEXIST);

  CHECK(Err(mkdir(f.c_str(), 0755)) == EEXIST);
  CHECK(Err(mknod(f.c_str(), S_IFIFO | 0644, 0)) == EEXIST);
  CHECK(Err(open((dir + "/missing/f").c_str(), O_CREAT | O_WRONLY, 0644)) == ENOENT);
  CHECK(Err(open((f + "/below-a-file").c_str(), O_CREAT | O_WRONLY, 0644)) == ENOTDIR);
  CHECK(Err(open((dir + "/" + std::string(256, 'n')).c_str(), O_CREAT | O_WRONLY, 0644)) ==
        ENAMETOOLONG);
  CHECK(Err(open(dir.c_str(), O_WRONLY)) == EISDIR);
  CHECK(Err(rmdir(f.c_str())) == ENOTDIR);
  CHECK(Err(unlink(dir.c_str())) == EISDIR);
  REQUIRE(mkdir((dir + "/full").c_str(), 0755) == 0);
  PutFile(dir + "/full/x", "");
  CHECK(Err(rmdir((dir + "/full").c_str())) == ENOTEMPTY);

  // FIFOs and sockets are names with a type; devices are refused.
  REQUIRE(mknod((dir + "/fifo").c_str(), S_IFIFO | 0600, 0) == 0);
  CHECK(S_ISFIFO(Stat(dir + "/fifo").st_mode));
  REQUIRE(mknod((dir + "/sock").c_str(), S_IFSOCK | 0600, 0) == 0);
  CHECK(S_ISSOCK(Stat(dir + "/sock").st_mode));
  CHECK(Err(mknod((dir + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 3))) == EPERM);
}

TEST_CASE("chmod, chown, utimens") {
  const std::string dir = CaseDir("attrs");
  const std::string f = dir + "/f";
  PutFile(f, "attrs");
  REQUIRE(chmod(f.c_str(), 0640) == 0);
  CHECK((Stat(f).st_mode & 07777) == 0640);
  REQUIRE(chmod(f.c_str(), 04755) == 0);
  CHECK((Stat(f).st_mode & 07777) == 04755);
  REQUIRE(chown(f.c_str(), 1000, 2000) == 0);
  CHECK(Stat(f).st_uid == 1000);
  CHECK(Stat(f).st_gid == 2000);

  timespec times[2];
  times[0] = {1000000000, 123456789};  // atime
  times[1] = {1200000000, 987654321};  // mtime
  REQUIRE(utimensat(AT_FDCWD, f.c_str(), times, 0) == 0);
  struct stat st = Stat(f);
  CHECK(st.st_atim.tv_sec == 1000000000);
  CHECK(st.st_atim.tv_nsec == 123456789);
  CHECK(st.st_mtim.tv_sec == 1200000000);
  CHECK(st.st_mtim.tv_nsec == 987654321);

  // UTIME_NOW for mtime only; atime stays.
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_nsec = UTIME_NOW;
  const time_t now = time(nullptr);
  REQUIRE(utimensat(AT_FDCWD, f.c_str(), times, 0) == 0);
  st = Stat(f);
  CHECK(st.st_atim.tv_sec == 1000000000);
  CHECK(std::abs(st.st_mtim.tv_sec - now) <= 5);
  CHECK(std::abs(st.st_ctim.tv_sec - now) <= 5);

  // A write moves mtime.
  times[1] = {1200000000, 0};
  REQUIRE(utimensat(AT_FDCWD, f.c_str(), times, 0) == 0);
  PutFile(f, "newer");
  CHECK(std::abs(Stat(f).st_mtim.tv_sec - time(nullptr)) <= 5);
}

TEST_CASE("permissions: a non-root user is denied by mode bits (EACCES)") {
  const std::string dir = CaseDir("perm");
  REQUIRE(chmod(dir.c_str(), 0755) == 0);
  PutFile(dir + "/readable", "public", 0644);
  PutFile(dir + "/secret", "root only", 0600);
  REQUIRE(mkdir((dir + "/open").c_str(), 0777) == 0);
  REQUIRE(chmod((dir + "/open").c_str(), 0777) == 0);
  REQUIRE(mkdir((dir + "/closed").c_str(), 0700) == 0);
  PutFile(dir + "/closed/inside", "hidden", 0644);

  int failed = AsNobody([&]() -> int {
    // allow_other works: the user can read what the mode bits allow.
    std::ifstream in(dir + "/readable");
    std::string text;
    if (!std::getline(in, text) || text != "public") return 10;
    struct stat st {};
    if (stat((dir + "/readable").c_str(), &st) != 0) return 11;
    // Denials by mode bits.
    if (Err(open((dir + "/new").c_str(), O_CREAT | O_WRONLY, 0644)) != EACCES) return 12;
    if (Err(open((dir + "/readable").c_str(), O_WRONLY)) != EACCES) return 13;
    if (Err(open((dir + "/secret").c_str(), O_RDONLY)) != EACCES) return 14;
    if (Err(mkdir((dir + "/d").c_str(), 0755)) != EACCES) return 15;
    if (Err(unlink((dir + "/readable").c_str())) != EACCES) return 16;
    if (Err(rename((dir + "/readable").c_str(), (dir + "/open/r").c_str())) != EACCES) return 17;
    if (Err(symlink("x", (dir + "/l").c_str())) != EACCES) return 18;
    if (Err(access((dir + "/readable").c_str(), W_OK)) != EACCES) return 19;
    if (access((dir + "/readable").c_str(), R_OK) != 0) return 20;
    if (Err(truncate((dir + "/readable").c_str(), 0)) != EACCES) return 21;
    if (Err(stat((dir + "/closed/inside").c_str(), &st)) != EACCES) return 22;
    if (Err(opendir((dir + "/closed").c_str()) ? 0 : -1) != EACCES) return 23;
    if (Err(setxattr((dir + "/readable").c_str(), "user.x", "1", 1, 0)) != EACCES) return 24;
    // Not the owner: EPERM.
    if (Err(chmod((dir + "/readable").c_str(), 0666)) != EPERM) return 25;
    if (Err(chown((dir + "/readable").c_str(), kNobody, kNobody)) != EPERM) return 26;
    // Where the bits allow, the user creates files it owns.
    int fd = open((dir + "/open/mine").c_str(), O_CREAT | O_WRONLY, 0640);
    if (fd < 0) return 27;
    if (write(fd, "mine", 4) != 4) return 28;
    if (fstat(fd, &st) != 0 || st.st_uid != kNobody || st.st_gid != kNobody) return 29;
    if (close(fd) != 0) return 30;
    if (chmod((dir + "/open/mine").c_str(), 0600) != 0) return 31;
    return 0;
  });
  CHECK(failed == 0);
  CHECK(GetFile(dir + "/open/mine") == "mine");
  CHECK(GetFile(dir + "/readable") == "public");
  CHECK(Stat(dir + "/open/mine").st_uid == kNobody);
  CHECK((Stat(dir + "/open/mine").st_mode & 0777) == 0600);
}

TEST_CASE("permissions: in a sticky directory only the owner removes or renames (EPERM)") {
  const std::string dir = CaseDir("sticky");
  REQUIRE(chmod(dir.c_str(), 0755) == 0);
  const std::string tmp = dir + "/tmp";
  REQUIRE(mkdir(tmp.c_str(), 0777) == 0);
  REQUIRE(chmod(tmp.c_str(), 01777) == 0);
  constexpr uid_t kAlice = 1001, kBob = 1002;
  CHECK(AsUser(kAlice, [&]() -> int {
          int fd = open((tmp + "/alice").c_str(), O_CREAT | O_WRONLY, 0666);
          if (fd < 0) return 1;
          if (fchmod(fd, 0666) != 0) return 2;
          return close(fd) == 0 ? 0 : 3;
        }) == 0);
  CHECK(AsUser(kBob, [&]() -> int {
          // Writable by all, yet neither removable nor renamable by Bob.
          if (Err(unlink((tmp + "/alice").c_str())) != EPERM) return 10;
          if (Err(rename((tmp + "/alice").c_str(), (tmp + "/bob-now").c_str())) != EPERM) return 11;
          // Replacing Alice's file by renaming over it is removing it too.
          int fd = open((tmp + "/bob").c_str(), O_CREAT | O_WRONLY, 0644);
          if (fd < 0 || close(fd) != 0) return 12;
          if (Err(rename((tmp + "/bob").c_str(), (tmp + "/alice").c_str())) != EPERM) return 13;
          // His own file he removes.
          if (unlink((tmp + "/bob").c_str()) != 0) return 14;
          return 0;
        }) == 0);
  CHECK(GetFile(tmp + "/alice").empty());
  CHECK(Stat(tmp + "/alice").st_uid == kAlice);
  // The file's owner, and root, may.
  CHECK(AsUser(kAlice, [&]() -> int {
          return rename((tmp + "/alice").c_str(), (tmp + "/alice2").c_str()) == 0 ? 0 : 20;
        }) == 0);
  CHECK(unlink((tmp + "/alice2").c_str()) == 0);
}

TEST_CASE("statfs") {
  struct statvfs st {};
  // Capacity arrives with the chunk servers' first heartbeats.
  auto known = TimeUntil([&] { return statvfs(Root().c_str(), &st) == 0 && st.f_blocks > 0; }, 10s);
  CHECK(known.count() >= 0);
  REQUIRE(statvfs(Root().c_str(), &st) == 0);
  CHECK(st.f_bsize == 4096);
  CHECK(st.f_frsize == 4096);
  CHECK(st.f_blocks > 0);
  CHECK(st.f_bfree <= st.f_blocks);
  CHECK(st.f_bavail <= st.f_blocks);
  CHECK(st.f_files > st.f_ffree);
  CHECK(st.f_namemax == 255);
}

// The daemon of a background mount: the process running `program` with
// `path` on its command line.
pid_t FindDaemon(const std::string& program, const std::string& path) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(program) != std::string::npos && cmdline.find(path) != std::string::npos)
      return static_cast<pid_t>(std::stol(pid));
  }
  return -1;
}

// Runs a command to completion; its exit code, or -1.
int RunCommand(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("mount.dfs: as mount(8) runs it, in the background; umount ends it with 0") {
  testing::MountedCluster& c = Cluster();
  const std::string path = c.NewDir("helper");
  const std::string helper = testing::BinDir() + "/mount.dfs";
  // The daemon is re-parented to this process, so that its exit status can be seen.
  REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      prctl(PR_SET_CHILD_SUBREAPER, 0);
      if (testing::IsDfsMount(path)) umount2(path.c_str(), MNT_DETACH);
    }
  } cleanup{path};
  REQUIRE(RunCommand({helper, c.MetaAddresses(), path, "-o",
                      "rw,allow_other,_netdev,attr_timeout=2,entry_timeout=2"}) == 0);
  // It returned once mounted.
  CHECK(testing::IsDfsMount(path));
  const pid_t daemon = FindDaemon("mount.dfs", path);
  REQUIRE(daemon > 0);
  PutFile(path + "/via-helper", "helper");
  // Another mount of the cluster sees it (close-to-open).
  CHECK(GetFile(Root() + "/via-helper") == "helper");

  int rc;
  for (int i = 0; (rc = umount2(path.c_str(), 0)) != 0 && errno == EBUSY && i < 50; i++)
    std::this_thread::sleep_for(100ms);
  REQUIRE(rc == 0);
  int status = -1;
  for (int i = 0; i < 600 && waitpid(daemon, &status, WNOHANG) == 0; i++)
    std::this_thread::sleep_for(100ms);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(testing::IsDfsMount(path));
}

TEST_CASE("unmount: a lazy unmount with a file still open flushes it at close") {
  testing::MountedCluster& c = Cluster();
  testing::Mount* m = c.AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  const std::string data = Pattern(3 << 20, 7);
  int fd = open((m->path() + "/late").c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  WriteAll(fd, data);
  REQUIRE(umount2(m->path().c_str(), MNT_DETACH) == 0);
  REQUIRE(close(fd) == 0);
  CHECK(m->Unmount() == 0);
  testing::Mount* again = c.AddMount({"allow_other"});
  REQUIRE(again != nullptr);
  CHECK(FirstDifference(GetFile(again->path() + "/late"), data) == "");
  CHECK(again->Unmount() == 0);
}

TEST_CASE("ro: a read-only mount reads, and refuses changes with EROFS") {
  testing::MountedCluster& c = Cluster();
  PutFile(Root() + "/ro-check", "read me");
  testing::Mount* m = c.AddMount({"ro", "allow_other"});
  REQUIRE(m != nullptr);
  CHECK(GetFile(m->path() + "/ro-check") == "read me");
  CHECK(Err(open((m->path() + "/ro-check").c_str(), O_WRONLY)) == EROFS);
  CHECK(Err(open((m->path() + "/new").c_str(), O_CREAT | O_WRONLY, 0644)) == EROFS);
  CHECK(Err(mkdir((m->path() + "/d").c_str(), 0755)) == EROFS);
  CHECK(Err(chmod((m->path() + "/ro-check").c_str(), 0600)) == EROFS);
  CHECK(m->Unmount() == 0);
}

TEST_CASE("dfs-mount: failures are reported by the exit status, nothing is mounted") {
  testing::MountedCluster& c = Cluster();
  const std::string path = c.NewDir("bad");
  const std::string bin = testing::BinDir() + "/dfs-mount";
  CHECK(RunCommand({bin, "--meta", c.MetaAddresses(), path, "-o", "no_such_option"}) == 1);
  CHECK(RunCommand({bin, "--meta", c.MetaAddresses(), path + "/missing"}) == 32);
  // No cluster there: FileSystem::Open gives up after meta_timeout.
  const std::string nowhere = "127.0.0.1:" + std::to_string(testing::FreePort());
  auto start = std::chrono::steady_clock::now();
  CHECK(RunCommand({bin, "--meta", nowhere, path, "-o", "meta_timeout=2"}) == 32);
  CHECK(std::chrono::steady_clock::now() - start < 30s);
  CHECK_FALSE(testing::IsDfsMount(path));
}

// ------------------------------------------------------------ failures
// Each on a cluster of its own: they kill servers.

TEST_CASE("a chunk server killed -9 mid-read and mid-write costs the application nothing") {
  testing::MountedClusterOptions o;
  o.meta_args = {"--node-dead-after", "3s"};
  o.chunk_args = {"--heartbeat-interval", "500ms"};
  testing::MountedCluster c(o);
  REQUIRE(c.ok());
  testing::Mount* m = c.AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  const std::string data = Pattern(24 << 20, 31);
  PutFile(m->path() + "/before.bin", data);

  // A reader and a writer, both in 1 MiB steps; server 2 dies while they run.
  std::atomic<bool> killed{false};
  std::string read_back;
  std::thread reader([&] {
    int fd = open((m->path() + "/before.bin").c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    for (size_t off = 0; off < data.size(); off += 1 << 20) {
      read_back += PRead(fd, 1 << 20, static_cast<off_t>(off));
      if (off == 8u << 20) {
        while (!killed)
          std::this_thread::sleep_for(10ms);
      }
    }
    REQUIRE(close(fd) == 0);
  });
  const std::string written = Pattern(24 << 20, 32);
  int fd = open((m->path() + "/during.bin").c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  for (size_t off = 0; off < written.size(); off += 1 << 20) {
    WriteAll(fd, std::string_view(written).substr(off, 1 << 20));
    if (off == 8u << 20) {
      c.chunks().Kill(2);
      killed = true;
    }
  }
  CHECK(fsync(fd) == 0);
  CHECK(close(fd) == 0);
  reader.join();
  CHECK(FirstDifference(read_back, data) == "");
  CHECK(FirstDifference(GetFile(m->path() + "/during.bin"), written) == "");
  // A second mount (no cache) reads the same from the servers left.
  testing::Mount* other = c.AddMount({"allow_other"});
  REQUIRE(other != nullptr);
  CHECK(FirstDifference(GetFile(other->path() + "/during.bin"), written) == "");
}

// Chaos seed 11: a reader's descriptor, open across an append on the same
// mount whose chain lost a replica, read the appended bytes as zeros from
// the dropped replica (still up, at the old version, shorter); the next
// open kept those kernel pages, since this mount's own commit was the last
// change, and read zeros too.
TEST_CASE("an append that lost a replica reads back whole on its own mount, then and later") {
  testing::MountedCluster c;
  REQUIRE(c.ok());
  testing::Mount* setup = c.AddMount({"allow_other"});
  REQUIRE(setup != nullptr);
  const std::string before = Pattern(100000, 51), appended = Pattern(150000, 52);
  PutFile(setup->path() + "/log.bin", before);
  struct stat st;
  REQUIRE(stat((setup->path() + "/log.bin").c_str(), &st) == 0);
  client::MetaClientOptions mo;
  mo.servers = c.meta().AddressList();
  mo.timeout = 30s;
  client::MetaClient meta(mo);
  meta.SetClusterId(c.chunks().cluster_id());
  auto chunks = meta.GetChunks(st.st_ino, 0, 1);
  REQUIRE(chunks.ok());
  REQUIRE(chunks->chunks_size() == 1);
  // The head: paused, it fails the writer's first call to it, before any
  // data is sent its way. The mount reads from its zone first; kernel
  // attributes last, so the read below needs no paused meta server.
  int dropped = 0;
  for (int i = 1; i <= c.chunks().size(); i++)
    if (c.chunks().node_id(i) == chunks->chunks(0).replicas(0).node_id()) dropped = i;
  REQUIRE(dropped != 0);
  testing::Mount* m =
      c.AddMount({"allow_other", "zone=" + c.chunks().zone(dropped), "attr_timeout=60"});
  REQUIRE(m != nullptr);
  const std::string path = m->path() + "/log.bin";

  int rfd = open(path.c_str(), O_RDONLY);
  REQUIRE(rfd >= 0);
  CHECK(PRead(rfd, 4096, 0) == before.substr(0, 4096));  // its handle caches the chain at v1
  int wfd = open(path.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(wfd >= 0);
  WriteAll(wfd, appended);

  testing::PausedProcesses paused;
  REQUIRE(paused.Pause(c.chunks().pid(dropped)));
  CHECK(fsync(wfd) == 0);  // the chain goes on without the head, at v2
  CHECK(close(wfd) == 0);
  REQUIRE(fstat(rfd, &st) == 0);  // the new mtime: the kernel drops the written pages
  CHECK(st.st_size == static_cast<off_t>(before.size() + appended.size()));
  // The dropped replica answers again, at v1 and 100000 bytes long; the
  // meta servers pause meanwhile, or its replica report would get it
  // deleted before the read reaches it.
  for (uint64_t id = 1; id <= 3; id++)
    REQUIRE(paused.Pause(c.meta().pid(id)));
  REQUIRE(kill(c.chunks().pid(dropped), SIGCONT) == 0);
  const std::string rest = PRead(rfd, appended.size(), static_cast<off_t>(before.size()));
  CHECK(FirstDifference(rest, appended) == "");
  paused.Resume();
  CHECK(close(rfd) == 0);
  // The next open keeps the kernel's pages (nothing changed since this
  // mount's commit): they must hold the append.
  CHECK(FirstDifference(GetFile(path), before + appended) == "");
}

TEST_CASE("the meta leader killed while a loop of creates runs: no error reaches the loop") {
  testing::MountedCluster c;
  REQUIRE(c.ok());
  testing::Mount* m = c.AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> created{0}, failed{0};
  std::thread loop([&] {
    for (int i = 0; !stop; i++) {
      const std::string path = m->path() + "/c" + std::to_string(i);
      int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0) {
        failed++;
        continue;
      }
      bool ok = write(fd, "x", 1) == 1;
      ok = close(fd) == 0 && ok;
      (ok ? created : failed)++;
    }
  });
  while (created < 20)
    std::this_thread::sleep_for(10ms);
  const uint64_t leader = testing::MetaLeader(c.meta());
  REQUIRE(leader != 0);
  c.meta().Kill(leader);
  const int at_kill = created;
  // Until well after a new leader took over.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (created < at_kill + 50 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  stop = true;
  loop.join();
  CHECK(failed == 0);
  CHECK(created >= at_kill + 50);
  std::set<std::string> names = List(m->path());
  names.erase(".");
  names.erase("..");
  std::set<std::string> want;
  for (int i = 0; i < created; i++)
    want.insert("c" + std::to_string(i));
  std::string extra;
  for (const std::string& n : names)
    if (!want.count(n)) extra += n + " ";
  INFO("names not created by the loop: " << extra);
  CHECK(names == want);
}

TEST_CASE(
    "block cache: a remount reads a cached file without the chunk servers; a change elsewhere "
    "invalidates it") {
  testing::MountedCluster c;
  REQUIRE(c.ok());
  const std::string cache = c.NewDir("cache");
  testing::Mount* m = c.AddMount({"allow_other", "cache_dir=" + cache});
  REQUIRE(m != nullptr);
  const std::string data = Pattern(6 << 20, 41);
  PutFile(m->path() + "/photo.jpg", data);
  CHECK(GetFile(m->path() + "/photo.jpg") == data);  // fills the cache
  REQUIRE(m->Unmount() == 0);

  testing::Mount* again = c.AddMount({"allow_other", "cache_dir=" + cache, "http=127.0.0.1:0"});
  REQUIRE(again != nullptr);
  const int port = testing::LoggedHttpPort(again->log_path());
  REQUIRE(port > 0);
  CHECK(FirstDifference(GetFile(again->path() + "/photo.jpg"), data) == "");
  std::string metrics = testing::HttpGet(port, "/metrics").body;
  CHECK(testing::MetricSample(metrics, "dfs_mount_chunk_reads_total") == 0);
  CHECK(testing::MetricSample(metrics, "dfs_mount_cache_lookups_total{result=\"hit\"}") > 0);

  // Another mount changes it: the cached blocks are not served any more.
  testing::Mount* writer = c.AddMount({"allow_other"});
  REQUIRE(writer != nullptr);
  const std::string changed = Pattern(6 << 20, 42);
  PutFile(writer->path() + "/photo.jpg", changed);
  CHECK(FirstDifference(GetFile(again->path() + "/photo.jpg"), changed) == "");
  metrics = testing::HttpGet(port, "/metrics").body;
  CHECK(testing::MetricSample(metrics, "dfs_mount_chunk_reads_total") > 0);
}

}  // namespace
}  // namespace dfs
