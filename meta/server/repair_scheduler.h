// The repair scheduler (DESIGN §3, docs/self_healing.md): on the Raft
// leader, it sweeps the chunk map every scan interval, judges each chunk
// against the servers' heartbeats and replica reports (JudgeChunk), and
// runs the steps that restore `replication` current copies on distinct
// zones, most endangered chunks first, within a limit of jobs in flight,
// of jobs per server, and of copy bandwidth.
//
// A step is a conditional chain change through Raft (ChangeChain) followed
// by a Rechain on the chain's head, which copies the joiners and raises
// every member to the new version under the chunk's lock, and, once the
// joiners hold the data, a second ChangeChain that makes them members. A
// step that fails midway leaves a state the next sweep finishes.
//
// Nothing is judged until this leadership has heard heartbeats for one full
// node_dead_after (NodeRegistry::Settled).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "client/chunk_stub_pool.h"
#include "common/result.h"
#include "common/thread_pool.h"
#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/node_registry.h"
#include "meta/server/repair_plan.h"

namespace dfs::meta {

struct RepairLimits {
  size_t max_jobs = 4;       // jobs in flight over the cluster
  size_t per_node_jobs = 2;  // jobs touching one server (head or joiner)
  uint64_t bandwidth = 0;    // bytes per second copied, 0 = unlimited
};

struct RepairOptions {
  uint32_t replication = 3;
  std::chrono::milliseconds scan_interval{1000};
  // How long a member may look short of a chunk (missing, or on an older
  // version) before that counts: reports trail writes by a heartbeat.
  std::chrono::milliseconds doubt_grace{5000};
  // A Rechain: the joiners' copies (8 s each at most on the head) and the
  // members' version moves.
  std::chrono::milliseconds rechain_timeout{30000};
  RepairLimits limits;
};

// What the last sweep found and what repair has done under this leader.
struct RepairStats {
  bool leader = false;
  bool waiting = false;  // leader, but not settled yet
  uint64_t chunks_total = 0;
  uint64_t chunks_healthy = 0;
  uint64_t chunks_under_replicated = 0;
  uint64_t chunks_lost = 0;
  uint64_t chunks_zone_degraded = 0;
  uint64_t chunks_over_replicated = 0;
  uint64_t chunks_unknown = 0;  // not judged in the last sweep (reports pending)
  uint64_t queued = 0;          // steps wanted at the last sweep, not running
  uint64_t running = 0;
  uint64_t done = 0;
  uint64_t failed = 0;
  uint64_t bytes = 0;
  double bytes_per_sec = 0;
  uint64_t sweeps = 0;  // completed since this leadership began
  bool balanced = true;
  uint64_t rebalance_queued = 0;  // moves chosen at the last sweep
  RepairLimits limits;
};

class RepairScheduler {
 public:
  // REQUIRES: every pointer outlives the scheduler.
  RepairScheduler(RepairOptions options, raft::RaftNode* node, MetaStore* store,
                  NodeRegistry* registry);
  ~RepairScheduler();
  RepairScheduler(const RepairScheduler&) = delete;
  RepairScheduler& operator=(const RepairScheduler&) = delete;

  RepairStats Stats() const;
  // Changes the limits at run time (dfsadmin).
  void SetLimits(const RepairLimits& limits);

 private:
  struct Job {
    uint64_t inode = 0;
    uint64_t index = 0;
    uint64_t chunk_id = 0;
    uint64_t version = 0;  // the record's, when judged
    RepairStep step;
    int priority = 0;
  };

  // Whether the live, active servers' used fractions are all within the
  // balance band of their mean; if not, the servers copies move off and
  // the ones that take none.
  struct Balance {
    bool balanced = true;
    std::set<uint64_t> sources;
    std::set<uint64_t> no_target;
  };
  static Balance JudgeBalance(const std::map<uint64_t, ServerView>& servers);
  // Marks removed the draining servers no chain lists and that hold
  // nothing (or are gone).
  void FinishDrains(const std::set<uint64_t>& draining, const std::set<uint64_t>& listed,
                    const std::map<uint64_t, ServerView>& servers);
  // Drops removed servers from the garbage records (ForgetGarbage).
  void ForgetRemoved(const std::set<uint64_t>& removed);

  void Loop();
  // One sweep of the chunk map; starts the jobs the limits allow.
  void Sweep(uint64_t term);
  bool TryStart(const Job& job);  // REQUIRES: mu_ held
  // Starts what the limits allow of the last sweep's steps not yet
  // started. REQUIRES: mu_ held.
  void StartPending();
  void Run(Job job);
  // Counts a finished step's copied bytes. REQUIRES: mu_ held.
  void Account(uint64_t copied);
  // The step's proposals and its rechain; the bytes the joiners copied.
  Result<uint64_t> Execute(const Job& job);
  Result<pb::ChunkLocation> ChangeChain(const Job& job, uint64_t expect_version,
                                        const std::vector<uint64_t>& joining, bool bump);
  Result<uint64_t> Rechain(const Job& job, uint64_t version);
  void ForgetLeadership();  // REQUIRES: mu_ held

  const RepairOptions options_;
  raft::RaftNode* const node_;
  MetaStore* const store_;
  NodeRegistry* const registry_;
  client::ChunkStubPool stubs_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  uint64_t term_ = 0;  // of the leadership the stats belong to
  RepairStats stats_;
  RepairLimits limits_;
  std::set<uint64_t> in_flight_;          // chunk ids
  std::vector<Job> pending_;              // wanted at the last sweep, not started
  std::map<uint64_t, size_t> node_jobs_;  // node id -> jobs touching it
  // (chunk id, node id, record version) -> when it first looked short.
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, std::chrono::steady_clock::time_point> doubts_;
  std::chrono::steady_clock::time_point next_copy_at_{};
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> recent_bytes_;
  std::mt19937_64 rng_{std::random_device{}()};

  ThreadPool workers_;
  std::thread loop_;  // last: started once everything else exists
};

}  // namespace dfs::meta
