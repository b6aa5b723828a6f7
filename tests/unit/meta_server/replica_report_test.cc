// ReplicaReport: the leader's verdicts on a chunk server's replica report,
// against a catalog in memory.
#include "meta/server/replica_report.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace dfs::meta {
namespace {

constexpr uint64_t kNode = 5;

pb::ChunkRecord Record(uint64_t chunk_id, uint64_t version, std::vector<uint64_t> replicas) {
  pb::ChunkRecord r;
  r.set_chunk_id(chunk_id);
  r.set_version(version);
  for (uint64_t n : replicas)
    r.add_replicas(n);
  return r;
}

// The replicated state: live chunks and garbage, by id.
class FakeCatalog final : public ChunkCatalog {
 public:
  std::map<uint64_t, pb::ChunkRecord> live;
  std::map<uint64_t, pb::ChunkRecord> garbage;
  mutable size_t fate_reads = 0;

  void Live(uint64_t id, uint64_t version, std::vector<uint64_t> replicas) {
    live[id] = Record(id, version, std::move(replicas));
  }
  void Garbage(uint64_t id, uint64_t version, std::vector<uint64_t> replicas) {
    live.erase(id);
    garbage[id] = Record(id, version, std::move(replicas));
  }

  Result<ChunkFate> Fate(uint64_t chunk_id) const override {
    fate_reads++;
    ChunkFate fate;
    if (auto it = live.find(chunk_id); it != live.end()) {
      fate.kind = ChunkFate::Kind::kLive;
      fate.record = it->second;
    } else if (auto g = garbage.find(chunk_id); g != garbage.end()) {
      fate.kind = ChunkFate::Kind::kGarbage;
      fate.record = g->second;
    }
    return fate;
  }
  Result<std::vector<uint64_t>> GarbageOn(uint64_t node_id, uint64_t after,
                                          size_t max) const override {
    std::vector<uint64_t> out;
    for (auto it = garbage.upper_bound(after); it != garbage.end() && out.size() < max; ++it) {
      const auto& replicas = it->second.replicas();
      if (std::find(replicas.begin(), replicas.end(), node_id) != replicas.end()) {
        out.push_back(it->first);
      }
    }
    return out;
  }
};

struct Replica {
  uint64_t chunk_id;
  uint64_t version;
  bool corrupt = false;
};

pb::HeartbeatRequest Full(const std::vector<Replica>& replicas) {
  pb::HeartbeatRequest req;
  req.set_node_id(kNode);
  req.set_full_report(true);
  for (const Replica& r : replicas) {
    pb::ChunkReport* c = req.add_changed();
    c->set_chunk_id(r.chunk_id);
    c->set_version(r.version);
    c->set_corrupt(r.corrupt);
  }
  return req;
}

// An incremental report: `added` (or updated) and `deleted` replicas.
pb::HeartbeatRequest Changes(const std::vector<Replica>& added,
                             const std::vector<uint64_t>& deleted = {}) {
  pb::HeartbeatRequest req;
  req.set_node_id(kNode);
  for (const Replica& r : added) {
    pb::ChunkReport* c = req.add_changed();
    c->set_chunk_id(r.chunk_id);
    c->set_version(r.version);
    c->set_corrupt(r.corrupt);
  }
  for (uint64_t id : deleted) {
    pb::ChunkReport* c = req.add_changed();
    c->set_chunk_id(id);
    c->set_deleted(true);
  }
  return req;
}

// Deletes as chunk id -> version.
std::map<uint64_t, uint64_t> Deletes(const ReplicaVerdicts& v) {
  std::map<uint64_t, uint64_t> out;
  for (const pb::ChunkReport& d : v.deletes) {
    CHECK(out.emplace(d.chunk_id(), d.version()).second);  // one delete per chunk
  }
  return out;
}

std::set<uint64_t> Forgets(const ReplicaVerdicts& v) {
  return std::set<uint64_t>(v.forgets.begin(), v.forgets.end());
}

ReplicaVerdicts Judge(ReplicaReport& report, const FakeCatalog& catalog) {
  Result<ReplicaVerdicts> v = report.Judge(catalog);
  REQUIRE(v.ok());
  return std::move(v).value();
}

TEST_CASE("ReplicaReport: without a full report nothing is deleted and one is asked for",
          "[replica_report]") {
  FakeCatalog catalog;
  catalog.Garbage(1, 1, {kNode});
  ReplicaReport report(kNode);
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(v.send_full_report);
  CHECK(v.deletes.empty());
  CHECK(v.forgets.empty());  // not holding 1 is not known

  // An incremental report is not kept: an orphan in it is not judged.
  report.Apply(Changes({{77, 1}}));
  v = Judge(report, catalog);
  CHECK(v.send_full_report);
  CHECK(v.deletes.empty());
  CHECK_FALSE(report.complete());
  CHECK_FALSE(report.Held(77));

  // Its deletions still count: a listed garbage replica deleted is drained.
  report.Apply(Changes({}, {1}));
  v = Judge(report, catalog);
  CHECK(v.send_full_report);
  CHECK(Forgets(v) == std::set<uint64_t>{1});

  report.Apply(Full({}));
  v = Judge(report, catalog);
  CHECK_FALSE(v.send_full_report);
  CHECK(report.complete());
}

TEST_CASE("ReplicaReport: orphans are deleted at the version reported", "[replica_report]") {
  FakeCatalog catalog;
  catalog.Live(1, 1, {kNode});
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 1}, {2, 4}, {3, 1}}));
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(Deletes(v) == std::map<uint64_t, uint64_t>{{2, 4}, {3, 1}});
  CHECK(v.forgets.empty());
}

