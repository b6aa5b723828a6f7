// JudgeChunk: the repair scheduler's verdict on one chunk.
#include <catch2/catch.hpp>

#include <algorithm>

#include "meta/server/repair_plan.h"

namespace dfs::meta {
namespace {

constexpr uint64_t kChunk = 77;
constexpr uint64_t kMiB = 1 << 20;

// Servers 1..n: zone of each, all live and reported, holding nothing yet.
std::map<uint64_t, ServerView> Servers(const std::vector<std::string>& zones) {
  std::map<uint64_t, ServerView> out;
  for (size_t i = 0; i < zones.size(); i++) {
    ServerView& v = out[i + 1];
    v.record.set_node_id(i + 1);
    v.record.set_zone(zones[i]);
    v.record.set_state("active");
    v.live = true;
    v.reported = true;
    v.capacity = v.free = 1000 * kMiB;
  }
  return out;
}

pb::ChunkRecord Record(uint64_t version, std::vector<uint64_t> replicas,
                       std::vector<uint64_t> joining = {}) {
  pb::ChunkRecord r;
  r.set_chunk_id(kChunk);
  r.set_version(version);
  r.mutable_replicas()->Assign(replicas.begin(), replicas.end());
  r.mutable_joining()->Assign(joining.begin(), joining.end());
  return r;
}

void Hold(std::map<uint64_t, ServerView>& servers, uint64_t node, uint64_t version,
          bool corrupt = false) {
  servers[node].held[kChunk] = HeldReplica{version, corrupt};
}

ChunkVerdict Judge(const pb::ChunkRecord& r, const std::map<uint64_t, ServerView>& servers,
                   bool sure = true) {
  std::mt19937_64 rng(1);
  RepairPolicy policy{3, 64 * kMiB};
  return JudgeChunk(
      r, servers, policy, [&](uint64_t) { return sure; }, rng);
}

bool Contains(const std::vector<uint64_t>& v, uint64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST_CASE("repair plan: three current copies on three zones need nothing", "[repair]") {
  auto servers = Servers({"a", "b", "c", "a"});
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 5);
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  CHECK(v.good == 3);
  CHECK(v.step.kind == RepairStep::Kind::kNone);
  CHECK(v.healthy(3));
}

TEST_CASE("repair plan: a dead member leaves, a copy joins on its zone", "[repair]") {
  auto servers = Servers({"a", "b", "c", "c"});
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 5);
  servers[3].live = false;
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  CHECK(v.good == 2);
  CHECK(v.priority() == 2);
  CHECK_FALSE(v.healthy(3));
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.bump);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2, 4});
  CHECK(v.step.joining == std::vector<uint64_t>{4});
  CHECK_FALSE(v.step.zone_degraded);
}

TEST_CASE("repair plan: with a zone gone the copy goes to a surviving zone, zone-degraded",
          "[repair]") {
  auto servers = Servers({"a", "b", "c", "a"});
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 5);
  servers[3].live = false;
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2, 4});
  CHECK(v.step.zone_degraded);

  SECTION("and moves back when the zone returns") {
    servers[3].live = true;
    servers[3].held.clear();
    Hold(servers, 4, 6);
    Hold(servers, 1, 6);
    Hold(servers, 2, 6);
    pb::ChunkRecord degraded = Record(6, {1, 2, 4});
    ChunkVerdict back = Judge(degraded, servers);
    CHECK(back.zone_degraded);
    REQUIRE(back.step.kind == RepairStep::Kind::kChange);
    CHECK(back.step.replicas == std::vector<uint64_t>{1, 2, 4, 3});
    CHECK(back.step.joining == std::vector<uint64_t>{3});

    // Joined: four copies, zone a twice: the later one on a leaves.
    Hold(servers, 3, 7);
    for (uint64_t n : {1, 2, 4})
      Hold(servers, n, 7);
    ChunkVerdict trim = Judge(Record(7, {1, 2, 4, 3}), servers);
    CHECK(trim.over_replicated);
    REQUIRE(trim.step.kind == RepairStep::Kind::kChange);
    CHECK(trim.step.replicas == std::vector<uint64_t>{1, 2, 3});
    CHECK(trim.step.joining.empty());
    CHECK_FALSE(trim.step.zone_degraded);
  }
}

TEST_CASE("repair plan: a corrupt or missing member is replaced", "[repair]") {
  auto servers = Servers({"a", "b", "c", "c"});
  Hold(servers, 1, 5);
  Hold(servers, 2, 5);
  SECTION("corrupt") {
    Hold(servers, 3, 5, /*corrupt=*/true);
  }
  SECTION("missing") {}
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK_FALSE(Contains(v.step.replicas, 3));
  CHECK(v.step.joining == std::vector<uint64_t>{4});
}

TEST_CASE("repair plan: a member short of the chunk only counts once sure", "[repair]") {
  auto servers = Servers({"a", "b", "c"});
  Hold(servers, 1, 5);
  Hold(servers, 2, 5);
  Hold(servers, 3, 4);  // lagging: a version move it missed
  ChunkVerdict doubt = Judge(Record(5, {1, 2, 3}), servers, /*sure=*/false);
  CHECK(doubt.unknown);
  CHECK(doubt.doubtful == std::vector<uint64_t>{3});
  CHECK(doubt.step.kind == RepairStep::Kind::kNone);

  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  CHECK(v.lagging == std::vector<uint64_t>{3});
  REQUIRE(v.step.kind == RepairStep::Kind::kRechain);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2, 3});
  CHECK(v.step.joining.empty());
}

