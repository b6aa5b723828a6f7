// /metrics and /healthz of dfs-meta (common/http_status.h; the names are
// the contract of deploy/README.md and deploy/prometheus/alerts.yml).
#pragma once

#include <string>

#include "common/result.h"
#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/meta_service.h"
#include "meta/server/node_registry.h"
#include "meta/server/repair_scheduler.h"

namespace dfs::meta {

struct MetaMetricsSources {
  raft::RaftNode* node = nullptr;
  MetaStore* store = nullptr;
  MetaServiceImpl* service = nullptr;
  NodeRegistry* registry = nullptr;
  RepairScheduler* repair = nullptr;
  LockManager* locks = nullptr;
};

// Raft state and request counters on every server; chunk health, repair
// progress and chunk servers on the leader only (a follower knows none).
std::string MetaMetrics(const MetaMetricsSources& s);

// OK when this server is formatted, knows a leader, and a linearizable read
// (a Raft read barrier) completes within two seconds.
Status MetaHealth(const MetaMetricsSources& s);

}  // namespace dfs::meta
