// Integration: three real dfs-meta processes on loopback. A client keeps
// mutating while the leader is killed with -9: every acknowledged mutation
// is there afterwards, nothing is applied twice, and the killed server
// restarts and catches up.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "client/meta_client.h"
#include "tests/support/meta_leader.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class MetaCluster {
 public:
  explicit MetaCluster(int n, std::vector<std::string> extra = {})
      : group_("dfs-meta", n, WithDefaults(std::move(extra))) {}

  static std::vector<std::string> WithDefaults(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--raft-snapshot-entries", "200"});
    return extra;
  }

  void Start(uint64_t id) { REQUIRE(group_.Start(id)); }
  void Kill(uint64_t id) { group_.Kill(id); }

  client::MetaClientOptions ClientOptions() const {
    client::MetaClientOptions o;
    o.servers = group_.AddressList();
    o.timeout = 30s;
    o.rpc_timeout = 2s;
    return o;
  }
  uint64_t Leader() const { return testing::MetaLeader(group_); }

 private:
  testing::ServerGroup group_;
};

constexpr uint64_t kRoot = 1;

TEST_CASE("mutations survive kill -9 of the leader, exactly once") {
  MetaCluster cluster(3);
  client::MetaClient client(cluster.ClientOptions());
  // The first leader formats the cluster: the root directory appears.
  REQUIRE(client.GetAttr(kRoot).ok());
  auto dir = client.Create(kRoot, "uploads", pb::FILE_TYPE_DIRECTORY, 0755, true);
  REQUIRE(dir.ok());
  uint64_t uploads = dir->inode();

  // A writer creates files, links and renames continuously; each of these
  // fails visibly (EEXIST / ENOENT) if a retried command were applied twice.
  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::vector<std::string> failures;  // the writer's; read after join
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    client::MetaClient w(cluster.ClientOptions());
    for (int i = 0; !stop; i++) {
      std::string name = "f" + std::to_string(i);
      auto f = w.Create(uploads, name, pb::FILE_TYPE_REGULAR, 0644, /*exclusive=*/true);
      if (!f.ok()) {
        failures.push_back("create " + name + ": " + f.status().ToString());
        failed = true;
        break;
      }
      auto l = w.Link(f->inode(), uploads, name + ".link");
      if (!l.ok()) {
        failures.push_back("link " + name + ": " + l.status().ToString());
        failed = true;
        break;
      }
      Status r = w.Rename(uploads, name + ".link", uploads, name + ".moved");
      if (!r.ok()) {
        failures.push_back("rename " + name + ": " + r.ToString());
        failed = true;
        break;
      }
      created = i + 1;
    }
  });

  auto started = std::chrono::steady_clock::now();
  while (created < 30 && !failed && std::chrono::steady_clock::now() - started < 30s) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(created >= 30);
  uint64_t leader = cluster.Leader();
  REQUIRE(leader != 0);
  cluster.Kill(leader);
  int at_kill = created;
  auto killed_at = std::chrono::steady_clock::now();
  while (created < at_kill + 30 && !failed && std::chrono::steady_clock::now() - killed_at < 30s) {
    std::this_thread::sleep_for(10ms);
  }
  WARN("writes resumed; " << (created - at_kill) << " more files after kill -9 of leader "
                          << leader);
  // The killed server comes back and catches up while writes go on.
  cluster.Start(leader);
  std::this_thread::sleep_for(2s);
  stop = true;
  writer.join();
  REQUIRE(failures.empty());
  int total = created;
  REQUIRE(total > at_kill + 30);

  // Every acknowledged mutation is there, once.
  for (int i = 0; i < total; i++) {
    std::string name = "f" + std::to_string(i);
    auto f = client.Lookup(uploads, name);
    REQUIRE(f.ok());
    CHECK(f->nlink() == 2);
    auto moved = client.Lookup(uploads, name + ".moved");
    REQUIRE(moved.ok());
    CHECK(moved->inode() == f->inode());
    CHECK(client.Lookup(uploads, name + ".link").status().code() == ErrorCode::NOT_FOUND);
  }

  // Catch-up: with the restarted server and one other, the group still has a
  // majority, so the restarted one must hold the whole log.
  uint64_t now_leader = cluster.Leader();
  uint64_t victim = 0;
  for (uint64_t id = 1; id <= 3 && victim == 0; id++) {
    if (id != leader && id != now_leader) victim = id;
  }
  cluster.Kill(victim);
  auto after = client.Create(uploads, "after-catch-up", pb::FILE_TYPE_REGULAR, 0644, true);
  REQUIRE(after.ok());
  for (int i = 0; i < total; i += 7) {
    REQUIRE(client.Lookup(uploads, "f" + std::to_string(i)).ok());
  }
}

TEST_CASE("a request for another cluster is refused") {
  MetaCluster cluster(3);
  client::MetaClient client(cluster.ClientOptions());
  REQUIRE(client.GetAttr(kRoot).ok());
  auto opts = cluster.ClientOptions();
  opts.cluster_id = "00000000-0000-4000-8000-000000000000";
  opts.timeout = 2s;
  client::MetaClient stranger(opts);
  auto r = stranger.GetAttr(kRoot);
  CHECK(r.status().code() == ErrorCode::CLUSTER_MISMATCH);
}

TEST_CASE("a client idle past the session TTL carries on in a new session") {
  MetaCluster cluster(3, {"--session-ttl", "1s"});
  client::MetaClient client(cluster.ClientOptions());
  REQUIRE(client.Create(kRoot, "before", pb::FILE_TYPE_REGULAR, 0644, true).ok());
  const uint64_t first_session = client.session_id();
  // The leader forgets the session within a TTL and a check period.
  std::this_thread::sleep_for(2500ms);
  auto after = client.Create(kRoot, "after", pb::FILE_TYPE_REGULAR, 0644, true);
  INFO(after.status().ToString());
  REQUIRE(after.ok());
  CHECK(client.session_id() != first_session);
  CHECK(client.Lookup(kRoot, "after").ok());
}

}  // namespace
}  // namespace dfs
