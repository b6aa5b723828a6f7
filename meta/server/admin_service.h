// The AdminService of dfs-meta (proto/admin.proto), for dfsadmin and tests:
// the cluster's state as the leader sees it. A follower answers NOT_LEADER
// with the leader's address. Calls not served yet answer UNIMPLEMENTED.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/node_registry.h"
#include "meta/server/repair_scheduler.h"
#include "meta/server/watch_hub.h"
#include "proto/admin.grpc.pb.h"

namespace dfs::meta {

class AdminServiceImpl final : public pb::AdminService::Service {
 public:
  // REQUIRES: every pointer outlives the service. `scratch_dir`: where
  // backups are staged (under the server's data directory). `watch_hub`
  // (may be null) hears what trash restores and purges change.
  AdminServiceImpl(raft::RaftNode* node, MetaStore* store, NodeRegistry* registry,
                   RepairScheduler* repair, std::string scratch_dir, uint32_t replication,
                   WatchHub* watch_hub = nullptr)
      : node_(node),
        store_(store),
        registry_(registry),
        repair_(repair),
        scratch_dir_(std::move(scratch_dir)),
        replication_(replication),
        watch_hub_(watch_hub) {}

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
  // Raft membership, one server at a time (docs/raft.md): a new server
  // joins as a learner, catches up, then becomes a voter; removal and
  // leadership transfer as Raft does them.
  grpc::Status AddMember(grpc::ServerContext* ctx, const pb::MemberChangeRequest* req,
                         pb::AdminReply* reply) override;
  grpc::Status RemoveMember(grpc::ServerContext* ctx, const pb::MemberChangeRequest* req,
                            pb::AdminReply* reply) override;
  grpc::Status TransferLeader(grpc::ServerContext* ctx, const pb::MemberChangeRequest* req,
                              pb::AdminReply* reply) override;
  // Walks the namespace and chunk map (meta/ops/fsck.h) on one consistent
  // view; adds chunk health as the leader judges it; with `fix`, proposes
  // each safe fix.
  grpc::Status Fsck(grpc::ServerContext* ctx, const pb::FsckRequest* req,
                    grpc::ServerWriter<pb::FsckEvent>* writer) override;
  // A checkpoint of the state (consistent at one Raft index), streamed as
  // files, then its manifest.
  grpc::Status Backup(grpc::ServerContext* ctx, const pb::BackupRequest* req,
                      grpc::ServerWriter<pb::BackupEvent>* writer) override;
  // The trash (docs/meta.md, "Trash"; admin_trash.cc): a page of entries
  // after a read barrier; a restore and purges as replicated commands.
  grpc::Status TrashList(grpc::ServerContext* ctx, const pb::TrashListRequest* req,
                         pb::TrashListReply* reply) override;
  grpc::Status TrashRestore(grpc::ServerContext* ctx, const pb::TrashRestoreRequest* req,
                            pb::TrashRestoreReply* reply) override;
  grpc::Status TrashPurge(grpc::ServerContext* ctx, const pb::TrashPurgeRequest* req,
                          pb::TrashPurgeReply* reply) override;

 private:
  // OK on the leader of a formatted cluster that the header may name;
  // otherwise fills `error` (NOT_LEADER with the leader's address).
  bool Serving(const pb::RpcHeader& header, pb::Error* error) const;
  // Fills `error` when `check` (the request's field check,
  // meta/server/request_checks.h) failed; true then.
  static bool Refused(const dfs::Status& check, pb::Error* error);

  raft::RaftNode* node_;
  MetaStore* store_;
  NodeRegistry* registry_;
  RepairScheduler* repair_;
  const std::string scratch_dir_;
  const uint32_t replication_;
  WatchHub* watch_hub_;
};

}  // namespace dfs::meta
