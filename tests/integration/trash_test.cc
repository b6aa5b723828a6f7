// Integration: the trash (docs/meta.md, "Trash") on a real mounted cluster
// whose dfs-meta keep files 0.0002 days (17.3 s). A file deleted through
// the mount is listed by `dfsadmin trash list`, readable by root under
// /.trash, restored byte-identical by `dfsadmin trash restore` (to its old
// place, never over an existing name, or --to another one), counted in
// `dfsadmin status`, healthy for `dfsadmin fsck`; a file left there is
// purged once its time is up and its chunks disappear from the chunk
// servers; `dfsadmin trash purge` frees the rest at once.
#define CATCH_CONFIG_MAIN
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/bytes.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using testing::FirstDifference;
using testing::Pattern;

constexpr uid_t kNobody = 65534;
constexpr auto kKeep = 17280ms;  // --trash-days 0.0002

using Run = testing::ToolRun;

Run Dfsadmin(const std::string& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  std::vector<std::string> argv = {testing::BinDir() + "/dfsadmin"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunTool(argv, dir + "/dfsadmin" + std::to_string(++runs) + ".out");
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void PutFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
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

std::set<std::string> List(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  std::set<std::string> names;
  while (dirent* e = readdir(d))
    names.insert(e->d_name);
  closedir(d);
  return names;
}

// The lines of `text` that contain `part`.
std::vector<std::string> LinesWith(const std::string& text, const std::string& part) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (Contains(line, part)) out.push_back(line);
  }
  return out;
}

// The value of "key": "123" (or "key":"123") in `text`; 0 if absent.
uint64_t JsonNumber(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": ?\"?([0-9]+)"))) return 0;
  return std::stoull(m[1]);
}

// Every "chunk_id" in `text`.
std::vector<uint64_t> ChunkIds(const std::string& text) {
  std::vector<uint64_t> ids;
  std::regex re("\"chunk_id\": ?\"?([0-9]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it)
    ids.push_back(std::stoull((*it)[1]));
  return ids;
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(250ms);
  }
  return true;
}

