#include "meta/ops/lock_ranges.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace dfs::meta::ops {

namespace {

bool Overlap(const pb::LockRange& a, const pb::LockRange& b) {
  return a.start() <= b.end() && b.start() <= a.end();
}

// `a` ends right before `b` starts.
bool Touches(const pb::LockRange& a, const pb::LockRange& b) {
  return a.end() != kLockEndOfFile && a.end() + 1 == b.start();
}

auto SortKey(const pb::LockRange& l) {
  return std::make_tuple(static_cast<int>(l.kind()), l.lock_session(), l.owner(), l.start());
}

void Store(pb::LockList* list, std::vector<pb::LockRange> locks) {
  std::sort(locks.begin(), locks.end(),
            [](const pb::LockRange& a, const pb::LockRange& b) { return SortKey(a) < SortKey(b); });
  list->clear_locks();
  for (pb::LockRange& l : locks)
    *list->add_locks() = std::move(l);
}

template <class Keep>
bool Filter(pb::LockList* list, Keep keep) {
  std::vector<pb::LockRange> kept;
  for (const pb::LockRange& l : list->locks())
    if (keep(l)) kept.push_back(l);
  bool dropped = static_cast<int>(kept.size()) != list->locks_size();
  if (dropped) Store(list, std::move(kept));
  return dropped;
}

}  // namespace

bool SameHolder(const pb::LockRange& a, const pb::LockRange& b) {
  return a.kind() == b.kind() && a.lock_session() == b.lock_session() && a.owner() == b.owner();
}

const pb::LockRange* FindLockConflict(const pb::LockList& list, const pb::LockRange& want) {
  if (want.type() == pb::LOCK_TYPE_UNLOCK) return nullptr;
  for (const pb::LockRange& held : list.locks()) {
    if (held.kind() != want.kind() || SameHolder(held, want) || !Overlap(held, want)) continue;
    if (held.type() == pb::LOCK_TYPE_WRITE || want.type() == pb::LOCK_TYPE_WRITE) return &held;
  }
  return nullptr;
}

bool ApplyLock(pb::LockList* list, const pb::LockRange& want) {
  std::vector<pb::LockRange> out;
  bool released = false;
  pb::LockRange merged = want;
  for (const pb::LockRange& held : list->locks()) {
    if (!SameHolder(held, want)) {
      out.push_back(held);
      continue;
    }
    bool same_type = held.type() == want.type() && want.type() != pb::LOCK_TYPE_UNLOCK;
    if (same_type && (Overlap(held, merged) || Touches(held, merged) || Touches(merged, held))) {
      // One lock of one type over the union.
      merged.set_start(std::min(merged.start(), held.start()));
      merged.set_end(std::max(merged.end(), held.end()));
      continue;
    }
    if (!Overlap(held, want)) {
      out.push_back(held);
      continue;
    }
    // The part of `held` inside want's range goes (replaced or unlocked);
    // what sticks out on either side stays.
    released =
        released || held.type() == pb::LOCK_TYPE_WRITE || want.type() == pb::LOCK_TYPE_UNLOCK;
    if (held.start() < want.start()) {
      pb::LockRange left = held;
      left.set_end(want.start() - 1);
      out.push_back(left);
    }
    if (held.end() > want.end()) {
      pb::LockRange right = held;
      right.set_start(want.end() + 1);
      out.push_back(right);
    }
  }
  if (want.type() != pb::LOCK_TYPE_UNLOCK) out.push_back(merged);
  Store(list, std::move(out));
  return released;
}

bool ReleaseHolder(pb::LockList* list, pb::LockKind kind, uint64_t lock_session, uint64_t owner) {
  return Filter(list, [&](const pb::LockRange& l) {
    return !(l.kind() == kind && l.lock_session() == lock_session && l.owner() == owner);
  });
}

bool ReleaseSession(pb::LockList* list, uint64_t lock_session) {
  return Filter(list, [&](const pb::LockRange& l) { return l.lock_session() != lock_session; });
}

}  // namespace dfs::meta::ops
