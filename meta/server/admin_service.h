// The AdminService of dfs-meta (proto/admin.proto), for dfsadmin and tests:
// the cluster's state as the leader sees it. A follower answers NOT_LEADER
// with the leader's address. Calls not served yet answer UNIMPLEMENTED.
#pragma once

#include <map>
#include <string>

#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/node_registry.h"
#include "meta/server/repair_scheduler.h"
#include "proto/admin.grpc.pb.h"

namespace dfs::meta {

class AdminServiceImpl final : public pb::AdminService::Service {
 public:
  // REQUIRES: every pointer outlives the service. `peers`: the Raft group.
  AdminServiceImpl(raft::RaftNode* node, std::map<uint64_t, std::string> peers, MetaStore* store,
                   NodeRegistry* registry, RepairScheduler* repair)
      : node_(node), peers_(std::move(peers)), store_(store), registry_(registry), repair_(repair) {}

  grpc::Status Status(grpc::ServerContext* ctx, const pb::StatusRequest* req,
                      pb::StatusReply* reply) override;

 private:
  raft::RaftNode* node_;
  std::map<uint64_t, std::string> peers_;
  MetaStore* store_;
  NodeRegistry* registry_;
  RepairScheduler* repair_;
};

}  // namespace dfs::meta
