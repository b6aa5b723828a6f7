// Integration: three raft-kv-server processes on loopback. kill -9 the
// leader and the others keep committing; the killed node comes back and
// catches up by log, and by snapshot once the log was compacted.
#define CATCH_CONFIG_MAIN
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/raftkv/kv_client.h"
#include "tests/support/server_group.h"

namespace dfs::raftkv {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class KvCluster {
 public:
  KvCluster(int n, uint64_t snapshot_entries)
      : group_("raft-kv-server", n, {"--snapshot-entries", std::to_string(snapshot_entries)}) {
    client_ = std::make_unique<KvClient>(group_.addresses());
  }

  void Start(uint64_t id) { REQUIRE(group_.Start(id)); }
  void Kill(uint64_t id) { group_.Kill(id); }
  // Starts a new, empty server that is not a member yet; returns its address.
  std::string StartJoiner(uint64_t id) {
    std::string address = group_.StartJoiner(id);
    client_->AddServer(id, address);
    return address;
  }

  // The node every live server agrees leads, waiting up to `timeout`.
  uint64_t WaitForLeader(std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      for (const auto& [id, address] : group_.addresses()) {
        if (!group_.running(id)) continue;
        auto st = client_->NodeStatus(id);
        if (st.ok() && st->role() == "leader") return id;
      }
      std::this_thread::sleep_for(20ms);
    }
    return 0;
  }

  // Waits until node `id` has applied at least `index`.
  bool WaitApplied(uint64_t id, uint64_t index, std::chrono::milliseconds timeout = 20s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto st = client_->NodeStatus(id);
      if (st.ok() && st->applied() >= index) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  KvClient& client() { return *client_; }

 private:
  testing::ServerGroup group_;
  std::unique_ptr<KvClient> client_;
};

void PutRange(KvClient& client, int from, int to) {
  for (int i = from; i < to; i++) {
    Status s = client.Put("key" + std::to_string(i), "value" + std::to_string(i));
    REQUIRE(s.ok());
  }
}

void CheckRange(KvClient& client, int from, int to) {
  for (int i = from; i < to; i++) {
    auto v = client.Get("key" + std::to_string(i));
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    REQUIRE(**v == "value" + std::to_string(i));
  }
}

TEST_CASE("leader killed with -9: the others elect a leader and keep committing") {
  KvCluster cluster(3, 100000);
  uint64_t leader = cluster.WaitForLeader();
  REQUIRE(leader != 0);
  PutRange(cluster.client(), 0, 50);

  cluster.Kill(leader);
  auto killed_at = std::chrono::steady_clock::now();
  // The first write after the crash: measures failover end to end.
  REQUIRE(cluster.client().Put("after-crash", "1").ok());
  auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  WARN("first write committed " << failover.count() << " ms after kill -9 of the leader");
  uint64_t new_leader = cluster.WaitForLeader();
  REQUIRE(new_leader != 0);
  REQUIRE(new_leader != leader);
  PutRange(cluster.client(), 50, 100);
  CheckRange(cluster.client(), 0, 100);

  // The old leader comes back and catches up from the log.
  cluster.Start(leader);
  auto leader_status = cluster.client().NodeStatus(new_leader);
  REQUIRE(leader_status.ok());
  REQUIRE(cluster.WaitApplied(leader, leader_status->commit()));
  auto st = cluster.client().NodeStatus(leader);
  REQUIRE(st.ok());
  CHECK(st->snapshots_installed() == 0);
  CHECK(st->role() == "follower");
}

TEST_CASE("a node that missed compacted entries catches up by snapshot") {
  KvCluster cluster(3, 50);
  uint64_t leader = cluster.WaitForLeader();
  REQUIRE(leader != 0);
  uint64_t follower = leader == 1 ? 2 : 1;
  PutRange(cluster.client(), 0, 20);
  cluster.Kill(follower);
  // Enough entries that the survivors snapshot and drop what it needs.
  PutRange(cluster.client(), 20, 300);
  auto leader_status = cluster.client().NodeStatus(cluster.WaitForLeader());
  REQUIRE(leader_status.ok());
  REQUIRE(leader_status->first_index() > 30);

  cluster.Start(follower);
  REQUIRE(cluster.WaitApplied(follower, leader_status->commit()));
  auto st = cluster.client().NodeStatus(follower);
  REQUIRE(st.ok());
  CHECK(st->snapshots_installed() >= 1);

  // Make the restored node the leader: every write must be there.
  REQUIRE(cluster.client().Member("transfer", follower, "").ok());
  auto end = std::chrono::steady_clock::now() + 10s;
  while (cluster.WaitForLeader() != follower && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(cluster.WaitForLeader() == follower);
  CheckRange(cluster.client(), 0, 300);
}

TEST_CASE("membership: a learner joins, catches up, is promoted; a member is removed") {
  KvCluster cluster(3, 100000);
  uint64_t leader = cluster.WaitForLeader();
  REQUIRE(leader != 0);
  PutRange(cluster.client(), 0, 100);
  // Adding a voter that was never a learner is refused.
  REQUIRE(cluster.client().Member("promote", 4, "").code() == ErrorCode::INVALID_ARGUMENT);

  std::string address = cluster.StartJoiner(4);
  REQUIRE(cluster.client().Member("add-learner", 4, address).ok());
  auto leader_status = cluster.client().NodeStatus(cluster.WaitForLeader());
  REQUIRE(leader_status.ok());
  REQUIRE(cluster.WaitApplied(4, leader_status->commit()));
  auto st = cluster.client().NodeStatus(4);
  REQUIRE(st.ok());
  CHECK(st->learners_size() == 1);
  REQUIRE(cluster.client().Member("promote", 4, "").ok());

  // With four voters, remove one founder: three remain and keep committing.
  uint64_t victim = cluster.WaitForLeader() == 1 ? 2 : 1;
  REQUIRE(cluster.client().Member("remove", victim, "").ok());
  cluster.Kill(victim);
  PutRange(cluster.client(), 100, 150);
  auto after = cluster.client().NodeStatus(cluster.WaitForLeader());
  REQUIRE(after.ok());
  std::vector<uint64_t> voters(after->voters().begin(), after->voters().end());
  CHECK(voters.size() == 3);
  CHECK(std::find(voters.begin(), voters.end(), 4) != voters.end());
  CHECK(std::find(voters.begin(), voters.end(), victim) == voters.end());
  CheckRange(cluster.client(), 0, 150);
}

}  // namespace
}  // namespace dfs::raftkv
