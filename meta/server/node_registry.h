// What the leader knows of each chunk server right now: liveness, free
// space and load from heartbeats. Soft state (DESIGN §2): never in the Raft
// log, rebuilt from heartbeats by every new leader.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "meta/server/placement.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

class NodeRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  explicit NodeRegistry(std::chrono::milliseconds dead_after) : dead_after_(dead_after) {}

  // A heartbeat from `node` (whose durable record is `record`).
  void Heartbeat(const pb::NodeRecord& record, uint64_t capacity, uint64_t free, uint32_t load);
  // Forgets everything: a new leader starts from scratch.
  void Reset();

  // Active servers heard from within dead_after, as placement candidates.
  std::vector<PlacementCandidate> LiveCandidates() const;
  bool IsLive(uint64_t node_id) const;
  // Capacity and free space of the live servers.
  void Totals(uint64_t* capacity, uint64_t* free) const;

 private:
  struct Live {
    pb::NodeRecord record;
    uint64_t capacity = 0;
    uint64_t free = 0;
    uint32_t load = 0;
    Clock::time_point last_heartbeat;
  };
  bool Alive(const Live& l, Clock::time_point now) const {
    return now - l.last_heartbeat < dead_after_;
  }

  const std::chrono::milliseconds dead_after_;
  mutable std::mutex mu_;
  std::map<uint64_t, Live> nodes_;
};

}  // namespace dfs::meta
