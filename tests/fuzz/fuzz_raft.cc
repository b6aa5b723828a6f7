// Fuzzes the Raft message handler: the pure core (meta/raft/raft.h) of a
// three-node group on in-memory storage, driven as the simulator drives it
// (tests/sim/raft_sim.cc): persist the Ready, send, apply, Advance.
//
// The input is a script of steps (most start after node 1 won an election):
// tick one node or all, deliver or drop one of the honest messages in
// flight or deliver them all, propose (one entry, or a burst), propose a
// membership change, read, transfer leadership, campaign, compact, cut a
// node off or heal it, crash and restart a node, let time pass, or inject
// a hostile message. A hostile message is a pb::RaftMessage
// (proto/raft.proto) whose fields are drawn from the input, mostly close to
// the target's own term and log so that they get past the first checks, or
// parsed from raw input bytes; it reaches Raft::Step through FromProto
// (meta/raft/message_proto.h), the path a peer's bytes take.
//
// Asserts: no crash and no DFS_CHECK failure in the core or in the
// storage it drives (a hostile message must be refused, not trip an
// invariant); every honest message survives ToProto/FromProto; on each node
// the term and the commit index never decrease (a restart included: every
// Ready is synced here); committed entries reach the driver in order, each
// exactly once; a leader never believes a follower holds more than its own
// log.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "meta/raft/memory_storage.h"
#include "meta/raft/message_proto.h"
#include "meta/raft/raft.h"
#include "proto/raft.pb.h"