TEST_CASE("repair plan: a joiner left by an interrupted step is finished", "[repair]") {
  auto servers = Servers({"a", "b", "c"});
  Hold(servers, 1, 6);
  Hold(servers, 2, 6);
  ChunkVerdict v = Judge(Record(6, {1, 2, 3}, {3}), servers);
  CHECK(v.good == 2);
  REQUIRE(v.step.kind == RepairStep::Kind::kRechain);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2, 3});
  CHECK(v.step.joining == std::vector<uint64_t>{3});
}

TEST_CASE("repair plan: the head of a new chain always holds the data", "[repair]") {
  auto servers = Servers({"a", "b", "c", "a"});
  Hold(servers, 2, 6);
  servers[1].live = false;
  // 3 joining on c; 1 dead: 2 must lead, the joiner after it.
  ChunkVerdict v = Judge(Record(6, {1, 3, 2}, {3}), servers);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  REQUIRE(!v.step.replicas.empty());
  CHECK(v.step.replicas.front() == 2);
  CHECK(Contains(v.step.joining, 3));
}

TEST_CASE("repair plan: no live holder left is lost, and nothing moves", "[repair]") {
  auto servers = Servers({"a", "b", "c", "a"});
  for (uint64_t n : {1, 2, 3}) {
    Hold(servers, n, 5);
    servers[n].live = false;
  }
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  CHECK(v.lost);
  CHECK(v.step.kind == RepairStep::Kind::kNone);
}

TEST_CASE("repair plan: a live member without a full report defers judgement", "[repair]") {
  auto servers = Servers({"a", "b", "c"});
  servers[2].reported = false;
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  CHECK(v.unknown);
  CHECK(v.step.kind == RepairStep::Kind::kNone);
}

TEST_CASE("repair plan: full or inactive servers are not targets", "[repair]") {
  auto servers = Servers({"a", "b", "c", "c", "c"});
  Hold(servers, 1, 5);
  Hold(servers, 2, 5);
  servers[3].live = false;
  servers[4].free = kMiB;  // no room for a chunk
  servers[5].record.set_state("draining");
  ChunkVerdict v = Judge(Record(5, {1, 2, 3}), servers);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2});  // the dead one leaves anyway
  CHECK(v.step.joining.empty());
}

TEST_CASE("repair plan: copies on a leaving server move, then it leaves", "[repair]") {
  auto servers = Servers({"a", "b", "c", "c", "a"});
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 5);
  servers[3].record.set_state("draining");
  std::mt19937_64 rng(1);
  RepairPolicy policy{3, 64 * kMiB};
  policy.leaving = {3};
  auto sure = [](uint64_t) { return true; };
  ChunkVerdict v = JudgeChunk(Record(5, {1, 2, 3}), servers, policy, sure, rng);
  CHECK(v.good == 3);  // still three copies, still readable
  CHECK_FALSE(v.healthy(3));
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 2, 3, 4});  // 4: the other server on c
  CHECK(v.step.joining == std::vector<uint64_t>{4});

  Hold(servers, 4, 6);
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 6);
  ChunkVerdict leave = JudgeChunk(Record(6, {1, 2, 3, 4}), servers, policy, sure, rng);
  REQUIRE(leave.step.kind == RepairStep::Kind::kChange);
  CHECK(leave.step.replicas == std::vector<uint64_t>{1, 2, 4});
}

TEST_CASE("repair plan: a rebalance move keeps zone spread or does not happen", "[repair]") {
  auto servers = Servers({"a", "b", "c", "b"});
  for (uint64_t n : {1, 2, 3})
    Hold(servers, n, 5);
  std::mt19937_64 rng(1);
  RepairPolicy policy{3, 64 * kMiB};
  policy.keep_zones = true;
  auto sure = [](uint64_t) { return true; };
  policy.leaving = {1};  // zone a: no other server there
  CHECK(JudgeChunk(Record(5, {1, 2, 3}), servers, policy, sure, rng).step.kind ==
        RepairStep::Kind::kNone);
  policy.leaving = {2};  // zone b: server 4 takes it
  ChunkVerdict v = JudgeChunk(Record(5, {1, 2, 3}), servers, policy, sure, rng);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.joining == std::vector<uint64_t>{4});
  policy.no_target = {4};  // too full itself
  CHECK(JudgeChunk(Record(5, {1, 2, 3}), servers, policy, sure, rng).step.kind ==
        RepairStep::Kind::kNone);
}

TEST_CASE("repair plan: of two copies on one zone the fuller server's goes", "[repair]") {
  auto servers = Servers({"a", "b", "c", "b"});
  for (uint64_t n : {1, 2, 3, 4})
    Hold(servers, n, 5);
  servers[2].free = 100 * kMiB;  // 90% used
  ChunkVerdict v = Judge(Record(5, {1, 2, 3, 4}), servers);
  REQUIRE(v.step.kind == RepairStep::Kind::kChange);
  CHECK(v.step.replicas == std::vector<uint64_t>{1, 3, 4});
}

}  // namespace
}  // namespace dfs::meta
