#include "meta/raft/raft.h"

#include <algorithm>
#include <functional>

#include "common/check.h"

namespace dfs::raft {

namespace {

constexpr char kTransferContext[] = "transfer";

// Terms and indexes grow by one per election or entry: no honest peer comes
// near this, and a message beyond it could make ours overflow (term + 1).
constexpr uint64_t kMaxTermOrIndex = uint64_t{1} << 62;

// A message no honest peer sends, which Step drops. Only what can be judged
// without the node's state; the handlers check the rest.
bool Malformed(const Message& m) {
  // Only requests forwarded to the leader travel without a term (Send), and
  // the pre-vote refusal of a node that never saw one. Anything else with
  // term 0 would pass as a message of our own term (a heartbeat would set
  // our term to 0).
  if (m.term == 0 && m.type != MessageType::kProp && m.type != MessageType::kReadIndex &&
      m.type != MessageType::kTransferLeader && m.type != MessageType::kPreVoteResp) {
    return true;
  }
  if (m.term > kMaxTermOrIndex || m.log_term > kMaxTermOrIndex || m.index > kMaxTermOrIndex ||
      m.commit > kMaxTermOrIndex || m.reject_hint > kMaxTermOrIndex) {
    return true;
  }
  if (m.type == MessageType::kSnap) {
    if (!m.snapshot || m.snapshot->meta.index > kMaxTermOrIndex ||
        m.snapshot->meta.term > kMaxTermOrIndex) {
      return true;
    }
    // A learner listed twice, or as a voter too (ResetMembership).
    const ConfState& cs = m.snapshot->meta.conf_state;
    for (auto it = cs.learners.begin(); it != cs.learners.end(); ++it) {
      if (std::find(cs.voters.begin(), cs.voters.end(), *it) != cs.voters.end() ||
          std::find(cs.learners.begin(), it, *it) != it) {
        return true;
      }
    }
  }
  // Entries come only in appends, as the log holds them: one run right
  // after (index, log_term), terms never decreasing nor above the
  // leader's, membership changes that decode.
  if (!m.entries.empty() && m.type != MessageType::kApp) return true;
  uint64_t index = m.index;
  uint64_t term = m.log_term;
  for (const Entry& e : m.entries) {
    if (e.index != index + 1 || e.term < term || e.term == 0 || e.term > m.term) return true;
    if (e.type == EntryType::kConfChange && !ConfChange::Decode(e.data)) return true;
    index = e.index;
    term = e.term;
  }
  return false;
}

}  // namespace

Raft::Raft(const Config& config, const Storage* storage)
    : id_(config.id),
      config_(config),
      log_(storage, config.max_committed_bytes_per_ready),
      random_state_(config.seed ^ (config.id * 0x9E3779B97F4A7C15ull)) {
  DFS_CHECK_NE(id_, kNone);
  DFS_CHECK_GT(config.heartbeat_tick, 0);
  DFS_CHECK_GT(config.election_tick, config.heartbeat_tick);
  HardState hs = storage->InitialHardState();
  ResetMembership(storage->InitialConfState());
  if (hs.commit != 0) {
    DFS_CHECK_LE(hs.commit, log_.LastIndex()) << "persisted commit beyond the persisted log";
    log_.CommitTo(hs.commit);
  }
  term_ = hs.term;
  vote_ = hs.vote;
  // The core always restarts at the snapshot and hands out every committed
  // entry after it: membership changes there must be replayed. A driver
  // skips the entries its state machine already holds.
  prev_hard_state_ = HardState{term_, vote_, log_.committed()};
  BecomeFollower(term_, kNone);
  prev_soft_state_ = SoftState{lead_, role_};
}

uint64_t Raft::NextRandom() {
  // splitmix64: deterministic for a given seed, good enough for timeouts.
  uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// ---------------------------------------------------------------- membership

void Raft::ResetMembership(const ConfState& cs) {
  progress_.clear();
  for (NodeId id : cs.voters)
    progress_.emplace(id, Progress(config_.max_inflight_appends));
  for (NodeId id : cs.learners) {
    auto [it, inserted] = progress_.emplace(id, Progress(config_.max_inflight_appends));
    DFS_CHECK(inserted) << "node " << id << " is both voter and learner";
    it->second.is_learner = true;
  }
  for (auto& [id, pr] : progress_) {
    pr.next = log_.LastIndex() + 1;
    if (id == id_) pr.match = log_.LastIndex();
  }
}

ConfState Raft::conf_state() const {
  ConfState cs;
  for (const auto& [id, pr] : progress_)
    (pr.is_learner ? cs.learners : cs.voters).push_back(id);
  return cs;
}

bool Raft::IsVoter(NodeId id) const {
  auto it = progress_.find(id);
  return it != progress_.end() && !it->second.is_learner;
}

size_t Raft::VoterCount() const {
  size_t n = 0;
  for (const auto& [id, pr] : progress_)
    n += pr.is_learner ? 0 : 1;
  return n;
}

const Progress* Raft::progress(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void Raft::ApplyConfChange(const ConfChange& cc) {
  switch (cc.type) {
    case ConfChangeType::kAddLearner:
      if (!progress_.count(cc.node)) {
        auto& pr = progress_.emplace(cc.node, Progress(config_.max_inflight_appends)).first->second;
        pr.is_learner = true;
        pr.next = log_.LastIndex() + 1;
        pr.recent_active = true;  // give it a chance before check-quorum counts it
      }
      break;
    case ConfChangeType::kAddVoter: {
      auto it = progress_.find(cc.node);
      if (it == progress_.end()) {
        auto& pr = progress_.emplace(cc.node, Progress(config_.max_inflight_appends)).first->second;
        pr.next = log_.LastIndex() + 1;
        pr.recent_active = true;
      } else {
        it->second.is_learner = false;
      }
      break;
    }
    case ConfChangeType::kRemoveNode:
      progress_.erase(cc.node);
      votes_.erase(cc.node);
      if (lead_transferee_ == cc.node) AbortLeaderTransfer();
      break;
  }
  if (role_ != StateRole::kLeader) return;
  if (!progress_.count(id_) || progress_.at(id_).is_learner) {
    // The leader was removed: stop leading. The others elect a new leader.
    BecomeFollower(term_, kNone);
    return;
  }
  // The quorum changed: entries may now be committed.
  if (MaybeCommit()) BroadcastAppend();
}

// --------------------------------------------------------------- state change

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  for (auto& [id, pr] : progress_) {
    bool learner = pr.is_learner;
    pr = Progress(config_.max_inflight_appends);
    pr.is_learner = learner;
    pr.next = log_.LastIndex() + 1;
    if (id == id_) pr.match = log_.LastIndex();
  }
  pending_conf_index_ = 0;
  lease_revoked_ = false;
  pending_reads_.clear();
  queued_read_requests_.clear();
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(NextRandom() % config_.election_tick);
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  role_ = StateRole::kFollower;
}

void Raft::BecomePreCandidate() {
  DFS_CHECK(role_ != StateRole::kLeader);
  // Pre-vote changes neither term nor vote: a partitioned node that keeps
  // failing pre-votes does not inflate the term and disrupt the cluster.
  votes_.clear();
  lead_ = kNone;
  role_ = StateRole::kPreCandidate;
}

void Raft::BecomeCandidate() {
  DFS_CHECK(role_ != StateRole::kLeader);
  Reset(term_ + 1);
  vote_ = id_;
  role_ = StateRole::kCandidate;
}

void Raft::BecomeLeader() {
  DFS_CHECK(role_ != StateRole::kFollower);
  Reset(term_);
  lead_ = id_;
  role_ = StateRole::kLeader;
  progress_.at(id_).BecomeReplicate();
  progress_.at(id_).recent_active = true;
  // The no-op entry (§8): commits every entry of earlier terms, and a
  // membership change may follow only once it is applied (the fix for the
  // single-server change bug in Ongaro's note).
  Entry noop;
  AppendEntries({noop});
  pending_conf_index_ = log_.LastIndex();
}

bool Raft::Promotable() const {
  auto it = progress_.find(id_);
  return it != progress_.end() && !it->second.is_learner;
}

bool Raft::HasUnappliedConfChange() const {
  if (log_.committed() <= log_.applied()) return false;
  auto entries = log_.Slice(log_.applied() + 1, log_.committed() + 1, UINT64_MAX);
  if (!entries) return false;
  for (const Entry& e : *entries) {
    if (e.type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::Campaign() {
  if (role_ == StateRole::kLeader || !Promotable()) return;
  // A membership change committed but not applied would change who votes.
  if (HasUnappliedConfChange()) return;
  DoCampaign(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
}

void Raft::DoCampaign(CampaignType type) {
  uint64_t term;
  MessageType vote_type;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    term = term_ + 1;  // the term it would campaign in
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    term = term_;
  }
  if (Poll(id_, true) == 1) {
    // A single voter wins at once.
    if (type == CampaignType::kPreElection) {
      DoCampaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (const auto& [id, pr] : progress_) {
    if (id == id_ || pr.is_learner) continue;
    Message m;
    m.type = vote_type;
    m.to = id;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    if (type == CampaignType::kTransfer) m.context = kTransferContext;
    Send(std::move(m));
  }
}

int Raft::Poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);
  size_t granted_count = 0, rejected_count = 0;
  for (const auto& [id, g] : votes_) {
    if (!IsVoter(id)) continue;
    (g ? granted_count : rejected_count)++;
  }
  size_t quorum = VoterCount() / 2 + 1;
  if (granted_count >= quorum) return 1;
  if (rejected_count >= quorum) return -1;
  return 0;
}

// ---------------------------------------------------------------------- ticks

void Raft::Tick() {
  DFS_CHECK(!ready_outstanding_) << "Tick between GetReady and Advance";
  ticks_++;
  if (role_ == StateRole::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  election_elapsed_++;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    Campaign();
  }
}

void Raft::TickHeartbeat() {
  heartbeat_elapsed_++;
  election_elapsed_++;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !QuorumActive()) {
      // Cut off from a majority: stop serving, so a stale leader cannot
      // answer reads or hold clients while another leader commits.
      BecomeFollower(term_, kNone);
      return;
    }
    if (lead_transferee_ != kNone) AbortLeaderTransfer();  // took too long
  }
  if (role_ != StateRole::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    // Carry the newest pending read: if its own heartbeat round was lost,
    // this one confirms it (and every read before it).
    BroadcastHeartbeat(pending_reads_.empty() ? "" : pending_reads_.back().context);
  }
}

bool Raft::LeaseValid() const {
  if (!config_.lease_read || !config_.check_quorum || role_ != StateRole::kLeader ||
      lease_revoked_ || lead_transferee_ != kNone) {
    return false;
  }
  std::vector<uint64_t> acks;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) acks.push_back(id == id_ ? ticks_ : pr.lease_ack);
  }
  const size_t quorum = VoterCount() / 2 + 1;
  if (acks.size() < quorum) return false;
  std::nth_element(acks.begin(), acks.begin() + (quorum - 1), acks.end(), std::greater<>());
  const uint64_t sent = acks[quorum - 1];  // a quorum acknowledged a heartbeat sent then
  // A follower ignores votes for election_tick of its ticks after receiving
  // it: at least election_tick - 1 tick intervals after we sent it. Now is
  // less than ticks_ - sent + 1 intervals after; one more tick for drift.
  return sent > 0 && ticks_ + 3 <= sent + static_cast<uint64_t>(config_.election_tick);
}

bool Raft::VotesBlockedByLease() const {
  if (!config_.check_quorum) return false;
  if (lead_ != kNone && election_elapsed_ < config_.election_tick) return true;
  // Just (re)started: we may have acknowledged a lease before a crash.
  return config_.lease_read && ticks_ < static_cast<uint64_t>(config_.election_tick);
}

bool Raft::QuorumActive() {
  size_t active = 0;
  for (auto& [id, pr] : progress_) {
    if (id == id_) {
      pr.recent_active = true;
    }
    if (!pr.is_learner && pr.recent_active) active++;
    if (id != id_) pr.recent_active = false;
  }
  return active >= VoterCount() / 2 + 1;
}

// ----------------------------------------------------------------------- step

void Raft::Step(const Message& m) {
  DFS_CHECK(!ready_outstanding_) << "Step between GetReady and Advance";
  if (m.to != id_ && m.to != kNone) return;
  if (Malformed(m)) return;

  if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      bool force = m.context == kTransferContext;
      // A follower that heard from a live leader within the minimum
      // election timeout ignores votes: a removed or partitioned node
      // cannot depose a healthy leader.
      if (!force && VotesBlockedByLease()) return;
    }
    if (m.type == MessageType::kPreVote) {
      // Never change term on a pre-vote request.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // The term in a granted pre-vote reply is the one we will campaign in.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNone);
    }
  } else if (m.term < term_ && m.term != 0) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A stale leader (e.g. back from a partition) learns our term and
      // steps down; without this, pre-vote could leave it stuck.
      Message resp;
      resp.type = MessageType::kAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.reject = true;
      Send(std::move(resp));
    }
    return;
  }

  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      HandleVoteRequest(m);
      return;
    default:
      break;
  }
  switch (role_) {
    case StateRole::kLeader:
      StepLeader(m);
      break;
    case StateRole::kCandidate:
    case StateRole::kPreCandidate:
      StepCandidate(m);
      break;
    case StateRole::kFollower:
      StepFollower(m);
      break;
  }
}

