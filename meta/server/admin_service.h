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
  // Marks a chunk server draining; the repair scheduler moves its copies
  // off and marks it removed once it holds nothing.
  grpc::Status Drain(grpc::ServerContext* ctx, const pb::NodeRequest* req,
                     pb::AdminReply* reply) override;
  // The repair limits of this leader (not replicated: a new leader starts
  // from its configuration).
  grpc::Status SetRepairLimits(grpc::ServerContext* ctx, const pb::SetRepairLimitsRequest* req,
                               pb::AdminReply* reply) override;

 private:
  // OK on the leader of a formatted cluster that the header may name;
  // otherwise fills `error` (NOT_LEADER with the leader's address).
  bool Serving(const pb::RpcHeader& header, pb::Error* error) const;

  raft::RaftNode* node_;
  std::map<uint64_t, std::string> peers_;
  MetaStore* store_;
  NodeRegistry* registry_;
  RepairScheduler* repair_;
};

}  // namespace dfs::meta
