#include "meta/server/node_registry.h"

namespace dfs::meta {

void NodeRegistry::Heartbeat(const pb::NodeRecord& record, uint64_t capacity, uint64_t free,
                             uint32_t load) {
  std::lock_guard lock(mu_);
  Live& l = nodes_[record.node_id()];
  l.record = record;
  l.capacity = capacity;
  l.free = free;
  l.load = load;
  l.last_heartbeat = Clock::now();
}

void NodeRegistry::Reset() {
  std::lock_guard lock(mu_);
  ResetLocked();
}

void NodeRegistry::ResetLocked() {
  nodes_.clear();
  reports_.clear();
  since_ = Clock::now();
}

void NodeRegistry::LeadTerm(uint64_t term) {
  std::lock_guard lock(mu_);
  if (term == term_) return;
  ResetLocked();
  term_ = term;
}

void NodeRegistry::Registered(uint64_t node_id) {
  std::lock_guard lock(mu_);
  reports_.erase(node_id);
}

std::shared_ptr<NodeRegistry::Reported> NodeRegistry::ReportOf(uint64_t node_id, bool create) {
  std::lock_guard lock(mu_);
  auto it = reports_.find(node_id);
  if (it != reports_.end()) return it->second;
  if (!create) return nullptr;
  auto reported = std::make_shared<Reported>(node_id, limits_);
  reports_.emplace(node_id, reported);
  return reported;
}

void NodeRegistry::TakeReport(const pb::HeartbeatRequest& req) {
  std::shared_ptr<Reported> reported = ReportOf(req.node_id(), /*create=*/true);
  std::lock_guard lock(reported->mu);
  reported->report.Apply(req);
}

Result<ReplicaVerdicts> NodeRegistry::Judge(uint64_t node_id, const ChunkCatalog& catalog) {
  // A node with no report at all (dropped by Reset or Registered since its
  // heartbeat) judges as an empty one: it is asked for a full report.
  std::shared_ptr<Reported> reported = ReportOf(node_id, /*create=*/true);
  std::lock_guard lock(reported->mu);
  return reported->report.Judge(catalog);
}

std::vector<uint64_t> NodeRegistry::BeginForgets(uint64_t node_id,
                                                 const std::vector<uint64_t>& chunk_ids) {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  for (uint64_t chunk_id : chunk_ids) {
    if (forgetting_.emplace(node_id, chunk_id).second) out.push_back(chunk_id);
  }
  return out;
}

void NodeRegistry::EndForgets(uint64_t node_id, const std::vector<uint64_t>& chunk_ids) {
  std::lock_guard lock(mu_);
  for (uint64_t chunk_id : chunk_ids)
    forgetting_.erase({node_id, chunk_id});
}

std::vector<PlacementCandidate> NodeRegistry::LiveCandidates() const {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  std::vector<PlacementCandidate> out;
  for (const auto& [id, l] : nodes_) {
    if (!Alive(l, now) || l.record.state() != "active") continue;
    out.push_back(PlacementCandidate{id, l.record.zone(), l.free, l.load});
  }
  return out;
}

bool NodeRegistry::IsLive(uint64_t node_id) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  return it != nodes_.end() && Alive(it->second, Clock::now());
}

void NodeRegistry::Totals(uint64_t* capacity, uint64_t* free) const {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  *capacity = *free = 0;
  for (const auto& [id, l] : nodes_) {
    if (!Alive(l, now)) continue;
    *capacity += l.capacity;
    *free += l.free;
  }
}

std::vector<CorruptReplica> NodeRegistry::CorruptReplicas() const {
  std::vector<std::shared_ptr<Reported>> reports;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, reported] : reports_)
      reports.push_back(reported);
  }
  std::vector<CorruptReplica> out;
  for (const auto& reported : reports) {
    std::lock_guard lock(reported->mu);
    std::vector<CorruptReplica> corrupt = reported->report.Corrupt();
    out.insert(out.end(), corrupt.begin(), corrupt.end());
  }
  return out;
}

bool NodeRegistry::HasFullReport(uint64_t node_id) const {
  std::shared_ptr<Reported> reported;
  {
    std::lock_guard lock(mu_);
    auto it = reports_.find(node_id);
    if (it == reports_.end()) return false;
    reported = it->second;
  }
  std::lock_guard lock(reported->mu);
  return reported->report.complete();
}

bool NodeRegistry::Settled() const {
  std::lock_guard lock(mu_);
  return Clock::now() - since_ >= dead_after_;
}

std::map<uint64_t, ServerView> NodeRegistry::Views() const {
  std::map<uint64_t, ServerView> out;
  std::map<uint64_t, std::shared_ptr<Reported>> reports;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    for (const auto& [id, l] : nodes_) {
      ServerView& v = out[id];
      v.record = l.record;
      v.live = Alive(l, now);
      v.capacity = l.capacity;
      v.free = l.free;
      v.load = l.load;
    }
    reports = reports_;
  }
  for (const auto& [id, reported] : reports) {
    auto it = out.find(id);
    if (it == out.end()) continue;
    std::lock_guard lock(reported->mu);
    it->second.reported = reported->report.complete();
    if (it->second.reported) it->second.held = reported->report.AllHeld();
  }
  return out;
}

}  // namespace dfs::meta
