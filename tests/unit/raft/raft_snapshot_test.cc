// Catching followers up by snapshot once the leader has compacted its log
// (§5 of the dissertation).
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "meta/raft/raft.h"
#include "tests/unit/raft/raft_test_network.h"

namespace dfs::raft {
namespace {

using test::DataOf;
using test::RaftTestNetwork;

bool IsSnapTo(const Message& m, NodeId to) {
  return m.type == MessageType::kSnap && m.to == to;
}

// Leader 1 commits ten entries that node 3 misses, then compacts its log
// up to its applied index. Returns that index.
uint64_t CompactWhileNode3IsAway(RaftTestNetwork& net) {
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 10; i++)
    REQUIRE(net.raft(1).Propose("p" + std::to_string(i)) == RaftError::kOk);
  net.Settle();
  const uint64_t index = net.raft(1).log().applied();
  REQUIRE(index == net.raft(1).log().LastIndex());
  net.storage(1).CreateSnapshotAndCompact(index, net.raft(1).conf_state(),
                                          "state@" + std::to_string(index));
  REQUIRE(net.raft(1).log().FirstIndex() == index + 1);
  net.Heal();
  return index;
}

TEST_CASE("Snapshot: a lagging follower installs the leader's snapshot, then gets later entries",
          "[raft][snapshot]") {
  RaftTestNetwork net(3);
  const uint64_t snap_index = CompactWhileNode3IsAway(net);
  net.ClearSent();

  net.TickAllUntil([&] { return !net.node(3).installed_snapshots.empty(); });

  CHECK(net.CountSent([](const Message& m) { return IsSnapTo(m, 3); }) == 1);
  REQUIRE(net.node(3).installed_snapshots.size() == 1);
  CHECK(net.node(3).installed_snapshots[0].index == snap_index);
  CHECK(net.storage(3).FirstIndex() == snap_index + 1);
  CHECK(net.storage(3).GetSnapshot().data == "state@" + std::to_string(snap_index));
  CHECK(net.raft(3).conf_state() == net.raft(1).conf_state());
  CHECK(net.raft(3).log().committed() == snap_index);

  REQUIRE(net.raft(1).Propose("after") == RaftError::kOk);
  net.Settle();

  CHECK(net.raft(3).log().LastIndex() == net.raft(1).log().LastIndex());
  CHECK(net.raft(3).log().committed() == net.raft(1).log().committed());
  CHECK(DataOf(net.node(3).applied) == std::vector<std::string>{"after"});
  CHECK(net.node(3).applied.back().index == snap_index + 1);
  CHECK(net.raft(1).progress(3)->state == ProgressState::kReplicate);
}

TEST_CASE("Snapshot: a new learner added after compaction is brought up by snapshot",
          "[raft][snapshot][membership]") {
  RaftTestNetwork net(3);
  const uint64_t snap_index = CompactWhileNode3IsAway(net);
  net.TickAllUntil([&] { return net.raft(3).log().committed() == snap_index; });

  net.AddEmptyNode(4);
  REQUIRE(net.raft(1).ProposeConfChange(ConfChange{ConfChangeType::kAddLearner, 4, ""}) ==
          RaftError::kOk);
  net.Settle();
  net.TickAllUntil([&] {
    return net.raft(4).log().committed() == net.raft(1).log().committed() &&
           net.raft(4).log().LastIndex() == net.raft(1).log().LastIndex();
  });

  REQUIRE(net.node(4).installed_snapshots.size() == 1);
  CHECK(net.node(4).installed_snapshots[0].index == snap_index);
  CHECK(net.raft(4).conf_state() == net.raft(1).conf_state());
  CHECK(net.raft(4).conf_state().learners == std::vector<NodeId>{4});
}

TEST_CASE("Snapshot: after ReportSnapshot(failed) the leader sends the snapshot again",
          "[raft][snapshot]") {
  RaftTestNetwork net(3);
  const uint64_t snap_index = CompactWhileNode3IsAway(net);
  net.SetDropFilter([](const Message& m) { return IsSnapTo(m, 3); });
  net.ClearSent();
  auto snaps_sent = [&] { return net.CountSent([](const Message& m) { return IsSnapTo(m, 3); }); };

  net.TickAllUntil([&] { return net.raft(1).progress(3)->state == ProgressState::kSnapshot; });
  CHECK(snaps_sent() == 1);
  net.TickAll(3);
  CHECK(snaps_sent() == 1);  // nothing more while the first one is outstanding
  CHECK(net.node(3).installed_snapshots.empty());

  net.SetDropFilter(nullptr);
  net.raft(1).ReportSnapshot(3, /*failed=*/true);
  CHECK(net.raft(1).progress(3)->state == ProgressState::kProbe);
  net.TickAllUntil([&] { return !net.node(3).installed_snapshots.empty(); });

  CHECK(snaps_sent() == 2);
  CHECK(net.node(3).installed_snapshots[0].index == snap_index);
}

TEST_CASE("Snapshot: a follower ignores a snapshot its commit index already covers",
          "[raft][snapshot]") {
  RaftTestNetwork net(3);
  net.Elect(1);
  const uint64_t commit = net.raft(2).log().committed();
  REQUIRE(commit > 2);
  SECTION("the snapshot's entries are still in the follower's log") {}
  SECTION("the follower compacted them into a newer snapshot of its own") {
    net.storage(2).CreateSnapshotAndCompact(commit, net.raft(2).conf_state(), "");
  }
  const uint64_t first = net.raft(2).log().FirstIndex();

  // A delayed snapshot, older than what the follower has.
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = 2;
  m.term = net.raft(1).term();
  auto snap = std::make_shared<Snapshot>();
  snap->meta.index = commit - 1;
  snap->meta.term = 1;
  snap->meta.conf_state.voters = {1, 2, 3};
  m.snapshot = snap;
  net.ClearSent();
  net.raft(2).Step(m);
  net.Settle();

  CHECK(net.node(2).installed_snapshots.empty());
  CHECK(net.raft(2).log().FirstIndex() == first);
  CHECK(net.raft(2).log().committed() == commit);
  CHECK(net.CountSent([&](const Message& r) {
    return r.from == 2 && r.type == MessageType::kAppResp && !r.reject && r.index == commit;
  }) == 1);
}

}  // namespace
}  // namespace dfs::raft
