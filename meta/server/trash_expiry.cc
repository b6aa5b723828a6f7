#include "meta/server/trash_expiry.h"

#include <algorithm>
#include <vector>

#include "common/logging.h"
#include "meta/ops/trash.h"
#include "meta/server/propose.h"

namespace dfs::meta {

namespace {

using std::chrono::steady_clock;

steady_clock::duration IntervalFor(std::chrono::nanoseconds keep) {
  return std::clamp<steady_clock::duration>(
      std::chrono::duration_cast<steady_clock::duration>(keep / 4), std::chrono::seconds(1),
      std::chrono::minutes(1));
}

}  // namespace

TrashExpiry::TrashExpiry(std::chrono::nanoseconds keep, raft::RaftNode* node,
                         const MetaStore* store, WatchHub* watch_hub)
    : keep_(keep),
      interval_(IntervalFor(keep)),
      node_(node),
      store_(store),
      watch_hub_(watch_hub) {}

bool TrashExpiry::Due(int64_t before_ns) const {
  Result<std::vector<pb::TrashRecord>> oldest = store_->ListTrash(0, 1);
  if (!oldest.ok()) {
    DFS_LOG_IF(WARN, oldest.status().code() != ErrorCode::UNAVAILABLE)
        << "reading the trash: " << oldest.status();
    return false;
  }
  return !oldest->empty() && oldest->front().deleted_ns() <= before_ns;
}

void TrashExpiry::Tick() {
  if (steady_clock::now() < next_) return;
  next_ = steady_clock::now() + interval_;
  const int64_t before_ns = WallNanos() - keep_.count();
  // The local state may lag the log a little: at worst a purge comes one
  // interval late, or proposes a command that frees nothing.
  if (!Due(before_ns)) return;
  pb::MetaCommand cmd;
  cmd.mutable_trash_purge()->set_deleted_before_ns(before_ns);
  cmd.mutable_trash_purge()->set_max_entries(ops::kDefaultPurgeEntries);
  Result<pb::MetaReply> reply = ProposeCommand(node_, std::move(cmd), std::chrono::seconds(5));
  if (!reply.ok()) {
    DFS_LOG(WARN) << "purging the trash: " << reply.status();
    return;
  }
  if (reply->trash_purged() > 0 && watch_hub_ != nullptr) {
    pb::WatchEvent event;  // the trash's listing changed
    event.add_inodes(ops::kTrashInode);
    watch_hub_->Publish(event, 0);
  }
  DFS_LOG(INFO) << "purged " << reply->trash_purged() << " trash entries older than "
                << std::chrono::duration<double>(keep_).count() << "s ("
                << reply->freed_chunks_size() << " chunks freed)";
  // A full batch: more may be due, look again at the next tick.
  if (reply->trash_purged() >= ops::kDefaultPurgeEntries) next_ = steady_clock::now();
}

}  // namespace dfs::meta
