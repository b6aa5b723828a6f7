// Single-server membership changes with learners (§4 of the dissertation).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "meta/raft/memory_storage.h"
#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::kElectionTick;
using test::RaftTestNetwork;

ConfChange Change(ConfChangeType type, NodeId node) {
  return ConfChange{type, node, ""};
}

// Adds `id` as a learner through leader 1 and waits until it has the
// whole log.
void AddCaughtUpLearner(RaftTestNetwork& net, NodeId id = 4) {
  net.AddEmptyNode(id);
  REQUIRE(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, id)) == RaftError::kOk);
  net.Settle();
  net.TickAllUntil([&] {
    const RaftLog& leader = net.raft(1).log();
    const RaftLog& learner = net.raft(id).log();
    return learner.LastIndex() == leader.LastIndex() && learner.committed() == leader.committed();
  });
}

TEST_CASE("Membership: changes that do not fit the membership are kInvalidConfChange",
          "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  Raft& leader = net.raft(1);
  const uint64_t last = leader.log().LastIndex();

  CHECK(leader.ProposeConfChange(Change(ConfChangeType::kAddVoter, 2)) ==
        RaftError::kInvalidConfChange);  // already a voter, not a learner
  CHECK(leader.ProposeConfChange(Change(ConfChangeType::kAddVoter, 4)) ==
        RaftError::kInvalidConfChange);  // not a member: add it as a learner first
  CHECK(leader.ProposeConfChange(Change(ConfChangeType::kAddLearner, 3)) ==
        RaftError::kInvalidConfChange);  // already a member
  CHECK(leader.ProposeConfChange(Change(ConfChangeType::kRemoveNode, 9)) ==
        RaftError::kInvalidConfChange);  // not a member
  CHECK(leader.ProposeConfChange(Change(ConfChangeType::kAddLearner, kNone)) ==
        RaftError::kInvalidConfChange);
  CHECK(leader.log().LastIndex() == last);
}

TEST_CASE("Membership: learners receive the log but do not count toward a quorum",
          "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  // Two learners: counted as members they would make a majority of five
  // with the leader.
  AddCaughtUpLearner(net, 4);
  AddCaughtUpLearner(net, 5);

  CHECK(net.raft(1).conf_state().voters == std::vector<NodeId>{1, 2, 3});
  CHECK(net.raft(1).conf_state().learners == std::vector<NodeId>{4, 5});
  CHECK(net.raft(4).conf_state() == net.raft(1).conf_state());
  CHECK(net.raft(1).progress(4)->is_learner);

  // Two of three voters unreachable: the leader and the learners are no quorum.
  net.Cut(1, 2);
  net.Cut(1, 3);
  const uint64_t commit = net.raft(1).log().committed();
  REQUIRE(net.raft(1).Propose("x") == RaftError::kOk);
  net.Settle();

  const uint64_t last = net.raft(1).log().LastIndex();
  for (NodeId id : {4, 5}) {
    INFO("learner " << id);
    CHECK(net.raft(id).log().LastIndex() == last);
    CHECK(net.raft(1).progress(id)->match == last);  // acknowledged, yet
  }
  CHECK(net.raft(1).log().committed() == commit);
}

TEST_CASE(
    "Membership: check-quorum counts voters only; a leader that hears only from learners "
    "steps down",
    "[raft][membership][check_quorum]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  AddCaughtUpLearner(net, 4);
  AddCaughtUpLearner(net, 5);

  net.Cut(1, 2);
  net.Cut(1, 3);
  int ticks = 0;
  while (net.raft(1).role() == StateRole::kLeader) {
    REQUIRE(ticks < 2 * kElectionTick);
    net.Tick(1);
    ticks++;
  }
  CHECK(net.raft(1).role() == StateRole::kFollower);
}

TEST_CASE("Membership: a learner never campaigns", "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  AddCaughtUpLearner(net);

  net.Isolate(4);
  net.ClearSent();
  net.TickAll(5 * kElectionTick);

  CHECK(net.raft(4).role() == StateRole::kFollower);
  CHECK(net.CountSent([](const Message& m) { return m.from == 4; }) == 0);
}

