#include <optional>
#include <string>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

// Chunks hold whole checksum blocks (DESIGN §2).
constexpr uint64_t kBlockSize = 64 * 1024;

Status ValidateFormat(const MetaTxn& txn, const pb::FormatCommand& req) {
  ASSIGN_OR_RETURN(std::optional<pb::FormatCommand> existing, txn.GetFormat());
  if (existing) {
    return Status::AlreadyExists("already formatted as cluster " + existing->cluster_id());
  }
  if (req.cluster_id().empty()) return Status::InvalidArgument("empty cluster id");
  if (req.chunk_size() == 0 || req.chunk_size() % kBlockSize != 0 ||
      req.chunk_size() > kMaxFileSize) {
    return Status::InvalidArgument("chunk size " + std::to_string(req.chunk_size()) +
                                   " is not a positive multiple of 64 KiB");
  }
  return Status::Ok();
}

pb::InodeRecord RootDirectory(const OpContext& ctx) {
  pb::InodeRecord root;
  pb::InodeAttr* attr = root.mutable_attr();
  attr->set_inode(kRootInode);
  attr->set_type(pb::FILE_TYPE_DIRECTORY);
  attr->set_mode(0755);
  attr->set_uid(0);
  attr->set_gid(0);
  attr->set_nlink(2);
  attr->set_data_version(1);
  *attr->mutable_atime() = ctx.now;
  *attr->mutable_mtime() = ctx.now;
  *attr->mutable_ctime() = ctx.now;
  root.set_parent(kRootInode);
  return root;
}

}  // namespace

Result<pb::MetaReply> Format(MetaTxn& txn, const OpContext& ctx, const pb::FormatCommand& req) {
  RETURN_IF_ERROR(ValidateFormat(txn, req));

  txn.PutFormat(req);
  pb::InodeRecord root = RootDirectory(ctx);
  txn.PutInode(root);
  txn.PutCounter(Counter::kNextInode, kRootInode + 1);
  txn.PutCounter(Counter::kInodeCount, 1);
  txn.PutCounter(Counter::kNextChunkId, 1);
  txn.PutCounter(Counter::kNextNodeId, 1);
  txn.PutLayoutVersion(keys::kCurrentLayout);

  pb::MetaReply reply;
  *reply.mutable_attr() = root.attr();
  return reply;
}

}  // namespace dfs::meta::ops
