// link: a new name for an existing non-directory.
#include <optional>
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> Link(MetaTxn& txn, const OpContext& ctx, const pb::LinkRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.new_name()));
  RETURN_IF_ERROR(CheckEntryWritable(txn, req.new_parent(), req.new_name()));
  ASSIGN_OR_RETURN(pb::InodeRecord target, RequireInode(txn, req.inode()));
  RETURN_IF_ERROR(CheckInodeWritable(target, "link"));
  if (target.attr().type() == pb::FILE_TYPE_DIRECTORY) {
    return Status::NotPermitted("cannot hard-link directory " + std::to_string(req.inode()));
  }
  ASSIGN_OR_RETURN(pb::InodeRecord parent,
                   RequireDirectory(txn, ctx.caller, req.new_parent(), kMayExec));
  ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> existing,
                   txn.GetDentry(req.new_parent(), req.new_name()));
  if (existing) return Status::AlreadyExists("'" + req.new_name() + "' exists");
  RETURN_IF_ERROR(
      CheckPermission(ctx.caller, parent.attr(), kMayWrite | kMayExec, "creating entries"));
  if (target.attr().nlink() >= kMaxLinks) {
    return Status::TooManyLinks("inode " + std::to_string(req.inode()) + " has too many links");
  }

  pb::DentryRecord entry;
  entry.set_inode(req.inode());
  entry.set_type(target.attr().type());
  txn.PutDentry(req.new_parent(), req.new_name(), entry);
  target.mutable_attr()->set_nlink(target.attr().nlink() + 1);
  *target.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(target);
  TouchDirectory(&parent, ctx);
  txn.PutInode(parent);

  pb::MetaReply reply;
  *reply.mutable_attr() = target.attr();
  return reply;
}

}  // namespace dfs::meta::ops
