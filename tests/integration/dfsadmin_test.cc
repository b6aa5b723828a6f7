// Integration: dfsadmin (tools/README.md) as an operator runs it, a real
// process against real dfs-meta and dfs-chunkserver processes. `status`
// finds the leader from any one server, lists the members and chunk
// servers, reports JSON, and says in its exit code whether the cluster is
// healthy (0), degraded (1, here: a chunk server killed) or unreachable
// (2), also across a leader change; `repair-limits` changes the leader's
// repair limits; `drain` starts draining a chunk server. On a mounted
// cluster: `nodes`, `file` of a file written through libdfsclient,
// `repair-rate`, `health` of the FUSE mount (and of a directory that is
// not one), `fsck`, `backup create|verify`, and `meta add|transfer-leader|
// remove` with a fourth dfs-meta.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/file_system.h"
#include "google/protobuf/util/json_util.h"
#include "proto/admin.pb.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/process.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;

// One run of dfsadmin: its exit code and its stdout and stderr together.
using Run = testing::ToolRun;

Run Dfsadmin(const std::string& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  std::vector<std::string> argv = {testing::BinDir() + "/dfsadmin"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunTool(argv, dir + "/dfsadmin" + std::to_string(++runs) + ".out");
}

// Reruns `run` until `done` holds or `timeout` passes; the last run.
Run Until(const std::function<Run()>& run, const std::function<bool(const Run&)>& done,
          std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Run last = run();
  while (!done(last) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    last = run();
  }
  return last;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// Lines of the output that contain every one of `words`.
int CountLines(const std::string& text, const std::vector<std::string>& words) {
  int n = 0;
  for (const std::string& line : Lines(text)) {
    bool all = true;
    for (const std::string& w : words)
      all = all && line.find(w) != std::string::npos;
    n += all;
  }
  return n;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

TEST_CASE("dfsadmin without a cluster: usage errors and unreachable servers exit 2") {
  testing::ServerGroup none("dfs-meta", 0, {});  // only for its directory
  const std::string dir = none.dir();
  unsetenv("DFS_META");

  Run r = Dfsadmin(dir, {"status"});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.output, "no dfs-meta servers given"));
  CHECK(Contains(r.output, "DFS_META"));

  const std::string closed = "127.0.0.1:" + std::to_string(testing::FreePort());
  auto start = std::chrono::steady_clock::now();
  r = Dfsadmin(dir, {"--meta", closed, "status"});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.output, "no dfs-meta leader answered"));
  CHECK(Contains(r.output, closed + ": connection refused"));
  // Nothing listens: no need to wait out the timeout.
  CHECK(std::chrono::steady_clock::now() - start < 3s);

  setenv("DFS_META", closed.c_str(), 1);
  r = Dfsadmin(dir, {"--json", "status"});
  unsetenv("DFS_META");
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.output, closed));

  CHECK(Dfsadmin(dir, {}).exit_code == 2);
  CHECK(Dfsadmin(dir, {"--meta", closed, "no-such-command"}).exit_code == 2);
  CHECK(Dfsadmin(dir, {"--meta", closed, "drain"}).exit_code != 0);
  CHECK(Dfsadmin(dir, {"--meta", closed, "repair-limits", "--max-jobs", "0"}).exit_code != 0);
  CHECK(Dfsadmin(dir, {"--meta", closed, "--timeout", "soon", "status"}).exit_code == 2);
  r = Dfsadmin(dir, {"--help"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.output, "repair-limits"));
}

