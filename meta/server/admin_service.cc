#include "meta/server/admin_service.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "proto/wire_error.h"

namespace dfs::meta {

bool AdminServiceImpl::Serving(const pb::RpcHeader& header, pb::Error* error) const {
  raft::RaftNodeStatus st = node_->GetStatus();
  dfs::Status s;
  if (!store_->formatted()) {
    s = Status::Unavailable("the cluster is not formatted yet");
  } else if (!header.cluster_id().empty() && header.cluster_id() != store_->cluster_id()) {
    s = Status::ClusterMismatch("this is cluster " + store_->cluster_id());
  } else if (st.role != raft::StateRole::kLeader) {
    s = Status::NotLeader(st.leader_address);
  }
  if (s.ok()) return true;
  StatusToProto(s, error);
  if (s.code() == ErrorCode::NOT_LEADER) {
    error->set_leader_id(st.leader);
    error->set_leader_address(st.leader_address);
  }
  return false;
}

grpc::Status AdminServiceImpl::Status(grpc::ServerContext*, const pb::StatusRequest* req,
                                      pb::StatusReply* reply) {
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  raft::RaftNodeStatus st = node_->GetStatus();
  reply->set_cluster_id(store_->cluster_id());
  reply->set_leader_id(st.leader);
  reply->set_term(st.term);
  for (raft::NodeId id : st.conf_state.voters) {
    pb::MetaMember* m = reply->add_members();
    m->set_id(id);
    auto it = peers_.find(id);
    if (it != peers_.end()) m->set_address(it->second);
    m->set_role(id == st.id ? "leader" : "follower");
    if (id == st.id) m->set_applied_index(st.applied);
  }
  for (raft::NodeId id : st.conf_state.learners) {
    pb::MetaMember* m = reply->add_members();
    m->set_id(id);
    m->set_role("learner");
  }
  std::map<uint64_t, ServerView> views = registry_->Views();
  for (const pb::NodeRecord& record : store_->Nodes()) {
    pb::NodeInfo* n = reply->add_nodes();
    n->set_node_id(record.node_id());
    n->set_address(record.address());
    n->set_zone(record.zone());
    n->set_capacity_bytes(record.capacity_bytes());
    auto it = views.find(record.node_id());
    bool live = it != views.end() && it->second.live;
    n->set_state(live ? record.state() : "dead");
    if (it != views.end()) {
      n->set_capacity_bytes(it->second.capacity);
      n->set_free_bytes(it->second.free);
      n->set_chunks(it->second.held.size());
      if (it->second.capacity > 0) {
        n->set_used_fraction(1.0 - static_cast<double>(std::min(it->second.free,
                                                                it->second.capacity)) /
                                       static_cast<double>(it->second.capacity));
      }
    }
  }
  RepairStats r = repair_->Stats();
  reply->set_chunks_total(r.chunks_total);
  reply->set_chunks_healthy(r.chunks_healthy);
  reply->set_chunks_under_replicated(r.chunks_under_replicated);
  reply->set_chunks_lost(r.chunks_lost);
  reply->set_chunks_zone_degraded(r.chunks_zone_degraded);
  reply->set_chunks_over_replicated(r.chunks_over_replicated);
  reply->set_repair_queued(r.queued);
  reply->set_repair_running(r.running);
  reply->set_repair_done(r.done);
  reply->set_repair_failed(r.failed);
  reply->set_repair_bytes(r.bytes);
  reply->set_repair_bytes_per_sec(r.bytes_per_sec);
  reply->set_repair_waiting(r.waiting || r.sweeps == 0);
  reply->mutable_repair_limits()->set_max_jobs(static_cast<uint32_t>(r.limits.max_jobs));
  reply->mutable_repair_limits()->set_per_node_jobs(static_cast<uint32_t>(r.limits.per_node_jobs));
  reply->mutable_repair_limits()->set_bandwidth(r.limits.bandwidth);
  reply->set_rebalance_queued(r.rebalance_queued);
  reply->set_balanced(r.balanced);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Drain(grpc::ServerContext*, const pb::NodeRequest* req,
                                     pb::AdminReply* reply) {
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  Result<pb::NodeRecord> node = store_->Node(req->node_id());
  dfs::Status s = node.status();
  if (s.ok() && node->state() == "removed") {
    s = Status::InvalidArgument("chunk server " + std::to_string(req->node_id()) +
                                " is removed already");
  }
  if (s.ok() && node->state() != "draining") {
    pb::MetaCommand cmd;
    cmd.set_now_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
    cmd.mutable_set_node_state()->set_node_id(req->node_id());
    cmd.mutable_set_node_state()->set_state("draining");
    Result<std::string> r = node_->ProposeAndWait(cmd.SerializeAsString(), std::chrono::seconds(10));
    pb::MetaReply applied;
    if (!r.ok()) {
      s = r.status();
    } else if (!applied.ParseFromString(*r)) {
      s = Status::Internal("undecodable reply");
    } else {
      s = ReplyStatus(applied);
    }
  }
  if (!s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return grpc::Status::OK;
  }
  reply->set_message("chunk server " + std::to_string(req->node_id()) + " (" + node->address() +
                     ") is draining: its replicas move to other servers, then it is removed");
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::SetRepairLimits(grpc::ServerContext*,
                                               const pb::SetRepairLimitsRequest* req,
                                               pb::AdminReply* reply) {
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  RepairLimits limits = repair_->Stats().limits;
  if (req->has_max_jobs()) limits.max_jobs = req->max_jobs();
  if (req->has_per_node_jobs()) limits.per_node_jobs = req->per_node_jobs();
  if (req->has_bandwidth()) limits.bandwidth = req->bandwidth();
  repair_->SetLimits(limits);
  limits = repair_->Stats().limits;
  reply->set_message("repair limits: " + std::to_string(limits.max_jobs) + " jobs, " +
                     std::to_string(limits.per_node_jobs) + " per node, bandwidth " +
                     (limits.bandwidth == 0 ? std::string("unlimited")
                                            : std::to_string(limits.bandwidth) + " B/s"));
  return grpc::Status::OK;
}

}  // namespace dfs::meta
