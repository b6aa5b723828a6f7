// rename, with RENAME_NOREPLACE and RENAME_EXCHANGE.
#include <optional>
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

bool IsDir(const pb::InodeRecord& record) {
  return record.attr().type() == pb::FILE_TYPE_DIRECTORY;
}

// Everything a rename looks at, loaded and checked before anything changes.
struct RenamePlan {
  pb::InodeRecord src_parent;
  pb::InodeRecord dst_parent;
  pb::DentryRecord src_entry;
  pb::InodeRecord src;
  std::optional<pb::DentryRecord> dst_entry;
  std::optional<pb::InodeRecord> dst;
  bool noop = false;  // both names are links to one inode
};

// Nothing moves into, out of or within the trash by rename.
Status CheckRenameWritable(const MetaTxn& txn, const pb::RenameRequest& req) {
  RETURN_IF_ERROR(CheckEntryWritable(txn, req.parent(), req.name()));
  return CheckEntryWritable(txn, req.new_parent(), req.new_name());
}

// A directory that changes parent rewrites its "..": it needs write
// permission on itself (as Linux), and must not move under itself.
Status CheckDirectoryMove(const MetaTxn& txn, const Credentials& caller, const pb::InodeRecord& dir,
                          uint64_t new_parent) {
  ASSIGN_OR_RETURN(bool loop, IsAncestorOrSelf(txn, dir.attr().inode(), new_parent));
  if (loop) {
    return Status::InvalidArgument("cannot move directory " + std::to_string(dir.attr().inode()) +
                                   " into its own subtree");
  }
  return CheckPermission(caller, dir.attr(), kMayWrite, "moving a directory");
}

// Replacing an existing entry: the POSIX type rules.
Status CheckReplace(const MetaTxn& txn, const RenamePlan& plan) {
  bool src_dir = IsDir(plan.src);
  bool dst_dir = IsDir(*plan.dst);
  if (src_dir && !dst_dir)
    return Status::NotADirectory("cannot replace a non-directory by a directory");
  if (!src_dir && dst_dir)
    return Status::IsADirectory("cannot replace a directory by a non-directory");
  if (dst_dir) {
    ASSIGN_OR_RETURN(bool has_entries, txn.HasDentries(plan.dst->attr().inode()));
    if (has_entries) return Status::NotEmpty("the directory to replace is not empty");
  }
  return Status::Ok();
}

Result<RenamePlan> PlanRename(const MetaTxn& txn, const OpContext& ctx,
                              const pb::RenameRequest& req) {
  RETURN_IF_ERROR(ValidateRename(req));
  RETURN_IF_ERROR(CheckRenameWritable(txn, req));
  bool exchange = (req.flags() & kRenameExchange) != 0;
  bool move = req.parent() != req.new_parent();
  RenamePlan plan;
  ASSIGN_OR_RETURN(plan.src_parent, RequireDirectory(txn, ctx.caller, req.parent(), kMayExec));
  ASSIGN_OR_RETURN(plan.dst_parent, RequireDirectory(txn, ctx.caller, req.new_parent(), kMayExec));
  ASSIGN_OR_RETURN(plan.src_entry, RequireDentry(txn, req.parent(), req.name()));
  ASSIGN_OR_RETURN(plan.dst_entry, txn.GetDentry(req.new_parent(), req.new_name()));
  RETURN_IF_ERROR(CheckPermission(ctx.caller, plan.src_parent.attr(), kMayWrite | kMayExec,
                                  "removing entries"));
  RETURN_IF_ERROR(
      CheckPermission(ctx.caller, plan.dst_parent.attr(), kMayWrite | kMayExec, "adding entries"));
  if (exchange && !plan.dst_entry) {
    return Status::NotFound("RENAME_EXCHANGE: no entry '" + req.new_name() + "'");
  }
  if ((req.flags() & kRenameNoReplace) != 0 && plan.dst_entry) {
    return Status::AlreadyExists("RENAME_NOREPLACE: '" + req.new_name() + "' exists");
  }
  if (plan.dst_entry && plan.dst_entry->inode() == plan.src_entry.inode()) {
    plan.noop = true;  // POSIX: renaming a link onto a link of the same file does nothing
    return plan;
  }
  ASSIGN_OR_RETURN(plan.src, RequireInode(txn, plan.src_entry.inode()));
  RETURN_IF_ERROR(CheckSticky(ctx.caller, plan.src_parent.attr(), plan.src.attr()));
  if (plan.dst_entry) {
    ASSIGN_OR_RETURN(plan.dst, RequireInode(txn, plan.dst_entry->inode()));
    RETURN_IF_ERROR(CheckSticky(ctx.caller, plan.dst_parent.attr(), plan.dst->attr()));
    if (!exchange) RETURN_IF_ERROR(CheckReplace(txn, plan));
  }
  if (move && IsDir(plan.src)) {
    RETURN_IF_ERROR(CheckDirectoryMove(txn, ctx.caller, plan.src, req.new_parent()));
    bool replaces_dir = plan.dst && IsDir(*plan.dst);
    if (!replaces_dir && plan.dst_parent.attr().nlink() >= kMaxLinks) {
      return Status::TooManyLinks("directory " + std::to_string(req.new_parent()) + " is full");
    }
  }
  if (exchange && move && IsDir(*plan.dst)) {
    RETURN_IF_ERROR(CheckDirectoryMove(txn, ctx.caller, *plan.dst, req.parent()));
  }
  return plan;
}

