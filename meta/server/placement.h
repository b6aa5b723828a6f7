// Where a new chunk's replicas go (DESIGN §3): `replication` chunk servers
// on distinct zones, chosen at random weighted by free space and load. With
// fewer zones than replicas the replicas spread over as many zones as exist
// and the chunk is marked zone-degraded.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"

namespace dfs::meta {

// A chunk server as the leader sees it now.
struct PlacementCandidate {
  uint64_t node_id = 0;
  std::string zone;
  uint64_t free_bytes = 0;
  uint32_t load = 0;  // requests in flight, as the server last reported
};

struct Placement {
  std::vector<uint64_t> replicas;  // write-chain order
  bool zone_degraded = false;      // fewer distinct zones than replicas wanted
};

// Picks up to `replication` distinct candidates with at least `chunk_size`
// free, one per zone while unused zones remain. Returns fewer replicas than
// asked when fewer candidates qualify (the repair scheduler tops them up),
// and NO_SPACE when none does.
Result<Placement> PlaceChunk(const std::vector<PlacementCandidate>& candidates,
                             uint32_t replication, uint64_t chunk_size, std::mt19937_64& rng);

// Whether a leader that has not settled yet should answer `placement`,
// made from the servers it has heard from (`live`), "try again": before it
// has listened for one node_dead_after, silence proves nothing (DESIGN §3),
// and the servers it has not heard from (`silent`: registered, active)
// could make the chain wider. It waits when they could add more than the
// one zone the failure model allows to be down, or a second copy to a lone
// one: a chunk acknowledged there must survive the loss of one zone. A
// zone outage that takes the leader with it does not stall new chunks.
bool PlacementWaitsForSilent(const Placement& placement,
                             const std::vector<PlacementCandidate>& live,
                             const std::vector<PlacementCandidate>& silent, uint32_t replication);

}  // namespace dfs::meta
