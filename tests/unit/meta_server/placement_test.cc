#include "meta/server/placement.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

namespace dfs::meta {
namespace {

constexpr uint64_t kChunk = 64 << 20;
constexpr uint64_t kGiB = 1ull << 30;

std::vector<PlacementCandidate> ThreeZones() {
  return {{1, "a", 10 * kGiB, 0}, {2, "a", 10 * kGiB, 0}, {3, "b", 10 * kGiB, 0},
          {4, "b", 10 * kGiB, 0}, {5, "c", 10 * kGiB, 0}, {6, "c", 10 * kGiB, 0}};
}

std::string ZoneOf(const std::vector<PlacementCandidate>& c, uint64_t id) {
  for (const auto& x : c) {
    if (x.node_id == id) return x.zone;
  }
  return "";
}

TEST_CASE("Placement: three replicas land on three distinct zones", "[placement]") {
  std::mt19937_64 rng(1);
  auto candidates = ThreeZones();
  for (int i = 0; i < 200; i++) {
    auto p = PlaceChunk(candidates, 3, kChunk, rng);
    REQUIRE(p.ok());
    REQUIRE(p->replicas.size() == 3);
    std::set<std::string> zones;
    for (uint64_t id : p->replicas)
      zones.insert(ZoneOf(candidates, id));
    CHECK(zones.size() == 3);
    CHECK_FALSE(p->zone_degraded);
  }
}

TEST_CASE("Placement: fewer zones than replicas spreads and marks zone-degraded", "[placement]") {
  std::mt19937_64 rng(2);
  std::vector<PlacementCandidate> two = {{1, "a", kGiB, 0}, {2, "a", kGiB, 0}, {3, "b", kGiB, 0}};
  auto p = PlaceChunk(two, 3, kChunk, rng);
  REQUIRE(p.ok());
  CHECK(p->replicas.size() == 3);
  std::set<uint64_t> distinct(p->replicas.begin(), p->replicas.end());
  CHECK(distinct.size() == 3);
  CHECK(p->zone_degraded);
}

TEST_CASE("Placement: servers without room for a chunk are skipped", "[placement]") {
  std::mt19937_64 rng(3);
  std::vector<PlacementCandidate> c = {{1, "a", kChunk - 1, 0}, {2, "b", kGiB, 0}};
  auto p = PlaceChunk(c, 3, kChunk, rng);
  REQUIRE(p.ok());
  CHECK(p->replicas == std::vector<uint64_t>{2});
  std::vector<PlacementCandidate> full = {{1, "a", 0, 0}};
  CHECK(PlaceChunk(full, 3, kChunk, rng).status().code() == ErrorCode::NO_SPACE);
  CHECK(PlaceChunk({}, 3, kChunk, rng).status().code() == ErrorCode::NO_SPACE);
}

TEST_CASE("Placement: more free space and less load draw more chunks", "[placement]") {
  std::mt19937_64 rng(4);
  std::vector<PlacementCandidate> c = {
      {1, "a", 9 * kGiB, 0}, {2, "a", 1 * kGiB, 0}, {3, "b", 5 * kGiB, 0}, {4, "b", 5 * kGiB, 9}};
  std::map<uint64_t, int> picks;
  for (int i = 0; i < 2000; i++) {
    auto p = PlaceChunk(c, 1, kChunk, rng);
    REQUIRE(p.ok());
    picks[p->replicas[0]]++;
  }
  CHECK(picks[1] > 4 * picks[2]);  // 9 GiB vs 1 GiB free
  CHECK(picks[3] > 4 * picks[4]);  // same space, load 0 vs 9
}

TEST_CASE("Placement: an unsettled leader waits for silent servers only when they matter",
          "[placement]") {
  std::mt19937_64 rng(5);
  auto place = [&](const std::vector<PlacementCandidate>& live) {
    auto p = PlaceChunk(live, 3, kChunk, rng);
    REQUIRE(p.ok());
    return *p;
  };
  // A new leader heard from one server of three zones (chaos run 17: every
  // chunk placed then lived on one copy, and failed to read with its zone).
  std::vector<PlacementCandidate> one = {{2, "z2", kGiB, 0}};
  std::vector<PlacementCandidate> z1_z3 = {{1, "z1", 0, 0}, {3, "z3", 0, 0}};
  CHECK(PlacementWaitsForSilent(place(one), one, z1_z3, 3));
  // Nobody silent: as wide as the cluster allows (a one-server cluster).
  CHECK_FALSE(PlacementWaitsForSilent(place(one), one, {}, 3));
  // One copy is all that is wanted.
  CHECK_FALSE(PlacementWaitsForSilent(Placement{{2}, false}, one, z1_z3, 1));
  // One zone, one server heard: a second copy is possible.
  std::vector<PlacementCandidate> a = {{1, "a", kGiB, 0}};
  CHECK(PlacementWaitsForSilent(place(a), a, {{2, "a", 0, 0}}, 3));
  // Two copies there: the silent server adds no zone.
  std::vector<PlacementCandidate> aa = {{1, "a", kGiB, 0}, {2, "a", kGiB, 0}};
  CHECK_FALSE(PlacementWaitsForSilent(place(aa), aa, {{3, "a", 0, 0}}, 3));

  // A zone down along with the leader: two zones of three is as good as
  // the failure model allows; new chunks do not stall.
  std::vector<PlacementCandidate> two_zones = {{1, "z1", kGiB, 0}, {2, "z2", kGiB, 0}};
  CHECK_FALSE(PlacementWaitsForSilent(place(two_zones), two_zones, {{3, "z3", 0, 0}}, 3));
  // Two copies on one zone while two zones are silent: wait.
  std::vector<PlacementCandidate> z1_only = {{1, "z1", kGiB, 0}, {4, "z1", kGiB, 0}};
  CHECK(PlacementWaitsForSilent(place(z1_only), z1_only, {{2, "z2", 0, 0}, {3, "z3", 0, 0}}, 3));

  // A full placement: silent servers change nothing.
  CHECK_FALSE(PlacementWaitsForSilent(place(ThreeZones()), ThreeZones(), {{7, "d", 0, 0}}, 3));
}

}  // namespace
}  // namespace dfs::meta