// Both parents: new nlink (2 + subdirectories) and mtime/ctime. Read back
// through the batch, since the two may be one directory.
Status UpdateParents(MetaTxn& txn, const OpContext& ctx, const pb::RenameRequest& req,
                     int src_parent_delta, int dst_parent_delta) {
  auto adjust = [&](int delta) {
    return [&ctx, delta](pb::InodeRecord& dir) {
      dir.mutable_attr()->set_nlink(static_cast<uint32_t>(dir.attr().nlink() + delta));
      TouchDirectory(&dir, ctx);
    };
  };
  RETURN_IF_ERROR(UpdateInode(txn, req.parent(), adjust(src_parent_delta)));
  return UpdateInode(txn, req.new_parent(), adjust(dst_parent_delta));
}

Status ApplyExchange(MetaTxn& txn, const OpContext& ctx, const pb::RenameRequest& req,
                     RenamePlan& plan) {
  pb::InodeRecord& src = plan.src;
  pb::InodeRecord& dst = *plan.dst;
  txn.PutDentry(req.parent(), req.name(), *plan.dst_entry);
  txn.PutDentry(req.new_parent(), req.new_name(), plan.src_entry);
  int src_parent_delta = 0;
  int dst_parent_delta = 0;
  if (req.parent() != req.new_parent()) {
    if (IsDir(src)) {
      src.set_parent(req.new_parent());
      src_parent_delta--;
      dst_parent_delta++;
    }
    if (IsDir(dst)) {
      dst.set_parent(req.parent());
      dst_parent_delta--;
      src_parent_delta++;
    }
  }
  *src.mutable_attr()->mutable_ctime() = ctx.now;
  *dst.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(src);
  txn.PutInode(dst);
  return UpdateParents(txn, ctx, req, src_parent_delta, dst_parent_delta);
}

Status ApplyMove(MetaTxn& txn, const OpContext& ctx, const pb::RenameRequest& req, RenamePlan& plan,
                 pb::MetaReply* reply) {
  int src_parent_delta = 0;
  int dst_parent_delta = 0;
  txn.DeleteDentry(req.parent(), req.name());
  if (plan.dst && GoesToTrash(ctx, *plan.dst)) {
    RETURN_IF_ERROR(
        MoveToTrash(txn, ctx, plan.dst->attr().inode(), req.new_parent(), req.new_name(), reply));
  } else if (plan.dst) {
    RETURN_IF_ERROR(DropLink(txn, ctx, plan.dst->attr().inode(), reply));
    if (IsDir(*plan.dst)) dst_parent_delta--;
  }
  txn.PutDentry(req.new_parent(), req.new_name(), plan.src_entry);
  if (IsDir(plan.src) && req.parent() != req.new_parent()) {
    plan.src.set_parent(req.new_parent());
    src_parent_delta--;
    dst_parent_delta++;
  }
  *plan.src.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(plan.src);
  return UpdateParents(txn, ctx, req, src_parent_delta, dst_parent_delta);
}

}  // namespace

Result<pb::MetaReply> Rename(MetaTxn& txn, const OpContext& ctx, const pb::RenameRequest& req) {
  ASSIGN_OR_RETURN(RenamePlan plan, PlanRename(txn, ctx, req));
  pb::MetaReply reply;
  if (plan.noop) return reply;
  if ((req.flags() & kRenameExchange) != 0) {
    RETURN_IF_ERROR(ApplyExchange(txn, ctx, req, plan));
  } else {
    RETURN_IF_ERROR(ApplyMove(txn, ctx, req, plan, &reply));
  }
  return reply;
}

}  // namespace dfs::meta::ops
