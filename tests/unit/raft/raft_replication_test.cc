// Log replication: commit and apply, log repair with fast backtracking, and
// flow control (§5.3, §5.4.2).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::DataOf;
using test::RaftTestNetwork;

constexpr uint64_t kNoLimit = UINT64_MAX;

TEST_CASE("Replication: the leader's no-op entry is committed on election", "[raft][replication]") {
  RaftTestNetwork net(3);
  const uint64_t last_before = net.raft(1).log().LastIndex();

  net.Elect(1);

  const RaftLog& log = net.raft(1).log();
  const uint64_t noop = log.LastIndex();
  REQUIRE(noop == last_before + 1);
  Entry e = (*log.Slice(noop, noop + 1, kNoLimit))[0];
  CHECK(e.type == EntryType::kNormal);
  CHECK(e.data.empty());
  CHECK(e.term == net.raft(1).term());
  CHECK(log.committed() == noop);
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    REQUIRE_FALSE(net.node(id).applied.empty());
    CHECK(net.node(id).applied.back() == e);
  }
}

TEST_CASE("Replication: proposals are committed and applied on every node in order",
          "[raft][replication]") {
  RaftTestNetwork net(3);
  net.Elect(1);

  REQUIRE(net.raft(1).Propose("a") == RaftError::kOk);
  net.Settle();
  REQUIRE(net.raft(1).Propose("b") == RaftError::kOk);
  REQUIRE(net.raft(1).Propose("c") == RaftError::kOk);
  net.Settle();

  const uint64_t last = net.raft(1).log().LastIndex();
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(DataOf(net.node(id).applied) == std::vector<std::string>{"a", "b", "c"});
    CHECK(net.raft(id).log().committed() == last);
    CHECK(net.node(id).applied_index == last);
  }
}

TEST_CASE("Replication: a proposal on a follower is refused with kNotLeader",
          "[raft][replication]") {
  RaftTestNetwork net(3);
  CHECK(net.raft(1).Propose("early") == RaftError::kNotLeader);  // nobody leads yet
  net.Elect(1);
  const uint64_t last = net.raft(2).log().LastIndex();

  CHECK(net.raft(2).Propose("x") == RaftError::kNotLeader);
  CHECK(net.raft(2).ProposeConfChange(ConfChange{ConfChangeType::kAddLearner, 4, ""}) ==
        RaftError::kNotLeader);
  net.Settle();

  CHECK(net.raft(2).log().LastIndex() == last);
  CHECK(net.raft(1).log().LastIndex() == last);
}

TEST_CASE(
    "Replication: a divergent uncommitted tail is replaced with one rejection per "
    "conflicting term",
    "[raft][replication]") {
  RaftTestNetwork net(3);
  net.Elect(1);  // term 2, no-op at 4

  // Node 1 leads alone for a while: 20 entries of term 2 nobody else sees.
  net.Isolate(1);
  for (int i = 0; i < 20; i++)
    REQUIRE(net.raft(1).Propose("lost" + std::to_string(i)) == RaftError::kOk);
  net.Settle();
  const uint64_t divergent_last = net.raft(1).log().LastIndex();
  REQUIRE(divergent_last == 24);

  // The other two elect a leader and commit 30 entries of the next term.
  net.TickAllUntil([&] {
    NodeId leader = net.Leader();
    return leader == 2 || leader == 3;
  });
  const NodeId second = net.Leader();
  const NodeId third = second == 2 ? 3 : 2;
  for (int i = 0; i < 30; i++) {
    REQUIRE(net.raft(second).Propose("kept" + std::to_string(i)) == RaftError::kOk);
  }
  net.Settle();
  // Handing leadership over makes the new leader's first probe to node 1
  // start well past the point where the logs diverge.
  REQUIRE(net.raft(second).TransferLeadership(third) == RaftError::kOk);
  net.Settle();
  REQUIRE(net.raft(third).role() == StateRole::kLeader);
  REQUIRE(net.raft(third).log().LastIndex() > divergent_last + 10);

  net.Heal();
  net.ClearSent();
  const RaftLog& leader_log = net.raft(third).log();
  net.TickAllUntil([&] {
    const RaftLog& log = net.raft(1).log();
    return log.LastIndex() == leader_log.LastIndex() && log.committed() == leader_log.committed();
  });

  // Decrementing next one entry per rejection would take about 30 rounds;
  // skipping by term takes one per term in conflict (here one: term 2).
  size_t rejections = net.CountSent(
      [&](const Message& m) { return m.from == 1 && m.type == MessageType::kAppResp && m.reject; });
  CHECK(rejections >= 1);
  CHECK(rejections <= 2);
  for (uint64_t i = 1; i <= leader_log.LastIndex(); i++) {
    INFO("index " << i);
    CHECK(net.raft(1).log().Term(i) == leader_log.Term(i));
  }
  std::vector<std::string> data = DataOf(net.node(1).applied);
  CHECK(data == DataOf(net.node(third).applied));
  CHECK(data.size() == 30);
  CHECK(data.front() == "kept0");
}

TEST_CASE("Replication: at most max_inflight_appends appends are in flight to a silent follower",
          "[raft][replication][flow_control]") {
  RaftTestNetwork net(3, [](Config& c) { c.max_inflight_appends = 2; });
  net.Elect(1);
  REQUIRE(net.raft(1).progress(3)->state == ProgressState::kReplicate);

  net.Block(3, 1);  // node 3 hears the leader, but its answers are lost
  net.ClearSent();
  for (int i = 0; i < 10; i++) {
    REQUIRE(net.raft(1).Propose("p" + std::to_string(i)) == RaftError::kOk);
    net.Settle();
  }

  size_t appends_to_3 = net.CountSent([](const Message& m) {
    return m.from == 1 && m.to == 3 && m.type == MessageType::kApp && !m.entries.empty();
  });
  CHECK(appends_to_3 == 2);
  CHECK(net.raft(1).progress(3)->inflights.Count() == 2);
  CHECK(net.raft(1).progress(3)->IsPaused());
  // Node 2 keeps the group committing meanwhile.
  CHECK(net.raft(1).log().committed() == net.raft(1).log().LastIndex());

  net.Heal();
  net.TickAllUntil([&] { return net.raft(3).log().committed() == net.raft(1).log().LastIndex(); });
  CHECK(DataOf(net.node(3).applied).size() == 10);
}

}  // namespace
}  // namespace dfs::raft
