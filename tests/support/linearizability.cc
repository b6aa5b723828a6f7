#include "tests/support/linearizability.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <unordered_set>

namespace dfs::testing {

namespace {

using State = std::vector<uint64_t>;  // per name: file id, 0 = absent

// Applies `op` to `s`; returns whether the model lets it succeed (a failed
// operation changes nothing).
bool Apply(const NsOp& op, State* s, uint64_t* seen) {
  State& st = *s;
  switch (op.kind) {
    case NsOp::Kind::kCreate:
      if (st[op.name] != 0) return false;
      st[op.name] = op.id;
      return true;
    case NsOp::Kind::kUnlink:
      if (st[op.name] == 0) return false;
      st[op.name] = 0;
      return true;
    case NsOp::Kind::kRename:
      if (st[op.name] == 0) return false;
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
  if (op.kind == NsOp::Kind::kLookup && op.ok) return seen == op.id;
  return true;
}

class Search {
 public:
  Search(std::vector<NsOp> ops, int names, uint64_t budget)
      : ops_(std::move(ops)), names_(names), budget_(budget), done_(ops_.size(), false) {}

  LinearizabilityResult Run() {
    LinearizabilityResult r;
    State s(names_, 0);
    r.linearizable = Step(s, 0);
    r.states_explored = explored_;
    r.gave_up = gave_up_;
    r.longest_prefix = best_;
    if (!r.linearizable && !gave_up_ && best_ < ops_.size()) {
      const NsOp& op = ops_[best_];
      r.explanation = "no order explains operation " + std::to_string(best_) + " (client " +
                      std::to_string(op.client) + ", called at " + std::to_string(op.call) +
                      ") after the first " + std::to_string(best_) + " in call order";
    }
    return r;
  }

 private:
  // Completes a linearization from `s` with `count` operations done.
  bool Step(const State& s, size_t count) {
    if (count == ops_.size()) return true;
    if (++explored_ > budget_) {
      gave_up_ = true;
      return false;
    }
    if (!seen_.insert(Key(s)).second) return false;
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
    for (size_t i = first; i < ops_.size() && ops_[i].call <= horizon; i++) {
      if (done_[i]) continue;
      const NsOp& op = ops_[i];
      State next = s;
      uint64_t seen = 0;
      bool model_ok = Apply(op, &next, &seen);
      done_[i] = true;
      bool found = false;
      if (op.unknown) {
        // It took effect here (whatever the model says) ...
        found = Step(model_ok ? next : s, count + 1) ||
                // ... or never did.
                Step(s, count + 1);
      } else if (Matches(op, model_ok, seen)) {
        found = Step(next, count + 1);
      }
      done_[i] = false;
      if (found) return true;
      if (gave_up_) return false;
    }
    return false;
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
  const int names_;
  const uint64_t budget_;
  std::vector<bool> done_;
  std::unordered_set<std::string> seen_;
  uint64_t explored_ = 0;
  size_t best_ = 0;
  bool gave_up_ = false;
};

}  // namespace

LinearizabilityResult CheckNamespaceHistory(const std::vector<NsOp>& history, int names,
                                            uint64_t max_states) {
  std::vector<NsOp> ops = history;
  for (NsOp& op : ops) {
    if (op.unknown) op.ret = std::numeric_limits<int64_t>::max();
  }
  std::stable_sort(ops.begin(), ops.end(),
                   [](const NsOp& a, const NsOp& b) { return a.call < b.call; });
  return Search(std::move(ops), names, max_states).Run();
}

}  // namespace dfs::testing
