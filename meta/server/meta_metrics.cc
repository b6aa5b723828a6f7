#include "meta/server/meta_metrics.h"

#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include "common/http_status.h"

namespace dfs::meta {

std::string MetaMetrics(const MetaMetricsSources& s) {
  raft::RaftNodeStatus st = s.node->GetStatus();
  const bool leader = st.role == raft::StateRole::kLeader;
  MetricsText m;
  m.Gauge("dfs_raft_is_leader", "1 on the Raft leader", leader ? 1 : 0)
      .Gauge("dfs_raft_term", "current Raft term", static_cast<double>(st.term))
      .Gauge("dfs_raft_commit_index", "highest log index known committed",
             static_cast<double>(st.commit))
      .Gauge("dfs_raft_applied_index", "highest log index applied to the state",
             static_cast<double>(st.applied))
      .Gauge("dfs_raft_last_index", "highest log index stored", static_cast<double>(st.last_index))
      .Counter("dfs_raft_fsyncs_total", "log fsyncs", static_cast<double>(st.fsyncs))
      .Counter("dfs_raft_entries_persisted_total", "log entries written",
               static_cast<double>(st.entries_persisted))
      .Counter("dfs_raft_snapshots_installed_total", "snapshots installed from the leader",
               static_cast<double>(st.snapshots_installed));
  MetaRequestStats r = s.service->request_stats();
  m.Labeled(
       "dfs_meta_requests_total", "counter", "metadata calls answered", "kind",
       {{"mutation", static_cast<double>(r.mutations)}, {"read", static_cast<double>(r.reads)}})
      .Labeled("dfs_meta_request_errors_total", "counter", "metadata calls answered with an error",
               "kind",
               {{"mutation", static_cast<double>(r.mutation_errors)},
                {"read", static_cast<double>(r.read_errors)}})
      .Labeled("dfs_meta_request_seconds_total", "counter",
               "time spent answering metadata calls (divide by the count for the mean)", "kind",
               {{"mutation", static_cast<double>(r.mutation_micros) / 1e6},
                {"read", static_cast<double>(r.read_micros) / 1e6}});
  // The trash (docs/meta.md, "Trash"): replicated state, known to every
  // server (a follower's may lag a little).
  if (Result<ops::TrashTotals> trash = s.store->TrashUsage(); trash.ok()) {
    m.Gauge("dfs_meta_trash_entries", "files in the trash", static_cast<double>(trash->entries))
        .Gauge("dfs_meta_trash_bytes", "bytes of the files in the trash (one copy)",
               static_cast<double>(trash->bytes));
  }
  // Locks (docs/locks.md): replicated too; waiters are the leader's.
  if (Result<ops::LockCounts> locks = s.store->CountLocks(); locks.ok()) {
    m.Gauge("dfs_meta_locks_held", "flock and fcntl lock ranges held",
            static_cast<double>(locks->locks))
        .Gauge("dfs_meta_locked_inodes", "files with at least one lock",
               static_cast<double>(locks->inodes))
        .Gauge("dfs_meta_lock_sessions", "live lock sessions (one per mount that locked)",
               static_cast<double>(locks->sessions));
  }
  if (s.locks != nullptr) {
    m.Gauge("dfs_meta_lock_waiters", "blocking lock calls waiting at this server",
            static_cast<double>(s.locks->waiters()));
  }
  if (!leader) return m.text();

  RepairStats rs = s.repair->Stats();
  m.Gauge("dfs_repair_settled", "0 while a new leader waits one node_dead_after",
          rs.waiting || rs.sweeps == 0 ? 0 : 1)
      .Gauge("dfs_chunks_total", "chunks of files, at the last sweep",
             static_cast<double>(rs.chunks_total))
      .Gauge("dfs_chunks_healthy", "chunks with every copy current on distinct zones",
             static_cast<double>(rs.chunks_healthy))
      .Gauge("dfs_chunks_under_replicated", "chunks with fewer current copies than wanted",
             static_cast<double>(rs.chunks_under_replicated))
      .Gauge("dfs_chunks_lost", "chunks with no live copy", static_cast<double>(rs.chunks_lost))
      .Gauge("dfs_chunks_zone_degraded", "chunks with copies on fewer zones than copies",
             static_cast<double>(rs.chunks_zone_degraded))
      .Gauge("dfs_chunks_over_replicated", "chunks with more copies than wanted",
             static_cast<double>(rs.chunks_over_replicated))
      .Gauge("dfs_repair_queued", "repair steps waiting", static_cast<double>(rs.queued))
      .Gauge("dfs_repair_running", "repair steps running", static_cast<double>(rs.running))
      .Counter("dfs_repair_done_total", "repair steps done under this leader",
               static_cast<double>(rs.done))
      .Counter("dfs_repair_failed_total", "repair steps failed under this leader",
               static_cast<double>(rs.failed))
      .Counter("dfs_repair_bytes_total", "bytes copied by repair under this leader",
               static_cast<double>(rs.bytes))
      .Gauge("dfs_repair_bytes_per_second", "repair copy rate over the last 10 s", rs.bytes_per_sec)
      .Gauge("dfs_cluster_balanced", "1 when every server is within the balance band",
             rs.balanced ? 1 : 0);

  std::map<uint64_t, ServerView> views = s.registry->Views();
  std::map<std::string, double> by_state = {
      {"active", 0}, {"draining", 0}, {"removed", 0}, {"dead", 0}, {"unknown", 0}};
  std::vector<std::pair<std::string, double>> used;
  uint64_t capacity = 0, free = 0;
  for (const pb::NodeRecord& record : s.store->Nodes()) {
    auto it = views.find(record.node_id());
    bool live = it != views.end() && it->second.live;
    if (!live && record.state() != "removed") {
      // A new leader has not heard everyone yet: not dead before it settles.
      by_state[s.registry->Settled() ? "dead" : "unknown"]++;
      continue;
    }
    by_state[record.state()]++;
    if (!live) continue;
    const ServerView& v = it->second;
    capacity += v.capacity;
    free += v.free;
    if (v.capacity > 0) {
      used.emplace_back(std::to_string(record.node_id()),
                        1.0 - static_cast<double>(std::min(v.free, v.capacity)) /
                                  static_cast<double>(v.capacity));
    }
  }
  std::vector<std::pair<std::string, double>> states(by_state.begin(), by_state.end());
  m.Labeled("dfs_chunkservers", "gauge", "chunk servers by state", "state", states)
      .Gauge("dfs_chunkservers_dead", "registered chunk servers silent for node_dead_after",
             by_state["dead"])
      .Gauge("dfs_capacity_bytes", "capacity of the live chunk servers",
             static_cast<double>(capacity))
      .Gauge("dfs_free_bytes", "free space of the live chunk servers", static_cast<double>(free))
      .Labeled("dfs_chunkserver_used_ratio", "gauge", "used fraction of each live chunk server",
               "node", used);
  return m.text();
}

Status MetaHealth(const MetaMetricsSources& s) {
  if (!s.store->formatted()) return Status::Unavailable("the cluster is not formatted yet");
  raft::RaftNodeStatus st = s.node->GetStatus();
  if (st.leader == 0) return Status::Unavailable("no Raft leader known");
  RETURN_IF_ERROR(s.node->ReadBarrierAndWait(std::chrono::seconds(2)),
                  "a linearizable read through leader " << st.leader);
  return Status::Ok();
}

}  // namespace dfs::meta
