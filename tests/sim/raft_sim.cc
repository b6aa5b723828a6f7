// raft-sim: drives in-process Raft nodes through a seeded, virtual-time
// world with faults, and checks Raft's safety properties at every step.
//
//   raft-sim --seeds N --seed-start S [--nodes 3|5] [--verbose]
//   raft-sim --liveness --seeds 1000     (leader-crash recovery figures)
//
// One seed reproduces one run exactly. Faults: message loss, delay,
// reordering and duplication; symmetric and one-way partitions; crashes that
// lose every write not yet synced, and restarts; leadership transfers;
// membership changes (learner, promote, remove); snapshots and compaction.
// Checks: election safety, log matching, leader completeness, state-machine
// safety, no entry applied twice, and linearizability of a key-value
// workload's client history; after the faults stop and the network heals,
// the cluster must make progress again and every member must catch up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/check.h"
#include "meta/raft/memory_storage.h"
#include "meta/raft/raft.h"
#include "tests/sim/linearizability.h"

namespace dfs::sim {
namespace {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Raft;
using raft::RaftError;
using raft::Ready;
using raft::StateRole;

using Time = uint64_t;  // virtual microseconds
constexpr Time kMs = 1000;
constexpr Time kSec = 1000 * kMs;

struct Options {
  uint64_t seeds = 1;
  uint64_t seed_start = 1;
  int nodes = 3;
  bool verbose = false;
  bool liveness = false;
  Time fault_time = 8 * kSec;      // faults happen in [0, fault_time)
  Time converge_time = 20 * kSec;  // then this long to recover
  Time tick = 10 * kMs;
  // A client gives up on an operation after this long and moves on.
  Time op_timeout = 2 * kSec;
};

// Deterministic randomness: the same seed gives the same run on any build.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  // Uniform in [lo, hi].
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }
  bool Chance(double p) { return (Next() >> 11) * (1.0 / 9007199254740992.0) < p; }

 private:
  std::mt19937_64 engine_;
};

struct Violation {
  std::string what;
};

// ----------------------------------------------------------------- workload

// Entry payload: "op-id key value" for a put; "n" for a sim no-op.
struct KvCommand {
  uint64_t op_id = 0;
  std::string key, value;
  std::string Encode() const { return std::to_string(op_id) + " " + key + " " + value; }
  static KvCommand Decode(const std::string& data) {
    KvCommand c;
    std::istringstream in(data);
    in >> c.op_id >> c.key >> c.value;
    return c;
  }
};

struct ClientOp {
  uint64_t id = 0;
  int client = 0;
  bool put = false;
  std::string key, value;
  Time invoke = 0, response = RegisterOp::kNoResponse;
  bool done = false;
};

// ------------------------------------------------------------------- a node

struct SimNode {
  NodeId id = 0;
  int incarnation = 0;
  bool alive = false;
  bool removed = false;  // shut down after leaving the group

  raft::MemoryStorage storage;  // what survives a crash
  raft::HardState synced_hard_state;
  std::unique_ptr<Raft> raft;

  std::map<std::string, std::string> kv;  // the state machine
  uint64_t applied = 0;

  bool syncing = false;                     // a Ready is being persisted
  std::deque<std::function<void()>> inbox;  // work deferred until Advance

  std::map<uint64_t, int> proposed;                  // op id -> client
  std::vector<std::pair<uint64_t, uint64_t>> reads;  // (read index, op id) waiting to apply
};

class World {
 public:
  World(uint64_t seed, const Options& opt) : seed_(seed), opt_(opt), rng_(seed) {}

  // Runs the scenario; returns the violation, if any.
  std::optional<Violation> Run();
  // Liveness mode: crash the leader of a healthy cluster once, measure.
  std::optional<Violation> RunLiveness(double* to_leader_ms, double* to_client_commit_ms);

  void EnableTrace() { trace_enabled_ = true; }
  const std::deque<std::string>& trace() const { return trace_; }

 private:
  struct Event {
    Time time;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };

  void At(Time t, std::function<void()> fn) { events_.push(Event{t, seq_++, std::move(fn)}); }
  // Runs events until `until` or until a violation.
  void RunUntil(Time until, const std::function<bool()>& stop = nullptr);
  void Trace(const std::string& line);
  void Fail(const std::string& what) {
    if (!violation_) violation_ = Violation{what};
  }

  // Nodes.
  raft::Config RaftConfig(NodeId id) const;
  void CreateNode(NodeId id, bool founder);
  void StartNode(NodeId id);
  void CrashNode(NodeId id);
  void ScheduleTick(NodeId id, int incarnation, Time at);
  // Runs `work` against the node now, or after its in-flight Ready.
  void WithNode(NodeId id, int incarnation, std::function<void(SimNode&)> work);
  void Pump(SimNode& n);
  void FinishReady(NodeId id, int incarnation, Ready rd);
  void Apply(SimNode& n, const Entry& e);
  void ServeReads(SimNode& n);
  void MaybeCompact(SimNode& n);
  SimNode* Leader();

