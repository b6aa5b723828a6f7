// commit_write: publishes data every replica has synced.
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> CommitWrite(MetaTxn& txn, const OpContext& ctx,
                                  const pb::CommitWriteRequest& req) {
  if (req.size() > kMaxFileSize) return Status::FileTooLarge("size " + std::to_string(req.size()));
  if (req.has_mtime() && req.mtime().nsec() >= 1000000000) {
    return Status::InvalidArgument("nanoseconds out of range");
  }
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, req.inode()));
  if (file.attr().type() == pb::FILE_TYPE_DIRECTORY) {
    return Status::IsADirectory("inode " + std::to_string(req.inode()) + " is a directory");
  }
  if (file.attr().type() != pb::FILE_TYPE_REGULAR) {
    return Status::InvalidArgument("inode " + std::to_string(req.inode()) + " has no data");
  }
  RETURN_IF_ERROR(CheckInodeWritable(file, "commit_write"));

  pb::InodeAttr* attr = file.mutable_attr();
  // Never shrinks: a commit racing a longer one must not cut it off.
  if (req.size() > attr->size()) attr->set_size(req.size());
  *attr->mutable_mtime() = req.has_mtime() ? req.mtime() : ctx.now;
  *attr->mutable_ctime() = ctx.now;
  attr->set_data_version(attr->data_version() + 1);
  txn.PutInode(file);

  pb::MetaReply reply;
  *reply.mutable_attr() = file.attr();
  return reply;
}

}  // namespace dfs::meta::ops
