#include "meta/raft/progress.h"

#include <catch2/catch.hpp>

namespace dfs::raft {
namespace {

Progress Replicating(uint64_t match, uint64_t next, size_t max_inflight = 8) {
  Progress pr(max_inflight);
  pr.match = match;
  pr.BecomeReplicate();
  pr.next = next;  // as optimistic sends left it
  return pr;
}

Progress Probing(uint64_t match, uint64_t next) {
  Progress pr(8);
  pr.match = match;
  pr.BecomeProbe();
  pr.next = next;
  return pr;
}

TEST_CASE("Progress: in replicate, a rejection at or below match is stale and ignored",
          "[raft][progress]") {
  Progress pr = Replicating(5, 10);

  CHECK_FALSE(pr.MaybeDecrTo(4, 0));
  CHECK_FALSE(pr.MaybeDecrTo(5, 0));
  CHECK(pr.next == 10);
}

TEST_CASE("Progress: in replicate, a fresh rejection falls back to match + 1", "[raft][progress]") {
  Progress pr = Replicating(5, 10);

  CHECK(pr.MaybeDecrTo(9, 2));
  CHECK(pr.next == 6);  // the hint cannot undercut what the follower acknowledged
}

TEST_CASE("Progress: in probe, only the rejection of the latest probe counts", "[raft][progress]") {
  Progress pr = Probing(3, 10);
  pr.probe_sent = true;

  CHECK_FALSE(pr.MaybeDecrTo(5, 0));  // an older probe (next - 1 == 9)
  CHECK(pr.next == 10);
  CHECK(pr.probe_sent);
}

TEST_CASE("Progress: in probe, a rejection moves next to the hint but never to or below match",
          "[raft][progress]") {
  Progress pr = Probing(3, 10);
  pr.probe_sent = true;

  CHECK(pr.MaybeDecrTo(9, 6));
  CHECK(pr.next == 7);
  CHECK_FALSE(pr.probe_sent);  // may probe again at once

  CHECK(pr.MaybeDecrTo(6, 0));
  CHECK(pr.next == 4);  // match + 1
}

TEST_CASE("Progress: MaybeUpdate moves match forward only and unpauses a probe",
          "[raft][progress]") {
  Progress pr = Probing(3, 4);
  pr.probe_sent = true;

  CHECK(pr.MaybeUpdate(7));
  CHECK(pr.match == 7);
  CHECK(pr.next == 8);
  CHECK_FALSE(pr.probe_sent);

  CHECK_FALSE(pr.MaybeUpdate(5));  // a stale acknowledgement
  CHECK(pr.match == 7);
  CHECK(pr.next == 8);
}

TEST_CASE("Progress: IsPaused in each state", "[raft][progress]") {
  SECTION("probe pauses while a probe is in flight") {
    Progress pr = Probing(0, 1);
    CHECK_FALSE(pr.IsPaused());
    pr.probe_sent = true;
    CHECK(pr.IsPaused());
  }
  SECTION("replicate pauses when the inflights are full") {
    Progress pr = Replicating(0, 1, 2);
    pr.inflights.Add(1);
    CHECK_FALSE(pr.IsPaused());
    pr.inflights.Add(2);
    CHECK(pr.IsPaused());
    pr.inflights.FreeLE(1);
    CHECK_FALSE(pr.IsPaused());
  }
  SECTION("snapshot always pauses") {
    Progress pr(8);
    pr.BecomeSnapshot(10);
    CHECK(pr.IsPaused());
  }
}

TEST_CASE("Progress: leaving snapshot state resumes after the snapshot", "[raft][progress]") {
  Progress pr(8);
  pr.match = 3;
  pr.BecomeSnapshot(10);
  pr.BecomeProbe();

  CHECK(pr.state == ProgressState::kProbe);
  CHECK(pr.next == 11);
  CHECK(pr.pending_snapshot == 0);
}

TEST_CASE("Inflights: full at capacity, freed up to an index or one at a time",
          "[raft][progress]") {
  Inflights in(3);
  in.Add(5);
  in.Add(7);
  CHECK_FALSE(in.Full());
  in.Add(9);
  CHECK(in.Full());
  CHECK(in.Count() == 3);

  in.FreeLE(6);
  CHECK(in.Count() == 2);
  CHECK_FALSE(in.Full());
  in.FreeLE(4);  // nothing that old left
  CHECK(in.Count() == 2);

  in.FreeFirstOne();
  CHECK(in.Count() == 1);
  in.FreeLE(9);
  CHECK(in.Count() == 0);

  in.Add(10);
  in.Reset();
  CHECK(in.Count() == 0);
}

}  // namespace
}  // namespace dfs::raft
