// The lock table of one inode (pb::LockList) and the rules of advisory
// locks (docs/locks.md), as pure functions: what conflicts, and how a
// holder's ranges split and merge.
//
// A holder is (kind, lock_session, owner). Locks of different kinds never
// conflict (flock and fcntl locks are independent, as on Linux). Two locks
// of one kind conflict when their holders differ, their ranges overlap and
// one of them is a write lock. A holder never conflicts with itself: its
// new lock replaces what it held in the range.
#pragma once

#include <cstdint>

#include "proto/meta.pb.h"

namespace dfs::meta::ops {

inline constexpr uint64_t kLockEndOfFile = UINT64_MAX;

bool SameHolder(const pb::LockRange& a, const pb::LockRange& b);

// The first lock of `list` that blocks `want`; null if none. An UNLOCK
// request is never blocked.
const pb::LockRange* FindLockConflict(const pb::LockList& list, const pb::LockRange& want);

// Applies `want` for its holder: the holder's locks of its kind inside
// [start, end] are cut away (a lock reaching over an edge keeps its part
// outside), then, unless `want` is an UNLOCK, `want` is added and merged
// with the holder's touching or overlapping locks of the same type.
// Returns true if some lock was released or weakened (a waiter may now
// succeed). REQUIRES: FindLockConflict(*list, want) is null.
bool ApplyLock(pb::LockList* list, const pb::LockRange& want);

// Drops every lock of the holder (kind, lock_session, owner); true if any.
bool ReleaseHolder(pb::LockList* list, pb::LockKind kind, uint64_t lock_session, uint64_t owner);

// Drops every lock of `lock_session`; true if any.
bool ReleaseSession(pb::LockList* list, uint64_t lock_session);

}  // namespace dfs::meta::ops
