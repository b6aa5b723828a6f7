// setxattr and removexattr (reads are in queries.cc).
#include <optional>
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> SetXattr(MetaTxn& txn, const OpContext& ctx, const pb::XattrRequest& req) {
  RETURN_IF_ERROR(ValidateSetXattr(req));
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, req.inode()));
  RETURN_IF_ERROR(CheckInodeWritable(record, "setxattr"));
  RETURN_IF_ERROR(CheckXattrAccess(ctx.caller, record.attr(), req.name(), kMayWrite));
  ASSIGN_OR_RETURN(std::optional<std::string> existing, txn.GetXattr(req.inode(), req.name()));
  if (existing && (req.flags() & kXattrCreate) != 0) {
    return Status::AlreadyExists("XATTR_CREATE: " + req.name() + " exists");
  }
  if (!existing && (req.flags() & kXattrReplace) != 0) {
    return Status::NoData("XATTR_REPLACE: no attribute " + req.name());
  }

  txn.PutXattr(req.inode(), req.name(), req.value());
  *record.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(record);
  return pb::MetaReply();
}

Result<pb::MetaReply> RemoveXattr(MetaTxn& txn, const OpContext& ctx, const pb::XattrRequest& req) {
  RETURN_IF_ERROR(ValidateXattrName(req.name()));
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, req.inode()));
  RETURN_IF_ERROR(CheckInodeWritable(record, "removexattr"));
  RETURN_IF_ERROR(CheckXattrAccess(ctx.caller, record.attr(), req.name(), kMayWrite));
  ASSIGN_OR_RETURN(std::optional<std::string> existing, txn.GetXattr(req.inode(), req.name()));
  if (!existing) return Status::NoData("no attribute " + req.name());

  txn.DeleteXattr(req.inode(), req.name());
  *record.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(record);
  return pb::MetaReply();
}

}  // namespace dfs::meta::ops
