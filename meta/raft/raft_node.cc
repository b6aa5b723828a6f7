#include "meta/raft/raft_node.h"

#include <filesystem>
#include <future>
#include <random>
#include <span>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "common/check.h"
#include "common/logging.h"
#include "proto/tls.h"

namespace dfs::raft {

namespace fs = std::filesystem;

namespace {

constexpr char kPeersMetaKey[] = "peers";

std::string EncodePeers(const std::map<NodeId, std::string>& peers) {
  std::string out;
  for (const auto& [id, address] : peers) {
    if (!out.empty()) out += ",";
    out += std::to_string(id) + "=" + address;
  }
  return out;
}

Status ErrorFromRaft(RaftError err, const std::string& leader_address) {
  switch (err) {
    case RaftError::kOk:
      return Status::Ok();
    case RaftError::kNotLeader:
      return Status::NotLeader(leader_address);
    case RaftError::kInvalidConfChange:
      return Status::InvalidArgument(RaftErrorName(err));
    case RaftError::kProposalDropped:
    case RaftError::kConfChangeInProgress:
    case RaftError::kLearnerBehind:
      return Status::Unavailable(RaftErrorName(err));
  }
  return Status::Internal("unknown Raft error");
}

}  // namespace

Result<std::unique_ptr<grpc::Server>> ServeRaftNode(const std::string& listen, RaftNode* node,
                                                    const std::vector<grpc::Service*>& services) {
  grpc::ServerBuilder builder;
  ConfigureRaftServer(&builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  int port = 0;
  builder.AddListeningPort(listen, tls::ServerCredentials(), &port);
  builder.RegisterService(node->raft_service());
  for (grpc::Service* service : services)
    builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Status::Unavailable("cannot listen on " + listen);
  return server;
}

Result<std::map<NodeId, std::string>> ParsePeers(const std::vector<std::string>& items) {
  std::map<NodeId, std::string> peers;
  for (const std::string& item : items) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      return Status::InvalidArgument("peer '" + item + "' is not ID=HOST:PORT");
    }
    NodeId id = 0;
    try {
      size_t used = 0;
      id = std::stoull(item.substr(0, eq), &used);
      if (used != eq) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      return Status::InvalidArgument("peer id in '" + item + "' is not a number");
    }
    if (id == kNone) return Status::InvalidArgument("peer id 0 is reserved");
    if (!peers.emplace(id, item.substr(eq + 1)).second) {
      return Status::InvalidArgument("peer id " + std::to_string(id) + " given twice");
    }
  }
  return peers;
}

RaftNode::RaftNode(RaftNodeOptions options, StateMachine* sm)
    : options_(std::move(options)),
      sm_(sm),
      transport_(
          TransportOptions{options_.id, options_.cluster_id, options_.data_dir + "/incoming"},
          this) {}

Result<std::unique_ptr<RaftNode>> RaftNode::Start(RaftNodeOptions options, StateMachine* sm) {
  if (options.id == kNone) return Status::InvalidArgument("node id must be > 0");
  if (options.data_dir.empty()) return Status::InvalidArgument("data dir is required");
  std::unique_ptr<RaftNode> node(new RaftNode(std::move(options), sm));
  RETURN_IF_ERROR(node->Init(), "while starting Raft node " << node->options_.id);
  node->thread_ = std::thread([n = node.get()] { n->Run(); });
  return node;
}

RaftNode::~RaftNode() {
  Stop();
}

