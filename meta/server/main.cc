// dfs-meta: the metadata server. Three or five form one Raft group; the
// leader serves every request (DESIGN §3).
//
//   dfs-meta --id 1 --listen 127.0.0.1:7001
//       --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data-dir /var/lib/dfs/meta
//
// The first leader of a new group formats it (a fresh cluster id, the root
// directory); later starts recover from RocksDB and the Raft log.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/checksum.h"
#include "common/config.h"
#include "common/http_status.h"
#include "common/logging.h"
#include "common/uuid.h"
#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/admin_service.h"
#include "meta/server/lock_manager.h"
#include "meta/server/meta_metrics.h"
#include "meta/server/meta_service.h"
#include "meta/server/node_registry.h"
#include "meta/server/repair_scheduler.h"
#include "meta/server/trash_expiry.h"
#include "meta/server/watch_hub.h"
#include "proto/admin.pb.h"
#include "proto/field_checks.h"
#include "proto/tls.h"

namespace dfs::meta {
namespace {

std::atomic<bool> g_stop{false};

struct MetaConfig {
  uint64_t id = 0;
  std::string listen;
  std::vector<std::string> peers;
  std::string data_dir;
  Bytes chunk_size{64 << 20};
  uint32_t replication = 3;
  std::chrono::milliseconds node_dead_after{60000};
  std::chrono::milliseconds session_ttl{3600 * 1000};
  double trash_days = 1;
  std::chrono::milliseconds lock_lease{10000};
  std::chrono::milliseconds raft_tick{100};
  int32_t raft_heartbeat_ticks = 1;
  int32_t raft_election_ticks = 5;
  uint64_t raft_snapshot_entries = 20000;
  std::string log_level = "info";
  std::chrono::milliseconds repair_scan_interval{1000};
  std::chrono::milliseconds repair_doubt_grace{5000};
  uint32_t repair_max_jobs = 4;
  uint32_t repair_per_node_jobs = 2;
  Bytes repair_bandwidth{0};
  std::string http;
  std::string restore_from;
  bool restore_only = false;
  tls::Files tls;
};

// --restore-from: checks the backup against its manifest and seeds the
// Raft log with it, unless this server already has a log (a restart; an
// error with `must_seed`).
Status SeedFromBackup(const raft::RaftNodeOptions& options, const std::string& dir,
                      bool must_seed) {
  std::ifstream in(dir + "/MANIFEST.json");
  if (!in) return Status::NotFound("no backup manifest " + dir + "/MANIFEST.json");
  std::stringstream json;
  json << in.rdbuf();
  pb::BackupManifest manifest;
  if (!google::protobuf::util::JsonStringToMessage(json.str(), &manifest).ok()) {
    return Status::Corrupt(dir + "/MANIFEST.json is not a backup manifest");
  }
  for (const pb::BackupFileInfo& f : manifest.files()) {
    uint64_t sum = 0, size = 0;
    RETURN_IF_ERROR(FileChecksum(dir + "/" + f.path(), &sum, &size), "backup " << dir);
    if (size != f.size() || sum != f.xxh3()) {
      return Status::Corrupt("backup file " + f.path() + " does not match its manifest");
    }
  }
  Status s = raft::RaftNode::Seed(options, dir, manifest.applied_index());
  if (s.code() == ErrorCode::ALREADY_EXISTS && !must_seed) {
    DFS_LOG(INFO) << "--restore-from ignored: " << s.message();
    return Status::Ok();
  }
  RETURN_IF_ERROR(s, "restoring from " << dir);
  DFS_LOG(INFO) << "restored cluster " << manifest.cluster_id() << " from " << dir << " at index "
                << manifest.applied_index() << " (" << manifest.inodes() << " inodes)";
  return Status::Ok();
}

int Main(int argc, char** argv) {
  MetaConfig cfg;
  ConfigParser parser("dfs-meta", "dfs metadata server (one member of the Raft group)");
  parser.Add("id", &cfg.id, "this server's id in the group (> 0)");
  parser.Add("listen", &cfg.listen, "host:port for clients, chunk servers and peers");
  parser.Add("peers", &cfg.peers, "founding members, ID=HOST:PORT,... (this server included)");
  parser.Add("data_dir", &cfg.data_dir, "directory for the Raft log, the state and snapshots");
  parser.Add("chunk_size", &cfg.chunk_size, "chunk size, fixed when the cluster is formatted");
  parser.Add("replication", &cfg.replication, "replicas per chunk");
  parser.Add("node_dead_after", &cfg.node_dead_after, "a chunk server silent this long is dead");
  parser.Add("session_ttl", &cfg.session_ttl,
             "a client session idle this long is forgotten (far above any client's retry time)");
  parser.Add("lock_lease", &cfg.lock_lease,
             "a mount that does not renew its lock session this long loses its locks");
  parser.Add("trash_days", &cfg.trash_days,
             "days an unlinked or replaced file stays in the trash before it is freed "
             "(fractions allowed; 0 turns the trash off)");
  parser.Add("raft.tick", &cfg.raft_tick, "Raft clock tick");
  parser.Add("raft.heartbeat_ticks", &cfg.raft_heartbeat_ticks, "leader heartbeat, in ticks");
  parser.Add("raft.election_ticks", &cfg.raft_election_ticks,
             "minimum election timeout, in ticks (randomized up to twice that)");
  parser.Add("raft.snapshot_entries", &cfg.raft_snapshot_entries,
             "snapshot and compact the log every N entries");
  parser.Add("log_level", &cfg.log_level, "trace, debug, info, warn, error");
  parser.Add("http", &cfg.http, "host:port for GET /metrics and /healthz (empty: none)");
  tls::AddConfigKeys(&parser, &cfg.tls);
  parser.Add("restore_from", &cfg.restore_from,
             "seed this new server's state from a backup directory (dfsadmin backup create); "
             "every member of the new group starts with the same backup; ignored once the "
             "data directory holds a Raft log");
  parser.Add("restore_only", &cfg.restore_only,
             "with --restore-from: seed the data directory, then exit without serving "
             "(what `dfsadmin backup restore` runs)");
  parser.Add("repair.scan_interval", &cfg.repair_scan_interval,
             "how often the leader sweeps the chunk map for repair work");
  parser.Add("repair.doubt_grace", &cfg.repair_doubt_grace,
             "how long a live replica may look missing or behind before repair acts");
  parser.Add("repair.max_jobs", &cfg.repair_max_jobs, "repair jobs at once (1-16)");
  parser.Add("repair.per_node_jobs", &cfg.repair_per_node_jobs,
             "repair jobs touching one chunk server at once");
  parser.Add("repair.bandwidth", &cfg.repair_bandwidth,
             "bytes per second repair may copy (0 = unlimited), e.g. 100MiB");
  Status s = parser.Parse(argc, argv);
  if (parser.help_requested()) return 0;
  if (!s.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", s.ToString().c_str());
    return 2;
  }
  if (Status t = tls::Configure(cfg.tls); !t.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", t.ToString().c_str());
    return 2;
  }
  if (cfg.restore_only && cfg.restore_from.empty()) {
    std::fprintf(stderr, "dfs-meta: --restore-only needs --restore-from DIR\n");
    return 2;
  }
  if (cfg.id == 0 || (cfg.listen.empty() && !cfg.restore_only) || cfg.data_dir.empty()) {
    std::fprintf(stderr, "dfs-meta: --id, --listen and --data-dir are required (see --help)\n");
    return 2;
  }
  if (cfg.chunk_size.value < (1 << 20) || cfg.chunk_size.value % (64 << 10) != 0) {
    std::fprintf(stderr, "dfs-meta: --chunk-size must be a multiple of 64KiB, at least 1MiB\n");
    return 2;
  }
  if (cfg.session_ttl.count() <= 0) {
    std::fprintf(stderr, "dfs-meta: --session-ttl must be positive\n");
    return 2;
  }
  if (cfg.lock_lease.count() < 500) {
    std::fprintf(stderr, "dfs-meta: --lock-lease must be at least 500ms\n");
    return 2;
  }
  if (!(cfg.trash_days >= 0 && cfg.trash_days <= 36500)) {
    std::fprintf(stderr, "dfs-meta: --trash-days must be between 0 and 36500\n");
    return 2;
  }
  if (cfg.replication == 0 || cfg.replication > static_cast<uint32_t>(kMaxChainLength)) {
    // Chunk servers refuse longer chains (docs/security.md, "Input limits").
    std::fprintf(stderr, "dfs-meta: --replication must be 1 to %d\n", kMaxChainLength);
    return 2;
  }
  s = InitLogging(cfg.log_level, "dfs-meta-" + std::to_string(cfg.id));
  if (!s.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", s.ToString().c_str());
    return 2;
  }
  auto peers = raft::ParsePeers(cfg.peers);
  if (!peers.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", peers.status().ToString().c_str());
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  auto store = MetaStore::Open(cfg.data_dir + "/state");
  if (!store.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", store.status().ToString().c_str());
    return 1;
  }
  raft::RaftNodeOptions options;
  options.id = cfg.id;
  options.peers = *peers;
  options.data_dir = cfg.data_dir;
  options.cluster_id = (*store)->formatted() ? (*store)->cluster_id() : "";
  options.tick = cfg.raft_tick;
  options.heartbeat_ticks = cfg.raft_heartbeat_ticks;
  options.election_ticks = cfg.raft_election_ticks;
  options.snapshot_entries = cfg.raft_snapshot_entries;
  if (!cfg.restore_from.empty()) {
    s = SeedFromBackup(options, cfg.restore_from, cfg.restore_only);
    if (!s.ok()) {
      std::fprintf(stderr, "dfs-meta: %s\n", s.ToString().c_str());
      return 1;
    }
    if (cfg.restore_only) {
      std::printf("seeded %s from %s\n", cfg.data_dir.c_str(), cfg.restore_from.c_str());
      return 0;
    }
  }
  auto node = raft::RaftNode::Start(options, store->get());
  if (!node.ok()) {
    std::fprintf(stderr, "dfs-meta: %s\n", node.status().ToString().c_str());
    return 1;
  }
  NodeRegistry registry(cfg.node_dead_after);
  WatchHub watch_hub;
  LockManager locks(LockManagerOptions{cfg.lock_lease}, node->get(), store->get());
  MetaServiceImpl service(
      MetaServiceOptions{.replication = cfg.replication, .trash = cfg.trash_days > 0}, node->get(),
      store->get(), &registry, &watch_hub, &locks);
  RepairOptions repair_options;
  repair_options.replication = cfg.replication;
  repair_options.scan_interval = cfg.repair_scan_interval;
  repair_options.doubt_grace = cfg.repair_doubt_grace;
  repair_options.limits.max_jobs = cfg.repair_max_jobs;
  repair_options.limits.per_node_jobs = cfg.repair_per_node_jobs;
  repair_options.limits.bandwidth = cfg.repair_bandwidth.value;
  RepairScheduler repair(repair_options, node->get(), store->get(), &registry);
  AdminServiceImpl admin(node->get(), store->get(), &registry, &repair, cfg.data_dir + "/scratch",
                         cfg.replication, &watch_hub);
  auto server = raft::ServeRaftNode(cfg.listen, node->get(), {&service, &admin});
  if (!server.ok()) {
    std::fprintf(stderr, "%s: %s\n", "dfs-meta", server.status().ToString().c_str());
    return 1;
  }
  const MetaMetricsSources sources{node->get(), store->get(), &service, &registry, &repair, &locks};
  std::unique_ptr<StatusHttp> http;
  if (!cfg.http.empty()) {
    auto started = StatusHttp::Start(StatusHttpOptions{
        cfg.http, [&] { return MetaMetrics(sources); }, [&] { return MetaHealth(sources); }});
    if (!started.ok()) {
      std::fprintf(stderr, "dfs-meta: %s\n", started.status().ToString().c_str());
      return 1;
    }
    http = std::move(started).value();
    if (http) DFS_LOG(INFO) << "serving /metrics and /healthz on http port " << http->port();
  }
  DFS_LOG(INFO) << "dfs-meta " << cfg.id << " serving on " << cfg.listen;
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });

