// The trash (docs/meta.md, "Trash"): the last link of a regular file that
// an unlink or a rename takes away, when the command says so
// (MetaCommand.trash), moves the file into a hidden, read-only directory
// instead of freeing it; an operator restores it or it is purged later.
//
// The trash directory is a real directory with a reserved inode number
// (kTrashInode, above any number the inode counter hands out), owned by
// root, mode 0500, created by the first command that trashes a file. It
// has no entry in the root: Lookup(root, ".trash") finds it for uid 0 only,
// and readdir of the root does not list it. A trashed file keeps its inode,
// chunks, xattrs and nlink 1; its one entry is "<id>-<original name>" in the
// trash directory, its record (pb::TrashRecord) is in the `trash` family,
// and its inode's `parent` names the trash directory (files otherwise have
// parent 0), which is how the namespace operations recognise it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/ops.h"
#include "meta/ops/permissions.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

// Inode numbers are allocated from 2 upward one at a time and never get
// anywhere near 2^62.
inline constexpr uint64_t kTrashInode = uint64_t{1} << 62;
// Its name in the root, for uid 0.
inline constexpr char kTrashName[] = ".trash";
// Purge commands free at most this many entries when they do not say.
inline constexpr uint32_t kDefaultPurgeEntries = 256;

// True for the trash directory and for the files in it.
bool InTrash(const pb::InodeRecord& record);

// READ_ONLY for an entry the namespace operations may not create, remove
// or rename: anything in the trash directory, and ".trash" in the root
// unless an entry of that name exists there already (a state from before
// the trash, where that entry keeps working as any other).
Status CheckEntryWritable(const MetaTxn& txn, uint64_t parent, const std::string& name);
// READ_ONLY for the trash directory and the files in it.
Status CheckInodeWritable(const pb::InodeRecord& record, const std::string& what);

// Whether removing the last link of `record` moves it to the trash: the
// command asks for it, and it is the last link of a regular file.
bool GoesToTrash(const OpContext& ctx, const pb::InodeRecord& record);

// Moves `inode`, whose entry (parent, name) is already gone, into the
// trash, creating the trash directory if needed; sets reply->trash_id.
// REQUIRES: GoesToTrash for its record.
Status MoveToTrash(MetaTxn& txn, const OpContext& ctx, uint64_t inode, uint64_t parent,
                   const std::string& name, pb::MetaReply* reply);

// The entry of trash record `id` in the trash directory: "<id>-<name>",
// cut to 255 bytes (at a UTF-8 character boundary).
std::string TrashEntryName(uint64_t id, const std::string& name);

// The path of `name` in directory `dir` ("/a/b/name"; name "" for the
// directory itself), found by walking directory parent pointers up to the
// root and each directory's entries for its name. Best effort: "" when the
// walk would read more than a few thousand entries or the chain is broken.
Result<std::string> EntryPath(const MetaTxn& txn, uint64_t dir, const std::string& name);

// Entries and bytes in the trash (the counters; no scan).
struct TrashTotals {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};
Result<TrashTotals> GetTrashTotals(const MetaTxn& txn);

// trash_restore: the entry goes back to (parent, name), by default the
// original ones. NOT_FOUND (no such entry, or the directory is gone),
// NOT_A_DIRECTORY, ALREADY_EXISTS ("... exists"), READ_ONLY (into the
// trash). Not a caller's operation: no permission checks. Replies with the
// file's attributes.
Result<pb::MetaReply> TrashRestore(MetaTxn& txn, const OpContext& ctx,
                                   const pb::TrashRestoreCommand& req);

// trash_purge: frees entries deleted at or before req.deleted_before_ns,
// oldest id first, up to req.max_entries, stopping at the first younger
// one. Each file goes as its last link would (chunks to garbage, listed in
// freed_chunks); trash_purged counts them.
Result<pb::MetaReply> TrashPurge(MetaTxn& txn, const OpContext& ctx,
                                 const pb::TrashPurgeCommand& req);

}  // namespace dfs::meta::ops