Status RaftNode::Seed(const RaftNodeOptions& options, const std::string& checkpoint,
                      uint64_t index) {
  if (index == 0) return Status::InvalidArgument("a seed checkpoint must be at an index > 0");
  if (!options.peers.count(options.id)) {
    return Status::InvalidArgument("server " + std::to_string(options.id) +
                                   " is not among the peers of the new group");
  }
  std::error_code ec;
  fs::create_directories(options.data_dir + "/snapshots", ec);
  if (ec) return Status::IoError("cannot create " + options.data_dir + ": " + ec.message());
  ASSIGN_OR_RETURN(std::unique_ptr<RaftLogStore> store,
                   RaftLogStore::Open(options.data_dir + "/raft"));
  if (!store->IsEmpty()) {
    return Status::AlreadyExists(options.data_dir + " already holds a Raft log; seed a fresh one");
  }
  const std::string dir = options.data_dir + "/snapshots/snap-" + std::to_string(index);
  fs::remove_all(dir, ec);
  fs::copy(checkpoint, dir, fs::copy_options::recursive, ec);
  if (ec) return Status::IoError("cannot copy " + checkpoint + ": " + ec.message());
  SnapshotMeta meta;
  meta.index = index;
  meta.term = 1;
  for (const auto& [id, address] : options.peers)
    meta.conf_state.voters.push_back(id);
  RETURN_IF_ERROR(store->Save(&meta, {}, HardState{1, kNone, index}, /*sync=*/true));
  RETURN_IF_ERROR(store->PutMeta(kPeersMetaKey, EncodePeers(options.peers)));
  DFS_LOG(INFO) << "seeded a new Raft group of " << options.peers.size() << " from " << checkpoint
                << " at index " << index;
  return Status::Ok();
}

std::string RaftNode::SnapshotDir(uint64_t index) const {
  return options_.data_dir + "/snapshots/snap-" + std::to_string(index);
}

Status RaftNode::Init() {
  std::error_code ec;
  fs::create_directories(options_.data_dir + "/snapshots", ec);
  fs::remove_all(options_.data_dir + "/incoming", ec);
  fs::create_directories(options_.data_dir + "/incoming", ec);
  if (ec) return Status::IoError("cannot create " + options_.data_dir + ": " + ec.message());
  ASSIGN_OR_RETURN(store_, RaftLogStore::Open(options_.data_dir + "/raft"));

  if (store_->IsEmpty() && options_.peers.count(options_.id)) {
    // A founding member of a new group.
    std::vector<NodeId> voters;
    for (const auto& [id, address] : options_.peers)
      voters.push_back(id);
    RETURN_IF_ERROR(store_->Bootstrap(voters), "while bootstrapping");
    DFS_LOG(INFO) << "bootstrapped a new Raft group of " << voters.size() << " members";
  }
  addresses_ = options_.peers;
  if (auto saved = store_->GetMeta(kPeersMetaKey)) {
    std::vector<std::string> items;
    std::stringstream in(*saved);
    for (std::string item; std::getline(in, item, ',');)
      items.push_back(item);
    ASSIGN_OR_RETURN(auto peers, ParsePeers(items), "in the stored peer list");
    for (auto& [id, address] : peers)
      addresses_[id] = address;
  }
  for (const auto& [id, address] : addresses_)
    transport_.SetPeer(id, address);

  // The state machine must not be behind the log's snapshot: the entries
  // before it are gone. Restore the local snapshot if it is.
  SnapshotMeta snap = store_->GetSnapshot().meta;
  if (sm_->AppliedIndex() < snap.index) {
    DFS_LOG(WARN) << "state machine at " << sm_->AppliedIndex() << " is behind snapshot "
                  << snap.index << "; restoring it";
    RETURN_IF_ERROR(sm_->Restore(SnapshotDir(snap.index)), "while restoring the local snapshot");
  }
  if (sm_->AppliedIndex() > store_->LastIndex()) {
    return Status::Corrupt("state machine applied " + std::to_string(sm_->AppliedIndex()) +
                           " but the Raft log ends at " + std::to_string(store_->LastIndex()));
  }

  Config config;
  config.id = options_.id;
  config.heartbeat_tick = options_.heartbeat_ticks;
  config.election_tick = options_.election_ticks;
  config.max_learner_lag = options_.max_learner_lag;
  config.lease_read = options_.lease_read;
  config.seed = std::random_device()();
  // The core replays from the snapshot so that it sees every membership
  // change; ApplyEntries skips what the state machine already has.
  raft_ = std::make_unique<Raft>(config, store_.get());
  status_.id = options_.id;
  return Status::Ok();
}

