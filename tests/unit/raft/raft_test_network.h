// An in-memory cluster for the Raft core's unit tests: N Raft instances,
// each with its own MemoryStorage, joined by a synchronous network.
//
// The network plays the driver's part exactly as the Ready contract in
// meta/raft/types.h says: persist (snapshot, entries, hard state), then
// send, then apply, then Advance(). Messages are delivered one at a time in
// FIFO order, so a run is deterministic and a test reads as a scenario:
// elect, propose, cut a link, tick, settle, check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "meta/raft/memory_storage.h"
#include "meta/raft/raft.h"

namespace dfs::raft::test {

// The election_tick every node gets unless a test's ConfigTweak says
// otherwise (heartbeat_tick is 1).
inline constexpr int kElectionTick = 10;

// One member: its stable storage, its core, and what its driver saw.
struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Raft> raft;
  std::vector<Entry> applied;  // committed entries handed to the state machine, in order
  uint64_t applied_index = 0;  // last applied entry or installed snapshot
  std::vector<SnapshotMeta> installed_snapshots;
  std::vector<ReadState> read_states;
};

// The application data of the normal entries in `entries` (no-ops skipped).
std::vector<std::string> DataOf(const std::vector<Entry>& entries);

class RaftTestNetwork {
 public:
  using ConfigTweak = std::function<void(Config&)>;
  using MessagePredicate = std::function<bool(const Message&)>;

  // Founding members 1..n, bootstrapped as a new group is (raft_sim's
  // CreateNode): BootstrapEntries() in storage and HardState{1, none, n}.
  // When the constructor returns every node has applied the bootstrap
  // entries and so knows the membership. `tweak` adjusts each node's Config
  // after the defaults (kElectionTick, heartbeat_tick 1) and id are set.
  explicit RaftTestNetwork(size_t n, ConfigTweak tweak = nullptr);

  // Starts a node that is not a founder: empty log, no membership, term 0.
  // It learns the log, and from it the membership, once a leader adds it.
  void AddEmptyNode(NodeId id);

  TestNode& node(NodeId id);
  Raft& raft(NodeId id) { return *node(id).raft; }
  MemoryStorage& storage(NodeId id) { return *node(id).storage; }
  std::vector<NodeId> ids() const;

  // ------------------------------------------------------------- time, delivery

  // Handles every Ready and delivers every message until nothing is left.
  void Settle();
  // Ticks every node once, then settles; `rounds` times.
  void TickAll(int rounds = 1);
  // Ticks one node, then settles; `times` times.
  void Tick(NodeId id, int times = 1);
  // Ticks every node (one round at a time) until `done` holds.
  // REQUIRES: it holds within max_rounds.
  void TickAllUntil(const std::function<bool()>& done, int max_rounds = 200);
  // Makes `id` campaign now and settles. REQUIRES: it wins.
  void Elect(NodeId id);

  // The node that believes it leads in the highest term, or kNone.
  NodeId Leader() const;
  // How many nodes believe they lead.
  size_t LeaderCount() const;

  // ---------------------------------------------------------------------- faults
  // Faults apply to messages sent from now on; Settle() leaves nothing in
  // flight between test steps.

  void Block(NodeId from, NodeId to);  // one direction
  void Cut(NodeId a, NodeId b);        // both directions
  void Isolate(NodeId id);             // every link to and from id (nodes present now)
  void Heal();                         // restores every link (not the drop filter)
  // Additionally drops every message for which `drop` returns true;
  // nullptr drops nothing.
  void SetDropFilter(MessagePredicate drop) { drop_ = std::move(drop); }

  // ----------------------------------------------------------------- observation

  // Every message sent since the last ClearSent(), delivered or dropped.
  const std::vector<Message>& sent() const { return sent_; }
  void ClearSent() { sent_.clear(); }
  size_t CountSent(const MessagePredicate& pred) const;
  // Called for every message as its sender's driver sends it, before any
  // fault applies.
  void SetObserver(std::function<void(const Message&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  void StartNode(NodeId id);
  void HandleReady(TestNode& n);
  void Send(Message m);
  bool Dropped(const Message& m) const;

  ConfigTweak tweak_;
  std::map<NodeId, TestNode> nodes_;
  std::deque<Message> in_flight_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  MessagePredicate drop_;
  std::function<void(const Message&)> observer_;
  std::vector<Message> sent_;
};

}  // namespace dfs::raft::test
