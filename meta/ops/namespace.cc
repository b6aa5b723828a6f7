#include "meta/ops/namespace.h"

#include <string>
#include <vector>

#include "meta/ops/chunks.h"

namespace dfs::meta::ops {

pb::Timespec TimespecFromNs(int64_t ns) {
  constexpr int64_t kBillion = 1000000000;
  int64_t sec = ns / kBillion;
  int64_t nsec = ns % kBillion;
  if (nsec < 0) {
    sec -= 1;
    nsec += kBillion;
  }
  pb::Timespec t;
  t.set_sec(sec);
  t.set_nsec(static_cast<uint32_t>(nsec));
  return t;
}

Result<pb::InodeRecord> RequireInode(const MetaTxn& txn, uint64_t inode) {
  ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn.GetInode(inode));
  if (!record) return Status::NotFound("no inode " + std::to_string(inode));
  return std::move(*record);
}

Result<pb::InodeRecord> RequireDirectory(const MetaTxn& txn, const Credentials& caller,
                                         uint64_t inode, uint32_t mask) {
  ASSIGN_OR_RETURN(pb::InodeRecord dir, RequireInode(txn, inode));
  if (dir.attr().type() != pb::FILE_TYPE_DIRECTORY) {
    return Status::NotADirectory("inode " + std::to_string(inode) + " is not a directory");
  }
  RETURN_IF_ERROR(CheckPermission(caller, dir.attr(), mask,
                                  (mask & kMayWrite) != 0 ? "changing entries" : "search"));
  return dir;
}

Result<pb::DentryRecord> RequireDentry(const MetaTxn& txn, uint64_t parent,
                                       const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> entry, txn.GetDentry(parent, name));
  if (!entry) {
    return Status::NotFound("no entry '" + name + "' in directory " + std::to_string(parent));
  }
  return std::move(*entry);
}

Result<uint64_t> TakeInodeNumber(MetaTxn& txn) {
  ASSIGN_OR_RETURN(uint64_t next, txn.GetCounter(Counter::kNextInode));
  ASSIGN_OR_RETURN(uint64_t count, txn.GetCounter(Counter::kInodeCount));
  if (next < kRootInode + 1) return Status::Corrupt("inode counter is " + std::to_string(next));
  txn.PutCounter(Counter::kNextInode, next + 1);
  txn.PutCounter(Counter::kInodeCount, count + 1);
  return next;
}

void TouchDirectory(pb::InodeRecord* dir, const OpContext& ctx) {
  *dir->mutable_attr()->mutable_mtime() = ctx.now;
  *dir->mutable_attr()->mutable_ctime() = ctx.now;
}

Status UpdateInode(MetaTxn& txn, uint64_t inode,
                   const std::function<void(pb::InodeRecord&)>& change) {
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  change(record);
  txn.PutInode(record);
  return Status::Ok();
}

Status DropLink(MetaTxn& txn, const OpContext& ctx, uint64_t inode, pb::MetaReply* reply) {
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  bool is_dir = record.attr().type() == pb::FILE_TYPE_DIRECTORY;
  if (!is_dir && record.attr().nlink() > 1) {
    record.mutable_attr()->set_nlink(record.attr().nlink() - 1);
    *record.mutable_attr()->mutable_ctime() = ctx.now;
    txn.PutInode(record);
    return Status::Ok();
  }
  // The last name: the inode goes, with everything hanging off it.
  if (!is_dir) RETURN_IF_ERROR(FreeChunks(txn, inode, 0, reply));
  ASSIGN_OR_RETURN(std::vector<std::string> xattrs, txn.ListXattrNames(inode));
  for (const std::string& name : xattrs)
    txn.DeleteXattr(inode, name);
  txn.DeleteInode(inode);
  ASSIGN_OR_RETURN(std::optional<pb::LockList> locks, txn.GetLockList(inode));
  if (locks) {
    txn.PutLockList(inode, pb::LockList());  // its locks go with it
    reply->add_changed_inodes(inode);        // and its waiters hear NOT_FOUND
  }
  ASSIGN_OR_RETURN(uint64_t count, txn.GetCounter(Counter::kInodeCount));
  if (count == 0) return Status::Corrupt("inode count underflow");
  txn.PutCounter(Counter::kInodeCount, count - 1);
  return Status::Ok();
}

Result<bool> IsAncestorOrSelf(const MetaTxn& txn, uint64_t ancestor, uint64_t dir) {
  // Bounded so that a corrupt parent chain cannot loop forever.
  constexpr int kMaxDepth = 1 << 20;
  uint64_t at = dir;
  for (int depth = 0; depth < kMaxDepth; depth++) {
    if (at == ancestor) return true;
    if (at == kRootInode) return false;
    ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, at));
    if (record.parent() == 0 || record.parent() == at) {
      return Status::Corrupt("directory " + std::to_string(at) + " has no parent");
    }
    at = record.parent();
  }
  return Status::Corrupt("parent chain of " + std::to_string(dir) + " does not reach the root");
}

}  // namespace dfs::meta::ops
