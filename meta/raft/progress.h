// What the leader knows about each follower's log (§5.3): the match and
// next index, and how fast it may send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace dfs::raft {

enum class ProgressState : uint8_t {
  kProbe,      // next is a guess: one append in flight until it answers
  kReplicate,  // next is known: pipeline appends, bounded by inflights
  kSnapshot,   // the follower needs a snapshot; send nothing until it lands
};

const char* ProgressStateName(ProgressState state);

// Bounds the appends in flight to one follower (flow control). Holds the
// last index of each unacknowledged append, oldest first.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) {}
  bool Full() const { return last_indexes_.size() >= capacity_; }
  size_t Count() const { return last_indexes_.size(); }
  void Add(uint64_t last_index) { last_indexes_.push_back(last_index); }
  // Frees every append whose last index is <= index.
  void FreeLE(uint64_t index) {
    while (!last_indexes_.empty() && last_indexes_.front() <= index)
      last_indexes_.pop_front();
  }
  void FreeFirstOne() {
    if (!last_indexes_.empty()) last_indexes_.pop_front();
  }
  void Reset() { last_indexes_.clear(); }

 private:
  size_t capacity_;
  std::deque<uint64_t> last_indexes_;
};

struct Progress {
  explicit Progress(size_t max_inflight) : inflights(max_inflight) {}

  uint64_t match = 0;  // highest index known to be replicated on the follower
  uint64_t next = 1;   // index of the next entry to send
  ProgressState state = ProgressState::kProbe;
  uint64_t pending_snapshot = 0;  // kSnapshot: index of the snapshot sent
  bool recent_active = false;     // heard from it since the last check-quorum
  uint64_t lease_ack = 0;         // the send tick of the newest heartbeat it acknowledged
  bool probe_sent = false;        // kProbe: an append is in flight
  bool is_learner = false;
  Inflights inflights;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // The follower acknowledged up to n. Returns whether match moved.
  bool MaybeUpdate(uint64_t n);
  // Pipelining: assume the append ending at n will succeed.
  void OptimisticUpdate(uint64_t n) { next = n + 1; }
  // The follower rejected an append after `rejected`; `match_hint` is where
  // the logs may match. Returns false for a stale rejection.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  bool IsPaused() const;
};

}  // namespace dfs::raft
