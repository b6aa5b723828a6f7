// Linearizable reads through ReadIndex (§6.4).
#include <catch2/catch.hpp>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::RaftTestNetwork;

TEST_CASE("ReadIndex: a leader's read is answered only once a heartbeat round reaches a quorum",
          "[raft][read_index]") {
  RaftTestNetwork net(5);
  net.Elect(1);
  const uint64_t commit = net.raft(1).log().committed();

  SECTION("no follower answers") {
    net.Isolate(1);
  }
  SECTION("one follower answers: two of five") {
    for (NodeId id : {3, 4, 5})
      net.Cut(1, id);
  }
  REQUIRE(net.raft(1).ReadIndex("r1") == RaftError::kOk);
  net.Settle();
  net.TickAll(3);  // more heartbeat rounds, no more answers
  CHECK(net.node(1).read_states.empty());

  // Nodes 2 and 3 answer: with them the leader has a quorum of five.
  net.Heal();
  net.Cut(1, 4);
  net.Cut(1, 5);
  REQUIRE(net.raft(1).ReadIndex("r2") == RaftError::kOk);
  net.Settle();

  // The quorum that confirmed r2 also confirms r1, which arrived earlier.
  REQUIRE(net.node(1).read_states.size() == 2);
  CHECK(net.node(1).read_states[0].context == "r1");
  CHECK(net.node(1).read_states[0].index == commit);
  CHECK(net.node(1).read_states[1].context == "r2");
  CHECK(net.node(1).read_states[1].index == commit);
}

TEST_CASE("ReadIndex: a follower's read is forwarded and answered with the leader's commit index",
          "[raft][read_index]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  // Node 2 misses the next entry, so its own commit index lags.
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kApp && m.to == 2; });
  REQUIRE(net.raft(1).Propose("x") == RaftError::kOk);
  net.Settle();
  const uint64_t leader_commit = net.raft(1).log().committed();
  REQUIRE(net.raft(2).log().committed() < leader_commit);

  net.ClearSent();
  REQUIRE(net.raft(2).ReadIndex("f1") == RaftError::kOk);
  net.Settle();

  CHECK(net.CountSent([](const Message& m) {
    return m.type == MessageType::kReadIndex && m.from == 2 && m.to == 1;
  }) == 1);
  REQUIRE(net.node(2).read_states.size() == 1);
  CHECK(net.node(2).read_states[0].context == "f1");
  CHECK(net.node(2).read_states[0].index == leader_commit);
  CHECK(net.node(1).read_states.empty());  // answered to the follower, not served by the leader
}

TEST_CASE("ReadIndex: a new leader holds reads until its no-op entry commits",
          "[raft][read_index]") {
  RaftTestNetwork net(3);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kApp; });
  net.Elect(1);
  const uint64_t noop = net.raft(1).log().LastIndex();
  REQUIRE(net.raft(1).log().committed() < noop);

  REQUIRE(net.raft(1).ReadIndex("r") == RaftError::kOk);
  net.Settle();
  net.TickAll(2);  // heartbeat rounds complete, but the commit index is not yet known current
  CHECK(net.node(1).read_states.empty());

  net.SetDropFilter(nullptr);
  net.TickAll();
  REQUIRE(net.raft(1).log().committed() == noop);
  REQUIRE(net.node(1).read_states.size() == 1);
  CHECK(net.node(1).read_states[0].context == "r");
  CHECK(net.node(1).read_states[0].index == noop);
}

TEST_CASE("ReadIndex: a follower that knows no leader refuses with kNotLeader",
          "[raft][read_index]") {
  RaftTestNetwork net(3);
  CHECK(net.raft(2).ReadIndex("r") == RaftError::kNotLeader);
}

TEST_CASE("ReadIndex: a single-voter leader answers at once", "[raft][read_index]") {
  RaftTestNetwork net(1);
  net.Elect(1);
  REQUIRE(net.raft(1).Propose("x") == RaftError::kOk);
  net.Settle();

  REQUIRE(net.raft(1).ReadIndex("r") == RaftError::kOk);
  net.Settle();

  REQUIRE(net.node(1).read_states.size() == 1);
  CHECK(net.node(1).read_states[0].index == net.raft(1).log().LastIndex());
}