void Raft::HandleVoteRequest(const Message& m) {
  bool pre = m.type == MessageType::kPreVote;
  bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) || (pre && m.term > term_);
  Message resp;
  resp.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  resp.to = m.from;
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    // Reply in the candidate's term: a pre-vote reply must carry the future
    // term so the pre-candidate counts it.
    resp.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  Send(std::move(resp));
}

void Raft::StepLeader(const Message& m) {
  auto it = progress_.find(m.from);
  switch (m.type) {
    case MessageType::kReadIndex:
      HandleReadIndexRequest(m);
      return;
    case MessageType::kTransferLeader:
      if (it != progress_.end()) HandleTransferLeader(m.from);
      return;
    default:
      break;
  }
  if (it == progress_.end()) return;  // not a member
  Progress& pr = it->second;
  switch (m.type) {
    case MessageType::kAppResp:
      HandleAppendResponse(m, pr);
      break;
    case MessageType::kHeartbeatResp:
      HandleHeartbeatResponse(m, pr);
      break;
    default:
      break;
  }
}

void Raft::HandleAppendResponse(const Message& m, Progress& pr) {
  // No honest follower answers about entries we do not have. Taken, it
  // would put match past our log (and a follower a forged snapshot put
  // ahead would be sent our snapshot again and again).
  if (m.index > log_.LastIndex()) return;
  pr.recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term);
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from, true);
    }
    return;
  }
  bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index) && !(pr.match == m.index && pr.state == ProgressState::kProbe)) {
    return;
  }
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index);
      break;
  }
  if (MaybeCommit()) {
    ReleaseQueuedReads();
    BroadcastAppend();
  } else if (was_paused) {
    SendAppend(m.from, true);
  }
  // Fill the pipeline.
  while (SendAppend(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from);
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.lease_ack = std::max(pr.lease_ack, m.index);
  pr.probe_sent = false;
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.LastIndex()) SendAppend(m.from, true);
  if (!m.context.empty()) ProcessReadAck(m.context, m.from);
}

