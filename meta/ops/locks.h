// The lock commands of the metadata state machine (docs/locks.md): take or
// release a lock, release a holder's locks at close, open and expire lock
// sessions. The rules of ranges are in lock_ranges.h.
#pragma once

#include <cstdint>
#include <optional>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/ops.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

// Locks on one inode by a live session: LOCK_CONFLICT (the reply's error,
// with `conflict`) while another holder blocks it, SESSION_EXPIRED for a
// session that lapsed or never was, NOT_FOUND for a missing inode.
// changed_inodes names the inode when a lock was released or weakened. An
// flock conversion (shared <-> exclusive) first drops the holder's old lock,
// as Linux does, and a refused conversion leaves it dropped.
Result<pb::MetaReply> Lock(MetaTxn& txn, const OpContext& ctx, const pb::LockRequest& req);
// Every lock of one holder on one inode; nothing held is not an error.
Result<pb::MetaReply> ReleaseLocks(MetaTxn& txn, const OpContext& ctx,
                                   const pb::ReleaseLocksRequest& req);
Result<pb::MetaReply> OpenLockSession(MetaTxn& txn, const OpContext& ctx,
                                      const pb::OpenLockSessionCommand& req);
// Marks the sessions expired and drops their locks (changed_inodes: where);
// forgets sessions expired before req.forget_expired_before_ns.
Result<pb::MetaReply> ExpireLockSessions(MetaTxn& txn, const OpContext& ctx,
                                         const pb::ExpireLockSessionsCommand& req);

// Reads. The lock of another holder that blocks `want` on `inode`, if any.
Result<std::optional<pb::LockRange>> TestLock(const MetaTxn& txn, uint64_t inode,
                                              const pb::LockRange& want);
// Ids of the sessions not expired.
Result<std::vector<uint64_t>> LiveLockSessions(const MetaTxn& txn);
struct LockCounts {
  uint64_t locks = 0;     // held ranges, flock and POSIX
  uint64_t inodes = 0;    // inodes with at least one
  uint64_t sessions = 0;  // live lock sessions
};
Result<LockCounts> CountLocks(const MetaTxn& txn);

}  // namespace dfs::meta::ops