// Lease reads (Config::lease_read): nodes 2.. leave the lease a fresh node
// keeps for its first election_tick ticks, then node 1 is elected.
void LeaseRead(Config& c) {
  c.lease_read = true;
}

void ElectWithLeases(RaftTestNetwork& net, size_t n) {
  for (NodeId id = 2; id <= n; id++)
    net.Tick(id, test::kElectionTick);
  net.Elect(1);
  net.TickAll(1);  // a heartbeat round the followers acknowledge
  net.Settle();
}

size_t HeartbeatsWith(RaftTestNetwork& net, const std::string& context) {
  return net.CountSent(
      [&](const Message& m) { return m.type == MessageType::kHeartbeat && m.context == context; });
}

TEST_CASE("Lease reads: a leader a quorum heard from recently answers without a heartbeat round",
          "[raft][read_index][lease]") {
  RaftTestNetwork net(3, LeaseRead);
  ElectWithLeases(net, 3);
  const uint64_t commit = net.raft(1).log().committed();
  net.ClearSent();
  REQUIRE(net.raft(1).ReadIndex("l1") == RaftError::kOk);
  net.Settle();
  REQUIRE(net.node(1).read_states.size() == 1);
  CHECK(net.node(1).read_states[0].index == commit);
  CHECK(HeartbeatsWith(net, "l1") == 0);
}

TEST_CASE("Lease reads: the lease ends before a follower could vote; then reads need a quorum",
          "[raft][read_index][lease]") {
  RaftTestNetwork net(3, LeaseRead);
  ElectWithLeases(net, 3);
  net.Isolate(1);
  // The last acknowledged heartbeat was sent one tick ago; a follower may
  // vote election_tick ticks after it received it. Eight ticks more and
  // the leader (still leader: check-quorum waits the full timeout) must
  // stop trusting the lease.
  net.Tick(1, test::kElectionTick - 2);
  REQUIRE(net.raft(1).role() == StateRole::kLeader);
  net.ClearSent();
  REQUIRE(net.raft(1).ReadIndex("l2") == RaftError::kOk);
  net.Settle();
  CHECK(net.node(1).read_states.empty());
  CHECK(HeartbeatsWith(net, "l2") == 2);  // asked both followers

  net.Heal();
  net.Tick(1);
  net.Settle();
  REQUIRE(net.node(1).read_states.size() == 1);
  CHECK(net.node(1).read_states[0].context == "l2");
}

TEST_CASE("Lease reads: a leadership transfer ends the lease of the term",
          "[raft][read_index][lease]") {
  RaftTestNetwork net(3, LeaseRead);
  ElectWithLeases(net, 3);
  // The transferee never gets TimeoutNow: the transfer stays under way.
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kTimeoutNow; });
  REQUIRE(net.raft(1).TransferLeadership(2) == RaftError::kOk);
  net.Settle();
  net.ClearSent();
  REQUIRE(net.raft(1).ReadIndex("t1") == RaftError::kOk);
  net.Settle();
  CHECK(HeartbeatsWith(net, "t1") == 2);
}

TEST_CASE("Lease reads: a node that just started ignores votes for one election timeout",
          "[raft][read_index][lease]") {
  RaftTestNetwork net(3, LeaseRead);
  // Nodes 2 and 3 may have granted a lease before a crash they forgot.
  net.raft(1).Campaign();
  net.Settle();
  CHECK(net.raft(1).role() != StateRole::kLeader);
  net.Tick(2, test::kElectionTick);
  net.Tick(3, test::kElectionTick);
  net.raft(1).Campaign();
  net.Settle();
  CHECK(net.raft(1).role() == StateRole::kLeader);
}

}  // namespace
}  // namespace dfs::raft