TEST_CASE("dfsadmin status, json and repair-limits on a live cluster; a dead server degrades it") {
  testing::ServerGroup meta("dfs-meta", 3, {"--node-dead-after", "2s"});
  testing::ChunkServers chunks(meta.dir() + "/chunk", 3, meta.AddressList(),
                               {"--scrub-rate", "0", "--heartbeat-interval", "500ms"});
  for (int i = 1; i <= 3; i++)
    REQUIRE(chunks.WaitRegistered(i));
  const std::string dir = meta.dir();
  const std::string all = Join(meta.AddressList());

  auto status = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--meta", all};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("status");
    return Dfsadmin(dir, args);
  };

  // Healthy once every chunk server has been heard from.
  Run r = Until(
      status, [](const Run& r) { return r.exit_code == 0; }, 30s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.output, "cluster " + chunks.cluster_id()));
  // The members' table: one row per dfs-meta, one leader.
  int leaders = 0, followers = 0;
  for (const std::string& line : Lines(r.output)) {
    for (const auto& [id, address] : meta.addresses()) {
      if (line.rfind(std::to_string(id) + " ", 0) != 0 || !Contains(line, address)) continue;
      leaders += Contains(line, " leader");
      followers += Contains(line, " follower");
    }
  }
  CHECK(leaders == 1);
  CHECK(followers == 2);
  for (int i = 1; i <= 3; i++) {
    CHECK(CountLines(r.output, {chunks.address(i), "z" + std::to_string(i), "active"}) == 1);
  }
  CHECK(Contains(r.output, "HEALTH     healthy"));

  // Any one server leads dfsadmin to the leader.
  for (const auto& [id, address] : meta.addresses()) {
    Run one = Dfsadmin(dir, {"--meta", address, "status"});
    INFO("via " << address << ":\n" << one.output);
    CHECK(one.exit_code == 0);
  }
  // A dead address first in the list costs nothing.
  const std::string closed = "127.0.0.1:" + std::to_string(testing::FreePort());
  CHECK(Dfsadmin(dir, {"--meta", closed + "," + all, "status"}).exit_code == 0);

  // JSON with the proto's field names.
  Run json = status({"--json"});
  INFO(json.output);
  CHECK(json.exit_code == 0);
  CHECK(json.output.rfind("{", 0) == 0);
  CHECK(Contains(json.output, "\"chunks_total\""));
  CHECK(Contains(json.output, "\"cluster_id\": \"" + chunks.cluster_id() + "\""));
  CHECK(CountLines(json.output, {"\"state\": \"active\""}) == 3);

  // Repair limits: set one, read it back; the others keep their values.
  Run before = Dfsadmin(dir, {"--meta", all, "--json", "repair-limits"});
  INFO(before.output);
  CHECK(before.exit_code == 0);
  Run set = Dfsadmin(dir, {"--meta", all, "repair-limits", "--max-jobs", "8"});
  INFO(set.output);
  CHECK(set.exit_code == 0);
  Run after = Dfsadmin(dir, {"--meta", all, "repair-limits"});
  INFO(after.output);
  CHECK(after.exit_code == 0);
  CHECK(CountLines(after.output, {"max jobs", " 8"}) == 1);
  Run after_json = Dfsadmin(dir, {"--meta", all, "--json", "repair-limits"});
  CHECK(Contains(after_json.output, "\"max_jobs\": 8"));

  // Drain: an unknown node is an error; a known one starts draining (with
  // no chunks to move it may be removed at once).
  Run unknown = Dfsadmin(dir, {"--meta", all, "drain", "999"});
  INFO(unknown.output);
  CHECK(unknown.exit_code == 1);
  CHECK(Contains(unknown.output, "NOT_FOUND"));
  const std::string drained = std::to_string(chunks.node_id(2));
  Run drain = Dfsadmin(dir, {"--meta", all, "drain", drained});
  INFO(drain.output);
  CHECK(drain.exit_code == 0);
  CHECK(Contains(drain.output, "draining"));
  r = status();
  CHECK(r.exit_code == 0);
  CHECK(CountLines(r.output, {chunks.address(2), "draining"}) +
            CountLines(r.output, {chunks.address(2), "removed"}) ==
        1);

  // kill -9 one chunk server: after node_dead_after (2 s) it is dead and
  // the cluster degraded, even with no chunks to repair.
  chunks.Kill(3);
  r = Until(
      status, [](const Run& r) { return r.exit_code == 1; }, 15s);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(CountLines(r.output, {chunks.address(3), "dead"}) == 1);
  CHECK(Contains(r.output, "node " + std::to_string(chunks.node_id(3)) + " dead"));
  Run dead_json = status({"--json"});
  CHECK(dead_json.exit_code == 1);
  CHECK(Contains(dead_json.output, "\"state\": \"dead\""));

  // The leader killed: dfsadmin waits out the election and finds the new one.
  uint64_t old_leader = 0;
  for (const auto& [id, address] : meta.addresses()) {
    if (Contains(r.output, "leader " + std::to_string(id) + " (" + address + ")")) old_leader = id;
  }
  REQUIRE(old_leader != 0);
  meta.Kill(old_leader);
  Run failover = Dfsadmin(dir, {"--meta", all, "--timeout", "15s", "status"});
  INFO(failover.output);
  CHECK(failover.exit_code == 1);
  CHECK_FALSE(Contains(failover.output, "leader " + std::to_string(old_leader) + " ("));
  CHECK(CountLines(failover.output, {meta.addresses().at(old_leader), "unreachable"}) +
            CountLines(failover.output, {meta.addresses().at(old_leader), "follower"}) ==
        1);
}

