// Messages no honest peer sends: Step drops them instead of tripping an
// invariant or moving the node's term backwards. Each case is one that
// tests/fuzz/fuzz_raft.cc found (or its close kin).
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::RaftTestNetwork;

Message From1To2(MessageType type, uint64_t term) {
  Message m;
  m.type = type;
  m.from = 1;
  m.to = 2;
  m.term = term;
  return m;
}

TEST_CASE("Malformed: a heartbeat without a term leaves a candidate's term alone",
          "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Isolate(2);
  net.raft(2).Campaign();
  net.Settle();
  REQUIRE(net.raft(2).role() != StateRole::kFollower);
  const uint64_t term = net.raft(2).term();
  REQUIRE(term > 0);

  // Before the fix the candidate stepped down into term 0.
  net.raft(2).Step(From1To2(MessageType::kHeartbeat, 0));
  net.Settle();

  CHECK(net.raft(2).term() == term);
  CHECK(net.raft(2).role() != StateRole::kFollower);
}

TEST_CASE("Malformed: a term near 2^64 is refused, so the term cannot wrap to 0",
          "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(2).term();

  // Before the fix node 2 took term 2^64 - 1, and the TimeoutNow made it
  // campaign in term 2^64 - 1 + 1 = 0.
  net.raft(2).Step(From1To2(MessageType::kHeartbeat, UINT64_MAX));
  net.raft(2).Step(From1To2(MessageType::kTimeoutNow, UINT64_MAX));
  net.Settle();

  CHECK(net.raft(2).term() == term);
  CHECK(net.raft(2).leader() == 1);
}

TEST_CASE("Malformed: an append whose entries do not follow its index is dropped",
          "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t term = net.raft(1).term();
  const uint64_t last = net.raft(2).log().LastIndex();

  Message app = From1To2(MessageType::kApp, term);
  app.index = last;
  app.log_term = net.raft(2).log().LastTerm();
  app.commit = net.raft(2).log().committed();
  SECTION("a gap before the first entry") {
    app.entries = {Entry{term, last + 2, EntryType::kNormal, "a"}};
  }
  SECTION("a gap between entries") {
    app.entries = {Entry{term, last + 1, EntryType::kNormal, "a"},
                   Entry{term, last + 3, EntryType::kNormal, "b"}};
  }
  SECTION("an entry of a term above the leader's") {
    app.entries = {Entry{term + 1, last + 1, EntryType::kNormal, "a"}};
  }
  SECTION("terms going down") {
    app.entries = {Entry{term, last + 1, EntryType::kNormal, "a"},
                   Entry{term - 1, last + 2, EntryType::kNormal, "b"}};
  }
  SECTION("a membership change that does not decode, committed at once") {
    // Before the fix Advance() stopped the process applying it.
    app.entries = {Entry{term, last + 1, EntryType::kConfChange, "junk"}};
    app.commit = last + 1;
  }
  net.raft(2).Step(app);
  net.Settle();

  CHECK(net.raft(2).log().LastIndex() == last);
  CHECK(net.storage(2).LastIndex() == last);
  CHECK(net.raft(2).term() == term);
}

TEST_CASE("Malformed: a snapshot naming a node both voter and learner is dropped",
          "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t commit = net.raft(2).log().committed();

  Message m = From1To2(MessageType::kSnap, net.raft(1).term());
  auto snap = std::make_shared<Snapshot>();
  snap->meta.index = commit + 10;
  snap->meta.term = net.raft(1).term();
  SECTION("voter and learner") {
    snap->meta.conf_state.voters = {1, 2, 3};
    snap->meta.conf_state.learners = {3};
  }
  SECTION("a learner twice") {
    snap->meta.conf_state.voters = {1, 2};
    snap->meta.conf_state.learners = {3, 3};
  }
  m.snapshot = snap;
  // Before the fix Restore() reset the membership and stopped the process.
  net.raft(2).Step(m);
  net.Settle();

  CHECK(net.node(2).installed_snapshots.empty());
  CHECK(net.raft(2).log().committed() == commit);
  CHECK(net.raft(2).conf_state().voters == std::vector<NodeId>{1, 2, 3});
}

TEST_CASE("Malformed: a snapshot message without a snapshot is dropped", "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t commit = net.raft(2).log().committed();

  net.raft(2).Step(From1To2(MessageType::kSnap, net.raft(1).term()));
  net.Settle();

  CHECK(net.raft(2).log().committed() == commit);
}

TEST_CASE("Malformed: a leader ignores a follower acknowledging entries it does not have",
          "[raft][malformed]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t last = net.raft(1).log().LastIndex();
  REQUIRE(net.raft(1).progress(2)->match == last);

  // Before the fix match went to last + 5, past the leader's own log.
  Message ack;
  ack.type = MessageType::kAppResp;
  ack.from = 2;
  ack.to = 1;
  ack.term = net.raft(1).term();
  ack.index = last + 5;
  net.raft(1).Step(ack);
  net.Settle();

  CHECK(net.raft(1).progress(2)->match == last);
  CHECK(net.raft(1).progress(2)->next == last + 1);
  CHECK(net.raft(1).log().committed() == last);
}

TEST_CASE("Malformed: honest traffic without a term still works", "[raft][malformed]") {
  // Forwarded requests carry term 0 (Raft::Send); they must not be dropped.
  RaftTestNetwork net(3);
  net.Elect(1);
  REQUIRE(net.raft(2).ReadIndex("r") == RaftError::kOk);
  net.Settle();
  CHECK(net.node(2).read_states.size() == 1);
}

}  // namespace
}  // namespace dfs::raft