  // Network.
  void SendMessage(Message m);
  bool Blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) > 0; }
  Time NetDelay();

  // Clients.
  void StartClient(int client, Time at);
  void NextOp(int client);
  void SendOp(uint64_t op_id, NodeId target);
  void Respond(uint64_t op_id, const std::string& get_value, bool ok, NodeId hint);

  // Checks.
  void CheckLeader(SimNode& n);
  void CheckLogMatching();
  // Log matching, incrementally, at every write: an (index, term) pair
  // names one entry on every node, and its predecessor is the same too.
  void CheckAppendedEntries(const SimNode& n, const std::vector<Entry>& entries);
  void CheckLinearizable();

  // Faults.
  void Nemesis();
  void Heal();
  // Stops a node, as an operator would, once the leader no longer lists it.
  void StopIfRemoved(NodeId id, Time at);
  std::vector<NodeId> Members() const;

  uint64_t seed_;
  Options opt_;
  Rng rng_;
  Time now_ = 0;
  uint64_t seq_ = 0;
  uint64_t steps_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::optional<Violation> violation_;
  bool trace_enabled_ = false;
  std::deque<std::string> trace_;

  std::map<NodeId, std::unique_ptr<SimNode>> nodes_;
  NodeId next_node_id_ = 0;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  double loss_ = 0, duplicate_ = 0;
  Time max_delay_ = 2 * kMs;
  bool faults_on_ = true;

  // Global knowledge for the checks.
  std::map<uint64_t, NodeId> leader_of_term_;
  std::map<uint64_t, Entry> committed_;         // every entry any node applied
  std::map<uint64_t, uint64_t> op_applied_at_;  // op id -> log index
  // (index, term) -> (the entry's data, the term of the entry before it).
  std::map<std::pair<uint64_t, uint64_t>, std::pair<std::string, uint64_t>> entry_by_position_;

  std::vector<ClientOp> ops_;  // ops_[id - 1]
  std::map<int, uint64_t> client_current_op_;
  std::map<int, NodeId> client_leader_guess_;
  Time last_put_success_ = 0;
  // Liveness measurement.
  uint64_t crashed_leader_term_ = 0;
  Time crash_time_ = 0, new_leader_commit_time_ = 0, client_commit_time_ = 0;
};

void World::Trace(const std::string& line) {
  if (!trace_enabled_) return;
  std::ostringstream out;
  out << "[" << now_ / kMs << "." << (now_ % kMs) / 100 << "ms] " << line;
  if (opt_.verbose) std::printf("%s\n", out.str().c_str());
  trace_.push_back(out.str());
  if (trace_.size() > 400) trace_.pop_front();
}

raft::Config World::RaftConfig(NodeId id) const {
  raft::Config c;
  c.id = id;
  c.heartbeat_tick = static_cast<int>(100 * kMs / opt_.tick);
  c.election_tick = static_cast<int>(500 * kMs / opt_.tick);
  c.max_inflight_appends = 8;
  c.max_bytes_per_append = 256;  // small, so batching limits are exercised
  c.max_learner_lag = 5;
  c.lease_read = true;  // as dfs-meta runs
  c.seed = seed_;
  return c;
}

void World::CreateNode(NodeId id, bool founder) {
  auto n = std::make_unique<SimNode>();
  n->id = id;
  if (founder) {
    std::vector<NodeId> voters;
    for (int i = 1; i <= opt_.nodes; i++)
      voters.push_back(i);
    auto entries = raft::BootstrapEntries(voters);
    n->storage.Append(entries);
    n->storage.SetHardState(raft::HardState{1, raft::kNone, entries.size()});
  }
  n->synced_hard_state = n->storage.InitialHardState();
  nodes_[id] = std::move(n);
  StartNode(id);
}

void World::StartNode(NodeId id) {
  SimNode& n = *nodes_.at(id);
  n.incarnation++;
  n.alive = true;
  n.syncing = false;
  n.inbox.clear();
  n.proposed.clear();
  n.reads.clear();
  // The state machine restarts from the snapshot and replays the log.
  raft::Snapshot snap = n.storage.GetSnapshot();
  n.kv.clear();
  std::istringstream in(snap.data);
  std::string k, v;
  while (in >> k >> v)
    n.kv[k] = v == "-" ? "" : v;
  n.applied = snap.meta.index;
  raft::Config config = RaftConfig(id);
  config.seed = seed_ * 31 + n.incarnation;
  n.raft = std::make_unique<Raft>(config, &n.storage);
  Trace("node " + std::to_string(id) + " starts (incarnation " + std::to_string(n.incarnation) +
        ", log " + std::to_string(n.storage.FirstIndex()) + ".." +
        std::to_string(n.storage.LastIndex()) + ")");
  // Nodes tick on their own phase.
  ScheduleTick(id, n.incarnation, now_ + rng_.Range(1, opt_.tick));
  Pump(n);
}