namespace {

namespace pb = dfs::pb;
using dfs::raft::BootstrapEntries;
using dfs::raft::ConfChange;
using dfs::raft::ConfChangeType;
using dfs::raft::Config;
using dfs::raft::Entry;
using dfs::raft::HardState;
using dfs::raft::kNone;
using dfs::raft::MemoryStorage;
using dfs::raft::Message;
using dfs::raft::MessageType;
using dfs::raft::NodeId;
using dfs::raft::Raft;
using dfs::raft::Ready;

#define FUZZ_ASSERT(cond, ...)                                                          \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: assertion failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

// DFS_FUZZ_TRACE=1 prints every step: run it on one crash file.
const bool kTrace = std::getenv("DFS_FUZZ_TRACE") != nullptr;

void Trace(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Trace(const char* format, ...) {
  if (!kTrace) return;
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

std::string Describe(const Message& m) {
  std::string s = std::string(dfs::raft::MessageTypeName(m.type)) + " " + std::to_string(m.from) +
                  "->" + std::to_string(m.to) + " term " + std::to_string(m.term) + " log_term " +
                  std::to_string(m.log_term) + " index " + std::to_string(m.index) + " commit " +
                  std::to_string(m.commit) + (m.reject ? " reject" : "") + " hint " +
                  std::to_string(m.reject_hint) + " entries [";
  for (const Entry& e : m.entries) {
    s += " " + std::to_string(e.index) + "@" + std::to_string(e.term) +
         (e.type == dfs::raft::EntryType::kConfChange ? "cc" : "");
  }
  s += " ]";
  if (m.snapshot) {
    s += " snapshot " + std::to_string(m.snapshot->meta.index) + "@" +
         std::to_string(m.snapshot->meta.term);
  }
  return s;
}

constexpr NodeId kNodes = 3;
constexpr size_t kMaxSteps = 1500;
constexpr size_t kMaxInFlight = 256;

struct Node {
  NodeId id = kNone;
  MemoryStorage storage;
  std::unique_ptr<Raft> raft;
  uint64_t applied = 0;  // last entry (or snapshot) handed to the state machine
  uint64_t max_term = 0;
  uint64_t max_commit = 0;
  bool isolated = false;  // every honest message to or from it is lost
};

class Group {
 public:
  explicit Group(FuzzedDataProvider& in) : in_(in) {
    config_.election_tick = 10;
    config_.heartbeat_tick = 1;
    config_.max_bytes_per_append = 64;  // small, so that appends are split
    config_.max_inflight_appends = 4;
    config_.max_learner_lag = 5;
    config_.pre_vote = in.ConsumeBool();
    config_.check_quorum = in.ConsumeBool();
    config_.lease_read = config_.check_quorum && in.ConsumeBool();
    std::vector<NodeId> voters;
    for (NodeId id = 1; id <= kNodes; ++id)
      voters.push_back(id);
    for (NodeId id = 1; id <= kNodes; ++id) {
      auto n = std::make_unique<Node>();
      n->id = id;
      const std::vector<Entry> boot = BootstrapEntries(voters);
      n->storage.Append(boot);
      n->storage.SetHardState(HardState{1, kNone, boot.size()});
      nodes_.push_back(std::move(n));
      Start(*nodes_.back());
    }
    // Most scripts start from a group with a leader: the states worth
    // attacking are past the first election.
    if (in.ConsumeIntegralInRange<int>(0, 3) != 0) {
      node(1).raft->Campaign();
      Settle();
    }
  }

  void Run() {
    for (size_t step = 0; step < kMaxSteps && in_.remaining_bytes() > 0; ++step) {
      Node& n = PickNode();
      const int op = in_.ConsumeIntegralInRange<int>(0, 21);
      Trace("step %zu: op %d on node %lu (term %lu, %s, commit %lu, last %lu)", step, op,
            static_cast<unsigned long>(n.id), static_cast<unsigned long>(n.raft->term()),
            dfs::raft::StateRoleName(n.raft->role()),
            static_cast<unsigned long>(n.raft->log().committed()),
            static_cast<unsigned long>(n.raft->log().LastIndex()));
      switch (op) {
        case 0:
        case 1:
          n.raft->Tick();
          break;
        case 2:
          for (auto& each : nodes_)
            each->raft->Tick();
          break;
        case 3:
        case 4:
          Deliver();
          break;
        case 5:
          Drop();
          break;
        case 16:
          Settle();
          break;
        case 6:
        case 17:
          // At the leader, if there is one, or the node picked.
          (void)Leader(n).raft->Propose(in_.ConsumeRandomLengthString(40));
          break;
        case 7:
          (void)n.raft->ProposeConfChange(MakeConfChange());
          break;
        case 8:
          (void)n.raft->ReadIndex(std::to_string(next_read_++));
          break;
        case 9:
          (void)n.raft->TransferLeadership(PickId());
          break;
        case 10:
          n.raft->Campaign();
          break;
        case 11:
          Compact(in_.ConsumeBool() ? Leader(n) : n);
          break;
        case 12:
          if (in_.ConsumeBool()) {
            n.raft->ReportUnreachable(PickId());
          } else {
            n.raft->ReportSnapshot(PickId(), in_.ConsumeBool());
          }
          break;
        case 13:
          Restart(n);
          break;
        case 14:
        case 18:
          StepHostile(n, MakeHostile(n));
          break;
        case 19:
          // A burst of client writes, then the group catches up: long logs
          // (compaction, snapshots, backtracking) from few input bytes.
          for (int k = in_.ConsumeIntegralInRange<int>(1, 16); k > 0; --k)
            (void)Leader(n).raft->Propose(std::string(k, 'w'));
          Settle();
          break;
        case 20:
          // Quiet time: heartbeats, elections after a loss.
          for (int k = in_.ConsumeIntegralInRange<int>(1, 24); k > 0; --k) {
            for (auto& each : nodes_)
              each->raft->Tick();
            PumpAll();
            Settle();
          }
          break;
        case 15:
          StepRaw(n);
          break;
        case 21:
          // Cut the node off, or heal it: a follower that falls behind a
          // compacted log needs a snapshot.
          n.isolated = !n.isolated;
          break;
      }
      PumpAll();
      for (auto& node : nodes_)
        Observe(*node);
    }
  }

 private:
  Node& node(NodeId id) { return *nodes_[id - 1]; }
  Node& PickNode() { return node(in_.ConsumeIntegralInRange<NodeId>(1, kNodes)); }
  Node& Leader(Node& otherwise) {
    for (auto& n : nodes_) {
      if (n->raft->role() == dfs::raft::StateRole::kLeader) return *n;
    }
    return otherwise;
  }

  // A node id as a peer might name one: a member, none, a stranger.
  NodeId PickId() {
    switch (in_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:
        return kNone;
      case 1:
        return kNodes + 1;
      case 2:
        return in_.ConsumeIntegral<NodeId>();
      default:
        return in_.ConsumeIntegralInRange<NodeId>(1, kNodes);
    }
  }

  // A number near `base` (a term or an index the target knows), or anything.
  uint64_t Near(uint64_t base) {
    switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
        return 0;
      case 1:
        return in_.ConsumeIntegral<uint64_t>();
      case 2:
        return UINT64_MAX - in_.ConsumeIntegralInRange<uint64_t>(0, 2);
      default: {
        const int64_t delta = in_.ConsumeIntegralInRange<int64_t>(-3, 3);
        return delta < 0 && base < static_cast<uint64_t>(-delta) ? 0 : base + delta;
      }
    }
  }

  ConfChange MakeConfChange() {
    ConfChange cc;
    cc.type = static_cast<ConfChangeType>(in_.ConsumeIntegralInRange<int>(0, 2));
    cc.node = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<NodeId>(1, kNodes + 1) : PickId();
    cc.context = in_.ConsumeRandomLengthString(8);
    return cc;
  }

  void Start(Node& n) {
    Config config = config_;
    config.id = n.id;
    config.seed = n.id;
    n.raft = std::make_unique<Raft>(config, &n.storage);
    // The core hands out every committed entry after the snapshot again.
    n.applied = n.storage.FirstIndex() - 1;
    Observe(n);
  }

  // A crash: the state is what storage holds (every Ready was synced).
  void Restart(Node& n) {
    n.raft.reset();
    Start(n);
  }

  void Compact(Node& n) {
    if (n.applied < n.storage.FirstIndex() || n.applied > n.storage.LastIndex()) return;
    n.storage.CreateSnapshotAndCompact(n.applied, n.raft->conf_state(), "");
  }

  // The fields of a message no honest peer may have sent, aimed at `n`.
  pb::RaftMessage MakeHostile(Node& n) {
    const uint64_t term = n.raft->term();
    const uint64_t last = n.raft->log().LastIndex();
    const uint64_t last_term = n.raft->log().LastTerm();
    pb::RaftMessage m;
    m.set_type(in_.ConsumeIntegralInRange<uint32_t>(0, 14));  // 14: not a type
    m.set_from(PickId());
    m.set_to(in_.ConsumeIntegralInRange<int>(0, 7) == 0 ? PickId() : n.id);
    m.set_term(Near(term));
    m.set_log_term(Near(last_term));
    m.set_index(Near(last));
    m.set_commit(Near(n.raft->log().committed()));
    m.set_reject(in_.ConsumeBool());
    m.set_reject_hint(Near(last));
    m.set_context(in_.ConsumeBool() ? "transfer" : in_.ConsumeRandomLengthString(8));
    const int entries = in_.ConsumeIntegralInRange<int>(0, 4);
    uint64_t index = m.index();
    uint64_t entry_term = m.log_term();
    for (int i = 0; i < entries; ++i) {
      pb::RaftEntry* e = m.add_entries();
      // Mostly a well-formed run after `index`; sometimes not.
      index = in_.ConsumeIntegralInRange<int>(0, 5) == 0 ? Near(index) : index + 1;
      entry_term = in_.ConsumeIntegralInRange<int>(0, 3) == 0 ? Near(entry_term)
                                                              : std::max(entry_term, m.term());
      e->set_index(index);
      e->set_term(entry_term);
      e->set_type(in_.ConsumeIntegralInRange<uint32_t>(0, 2));  // 2: not a type
      e->set_data(e->type() == 1 && in_.ConsumeBool() ? MakeConfChange().Encode()
                                                      : in_.ConsumeRandomLengthString(12));
    }
    if (m.type() == static_cast<uint32_t>(MessageType::kSnap) ||
        in_.ConsumeIntegralInRange<int>(0, 7) == 0) {
      pb::RaftSnapshotMeta* s = m.mutable_snapshot();
      s->set_index(Near(last));
      s->set_term(Near(last_term));
      const int members = in_.ConsumeIntegralInRange<int>(0, 4);
      for (int i = 0; i < members; ++i) {
        const NodeId id =
            in_.ConsumeBool() ? in_.ConsumeIntegralInRange<NodeId>(1, kNodes + 1) : PickId();
        if (in_.ConsumeBool()) {
          s->mutable_conf_state()->add_learners(id);
        } else {
          s->mutable_conf_state()->add_voters(id);
        }
      }
    }
    return m;
  }

  void StepHostile(Node& n, pb::RaftMessage pm) {
    Message m;
    if (!dfs::raft::FromProto(&pm, &m)) return;  // the transport refuses it
    Trace("  hostile %s", Describe(m).c_str());
    n.raft->Step(m);
  }

  void StepRaw(Node& n) {
    const std::string bytes = in_.ConsumeRandomLengthString(200);
    pb::RaftMessage pm;
    if (!pm.ParseFromString(bytes)) return;
    StepHostile(n, std::move(pm));
  }

  // Honest traffic: what the cores sent, in order unless the input picks.
  void Deliver() {
    if (in_flight_.empty()) return;
    DeliverAt(in_.ConsumeIntegralInRange<size_t>(0, std::min<size_t>(in_flight_.size() - 1, 3)));
  }

  void DeliverAt(size_t i) {
    Message m = std::move(in_flight_[i]);
    in_flight_.erase(in_flight_.begin() + i);
    if (m.to < 1 || m.to > kNodes) return;
    if (node(m.to).isolated || node(m.from).isolated) {
      if (m.type == MessageType::kSnap) node(m.from).raft->ReportSnapshot(m.to, true);
      return;
    }
    // Through the wire form and back, as the transport carries it.
    pb::RaftMessage pm;
    dfs::raft::ToProto(m, &pm);
    Message received;
    FUZZ_ASSERT(dfs::raft::FromProto(&pm, &received), "an honest %s from %lu refused",
                dfs::raft::MessageTypeName(m.type), static_cast<unsigned long>(m.from));
    FUZZ_ASSERT(received.type == m.type && received.term == m.term && received.index == m.index &&
                    received.entries.size() == m.entries.size(),
                "%s changed on the wire", dfs::raft::MessageTypeName(m.type));
    if (m.snapshot) received.snapshot = m.snapshot;  // its data streams separately
    Trace("  deliver %s", Describe(received).c_str());
    node(m.to).raft->Step(received);
    if (m.type == MessageType::kSnap) node(m.from).raft->ReportSnapshot(m.to, false);
  }

  // Delivers what is in flight, in order, until nothing is (or a bound:
  // heartbeats answer heartbeats only when ticked, so this ends).
  void Settle() {
    for (int i = 0; i < 500 && !in_flight_.empty(); ++i) {
      DeliverAt(0);
      PumpAll();
    }
  }

  void Drop() {
    if (in_flight_.empty()) return;
    const size_t i = in_.ConsumeIntegralInRange<size_t>(0, in_flight_.size() - 1);
    const Message& m = in_flight_[i];
    if (m.type == MessageType::kSnap && m.from >= 1 && m.from <= kNodes) {
      node(m.from).raft->ReportSnapshot(m.to, true);
    }
    in_flight_.erase(in_flight_.begin() + i);
  }

  void PumpAll() {
    bool again = true;
    while (again) {
      again = false;
      for (auto& n : nodes_) {
        if (n->raft->HasReady()) {
          HandleReady(*n);
          again = true;
        }
      }
    }
  }

  // The driver's part, in the order types.h prescribes.
  void HandleReady(Node& n) {
    Ready rd = n.raft->GetReady();
    // 1. Persist. Entries must continue what storage holds.
    if (!rd.snapshot.empty()) n.storage.ApplySnapshot(rd.snapshot);
    if (!rd.entries.empty()) {
      FUZZ_ASSERT(rd.entries.front().index >= n.storage.FirstIndex() &&
                      rd.entries.front().index <= n.storage.LastIndex() + 1,
                  "node %lu: entries from %lu do not continue the log %lu..%lu",
                  static_cast<unsigned long>(n.id),
                  static_cast<unsigned long>(rd.entries.front().index),
                  static_cast<unsigned long>(n.storage.FirstIndex()),
                  static_cast<unsigned long>(n.storage.LastIndex()));
      for (size_t i = 1; i < rd.entries.size(); ++i) {
        FUZZ_ASSERT(rd.entries[i].index == rd.entries[i - 1].index + 1,
                    "node %lu: entries to persist are not contiguous",
                    static_cast<unsigned long>(n.id));
      }
    }
    n.storage.Append(rd.entries);
    if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
    // 2. Send.
    for (Message& m : rd.messages) {
      if (in_flight_.size() < kMaxInFlight) in_flight_.push_back(std::move(m));
    }
    // 3. Apply.
    if (!rd.snapshot.empty()) n.applied = rd.snapshot.meta.index;
    for (const Entry& e : rd.committed_entries) {
      FUZZ_ASSERT(e.index == n.applied + 1, "node %lu applies entry %lu after %lu",
                  static_cast<unsigned long>(n.id), static_cast<unsigned long>(e.index),
                  static_cast<unsigned long>(n.applied));
      n.applied = e.index;
    }
    // 4.
    n.raft->Advance(rd);
    Observe(n);
  }

  void Observe(Node& n) {
    const uint64_t term = n.raft->term();
    const uint64_t commit = n.raft->log().committed();
    FUZZ_ASSERT(term >= n.max_term, "node %lu: term went from %lu back to %lu",
                static_cast<unsigned long>(n.id), static_cast<unsigned long>(n.max_term),
                static_cast<unsigned long>(term));
    FUZZ_ASSERT(commit >= n.max_commit, "node %lu: commit index went from %lu back to %lu",
                static_cast<unsigned long>(n.id), static_cast<unsigned long>(n.max_commit),
                static_cast<unsigned long>(commit));
    n.max_term = term;
    n.max_commit = commit;
    if (n.raft->role() == dfs::raft::StateRole::kLeader) {
      for (NodeId id = 1; id <= kNodes; ++id) {
        const dfs::raft::Progress* pr = n.raft->progress(id);
        FUZZ_ASSERT(!pr || pr->match <= n.raft->log().LastIndex(),
                    "leader %lu: node %lu matches %lu, past its log's %lu",
                    static_cast<unsigned long>(n.id), static_cast<unsigned long>(id),
                    static_cast<unsigned long>(pr->match),
                    static_cast<unsigned long>(n.raft->log().LastIndex()));
      }
    }
  }

  FuzzedDataProvider& in_;
  Config config_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<Message> in_flight_;
  uint64_t next_read_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Group group(in);
  group.Run();
  return 0;
}
