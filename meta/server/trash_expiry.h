// TrashExpiry: the leader's background purge of the trash (docs/meta.md,
// "Trash"). dfs-meta's leader loop calls Tick(); every so often it looks at
// the oldest trash entry in the local state and, when that is older than
// trash_days, proposes a trash_purge of the entries that are, a bounded
// batch per command, until none is left.
#pragma once

#include <chrono>
#include <cstdint>

#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/watch_hub.h"

namespace dfs::meta {

class TrashExpiry {
 public:
  // `keep`: how long a trashed file is kept (trash_days); zero keeps none
  // (the trash is off, and what an earlier configuration left there goes).
  // `watch_hub` (may be null) hears that the trash changed. REQUIRES: the
  // pointers outlive this object.
  TrashExpiry(std::chrono::nanoseconds keep, raft::RaftNode* node, const MetaStore* store,
              WatchHub* watch_hub);

  // On the leader, from its loop. Blocks for one proposal at most.
  void Tick();

  // How often Tick looks when nothing was due: a quarter of `keep`, between
  // one second and one minute.
  std::chrono::steady_clock::duration interval() const { return interval_; }

 private:
  // True if the oldest entry was deleted at or before `before_ns`.
  bool Due(int64_t before_ns) const;

  const std::chrono::nanoseconds keep_;
  const std::chrono::steady_clock::duration interval_;
  raft::RaftNode* node_;
  const MetaStore* store_;
  WatchHub* watch_hub_;
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now();
};

}  // namespace dfs::meta