void World::CrashNode(NodeId id) {
  SimNode& n = *nodes_.at(id);
  if (!n.alive) return;
  Trace("node " + std::to_string(id) + " crashes" +
        (n.syncing ? " (losing an unsynced Ready)" : ""));
  n.alive = false;
  n.raft.reset();
  // Writes not yet synced are gone: an in-flight Ready was never written
  // (FinishReady checks the incarnation) and an unsynced commit index
  // reverts.
  n.storage.SetHardState(n.synced_hard_state);
}

void World::ScheduleTick(NodeId id, int incarnation, Time at) {
  At(at, [this, id, incarnation] {
    SimNode& n = *nodes_.at(id);
    if (!n.alive || n.incarnation != incarnation) return;
    WithNode(id, incarnation, [](SimNode& node) { node.raft->Tick(); });
    ScheduleTick(id, incarnation, now_ + opt_.tick);
  });
}

void World::WithNode(NodeId id, int incarnation, std::function<void(SimNode&)> work) {
  SimNode& n = *nodes_.at(id);
  if (!n.alive || n.incarnation != incarnation) return;
  if (n.syncing) {
    n.inbox.push_back([this, &n, work = std::move(work)] { work(n); });
    return;
  }
  work(n);
  Pump(n);
}

void World::Pump(SimNode& n) {
  if (!n.alive || n.syncing || !n.raft->HasReady()) return;
  Ready rd = n.raft->GetReady();
  if (rd.soft_state && rd.soft_state->role == StateRole::kLeader) CheckLeader(n);
  n.syncing = true;
  // Persisting takes time; a crash before it completes loses the writes.
  Time latency = rd.must_sync ? rng_.Range(100, 2000) : 0;
  if (rd.must_sync && rng_.Chance(0.01)) latency = rng_.Range(10 * kMs, 40 * kMs);  // slow disk
  NodeId id = n.id;
  int inc = n.incarnation;
  At(now_ + latency,
     [this, id, inc, rd = std::move(rd)]() mutable { FinishReady(id, inc, std::move(rd)); });
}

void World::FinishReady(NodeId id, int incarnation, Ready rd) {
  SimNode& n = *nodes_.at(id);
  if (!n.alive || n.incarnation != incarnation) return;
  // 1. Persist.
  CheckAppendedEntries(n, rd.entries);
  if (!rd.snapshot.empty()) n.storage.ApplySnapshot(rd.snapshot);
  n.storage.Append(rd.entries);
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  if (rd.must_sync) n.synced_hard_state = n.storage.InitialHardState();
  // 2. Send.
  for (Message& m : rd.messages)
    SendMessage(std::move(m));
  // 3. Apply.
  if (!rd.snapshot.empty()) {
    n.kv.clear();
    std::istringstream in(rd.snapshot.data);
    std::string k, v;
    while (in >> k >> v)
      n.kv[k] = v == "-" ? "" : v;
    DFS_CHECK_GE(rd.snapshot.meta.index, n.applied);
    n.applied = rd.snapshot.meta.index;
    Trace("node " + std::to_string(id) + " installs snapshot at " +
          std::to_string(rd.snapshot.meta.index));
  }
  for (const Entry& e : rd.committed_entries)
    Apply(n, e);
  for (const raft::ReadState& rs : rd.read_states) {
    n.reads.emplace_back(rs.index, std::stoull(rs.context));
  }
  n.raft->Advance(rd);
  n.syncing = false;
  ServeReads(n);
  MaybeCompact(n);
  while (!n.inbox.empty() && n.alive && n.incarnation == incarnation && !n.syncing) {
    auto work = std::move(n.inbox.front());
    n.inbox.pop_front();
    work();
  }
  if (n.alive && n.incarnation == incarnation) Pump(n);
  if (++steps_ % 256 == 0) CheckLogMatching();
}