void RaftNode::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Work queued before the stop still runs (the driver is gone, so this
  // thread is the only one touching the core), then every caller waiting
  // on it is answered.
  std::vector<std::function<void()>> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(inbox_);
  }
  for (auto& w : rest)
    w();
  FailPending(Status::Unavailable("Raft node stopped"));
  transport_.Stop();
}

bool RaftNode::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    inbox_.push_back(std::move(work));
  }
  cv_.notify_one();
  return true;
}

void RaftNode::Run() {
  auto next_tick = std::chrono::steady_clock::now() + options_.tick;
  while (true) {
    std::vector<std::function<void()>> work;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty(); });
      if (stopping_) break;
      work.swap(inbox_);
    }
    // Ticks first, every one that is due: the lease a leader reads under
    // (raft::Config::lease_read) counts ticks, so after a stall (a slow
    // fsync, SIGSTOP) the count must catch up with the clock before any
    // read or message is looked at. Beyond a few election timeouts more
    // ticks change nothing.
    auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      for (int due = 0; now >= next_tick && due < 4 * options_.election_ticks; due++) {
        raft_->Tick();
        next_tick += options_.tick;
      }
      if (next_tick <= now) next_tick = now + options_.tick;
      ExpireRequests();
    }
    // Everything that arrived while the last Ready was being fsynced is
    // handled now and goes to disk together: group commit.
    for (auto& w : work)
      w();
    while (raft_->HasReady())
      HandleReady();
    std::lock_guard lock(status_mu_);
    status_.role = raft_->role();
    status_.term = raft_->term();
    status_.leader = raft_->leader();
    auto it = addresses_.find(raft_->leader());
    status_.leader_address = it == addresses_.end() ? "" : it->second;
    status_.commit = raft_->log().committed();
    status_.applied = sm_->AppliedIndex();
    status_.first_index = store_->FirstIndex();
    status_.last_index = raft_->log().LastIndex();
    status_.conf_state = raft_->conf_state();
    status_.peers.clear();
    const bool leading = raft_->role() == StateRole::kLeader;
    for (const auto& [id, address] : addresses_) {
      PeerStatus& p = status_.peers[id];
      p.address = address;
      const Progress* pr = leading ? raft_->progress(id) : nullptr;
      if (pr != nullptr) {
        p.match = pr->match;
        p.active = id == options_.id || pr->recent_active;
      }
    }
  }
  FailPending(Status::Unavailable("Raft node is shutting down"));
}

