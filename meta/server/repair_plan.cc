#include "meta/server/repair_plan.h"

#include <algorithm>
#include <set>

namespace dfs::meta {

namespace {

const ServerView* Find(const std::map<uint64_t, ServerView>& servers, uint64_t node_id) {
  auto it = servers.find(node_id);
  return it == servers.end() ? nullptr : &it->second;
}

std::string ZoneOf(const std::map<uint64_t, ServerView>& servers, uint64_t node_id) {
  const ServerView* s = Find(servers, node_id);
  return s ? s->record.zone() : std::string();
}

size_t DistinctZones(const std::map<uint64_t, ServerView>& servers,
                     const std::vector<uint64_t>& nodes) {
  std::set<std::string> zones;
  for (uint64_t id : nodes)
    zones.insert(ZoneOf(servers, id));
  return zones.size();
}

// A live, active server outside `chain` and `exclude` with room for a
// copy and no corrupt replica of the chunk, at random weighted by free
// space; on a zone `covering` does not cover when one qualifies, else
// (only if `any_zone`) anywhere. 0 if none.
uint64_t PickTarget(const std::map<uint64_t, ServerView>& servers, uint64_t chunk_id,
                    const std::vector<uint64_t>& chain, const std::vector<uint64_t>& covering,
                    const std::set<uint64_t>& exclude, uint64_t chunk_size, bool any_zone,
                    std::mt19937_64& rng) {
  std::set<std::string> covered;
  for (uint64_t id : covering)
    covered.insert(ZoneOf(servers, id));
  std::vector<std::pair<uint64_t, double>> fresh, other;
  for (const auto& [id, s] : servers) {
    if (!s.live || !s.reported || s.record.state() != "active" || s.free < chunk_size) continue;
    if (std::find(chain.begin(), chain.end(), id) != chain.end() || exclude.count(id)) continue;
    auto held = s.held.find(chunk_id);
    if (held != s.held.end() && held->second.corrupt) continue;
    auto& list = covered.count(s.record.zone()) ? other : fresh;
    list.emplace_back(id, static_cast<double>(s.free));
  }
  auto& pool = !fresh.empty() ? fresh : other;
  if (pool.empty() || (&pool == &other && !any_zone)) return 0;
  std::vector<double> weights;
  for (const auto& [id, w] : pool)
    weights.push_back(w);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  return pool[pick(rng)].first;
}

double UsedFraction(const std::map<uint64_t, ServerView>& servers, uint64_t node_id) {
  const ServerView* s = Find(servers, node_id);
  if (s == nullptr || s->capacity == 0) return 0;
  return 1.0 -
         static_cast<double>(std::min(s->free, s->capacity)) / static_cast<double>(s->capacity);
}

// The member to drop from an over-replicated chain: one on a zone the
// chain covers twice (the fullest such server; the head only if it is the
// only choice), else the last.
uint64_t PickDrop(const std::map<uint64_t, ServerView>& servers,
                  const std::vector<uint64_t>& holders) {
  std::map<std::string, int> per_zone;
  for (uint64_t id : holders)
    per_zone[ZoneOf(servers, id)]++;
  uint64_t best = 0;
  double best_used = -1;
  for (size_t i = 1; i < holders.size(); i++) {
    if (per_zone[ZoneOf(servers, holders[i])] < 2) continue;
    double used = UsedFraction(servers, holders[i]);
    if (used >= best_used) {
      best = holders[i];
      best_used = used;
    }
  }
  return best != 0 ? best : holders.back();
}

}  // namespace

ChunkVerdict JudgeChunk(const pb::ChunkRecord& record,
                        const std::map<uint64_t, ServerView>& servers, const RepairPolicy& policy,
                        const std::function<bool(uint64_t)>& sure, std::mt19937_64& rng) {
  ChunkVerdict v;
  const std::set<uint64_t> joining_before(record.joining().begin(), record.joining().end());
  std::vector<uint64_t> holders;  // members holding every acknowledged write
  std::vector<uint64_t> good;     // of those, the ones at the record's version
  std::vector<uint64_t> joiners;  // joining members on live servers
  std::vector<uint64_t> left;     // members leaving the chain
  for (uint64_t id : record.replicas()) {
    const ServerView* s = Find(servers, id);
    if (s == nullptr || !s->live) {
      left.push_back(id);  // dead: the caller judges only once liveness is settled
      continue;
    }
    if (!s->reported) {
      v.unknown = true;
      return v;
    }
    if (joining_before.count(id)) {
      joiners.push_back(id);
      continue;
    }
    auto held = s->held.find(record.chunk_id());
    bool missing = held == s->held.end();
    if (!missing && (held->second.corrupt || held->second.version > record.version())) {
      left.push_back(id);
      continue;
    }
    if (missing || held->second.version < record.version()) {
      if (!sure(id)) {
        v.doubtful.push_back(id);
        continue;
      }
      if (missing) {
        left.push_back(id);
        continue;
      }
      v.lagging.push_back(id);
    } else {
      good.push_back(id);
    }
    holders.push_back(id);
  }
  v.good = static_cast<int>(good.size());
  if (!v.doubtful.empty()) {
    v.unknown = true;
    return v;
  }
  const int wanted = static_cast<int>(policy.replication);
  v.zone_degraded = DistinctZones(servers, good) < std::min<size_t>(wanted, good.size());
  v.over_replicated = v.good > wanted;
  if (holders.empty()) {
    // Nothing left to copy from: wait for a server to come back.
    v.lost = true;
    return v;
  }

  // The chain after this step: holders first (the head must hold the
  // data), then joiners. Copies on leaving servers (draining, or moved off
  // by rebalance) stay until enough others exist, but do not count.
  std::vector<uint64_t> chain = holders;
  chain.insert(chain.end(), joiners.begin(), joiners.end());
  std::vector<uint64_t> joining = joiners;
  std::vector<uint64_t> staying;  // holders and joiners not leaving
  for (uint64_t id : chain)
    if (!policy.leaving.count(id)) staying.push_back(id);
  std::set<uint64_t> exclude(left.begin(), left.end());
  exclude.insert(policy.no_target.begin(), policy.no_target.end());
  exclude.insert(policy.leaving.begin(), policy.leaving.end());
  const bool dropped = !left.empty();
  bool changed = dropped;
  const int copies = static_cast<int>(staying.size());
  if (copies < wanted) {
    if (uint64_t t = PickTarget(servers, record.chunk_id(), chain, staying, exclude,
                                policy.chunk_size, /*any_zone=*/!policy.keep_zones, rng)) {
      chain.push_back(t);
      joining.push_back(t);
      changed = true;
      v.step.why = "copy " + std::to_string(copies + 1) + " of " + std::to_string(wanted);
    }
  } else if (joiners.empty() &&
             DistinctZones(servers, staying) < std::min<size_t>(wanted, staying.size())) {
    if (uint64_t t = PickTarget(servers, record.chunk_id(), chain, staying, exclude,
                                policy.chunk_size, /*any_zone=*/false, rng)) {
      chain.push_back(t);
      joining.push_back(t);
      changed = true;
      v.step.why = "a copy on a zone it lacks";
    }
  }
  if (!changed && joiners.empty() && v.lagging.empty()) {
    uint64_t drop = 0;
    int good_staying = 0;
    for (uint64_t id : good)
      if (!policy.leaving.count(id)) good_staying++;
    for (uint64_t id : good) {
      if (policy.leaving.count(id) && good_staying >= wanted) {
        drop = id;
        v.step.why = "moving off server " + std::to_string(id);
        break;
      }
    }
    if (drop == 0 && static_cast<int>(good.size()) > wanted) {
      drop = PickDrop(servers, good);
      v.step.why = "one copy too many";
    }
    if (drop != 0) {
      chain.erase(std::find(chain.begin(), chain.end(), drop));
      changed = true;
    }
  }
  if (dropped && v.step.why.empty()) v.step.why = "members lost";
  if (changed) {
    v.step.kind = RepairStep::Kind::kChange;
    v.step.bump = true;
  } else if (!joiners.empty() || !v.lagging.empty()) {
    v.step.kind = RepairStep::Kind::kRechain;
    v.step.why = joiners.empty() ? "members behind on version" : "joiners to finish";
  } else {
    return v;
  }
  v.step.replicas = std::move(chain);
  v.step.joining = std::move(joining);
  v.step.zone_degraded =
      DistinctZones(servers, v.step.replicas) < std::min<size_t>(wanted, v.step.replicas.size());
  return v;
}

}  // namespace dfs::meta