  // Leader duties. A new group is formatted by its first leader; every
  // server learns the cluster id from the applied format command.
  bool cluster_id_known = (*store)->formatted();
  TrashExpiry trash_expiry(std::chrono::nanoseconds(static_cast<int64_t>(cfg.trash_days * 86400e9)),
                           node->get(), store->get(), &watch_hub);
  raft::StateRole last_role = raft::StateRole::kFollower;
  auto next_expiry = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    raft::RaftNodeStatus st = (*node)->GetStatus();
    if (st.role == raft::StateRole::kLeader && last_role != raft::StateRole::kLeader) {
      // A new leader rebuilds liveness and replica reports from heartbeats
      // (DESIGN §3); the Heartbeat handler does the same on the first one
      // of a new term, in case it comes first.
      registry.LeadTerm(st.term);
    }
    last_role = st.role;
    // Watch streams live as long as this leadership: the mounts reconnect
    // to the new leader and revalidate.
    watch_hub.Observe(st.role == raft::StateRole::kLeader, st.term);
    if (!(*store)->formatted() && st.role == raft::StateRole::kLeader) {
      pb::MetaCommand cmd;
      cmd.mutable_format()->set_cluster_id(NewUuid());
      cmd.mutable_format()->set_chunk_size(cfg.chunk_size.value);
      auto r = (*node)->ProposeAndWait(cmd.SerializeAsString(), std::chrono::seconds(5));
      if (!r.ok()) DFS_LOG(WARN) << "formatting the cluster: " << r.status();
    }
    if (st.role == raft::StateRole::kLeader && (*store)->formatted() &&
        std::chrono::steady_clock::now() >= next_expiry) {
      next_expiry =
          std::chrono::steady_clock::now() +
          std::min<std::chrono::milliseconds>(cfg.session_ttl / 4, std::chrono::minutes(1));
      pb::MetaCommand cmd;
      auto now = std::chrono::system_clock::now();
      cmd.set_now_ns(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
      cmd.mutable_expire_sessions()->set_idle_before_ns(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              (now - cfg.session_ttl).time_since_epoch())
              .count());
      auto r = (*node)->ProposeAndWait(cmd.SerializeAsString(), std::chrono::seconds(5));
      if (!r.ok()) DFS_LOG(WARN) << "expiring idle sessions: " << r.status();
    }
    if (st.role == raft::StateRole::kLeader && (*store)->formatted()) trash_expiry.Tick();
    if (!cluster_id_known && (*store)->formatted()) {
      (*node)->SetClusterId((*store)->cluster_id());
      cluster_id_known = true;
      DFS_LOG(INFO) << "cluster id " << (*store)->cluster_id();
    }
  }
  DFS_LOG(INFO) << "dfs-meta " << cfg.id << " shutting down";
  watch_hub.Shutdown();  // open streams would hold up the server's shutdown
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  (*node)->Stop();
  return 0;
}

}  // namespace
}  // namespace dfs::meta

int main(int argc, char** argv) {
  return dfs::meta::Main(argc, argv);
}
