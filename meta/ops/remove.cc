// unlink and rmdir: removing one entry from a directory.
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

// What both removals check, in the order Linux does (may_delete): search
// on the parent, the entry exists, write on the parent, the sticky rule.
struct Removal {
  pb::InodeRecord parent;
  pb::DentryRecord entry;
  pb::InodeRecord victim;
};

Result<Removal> PrepareRemoval(const MetaTxn& txn, const OpContext& ctx,
                               const pb::EntryRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name()));
  RETURN_IF_ERROR(CheckEntryWritable(txn, req.parent(), req.name()));
  Removal out;
  ASSIGN_OR_RETURN(out.parent, RequireDirectory(txn, ctx.caller, req.parent(), kMayExec));
  ASSIGN_OR_RETURN(out.entry, RequireDentry(txn, req.parent(), req.name()));
  RETURN_IF_ERROR(
      CheckPermission(ctx.caller, out.parent.attr(), kMayWrite | kMayExec, "removing entries"));
  ASSIGN_OR_RETURN(out.victim, RequireInode(txn, out.entry.inode()));
  RETURN_IF_ERROR(CheckSticky(ctx.caller, out.parent.attr(), out.victim.attr()));
  return out;
}

}  // namespace

Result<pb::MetaReply> Unlink(MetaTxn& txn, const OpContext& ctx, const pb::EntryRequest& req) {
  ASSIGN_OR_RETURN(Removal removal, PrepareRemoval(txn, ctx, req));
  if (removal.victim.attr().type() == pb::FILE_TYPE_DIRECTORY) {
    return Status::IsADirectory("'" + req.name() + "' is a directory: use rmdir");
  }

  pb::MetaReply reply;
  txn.DeleteDentry(req.parent(), req.name());
  if (GoesToTrash(ctx, removal.victim)) {
    RETURN_IF_ERROR(
        MoveToTrash(txn, ctx, removal.victim.attr().inode(), req.parent(), req.name(), &reply));
  } else {
    RETURN_IF_ERROR(DropLink(txn, ctx, removal.victim.attr().inode(), &reply));
  }
  TouchDirectory(&removal.parent, ctx);
  txn.PutInode(removal.parent);
  return reply;
}

Result<pb::MetaReply> Rmdir(MetaTxn& txn, const OpContext& ctx, const pb::EntryRequest& req) {
  ASSIGN_OR_RETURN(Removal removal, PrepareRemoval(txn, ctx, req));
  uint64_t dir = removal.victim.attr().inode();
  if (removal.victim.attr().type() != pb::FILE_TYPE_DIRECTORY) {
    return Status::NotADirectory("'" + req.name() + "' is not a directory");
  }
  ASSIGN_OR_RETURN(bool has_entries, txn.HasDentries(dir));
  if (has_entries) return Status::NotEmpty("directory '" + req.name() + "' is not empty");

  pb::MetaReply reply;
  txn.DeleteDentry(req.parent(), req.name());
  RETURN_IF_ERROR(DropLink(txn, ctx, dir, &reply));
  removal.parent.mutable_attr()->set_nlink(removal.parent.attr().nlink() - 1);
  TouchDirectory(&removal.parent, ctx);
  txn.PutInode(removal.parent);
  return reply;
}

}  // namespace dfs::meta::ops
