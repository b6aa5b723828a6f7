// Leader election: timeouts, pre-vote, check-quorum, leases and the
// up-to-date-log rule (§5.2, §5.4.1, §9.6 of the dissertation).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::kElectionTick;
using test::RaftTestNetwork;

TEST_CASE("Election: a single node elects itself once its election timeout passes",
          "[raft][election]") {
  RaftTestNetwork net(1);
  REQUIRE(net.raft(1).role() == StateRole::kFollower);
  REQUIRE(net.raft(1).IsVoter(1));  // learned from the bootstrap entries

  net.TickAllUntil([&] { return net.raft(1).role() == StateRole::kLeader; }, 2 * kElectionTick);

  CHECK(net.raft(1).term() == 2);
  CHECK(net.raft(1).leader() == 1);
}

TEST_CASE("Election: no node campaigns before election_tick ticks", "[raft][election]") {
  RaftTestNetwork net(3);
  net.ClearSent();

  net.TickAll(kElectionTick - 1);

  CHECK(net.LeaderCount() == 0);
  CHECK(net.sent().empty());
  for (NodeId id : net.ids())
    CHECK(net.raft(id).term() == 1);
}

TEST_CASE("Election: three nodes elect exactly one leader after the election timeout",
          "[raft][election]") {
  RaftTestNetwork net(3);

  net.TickAllUntil([&] { return net.Leader() != kNone; }, 2 * kElectionTick);
  net.TickAll(3 * kElectionTick);  // and it stays that way

  NodeId leader = net.Leader();
  CHECK(net.LeaderCount() == 1);
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(net.raft(id).leader() == leader);
    CHECK(net.raft(id).term() == net.raft(leader).term());
  }
}

TEST_CASE(
    "Election: with pre-vote a partitioned node keeps its term and does not disrupt "
    "the leader when it returns",
    "[raft][election][pre_vote]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();

  net.Isolate(3);
  for (int i = 0; i < 10 * kElectionTick; i++) {
    net.TickAll();
    REQUIRE(net.raft(3).term() == term);
    REQUIRE(net.raft(1).role() == StateRole::kLeader);
  }
  CHECK(net.raft(3).role() == StateRole::kPreCandidate);  // it kept trying

  net.Heal();
  net.TickAll(2 * kElectionTick);

  CHECK(net.LeaderCount() == 1);
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(net.raft(id).term() == term);
    CHECK(net.raft(id).leader() == 1);
  }
}

TEST_CASE(
    "Election: with check-quorum a leader cut off from the majority steps down "
    "within two election timeouts",
    "[raft][election][check_quorum]") {
  RaftTestNetwork net(3);
  net.Elect(1);

  net.Isolate(1);
  int ticks = 0;
  while (net.raft(1).role() == StateRole::kLeader) {
    // One check-quorum window may still count followers heard before the cut.
    REQUIRE(ticks < 2 * kElectionTick);
    net.Tick(1);
    ticks++;
  }
  CHECK(net.raft(1).role() == StateRole::kFollower);
  CHECK(net.raft(1).leader() == kNone);

  // The majority side goes on without it.
  net.TickAllUntil([&] {
    NodeId leader = net.Leader();
    return leader == 2 || leader == 3;
  });
  CHECK(net.LeaderCount() == 1);
}

TEST_CASE("Election: a voter refuses a candidate whose log is behind its own", "[raft][election]") {
  const bool pre_vote = GENERATE(false, true);
  INFO("pre_vote " << pre_vote);
  // No check-quorum, so no lease: the request is judged on the log alone.
  RaftTestNetwork net(3, [&](Config& c) {
    c.pre_vote = pre_vote;
    c.check_quorum = false;
  });
  net.Elect(1);
  net.Isolate(3);
  REQUIRE(net.raft(1).Propose("a") == RaftError::kOk);
  REQUIRE(net.raft(1).Propose("b") == RaftError::kOk);
  net.Settle();
  REQUIRE(net.raft(2).log().LastIndex() > net.raft(3).log().LastIndex());

  net.Heal();
  net.Isolate(1);
  net.ClearSent();
  const uint64_t term3 = net.raft(3).term();
  net.raft(3).Campaign();
  net.Settle();

  MessageType resp = pre_vote ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  auto reply = [&](bool reject) {
    return net.CountSent([&](const Message& m) {
      return m.from == 2 && m.to == 3 && m.type == resp && m.reject == reject;
    });
  };
  CHECK(reply(true) == 1);
  CHECK(reply(false) == 0);
  CHECK(net.raft(3).role() != StateRole::kLeader);
  CHECK(net.raft(2).vote() != 3);
  if (pre_vote) CHECK(net.raft(3).term() == term3);  // a failed pre-vote costs no term

  // Only the node holding the committed entries can win; it keeps them.
  net.TickAllUntil([&] { return net.Leader() == 2; });
  net.Heal();
  net.TickAll(2 * kElectionTick);
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(test::DataOf(net.node(id).applied) == std::vector<std::string>{"a", "b"});
  }
}

TEST_CASE(
    "Election: a follower that heard from the leader within the election timeout "
    "ignores vote requests",
    "[raft][election][check_quorum]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();

  SECTION("a pre-vote campaign by an up-to-date follower gets no answer") {
    net.ClearSent();
    net.raft(3).Campaign();
    net.Settle();

    CHECK(net.CountSent([](const Message& m) { return m.type == MessageType::kPreVote; }) == 2);
    CHECK(net.CountSent([](const Message& m) { return m.type == MessageType::kPreVoteResp; }) == 0);
    net.TickAll();
    CHECK(net.raft(3).role() == StateRole::kFollower);
  }
  SECTION("a vote request in a higher term changes neither term nor vote") {
    Message m;
    m.type = MessageType::kVote;
    m.from = 3;
    m.to = 2;
    m.term = term + 5;
    m.index = net.raft(3).log().LastIndex();
    m.log_term = net.raft(3).log().LastTerm();
    net.raft(2).Step(m);
    net.Settle();

    CHECK(net.raft(2).vote() == 1);
  }
  for (NodeId id : net.ids()) {
    INFO("node " << id);
    CHECK(net.raft(id).term() == term);
    CHECK(net.raft(id).leader() == 1);
  }
}

}  // namespace
}  // namespace dfs::raft
