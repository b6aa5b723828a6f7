// fsck: a walk of the namespace and the chunk map that checks them against
// each other (docs/fsck.md). Read-only over one consistent view (`txn`);
// what it finds comes back through callbacks, each problem with the
// replicated command that fixes it when there is a safe one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/ops.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

struct FsckFinding {
  std::string kind;  // dangling_dentry, type_mismatch, wrong_parent, dir_linked_twice,
                     // nlink, chunk_index, orphan_inode
  uint64_t inode = 0;
  uint64_t chunk_id = 0;
  std::string detail;
  std::optional<pb::FsckFixCommand> fix;  // the command that repairs it, if safe
};

struct FsckCounts {
  uint64_t directories = 0, files = 0, other = 0, chunks = 0;
  uint64_t inodes_checked = 0;
  uint64_t inodes_total = 0;  // of the whole namespace
};

struct FsckVisitor {
  std::function<void(const FsckFinding&)> found;
  // Every so many inodes; false stops the walk (the caller went away).
  std::function<bool(const FsckCounts&)> progress;
  // Each regular file's chunk (for health checks outside the walk).
  std::function<void(uint64_t inode, const IndexedChunk&)> chunk;
};

// Walks the tree below directory or file `start` (the root: the whole
// namespace, which also checks link counts of files and finds inodes no
// entry reaches).
Result<FsckCounts> Fsck(const MetaTxn& txn, uint64_t start, const FsckVisitor& visitor);

// Applies one fix, re-checking at apply time that it still holds (a fix
// planned from an older view changes nothing: FAILED_PRECONDITION-like
// INVALID_ARGUMENT).
Result<pb::MetaReply> FsckFix(MetaTxn& txn, const OpContext& ctx, const pb::FsckFixCommand& req);

}  // namespace dfs::meta::ops