void World::Apply(SimNode& n, const Entry& e) {
  if (e.index != n.applied + 1) {
    Fail("node " + std::to_string(n.id) + " applied index " + std::to_string(e.index) + " after " +
         std::to_string(n.applied));
    return;
  }
  n.applied = e.index;
  auto [it, inserted] = committed_.emplace(e.index, e);
  if (!inserted && !(it->second == e)) {
    Fail("state-machine safety: node " + std::to_string(n.id) + " applied (term " +
         std::to_string(e.term) + ") at index " + std::to_string(e.index) +
         " where another node applied term " + std::to_string(it->second.term));
    return;
  }
  if (crashed_leader_term_ != 0 && e.term > crashed_leader_term_ && new_leader_commit_time_ == 0) {
    new_leader_commit_time_ = now_;
  }
  if (e.type != EntryType::kNormal || e.data.empty()) return;
  KvCommand cmd = KvCommand::Decode(e.data);
  auto [at, first] = op_applied_at_.emplace(cmd.op_id, e.index);
  if (!first && at->second != e.index) {
    Fail("op " + std::to_string(cmd.op_id) + " applied at index " + std::to_string(e.index) +
         " and at index " + std::to_string(at->second));
    return;
  }
  n.kv[cmd.key] = cmd.value;
  auto p = n.proposed.find(cmd.op_id);
  if (p != n.proposed.end()) {
    n.proposed.erase(p);
    Respond(cmd.op_id, "", true, raft::kNone);
  }
}

void World::ServeReads(SimNode& n) {
  auto ready_end = std::stable_partition(n.reads.begin(), n.reads.end(),
                                         [&](const auto& r) { return r.first <= n.applied; });
  for (auto it = n.reads.begin(); it != ready_end; ++it) {
    const ClientOp& op = ops_[it->second - 1];
    auto kv = n.kv.find(op.key);
    Respond(it->second, kv == n.kv.end() ? "" : kv->second, true, raft::kNone);
  }
  n.reads.erase(n.reads.begin(), ready_end);
}

void World::MaybeCompact(SimNode& n) {
  // Compact often, so that lagging and new nodes need snapshots.
  if (n.applied < n.storage.FirstIndex() + 20 || n.applied > n.storage.LastIndex()) return;
  std::ostringstream data;
  for (const auto& [k, v] : n.kv)
    data << k << " " << (v.empty() ? "-" : v) << "\n";
  n.storage.CreateSnapshotAndCompact(n.applied, n.raft->conf_state(), data.str());
}

SimNode* World::Leader() {
  SimNode* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (n->alive && n->raft->role() == StateRole::kLeader &&
        (!best || n->raft->term() > best->raft->term())) {
      best = n.get();
    }
  }
  return best;
}

// -------------------------------------------------------------------- checks

void World::CheckLeader(SimNode& n) {
  uint64_t term = n.raft->term();
  Trace("node " + std::to_string(n.id) + " becomes leader in term " + std::to_string(term));
  auto [it, inserted] = leader_of_term_.emplace(term, n.id);
  if (!inserted && it->second != n.id) {
    Fail("election safety: nodes " + std::to_string(it->second) + " and " + std::to_string(n.id) +
         " both lead term " + std::to_string(term));
    return;
  }
  // Leader completeness: every entry any node applied is in the new
  // leader's log (or in its snapshot).
  const raft::RaftLog& log = n.raft->log();
  for (auto c = committed_.lower_bound(log.FirstIndex()); c != committed_.end(); ++c) {
    auto t = log.Term(c->first);
    if (!t || *t != c->second.term) {
      Fail("leader completeness: leader " + std::to_string(n.id) + " of term " +
           std::to_string(term) + " lacks committed entry " + std::to_string(c->first) + " (term " +
           std::to_string(c->second.term) + ")");
      return;
    }
  }
}

void World::CheckAppendedEntries(const SimNode& n, const std::vector<Entry>& entries) {
  const raft::RaftLog& log = n.raft->log();
  for (const Entry& e : entries) {
    uint64_t prev_term = log.Term(e.index - 1).value_or(0);
    auto [it, inserted] = entry_by_position_.emplace(std::make_pair(e.index, e.term),
                                                     std::make_pair(e.data, prev_term));
    if (inserted) continue;
    if (it->second.first != e.data ||
        (prev_term != 0 && it->second.second != 0 && it->second.second != prev_term)) {
      Fail("log matching: node " + std::to_string(n.id) + " writes entry " +
           std::to_string(e.index) + " of term " + std::to_string(e.term) +
           " differing from another node's entry at the same index and term");
      return;
    }
  }
}

