// Integration: /metrics and /healthz of every daemon (common/http_status.h)
// on a real cluster with a FUSE mount. The figures follow what happens
// (a write shows in the mount's and the chunk servers' counters, the
// leader alone reports chunk health), /healthz is a self-test that fails
// when its check fails (a meta server cut off from its quorum), and
// nothing can be changed over HTTP.
#define CATCH_CONFIG_MAIN
#include <httplib.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;

// The HTTP port a daemon logged into `log` ("... on http port N"); 0 if
// it did not within 20 s.
int LoggedPort(const std::string& log) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  const std::regex line("serving /metrics and /healthz on http port ([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    std::smatch m;
    if (std::regex_search(s, m, line)) return std::stoi(m[1]);
    std::this_thread::sleep_for(100ms);
  }
  return 0;
}

struct Answer {
  int status = 0;
  std::string body;
};

Answer Get(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(5, 0);
  auto res = http.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

// The value of an unlabelled or labelled sample, -1 if absent.
double Sample(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

TEST_CASE("every daemon serves /metrics and a real /healthz, and takes no mutation") {
  testing::MountedClusterOptions o;
  o.meta_args = {"--http", "127.0.0.1:0", "--node-dead-after", "2s"};
  o.chunk_args = {"--http", "127.0.0.1:0", "--heartbeat-interval", "500ms"};
  testing::MountedCluster cluster(o);
  testing::Mount* mount = cluster.AddMount({"allow_other", "http=127.0.0.1:0"});
  REQUIRE(mount != nullptr);

  std::map<uint64_t, int> meta_port;
  for (uint64_t id = 1; id <= 3; id++) {
    meta_port[id] = LoggedPort(cluster.dir() + "/dfs-meta" + std::to_string(id) + ".log");
    REQUIRE(meta_port[id] > 0);
  }
  const int chunk_port = LoggedPort(cluster.chunks().data_dir(1) + ".log");
  REQUIRE(chunk_port > 0);
  const int mount_port = LoggedPort(mount->log_path());
  REQUIRE(mount_port > 0);

  // Some traffic: a file written and read back through the kernel.
  {
    std::ofstream f(mount->path() + "/hello.txt");
    f << std::string(3 << 20, 'x');
  }
  {
    std::ifstream f(mount->path() + "/hello.txt");
    std::string back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE(back.size() == (3u << 20));
  }

  // Exactly one leader; only it reports chunk health, once it has swept.
  const uint64_t leader = testing::MetaLeader(cluster.meta());
  REQUIRE(leader != 0);
  int leaders = 0;
  for (const auto& [id, port] : meta_port) {
    Answer a = Get(port, "/metrics");
    REQUIRE(a.status == 200);
    leaders += Sample(a.body, "dfs_raft_is_leader") == 1;
    CHECK(Sample(a.body, "dfs_raft_term") >= 1);
    if (id == leader) {
      CHECK(Sample(a.body, "dfs_meta_requests_total{kind=\"mutation\"}") > 0);
      CHECK(Sample(a.body, "dfs_chunkservers_dead") == 0);
    } else {
      CHECK(Sample(a.body, "dfs_chunks_total") == -1);
    }
    CHECK(Get(port, "/healthz").status == 200);
  }
  CHECK(leaders == 1);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  double total = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string m = Get(meta_port[leader], "/metrics").body;
    total = Sample(m, "dfs_chunks_total");
    if (total > 0 && Sample(m, "dfs_chunks_healthy") == total) break;
    std::this_thread::sleep_for(250ms);
  }
  CHECK(total == 1);  // 3 MiB in 4 MiB chunks

  Answer chunk = Get(chunk_port, "/metrics");
  REQUIRE(chunk.status == 200);
  CHECK(Sample(chunk.body, "dfs_replicas") == 1);
  CHECK(Sample(chunk.body, "dfs_chunk_bytes_total{op=\"write\"}") >= (3 << 20));
  CHECK(Sample(chunk.body, "dfs_meta_connected") == 1);
  CHECK(Sample(chunk.body, "dfs_disk_used_ratio") >= 0);
  CHECK(Get(chunk_port, "/healthz").status == 200);

  Answer m = Get(mount_port, "/metrics");
  REQUIRE(m.status == 200);
  CHECK(Sample(m.body, "dfs_mount_chunk_writes_total") >= 1);
  CHECK(Get(mount_port, "/healthz").status == 200);

  // No mutation, no data: other methods and paths are refused.
  {
    httplib::Client http("127.0.0.1", meta_port[leader]);
    auto post = http.Post("/metrics", "x", "text/plain");
    REQUIRE(post);
    CHECK(post->status >= 400);
    auto other = http.Get("/hello.txt");
    REQUIRE(other);
    CHECK(other->status == 404);
  }

  // A meta server cut off from its quorum is not healthy.
  uint64_t follower = leader == 1 ? 2 : 1;
  for (uint64_t id = 1; id <= 3; id++)
    if (id != follower) cluster.meta().Kill(id);
  deadline = std::chrono::steady_clock::now() + 20s;
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() < deadline) {
    status = Get(meta_port[follower], "/healthz").status;
    std::this_thread::sleep_for(250ms);
  }
  CHECK(status == 503);
}

}  // namespace
}  // namespace dfs
