// Leadership transfer (§3.10 of the dissertation).
#include <catch2/catch.hpp>

#include <string>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::kElectionTick;
using test::RaftTestNetwork;

TEST_CASE("Transfer: an up-to-date follower becomes leader in a higher term", "[raft][transfer]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();

  REQUIRE(net.raft(1).TransferLeadership(2) == RaftError::kOk);
  net.Settle();

  CHECK(net.raft(2).role() == StateRole::kLeader);
  CHECK(net.raft(2).term() > term);
  CHECK(net.raft(1).role() == StateRole::kFollower);
  CHECK(net.LeaderCount() == 1);
  for (NodeId id : net.ids())
    CHECK(net.raft(id).leader() == 2);
}

TEST_CASE("Transfer: a lagging follower is caught up before it is told to campaign",
          "[raft][transfer]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kApp && m.to == 3; });
  for (int i = 0; i < 5; i++) {
    REQUIRE(net.raft(1).Propose("p" + std::to_string(i)) == RaftError::kOk);
  }
  net.Settle();
  const uint64_t leader_last = net.raft(1).log().LastIndex();
  REQUIRE(net.raft(3).log().LastIndex() < leader_last);

  net.SetDropFilter(nullptr);
  uint64_t last_at_timeout_now = 0;
  int timeout_now_sent = 0;
  net.SetObserver([&](const Message& m) {
    if (m.type != MessageType::kTimeoutNow) return;
    timeout_now_sent++;
    last_at_timeout_now = net.raft(3).log().LastIndex();
  });
  REQUIRE(net.raft(1).TransferLeadership(3) == RaftError::kOk);
  net.Settle();

  CHECK(timeout_now_sent == 1);
  CHECK(last_at_timeout_now == leader_last);
  CHECK(net.raft(3).role() == StateRole::kLeader);
  CHECK(net.LeaderCount() == 1);
}

TEST_CASE("Transfer: proposals are dropped while a transfer is under way", "[raft][transfer]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  net.Isolate(3);  // the transferee never answers

  REQUIRE(net.raft(1).TransferLeadership(3) == RaftError::kOk);
  net.Settle();
  REQUIRE(net.raft(1).lead_transferee() == 3);

  const uint64_t last = net.raft(1).log().LastIndex();
  CHECK(net.raft(1).Propose("x") == RaftError::kProposalDropped);
  CHECK(net.raft(1).ProposeConfChange(ConfChange{ConfChangeType::kAddLearner, 4, ""}) ==
        RaftError::kProposalDropped);
  CHECK(net.raft(1).log().LastIndex() == last);

  // A transfer that does not finish within an election timeout is abandoned.
  net.TickAll(kElectionTick);
  CHECK(net.raft(1).role() == StateRole::kLeader);
  CHECK(net.raft(1).lead_transferee() == kNone);
  CHECK(net.raft(1).Propose("y") == RaftError::kOk);
}

TEST_CASE("Transfer: only a leader transfers, and only to a voter", "[raft][transfer]") {
  RaftTestNetwork net(3);
  net.Elect(1);

  CHECK(net.raft(2).TransferLeadership(3) == RaftError::kNotLeader);
  CHECK(net.raft(1).TransferLeadership(7) == RaftError::kInvalidConfChange);
  CHECK(net.raft(1).lead_transferee() == kNone);
}

// Campaign() refuses while a committed membership change is unapplied
// ("it would change who votes"), as etcd's hup() does for every campaign
// type, transfers included. The kTimeoutNow path calls DoCampaign()
// directly and skips that check.
TEST_CASE(
    "Transfer: a transferee with a committed but unapplied membership change does not "
    "campaign",
    "[raft][transfer][membership]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();
  net.SetDropFilter([](const Message& m) { return m.to == 2; });
  REQUIRE(net.raft(1).ProposeConfChange(ConfChange{ConfChangeType::kAddLearner, 4, ""}) ==
          RaftError::kOk);
  net.Settle();  // committed with node 3
  const RaftLog& leader_log = net.raft(1).log();
  REQUIRE(leader_log.committed() == leader_log.LastIndex());

  // Node 2 gets the change and the commit index covering it, then the
  // leader's TimeoutNow, before its driver has handled the Ready that
  // applies the change.
  Message app;
  app.type = MessageType::kApp;
  app.from = 1;
  app.to = 2;
  app.term = term;
  app.index = net.raft(2).log().LastIndex();
  app.log_term = net.raft(2).log().LastTerm();
  app.entries = *leader_log.Slice(app.index + 1, leader_log.LastIndex() + 1, UINT64_MAX);
  app.commit = leader_log.committed();
  net.raft(2).Step(app);
  REQUIRE(net.raft(2).log().committed() == leader_log.LastIndex());
  REQUIRE(net.raft(2).log().applied() < net.raft(2).log().committed());

  SECTION("control: Campaign() refuses in this state") {
    net.raft(2).Campaign();
  }
  SECTION("kTimeoutNow") {
    Message timeout_now;
    timeout_now.type = MessageType::kTimeoutNow;
    timeout_now.from = 1;
    timeout_now.to = 2;
    timeout_now.term = term;
    net.raft(2).Step(timeout_now);
  }

  CHECK(net.raft(2).role() == StateRole::kFollower);
  CHECK(net.raft(2).term() == term);
  net.SetDropFilter(nullptr);
  net.Settle();
}

}  // namespace
}  // namespace dfs::raft
