#include "meta/ops/locks.h"

#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "meta/ops/lock_ranges.h"
#include "meta/ops/namespace.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

Status RequireLiveSession(const MetaTxn& txn, uint64_t lock_session) {
  if (lock_session == 0) return Status::InvalidArgument("lock without a lock session");
  ASSIGN_OR_RETURN(std::optional<pb::LockSessionRecord> record, txn.GetLockSession(lock_session));
  if (!record || record->expired_ns() != 0) {
    return Status::SessionExpired("lock session " + std::to_string(lock_session) +
                                  " has expired: its locks were released");
  }
  return Status::Ok();
}

// The request as stored: flock covers the whole file.
pb::LockRange Normalized(const pb::LockRange& l) {
  pb::LockRange out = l;
  if (out.kind() == pb::LOCK_KIND_FLOCK) {
    out.set_start(0);
    out.set_end(kLockEndOfFile);
  }
  return out;
}

}  // namespace

Result<pb::MetaReply> Lock(MetaTxn& txn, const OpContext&, const pb::LockRequest& req) {
  RETURN_IF_ERROR(ValidateLockRange(req.lock()));
  RETURN_IF_ERROR(RequireLiveSession(txn, req.lock().lock_session()));
  RETURN_IF_ERROR(RequireInode(txn, req.inode()).status());
  pb::LockRange want = Normalized(req.lock());
  ASSIGN_OR_RETURN(std::optional<pb::LockList> list, txn.GetLockList(req.inode()));
  pb::LockList locks = list.value_or(pb::LockList());
  bool released = false;
  if (want.kind() == pb::LOCK_KIND_FLOCK && want.type() != pb::LOCK_TYPE_UNLOCK) {
    // Linux converts an flock by dropping the old lock first, so a
    // conversion that has to wait (two readers both upgrading) waits
    // holding nothing, and one of them wins.
    for (const pb::LockRange& held : locks.locks()) {
      if (SameHolder(held, want) && held.type() != want.type()) {
        released = ReleaseHolder(&locks, want.kind(), want.lock_session(), want.owner());
        break;
      }
    }
  }
  if (const pb::LockRange* conflict = FindLockConflict(locks, want)) {
    pb::MetaReply reply = MakeReply(Status::LockConflict("inode " + std::to_string(req.inode()) +
                                                         " is locked by another owner"));
    *reply.mutable_conflict() = *conflict;
    // The refusal stands; the dropped lock stays dropped.
    if (released) {
      reply.add_changed_inodes(req.inode());
      txn.PutLockList(req.inode(), locks);
    }
    return reply;
  }
  pb::MetaReply reply;
  if (ApplyLock(&locks, want) || released) reply.add_changed_inodes(req.inode());
  txn.PutLockList(req.inode(), locks);
  return reply;
}

Result<pb::MetaReply> ReleaseLocks(MetaTxn& txn, const OpContext&,
                                   const pb::ReleaseLocksRequest& req) {
  ASSIGN_OR_RETURN(std::optional<pb::LockList> list, txn.GetLockList(req.inode()));
  pb::MetaReply reply;
  if (!list) return reply;
  if (ReleaseHolder(&*list, req.kind(), req.lock_session(), req.owner())) {
    reply.add_changed_inodes(req.inode());
    txn.PutLockList(req.inode(), *list);
  }
  return reply;
}

Result<pb::MetaReply> OpenLockSession(MetaTxn& txn, const OpContext& ctx,
                                      const pb::OpenLockSessionCommand&) {
  ASSIGN_OR_RETURN(uint64_t last, txn.GetLastLockSession());
  uint64_t id = last + 1;
  pb::LockSessionRecord record;
  record.set_opened_ns(ctx.now_ns);
  txn.PutLockSession(id, record);
  txn.PutLastLockSession(id);
  pb::MetaReply reply;
  reply.set_lock_session(id);
  return reply;
}

Result<pb::MetaReply> ExpireLockSessions(MetaTxn& txn, const OpContext& ctx,
                                         const pb::ExpireLockSessionsCommand& req) {
  std::vector<uint64_t> expiring;
  for (uint64_t id : req.lock_sessions()) {
    ASSIGN_OR_RETURN(std::optional<pb::LockSessionRecord> record, txn.GetLockSession(id));
    if (!record || record->expired_ns() != 0) continue;
    record->set_expired_ns(ctx.now_ns);
    txn.PutLockSession(id, *record);
    expiring.push_back(id);
  }
  pb::MetaReply reply;
  if (!expiring.empty()) {
    std::vector<std::pair<uint64_t, pb::LockList>> changed;
    RETURN_IF_ERROR(
        txn.ScanLockLists([&](uint64_t inode, const pb::LockList& list) -> Result<bool> {
          pb::LockList kept = list;
          bool dropped = false;
          for (uint64_t id : expiring)
            dropped = ReleaseSession(&kept, id) || dropped;
          if (dropped) changed.emplace_back(inode, std::move(kept));
          return true;
        }));
    for (const auto& [inode, list] : changed) {
      txn.PutLockList(inode, list);
      reply.add_changed_inodes(inode);
    }
  }
  if (req.forget_expired_before_ns() != 0) {
    std::vector<uint64_t> forget;
    RETURN_IF_ERROR(
        txn.ScanLockSessions([&](uint64_t id, const pb::LockSessionRecord& record) -> Result<bool> {
          if (record.expired_ns() != 0 && record.expired_ns() < req.forget_expired_before_ns()) {
            forget.push_back(id);
          }
          return true;
        }));
    for (uint64_t id : forget)
      txn.DeleteLockSession(id);
  }
  return reply;
}

Result<std::optional<pb::LockRange>> TestLock(const MetaTxn& txn, uint64_t inode,
                                              const pb::LockRange& want) {
  RETURN_IF_ERROR(ValidateLockRange(want));
  ASSIGN_OR_RETURN(std::optional<pb::LockList> list, txn.GetLockList(inode));
  if (!list) return std::optional<pb::LockRange>();
  const pb::LockRange* conflict = FindLockConflict(*list, Normalized(want));
  if (conflict == nullptr) return std::optional<pb::LockRange>();
  return std::optional<pb::LockRange>(*conflict);
}

Result<std::vector<uint64_t>> LiveLockSessions(const MetaTxn& txn) {
  std::vector<uint64_t> out;
  RETURN_IF_ERROR(
      txn.ScanLockSessions([&](uint64_t id, const pb::LockSessionRecord& record) -> Result<bool> {
        if (record.expired_ns() == 0) out.push_back(id);
        return true;
      }));
  return out;
}

Result<LockCounts> CountLocks(const MetaTxn& txn) {
  LockCounts counts;
  RETURN_IF_ERROR(txn.ScanLockLists([&](uint64_t, const pb::LockList& list) -> Result<bool> {
    counts.inodes++;
    counts.locks += static_cast<uint64_t>(list.locks_size());
    return true;
  }));
  ASSIGN_OR_RETURN(std::vector<uint64_t> live, LiveLockSessions(txn));
  counts.sessions = live.size();
  return counts;
}

}  // namespace dfs::meta::ops