void World::CheckLogMatching() {
  std::vector<SimNode*> live;
  for (auto& [id, n] : nodes_) {
    if (n->alive) live.push_back(n.get());
  }
  for (size_t a = 0; a < live.size(); a++) {
    for (size_t b = a + 1; b < live.size(); b++) {
      const raft::RaftLog& la = live[a]->raft->log();
      const raft::RaftLog& lb = live[b]->raft->log();
      uint64_t lo = std::max(la.FirstIndex(), lb.FirstIndex());
      uint64_t hi = std::min(la.LastIndex(), lb.LastIndex());
      if (lo > hi) continue;
      // Highest index where the terms agree: everything up to it must be equal.
      uint64_t top = 0;
      for (uint64_t i = hi; i >= lo && i > 0; i--) {
        if (la.Term(i) == lb.Term(i)) {
          top = i;
          break;
        }
      }
      if (top < lo) continue;
      auto ea = la.Slice(lo, top + 1, UINT64_MAX);
      auto eb = lb.Slice(lo, top + 1, UINT64_MAX);
      if (!ea || !eb || *ea != *eb) {
        Fail("log matching: nodes " + std::to_string(live[a]->id) + " and " +
             std::to_string(live[b]->id) + " agree on the term of entry " + std::to_string(top) +
             " but differ at or before it");
        return;
      }
    }
  }
}

void World::CheckLinearizable() {
  std::map<std::string, std::vector<RegisterOp>> by_key;
  for (const ClientOp& op : ops_) {
    RegisterOp r;
    r.kind = op.put ? RegisterOp::kPut : RegisterOp::kGet;
    r.value = op.value;
    r.invoke = op.invoke * 4 + 1;  // distinct times: invokes odd, responses even
    r.response = op.done ? op.response * 4 + 2 : RegisterOp::kNoResponse;
    if (!op.put && !op.done) continue;  // an unanswered read constrains nothing
    by_key[op.key].push_back(r);
  }
  for (auto& [key, history] : by_key) {
    LinearizabilityResult result = CheckRegisterHistory(history, "");
    if (!result.ok) {
      Fail("linearizability of key " + key + ": " + result.explanation);
      return;
    }
  }
}

// ------------------------------------------------------------------- network

Time World::NetDelay() {
  if (rng_.Chance(0.02)) return rng_.Range(max_delay_, 20 * max_delay_);  // a straggler
  return rng_.Range(50, max_delay_);
}

void World::SendMessage(Message m) {
  NodeId from = m.from, to = m.to;
  bool is_snap = m.type == MessageType::kSnap;
  int from_inc = nodes_.at(from)->incarnation;
  auto report = [this, from, from_inc, to, is_snap](bool failed) {
    if (!is_snap) return;
    WithNode(from, from_inc, [to, failed](SimNode& n) { n.raft->ReportSnapshot(to, failed); });
  };
  if (!nodes_.count(to) || Blocked(from, to) || (faults_on_ && rng_.Chance(loss_))) {
    report(true);
    return;
  }
  int copies = faults_on_ && rng_.Chance(duplicate_) ? 2 : 1;
  for (int c = 0; c < copies; c++) {
    At(now_ + NetDelay(), [this, m, report] {
      SimNode& target = *nodes_.at(m.to);
      if (!target.alive || Blocked(m.from, m.to)) {
        report(true);
        return;
      }
      if (trace_enabled_) {
        std::ostringstream line;
        line << m.from << "->" << m.to << " " << raft::MessageTypeName(m.type) << " term=" << m.term
             << " idx=" << m.index << " lt=" << m.log_term << " n=" << m.entries.size()
             << " commit=" << m.commit << (m.reject ? " REJECT" : "");
        Trace(line.str());
      }
      WithNode(m.to, target.incarnation, [m](SimNode& n) { n.raft->Step(m); });
      report(false);
    });
  }
}

// ------------------------------------------------------------------- clients

void World::StartClient(int client, Time at) {
  client_leader_guess_[client] = rng_.Range(1, opt_.nodes);
  At(at, [this, client] { NextOp(client); });
}

void World::NextOp(int client) {
  ClientOp op;
  op.id = ops_.size() + 1;
  op.client = client;
  op.put = rng_.Chance(0.5);
  op.key = "k" + std::to_string(rng_.Range(1, 3));
  if (op.put) op.value = "c" + std::to_string(client) + "." + std::to_string(op.id);
  op.invoke = now_;
  ops_.push_back(op);
  client_current_op_[client] = op.id;
  uint64_t op_id = op.id;
  // An operation unanswered after 2 s is left open (it may or may not have
  // happened) and the client moves on.
  At(now_ + opt_.op_timeout, [this, client, op_id] {
    if (client_current_op_[client] != op_id) return;
    client_current_op_[client] = 0;
    client_leader_guess_[client] = rng_.Range(1, next_node_id_);  // maybe it died
    At(now_ + rng_.Range(0, 20 * kMs), [this, client] { NextOp(client); });
  });
  SendOp(op_id, client_leader_guess_[client]);
}

