// Commands the leader proposes on its own behalf (repair, drain, fsck
// fixes, session expiry): no session, the leader's clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/result.h"
#include "meta/raft/raft_node.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

// The wall clock as MetaCommand.now_ns carries it (ns since the epoch).
int64_t WallNanos();

// Stamps `cmd` with WallNanos(), proposes it and waits until it is applied.
// The MetaReply when the command succeeded; otherwise the failure, of the
// proposal (NOT_LEADER, TIMEOUT: outcome unknown) or of the command itself.
Result<pb::MetaReply> ProposeCommand(raft::RaftNode* node, pb::MetaCommand cmd,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace dfs::meta
