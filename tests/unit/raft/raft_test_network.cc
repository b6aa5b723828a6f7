#include "tests/unit/raft/raft_test_network.h"

#include <catch2/catch.hpp>

namespace dfs::raft::test {

std::vector<std::string> DataOf(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const Entry& e : entries) {
    if (e.type == EntryType::kNormal && !e.data.empty()) out.push_back(e.data);
  }
  return out;
}

RaftTestNetwork::RaftTestNetwork(size_t n, ConfigTweak tweak) : tweak_(std::move(tweak)) {
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= n; id++)
    voters.push_back(id);
  std::vector<Entry> bootstrap = BootstrapEntries(voters);
  for (NodeId id : voters) {
    TestNode& node = nodes_[id];
    node.storage = std::make_unique<MemoryStorage>();
    node.storage->Append(bootstrap);
    node.storage->SetHardState(HardState{1, kNone, bootstrap.size()});
    StartNode(id);
  }
  Settle();
}

void RaftTestNetwork::AddEmptyNode(NodeId id) {
  REQUIRE(nodes_.count(id) == 0);
  nodes_[id].storage = std::make_unique<MemoryStorage>();
  StartNode(id);
  Settle();
}

void RaftTestNetwork::StartNode(NodeId id) {
  Config config;
  config.id = id;
  config.election_tick = kElectionTick;
  config.heartbeat_tick = 1;
  if (tweak_) tweak_(config);
  config.id = id;
  TestNode& node = nodes_.at(id);
  node.raft = std::make_unique<Raft>(config, node.storage.get());
}

TestNode& RaftTestNetwork::node(NodeId id) {
  auto it = nodes_.find(id);
  REQUIRE(it != nodes_.end());
  return it->second;
}

std::vector<NodeId> RaftTestNetwork::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, node] : nodes_)
    out.push_back(id);
  return out;
}

void RaftTestNetwork::HandleReady(TestNode& n) {
  Ready rd = n.raft->GetReady();
  // 1. Persist.
  if (!rd.snapshot.empty()) n.storage->ApplySnapshot(rd.snapshot);
  n.storage->Append(rd.entries);
  if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
  // 2. Send.
  for (const Message& m : rd.messages)
    Send(m);
  // 3. Apply, checking the order the contract promises.
  if (!rd.snapshot.empty()) {
    REQUIRE(rd.snapshot.meta.index >= n.applied_index);
    n.applied_index = rd.snapshot.meta.index;
    n.installed_snapshots.push_back(rd.snapshot.meta);
  }
  for (const Entry& e : rd.committed_entries) {
    INFO("node " << n.raft->id() << " applies index " << e.index);
    REQUIRE(e.index == n.applied_index + 1);
    n.applied_index = e.index;
    n.applied.push_back(e);
  }
  n.read_states.insert(n.read_states.end(), rd.read_states.begin(), rd.read_states.end());
  // 4. Done.
  n.raft->Advance(rd);
}

void RaftTestNetwork::Send(Message m) {
  if (observer_) observer_(m);
  sent_.push_back(m);
  if (Dropped(m)) return;
  in_flight_.push_back(std::move(m));
}

bool RaftTestNetwork::Dropped(const Message& m) const {
  if (!nodes_.count(m.to)) return true;
  if (blocked_.count({m.from, m.to})) return true;
  return drop_ && drop_(m);
}

void RaftTestNetwork::Settle() {
  // A generous bound: a scenario that needs more is looping.
  for (int step = 0;; step++) {
    REQUIRE(step < 1000000);
    bool busy = false;
    for (auto& [id, node] : nodes_) {
      while (node.raft->HasReady()) {
        HandleReady(node);
        busy = true;
      }
    }
    if (!in_flight_.empty()) {
      Message m = std::move(in_flight_.front());
      in_flight_.pop_front();
      nodes_.at(m.to).raft->Step(m);
      busy = true;
    }
    if (!busy) return;
  }
}

void RaftTestNetwork::TickAll(int rounds) {
  for (int r = 0; r < rounds; r++) {
    for (auto& [id, node] : nodes_)
      node.raft->Tick();
    Settle();
  }
}

void RaftTestNetwork::Tick(NodeId id, int times) {
  for (int t = 0; t < times; t++) {
    raft(id).Tick();
    Settle();
  }
}

void RaftTestNetwork::TickAllUntil(const std::function<bool()>& done, int max_rounds) {
  for (int r = 0; r < max_rounds; r++) {
    if (done()) return;
    TickAll();
  }
  REQUIRE(done());
}

void RaftTestNetwork::Elect(NodeId id) {
  raft(id).Campaign();
  Settle();
  INFO("node " << id << " campaigned");
  REQUIRE(raft(id).role() == StateRole::kLeader);
}

NodeId RaftTestNetwork::Leader() const {
  NodeId best = kNone;
  uint64_t best_term = 0;
  for (const auto& [id, node] : nodes_) {
    if (node.raft->role() == StateRole::kLeader && node.raft->term() >= best_term) {
      best = id;
      best_term = node.raft->term();
    }
  }
  return best;
}

size_t RaftTestNetwork::LeaderCount() const {
  size_t n = 0;
  for (const auto& [id, node] : nodes_)
    n += node.raft->role() == StateRole::kLeader ? 1 : 0;
  return n;
}

void RaftTestNetwork::Block(NodeId from, NodeId to) {
  blocked_.insert({from, to});
}

void RaftTestNetwork::Cut(NodeId a, NodeId b) {
  Block(a, b);
  Block(b, a);
}

void RaftTestNetwork::Isolate(NodeId id) {
  for (const auto& [other, node] : nodes_) {
    if (other != id) Cut(id, other);
  }
}

void RaftTestNetwork::Heal() {
  blocked_.clear();
}

size_t RaftTestNetwork::CountSent(const MessagePredicate& pred) const {
  size_t n = 0;
  for (const Message& m : sent_)
    n += pred(m) ? 1 : 0;
  return n;
}

}  // namespace dfs::raft::test