void World::SendOp(uint64_t op_id, NodeId target) {
  if (!nodes_.count(target)) target = rng_.Range(1, next_node_id_);
  At(now_ + NetDelay(), [this, op_id, target] {
    SimNode& n = *nodes_.at(target);
    if (!n.alive) return;  // lost; the client times out
    WithNode(target, n.incarnation, [this, op_id](SimNode& node) {
      const ClientOp& op = ops_[op_id - 1];
      RaftError err;
      if (op.put) {
        err = node.raft->Propose(KvCommand{op.id, op.key, op.value}.Encode());
        if (err == RaftError::kOk) node.proposed[op.id] = op.client;
      } else {
        err = node.raft->ReadIndex(std::to_string(op.id));
      }
      if (err != RaftError::kOk) Respond(op_id, "", false, node.raft->leader());
    });
  });
}

void World::Respond(uint64_t op_id, const std::string& get_value, bool ok, NodeId hint) {
  At(now_ + NetDelay(), [this, op_id, get_value, ok, hint] {
    ClientOp& op = ops_[op_id - 1];
    if (client_current_op_[op.client] != op_id) return;  // timed out already
    if (!ok) {
      // Not accepted anywhere: safe to send the same operation elsewhere.
      NodeId next = hint != raft::kNone ? hint : rng_.Range(1, next_node_id_);
      client_leader_guess_[op.client] = next;
      At(now_ + rng_.Range(1 * kMs, 10 * kMs), [this, op_id, next] {
        if (client_current_op_[ops_[op_id - 1].client] == op_id) SendOp(op_id, next);
      });
      return;
    }
    op.done = true;
    op.response = now_;
    if (!op.put) op.value = get_value;
    if (op.put) {
      last_put_success_ = now_;
      if (crashed_leader_term_ != 0 && client_commit_time_ == 0 && op.invoke >= crash_time_) {
        client_commit_time_ = now_;
      }
    }
    client_current_op_[op.client] = 0;
    int client = op.client;
    At(now_ + rng_.Range(0, 20 * kMs), [this, client] { NextOp(client); });
  });
}

// -------------------------------------------------------------------- faults

std::vector<NodeId> World::Members() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) {
    if (!n->removed) out.push_back(id);
  }
  return out;
}

void World::StopIfRemoved(NodeId id, Time at) {
  At(at, [this, id] {
    SimNode* l = Leader();
    // Ask again once a leader has applied everything it committed.
    if (!l || l->applied < l->raft->log().committed()) {
      StopIfRemoved(id, now_ + 100 * kMs);
      return;
    }
    if (l->raft->progress(id) != nullptr) return;  // the removal did not commit
    CrashNode(id);
    nodes_.at(id)->removed = true;
  });
}

void World::Heal() {
  blocked_.clear();
  loss_ = 0;
  duplicate_ = 0;
  max_delay_ = 2 * kMs;
  for (auto& [id, n] : nodes_) {
    if (!n->alive && !n->removed) StartNode(id);
  }
}