TEST_CASE("ReplicaReport: garbage is deleted at every version; drained garbage is forgotten",
          "[replica_report]") {
  FakeCatalog catalog;
  catalog.Garbage(1, 3, {kNode, 6});  // listed, held
  catalog.Garbage(2, 1, {kNode});     // listed, not held
  catalog.Garbage(3, 2, {6});         // held but not listed (a late copy)
  catalog.Garbage(4, 1, {6});         // neither
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 3}, {3, 2}}));
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(Deletes(v) == std::map<uint64_t, uint64_t>{{1, kEveryVersion}, {3, kEveryVersion}});
  CHECK(Forgets(v) == std::set<uint64_t>{2});

  // The server deletes 1 and 3 and says so: 1, which lists it, is drained.
  report.Apply(Changes({}, {1, 3}));
  v = Judge(report, catalog);
  CHECK(v.deletes.empty());
  CHECK(Forgets(v) == std::set<uint64_t>{1, 2});  // 2 until its forget is applied
  catalog.garbage[1] = Record(1, 3, {6});
  catalog.garbage.erase(2);
  v = Judge(report, catalog);
  CHECK(v.deletes.empty());
  CHECK(v.forgets.empty());
}

TEST_CASE("ReplicaReport: stale replicas go, chain members and current copies stay",
          "[replica_report]") {
  FakeCatalog catalog;
  catalog.Live(1, 3, {1, 2});      // this server was dropped from the chain
  catalog.Live(2, 3, {1, kNode});  // in the chain, its version not bumped yet
  catalog.Live(3, 3, {1, 2});      // a copy at the current version, not in the chain yet
  catalog.Live(4, 3, {1, 2});      // newer than the record (cannot be judged stale)
  catalog.Live(5, 3, {1, kNode});  // current
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 2}, {2, 2}, {3, 3}, {4, 4}, {5, 3}}));
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(Deletes(v) == std::map<uint64_t, uint64_t>{{1, 2}});
  CHECK(v.forgets.empty());
}

TEST_CASE("ReplicaReport: a report deletion of a live replica forgets nothing",
          "[replica_report]") {
  FakeCatalog catalog;
  catalog.Live(1, 1, {kNode});
  catalog.Garbage(2, 1, {6});  // garbage that does not list this server
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 1}, {2, 1}}));
  Judge(report, catalog);
  report.Apply(Changes({}, {1, 2}));
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(v.deletes.empty());
  CHECK(v.forgets.empty());
  CHECK_FALSE(report.Held(1));
}

TEST_CASE("ReplicaReport: a full report replaces what was held", "[replica_report]") {
  FakeCatalog catalog;
  catalog.Garbage(1, 1, {kNode});
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 1}, {2, 1}}));
  CHECK(report.Held(2));
  report.Apply(Changes({{3, 1}}));
  report.Apply(Full({{2, 2}}));
  CHECK_FALSE(report.Held(1));
  CHECK_FALSE(report.Held(3));
  CHECK(report.Held(2)->version == 2);
  CHECK(report.held_count() == 1);
  // Garbage the new report lacks is drained.
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(Forgets(v) == std::set<uint64_t>{1});
}

