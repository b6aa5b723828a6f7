// Building blocks shared by the namespace operations: loading inodes and
// entries with the checks every operation makes, and the changes several
// operations share (dropping a link, touching a directory).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/ops.h"
#include "meta/ops/permissions.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

inline constexpr uint64_t kRootInode = 1;

// The inode, or NOT_FOUND.
Result<pb::InodeRecord> RequireInode(const MetaTxn& txn, uint64_t inode);

// A directory the caller may use with `mask` (kMayExec to look up,
// kMayExec | kMayWrite to add or remove entries): NOT_FOUND,
// NOT_A_DIRECTORY or PERMISSION_DENIED otherwise.
Result<pb::InodeRecord> RequireDirectory(const MetaTxn& txn, const Credentials& caller,
                                         uint64_t inode, uint32_t mask);

// The entry `name` of `parent`, or NOT_FOUND.
Result<pb::DentryRecord> RequireDentry(const MetaTxn& txn, uint64_t parent,
                                       const std::string& name);

// Takes the next inode number (never reused) and counts the new inode.
Result<uint64_t> TakeInodeNumber(MetaTxn& txn);

// mtime = ctime = now: a directory whose entries changed.
void TouchDirectory(pb::InodeRecord* dir, const OpContext& ctx);

// Reads `inode`, lets `change` modify it, writes it back: for records that
// an operation may have written already (a parent that is also the other
// parent of a rename), so that no stale copy overwrites a newer one.
Status UpdateInode(MetaTxn& txn, uint64_t inode,
                   const std::function<void(pb::InodeRecord&)>& change);

// Takes away one name of `inode` (its entry is already gone): a directory
// goes at once (the caller fixes its parent's nlink); anything else loses a
// link and goes with its last one, its chunks moving to garbage (their ids
// appended to reply->freed_chunks). Deleted inodes lose their xattrs too.
Status DropLink(MetaTxn& txn, const OpContext& ctx, uint64_t inode, pb::MetaReply* reply);

// True if `ancestor` is `dir` or one of its ancestors (walking `parent`
// pointers up to the root).
Result<bool> IsAncestorOrSelf(const MetaTxn& txn, uint64_t ancestor, uint64_t dir);

}  // namespace dfs::meta::ops