void RaftNode::HandleReady() {
  Ready rd = raft_->GetReady();
  if (!rd.snapshot.empty()) {
    // The received files become this node's snapshot before the record that
    // names them is written; the state machine is restored from them only
    // after. A crash in between restarts with the state machine behind the
    // snapshot record, which Init repairs from the same files.
    uint64_t index = rd.snapshot.meta.index;
    auto it = incoming_snapshots_.find(index);
    DFS_CHECK(it != incoming_snapshots_.end()) << "no received files for snapshot " << index;
    std::error_code ec;
    fs::remove_all(SnapshotDir(index), ec);
    fs::rename(it->second, SnapshotDir(index), ec);
    DFS_CHECK(!ec) << "cannot move snapshot " << index << " into place: " << ec.message();
    incoming_snapshots_.erase(it);
  }
  // A leader's appends and heartbeats depend only on its log, not on its
  // own copy being on disk, so they leave before the fsync: the leader's
  // and the followers' writes overlap. (Commit counts the leader's own
  // entries only when a follower's ack is stepped, which happens after this
  // Ready is persisted.) Everything else — votes, append acks — waits.
  std::vector<Message> after_persist;
  std::vector<Message> early;
  // With a single voter the leader's own copy alone commits, so nothing may
  // leave before it is on disk.
  bool leader = raft_->role() == StateRole::kLeader && raft_->VoterCount() > 1;
  for (Message& m : rd.messages) {
    bool independent = m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
                       m.type == MessageType::kSnap || m.type == MessageType::kTimeoutNow ||
                       m.type == MessageType::kReadIndexResp;
    (leader && independent ? early : after_persist).push_back(std::move(m));
  }
  SendMessages(std::move(early));

  // Committed entries already on disk are applied before the new entries'
  // fsync, so answering a proposer never waits for the next batch's write.
  size_t applied_early = 0;
  if (rd.snapshot.empty()) {
    uint64_t stable_end = store_->LastIndex();
    if (!rd.entries.empty()) stable_end = std::min(stable_end, rd.entries.front().index - 1);
    while (applied_early < rd.committed_entries.size() &&
           rd.committed_entries[applied_early].index <= stable_end) {
      applied_early++;
    }
    ApplyEntries(rd.committed_entries, 0, applied_early);
  }

  auto persist_start = std::chrono::steady_clock::now();
  Status s = store_->Save(rd.snapshot.empty() ? nullptr : &rd.snapshot.meta, rd.entries,
                          rd.hard_state, rd.must_sync);
  {
    std::lock_guard lock(status_mu_);
    status_.readies++;
    status_.fsyncs += rd.must_sync ? 1 : 0;
    status_.entries_persisted += rd.entries.size();
    status_.persist_micros += std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - persist_start)
                                  .count();
  }
  // Continuing after a failed log write could acknowledge what is not on
  // disk: crash, and let the restart recover from what is.
  DFS_CHECK(s.ok()) << "cannot persist the Raft log: " << s;
  if (!rd.snapshot.empty()) {
    uint64_t index = rd.snapshot.meta.index;
    s = sm_->Restore(SnapshotDir(index));
    // The log now starts after the snapshot; a state machine we could not
    // restore would silently diverge, so stop (Init retries the restore).
    DFS_CHECK(s.ok()) << "cannot install snapshot " << index << ": " << s;
    std::lock_guard lock(status_mu_);
    status_.snapshots_installed++;
    DFS_LOG(INFO) << "installed snapshot at index " << index;
  }
  SendMessages(std::move(after_persist));
  ApplyEntries(rd.committed_entries, applied_early, rd.committed_entries.size());
  bool read_done = false;
  for (const ReadState& rs : rd.read_states) {
    if (!inflight_read_ || rs.context != inflight_read_->context) continue;
    for (PendingRead& r : inflight_read_->waiters)
      ready_reads_.emplace_back(rs.index, std::move(r));
    inflight_read_.reset();
    read_done = true;
  }
  bool leader_changed = rd.soft_state.has_value();
  if (leader_changed) {
    DFS_LOG(INFO) << "now " << StateRoleName(rd.soft_state->role) << " in term " << raft_->term()
                  << ", leader " << rd.soft_state->lead;
  }
  raft_->Advance(rd);
  if (leader_changed && inflight_read_) {
    // The old leader's heartbeat round may never finish: ask again (a new
    // ReadIndex, issued after every waiter arrived, keeps them linearizable).
    auto waiters = std::move(inflight_read_->waiters);
    inflight_read_.reset();
    waiting_reads_.insert(waiting_reads_.begin(), std::make_move_iterator(waiters.begin()),
                          std::make_move_iterator(waiters.end()));
    read_done = true;
  }
  if (read_done) IssueReadIndex();
  ServeReads();
  MaybeSnapshot();
}

void RaftNode::SendMessages(std::vector<Message> messages) {
  std::vector<Message> normal;
  normal.reserve(messages.size());
  for (Message& m : messages) {
    if (m.type == MessageType::kSnap) {
      std::string dir = SnapshotDir(m.snapshot->meta.index);
      transport_.SendSnapshot(std::move(m), std::move(dir));
    } else {
      normal.push_back(std::move(m));
    }
  }
  if (!normal.empty()) transport_.Send(std::move(normal));
}

