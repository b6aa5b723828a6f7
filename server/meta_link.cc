#include "server/meta_link.h"

#include "common/logging.h"

namespace dfs::server {
namespace {

client::MetaClientOptions ClientOptions(const MetaLinkOptions& o) {
  client::MetaClientOptions c;
  c.servers = o.meta;
  // A heartbeat that cannot get through is simply sent again next interval.
  c.timeout = std::max(o.heartbeat_interval * 2, std::chrono::milliseconds(2000));
  c.rpc_timeout = std::chrono::milliseconds(2000);
  return c;
}

pb::ChunkReport Report(const ReplicaInfo& info) {
  pb::ChunkReport r;
  r.set_chunk_id(info.chunk_id);
  r.set_version(info.version);
  r.set_length(info.length);
  r.set_corrupt(info.state == ReplicaState::kCorrupt);
  return r;
}

}  // namespace

MetaLink::MetaLink(MetaLinkOptions options)
    : options_(std::move(options)), meta_(ClientOptions(options_)) {}

MetaLink::~MetaLink() {
  Stop();
}

Result<NodeIdentity> MetaLink::Register(const NodeIdentity& identity, uint64_t capacity,
                                        uint64_t free, const std::atomic<bool>& stop) {
  meta_.SetClusterId(identity.cluster_id);
  pb::RegisterNodeRequest req;
  req.set_node_id(identity.node_id);
  req.set_address(options_.address);
  req.set_zone(options_.zone);
  req.set_capacity_bytes(capacity);
  req.set_free_bytes(free);
  while (!stop) {
    Result<pb::RegisterNodeReply> reply = meta_.RegisterNode(req);
    if (!reply.ok()) {
      if (!reply.status().IsRetryable()) return reply.status().WithContext("registering");
      DFS_LOG(WARN) << "registering with the meta leader: " << reply.status() << "; retrying";
      continue;
    }
    NodeIdentity got{reply->cluster_id(), reply->node_id(), reply->chunk_size()};
    if (identity.registered() &&
        (got.cluster_id != identity.cluster_id || got.node_id != identity.node_id ||
         got.chunk_size != identity.chunk_size)) {
      return Status::ClusterMismatch(
          "the meta leader answered as node " + std::to_string(got.node_id) + " of cluster " +
          got.cluster_id + "; the data directories hold node " + std::to_string(identity.node_id) +
          " of cluster " + identity.cluster_id);
    }
    identity_ = got;
    meta_.SetClusterId(got.cluster_id);
    return got;
  }
  return Status::Cancelled("stopped before registering");
}

void MetaLink::Start(ChunkStore* store, std::function<uint32_t()> load) {
  store_ = store;
  load_ = std::move(load);
  thread_ = std::thread([this] { Loop(); });
}

void MetaLink::Wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  wake_.notify_all();
}

void MetaLink::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void MetaLink::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    woken_ = false;
    lock.unlock();
    connected_ = Beat();
    lock.lock();
    wake_.wait_for(lock, options_.heartbeat_interval, [&] { return stopping_ || woken_; });
  }
}

bool MetaLink::Beat() {
  pb::HeartbeatRequest req;
  req.set_node_id(identity_.node_id);
  req.set_capacity_bytes(store_->CapacityBytes());
  req.set_free_bytes(store_->FreeBytes());
  req.set_load(load_ ? load_() : 0);
  std::vector<ReplicaChange> changes = store_->TakeChanges();
  if (need_full_report_) {
    // The full list subsumes every change made before it was taken.
    unsent_.clear();
    req.set_full_report(true);
    for (const ReplicaInfo& info : store_->List()) {
      if (info.state != ReplicaState::kCopying) *req.add_changed() = Report(info);
    }
  } else {
    unsent_.insert(unsent_.end(), changes.begin(), changes.end());
    for (const ReplicaChange& c : unsent_) {
      pb::ChunkReport r = Report(c.info);
      if (c.kind == ReplicaChange::kDeleted) r.set_deleted(true);
      if (c.kind == ReplicaChange::kCorrupt) r.set_corrupt(true);
      *req.add_changed() = r;
    }
  }
  Result<pb::HeartbeatReply> reply = meta_.Heartbeat(req);
  if (!reply.ok()) {
    if (reply.status().code() == ErrorCode::NOT_FOUND) {
      // The leader does not know this node id: its record is gone.
      DFS_LOG(ERROR) << "heartbeat refused: " << reply.status();
    } else {
      DFS_LOG(WARN) << "heartbeat: " << reply.status();
    }
    if (req.full_report()) unsent_.clear();  // the next try sends a full list again
    return false;
  }
  need_full_report_ = reply->send_full_report();
  unsent_.clear();
  for (const pb::ChunkReport& d : reply->delete_chunks()) {
    Status s = store_->Delete(d.chunk_id(), d.version());
    if (!s.ok()) DFS_LOG(WARN) << "deleting replica " << d.chunk_id() << ": " << s;
  }
  return true;
}

}  // namespace dfs::server
