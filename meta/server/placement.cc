#include "meta/server/placement.h"

#include <algorithm>
#include <set>

namespace dfs::meta {

namespace {

// Weight of a candidate: more free space and less load draw more chunks.
double Weight(const PlacementCandidate& c) {
  return static_cast<double>(c.free_bytes) / (1.0 + c.load);
}

}  // namespace

Result<Placement> PlaceChunk(const std::vector<PlacementCandidate>& candidates,
                             uint32_t replication, uint64_t chunk_size, std::mt19937_64& rng) {
  if (replication == 0) return Status::InvalidArgument("replication must be at least 1");
  std::vector<const PlacementCandidate*> pool;
  std::set<std::string> zones;
  for (const PlacementCandidate& c : candidates) {
    if (c.free_bytes < chunk_size) continue;
    pool.push_back(&c);
    zones.insert(c.zone);
  }
  if (pool.empty()) return Status::NoSpace("no chunk server has room for a new chunk");

  Placement out;
  std::set<std::string> used_zones;
  std::vector<bool> taken(pool.size(), false);
  while (out.replicas.size() < replication) {
    // Prefer zones not used yet; fall back to any remaining server.
    bool fresh_zone_left = false;
    for (size_t i = 0; i < pool.size(); i++) {
      if (!taken[i] && !used_zones.count(pool[i]->zone)) fresh_zone_left = true;
    }
    double total = 0;
    std::vector<double> weights(pool.size(), 0.0);
    for (size_t i = 0; i < pool.size(); i++) {
      if (taken[i] || (fresh_zone_left && used_zones.count(pool[i]->zone))) continue;
      // A server with no free-space report still gets a small chance.
      weights[i] = std::max(Weight(*pool[i]), 1.0);
      total += weights[i];
    }
    if (total == 0) break;  // fewer servers than replicas
    double pick = std::uniform_real_distribution<double>(0, total)(rng);
    size_t chosen = pool.size();
    for (size_t i = 0; i < pool.size(); i++) {
      if (weights[i] == 0) continue;
      chosen = i;
      if (pick < weights[i]) break;
      pick -= weights[i];
    }
    taken[chosen] = true;
    used_zones.insert(pool[chosen]->zone);
    out.replicas.push_back(pool[chosen]->node_id);
  }
  out.zone_degraded = used_zones.size() < replication;
  return out;
}

bool PlacementWaitsForSilent(const Placement& placement,
                             const std::vector<PlacementCandidate>& live,
                             const std::vector<PlacementCandidate>& silent, uint32_t replication) {
  if (silent.empty()) return false;
  // A lone copy while a silent server could hold a second.
  if (placement.replicas.size() < 2 && replication >= 2) return true;
  std::set<std::string> placed;  // the zones the chain covers
  for (uint64_t id : placement.replicas)
    for (const PlacementCandidate& c : live)
      if (c.node_id == id) placed.insert(c.zone);
  // PlaceChunk covers every zone it can, up to `replication`: beyond those,
  // only silent servers could add zones.
  std::set<std::string> possible = placed;
  for (const PlacementCandidate& c : silent)
    possible.insert(c.zone);
  const size_t wanted = std::min<size_t>(replication, possible.size());
  return placed.size() + 1 < wanted;
}

}  // namespace dfs::meta