TEST_CASE("Membership: a caught-up learner is promoted to voter", "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  AddCaughtUpLearner(net);

  REQUIRE(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddVoter, 4)) == RaftError::kOk);
  net.Settle();
  net.TickAll(2);

  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(net.raft(id).conf_state().voters == std::vector<NodeId>{1, 2, 3, 4});
    CHECK(net.raft(id).conf_state().learners.empty());
  }
  CHECK(net.raft(4).IsVoter(4));

  // Four voters need three: the leader and node 3 alone no longer commit.
  net.Cut(1, 2);
  net.Cut(1, 4);
  const uint64_t commit = net.raft(1).log().committed();
  REQUIRE(net.raft(1).Propose("x") == RaftError::kOk);
  net.Settle();
  CHECK(net.raft(3).log().LastIndex() == net.raft(1).log().LastIndex());
  CHECK(net.raft(1).log().committed() == commit);
}

TEST_CASE("Membership: promoting a learner that lags more than max_learner_lag is kLearnerBehind",
          "[raft][membership]") {
  RaftTestNetwork net(3, [](Config& c) { c.max_learner_lag = 3; });
  net.Elect(1);
  net.AddEmptyNode(4);
  net.Isolate(4);
  REQUIRE(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 4)) == RaftError::kOk);
  net.Settle();
  for (int i = 0; i < 5; i++)
    REQUIRE(net.raft(1).Propose("p" + std::to_string(i)) == RaftError::kOk);
  net.Settle();

  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddVoter, 4)) ==
        RaftError::kLearnerBehind);

  net.Heal();
  net.TickAllUntil([&] { return net.raft(1).progress(4)->match == net.raft(1).log().LastIndex(); });
  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddVoter, 4)) == RaftError::kOk);
}

TEST_CASE("Membership: a second change while one is pending is kConfChangeInProgress",
          "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);

  REQUIRE(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 4)) == RaftError::kOk);
  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 5)) ==
        RaftError::kConfChangeInProgress);

  net.Settle();  // the first change commits and is applied
  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 5)) == RaftError::kOk);
}

TEST_CASE("Membership: a new leader accepts no change until its no-op entry is applied",
          "[raft][membership]") {
  RaftTestNetwork net(3);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kApp; });
  net.Elect(1);
  REQUIRE(net.raft(1).log().applied() < net.raft(1).log().LastIndex());

  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 4)) ==
        RaftError::kConfChangeInProgress);

  net.SetDropFilter(nullptr);
  net.TickAll();
  REQUIRE(net.raft(1).log().applied() == net.raft(1).log().LastIndex());
  CHECK(net.raft(1).ProposeConfChange(Change(ConfChangeType::kAddLearner, 4)) == RaftError::kOk);
}

TEST_CASE("Membership: removing the leader makes it step down; the rest elect a new leader",
          "[raft][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();

  REQUIRE(net.raft(1).ProposeConfChange(Change(ConfChangeType::kRemoveNode, 1)) == RaftError::kOk);
  net.Settle();

  CHECK(net.raft(1).role() == StateRole::kFollower);
  CHECK(net.raft(1).leader() == kNone);
  for (NodeId id : {2, 3}) {
    INFO("node " << id);
    CHECK(net.raft(id).conf_state().voters == std::vector<NodeId>{2, 3});
  }

  net.TickAllUntil([&] {
    NodeId leader = net.Leader();
    return leader == 2 || leader == 3;
  });
  CHECK(net.raft(net.Leader()).term() > term);
  net.TickAll(3 * kElectionTick);
  CHECK(net.raft(1).role() == StateRole::kFollower);  // it never campaigns again
  CHECK(net.LeaderCount() == 1);
}

// The core always restarts from the snapshot and replays committed entries,
// so membership changes after the snapshot are seen again.
TEST_CASE("Membership: a restarted node replays membership entries after its snapshot",
          "[raft][membership][restart]") {
  MemoryStorage storage;
  std::vector<Entry> bootstrap = BootstrapEntries({1, 2, 3});
  storage.Append(bootstrap);
  storage.SetHardState(HardState{1, kNone, bootstrap.size()});
  Config config;
  config.id = 1;

  Raft raft(config, &storage);
  REQUIRE(raft.HasReady());
  Ready rd = raft.GetReady();
  CHECK(rd.committed_entries.size() == bootstrap.size());
  raft.Advance(rd);

  CHECK(raft.conf_state().voters == std::vector<NodeId>{1, 2, 3});
  CHECK(raft.IsVoter(1));
}

}  // namespace
}  // namespace dfs::raft