void World::Nemesis() {
  if (now_ >= opt_.fault_time || violation_) return;
  std::vector<NodeId> members = Members();
  NodeId victim = members[rng_.Range(0, members.size() - 1)];
  SimNode* leader = Leader();
  switch (rng_.Range(0, 11)) {
    case 0: {  // symmetric partition into two random sides
      blocked_.clear();
      std::set<NodeId> side;
      for (NodeId id : members) {
        if (rng_.Chance(0.5)) side.insert(id);
      }
      for (NodeId a : members) {
        for (NodeId b : members) {
          if (side.count(a) != side.count(b)) blocked_.insert({a, b});
        }
      }
      Trace("nemesis: partition");
      break;
    }
    case 1: {  // one-way: victim cannot hear from another node
      NodeId other = members[rng_.Range(0, members.size() - 1)];
      if (other != victim) blocked_.insert({other, victim});
      Trace("nemesis: " + std::to_string(other) + " cannot reach " + std::to_string(victim));
      break;
    }
    case 2:  // isolate the leader
      if (leader) {
        for (NodeId id : members) {
          if (id != leader->id) {
            blocked_.insert({leader->id, id});
            blocked_.insert({id, leader->id});
          }
        }
        Trace("nemesis: isolate leader " + std::to_string(leader->id));
      }
      break;
    case 3:
      blocked_.clear();
      Trace("nemesis: heal network");
      break;
    case 4:
    case 5:
      CrashNode(victim);
      if (rng_.Chance(0.7)) {
        At(now_ + rng_.Range(10 * kMs, 2 * kSec), [this, victim] {
          if (!nodes_.at(victim)->alive && !nodes_.at(victim)->removed) StartNode(victim);
        });
      }
      break;
    case 6:
      if (leader) {
        NodeId to = members[rng_.Range(0, members.size() - 1)];
        Trace("nemesis: transfer leadership to " + std::to_string(to));
        WithNode(leader->id, leader->incarnation,
                 [to](SimNode& n) { n.raft->TransferLeadership(to); });
      }
      break;
    case 7: {  // membership: add a learner, promote one, or remove a node
      if (!leader) break;
      raft::ConfState cs = leader->raft->conf_state();
      ConfChange cc;
      if (!cs.learners.empty()) {
        cc = ConfChange{ConfChangeType::kAddVoter, cs.learners[0], ""};
      } else if (cs.voters.size() > static_cast<size_t>(opt_.nodes) && rng_.Chance(0.7)) {
        cc = ConfChange{ConfChangeType::kRemoveNode, cs.voters[rng_.Range(0, cs.voters.size() - 1)],
                        ""};
      } else if (cs.voters.size() < 7 && rng_.Chance(0.6)) {
        cc = ConfChange{ConfChangeType::kAddLearner, next_node_id_ + 1, ""};
      } else if (cs.voters.size() > 2) {
        cc = ConfChange{ConfChangeType::kRemoveNode, cs.voters[rng_.Range(0, cs.voters.size() - 1)],
                        ""};
      } else {
        break;
      }
      WithNode(leader->id, leader->incarnation, [this, cc](SimNode& n) {
        RaftError err = n.raft->ProposeConfChange(cc);
        Trace("nemesis: propose " +
              std::string(cc.type == ConfChangeType::kAddLearner ? "add learner "
                          : cc.type == ConfChangeType::kAddVoter ? "promote "
                                                                 : "remove ") +
              std::to_string(cc.node) + ": " + raft::RaftErrorName(err));
        if (err == RaftError::kOk && cc.type == ConfChangeType::kAddLearner) {
          next_node_id_ = std::max(next_node_id_, cc.node);
          CreateNode(cc.node, false);
        }
        if (err == RaftError::kOk && cc.type == ConfChangeType::kRemoveNode) {
          // The operator stops the removed server a little later.
          StopIfRemoved(cc.node, now_ + rng_.Range(0, 3 * kSec));
        }
      });
      break;
    }
    case 8:
      loss_ = rng_.Chance(0.5) ? 0 : rng_.Range(1, 30) / 100.0;
      duplicate_ = rng_.Range(0, 10) / 100.0;
      max_delay_ = rng_.Range(1, 20) * kMs;
      Trace("nemesis: loss " + std::to_string(loss_) + " dup " + std::to_string(duplicate_));
      break;
    default:
      break;  // quiet spell
  }
  At(now_ + rng_.Range(50 * kMs, 1500 * kMs), [this] { Nemesis(); });
}

// ----------------------------------------------------------------------- run

void World::RunUntil(Time until, const std::function<bool()>& stop) {
  while (!events_.empty() && !violation_) {
    if (events_.top().time > until) break;
    Event e = events_.top();
    events_.pop();
    now_ = e.time;
    e.fn();
    if (stop && stop()) break;
  }
  now_ = std::max(now_, until);
}

std::optional<Violation> World::Run() {
  for (int i = 1; i <= opt_.nodes; i++)
    CreateNode(i, true);
  next_node_id_ = opt_.nodes;
  for (int c = 1; c <= 3; c++)
    StartClient(c, rng_.Range(0, 100 * kMs));
  At(rng_.Range(200 * kMs, 1000 * kMs), [this] { Nemesis(); });
  RunUntil(opt_.fault_time);
  if (violation_) return violation_;

  // Faults stop: the cluster must recover and every member catch up.
  Trace("heal: faults stop");
  faults_on_ = false;
  Heal();
  Time healed = now_;
  bool converged = false;
  // Clients keep writing, so "caught up" means: has applied everything that
  // was committed when the first write after the heal succeeded.
  uint64_t target = 0;
  RunUntil(healed + opt_.converge_time, [&] {
    SimNode* l = Leader();
    if (!l || last_put_success_ <= healed) return false;
    if (target == 0) target = l->raft->log().committed();
    raft::ConfState cs = l->raft->conf_state();
    std::vector<NodeId> all = cs.voters;
    all.insert(all.end(), cs.learners.begin(), cs.learners.end());
    for (NodeId id : all) {
      SimNode& n = *nodes_.at(id);
      if (!n.alive || n.applied < target) return false;
    }
    converged = true;
    return true;
  });
  if (violation_) return violation_;
  CheckLogMatching();
  if (violation_) return violation_;
  if (!converged) {
    SimNode* l = Leader();
    std::ostringstream what;
    what << "liveness: no convergence " << opt_.converge_time / kSec
         << " s after the faults stopped (leader: " << (l ? std::to_string(l->id) : "none");
    if (l) {
      what << ", voters";
      for (NodeId id : l->raft->conf_state().voters)
        what << " " << id;
      what << ", learners";
      for (NodeId id : l->raft->conf_state().learners)
        what << " " << id;
      what << ", target " << target;
    }
    for (auto& [id, n] : nodes_) {
      if (!n->alive) continue;
      what << "; node " << id << " " << raft::StateRoleName(n->raft->role()) << " term "
           << n->raft->term() << " applied " << n->applied << " last "
           << n->raft->log().LastIndex();
    }
    what << ")";
    Fail(what.str());
    return violation_;
  }
  CheckLinearizable();
  return violation_;
}

