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
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http.h"
#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;

TEST_CASE("every daemon serves /metrics and a real /healthz, and takes no mutation") {
  testing::MountedClusterOptions o;
  o.meta_args = {"--http", "127.0.0.1:0", "--node-dead-after", "2s"};
  o.chunk_args = {"--http", "127.0.0.1:0", "--heartbeat-interval", "500ms"};
  testing::MountedCluster cluster(o);
  testing::Mount* mount = cluster.AddMount({"allow_other", "http=127.0.0.1:0"});
  REQUIRE(mount != nullptr);

  std::map<uint64_t, int> meta_port;
  for (uint64_t id = 1; id <= 3; id++) {
    meta_port[id] =
        testing::LoggedHttpPort(cluster.dir() + "/dfs-meta" + std::to_string(id) + ".log");
    REQUIRE(meta_port[id] > 0);
  }
  const int chunk_port = testing::LoggedHttpPort(cluster.chunks().data_dir(1) + ".log");
  REQUIRE(chunk_port > 0);
  const int mount_port = testing::LoggedHttpPort(mount->log_path());
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
    testing::HttpAnswer a = testing::HttpGet(port, "/metrics");
    REQUIRE(a.status == 200);
    leaders += testing::MetricSample(a.body, "dfs_raft_is_leader") == 1;
    CHECK(testing::MetricSample(a.body, "dfs_raft_term") >= 1);
    if (id == leader) {
      CHECK(testing::MetricSample(a.body, "dfs_meta_requests_total{kind=\"mutation\"}") > 0);
      CHECK(testing::MetricSample(a.body, "dfs_chunkservers_dead") == 0);
    } else {
      CHECK(testing::MetricSample(a.body, "dfs_chunks_total") == -1);
    }
    CHECK(testing::HttpGet(port, "/healthz").status == 200);
  }
  CHECK(leaders == 1);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  double total = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string m = testing::HttpGet(meta_port[leader], "/metrics").body;
    total = testing::MetricSample(m, "dfs_chunks_total");
    if (total > 0 && testing::MetricSample(m, "dfs_chunks_healthy") == total) break;
    std::this_thread::sleep_for(250ms);
  }
  CHECK(total == 1);  // 3 MiB in 4 MiB chunks

  testing::HttpAnswer chunk = testing::HttpGet(chunk_port, "/metrics");
  REQUIRE(chunk.status == 200);
  CHECK(testing::MetricSample(chunk.body, "dfs_replicas") == 1);
  CHECK(testing::MetricSample(chunk.body, "dfs_chunk_bytes_total{op=\"write\"}") >= (3 << 20));
  CHECK(testing::MetricSample(chunk.body, "dfs_meta_connected") == 1);
  CHECK(testing::MetricSample(chunk.body, "dfs_disk_used_ratio") >= 0);
  CHECK(testing::HttpGet(chunk_port, "/healthz").status == 200);

  testing::HttpAnswer m = testing::HttpGet(mount_port, "/metrics");
  REQUIRE(m.status == 200);
  CHECK(testing::MetricSample(m.body, "dfs_mount_chunk_writes_total") >= 1);
  CHECK(testing::HttpGet(mount_port, "/healthz").status == 200);

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
    status = testing::HttpGet(meta_port[follower], "/healthz").status;
    std::this_thread::sleep_for(250ms);
  }
  CHECK(status == 503);
}

}  // namespace
}  // namespace dfs