TEST_CASE("ReplicaReport: a reply carries at most max_deletes; the rest follow",
          "[replica_report]") {
  FakeCatalog catalog;
  std::vector<Replica> orphans;
  for (uint64_t id = 1; id <= 2500; id++)
    orphans.push_back({id, 1});
  ReplicaReport report(kNode);
  report.Apply(Full(orphans));
  std::set<uint64_t> deleted;
  std::vector<size_t> sizes;
  for (int beat = 0; beat < 3; beat++) {
    ReplicaVerdicts v = Judge(report, catalog);
    sizes.push_back(v.deletes.size());
    for (const pb::ChunkReport& d : v.deletes)
      deleted.insert(d.chunk_id());
  }
  CHECK(sizes == std::vector<size_t>{1000, 1000, 500});
  CHECK(deleted.size() == 2500);

  // Garbage deletes count against the same bound.
  ReportLimits limits;
  limits.max_deletes = 2;
  limits.garbage_window = 10;
  FakeCatalog g;
  for (uint64_t id = 1; id <= 5; id++)
    g.Garbage(id, 1, {kNode});
  ReplicaReport small(kNode, limits);
  small.Apply(Full({{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
  std::vector<std::map<uint64_t, uint64_t>> replies;
  for (int beat = 0; beat < 3; beat++)
    replies.push_back(Deletes(Judge(small, g)));
  CHECK(replies[0] == std::map<uint64_t, uint64_t>{{1, kEveryVersion}, {2, kEveryVersion}});
  CHECK(replies[1] == std::map<uint64_t, uint64_t>{{3, kEveryVersion}, {4, kEveryVersion}});
  CHECK(replies[2].size() == 2);
  CHECK(replies[2].contains(5));
}

TEST_CASE("ReplicaReport: the garbage of a server is looked at a window at a time",
          "[replica_report]") {
  ReportLimits limits;
  limits.garbage_window = 3;
  FakeCatalog catalog;
  for (uint64_t id = 1; id <= 7; id++)
    catalog.Garbage(id, 1, {kNode});
  catalog.Garbage(8, 1, {6});
  ReplicaReport report(kNode, limits);
  report.Apply(Full({}));
  std::vector<std::set<uint64_t>> forgets;
  for (int beat = 0; beat < 4; beat++)
    forgets.push_back(Forgets(Judge(report, catalog)));
  CHECK(forgets[0] == std::set<uint64_t>{1, 2, 3});
  CHECK(forgets[1] == std::set<uint64_t>{4, 5, 6});
  CHECK(forgets[2] == std::set<uint64_t>{7});
  CHECK(forgets[3] == std::set<uint64_t>{1, 2, 3});  // around again until they are applied
}

TEST_CASE("ReplicaReport: changed replicas are judged at once, the others by a slow sweep",
          "[replica_report]") {
  ReportLimits limits;
  limits.max_checks = 10;
  limits.sweep_checks = 2;
  FakeCatalog catalog;
  std::vector<Replica> held;
  for (uint64_t id = 1; id <= 30; id++) {
    catalog.Live(id, 1, {kNode});
    held.push_back({id, 1});
  }
  ReplicaReport report(kNode, limits);
  report.Apply(Full(held));
  // The first pass after a full report goes at full speed: 10 a heartbeat.
  for (int beat = 0; beat < 3; beat++) {
    catalog.fate_reads = 0;
    CHECK(Judge(report, catalog).deletes.empty());
    CHECK(catalog.fate_reads == 10);
  }
  // Then 2 a heartbeat.
  catalog.fate_reads = 0;
  Judge(report, catalog);
  CHECK(catalog.fate_reads == 2);  // chunks 1 and 2

  // A chain that drops this server: the sweep finds it when it gets there.
  catalog.Live(9, 2, {1, 2});
  std::map<uint64_t, uint64_t> found;
  int beats = 0;
  while (found.empty() && beats < 20) {
    found = Deletes(Judge(report, catalog));
    beats++;
  }
  CHECK(found == std::map<uint64_t, uint64_t>{{9, 1}});
  CHECK(beats == 4);  // 3-4, 5-6, 7-8, 9-10

  // A replica that changes is judged on the next heartbeat, wherever the
  // sweep is.
  report.Apply(Changes({{100, 7}}));
  CHECK(Deletes(Judge(report, catalog)) == std::map<uint64_t, uint64_t>{{100, 7}});
}

TEST_CASE("ReplicaReport: corrupt replicas are kept and listed; dead ones still go",
          "[replica_report]") {
  FakeCatalog catalog;
  catalog.Live(1, 1, {kNode});
  catalog.Live(2, 1, {kNode});
  ReplicaReport report(kNode);
  report.Apply(Full({{1, 1, true}, {2, 1}, {3, 1, true}}));
  ReplicaVerdicts v = Judge(report, catalog);
  CHECK(Deletes(v) == std::map<uint64_t, uint64_t>{{3, 1}});  // an orphan, corrupt or not
  std::vector<CorruptReplica> corrupt = report.Corrupt();
  REQUIRE(corrupt.size() == 2);
  CHECK(corrupt[0].node_id == kNode);
  CHECK(corrupt[0].chunk_id == 1);
  CHECK(corrupt[0].version == 1);
  CHECK(corrupt[1].chunk_id == 3);

  // Found corrupt later, repaired later, deleted.
  report.Apply(Changes({{2, 1, true}}, {3}));
  Judge(report, catalog);
  CHECK(report.Corrupt().size() == 2);
  CHECK(report.Held(2)->corrupt);
  report.Apply(Changes({{1, 1, false}}));
  CHECK(report.Corrupt().size() == 1);
  CHECK(report.Corrupt()[0].chunk_id == 2);
}

}  // namespace
}  // namespace dfs::meta
