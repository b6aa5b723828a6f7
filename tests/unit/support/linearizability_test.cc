// The namespace linearizability checker (tests/support/linearizability.h)
// accepts what a correct file system may answer and rejects what it may not.
#include <catch2/catch.hpp>

#include <random>

#include "tests/support/linearizability.h"

namespace dfs::testing {
namespace {

NsOp Op(NsOp::Kind kind, int name, uint64_t id, bool ok, int64_t call, int64_t ret, int client) {
  NsOp op;
  op.kind = kind;
  op.name = name;
  op.id = id;
  op.ok = ok;
  op.call = call;
  op.ret = ret;
  op.client = client;
  return op;
}

NsOp Create(int name, uint64_t id, bool ok, int64_t call, int64_t ret, int client = 0) {
  return Op(NsOp::Kind::kCreate, name, id, ok, call, ret, client);
}

NsOp Lookup(int name, uint64_t seen, int64_t call, int64_t ret, int client = 1) {
  return Op(NsOp::Kind::kLookup, name, seen, seen != 0, call, ret, client);
}

NsOp Unlink(int name, bool ok, int64_t call, int64_t ret, int client = 0) {
  return Op(NsOp::Kind::kUnlink, name, 0, ok, call, ret, client);
}

NsOp Rename(int from, int to, bool ok, int64_t call, int64_t ret, int client = 0) {
  NsOp op = Op(NsOp::Kind::kRename, from, 0, ok, call, ret, client);
  op.to = to;
  return op;
}

TEST_CASE("linearizability: sequential histories follow the model", "[linearizability]") {
  CHECK(CheckNamespaceHistory(
            {Create(0, 7, true, 0, 1), Lookup(0, 7, 2, 3), Rename(0, 1, true, 4, 5),
             Lookup(0, 0, 6, 7), Lookup(1, 7, 8, 9), Unlink(1, true, 10, 11), Lookup(1, 0, 12, 13)},
            2)
            .linearizable);
  // A create that succeeded twice on one name is impossible.
  CHECK_FALSE(
      CheckNamespaceHistory({Create(0, 7, true, 0, 1), Create(0, 8, true, 2, 3)}, 1).linearizable);
}

TEST_CASE("linearizability: overlapping operations may take either order", "[linearizability]") {
  // The lookup overlaps the create: absent or present are both fine.
  CHECK(CheckNamespaceHistory({Create(0, 7, true, 0, 10), Lookup(0, 0, 1, 2)}, 1).linearizable);
  CHECK(CheckNamespaceHistory({Create(0, 7, true, 0, 10), Lookup(0, 7, 1, 2)}, 1).linearizable);
  // Two overlapping O_EXCL creates: exactly one wins.
  CHECK(CheckNamespaceHistory({Create(0, 7, true, 0, 10, 0), Create(0, 8, false, 1, 9, 1)}, 1)
            .linearizable);
  CHECK_FALSE(CheckNamespaceHistory({Create(0, 7, true, 0, 10, 0), Create(0, 8, true, 1, 9, 1)}, 1)
                  .linearizable);
}

TEST_CASE("linearizability: a stale read after a completed change is caught", "[linearizability]") {
  LinearizabilityResult r = CheckNamespaceHistory(
      {Create(0, 7, true, 0, 1), Unlink(0, true, 2, 3), Lookup(0, 7, 4, 5)}, 1);
  CHECK_FALSE(r.linearizable);
  CHECK(r.longest_prefix == 2);
  CHECK_FALSE(r.explanation.empty());
  // A read that goes back in time across two readers.
  CHECK_FALSE(CheckNamespaceHistory(
                  {Create(0, 7, true, 0, 100), Lookup(0, 7, 10, 20, 1), Lookup(0, 0, 30, 40, 2)}, 1)
                  .linearizable);
}

TEST_CASE("linearizability: unknown outcomes may or may not have happened", "[linearizability]") {
  NsOp lost = Create(0, 7, false, 0, 0);
  lost.unknown = true;
  // Took effect (seen later) ...
  CHECK(CheckNamespaceHistory({lost, Lookup(0, 7, 5, 6)}, 1).linearizable);
  // ... or not ...
  CHECK(CheckNamespaceHistory({lost, Lookup(0, 0, 5, 6)}, 1).linearizable);
  // ... but not both, once seen.
  CHECK_FALSE(
      CheckNamespaceHistory({lost, Lookup(0, 7, 5, 6), Lookup(0, 0, 7, 8)}, 1).linearizable);
  // Nor before it was called.
  NsOp later = lost;
  later.call = 5;
  CHECK_FALSE(CheckNamespaceHistory({Lookup(0, 7, 0, 1), later}, 1).linearizable);
}

TEST_CASE("linearizability: a long concurrent history of a correct register checks quickly",
          "[linearizability]") {
  // Four clients on three names against a sequential model run with
  // overlapping intervals that contain each operation's real moment.
  std::mt19937_64 rng(7);
  std::vector<NsOp> history;
  std::vector<uint64_t> state(3, 0);
  uint64_t next_id = 1;
  for (int64_t t = 0; t < 600; t++) {
    NsOp op;
    int kind = static_cast<int>(rng() % 4);
    op.name = static_cast<int>(rng() % 3);
    op.client = static_cast<int>(rng() % 4);
    switch (kind) {
      case 0:
        op = Create(op.name, next_id++, state[op.name] == 0, 0, 0, op.client);
        if (op.ok) state[op.name] = op.id;
        break;
      case 1:
        op = Unlink(op.name, state[op.name] != 0, 0, 0, op.client);
        if (op.ok) state[op.name] = 0;
        break;
      case 2: {
        int to = static_cast<int>(rng() % 3);
        op = Rename(op.name, to, state[op.name] != 0, 0, 0, op.client);
        if (op.ok && op.name != to) {
          state[to] = state[op.name];
          state[op.name] = 0;
        }
        break;
      }
      default:
        op = Lookup(op.name, state[op.name], 0, 0, op.client);
    }
    // The real moment is 10*t; the interval around it up to 25 wide.
    op.call = 10 * t - static_cast<int64_t>(rng() % 12);
    op.ret = 10 * t + static_cast<int64_t>(rng() % 12);
    history.push_back(op);
  }
  LinearizabilityResult r = CheckNamespaceHistory(history, 3);
  INFO(r.explanation << "; " << r.states_explored << " states");
  CHECK(r.linearizable);
  CHECK_FALSE(r.gave_up);
}

}  // namespace
}  // namespace dfs::testing
