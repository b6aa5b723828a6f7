#include "meta/server/meta_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "meta/server/propose.h"
#include "meta/server/replica_report.h"
#include "meta/server/request_checks.h"
#include "meta/server/watch_events.h"
#include "meta/server/watch_stream.h"
#include "proto/tls.h"

namespace dfs::meta {

namespace {

// Who a call acts as: the ids the mount forwarded, with uid and gid 0 of a
// root-squashed mount made nobody (its groups then count for nothing).
Credentials Creds(const tls::Peer& peer, const pb::RpcHeader& h) {
  Credentials creds{tls::EffectiveUid(peer, h.uid()), tls::EffectiveGid(peer, h.gid()),
                    std::vector<uint32_t>(h.groups().begin(), h.groups().end())};
  if (creds.uid != h.uid()) creds.groups.clear();
  return creds;
}

}  // namespace

MetaServiceImpl::MetaServiceImpl(MetaServiceOptions options, raft::RaftNode* node, MetaStore* store,
                                 NodeRegistry* registry, WatchHub* watch_hub, LockManager* locks)
    : options_(options),
      node_(node),
      store_(store),
      registry_(registry),
      watch_hub_(watch_hub),
      locks_(locks),
      rng_(std::random_device()()),
      readers_(options.reader_threads) {}

Status MetaServiceImpl::CheckCaller(const tls::Peer& peer, const pb::RpcHeader& header,
                                    CallKind kind) const {
  RETURN_IF_ERROR(tls::Allow(peer, kind));
  if (!header.cluster_id().empty() && store_->formatted() &&
      header.cluster_id() != store_->cluster_id()) {
    return Status::ClusterMismatch("this is cluster " + store_->cluster_id() + ", not " +
                                   header.cluster_id());
  }
  return Status::Ok();
}

void MetaServiceImpl::FillError(const Status& s, pb::Error* error) const {
  error->set_code(static_cast<uint32_t>(s.code()));
  error->set_message(std::string(s.message()));
  if (s.code() == ErrorCode::NOT_LEADER) {
    raft::RaftNodeStatus st = node_->GetStatus();
    error->set_leader_id(st.leader);
    error->set_leader_address(st.leader_address);
  }
}

template <class Reply>
grpc::ServerUnaryReactor* MetaServiceImpl::FinishNow(grpc::CallbackServerContext* ctx, Reply* reply,
                                                     const Status& s) {
  auto* reactor = ctx->DefaultReactor();
  FillError(s, reply->mutable_error());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void MetaServiceImpl::Counter::Add(std::chrono::steady_clock::time_point start, bool error) {
  calls.fetch_add(1, std::memory_order_relaxed);
  if (error) errors.fetch_add(1, std::memory_order_relaxed);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  micros.fetch_add(static_cast<uint64_t>(took.count()), std::memory_order_relaxed);
}

MetaRequestStats MetaServiceImpl::request_stats() const {
  MetaRequestStats out;
  out.mutations = mutations_.calls.load();
  out.mutation_errors = mutations_.errors.load();
  out.mutation_micros = mutations_.micros.load();
  out.reads = reads_.calls.load();
  out.read_errors = reads_.errors.load();
  out.read_micros = reads_.micros.load();
  return out;
}

template <class Reply, class Fill, class Out>
grpc::ServerUnaryReactor* MetaServiceImpl::Mutate(grpc::CallbackServerContext* ctx,
                                                  const pb::RpcHeader& header, Reply* reply,
                                                  Fill fill, Out out) {
  const tls::Peer peer = tls::PeerOf(*ctx);
  if (Status s = CheckCaller(peer, header, CallKind::kWrite); !s.ok())
    return FinishNow(ctx, reply, s);
  auto* reactor = ctx->DefaultReactor();
  pb::MetaCommand cmd;
  cmd.set_session_id(header.session_id());
  cmd.set_sequence(header.sequence());
  cmd.set_now_ns(WallNanos());
  const Credentials caller = Creds(peer, header);
  cmd.set_uid(caller.uid);
  cmd.set_gid(caller.gid);
  cmd.mutable_groups()->Add(caller.groups.begin(), caller.groups.end());
  fill(&cmd);
  std::string data = cmd.SerializeAsString();
  std::shared_ptr<const WatchedCommand> watched = PrepareWatch(std::move(cmd));
  const auto start = std::chrono::steady_clock::now();
  node_->Propose(std::move(data),
                 [this, reactor, reply, out, watched, start](Result<std::string> r) {
                   if (!r.ok()) {
                     FillError(r.status(), reply->mutable_error());
                   } else {
                     pb::MetaReply meta_reply;
                     if (!meta_reply.ParseFromString(*r)) {
                       FillError(Status::Internal("undecodable reply from the state machine"),
                                 reply->mutable_error());
                     } else {
                       *reply->mutable_error() = meta_reply.error();
                       if (meta_reply.error().code() == 0) out(meta_reply, reply);
                       if (meta_reply.changed_inodes_size() > 0) {
                         locks_->Wake(std::vector<uint64_t>(meta_reply.changed_inodes().begin(),
                                                            meta_reply.changed_inodes().end()));
                       }
                       // Before the reply: when the caller's call returns, the other
                       // mounts' invalidations are on their way.
                       if (watched != nullptr) PublishWatch(*watched, meta_reply);
                     }
                   }
                   mutations_.Add(start, reply->error().code() != 0);
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

std::shared_ptr<const MetaServiceImpl::WatchedCommand> MetaServiceImpl::PrepareWatch(
    pb::MetaCommand cmd) const {
  if (!watch_hub_->watched()) return nullptr;
  auto watched = std::make_shared<WatchedCommand>();
  // Unlink, rmdir and rename do not return the inodes they unlink or move:
  // read them from the leader's state now (as root: permissions are the
  // command's business). A mutation of the same entry that commits between
  // this read and the command makes it name the previous inode; the entry
  // itself is always named (docs/meta.md, "Watches").
  for (const EntryName& entry : EntriesToResolve(cmd)) {
    Result<pb::InodeAttr> attr = store_->Lookup(Credentials{}, entry.parent, entry.name);
    watched->resolved.push_back(attr.ok() ? attr->inode() : 0);
  }
  watched->cmd = std::move(cmd);
  return watched;
}

void MetaServiceImpl::PublishWatch(const WatchedCommand& watched, const pb::MetaReply& reply) {
  std::optional<pb::WatchEvent> event = WatchEventFor(watched.cmd, reply, watched.resolved);
  if (event.has_value()) watch_hub_->Publish(*event, watched.cmd.session_id());
}

template <class Reply, class ReadFn>
grpc::ServerUnaryReactor* MetaServiceImpl::Read(grpc::CallbackServerContext* ctx,
                                                const pb::RpcHeader& header, Reply* reply,
                                                ReadCost cost, ReadFn read) {
  const tls::Peer peer = tls::PeerOf(*ctx);
  if (Status s = CheckCaller(peer, header, CallKind::kRead); !s.ok())
    return FinishNow(ctx, reply, s);
  const Credentials caller = Creds(peer, header);
  auto* reactor = ctx->DefaultReactor();
  const auto start = std::chrono::steady_clock::now();
  node_->ReadBarrier([this, reactor, reply, read, cost, start, caller](Status s) {
    auto run = [this, reactor, reply, read, s, start, caller]() mutable {
      if (s.ok()) s = read(reply, caller);
      if (!s.ok()) FillError(s, reply->mutable_error());
      reads_.Add(start, !s.ok());
      reactor->Finish(grpc::Status::OK);
    };
    // The barrier completes on the Raft driver thread. A point read (a few
    // keys, microseconds) runs right there; a scan (a readdir may touch
    // thousands of keys) goes to the reader pool.
    if (cost == ReadCost::kPoint) {
      run();
    } else {
      readers_.Submit(std::move(run));
    }
  });
  return reactor;
}

// ------------------------------------------------------------------- reads

grpc::ServerUnaryReactor* MetaServiceImpl::Lookup(grpc::CallbackServerContext* ctx,
                                                  const pb::LookupRequest* req,
                                                  pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::AttrReply* r, const Credentials& caller) -> Status {
                ASSIGN_OR_RETURN(*r->mutable_attr(),
                                 store_->Lookup(caller, req->parent(), req->name()));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::GetAttr(grpc::CallbackServerContext* ctx,
                                                   const pb::GetAttrRequest* req,
                                                   pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::AttrReply* r, const Credentials& caller) -> Status {
                ASSIGN_OR_RETURN(*r->mutable_attr(),
                                 req->access_mask() != 0
                                     ? store_->CheckedAttr(caller, req->inode(), req->access_mask())
                                     : store_->GetAttr(req->inode()));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::ReadLink(grpc::CallbackServerContext* ctx,
                                                    const pb::GetAttrRequest* req,
                                                    pb::ReadLinkReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::ReadLinkReply* r, const Credentials&) -> Status {
                ASSIGN_OR_RETURN(*r->mutable_target(), store_->ReadLink(req->inode()));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::ReadDir(grpc::CallbackServerContext* ctx,
                                                   const pb::ReadDirRequest* req,
                                                   pb::ReadDirReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kScan,
              [this, req](pb::ReadDirReply* r, const Credentials& caller) -> Status {
                uint32_t max = req->max_entries() == 0
                                   ? kDefaultReadDirEntries
                                   : std::min(req->max_entries(), kMaxReadDirEntries);
                ASSIGN_OR_RETURN(*r, store_->ReadDir(caller, req->inode(), req->cookie(), max));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::StatFs(grpc::CallbackServerContext* ctx,
                                                  const pb::StatFsRequest* req,
                                                  pb::StatFsReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kScan,
              [this](pb::StatFsReply* r, const Credentials&) -> Status {
                // Capacity is the leader's soft state (heartbeats): a follower has none.
                raft::RaftNodeStatus st = node_->GetStatus();
                if (st.role != raft::StateRole::kLeader)
                  return Status::NotLeader(st.leader_address);
                uint64_t capacity = 0, free = 0;
                registry_->Totals(&capacity, &free);
                // The trash is not the users' (docs/meta.md, "Trash"): its files' bytes,
                // every replica of them, count as free (they are reclaimable), and its
                // files not as inodes.
                ASSIGN_OR_RETURN(ops::TrashTotals trash, store_->TrashUsage());
                const uint64_t reclaimable = trash.bytes * options_.replication;
                free += std::min(reclaimable, capacity - std::min(free, capacity));
                const uint64_t inodes = store_->InodeCount();
                r->set_total_bytes(capacity);
                r->set_free_bytes(free);
                r->set_inodes(inodes - std::min(inodes, trash.entries));
                r->set_cluster_id(store_->cluster_id());
                r->set_chunk_size(store_->chunk_size());
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::Access(grpc::CallbackServerContext* ctx,
                                                  const pb::AccessRequest* req,
                                                  pb::EmptyReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::EmptyReply*, const Credentials& caller) {
                return store_->Access(caller, req->inode(), req->mask());
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::GetXattr(grpc::CallbackServerContext* ctx,
                                                    const pb::XattrRequest* req,
                                                    pb::XattrReply* reply) {
  if (Status s = CheckGetXattrRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::XattrReply* r, const Credentials& caller) -> Status {
                ASSIGN_OR_RETURN(*r->mutable_value(),
                                 store_->GetXattr(caller, req->inode(), req->name()));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::ListXattr(grpc::CallbackServerContext* ctx,
                                                     const pb::XattrRequest* req,
                                                     pb::XattrReply* reply) {
  if (Status s = CheckListXattrRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kScan,
              [this, req](pb::XattrReply* r, const Credentials& caller) -> Status {
                ASSIGN_OR_RETURN(auto names, store_->ListXattr(caller, req->inode()));
                for (auto& n : names)
                  r->add_names(std::move(n));
                return Status::Ok();
              });
}

grpc::ServerUnaryReactor* MetaServiceImpl::GetChunks(grpc::CallbackServerContext* ctx,
                                                     const pb::GetChunksRequest* req,
                                                     pb::GetChunksReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kScan,
              [this, req](pb::GetChunksReply* r, const Credentials&) -> Status {
                // count 0: to the end (docs/meta.md), a page at a time.
                uint64_t count = req->count() == 0 ? kMaxChunksPerCall
                                                   : std::min(req->count(), kMaxChunksPerCall);
                ASSIGN_OR_RETURN(*r, store_->GetChunks(req->inode(), req->first_index(), count));
                return Status::Ok();
              });
}

// --------------------------------------------------------------- mutations

grpc::ServerUnaryReactor* MetaServiceImpl::SetAttr(grpc::CallbackServerContext* ctx,
                                                   const pb::SetAttrRequest* req,
                                                   pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_setattr() = *req; },
      [](const pb::MetaReply& m, pb::AttrReply* r) { *r->mutable_attr() = m.attr(); });
}

grpc::ServerUnaryReactor* MetaServiceImpl::Create(grpc::CallbackServerContext* ctx,
                                                  const pb::CreateRequest* req,
                                                  pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_create() = *req; },
      [](const pb::MetaReply& m, pb::AttrReply* r) { *r->mutable_attr() = m.attr(); });
}

grpc::ServerUnaryReactor* MetaServiceImpl::Unlink(grpc::CallbackServerContext* ctx,
                                                  const pb::EntryRequest* req,
                                                  pb::EmptyReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply,
      [this, req](pb::MetaCommand* c) {
        *c->mutable_unlink() = *req;
        c->set_trash(options_.trash);
      },
      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::Rmdir(grpc::CallbackServerContext* ctx,
                                                 const pb::EntryRequest* req,
                                                 pb::EmptyReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_rmdir() = *req; },
      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::Rename(grpc::CallbackServerContext* ctx,
                                                  const pb::RenameRequest* req,
                                                  pb::EmptyReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply,
      [this, req](pb::MetaCommand* c) {
        *c->mutable_rename() = *req;
        c->set_trash(options_.trash);
      },
      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::Link(grpc::CallbackServerContext* ctx,
                                                const pb::LinkRequest* req, pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_link() = *req; },
      [](const pb::MetaReply& m, pb::AttrReply* r) { *r->mutable_attr() = m.attr(); });
}

grpc::ServerUnaryReactor* MetaServiceImpl::SetXattr(grpc::CallbackServerContext* ctx,
                                                    const pb::XattrRequest* req,
                                                    pb::EmptyReply* reply) {
  if (Status s = CheckSetXattrRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_setxattr() = *req; },
      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::RemoveXattr(grpc::CallbackServerContext* ctx,
                                                       const pb::XattrRequest* req,
                                                       pb::EmptyReply* reply) {
  if (Status s = CheckRemoveXattrRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_removexattr() = *req; },
      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::CommitWrite(grpc::CallbackServerContext* ctx,
                                                       const pb::CommitWriteRequest* req,
                                                       pb::AttrReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_commit_write() = *req; },
      [](const pb::MetaReply& m, pb::AttrReply* r) { *r->mutable_attr() = m.attr(); });
}

grpc::ServerUnaryReactor* MetaServiceImpl::AllocateChunk(grpc::CallbackServerContext* ctx,
                                                         const pb::AllocateChunkRequest* req,
                                                         pb::AllocateChunkReply* reply) {
  if (Status s = CheckRequest(*req, store_->chunk_size()); !s.ok()) {
    return FinishNow(ctx, reply, s);
  }
  // Placement uses the leader's live view of the chunk servers, so it is
  // decided here and carried in the command (replicas apply it as is). A
  // follower has no such view: it sends the caller to the leader; a new
  // leader with no heartbeats yet says "try again", not "disk full". Until
  // it has listened for one node_dead_after it says so too when the
  // servers it has not heard from could widen the chain by more than one
  // zone (PlacementWaitsForSilent): the first server to report after an
  // election would otherwise take every new chunk alone, and writes would
  // be acknowledged on one copy.
  Result<Placement> placement = Status::Unavailable("no placement");
  const raft::RaftNodeStatus st = node_->GetStatus();
  if (st.role != raft::StateRole::kLeader) {
    placement = Status::NotLeader(st.leader_address);
  } else {
    registry_->LeadTerm(st.term);  // a view left from an earlier term is void
    const std::vector<PlacementCandidate> live = registry_->LiveCandidates();
    if (live.empty()) {
      placement = Status::Unavailable("no chunk server has reported to this leader yet");
    } else {
      std::lock_guard lock(rng_mu_);
      placement = PlaceChunk(live, options_.replication, store_->chunk_size(), rng_);
    }
    if (placement.ok() && !registry_->Settled()) {
      std::vector<PlacementCandidate> silent;  // registered, active, not heard from
      for (const pb::NodeRecord& n : store_->Nodes()) {
        bool heard = false;
        for (const PlacementCandidate& c : live)
          heard = heard || c.node_id == n.node_id();
        if (!heard && n.state() == "active") silent.push_back({n.node_id(), n.zone(), 0, 0});
      }
      if (PlacementWaitsForSilent(*placement, live, silent, options_.replication)) {
        placement =
            Status::Unavailable("this leader has not heard from every chunk server yet; try again");
      }
    }
  }
  if (!placement.ok()) return FinishNow(ctx, reply, placement.status());
  return Mutate(
      ctx, req->header(), reply,
      [req, p = *placement](pb::MetaCommand* c) {
        pb::AllocateChunkCommand* a = c->mutable_allocate_chunk();
        a->set_inode(req->inode());
        a->set_index(req->index());
        for (uint64_t id : p.replicas)
          a->add_replicas(id);
        a->set_zone_degraded(p.zone_degraded);
        *a->mutable_failed_nodes() = req->failed_nodes();
      },
      [](const pb::MetaReply& m, pb::AllocateChunkReply* r) { *r->mutable_chunk() = m.chunk(); });
}

grpc::ServerUnaryReactor* MetaServiceImpl::RegisterNode(grpc::CallbackServerContext* ctx,
                                                        const pb::RegisterNodeRequest* req,
                                                        pb::RegisterNodeReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  if (Status s = CheckCaller(tls::PeerOf(*ctx), req->header(), CallKind::kNode); !s.ok())
    return FinishNow(ctx, reply, s);
  return Mutate(
      ctx, req->header(), reply, [req](pb::MetaCommand* c) { *c->mutable_register_node() = *req; },
      [this](const pb::MetaReply& m, pb::RegisterNodeReply* r) {
        // A restart: what the server reported before is void until its
        // next (full) report.
        registry_->Registered(m.node_id());
        r->set_node_id(m.node_id());
        r->set_cluster_id(store_->cluster_id());
        r->set_chunk_size(store_->chunk_size());
      });
}

grpc::ServerUnaryReactor* MetaServiceImpl::Heartbeat(grpc::CallbackServerContext* ctx,
                                                     const pb::HeartbeatRequest* req,
                                                     pb::HeartbeatReply* reply) {
  if (Status s = CheckRequest(*req, store_->chunk_size()); !s.ok()) {
    return FinishNow(ctx, reply, s);
  }
  // Liveness and the replica report are the leader's soft state: no Raft
  // round. The verdicts on the report read the replicated state, so they
  // wait for a read barrier: a new leader may not yet have applied chunks
  // its predecessor allocated, and would take their replicas for orphans.
  auto* reactor = ctx->DefaultReactor();
  raft::RaftNodeStatus st = node_->GetStatus();
  Result<pb::NodeRecord> record = Status::NotLeader(st.leader_address);
  if (Status s = CheckCaller(tls::PeerOf(*ctx), req->header(), CallKind::kNode); !s.ok()) {
    record = s;
  } else if (st.role == raft::StateRole::kLeader) {
    record = store_->Node(req->node_id());
    if (record.status().code() == ErrorCode::NOT_FOUND) {
      record =
          Status::NotFound("unknown node " + std::to_string(req->node_id()) + "; register again");
    }
  }
  if (!record.ok()) {
    FillError(record.status(), reply->mutable_error());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  registry_->LeadTerm(st.term);
  registry_->Heartbeat(*record, req->capacity_bytes(), req->free_bytes(), req->load());
  registry_->TakeReport(*req);
  node_->ReadBarrier([this, reactor, req, reply](Status barrier) {
    if (!barrier.ok()) {
      FillError(barrier, reply->mutable_error());
      reactor->Finish(grpc::Status::OK);
      return;
    }
    // Up to a few thousand point reads: off the Raft thread.
    readers_.Submit([this, reactor, req, reply] {
      AnswerReport(req->node_id(), reply);
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

// ------------------------------------------------------------------- watch

grpc::ServerWriteReactor<pb::WatchEvent>* MetaServiceImpl::Watch(grpc::CallbackServerContext* ctx,
                                                                 const pb::WatchRequest* req) {
  raft::RaftNodeStatus st = node_->GetStatus();
  Status s = CheckCaller(tls::PeerOf(*ctx), req->header(), CallKind::kRead);
  if (s.ok()) s = CheckRequest(*req);
  if (s.ok() && st.role != raft::StateRole::kLeader) s = Status::NotLeader(st.leader_address);
  if (s.ok() && !store_->formatted()) s = Status::Unavailable("the cluster is not formatted yet");
  if (!s.ok()) {
    pb::Error error;
    FillError(s, &error);
    return new WatchRefusal(std::move(error));
  }
  // If leadership is lost from here on, main.cc's leader loop ends the
  // stream (WatchHub::Observe): the mount reconnects to the new leader.
  return new WatchStream(
      ctx, watch_hub_, st.term,
      std::vector<uint64_t>(req->own_sessions().begin(), req->own_sessions().end()));
}

void MetaServiceImpl::AnswerReport(uint64_t node_id, pb::HeartbeatReply* reply) {
  StoreCatalog catalog(store_);
  Result<ReplicaVerdicts> verdicts = registry_->Judge(node_id, catalog);
  if (!verdicts.ok()) {
    DFS_LOG(ERROR) << "judging the report of chunk server " << node_id << ": " << verdicts.status();
    FillError(verdicts.status(), reply->mutable_error());
    return;
  }
  reply->set_send_full_report(verdicts->send_full_report);
  for (pb::ChunkReport& d : verdicts->deletes)
    *reply->add_delete_chunks() = std::move(d);
  ProposeForgets(node_id, registry_->BeginForgets(node_id, verdicts->forgets));
}

void MetaServiceImpl::ProposeForgets(uint64_t node_id, std::vector<uint64_t> chunk_ids) {
  if (chunk_ids.empty()) return;
  // One command for the whole heartbeat; the heartbeat does not wait for
  // it. A lost proposal is retried by a later heartbeat once EndForgets
  // lets the pairs go.
  pb::MetaCommand cmd;
  cmd.set_now_ns(WallNanos());
  for (uint64_t chunk_id : chunk_ids) {
    pb::GarbageReplica* pair = cmd.mutable_forget_garbage()->add_replicas();
    pair->set_chunk_id(chunk_id);
    pair->set_node_id(node_id);
  }
  node_->Propose(
      cmd.SerializeAsString(),
      [registry = registry_, node_id, chunk_ids = std::move(chunk_ids)](Result<std::string> r) {
        if (!r.ok()) {
          DFS_LOG(INFO) << "forgetting " << chunk_ids.size() << " garbage replicas of chunk server "
                        << node_id << ": " << r.status();
        } else {
          pb::MetaReply reply;
          Status applied = reply.ParseFromString(*r) ? ReplyStatus(reply)
                                                     : Status::Internal("undecodable reply");
          DFS_LOG_IF(WARN, !applied.ok())
              << "forgetting garbage replicas of chunk server " << node_id << ": " << applied;
        }
        registry->EndForgets(node_id, chunk_ids);
      });
}

// ------------------------------------------------------------------- locks

void MetaServiceImpl::ProposeLockCommand(pb::MetaCommand cmd,
                                         std::function<void(Result<pb::MetaReply>)> done) {
  cmd.set_now_ns(WallNanos());
  node_->Propose(cmd.SerializeAsString(), [this, done = std::move(done)](Result<std::string> r) {
    if (!r.ok()) return done(r.status());
    pb::MetaReply reply;
    if (!reply.ParseFromString(*r)) return done(Status::Internal("undecodable reply"));
    if (reply.changed_inodes_size() > 0) {
      locks_->Wake(
          std::vector<uint64_t>(reply.changed_inodes().begin(), reply.changed_inodes().end()));
    }
    done(std::move(reply));
  });
}

// One Lock call: an attempt, and with `wait` more attempts each time the
// LockManager says a lock on the inode was released, until the lock is
// taken, the call's deadline is near, or this server stops leading.
class LockCall : public std::enable_shared_from_this<LockCall> {
 public:
  LockCall(MetaServiceImpl* service, grpc::CallbackServerContext* ctx, const pb::LockRequest* req,
           pb::LockReply* reply)
      : service_(service), ctx_(ctx), req_(req), reply_(reply), reactor_(ctx->DefaultReactor()) {
    // Answer a little before the caller gives up, so that it hears the
    // conflict and calls again rather than seeing its call time out.
    constexpr auto kMaxWait = std::chrono::seconds(30);
    constexpr auto kMargin = std::chrono::milliseconds(500);
    auto now_sys = std::chrono::system_clock::now();
    auto left = std::min<std::chrono::system_clock::duration>(ctx->deadline() - now_sys, kMaxWait);
    deadline_ = std::chrono::steady_clock::now() + left - kMargin;
  }

  grpc::ServerUnaryReactor* Start() {
    if (Status s = service_->CheckCaller(tls::PeerOf(*ctx_), req_->header(),
                                         MetaServiceImpl::CallKind::kRead);
        !s.ok()) {
      Finish(s);
    } else {
      Attempt();
    }
    return reactor_;
  }

 private:
  void Attempt() {
    pb::MetaCommand cmd;
    *cmd.mutable_lock() = *req_;
    cmd.mutable_lock()->clear_header();
    cmd.mutable_lock()->set_wait(false);
    service_->ProposeLockCommand(
        std::move(cmd), [self = shared_from_this()](Result<pb::MetaReply> r) { self->Done(r); });
  }

  void Done(const Result<pb::MetaReply>& r) {
    if (!r.ok()) return Finish(r.status());
    Status s = ReplyStatus(*r);
    if (s.code() == ErrorCode::LOCK_CONFLICT) *reply_->mutable_conflict() = r->conflict();
    if (s.code() != ErrorCode::LOCK_CONFLICT || !req_->wait() ||
        std::chrono::steady_clock::now() >= deadline_) {
      return Finish(s);
    }
    auto self = shared_from_this();
    service_->locks_->Wait(
        req_->inode(), deadline_, [ctx = ctx_] { return ctx->IsCancelled(); },
        [self, s](LockManager::WaitEnd end) {
          switch (end) {
            case LockManager::WaitEnd::kChanged:
              // A caller that gave up must not be granted a lock it will
              // never hear of.
              if (self->ctx_->IsCancelled()) return self->Finish(s);
              return self->Attempt();
            case LockManager::WaitEnd::kDeadline:
              return self->Finish(s);
            case LockManager::WaitEnd::kNotLeader:
              return self->Finish(Status::NotLeader("this server stopped leading"));
          }
        });
  }

  void Finish(const Status& s) {
    if (!s.ok()) service_->FillError(s, reply_->mutable_error());
    service_->mutations_.Add(start_, !s.ok());
    reactor_->Finish(grpc::Status::OK);
  }

  MetaServiceImpl* const service_;
  grpc::CallbackServerContext* const ctx_;
  const pb::LockRequest* const req_;
  pb::LockReply* const reply_;
  grpc::ServerUnaryReactor* const reactor_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point deadline_;
};

grpc::ServerUnaryReactor* MetaServiceImpl::Lock(grpc::CallbackServerContext* ctx,
                                                const pb::LockRequest* req, pb::LockReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return std::make_shared<LockCall>(this, ctx, req, reply)->Start();
}

grpc::ServerUnaryReactor* MetaServiceImpl::GetLock(grpc::CallbackServerContext* ctx,
                                                   const pb::LockRequest* req,
                                                   pb::LockReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  return Read(ctx, req->header(), reply, ReadCost::kPoint,
              [this, req](pb::LockReply* r, const Credentials&) -> Status {
                ASSIGN_OR_RETURN(std::optional<pb::LockRange> conflict,
                                 store_->TestLock(req->inode(), req->lock()));
                if (conflict) {
                  r->set_found(true);
                  *r->mutable_conflict() = *conflict;
                }
                return Status::Ok();
              });
}

template <class Reply, class Out>
grpc::ServerUnaryReactor* MetaServiceImpl::LockMutation(grpc::CallbackServerContext* ctx,
                                                        const pb::RpcHeader& header, Reply* reply,
                                                        pb::MetaCommand cmd, Out out) {
  if (Status s = CheckCaller(tls::PeerOf(*ctx), header, CallKind::kRead); !s.ok())
    return FinishNow(ctx, reply, s);
  auto* reactor = ctx->DefaultReactor();
  const auto start = std::chrono::steady_clock::now();
  ProposeLockCommand(std::move(cmd), [this, reactor, reply, start, out](Result<pb::MetaReply> r) {
    Status s = r.ok() ? ReplyStatus(*r) : r.status();
    if (s.ok()) {
      out(*r, reply);
    } else {
      FillError(s, reply->mutable_error());
    }
    mutations_.Add(start, !s.ok());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MetaServiceImpl::ReleaseLocks(grpc::CallbackServerContext* ctx,
                                                        const pb::ReleaseLocksRequest* req,
                                                        pb::EmptyReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  pb::MetaCommand cmd;
  *cmd.mutable_release_locks() = *req;
  cmd.mutable_release_locks()->clear_header();
  return LockMutation(ctx, req->header(), reply, std::move(cmd),
                      [](const pb::MetaReply&, pb::EmptyReply*) {});
}

grpc::ServerUnaryReactor* MetaServiceImpl::LockSession(grpc::CallbackServerContext* ctx,
                                                       const pb::LockSessionRequest* req,
                                                       pb::LockSessionReply* reply) {
  if (Status s = CheckRequest(*req); !s.ok()) return FinishNow(ctx, reply, s);
  const uint64_t lease_ms = static_cast<uint64_t>(locks_->lease().count());
  if (req->close()) {
    pb::MetaCommand cmd;
    cmd.mutable_expire_lock_sessions()->add_lock_sessions(req->lock_session());
    return LockMutation(ctx, req->header(), reply, std::move(cmd),
                        [](const pb::MetaReply&, pb::LockSessionReply*) {});
  }
  if (req->lock_session() != 0) {
    // A renewal: a read of the session's state, then the leader's lease.
    return Read(ctx, req->header(), reply, ReadCost::kPoint,
                [this, req, lease_ms](pb::LockSessionReply* r, const Credentials&) -> Status {
                  // Leases are the leader's soft state: a follower may serve
                  // reads, but a renewal there would renew nothing.
                  raft::RaftNodeStatus st = node_->GetStatus();
                  if (st.role != raft::StateRole::kLeader) {
                    return Status::NotLeader(st.leader_address);
                  }
                  ASSIGN_OR_RETURN(bool live, store_->LockSessionLive(req->lock_session()));
                  if (!live || !locks_->Renew(req->lock_session())) {
                    return Status::SessionExpired("lock session " +
                                                  std::to_string(req->lock_session()) +
                                                  " has expired: its locks were released");
                  }
                  r->set_lock_session(req->lock_session());
                  r->set_lease_ms(lease_ms);
                  return Status::Ok();
                });
  }
  pb::MetaCommand cmd;
  cmd.mutable_open_lock_session();
  return LockMutation(ctx, req->header(), reply, std::move(cmd),
                      [this, lease_ms](const pb::MetaReply& m, pb::LockSessionReply* r) {
                        locks_->Renew(m.lock_session());
                        r->set_lock_session(m.lock_session());
                        r->set_lease_ms(lease_ms);
                      });
}

}  // namespace dfs::meta
