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

TEST_CASE("linearizability: RENAME_NOREPLACE fails onto a present name", "[linearizability]") {
  NsOp noreplace = Rename(0, 1, true, 4, 5);
  noreplace.noreplace = true;
  CHECK(CheckNamespaceHistory({Create(0, 7, true, 0, 1), noreplace, Lookup(1, 7, 6, 7)}, 2)
            .linearizable);
  CHECK_FALSE(
      CheckNamespaceHistory({Create(0, 7, true, 0, 1), Create(1, 8, true, 2, 3), noreplace}, 2)
          .linearizable);
  noreplace.ok = false;
  CHECK(CheckNamespaceHistory(
            {Create(0, 7, true, 0, 1), Create(1, 8, true, 2, 3), noreplace, Lookup(1, 8, 6, 7)}, 2)
            .linearizable);
}

TEST_CASE("linearizability: windows carry every state a window may end in", "[linearizability]") {
  // Two creates of the same name race; either may have won. The window
  // ends there; a later lookup decides which, and both answers pass.
  std::vector<NsOp> race = {Create(0, 7, true, 0, 10, 0), Unlink(0, true, 1, 11, 1),
                            Create(0, 8, true, 2, 12, 2)};
  std::vector<NsOp> saw7 = race, saw8 = race, saw_none = race, saw9 = race;
  saw7.push_back(Lookup(0, 7, 20, 21));
  saw8.push_back(Lookup(0, 8, 20, 21));
  saw_none.push_back(Lookup(0, 0, 20, 21));
  saw9.push_back(Lookup(0, 9, 20, 21));
  LinearizabilityResult r = CheckNamespaceHistory(saw7, 1);
  CHECK(r.linearizable);
  CHECK(r.windows == 2);
  CHECK(CheckNamespaceHistory(saw8, 1).linearizable);
  // The only orders in which all three succeed are create 7, unlink,
  // create 8 and create 8, unlink, create 7: never absent, never 9.
  CHECK_FALSE(CheckNamespaceHistory(saw_none, 1).linearizable);
  CHECK_FALSE(CheckNamespaceHistory(saw9, 1).linearizable);
}

TEST_CASE("linearizability: an unknown operation settles after `settle`", "[linearizability]") {
  NsOp lost = Create(0, 7, false, 0, 0);
  lost.unknown = true;
  // Settled at 100: a window may close after it, and what follows sees
  // either outcome, consistently.
  std::vector<NsOp> h = {lost, Lookup(0, 0, 200, 201), Lookup(0, 0, 300, 301)};
  LinearizabilityResult r = CheckNamespaceHistory(h, 1, 1'000'000, 100);
  CHECK(r.linearizable);
  CHECK(r.windows == 3);
  h.push_back(Lookup(0, 7, 400, 401));
  // Without a settle bound it could still land at 350 ...
  CHECK(CheckNamespaceHistory(h, 1).linearizable);
  // ... with one, it cannot appear after it was seen absent past 100.
  CHECK_FALSE(CheckNamespaceHistory(h, 1, 1'000'000, 100).linearizable);
}

TEST_CASE("linearizability: an unknown create without an id; settle counts from the return",
          "[linearizability]") {
  // The client never learned the new file's id: a later lookup may see
  // whatever id, once.
  NsOp lost = Create(0, 0, false, 0, 10);
  lost.unknown = true;
  CHECK(CheckNamespaceHistory({lost, Lookup(0, 42, 20, 21)}, 1).linearizable);
  CHECK(CheckNamespaceHistory({lost, Lookup(0, 0, 20, 21)}, 1).linearizable);
  // A call that returned late (at 150, its call at 0) may still land until
  // 150 + settle: seen absent at 200, present at 300 is fine with settle 100.
  NsOp late = Create(0, 7, false, 0, 150);
  late.unknown = true;
  CHECK(CheckNamespaceHistory({late, Lookup(0, 0, 200, 201), Lookup(0, 7, 240, 241)}, 1, 1'000'000,
                              100)
            .linearizable);
}

TEST_CASE("linearizability: a long history is checked window by window", "[linearizability]") {
  // 30,000 operations of four clients on five names, each client's calls
  // in turn, with gaps between bursts; then a read of an id never created.
  std::mt19937_64 rng(11);
  std::vector<NsOp> history;
  std::vector<uint64_t> state(5, 0);
  uint64_t next_id = 1;
  int64_t t = 0;
  for (int i = 0; i < 30'000; i++) {
    const int name = static_cast<int>(rng() % 5), client = i % 4;
    NsOp op;
    if (rng() % 2) {
      op = Create(name, next_id++, state[name] == 0, 0, 0, client);
      if (op.ok) state[name] = op.id;
    } else {
      op = Lookup(name, state[name], 0, 0, client);
    }
    op.call = t;
    op.ret = t + 5;
    t += (i % 4 == 3) ? 20 : 1;  // four overlapping calls, then a gap
    history.push_back(op);
  }
  LinearizabilityResult r = CheckNamespaceHistory(history, 5);
  INFO(r.explanation << "; " << r.states_explored << " states");
  CHECK(r.linearizable);
  CHECK(r.windows == 7'500);
  CHECK(r.largest_window == 4);
  NsOp read = Lookup(0, 999'999, t + 100, t + 101);
  history.push_back(read);
  r = CheckNamespaceHistory(history, 5);
  CHECK_FALSE(r.linearizable);
  CHECK(r.longest_prefix == history.size() - 1);
}

}  // namespace
}  // namespace dfs::testing