void RaftNode::ApplyEntries(const std::vector<Entry>& all, size_t from, size_t to) {
  if (from >= to) return;
  // Entries the state machine already has (replay after a restart) only
  // update membership and answer proposers.
  uint64_t applied = sm_->AppliedIndex();
  size_t first_new = from;
  while (first_new < to && all[first_new].index <= applied)
    first_new++;
  std::vector<std::string> results;
  if (first_new < to) {
    results = sm_->Apply(std::span<const Entry>(all.data() + first_new, to - first_new));
    DFS_CHECK_EQ(results.size(), to - first_new);
  }
  for (size_t i = from; i < to; i++) {
    const Entry& e = all[i];
    if (e.type == EntryType::kConfChange) {
      auto cc = ConfChange::Decode(e.data);
      DFS_CHECK(cc.has_value());
      if (cc->type == ConfChangeType::kRemoveNode) {
        addresses_.erase(cc->node);
        if (cc->node != options_.id) transport_.RemovePeer(cc->node);
      } else if (!cc->context.empty()) {
        addresses_[cc->node] = cc->context;
        transport_.SetPeer(cc->node, cc->context);
      }
      PersistPeers();
    }
    auto it = proposals_.find(e.index);
    if (it == proposals_.end()) continue;
    if (it->second.term == e.term) {
      it->second.done(i >= first_new ? std::move(results[i - first_new]) : std::string());
    } else {
      it->second.done(Status::Unavailable("the entry was replaced after a leader change"));
    }
    proposals_.erase(it);
  }
}

void RaftNode::ServeReads() {
  uint64_t applied = sm_->AppliedIndex();
  auto end = std::stable_partition(ready_reads_.begin(), ready_reads_.end(),
                                   [&](const auto& r) { return r.first > applied; });
  std::vector<std::function<void(Status)>> done;
  for (auto it = end; it != ready_reads_.end(); ++it)
    done.push_back(std::move(it->second.done));
  ready_reads_.erase(end, ready_reads_.end());
  for (auto& d : done)
    d(Status::Ok());
}

void RaftNode::MaybeSnapshot() {
  uint64_t applied = sm_->AppliedIndex();
  // Incoming snapshots overtaken by the log are no longer needed.
  for (auto it = incoming_snapshots_.begin(); it != incoming_snapshots_.end();) {
    if (it->first > raft_->log().applied()) break;
    std::error_code ec;
    fs::remove_all(it->second, ec);
    it = incoming_snapshots_.erase(it);
  }
  // Only when the core's view of membership is at the same index as the
  // state machine (not during replay after a restart).
  if (raft_->log().applied() != applied) return;
  if (applied < store_->FirstIndex() + options_.snapshot_entries) return;
  if (applied > store_->LastIndex()) return;
  std::string dir = SnapshotDir(applied);
  std::error_code ec;
  fs::remove_all(dir + ".tmp", ec);
  Status s = sm_->Checkpoint(dir + ".tmp");
  if (!s.ok()) {
    DFS_LOG(WARN) << "cannot checkpoint the state machine: " << s;
    return;
  }
  fs::remove_all(dir, ec);
  fs::rename(dir + ".tmp", dir, ec);
  if (ec) {
    DFS_LOG(WARN) << "cannot move snapshot into place: " << ec.message();
    return;
  }
  SnapshotMeta meta{applied, store_->Term(applied), raft_->conf_state()};
  s = store_->Compact(meta);
  DFS_CHECK(s.ok()) << "cannot compact the Raft log: " << s;
  DFS_LOG(INFO) << "snapshot at index " << applied << "; log compacted";
  // Keep the two newest: one may still be streaming to a follower.
  std::vector<uint64_t> indexes;
  for (const auto& f : fs::directory_iterator(options_.data_dir + "/snapshots", ec)) {
    std::string name = f.path().filename().string();
    if (name.rfind("snap-", 0) == 0 && name.find('.') == std::string::npos) {
      indexes.push_back(std::stoull(name.substr(5)));
    }
  }
  std::sort(indexes.begin(), indexes.end());
  for (size_t i = 0; i + 2 < indexes.size(); i++)
    fs::remove_all(SnapshotDir(indexes[i]), ec);
}

