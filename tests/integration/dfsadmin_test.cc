// Integration: dfsadmin (tools/README.md) as an operator runs it, a real
// process against real dfs-meta and dfs-chunkserver processes. `status`
// finds the leader from any one server, lists the members and chunk
// servers, reports JSON, and says in its exit code whether the cluster is
// healthy (0), degraded (1, here: a chunk server killed) or unreachable
// (2), also across a leader change; `repair-limits` changes the leader's
// repair limits; `drain` starts draining a chunk server.
#define CATCH_CONFIG_MAIN
#include <signal.h>
#include <sys/wait.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/chunk_servers.h"
#include "tests/support/process.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;

// One run of dfsadmin: its exit code and its stdout and stderr together.
struct Run {
  int exit_code = -1;
  std::string output;
};

Run Dfsadmin(const std::string& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  const std::string log = dir + "/dfsadmin" + std::to_string(++runs) + ".out";
  std::vector<std::string> argv = {testing::BinDir() + "/dfsadmin"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = testing::Spawn(argv, log, SIGKILL);
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  Run run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::ostringstream text;
  text << in.rdbuf();
  run.output = text.str();
  return run;
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

}  // namespace
}  // namespace dfs
