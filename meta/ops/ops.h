// The mutations of the metadata state machine, one function per MetaCommand
// op (docs/meta.md). Each validates its request against the state seen
// through `txn`, then plans its changes into `txn`, then returns the reply.
//
// A function that returns an error has written nothing into `txn` (all
// checks come before the first write); MetaStore also rolls the batch back
// to a save point around every command, so the rule is enforced twice.
// Storage failures come back as IO_ERROR or CORRUPT; MetaStore stops the
// process on those rather than let replicas diverge.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/permissions.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

// RenameRequest.flags (the values of Linux renameat2).
inline constexpr uint32_t kRenameNoReplace = 1;
inline constexpr uint32_t kRenameExchange = 2;
// XattrRequest.flags (the values of Linux setxattr).
inline constexpr uint32_t kXattrCreate = 1;
inline constexpr uint32_t kXattrReplace = 2;

// What every command carries besides its request.
struct OpContext {
  Credentials caller;
  int64_t now_ns = 0;       // MetaCommand.now_ns: every timestamp the command sets
  pb::Timespec now;         // the same, as a Timespec
  uint64_t chunk_size = 0;  // of the formatted cluster
  bool trash = false;       // MetaCommand.trash: a last link of a regular file goes to the trash
};

// now_ns as seconds and nanoseconds (floor division, so nsec < 1e9).
pb::Timespec TimespecFromNs(int64_t ns);

// format: cluster id, chunk size, root directory, counters.
// REQUIRES: nothing; ALREADY_EXISTS on a formatted store.
Result<pb::MetaReply> Format(MetaTxn& txn, const OpContext& ctx, const pb::FormatCommand& req);

// Namespace (create.cc, remove.cc, rename.cc, link.cc, setattr.cc).
Result<pb::MetaReply> Create(MetaTxn& txn, const OpContext& ctx, const pb::CreateRequest& req);
Result<pb::MetaReply> Unlink(MetaTxn& txn, const OpContext& ctx, const pb::EntryRequest& req);
Result<pb::MetaReply> Rmdir(MetaTxn& txn, const OpContext& ctx, const pb::EntryRequest& req);
Result<pb::MetaReply> Rename(MetaTxn& txn, const OpContext& ctx, const pb::RenameRequest& req);
Result<pb::MetaReply> Link(MetaTxn& txn, const OpContext& ctx, const pb::LinkRequest& req);
Result<pb::MetaReply> SetAttr(MetaTxn& txn, const OpContext& ctx, const pb::SetAttrRequest& req);

// Extended attributes (xattr.cc).
Result<pb::MetaReply> SetXattr(MetaTxn& txn, const OpContext& ctx, const pb::XattrRequest& req);
Result<pb::MetaReply> RemoveXattr(MetaTxn& txn, const OpContext& ctx, const pb::XattrRequest& req);

// Chunks (allocate_chunk.cc, commit_write.cc).
Result<pb::MetaReply> AllocateChunk(MetaTxn& txn, const OpContext& ctx,
                                    const pb::AllocateChunkCommand& req);
Result<pb::MetaReply> CommitWrite(MetaTxn& txn, const OpContext& ctx,
                                  const pb::CommitWriteRequest& req);

// The repair scheduler's chain change (change_chain.cc): applies only while
// the chunk is still chunk_id at expect_version (STALE_VERSION otherwise);
// every listed node must be registered, none twice, joining within
// replicas, at least one non-joining replica. Replies with the chunk's new
// location.
Result<pb::MetaReply> ChangeChain(MetaTxn& txn, const OpContext& ctx,
                                  const pb::ChangeChainCommand& req);

// Chunk servers (register_node.cc, set_node_state.cc). A re-registration
// keeps the state; the state is one of active, draining, removed.
Result<pb::MetaReply> RegisterNode(MetaTxn& txn, const OpContext& ctx,
                                   const pb::RegisterNodeRequest& req);
Result<pb::MetaReply> SetNodeState(MetaTxn& txn, const OpContext& ctx,
                                   const pb::SetNodeStateCommand& req);

// Garbage replicas the chunk servers have drained (forget_garbage.cc):
// each pair's node leaves its garbage record, a record left with no node
// goes. Pairs naming no record or an unlisted node change nothing.
Result<pb::MetaReply> ForgetGarbage(MetaTxn& txn, const OpContext& ctx,
                                    const pb::ForgetGarbageCommand& req);

// Client sessions idle too long (expire_sessions.cc).
Result<pb::MetaReply> ExpireSessions(MetaTxn& txn, const OpContext& ctx,
                                     const pb::ExpireSessionsCommand& req);

}  // namespace dfs::meta::ops