void Raft::StepCandidate(const Message& m) {
  MessageType my_resp =
      role_ == StateRole::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kApp:
      BecomeFollower(m.term, m.from);
      HandleAppend(m);
      return;
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      return;
    case MessageType::kSnap:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      return;
    default:
      break;
  }
  if (m.type != my_resp) return;
  int result = Poll(m.from, !m.reject);
  if (result == 1) {
    if (role_ == StateRole::kPreCandidate) {
      DoCampaign(CampaignType::kElection);
    } else {
      BecomeLeader();
      BroadcastAppend();
    }
  } else if (result == -1) {
    // Lost: the rejecting term may be higher, handled above; stay in ours.
    BecomeFollower(term_, kNone);
  }
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // The leader hands over: campaign at once, past any lease; but not
      // with a committed membership change unapplied (as in Campaign).
      if (Promotable() && !HasUnappliedConfChange()) DoCampaign(CampaignType::kTransfer);
      break;
    case MessageType::kReadIndexResp:
      read_states_.push_back(ReadState{m.index, m.context});
      break;
    default:
      break;
  }
}

void Raft::HandleAppend(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  if (auto last_new = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last_new;
    Send(std::move(resp));
    return;
  }
  // Tell the leader where our log may match, so it skips a whole term of
  // mismatches per round trip instead of one entry.
  uint64_t hint = log_.FindConflictByTerm(std::min(m.index, log_.LastIndex()), m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hint;
  resp.log_term = log_.Term(hint).value_or(0);
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.index = m.index;  // the leader's send tick, for its lease
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  DFS_CHECK(m.snapshot != nullptr);
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  resp.index = Restore(*m.snapshot) ? log_.LastIndex() : log_.committed();
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& snapshot) {
  if (snapshot.meta.index <= log_.committed()) return false;
  if (log_.MatchTerm(snapshot.meta.index, snapshot.meta.term)) {
    // We have the entries already: just commit them.
    log_.CommitTo(snapshot.meta.index);
    return false;
  }
  log_.Restore(snapshot);
  ResetMembership(snapshot.meta.conf_state);
  return true;
}

// ------------------------------------------------------------------ proposals

RaftError Raft::Propose(std::string data) {
  DFS_CHECK(!ready_outstanding_) << "Propose between GetReady and Advance";
  if (role_ != StateRole::kLeader) return RaftError::kNotLeader;
  if (!progress_.count(id_)) return RaftError::kProposalDropped;
  if (lead_transferee_ != kNone) return RaftError::kProposalDropped;
  Entry e;
  e.data = std::move(data);
  AppendEntries({std::move(e)});
  BroadcastAppend();
  return RaftError::kOk;
}

RaftError Raft::ProposeConfChange(const ConfChange& cc) {
  DFS_CHECK(!ready_outstanding_);
  if (role_ != StateRole::kLeader) return RaftError::kNotLeader;
  if (lead_transferee_ != kNone) return RaftError::kProposalDropped;
  if (pending_conf_index_ > log_.applied()) return RaftError::kConfChangeInProgress;
  if (cc.node == kNone) return RaftError::kInvalidConfChange;
  auto it = progress_.find(cc.node);
  switch (cc.type) {
    case ConfChangeType::kAddLearner:
      if (it != progress_.end()) return RaftError::kInvalidConfChange;
      break;
    case ConfChangeType::kAddVoter:
      // Only a learner that has caught up may vote: a new empty voter
      // would count toward quorum while it copies the whole log.
      if (it == progress_.end() || !it->second.is_learner) return RaftError::kInvalidConfChange;
      if (it->second.match + config_.max_learner_lag < log_.LastIndex()) {
        return RaftError::kLearnerBehind;
      }
      break;
    case ConfChangeType::kRemoveNode:
      if (it == progress_.end()) return RaftError::kInvalidConfChange;
      if (!it->second.is_learner && VoterCount() == 1) return RaftError::kInvalidConfChange;
      break;
  }
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = cc.Encode();
  AppendEntries({std::move(e)});
  pending_conf_index_ = log_.LastIndex();
  BroadcastAppend();
  return RaftError::kOk;
}

RaftError Raft::ReadIndex(std::string context) {
  DFS_CHECK(!ready_outstanding_);
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = id_;
  m.context = std::move(context);
  if (role_ == StateRole::kLeader) {
    HandleReadIndexRequest(m);
    return RaftError::kOk;
  }
  if (lead_ == kNone) return RaftError::kNotLeader;
  m.to = lead_;
  Send(std::move(m));
  return RaftError::kOk;
}

void Raft::HandleReadIndexRequest(const Message& m) {
  if (VoterCount() == 1 && IsVoter(id_)) {
    RespondToRead(m.from, log_.committed(), m.context);
    return;
  }
  // The commit index is only known to be current once an entry of this
  // term is committed (§6.4): hold reads until the no-op commits.
  if (!CommittedEntryInCurrentTerm()) {
    queued_read_requests_.push_back(m);
    return;
  }
  if (LeaseValid()) {
    RespondToRead(m.from, log_.committed(), m.context);
    return;
  }
  pending_reads_.push_back(PendingRead{log_.committed(), m.from, m.context, {id_}});
  BroadcastHeartbeat(m.context);
}

void Raft::ReleaseQueuedReads() {
  if (queued_read_requests_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<Message> queued;
  queued.swap(queued_read_requests_);
  for (const Message& m : queued)
    HandleReadIndexRequest(m);
}

void Raft::ProcessReadAck(const std::string& context, NodeId from) {
  auto it = std::find_if(pending_reads_.begin(), pending_reads_.end(),
                         [&](const PendingRead& r) { return r.context == context; });
  if (it == pending_reads_.end()) return;
  if (std::find(it->acks.begin(), it->acks.end(), from) == it->acks.end()) {
    it->acks.push_back(from);
  }
  size_t voter_acks = 0;
  for (NodeId id : it->acks)
    voter_acks += IsVoter(id) ? 1 : 0;
  if (voter_acks < VoterCount() / 2 + 1) return;
  // A quorum confirmed our leadership after this read and every earlier one
  // arrived: all of them are safe at their recorded index.
  auto end = std::next(it);
  for (auto r = pending_reads_.begin(); r != end; ++r)
    RespondToRead(r->from, r->index, r->context);
  pending_reads_.erase(pending_reads_.begin(), end);
}

void Raft::RespondToRead(NodeId from, uint64_t index, const std::string& context) {
  if (from == id_ || from == kNone) {
    read_states_.push_back(ReadState{index, context});
    return;
  }
  Message resp;
  resp.type = MessageType::kReadIndexResp;
  resp.to = from;
  resp.index = index;
  resp.context = context;
  Send(std::move(resp));
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.Term(log_.committed()).value_or(0) == term_;
}

RaftError Raft::TransferLeadership(NodeId to) {
  DFS_CHECK(!ready_outstanding_);
  if (role_ != StateRole::kLeader) return RaftError::kNotLeader;
  if (!IsVoter(to)) return RaftError::kInvalidConfChange;
  HandleTransferLeader(to);
  return RaftError::kOk;
}

void Raft::HandleTransferLeader(NodeId transferee) {
  auto it = progress_.find(transferee);
  if (it == progress_.end() || it->second.is_learner || transferee == id_) return;
  if (lead_transferee_ == transferee) return;  // already under way
  lead_transferee_ = transferee;
  // The transferee campaigns past the followers' leases.
  lease_revoked_ = true;
  // Bounded by one election timeout (TickHeartbeat aborts it).
  election_elapsed_ = 0;
  if (it->second.match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee, true);
  }
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

void Raft::ReportUnreachable(NodeId to) {
  if (role_ != StateRole::kLeader) return;
  auto it = progress_.find(to);
  if (it == progress_.end()) return;
  // Appends in flight are likely lost: probe again.
  if (it->second.state == ProgressState::kReplicate) it->second.BecomeProbe();
}

void Raft::ReportSnapshot(NodeId to, bool failed) {
  if (role_ != StateRole::kLeader) return;
  auto it = progress_.find(to);
  if (it == progress_.end() || it->second.state != ProgressState::kSnapshot) return;
  Progress& pr = it->second;
  if (failed) pr.pending_snapshot = 0;
  pr.BecomeProbe();
  // Wait for the follower's append response (or a heartbeat) before the
  // next probe, instead of sending into a follower still installing.
  pr.probe_sent = true;
}

// -------------------------------------------------------------- replication

void Raft::Send(Message m) {
  m.from = id_;
  // Requests a follower forwards to the leader carry no term (they are
  // handled whatever the term); everything else carries ours unless the
  // caller set one (vote replies carry the candidate's).
  bool termless = m.type == MessageType::kProp || m.type == MessageType::kReadIndex ||
                  m.type == MessageType::kTransferLeader;
  if (termless) {
    m.term = 0;
  } else if (m.term == 0) {
    m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

bool Raft::SendAppend(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end() || to == id_) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;
  Message m;
  m.to = to;
  auto prev_term = log_.Term(pr.next - 1);
  std::optional<std::vector<Entry>> entries;
  if (prev_term) {
    entries = log_.Slice(pr.next, log_.LastIndex() + 1, config_.max_bytes_per_append);
  }
  if (!prev_term || !entries) {
    // The entries it needs were compacted: send a snapshot, but only to a
    // follower that answers (a dead one would just waste the bandwidth).
    if (!pr.recent_active) return false;
    auto snapshot = std::make_shared<Snapshot>(log_.GetSnapshot());
    if (snapshot->empty()) return false;
    m.type = MessageType::kSnap;
    pr.BecomeSnapshot(snapshot->meta.index);
    m.snapshot = std::move(snapshot);
    Send(std::move(m));
    return true;
  }
  if (entries->empty() && !send_if_empty) return false;
  m.type = MessageType::kApp;
  m.index = pr.next - 1;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (!entries->empty()) {
    uint64_t last = entries->back().index;
    switch (pr.state) {
      case ProgressState::kReplicate:
        pr.OptimisticUpdate(last);
        pr.inflights.Add(last);
        break;
      case ProgressState::kProbe:
        pr.probe_sent = true;
        break;
      case ProgressState::kSnapshot:
        DFS_CHECK(false) << "append in snapshot state";
    }
  }
  m.entries = std::move(*entries);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(NodeId to, const std::string& context) {
  const Progress& pr = progress_.at(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // A follower may not have the entries up to our commit index yet: tell it
  // only what it is known to hold.
  m.commit = std::min(pr.match, log_.committed());
  m.index = ticks_;
  m.context = context;
  Send(std::move(m));
}

void Raft::BroadcastAppend() {
  for (const auto& [id, pr] : progress_) {
    if (id != id_) SendAppend(id, true);
  }
}

void Raft::BroadcastHeartbeat(const std::string& context) {
  for (const auto& [id, pr] : progress_) {
    if (id != id_) SendHeartbeat(id, context);
  }
}

bool Raft::AppendEntries(std::vector<Entry> entries) {
  uint64_t last = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); i++) {
    entries[i].term = term_;
    entries[i].index = last + 1 + i;
  }
  log_.Append(entries);
  // The leader's own ack; it reaches followers only after the driver has
  // persisted this Ready, so counting it now is safe.
  progress_.at(id_).MaybeUpdate(log_.LastIndex());
  return MaybeCommit();
}

uint64_t Raft::QuorumMatchIndex() const {
  std::vector<uint64_t> matches;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return 0;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[matches.size() / 2];
}

bool Raft::MaybeCommit() {
  // §5.4.2: only entries of the current term are committed by counting.
  return log_.MaybeCommit(QuorumMatchIndex(), term_);
}

// ---------------------------------------------------------------------- ready

bool Raft::HasReady() const {
  if (SoftState{lead_, role_} != prev_soft_state_) return true;
  if (HardState{term_, vote_, log_.committed()} != prev_hard_state_) return true;
  return !log_.UnstableEntries().empty() || log_.UnstableSnapshot().has_value() || !msgs_.empty() ||
         !read_states_.empty() || log_.HasNextCommittedEntries();
}

Ready Raft::GetReady() {
  DFS_CHECK(!ready_outstanding_) << "GetReady twice without Advance";
  Ready rd;
  SoftState ss{lead_, role_};
  if (ss != prev_soft_state_) rd.soft_state = ss;
  HardState hs{term_, vote_, log_.committed()};
  if (hs != prev_hard_state_) rd.hard_state = hs;
  rd.entries = log_.UnstableEntries();
  if (log_.UnstableSnapshot()) rd.snapshot = *log_.UnstableSnapshot();
  rd.committed_entries = log_.NextCommittedEntries();
  rd.messages.swap(msgs_);
  rd.read_states.swap(read_states_);
  rd.must_sync =
      !rd.entries.empty() || !rd.snapshot.empty() ||
      (rd.hard_state && (hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote));
  ready_outstanding_ = true;
  return rd;
}

void Raft::Advance(const Ready& rd) {
  DFS_CHECK(ready_outstanding_) << "Advance without GetReady";
  ready_outstanding_ = false;
  if (rd.soft_state) prev_soft_state_ = *rd.soft_state;
  if (rd.hard_state) prev_hard_state_ = *rd.hard_state;
  if (!rd.entries.empty()) log_.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.snapshot.empty()) {
    log_.StableSnapshotTo(rd.snapshot.meta.index);
    log_.AppliedTo(rd.snapshot.meta.index);
  }
  for (const Entry& e : rd.committed_entries) {
    log_.AppliedTo(e.index);
    if (e.type != EntryType::kConfChange) continue;
    auto cc = ConfChange::Decode(e.data);
    DFS_CHECK(cc.has_value()) << "malformed membership change at index " << e.index;
    ApplyConfChange(*cc);
  }
  if (role_ == StateRole::kLeader) ReleaseQueuedReads();
}

}  // namespace dfs::raft
