// The Raft consensus core: a pure, single-threaded, deterministic state
// machine in the style of etcd's raft. Messages and ticks go in; a Ready
// (what to persist, send and apply) comes out. It has no clock, thread,
// socket or disk: a driver does persistence, transport and apply, and the
// simulator drives it with virtual time.
//
// Implemented: randomized election timeouts, pre-vote, check-quorum (with
// leader leases that make followers ignore disruptive votes), a no-op entry
// on election, pipelined and batched replication with bounded inflight
// appends, fast backtracking by term, ReadIndex, leadership transfer,
// single-server membership changes with learners, and snapshots.
//
// Threading: not thread-safe; one driver thread calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "meta/raft/progress.h"
#include "meta/raft/raft_log.h"
#include "meta/raft/storage.h"
#include "meta/raft/types.h"

namespace dfs::raft {

struct Config {
  NodeId id = kNone;
  // In ticks. The election timeout is drawn anew in
  // [election_tick, 2 * election_tick) at every reset.
  int election_tick = 10;
  int heartbeat_tick = 1;
  uint64_t max_bytes_per_append = 1 << 20;
  uint64_t max_committed_bytes_per_ready = 8 << 20;
  size_t max_inflight_appends = 64;
  bool pre_vote = true;
  bool check_quorum = true;
  // Lease reads (needs check_quorum): the leader answers ReadIndex at once,
  // without a heartbeat round, while a quorum acknowledged a heartbeat it
  // sent fewer than election_tick - 2 ticks ago: those followers ignore
  // votes for election_tick ticks after receiving it, so no other leader
  // can exist yet. Assumes tick rates drift apart by less than one tick per
  // election timeout. A node also ignores votes for its first election_tick
  // ticks, so that a follower that restarts does not forget the lease it
  // granted. Leadership transfer ends the leases of the term.
  bool lease_read = false;
  // A learner is promoted only when it lags the leader by at most this
  // many entries.
  uint64_t max_learner_lag = 64;
  // Seeds the randomized election timeout; the simulator passes its seed.
  uint64_t seed = 0;
};

class Raft {
 public:
  // REQUIRES: storage outlives the Raft and holds the node's persisted state
  // (for a new group, an empty log and the initial membership).
  Raft(const Config& config, const Storage* storage);

  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // Advances logical time by one tick.
  void Tick();
  // Starts an election now (as if the election timeout had passed).
  void Campaign();
  // Feeds a message from a peer. Messages from unknown senders, stale terms
  // or for other nodes are handled as Raft says (mostly ignored). Malformed
  // ones, which no honest peer sends (docs/raft.md), are dropped.
  void Step(const Message& m);

  // Appends data to the log. Only the leader accepts.
  RaftError Propose(std::string data);
  // Proposes one membership change. Only the leader accepts, one at a time.
  RaftError ProposeConfChange(const ConfChange& cc);
  // Requests a linearizable read; a ReadState with `context` (which must be
  // unique among outstanding reads) appears in a later Ready. Followers
  // forward to the leader. Returns kNotLeader when no leader is known; the
  // read may still be dropped silently (the caller retries on timeout).
  RaftError ReadIndex(std::string context);
  // Hands leadership to `to` once it has caught up. On the leader only.
  RaftError TransferLeadership(NodeId to);
  // The transport could not reach `to` / finished sending it a snapshot.
  void ReportUnreachable(NodeId to);
  void ReportSnapshot(NodeId to, bool failed);

  bool HasReady() const;
  // REQUIRES: no other call between GetReady() and Advance().
  Ready GetReady();
  // The driver has done everything `rd` asked.
  void Advance(const Ready& rd);

  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return lead_; }
  StateRole role() const { return role_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  const RaftLog& log() const { return log_; }
  // The membership as of the applied index.
  ConfState conf_state() const;
  bool IsVoter(NodeId id) const;
  size_t VoterCount() const;
  // Leader only: the progress of a member, nullptr for non-members.
  const Progress* progress(NodeId id) const;

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  bool Promotable() const;
  bool HasUnappliedConfChange() const;
  void DoCampaign(CampaignType type);
  // Records a vote; returns +1 won, -1 lost, 0 pending.
  int Poll(NodeId from, bool granted);

  void TickElection();
  void TickHeartbeat();

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m, Progress& pr);
  void HandleHeartbeatResponse(const Message& m, Progress& pr);
  void HandleReadIndexRequest(const Message& m);
  void HandleTransferLeader(NodeId transferee);
  bool Restore(const Snapshot& snapshot);

  void Send(Message m);
  bool SendAppend(NodeId to, bool send_if_empty);
  void SendHeartbeat(NodeId to, const std::string& context);
  void SendTimeoutNow(NodeId to);
  void BroadcastAppend();
  void BroadcastHeartbeat(const std::string& context);
  bool AppendEntries(std::vector<Entry> entries);
  bool MaybeCommit();
  uint64_t QuorumMatchIndex() const;
  bool QuorumActive();
  bool CommittedEntryInCurrentTerm() const;
  bool LeaseValid() const;
  bool VotesBlockedByLease() const;
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }

  // Membership, applied in Advance() as conf-change entries get applied.
  void ApplyConfChange(const ConfChange& cc);
  void ResetMembership(const ConfState& cs);

  // ReadIndex bookkeeping on the leader.
  struct PendingRead {
    uint64_t index;
    NodeId from;
    std::string context;
    std::vector<NodeId> acks;
  };
  void ReleaseQueuedReads();
  void ProcessReadAck(const std::string& context, NodeId from);
  void RespondToRead(NodeId from, uint64_t index, const std::string& context);

  uint64_t NextRandom();

  const NodeId id_;
  const Config config_;
  RaftLog log_;

  uint64_t term_ = 0;
  NodeId vote_ = kNone;
  NodeId lead_ = kNone;
  StateRole role_ = StateRole::kFollower;
  NodeId lead_transferee_ = kNone;
  uint64_t pending_conf_index_ = 0;

  std::map<NodeId, Progress> progress_;  // voters and learners, including self
  std::map<NodeId, bool> votes_;

  uint64_t ticks_ = 0;          // ticks since this Raft was made
  bool lease_revoked_ = false;  // a leadership transfer began in this term
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t random_state_;

  std::deque<PendingRead> pending_reads_;      // awaiting a heartbeat quorum
  std::vector<Message> queued_read_requests_;  // awaiting a commit in this term

  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  bool ready_outstanding_ = false;
};

}  // namespace dfs::raft
