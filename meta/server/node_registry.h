// What the leader knows of each chunk server right now: liveness, free
// space and load from heartbeats, and the replicas each one reported
// (ReplicaReport). Soft state (DESIGN §2): never in the Raft log, rebuilt
// from heartbeats by every new leader.
//
// Thread-safe. A node's report has a lock of its own, so judging one report
// (store reads) does not hold up the others or placement.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "meta/server/placement.h"
#include "meta/server/replica_report.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

// One chunk server as the repair scheduler sees it at one moment.
struct ServerView {
  pb::NodeRecord record;  // as of its last heartbeat
  bool live = false;      // heard from within dead_after
  bool reported = false;  // a full replica report is held
  uint64_t capacity = 0;
  uint64_t free = 0;
  uint32_t load = 0;
  std::map<uint64_t, HeldReplica> held;  // by chunk id; empty unless reported
};

class NodeRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  explicit NodeRegistry(std::chrono::milliseconds dead_after, ReportLimits limits = {})
      : dead_after_(dead_after), limits_(limits) {}

  // A heartbeat from `node` (whose durable record is `record`).
  void Heartbeat(const pb::NodeRecord& record, uint64_t capacity, uint64_t free, uint32_t load);
  // Forgets everything (liveness and reports): a new leader starts from
  // scratch, and asks every server for a full report.
  void Reset();
  // Reset() unless the state already belongs to `term`: called by the
  // leader of `term` before it takes in a heartbeat, so that nothing heard
  // in an earlier term of leadership survives a term as follower.
  void LeadTerm(uint64_t term);
  // A chunk server registered (a restart, or a new node): what it reported
  // before is void; it sends a full report next.
  void Registered(uint64_t node_id);

  // Takes in the replica report of a heartbeat (ReplicaReport::Apply).
  void TakeReport(const pb::HeartbeatRequest& req);
  // The verdicts on node_id's report (ReplicaReport::Judge): deletes for
  // the reply and garbage to forget (not yet filtered by BeginForgets).
  Result<ReplicaVerdicts> Judge(uint64_t node_id, const ChunkCatalog& catalog);
  // Of the garbage replicas (chunk ids on node_id) the caller wants to
  // forget, those not already being forgotten; they are marked in flight
  // until EndForgets. In flight pairs survive Reset(): their proposals do.
  std::vector<uint64_t> BeginForgets(uint64_t node_id, const std::vector<uint64_t>& chunk_ids);
  void EndForgets(uint64_t node_id, const std::vector<uint64_t>& chunk_ids);

  // Active servers heard from within dead_after, as placement candidates.
  std::vector<PlacementCandidate> LiveCandidates() const;
  bool IsLive(uint64_t node_id) const;
  // Capacity and free space of the live servers.
  void Totals(uint64_t* capacity, uint64_t* free) const;
  // Replicas reported corrupt, over every server (for the repair
  // scheduler): keep them readable, never count them as live copies.
  std::vector<CorruptReplica> CorruptReplicas() const;
  // Whether a full report of node_id is held.
  bool HasFullReport(uint64_t node_id) const;
  // Whether this leadership has listened to heartbeats for one full
  // dead_after: before that, silence proves nothing (DESIGN §3).
  bool Settled() const;
  // Every server heard from since this leadership began, by node id.
  std::map<uint64_t, ServerView> Views() const;
  std::chrono::milliseconds dead_after() const { return dead_after_; }

 private:
  struct Live {
    pb::NodeRecord record;
    uint64_t capacity = 0;
    uint64_t free = 0;
    uint32_t load = 0;
    Clock::time_point last_heartbeat;
  };
  // Shared so that a report being judged outlives a Reset that drops it.
  struct Reported {
    explicit Reported(uint64_t node_id, ReportLimits limits) : report(node_id, limits) {}
    std::mutex mu;
    ReplicaReport report;
  };
  bool Alive(const Live& l, Clock::time_point now) const {
    return now - l.last_heartbeat < dead_after_;
  }
  void ResetLocked();
  std::shared_ptr<Reported> ReportOf(uint64_t node_id, bool create);

  const std::chrono::milliseconds dead_after_;
  const ReportLimits limits_;
  mutable std::mutex mu_;
  uint64_t term_ = 0;
  Clock::time_point since_ = Clock::now();  // of the state (last reset)
  std::map<uint64_t, Live> nodes_;
  std::map<uint64_t, std::shared_ptr<Reported>> reports_;
  std::set<std::pair<uint64_t, uint64_t>> forgetting_;  // (node id, chunk id)
};

}  // namespace dfs::meta
