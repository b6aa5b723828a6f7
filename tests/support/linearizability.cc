#include "tests/support/linearizability.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <unordered_set>

namespace dfs::testing {

namespace {

using State = std::vector<uint64_t>;  // per name: file id, 0 = absent

// Past this many possible states between two windows the check gives up.
constexpr size_t kMaxCarriedStates = 100'000;
// The file an unknown create made, when the client never learned its id:
// any lookup may see it.
constexpr uint64_t kAnyId = ~uint64_t{0};

// Applies `op` to `s`; returns whether the model lets it succeed (a failed
// operation changes nothing).
bool Apply(const NsOp& op, State* s, uint64_t* seen) {
  State& st = *s;
  switch (op.kind) {
    case NsOp::Kind::kCreate:
      if (st[op.name] != 0) return false;
      st[op.name] = op.id != 0 ? op.id : kAnyId;
      return true;
    case NsOp::Kind::kUnlink:
      if (st[op.name] == 0) return false;
      st[op.name] = 0;
      return true;
    case NsOp::Kind::kRename:
      if (st[op.name] == 0) return false;
      if (op.noreplace && op.name != op.to && st[op.to] != 0) return false;
      if (op.name != op.to) {
        st[op.to] = st[op.name];
        st[op.name] = 0;
      }
      return true;
    case NsOp::Kind::kLookup:
      *seen = st[op.name];
      return st[op.name] != 0;
  }
  return false;
}

// Whether `op`'s recorded outcome is what the model answers from `before`.
bool Matches(const NsOp& op, bool model_ok, uint64_t seen) {
  if (model_ok != op.ok) return false;
  if (op.kind == NsOp::Kind::kLookup && op.ok) return seen == op.id || seen == kAnyId;
  return true;
}

// Every linearization of one window from a set of start states: the
// states they end in. States seen with the same operations done are
// explored once, whichever start state led there.
class Search {
 public:
  Search(std::vector<NsOp> ops, uint64_t* budget) : ops_(std::move(ops)), budget_(budget) {
    done_.assign(ops_.size(), false);
  }

  // Adds to *ends every state a linearization from `start` ends in.
  void From(const State& start, std::set<State>* ends) {
    ends_ = ends;
    Step(start, 0);
  }

  bool gave_up() const { return gave_up_; }
  // The longest prefix (in call order) some linearization explained.
  size_t best() const { return best_; }

 private:
  void Step(const State& s, size_t count) {
    if (count == ops_.size()) {
      ends_->insert(s);
      return;
    }
    if (*budget_ == 0) {
      gave_up_ = true;
      return;
    }
    --*budget_;
    if (!seen_.insert(Key(s)).second) return;
    // The first operation not done (in call order) bounds the prefix that
    // is certainly explained.
    size_t first = 0;
    while (first < ops_.size() && done_[first])
      first++;
    best_ = std::max(best_, first);
    // An operation may go next only if no pending one returned before it
    // was called.
    int64_t horizon = std::numeric_limits<int64_t>::max();
    for (size_t i = first; i < ops_.size(); i++) {
      if (!done_[i] && !ops_[i].unknown) horizon = std::min(horizon, ops_[i].ret);
    }
    for (size_t i = first; i < ops_.size() && ops_[i].call <= horizon && !gave_up_; i++) {
      if (done_[i]) continue;
      const NsOp& op = ops_[i];
      State next = s;
      uint64_t seen = 0;
      bool model_ok = Apply(op, &next, &seen);
      done_[i] = true;
      if (op.unknown) {
        // It took effect here (whatever the model says) ...
        Step(model_ok ? next : s, count + 1);
        // ... or never did.
        Step(s, count + 1);
      } else if (Matches(op, model_ok, seen)) {
        Step(next, count + 1);
      }
      done_[i] = false;
    }
  }

  std::string Key(const State& s) const {
    std::string key;
    key.reserve(done_.size() / 8 + 1 + s.size() * 8);
    uint8_t bits = 0;
    for (size_t i = 0; i < done_.size(); i++) {
      if (done_[i]) bits |= static_cast<uint8_t>(1u << (i % 8));
      if (i % 8 == 7) {
        key.push_back(static_cast<char>(bits));
        bits = 0;
      }
    }
    key.push_back(static_cast<char>(bits));
    key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint64_t));
    return key;
  }

  const std::vector<NsOp> ops_;
  uint64_t* budget_;
  std::vector<bool> done_;
  std::set<State>* ends_ = nullptr;
  std::unordered_set<std::string> seen_;
  size_t best_ = 0;
  bool gave_up_ = false;
};

// Where each window begins: an operation called after every earlier one
// returned or, unknown, settled (`settle` after it returned: a call that
// failed may still take effect while a retry it started is on its way).
// REQUIRES: `ops` in call order, with their recorded return times.
std::vector<size_t> WindowStarts(const std::vector<NsOp>& ops, int64_t settle) {
  std::vector<size_t> starts;
  int64_t open_until = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < ops.size(); i++) {
    if (i == 0 || ops[i].call > open_until) starts.push_back(i);
    const int64_t ret = std::max(ops[i].ret, ops[i].call);
    int64_t until = ret;
    if (ops[i].unknown) {
      until = settle > std::numeric_limits<int64_t>::max() - ret
                  ? std::numeric_limits<int64_t>::max()
                  : ret + settle;
    }
    open_until = std::max(open_until, until);
  }
  starts.push_back(ops.size());
  return starts;
}

}  // namespace

LinearizabilityResult CheckNamespaceHistory(const std::vector<NsOp>& history, int names,
                                            uint64_t max_states, int64_t settle) {
  std::vector<NsOp> ops = history;
  std::stable_sort(ops.begin(), ops.end(),
                   [](const NsOp& a, const NsOp& b) { return a.call < b.call; });
  const std::vector<size_t> starts = WindowStarts(ops, settle);
  // Within its window an unknown operation may take effect at any point
  // after its call.
  for (NsOp& op : ops) {
    if (op.unknown) op.ret = std::numeric_limits<int64_t>::max();
  }
  LinearizabilityResult r;
  uint64_t budget = max_states;
  std::set<State> states = {State(names, 0)};
  for (size_t w = 0; w + 1 < starts.size(); w++) {
    const size_t begin = starts[w], end = starts[w + 1];
    Search search(std::vector<NsOp>(ops.begin() + begin, ops.begin() + end), &budget);
    std::set<State> ends;
    for (const State& s : states)
      search.From(s, &ends);
    r.windows++;
    r.largest_window = std::max(r.largest_window, end - begin);
    r.longest_prefix = begin + search.best();
    if (search.gave_up()) {
      r.gave_up = true;
      break;
    }
    if (ends.empty()) {
      const NsOp& op = ops[r.longest_prefix];
      r.explanation = "no order explains operation " + std::to_string(r.longest_prefix) +
                      " (client " + std::to_string(op.client) + ", called at " +
                      std::to_string(op.call) + ") after the first " +
                      std::to_string(r.longest_prefix) + " in call order";
      break;
    }
    if (ends.size() > kMaxCarriedStates) {
      r.gave_up = true;
      break;
    }
    states = std::move(ends);
    if (end == ops.size()) r.linearizable = true;
  }
  if (ops.empty()) r.linearizable = true;
  r.states_explored = max_states - budget;
  if (r.linearizable) r.longest_prefix = ops.size();
  return r;
}

}  // namespace dfs::testing
