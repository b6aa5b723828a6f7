#include "tests/sim/linearizability.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

namespace dfs::sim {

namespace {

// One call or return event in a doubly linked list ordered by time.
struct Event {
  size_t op;
  bool is_call;
  uint64_t time;
  Event* match = nullptr;  // call <-> return
  Event* prev = nullptr;
  Event* next = nullptr;
};

// Removes a call (and its return, if any) from the list.
void Lift(Event* call) {
  call->prev->next = call->next;
  if (call->next) call->next->prev = call->prev;
  if (Event* ret = call->match) {
    ret->prev->next = ret->next;
    if (ret->next) ret->next->prev = ret->prev;
  }
}

// Undoes Lift, in reverse order.
void Unlift(Event* call) {
  if (Event* ret = call->match) {
    ret->prev->next = ret;
    if (ret->next) ret->next->prev = ret;
  }
  call->prev->next = call;
  if (call->next) call->next->prev = call;
}

struct CacheKey {
  std::vector<uint64_t> linearized;
  std::string state;
  bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    size_t h = std::hash<std::string>()(k.state);
    for (uint64_t w : k.linearized)
      h = h * 1000003u ^ std::hash<uint64_t>()(w);
    return h;
  }
};

std::string Describe(const RegisterOp& op) {
  std::ostringstream out;
  out << (op.kind == RegisterOp::kPut ? "put(" : "get() -> ") << "'" << op.value << "'"
      << (op.kind == RegisterOp::kPut ? ")" : "") << " [" << op.invoke << ", ";
  if (op.response == RegisterOp::kNoResponse) {
    out << "no response]";
  } else {
    out << op.response << "]";
  }
  return out.str();
}

}  // namespace

LinearizabilityResult CheckRegisterHistory(const std::vector<RegisterOp>& ops,
                                           const std::string& initial) {
  std::vector<Event> events;
  events.reserve(ops.size() * 2);
  size_t returns_left = 0;
  for (size_t i = 0; i < ops.size(); i++) {
    events.push_back(Event{i, true, ops[i].invoke});
    if (ops[i].response != RegisterOp::kNoResponse) {
      events.push_back(Event{i, false, ops[i].response});
      returns_left++;
    }
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    return !a.is_call && b.is_call;  // a return at t precedes a call at t
  });
  std::vector<Event*> call_of(ops.size(), nullptr);
  for (Event& e : events) {
    if (e.is_call) call_of[e.op] = &e;
  }
  for (Event& e : events) {
    if (!e.is_call) {
      call_of[e.op]->match = &e;
      e.match = call_of[e.op];
    }
  }
  Event head{SIZE_MAX, false, 0};
  Event* prev = &head;
  for (Event& e : events) {
    prev->next = &e;
    e.prev = prev;
    prev = &e;
  }

  std::vector<uint64_t> linearized((ops.size() + 63) / 64, 0);
  std::unordered_set<CacheKey, CacheKeyHash> cache;
  struct Frame {
    Event* call;
    std::string state;
  };
  std::vector<Frame> stack;
  std::string state = initial;
  size_t deepest = 0;
  Event* entry = head.next;
  while (returns_left > 0) {
    if (entry == nullptr) break;  // only unanswered calls remain to try
    if (entry->is_call) {
      const RegisterOp& op = ops[entry->op];
      bool legal = op.kind == RegisterOp::kPut || op.value == state;
      std::string next_state = op.kind == RegisterOp::kPut ? op.value : state;
      if (legal) {
        linearized[entry->op / 64] |= uint64_t{1} << (entry->op % 64);
        if (cache.insert(CacheKey{linearized, next_state}).second) {
          stack.push_back(Frame{entry, state});
          state = std::move(next_state);
          if (entry->match) returns_left--;
          Lift(entry);
          deepest = std::max(deepest, stack.size());
          entry = head.next;
          continue;
        }
        linearized[entry->op / 64] &= ~(uint64_t{1} << (entry->op % 64));
      }
      entry = entry->next;
      continue;
    }
    // A return whose call could not be placed: backtrack.
    if (stack.empty()) {
      LinearizabilityResult result;
      result.ok = false;
      std::ostringstream out;
      out << "no linearization; stuck at " << Describe(ops[entry->op]) << "; history:";
      for (const RegisterOp& o : ops)
        out << "\n  " << Describe(o);
      result.explanation = out.str();
      return result;
    }
    Frame top = std::move(stack.back());
    stack.pop_back();
    state = std::move(top.state);
    linearized[top.call->op / 64] &= ~(uint64_t{1} << (top.call->op % 64));
    if (top.call->match) returns_left++;
    Unlift(top.call);
    entry = top.call->next;
  }
  if (returns_left > 0) {
    // Ran off the end with answered operations left: cannot happen, since a
    // return always follows its call in the list.
    return LinearizabilityResult{false, "internal: search ended early"};
  }
  return LinearizabilityResult{};
}

}  // namespace dfs::sim
