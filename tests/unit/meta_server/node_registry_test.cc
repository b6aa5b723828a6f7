// NodeRegistry: liveness and replica reports as soft state of the leader.
#include "meta/server/node_registry.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dfs::meta {
namespace {

// A catalog with nothing in it: every reported replica is an orphan.
class EmptyCatalog final : public ChunkCatalog {
 public:
  Result<ChunkFate> Fate(uint64_t) const override { return ChunkFate{}; }
  Result<std::vector<uint64_t>> GarbageOn(uint64_t, uint64_t, size_t) const override {
    return std::vector<uint64_t>{};
  }
};

pb::NodeRecord Node(uint64_t id, const std::string& zone = "a") {
  pb::NodeRecord r;
  r.set_node_id(id);
  r.set_address("10.0.0." + std::to_string(id) + ":7000");
  r.set_zone(zone);
  r.set_state("active");
  return r;
}

pb::HeartbeatRequest FullReport(uint64_t node_id, std::vector<uint64_t> chunks,
                                std::vector<uint64_t> corrupt = {}) {
  pb::HeartbeatRequest req;
  req.set_node_id(node_id);
  req.set_full_report(true);
  for (uint64_t id : chunks) {
    pb::ChunkReport* r = req.add_changed();
    r->set_chunk_id(id);
    r->set_version(1);
    r->set_corrupt(std::find(corrupt.begin(), corrupt.end(), id) != corrupt.end());
  }
  return req;
}

ReplicaVerdicts Judge(NodeRegistry& registry, uint64_t node_id) {
  EmptyCatalog catalog;
  Result<ReplicaVerdicts> v = registry.Judge(node_id, catalog);
  REQUIRE(v.ok());
  return std::move(v).value();
}

TEST_CASE("NodeRegistry: a full report is asked for until one arrives", "[registry]") {
  NodeRegistry registry(std::chrono::seconds(60));
  registry.Heartbeat(Node(1), 100, 50, 0);
  registry.TakeReport(pb::HeartbeatRequest());  // node 0: nobody
  CHECK(Judge(registry, 1).send_full_report);   // a node never heard of too
  registry.TakeReport(FullReport(1, {7}));
  ReplicaVerdicts v = Judge(registry, 1);
  CHECK_FALSE(v.send_full_report);
  REQUIRE(v.deletes.size() == 1);
  CHECK(v.deletes[0].chunk_id() == 7);
  CHECK(registry.HasFullReport(1));
}

TEST_CASE("NodeRegistry: a new term or a registration voids reports", "[registry]") {
  NodeRegistry registry(std::chrono::seconds(60));
  registry.LeadTerm(3);
  registry.Heartbeat(Node(1), 100, 50, 0);
  registry.Heartbeat(Node(2), 100, 50, 0);
  registry.TakeReport(FullReport(1, {}));
  registry.TakeReport(FullReport(2, {}));

  // The server restarted and registered again.
  registry.Registered(2);
  CHECK_FALSE(registry.HasFullReport(2));
  CHECK(Judge(registry, 2).send_full_report);
  CHECK(registry.HasFullReport(1));
  CHECK(registry.IsLive(2));  // liveness is not a report

  // The same term again changes nothing; a new one starts from scratch.
  registry.LeadTerm(3);
  CHECK(registry.HasFullReport(1));
  registry.LeadTerm(5);
  CHECK_FALSE(registry.HasFullReport(1));
  CHECK_FALSE(registry.IsLive(1));
  CHECK(registry.LiveCandidates().empty());
  CHECK(Judge(registry, 1).send_full_report);

  registry.TakeReport(FullReport(1, {}));
  registry.Reset();
  CHECK_FALSE(registry.HasFullReport(1));
}

TEST_CASE("NodeRegistry: a garbage replica is forgotten once at a time", "[registry]") {
  NodeRegistry registry(std::chrono::seconds(60));
  CHECK(registry.BeginForgets(1, {4, 5}) == std::vector<uint64_t>{4, 5});
  CHECK(registry.BeginForgets(1, {4, 5, 6}) == std::vector<uint64_t>{6});
  CHECK(registry.BeginForgets(2, {4}) == std::vector<uint64_t>{4});  // another node
  // Proposals in flight survive a change of leader: they still complete.
  registry.Reset();
  CHECK(registry.BeginForgets(1, {5}).empty());
  registry.EndForgets(1, {4, 5});
  CHECK(registry.BeginForgets(1, {4, 5, 6}) == std::vector<uint64_t>{4, 5});
}

TEST_CASE("NodeRegistry: corrupt replicas of every server", "[registry]") {
  NodeRegistry registry(std::chrono::seconds(60));
  registry.TakeReport(FullReport(1, {10, 11}, {11}));
  registry.TakeReport(FullReport(2, {10, 12}, {10, 12}));
  std::vector<CorruptReplica> corrupt = registry.CorruptReplicas();
  REQUIRE(corrupt.size() == 3);
  CHECK(corrupt[0].node_id == 1);
  CHECK(corrupt[0].chunk_id == 11);
  CHECK(corrupt[1].node_id == 2);
  CHECK(corrupt[1].chunk_id == 10);
  CHECK(corrupt[2].chunk_id == 12);
  registry.Registered(2);
  CHECK(registry.CorruptReplicas().size() == 1);
}

}  // namespace
}  // namespace dfs::meta
