#include <optional>
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

// The name exists already: O_CREAT without O_EXCL opens an existing regular
// file; everything else is EEXIST (EISDIR for a file over a directory).
Result<pb::MetaReply> CreateOverExisting(const MetaTxn& txn, const pb::CreateRequest& req,
                                         const pb::DentryRecord& entry) {
  std::string what = "'" + req.name() + "' exists in directory " + std::to_string(req.parent());
  if (req.exclusive() || req.type() != pb::FILE_TYPE_REGULAR) return Status::AlreadyExists(what);
  if (entry.type() == pb::FILE_TYPE_DIRECTORY) return Status::IsADirectory(what);
  if (entry.type() != pb::FILE_TYPE_REGULAR) return Status::AlreadyExists(what);
  ASSIGN_OR_RETURN(pb::InodeRecord existing, RequireInode(txn, entry.inode()));
  pb::MetaReply reply;
  *reply.mutable_attr() = existing.attr();
  return reply;
}

// Owner, group and mode of a new inode: the caller's uid; the caller's gid,
// or the parent's when the parent is setgid (a new directory then is setgid
// too); the requested permission bits less the umask.
void InitOwnership(const OpContext& ctx, const pb::InodeAttr& parent, const pb::CreateRequest& req,
                   pb::InodeAttr* attr) {
  bool parent_setgid = (parent.mode() & kSetGid) != 0;
  uint32_t gid = parent_setgid ? parent.gid() : ctx.caller.gid;
  uint32_t mode = req.mode() & kPermissionBits & ~(req.umask() & 0777);
  switch (req.type()) {
    case pb::FILE_TYPE_SYMLINK:
      mode = 0777;
      break;
    case pb::FILE_TYPE_DIRECTORY:
      mode &= 0777 | kSticky;
      if (parent_setgid) mode |= kSetGid;
      break;
    default:
      // A setgid file in a group its creator is not in would hand out that
      // group's rights (Linux strips the bit the same way).
      if ((mode & kSetGid) != 0 && !IsRoot(ctx.caller) && !InGroup(ctx.caller, gid)) {
        mode &= ~kSetGid;
      }
      break;
  }
  attr->set_uid(ctx.caller.uid);
  attr->set_gid(gid);
  attr->set_mode(mode);
}

pb::InodeRecord NewInode(uint64_t inode, const OpContext& ctx, const pb::InodeRecord& parent,
                         const pb::CreateRequest& req) {
  pb::InodeRecord record;
  pb::InodeAttr* attr = record.mutable_attr();
  attr->set_inode(inode);
  attr->set_type(req.type());
  InitOwnership(ctx, parent.attr(), req, attr);
  attr->set_nlink(req.type() == pb::FILE_TYPE_DIRECTORY ? 2 : 1);
  attr->set_data_version(1);
  attr->set_rdev(req.rdev());
  *attr->mutable_atime() = ctx.now;
  *attr->mutable_mtime() = ctx.now;
  *attr->mutable_ctime() = ctx.now;
  if (req.type() == pb::FILE_TYPE_SYMLINK) {
    record.set_symlink_target(req.symlink_target());
    attr->set_size(req.symlink_target().size());
  }
  if (req.type() == pb::FILE_TYPE_DIRECTORY) record.set_parent(parent.attr().inode());
  return record;
}

}  // namespace

Result<pb::MetaReply> Create(MetaTxn& txn, const OpContext& ctx, const pb::CreateRequest& req) {
  RETURN_IF_ERROR(ValidateCreate(req));
  ASSIGN_OR_RETURN(pb::InodeRecord parent,
                   RequireDirectory(txn, ctx.caller, req.parent(), kMayExec));
  ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> existing,
                   txn.GetDentry(req.parent(), req.name()));
  if (existing) return CreateOverExisting(txn, req, *existing);
  RETURN_IF_ERROR(CheckEntryWritable(txn, req.parent(), req.name()));
  RETURN_IF_ERROR(
      CheckPermission(ctx.caller, parent.attr(), kMayWrite | kMayExec, "creating entries"));
  bool is_dir = req.type() == pb::FILE_TYPE_DIRECTORY;
  if (is_dir && parent.attr().nlink() >= kMaxLinks) {
    return Status::TooManyLinks("directory " + std::to_string(req.parent()) + " is full");
  }

  ASSIGN_OR_RETURN(uint64_t inode, TakeInodeNumber(txn));
  pb::InodeRecord record = NewInode(inode, ctx, parent, req);
  txn.PutInode(record);
  pb::DentryRecord entry;
  entry.set_inode(inode);
  entry.set_type(req.type());
  txn.PutDentry(req.parent(), req.name(), entry);
  if (is_dir) parent.mutable_attr()->set_nlink(parent.attr().nlink() + 1);
  TouchDirectory(&parent, ctx);
  txn.PutInode(parent);

  pb::MetaReply reply;
  *reply.mutable_attr() = record.attr();
  return reply;
}

}  // namespace dfs::meta::ops