TEST_CASE("a deleted file is listed in the trash, restored byte-identical, purged after its time") {
  testing::MountedClusterOptions o;
  o.meta_args = {"--trash-days", "0.0002", "--node-dead-after", "3s"};
  testing::MountedCluster cluster(o);  // 3 dfs-meta, 3 chunk servers, 4 MiB chunks
  REQUIRE(cluster.ok());
  testing::Mount* m = cluster.AddMount({"allow_other"});
  REQUIRE(m != nullptr);
  const std::string dir = cluster.dir();
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--meta", cluster.MetaAddresses()});
    return Dfsadmin(dir, args);
  };

  const std::string docs = m->path() + "/docs";
  REQUIRE(mkdir(docs.c_str(), 0755) == 0);
  const std::string report = Pattern(5 << 20, 1);  // two chunks
  const std::string scratch = Pattern(300000, 2);
  const std::string dup = "the first dup";
  PutFile(docs + "/report.bin", report);
  PutFile(docs + "/scratch.bin", scratch);
  PutFile(docs + "/dup.txt", dup);
  Run file = admin({"--json", "file", "/docs/scratch.bin"});
  INFO(file.output);
  REQUIRE(file.exit_code == 0);
  const std::vector<uint64_t> scratch_chunks = ChunkIds(file.output);
  REQUIRE(scratch_chunks.size() == 1);
  auto replicas = [&](uint64_t chunk_id) {
    int n = 0;
    for (int i = 1; i <= cluster.chunks().size(); i++)
      n += !cluster.chunks().ReplicaFile(i, chunk_id).empty();
    return n;
  };
  REQUIRE(replicas(scratch_chunks[0]) == 3);

  REQUIRE(unlink((docs + "/report.bin").c_str()) == 0);
  REQUIRE(unlink((docs + "/scratch.bin").c_str()) == 0);
  REQUIRE(unlink((docs + "/dup.txt").c_str()) == 0);
  const auto deleted = std::chrono::steady_clock::now();
  CHECK(List(docs) == std::set<std::string>{".", ".."});

  // trash list: all three, with where they were.
  Run list = admin({"--json", "trash", "list"});
  INFO(list.output);
  REQUIRE(list.exit_code == 0);
  CHECK(JsonNumber(list.output, "total_entries") == 3);
  CHECK(JsonNumber(list.output, "total_bytes") == report.size() + scratch.size() + dup.size());
  std::vector<std::string> report_line = LinesWith(list.output, "\"/docs/report.bin\"");
  std::vector<std::string> dup_line = LinesWith(list.output, "\"/docs/dup.txt\"");
  REQUIRE(report_line.size() == 1);
  REQUIRE(dup_line.size() == 1);
  const uint64_t report_id = JsonNumber(report_line[0], "id");
  const uint64_t dup_id = JsonNumber(dup_line[0], "id");
  CHECK(JsonNumber(report_line[0], "size") == report.size());
  Run table = admin({"trash", "list"});
  INFO(table.output);
  CHECK(table.exit_code == 0);
  CHECK(Contains(table.output, "PATH"));
  CHECK(LinesWith(table.output, "/docs/scratch.bin").size() == 1);
  CHECK(Contains(table.output, "3 files, "));

  // Root reads it under /.trash; the root directory does not list it; it
  // is read-only; others cannot look in.
  const std::string trash = m->path() + "/.trash";
  const std::string in_trash = std::to_string(report_id) + "-report.bin";
  CHECK(List(m->path()).count(".trash") == 0);
  CHECK(List(trash).count(in_trash) == 1);
  CHECK(FirstDifference(GetFile(trash + "/" + in_trash), report) == "");
  CHECK(open((trash + "/new").c_str(), O_CREAT | O_WRONLY, 0644) == -1);
  CHECK(errno == EROFS);
  CHECK(unlink((trash + "/" + in_trash).c_str()) == -1);
  CHECK(errno == EROFS);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(99);
    _exit(opendir(trash.c_str()) == nullptr ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // status and fsck see it.
  Run st = admin({"status"});
  INFO(st.output);
  CHECK(LinesWith(st.output, "TRASH").size() == 1);
  CHECK(Contains(st.output, "TRASH      3 files"));
  CHECK(JsonNumber(admin({"--json", "status"}).output, "trash_entries") == 3);
  Run fsck = admin({"fsck"});
  INFO(fsck.output);
  CHECK(fsck.exit_code == 0);
  CHECK(Contains(fsck.output, "no problems found"));

  // restore: back in place, byte-identical.
  Run restored = admin({"trash", "restore", std::to_string(report_id)});
  INFO(restored.output);
  REQUIRE(restored.exit_code == 0);
  CHECK(Contains(restored.output, "to /docs/report.bin"));
  CHECK(FirstDifference(GetFile(docs + "/report.bin"), report) == "");
  CHECK(admin({"trash", "restore", std::to_string(report_id)}).exit_code == 1);  // gone from there

  // Never over an existing name; --to another one.
  PutFile(docs + "/dup.txt", "the second dup");
  Run clash = admin({"trash", "restore", std::to_string(dup_id)});
  INFO(clash.output);
  CHECK(clash.exit_code == 1);
  CHECK(Contains(clash.output, "ALREADY_EXISTS"));
  CHECK(Contains(clash.output, "/docs/dup.txt exists"));
  Run moved = admin({"trash", "restore", std::to_string(dup_id), "--to", "/docs/dup.old"});
  INFO(moved.output);
  CHECK(moved.exit_code == 0);
  CHECK(GetFile(docs + "/dup.old") == dup);
  CHECK(GetFile(docs + "/dup.txt") == "the second dup");
  CHECK(std::chrono::steady_clock::now() - deleted < kKeep);  // all that happened in time

  // The file left in the trash goes once its time is up, and its chunks
  // leave the chunk servers.
  CHECK(Eventually(
      [&] {
        return JsonNumber(admin({"--json", "trash", "list"}).output, "total_entries") == 0;
      },
      40s));
  CHECK(std::chrono::steady_clock::now() - deleted >= kKeep);
  // The mount hears of it (a watch event) and drops its listing of /.trash.
  CHECK(Eventually([&] { return List(trash).size() == 2; }, 5s));  // . and ..
  CHECK(Eventually([&] { return replicas(scratch_chunks[0]) == 0; }, 20s));
  // The restored files stay.
  CHECK(FirstDifference(GetFile(docs + "/report.bin"), report) == "");

  // purge: --older-than spares younger files; without it, all go now.
  PutFile(docs + "/late.bin", "late");
  REQUIRE(unlink((docs + "/late.bin").c_str()) == 0);
  Run spared = admin({"trash", "purge", "--older-than", "1d"});
  INFO(spared.output);
  CHECK(spared.exit_code == 0);
  CHECK(Contains(spared.output, "purged 0 trash entries"));
  Run purged = admin({"trash", "purge"});
  INFO(purged.output);
  CHECK(purged.exit_code == 0);
  CHECK(Contains(purged.output, "purged 1 trash entry"));
  CHECK(Contains(admin({"trash", "list"}).output, "the trash is empty"));
  CHECK(admin({"trash", "purge", "--older-than", "soon"}).exit_code == 2);
  CHECK(admin({"fsck"}).exit_code == 0);
  REQUIRE(m->Unmount() == 0);
}

}  // namespace
}  // namespace dfs