std::optional<Violation> World::RunLiveness(double* to_leader_ms, double* to_client_commit_ms) {
  for (int i = 1; i <= opt_.nodes; i++)
    CreateNode(i, true);
  next_node_id_ = opt_.nodes;
  faults_on_ = false;
  max_delay_ = 1 * kMs;
  StartClient(1, 0);
  // Let a leader settle, then crash it at a random moment.
  Time crash_at = rng_.Range(2 * kSec, 4 * kSec);
  RunUntil(crash_at);
  SimNode* leader = Leader();
  if (!leader) return Violation{"no leader before the crash"};
  crashed_leader_term_ = leader->raft->term();
  crash_time_ = now_;
  CrashNode(leader->id);
  RunUntil(now_ + 10 * kSec,
           [&] { return new_leader_commit_time_ != 0 && client_commit_time_ != 0; });
  if (violation_) return violation_;
  if (new_leader_commit_time_ == 0 || client_commit_time_ == 0) {
    return Violation{"no commit within 10 s of the leader crash"};
  }
  *to_leader_ms = static_cast<double>(new_leader_commit_time_ - crash_time_) / kMs;
  *to_client_commit_ms = static_cast<double>(client_commit_time_ - crash_time_) / kMs;
  CheckLinearizable();
  return violation_;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "raft-sim: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::stoull(argv[++i]);
    };
    if (a == "--seeds") {
      opt.seeds = value();
    } else if (a == "--seed-start") {
      opt.seed_start = value();
    } else if (a == "--nodes") {
      opt.nodes = static_cast<int>(value());
    } else if (a == "--verbose") {
      opt.verbose = true;
    } else if (a == "--liveness") {
      opt.liveness = true;
      // Like the meta client: a call to a dead server is retried elsewhere
      // after a short RPC timeout.
      opt.op_timeout = 200 * kMs;
    } else {
      std::fprintf(stderr,
                   "usage: raft-sim --seeds N --seed-start S [--nodes 3|5] [--verbose] "
                   "[--liveness]\n");
      return 2;
    }
  }
  if (opt.nodes != 3 && opt.nodes != 5) {
    std::fprintf(stderr, "raft-sim: --nodes must be 3 or 5\n");
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  std::vector<double> to_leader, to_commit;
  for (uint64_t s = opt.seed_start; s < opt.seed_start + opt.seeds; s++) {
    World world(s, opt);
    if (opt.verbose) world.EnableTrace();
    std::optional<Violation> v;
    double a = 0, b = 0;
    v = opt.liveness ? world.RunLiveness(&a, &b) : world.Run();
    if (!v) {
      to_leader.push_back(a);
      to_commit.push_back(b);
      continue;
    }
    failures++;
    // Run the seed again with the trace on: the run is deterministic.
    World replay(s, opt);
    if (!opt.verbose) {
      replay.EnableTrace();
      if (opt.liveness) {
        replay.RunLiveness(&a, &b);
      } else {
        replay.Run();
      }
    }
    std::printf("raft-sim: seed %llu FAILED: %s\n", static_cast<unsigned long long>(s),
                v->what.c_str());
    if (!opt.verbose) {
      std::printf("last events of seed %llu:\n", static_cast<unsigned long long>(s));
      for (const std::string& line : replay.trace())
        std::printf("  %s\n", line.c_str());
    }
    std::printf("reproduce: raft-sim --seeds 1 --seed-start %llu --nodes %d --verbose\n",
                static_cast<unsigned long long>(s), opt.nodes);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (opt.liveness) {
    std::printf(
        "leader crash -> new leader's first commit: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
        Percentile(to_leader, 0.5), Percentile(to_leader, 0.99), Percentile(to_leader, 1.0));
    std::printf(
        "leader crash -> first client write committed: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
        Percentile(to_commit, 0.5), Percentile(to_commit, 0.99), Percentile(to_commit, 1.0));
  }
  std::printf("(%.1f s, %.1f ms per seed)\n", secs, 1000 * secs / std::max<uint64_t>(opt.seeds, 1));
  std::printf("raft-sim: %llu seeds, %llu failures\n", static_cast<unsigned long long>(opt.seeds),
              static_cast<unsigned long long>(failures));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dfs::sim

int main(int argc, char** argv) {
  return dfs::sim::Main(argc, argv);
}