// The leader's id as `status` names it ("leader 2 (127.0.0.1:...)"), 0 if none.
uint64_t LeaderOf(const Run& status, const std::map<uint64_t, std::string>& members) {
  for (const auto& [id, address] : members) {
    if (Contains(status.output, "leader " + std::to_string(id) + " (" + address + ")")) return id;
  }
  return 0;
}

// `data` as file `name` in directory `parent`, through libdfsclient.
void WriteFile(client::FileSystem& fs, uint64_t parent, const std::string& name,
               const std::string& data) {
  client::Caller root;
  auto h = fs.CreateFile(root, parent, name, 0640, O_WRONLY | O_CREAT | O_EXCL);
  REQUIRE(h.ok());
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    auto n = fs.Write(h->handle, off, std::string_view(data).substr(off, 1 << 20));
    INFO(n.status().ToString());
    REQUIRE(n.ok());
  }
  Status s = fs.Release(h->handle);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

TEST_CASE("dfsadmin nodes, file, repair-rate, health, fsck, backup and meta on a mounted cluster") {
  testing::MountedCluster cluster;  // 3 dfs-meta, 3 chunk servers, 4 MiB chunks
  REQUIRE(cluster.ok());
  const std::string dir = cluster.dir();
  const std::string all = cluster.MetaAddresses();
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--meta", all});
    return Dfsadmin(dir, args);
  };

  SECTION("nodes") {
    Run r = Until(
        [&] { return admin({"nodes"}); },
        [](const Run& r) { return r.exit_code == 0 && CountLines(r.output, {"active"}) == 3; },
        30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(Contains(r.output, "USED%"));
    CHECK_FALSE(Contains(r.output, "META SERVERS"));
    for (int i = 1; i <= 3; i++)
      CHECK(CountLines(r.output, {cluster.chunks().address(i), "active"}) == 1);
    Run json = admin({"--json", "nodes"});
    INFO(json.output);
    CHECK(json.exit_code == 0);
    CHECK(json.output.rfind("{", 0) == 0);
    CHECK(CountLines(json.output, {"\"state\":\"active\""}) == 3);  // one node a line
  }

  SECTION("file: inode, attributes and chunks of a file written through libdfsclient") {
    client::FileSystemOptions o;
    o.meta = cluster.meta().AddressList();
    o.meta_timeout = 30s;
    auto fs = client::FileSystem::Open(o);
    REQUIRE(fs.ok());
    client::Caller root;
    auto photos = (*fs)->Create(root, 1, "photos", pb::FILE_TYPE_DIRECTORY, 0755, true);
    REQUIRE(photos.ok());
    const std::string data(9 << 20, 'x');  // 3 chunks of 4 MiB
    WriteFile(**fs, photos->inode(), "a.jpg", data);
    auto attr = (*fs)->Lookup(root, photos->inode(), "a.jpg");
    REQUIRE(attr.ok());

    Run r = admin({"file", "/photos/a.jpg"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(CountLines(r.output, {"inode", std::to_string(attr->inode())}) == 1);
    CHECK(Contains(r.output, "regular file"));
    CHECK(Contains(r.output, "(9437184 bytes)"));
    CHECK(Contains(r.output, "0640"));
    CHECK(CountLines(r.output, {"data_version"}) == 1);
    // One row per chunk, each naming its three replicas in the chain.
    const auto& chunks = cluster.chunks();
    CHECK(CountLines(r.output, {chunks.address(1), chunks.address(2), chunks.address(3)}) == 3);
    CHECK(CountLines(r.output, {"4194304"}) == 2);  // two full chunks, then 1 MiB
    CHECK(CountLines(r.output, {"1048576"}) == 1);

    Run json = admin({"--json", "file", "//photos/a.jpg/"});
    INFO(json.output);
    CHECK(json.exit_code == 0);
    CHECK(CountLines(json.output, {"\"chunk_id\""}) == 3);
    CHECK(Contains(json.output, "\"path\": \"//photos/a.jpg/\""));

    Run dir_r = admin({"file", "/photos"});
    CHECK(dir_r.exit_code == 0);
    CHECK(Contains(dir_r.output, "directory"));
    Run missing = admin({"file", "/photos/b.jpg"});
    INFO(missing.output);
    CHECK(missing.exit_code == 1);
    CHECK(Contains(missing.output, "NOT_FOUND"));
    CHECK(Contains(missing.output, "/photos/b.jpg"));
    CHECK(admin({"file", "photos/a.jpg"}).exit_code == 1);
    CHECK(admin({"file", "/photos/a.jpg/x"}).exit_code == 1);
  }

  SECTION("repair-rate sets the repair bandwidth") {
    Run r = admin({"repair-rate", "100MiB"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(CountLines(r.output, {"bandwidth", "100 MiB/s"}) == 1);
    Run json = admin({"--json", "repair-limits"});
    CHECK(Contains(json.output, "\"bandwidth\": \"104857600\""));
    r = admin({"repair-rate", "0"});
    CHECK(r.exit_code == 0);
    CHECK(CountLines(r.output, {"bandwidth", "unlimited"}) == 1);
    CHECK(admin({"repair-rate", "fast"}).exit_code == 2);
  }

  SECTION("health of a dfs mount passes; of a directory on another file system it fails") {
    testing::Mount* m = cluster.AddMount();
    REQUIRE(m != nullptr);
    // No --meta needed.
    Run r = Dfsadmin(dir, {"health", "--mount", m->path()});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    for (const char* step :
         {"stat", "create", "write", "fsync", "close", "reopen", "read", "unlink"}) {
      CHECK(CountLines(r.output, {step, " ms", "ok"}) >= 1);
    }
    CHECK(Contains(r.output, "healthy: " + m->path()));
    // The canary is gone.
    int left = 0;
    for (const auto& entry : std::filesystem::directory_iterator(m->path()))
      left += entry.path().filename().string().rfind(".dfs-health-", 0) == 0;
    CHECK(left == 0);
    Run json = Dfsadmin(dir, {"--json", "health", "--mount", m->path()});
    CHECK(json.exit_code == 0);
    CHECK(Contains(json.output, "\"healthy\": true"));

    Run other = Dfsadmin(dir, {"health", "--mount", "/tmp"});
    INFO(other.output);
    CHECK(other.exit_code == 1);
    CHECK(Contains(other.output, "not on a dfs mount"));
    CHECK(Contains(other.output, "step stat failed"));
    CHECK(Dfsadmin(dir, {"health", "--mount", dir + "/no-such-dir"}).exit_code == 1);
    CHECK(Dfsadmin(dir, {"health"}).exit_code == 2);
    REQUIRE(m->Unmount() == 0);
  }

  SECTION("fsck of a healthy cluster finds no problems") {
    Run r = admin({"fsck"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(Contains(r.output, "no problems found"));
    Run json = admin({"--json", "fsck", "/"});
    INFO(json.output);
    CHECK(json.exit_code == 0);
    CHECK(Contains(json.output, "\"problems\": []"));
    CHECK(admin({"fsck", "/no-such-dir"}).exit_code == 2);
  }

  SECTION("backup create then verify; a second create replaces the first, leaving nothing else") {
    const std::string backup = dir + "/backups/meta";
    Run r = admin({"backup", "create", backup});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(Contains(r.output, "backup of cluster " + cluster.chunks().cluster_id()));
    Run v = Dfsadmin(dir, {"--json", "backup", "verify", backup});  // no --meta needed
    INFO(v.output);
    CHECK(v.exit_code == 0);
    pb::BackupManifest manifest;
    {
      std::ifstream in(backup + "/MANIFEST.json");
      std::stringstream text;
      text << in.rdbuf();
      REQUIRE(google::protobuf::util::JsonStringToMessage(text.str(), &manifest).ok());
    }
    CHECK(manifest.applied_index() > 0);
    CHECK(manifest.files_size() > 0);
    CHECK(manifest.cluster_id() == cluster.chunks().cluster_id());

    r = admin({"backup", "create", backup + "/"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/backups"))
      names.push_back(entry.path().filename().string());
    CHECK(names == std::vector<std::string>{"meta"});
    CHECK(Dfsadmin(dir, {"backup", "verify", backup}).exit_code == 0);

    // A damaged file is found.
    const pb::BackupFileInfo& first = manifest.files(0);
    {
      std::ofstream out(backup + "/" + first.path(), std::ios::app);
      out << "x";
    }
    Run bad = Dfsadmin(dir, {"backup", "verify", backup});
    INFO(bad.output);
    CHECK(bad.exit_code == 1);
    CHECK(Contains(bad.output, first.path()));
    CHECK(Dfsadmin(dir, {"backup", "verify", dir + "/backups"}).exit_code == 1);
  }

  SECTION("meta add a fourth dfs-meta, transfer the leadership, remove it") {
    testing::ServerGroup& meta = cluster.meta();
    const std::string joiner = meta.StartJoiner(4);
    Run add = admin({"--timeout", "60s", "meta", "add", "4=" + joiner});
    INFO(add.output);
    REQUIRE(add.exit_code == 0);
    CHECK(Contains(add.output, "meta server 4"));
    Run r = Until(
        [&] { return admin({"status"}); },
        [](const Run& r) { return r.exit_code == 0 && CountLines(r.output, {"follower"}) == 3; },
        30s);
    INFO(r.output);
    CHECK(CountLines(r.output, {joiner}) == 1);
    CHECK(CountLines(r.output, {"follower"}) + CountLines(r.output, {" leader "}) >= 4);

    const uint64_t before = LeaderOf(r, meta.addresses());
    REQUIRE(before != 0);
    const uint64_t next = before == 1 ? 2 : 1;
    Run transfer = admin({"--timeout", "20s", "meta", "transfer-leader", std::to_string(next)});
    INFO(transfer.output);
    CHECK(transfer.exit_code == 0);
    r = Until([&] { return admin({"status"}); },
              [&](const Run& r) { return LeaderOf(r, meta.addresses()) == next; }, 15s);
    INFO(r.output);
    CHECK(LeaderOf(r, meta.addresses()) == next);

    Run remove = admin({"--timeout", "20s", "meta", "remove", "4"});
    INFO(remove.output);
    CHECK(remove.exit_code == 0);
    r = admin({"status"});
    INFO(r.output);
    CHECK(CountLines(r.output, {joiner}) == 0);

    CHECK(admin({"meta", "add", "4"}).exit_code == 2);
    CHECK(admin({"meta", "add", "x=127.0.0.1:1"}).exit_code == 2);
    CHECK(admin({"meta", "frobnicate"}).exit_code == 2);
  }
}

}  // namespace
}  // namespace dfs
