// ReplicaReport: the replicas one chunk server holds, as it reported them in
// its heartbeats, and the leader's verdict on them (docs/meta.md,
// "Heartbeats and replica reports"): which replicas the server must delete
// and which garbage replicas it has drained. Soft state, like liveness: a
// new leader, or a server that registers again, starts from the server's
// next full report.
//
// The verdicts depend only on the report (and where the last verdicts
// stopped) and on the replicated state seen through ChunkCatalog: no
// clock, no I/O of their own, so they are tested without a store, gRPC or
// Raft. Not thread-safe: NodeRegistry holds one per server, under a lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/result.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

class MetaStore;

// The version of a delete that takes every version of a replica: garbage
// chunks are dead for good (their ids are never reused and never come back
// to a file).
inline constexpr uint64_t kEveryVersion = std::numeric_limits<uint64_t>::max();

// What the replicated state says of one chunk id.
struct ChunkFate {
  enum class Kind {
    kUnknown,  // neither a file's chunk nor garbage: an orphan
    kLive,     // a file's chunk; `record` is its chunk map record
    kGarbage,  // freed; `record` is its garbage record
  };
  Kind kind = Kind::kUnknown;
  pb::ChunkRecord record;
};

// The replicated state as the verdicts read it: a seam, so that tests can
// use a map instead of a MetaStore.
class ChunkCatalog {
 public:
  virtual ~ChunkCatalog() = default;
  virtual Result<ChunkFate> Fate(uint64_t chunk_id) const = 0;
  // Up to `max` ids, ascending and above `after`, of the garbage chunks
  // whose records list `node_id`.
  virtual Result<std::vector<uint64_t>> GarbageOn(uint64_t node_id, uint64_t after,
                                                  size_t max) const = 0;
};

// ChunkCatalog over a MetaStore. REQUIRES: the store outlives it; the
// caller has passed a Raft read barrier (a new leader may not yet have
// applied what its predecessor committed, and would see a new chunk as an
// orphan).
class StoreCatalog final : public ChunkCatalog {
 public:
  explicit StoreCatalog(const MetaStore* store) : store_(store) {}
  Result<ChunkFate> Fate(uint64_t chunk_id) const override;
  Result<std::vector<uint64_t>> GarbageOn(uint64_t node_id, uint64_t after,
                                          size_t max) const override;

 private:
  const MetaStore* store_;
};

// One replica as its server last reported it.
struct HeldReplica {
  uint64_t version = 0;
  bool corrupt = false;
};

// A replica a server reported corrupt (for the repair scheduler).
struct CorruptReplica {
  uint64_t node_id = 0;
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};

// How much one heartbeat may cost and carry.
struct ReportLimits {
  size_t max_deletes = 1000;     // deletes in one heartbeat reply
  size_t max_checks = 1000;      // reported replicas judged per heartbeat (two reads each)
  size_t sweep_checks = 64;      // of those, by the background re-check of all replicas
  size_t garbage_window = 1000;  // garbage records of this server looked at per heartbeat
};

// One heartbeat's verdicts.
struct ReplicaVerdicts {
  // Replicas to delete, each at or below its version.
  std::vector<pb::ChunkReport> deletes;
  // Garbage chunks this server no longer holds: ForgetGarbage(chunk, node).
  std::vector<uint64_t> forgets;
  // No full report is held: the server must send one.
  bool send_full_report = false;
};

class ReplicaReport {
 public:
  explicit ReplicaReport(uint64_t node_id, ReportLimits limits = {})
      : node_id_(node_id), limits_(limits) {}

  // Takes in a heartbeat's report. A full report replaces what is held; an
  // incremental one updates it. Without a full report held, an incremental
  // report is not kept: only its deletions count (they drain garbage).
  void Apply(const pb::HeartbeatRequest& req);

  // The verdicts on what has been reported, the rules of docs/meta.md:
  //   - a replica reported deleted that its garbage record lists: forget;
  //   - without a full report: nothing more, and send_full_report;
  //   - garbage listing this server (a window that moves on each call):
  //     held, delete at kEveryVersion; not held, forget;
  //   - reported replicas (those changed since the last call first, then a
  //     sweep over all of them: fast right after a full report, slow after
  //     that): an unknown chunk id (orphan) is deleted at the reported
  //     version; a garbage chunk at kEveryVersion; a live chunk only when
  //     the reported version is below the record's AND the record's chain
  //     does not list this server (a listed one is about to get the new
  //     version, a newer or equal one may be a copy about to join).
  // At most limits.max_deletes deletes; what does not fit is judged on a
  // later call. A failed read loses nothing that a later sweep does not
  // find again.
  Result<ReplicaVerdicts> Judge(const ChunkCatalog& catalog);

  // Whether a full report is held.
  bool complete() const { return complete_; }
  // The replica of `chunk_id` as reported; nullopt if not held (or no full
  // report is held).
  std::optional<HeldReplica> Held(uint64_t chunk_id) const;
  size_t held_count() const { return held_.size(); }
  // Every replica held (empty without a full report).
  const std::map<uint64_t, HeldReplica>& AllHeld() const { return held_; }
  // Replicas reported corrupt: data to keep readable until repaired, never
  // a source or a live copy for placement and repair.
  std::vector<CorruptReplica> Corrupt() const;

 private:
  const uint64_t node_id_;
  const ReportLimits limits_;
  bool complete_ = false;
  std::map<uint64_t, HeldReplica> held_;  // by chunk id
  std::set<uint64_t> changed_;            // held, not judged since they changed
  std::set<uint64_t> gone_;               // reported deleted since the last Judge
  // The sweep re-judges every held replica in chunk id order: the state
  // moves under replicas that do not change (a chunk is unlinked, a chain
  // drops this server).
  std::optional<uint64_t> sweep_after_;  // nullopt: from the first
  bool sweep_fast_ = false;              // first pass after a full report
  uint64_t garbage_after_ = 0;           // the garbage window starts above this id
};

}  // namespace dfs::meta
