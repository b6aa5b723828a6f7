#include "meta/server/admin_service.h"

#include "proto/wire_error.h"

namespace dfs::meta {

grpc::Status AdminServiceImpl::Status(grpc::ServerContext*, const pb::StatusRequest* req,
                                      pb::StatusReply* reply) {
  raft::RaftNodeStatus st = node_->GetStatus();
  dfs::Status s;
  if (!store_->formatted()) {
    s = Status::Unavailable("the cluster is not formatted yet");
  } else if (req->header().cluster_id() != "" && req->header().cluster_id() != store_->cluster_id()) {
    s = Status::ClusterMismatch("this is cluster " + store_->cluster_id());
  } else if (st.role != raft::StateRole::kLeader) {
    s = Status::NotLeader(st.leader_address);
  }
  if (!s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return grpc::Status::OK;
  }
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
  return grpc::Status::OK;
}

}  // namespace dfs::meta
