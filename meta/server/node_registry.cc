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
  nodes_.clear();
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

}  // namespace dfs::meta
