// setattr: chmod, chown, truncate and utimes in one command, each field
// applying only when its SetAttrBits bit is set.
#include <string>

#include "meta/ops/chunks.h"
#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

bool Has(const pb::SetAttrRequest& req, pb::SetAttrBits bit) {
  return (req.valid() & bit) != 0;
}

// An explicit time, as opposed to "now".
bool SetsExplicitTime(const pb::SetAttrRequest& req) {
  return (Has(req, pb::SETATTR_ATIME) && !Has(req, pb::SETATTR_ATIME_NOW)) ||
         (Has(req, pb::SETATTR_MTIME) && !Has(req, pb::SETATTR_MTIME_NOW));
}

bool SetsTimeNow(const pb::SetAttrRequest& req) {
  return Has(req, pb::SETATTR_ATIME_NOW) || Has(req, pb::SETATTR_MTIME_NOW);
}

// Who may change what (Linux setattr_prepare and chown_ok/chgrp_ok).
Status CheckSetAttr(const Credentials& caller, const pb::InodeAttr& attr,
                    const pb::SetAttrRequest& req) {
  bool owner = OwnsOrRoot(caller, attr);
  if (Has(req, pb::SETATTR_SIZE)) {
    if (attr.type() == pb::FILE_TYPE_DIRECTORY) return Status::IsADirectory("cannot truncate");
    if (attr.type() != pb::FILE_TYPE_REGULAR) {
      return Status::InvalidArgument("cannot truncate a special file");
    }
    RETURN_IF_ERROR(CheckPermission(caller, attr, kMayWrite, "truncate"));
  }
  if (Has(req, pb::SETATTR_UID) && !IsRoot(caller) &&
      !(caller.uid == attr.uid() && req.uid() == attr.uid())) {
    return Status::NotPermitted("only root may change the owner");
  }
  if (Has(req, pb::SETATTR_GID) && !IsRoot(caller) &&
      !(caller.uid == attr.uid() && (req.gid() == attr.gid() || InGroup(caller, req.gid())))) {
    return Status::NotPermitted(
        "only root, or the owner to one of its groups, may change the group");
  }
  if (Has(req, pb::SETATTR_MODE) && !owner) {
    return Status::NotPermitted("only the owner or root may change the mode");
  }
  if (SetsExplicitTime(req) && !owner) {
    return Status::NotPermitted("only the owner or root may set explicit times");
  }
  if (SetsTimeNow(req) && !owner) {
    RETURN_IF_ERROR(CheckPermission(caller, attr, kMayWrite, "setting times to now"));
  }
  return Status::Ok();
}

void ApplyOwnership(const Credentials& caller, const pb::SetAttrRequest& req, pb::InodeAttr* attr) {
  if (Has(req, pb::SETATTR_UID) || Has(req, pb::SETATTR_GID)) {
    if (Has(req, pb::SETATTR_UID)) attr->set_uid(req.uid());
    if (Has(req, pb::SETATTR_GID)) attr->set_gid(req.gid());
    // A new owner must not inherit the old owner's setuid/setgid rights.
    // setgid without group exec marks mandatory locking, not a privilege.
    if (attr->type() == pb::FILE_TYPE_REGULAR) {
      uint32_t mode = attr->mode() & ~kSetUid;
      if ((mode & 0010) != 0) mode &= ~kSetGid;
      attr->set_mode(mode);
    }
  }
  if (Has(req, pb::SETATTR_MODE)) {
    uint32_t mode = req.mode() & kPermissionBits;
    // A caller outside the file's group cannot make it setgid to that group.
    if (!IsRoot(caller) && !InGroup(caller, attr->gid())) mode &= ~kSetGid;
    attr->set_mode(mode);
  }
}

void ApplyTimes(const OpContext& ctx, const pb::SetAttrRequest& req, pb::InodeAttr* attr) {
  if (Has(req, pb::SETATTR_ATIME_NOW)) {
    *attr->mutable_atime() = ctx.now;
  } else if (Has(req, pb::SETATTR_ATIME)) {
    *attr->mutable_atime() = req.atime();
  }
  if (Has(req, pb::SETATTR_MTIME_NOW)) {
    *attr->mutable_mtime() = ctx.now;
  } else if (Has(req, pb::SETATTR_MTIME)) {
    *attr->mutable_mtime() = req.mtime();
  }
}

// Truncate or extend. Shrinking (or keeping the size) frees every chunk
// wholly past the new size; growing leaves the chunk map alone, so that a
// writer's chunk past the old size is not taken away.
Status ApplySize(MetaTxn& txn, const OpContext& ctx, const pb::SetAttrRequest& req,
                 pb::InodeAttr* attr, pb::MetaReply* reply) {
  if (req.size() <= attr->size()) {
    RETURN_IF_ERROR(
        FreeChunks(txn, attr->inode(), ChunksCovering(req.size(), ctx.chunk_size), reply));
  }
  attr->set_size(req.size());
  attr->set_data_version(attr->data_version() + 1);
  *attr->mutable_mtime() = ctx.now;
  return Status::Ok();
}

}  // namespace

Result<pb::MetaReply> SetAttr(MetaTxn& txn, const OpContext& ctx, const pb::SetAttrRequest& req) {
  RETURN_IF_ERROR(ValidateSetAttr(req));
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, req.inode()));
  if (req.valid() != 0) RETURN_IF_ERROR(CheckInodeWritable(record, "setattr"));
  RETURN_IF_ERROR(CheckSetAttr(ctx.caller, record.attr(), req));

  pb::MetaReply reply;
  pb::InodeAttr* attr = record.mutable_attr();
  if (req.valid() != 0) {
    ApplyOwnership(ctx.caller, req, attr);
    if (Has(req, pb::SETATTR_SIZE)) RETURN_IF_ERROR(ApplySize(txn, ctx, req, attr, &reply));
    ApplyTimes(ctx, req, attr);
    *attr->mutable_ctime() = ctx.now;
    txn.PutInode(record);
  }
  *reply.mutable_attr() = record.attr();
  return reply;
}

}  // namespace dfs::meta::ops