void RaftNode::PersistPeers() {
  Status s = store_->PutMeta(kPeersMetaKey, EncodePeers(addresses_));
  if (!s.ok()) DFS_LOG(WARN) << "cannot save peer addresses: " << s;
}

Status RaftNode::NotLeaderStatus() const {
  auto it = addresses_.find(raft_->leader());
  return Status::NotLeader(it == addresses_.end() ? "" : it->second);
}

void RaftNode::ExpireRequests() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    it->second.done(Status::Timeout("proposal at index " + std::to_string(it->first) +
                                    " not applied in time; it may still be"));
    it = proposals_.erase(it);
  }
  auto expire = [&](std::vector<PendingRead>& reads) {
    std::erase_if(reads, [&](PendingRead& r) {
      if (r.deadline > now) return false;
      r.done(Status::Timeout("read barrier not confirmed in time"));
      return true;
    });
  };
  expire(waiting_reads_);
  // A read whose index this node never reaches (partitioned, removed).
  std::erase_if(ready_reads_, [&](auto& r) {
    if (r.second.deadline > now) return false;
    r.second.done(Status::Timeout("read index not applied in time"));
    return true;
  });
  if (inflight_read_) {
    expire(inflight_read_->waiters);
    if (inflight_read_->retry_at <= now) {
      // Lost on the way (e.g. forwarded to a leader that died): ask again.
      waiting_reads_.insert(waiting_reads_.begin(),
                            std::make_move_iterator(inflight_read_->waiters.begin()),
                            std::make_move_iterator(inflight_read_->waiters.end()));
      inflight_read_.reset();
    }
  }
  IssueReadIndex();
}

void RaftNode::IssueReadIndex() {
  if (inflight_read_ || waiting_reads_.empty()) return;
  std::string ctx = std::to_string(next_read_id_++);
  if (raft_->ReadIndex(ctx) != RaftError::kOk) {
    for (PendingRead& r : waiting_reads_)
      r.done(NotLeaderStatus());
    waiting_reads_.clear();
    return;
  }
  inflight_read_ = InflightRead{
      ctx, std::chrono::steady_clock::now() + 2 * options_.election_ticks * options_.tick, {}};
  inflight_read_->waiters.swap(waiting_reads_);
}

void RaftNode::FailPending(const Status& status) {
  for (auto& [index, p] : proposals_)
    p.done(status);
  proposals_.clear();
  for (PendingRead& r : waiting_reads_)
    r.done(status);
  waiting_reads_.clear();
  if (inflight_read_) {
    for (PendingRead& r : inflight_read_->waiters)
      r.done(status);
    inflight_read_.reset();
  }
  for (auto& [index, read] : ready_reads_)
    read.done(status);
  ready_reads_.clear();
}

// ---------------------------------------------------------------- requests

void RaftNode::Propose(std::string data, ProposeCallback done) {
  auto shared = std::make_shared<ProposeCallback>(std::move(done));
  bool posted = Post([this, data = std::move(data), shared]() mutable {
    RaftError err = raft_->Propose(std::move(data));
    if (err != RaftError::kOk) {
      (*shared)(err == RaftError::kNotLeader ? NotLeaderStatus() : ErrorFromRaft(err, ""));
      return;
    }
    proposals_[raft_->log().LastIndex()] =
        PendingProposal{raft_->term(), RequestDeadline(), std::move(*shared)};
  });
  if (!posted) (*shared)(Status::Unavailable("Raft node stopped"));
}

namespace {

// Waits for a callback that may come after the waiter gave up.
template <class T>
struct Waiter {
  std::promise<T> promise;
  std::atomic<bool> set{false};
  void Set(T value) {
    if (!set.exchange(true)) promise.set_value(std::move(value));
  }
};

}  // namespace

