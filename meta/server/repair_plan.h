// The repair scheduler's judgement of one chunk (docs/self_healing.md): how
// healthy it is, and the one step that brings it closer to `replication`
// current copies on distinct zones. Pure: the chunk's record and a view of
// the servers in, a verdict out; no clock, no I/O, so every rule is tested
// without a cluster.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "meta/server/node_registry.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

// The step for one chunk. kChange commits a new chain (ChangeChain) and
// then has its head rechain it; kRechain only has the head bring the
// current chain's members to the record's version and copy its joiners.
struct RepairStep {
  enum class Kind { kNone, kRechain, kChange };
  Kind kind = Kind::kNone;
  std::vector<uint64_t> replicas;  // the chain after the step, write order
  std::vector<uint64_t> joining;   // of those, the ones to copy
  bool bump = false;               // kChange: the version goes up by one
  bool zone_degraded = false;
  std::string why;  // for the log
};

struct ChunkVerdict {
  // Members holding the record's version, not corrupt, on live servers.
  int good = 0;
  // Chain members that hold an older version of every acknowledged write
  // (a version move they missed): raised, not copied.
  std::vector<uint64_t> lagging;
  bool lost = false;           // no member could serve the chunk
  bool zone_degraded = false;  // good copies on fewer zones than wanted
  bool over_replicated = false;
  // No judgement this time: a live member's report is not in yet, or a
  // member looks short of the chunk but not for long enough to be sure (a
  // new chunk, a version move in flight).
  bool unknown = false;
  std::vector<uint64_t> doubtful;  // the members that looked short
  RepairStep step;
  // Lower first: chunks with fewer good copies are more endangered.
  int priority() const { return good; }
  bool healthy(uint32_t replication) const {
    return !unknown && !lost && good >= static_cast<int>(replication) && !zone_degraded &&
           lagging.empty() && step.kind == RepairStep::Kind::kNone;
  }
};

struct RepairPolicy {
  uint32_t replication = 3;
  uint64_t chunk_size = 64ull << 20;  // free space a new copy needs
  // Servers whose copies move elsewhere (draining, or too full for the
  // balance band): their copies do not count towards `replication`, and
  // go once enough others exist.
  std::set<uint64_t> leaving;
  // Servers that take no new copy (too full for the balance band).
  std::set<uint64_t> no_target;
  // New copies only on zones the staying copies do not cover (a move must
  // not cost zone spread).
  bool keep_zones = false;
};

// Judges one chunk. The rules, in order:
//   - a member is bad when its server is dead, or reported without the
//     chunk, with it corrupt, or with a newer version than the record;
//     bad members leave the chain (with a version bump, so they are stale
//     when they return) as long as one member that holds the data stays;
//   - a missing copy gets a new member (joining), on a zone the chain does
//     not cover if any live server there has room, else on any other
//     server (zone-degraded); one per step, most endangered chunks first
//     is the caller's order;
//   - with enough copies but fewer zones than possible, a copy is added on
//     a missing zone first, and an extra copy on a doubled zone is dropped
//     after;
//   - copies on leaving servers (policy.leaving) are replaced the same way
//     and dropped once enough others exist; an extra copy goes from a
//     doubled zone, the fullest server first;
//   - leftover joiners and lagging members are finished by a rechain.
// `sure(node_id)` says whether a member that looks short of the chunk
// (missing it, or lagging) has looked so long enough to act on.
ChunkVerdict JudgeChunk(const pb::ChunkRecord& record,
                        const std::map<uint64_t, ServerView>& servers, const RepairPolicy& policy,
                        const std::function<bool(uint64_t)>& sure, std::mt19937_64& rng);

}  // namespace dfs::meta