Result<std::string> RaftNode::ProposeAndWait(std::string data, std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<Waiter<Result<std::string>>>();
  auto future = waiter->promise.get_future();
  Propose(std::move(data), [waiter](Result<std::string> r) { waiter->Set(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::Timeout("proposal not applied within " + std::to_string(timeout.count()) +
                           " ms");
  }
  return future.get();
}

void RaftNode::ReadBarrier(std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  bool posted = Post([this, shared] {
    waiting_reads_.push_back(PendingRead{RequestDeadline(), std::move(*shared)});
    IssueReadIndex();
  });
  if (!posted) (*shared)(Status::Unavailable("Raft node stopped"));
}

Status RaftNode::ReadBarrierAndWait(std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<Waiter<Status>>();
  auto future = waiter->promise.get_future();
  ReadBarrier([waiter](Status s) { waiter->Set(std::move(s)); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::Timeout("read barrier not reached within " + std::to_string(timeout.count()) +
                           " ms");
  }
  return future.get();
}

Status RaftNode::ProposeConfChangeAndWait(const ConfChange& cc, std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<Waiter<Status>>();
  auto future = waiter->promise.get_future();
  Post([this, cc, waiter] {
    RaftError err = raft_->ProposeConfChange(cc);
    if (err != RaftError::kOk) {
      waiter->Set(err == RaftError::kNotLeader ? NotLeaderStatus() : ErrorFromRaft(err, ""));
      return;
    }
    proposals_[raft_->log().LastIndex()] =
        PendingProposal{raft_->term(), RequestDeadline(),
                        [waiter](Result<std::string> r) { waiter->Set(r.status()); }};
  });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::Timeout("membership change not applied in time");
  }
  return future.get();
}

Status RaftNode::AddLearner(NodeId id, const std::string& address,
                            std::chrono::milliseconds timeout) {
  if (address.empty()) return Status::InvalidArgument("a new member needs an address");
  return ProposeConfChangeAndWait(ConfChange{ConfChangeType::kAddLearner, id, address}, timeout);
}

Status RaftNode::PromoteLearner(NodeId id, std::chrono::milliseconds timeout) {
  return ProposeConfChangeAndWait(ConfChange{ConfChangeType::kAddVoter, id, ""}, timeout);
}

Status RaftNode::RemoveMember(NodeId id, std::chrono::milliseconds timeout) {
  return ProposeConfChangeAndWait(ConfChange{ConfChangeType::kRemoveNode, id, ""}, timeout);
}

Status RaftNode::TransferLeadership(NodeId to) {
  auto waiter = std::make_shared<Waiter<Status>>();
  auto future = waiter->promise.get_future();
  Post([this, to, waiter] {
    RaftError err = raft_->TransferLeadership(to);
    waiter->Set(err == RaftError::kNotLeader ? NotLeaderStatus() : ErrorFromRaft(err, ""));
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return Status::Timeout("leadership transfer not started");
  }
  return future.get();
}

RaftNodeStatus RaftNode::GetStatus() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

// ------------------------------------------------------------- transport in

void RaftNode::OnMessage(Message m) {
  Post([this, m = std::move(m)] { raft_->Step(m); });
}

void RaftNode::OnSnapshot(Message m, std::string dir) {
  Post([this, m = std::move(m), dir = std::move(dir)] {
    uint64_t index = m.snapshot->meta.index;
    auto old = incoming_snapshots_.find(index);
    if (old != incoming_snapshots_.end()) {
      std::error_code ec;
      fs::remove_all(old->second, ec);
    }
    incoming_snapshots_[index] = dir;
    raft_->Step(m);
  });
}

void RaftNode::OnUnreachable(NodeId peer) {
  Post([this, peer] { raft_->ReportUnreachable(peer); });
}

void RaftNode::OnSnapshotSent(NodeId peer, bool failed) {
  Post([this, peer, failed] { raft_->ReportSnapshot(peer, failed); });
}

}  // namespace dfs::raft
