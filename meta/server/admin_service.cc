#include "meta/server/admin_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
#include "common/logging.h"
#include "common/uuid.h"
#include "meta/ops/fsck.h"
#include "meta/server/propose.h"
#include "meta/server/repair_plan.h"
#include "meta/server/request_checks.h"
#include "proto/tls.h"
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

bool AdminServiceImpl::Refused(const dfs::Status& check, pb::Error* error) {
  if (check.ok()) return false;
  StatusToProto(check, error);
  return true;
}

grpc::Status AdminServiceImpl::Status(grpc::ServerContext* ctx, const pb::StatusRequest* req,
                                      pb::StatusReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  raft::RaftNodeStatus st = node_->GetStatus();
  reply->set_cluster_id(store_->cluster_id());
  reply->set_leader_id(st.leader);
  reply->set_term(st.term);
  auto add_member = [&](raft::NodeId id, bool learner) {
    pb::MetaMember* m = reply->add_members();
    m->set_id(id);
    auto it = st.peers.find(id);
    const raft::PeerStatus peer = it == st.peers.end() ? raft::PeerStatus{} : it->second;
    m->set_address(peer.address);
    m->set_match_index(peer.match);
    if (id == st.id) {
      m->set_role("leader");
      m->set_applied_index(st.applied);
    } else {
      m->set_role(!peer.active ? "unreachable" : learner ? "learner" : "follower");
    }
  };
  for (raft::NodeId id : st.conf_state.voters)
    add_member(id, false);
  for (raft::NodeId id : st.conf_state.learners)
    add_member(id, true);
  std::map<uint64_t, ServerView> views = registry_->Views();
  const bool settled = registry_->Settled();
  for (const pb::NodeRecord& record : store_->Nodes()) {
    pb::NodeInfo* n = reply->add_nodes();
    n->set_node_id(record.node_id());
    n->set_address(record.address());
    n->set_zone(record.zone());
    n->set_capacity_bytes(record.capacity_bytes());
    auto it = views.find(record.node_id());
    bool live = it != views.end() && it->second.live;
    // A new leader has not heard everyone yet: silence proves nothing.
    // A removed server is expected to be gone.
    n->set_state(live || record.state() == "removed" ? record.state()
                 : !settled                          ? "unknown"
                                                     : "dead");
    if (it != views.end()) {
      n->set_capacity_bytes(it->second.capacity);
      n->set_free_bytes(it->second.free);
      n->set_chunks(it->second.held.size());
      if (it->second.capacity > 0) {
        n->set_used_fraction(1.0 -
                             static_cast<double>(std::min(it->second.free, it->second.capacity)) /
                                 static_cast<double>(it->second.capacity));
      }
    }
  }
  RepairStats r = repair_->Stats();
  reply->set_chunks_total(r.chunks_total);
  reply->set_chunks_healthy(r.chunks_healthy);
  reply->set_chunks_pending(r.chunks_unknown);
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
  if (Result<ops::TrashTotals> trash = store_->TrashUsage(); trash.ok()) {
    reply->set_trash_entries(trash->entries);
    reply->set_trash_bytes(trash->bytes);
  }
  if (Result<ops::LockCounts> locks = store_->CountLocks(); locks.ok()) {
    reply->set_locks_held(locks->locks);
    reply->set_locked_inodes(locks->inodes);
    reply->set_lock_sessions(locks->sessions);
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Drain(grpc::ServerContext* ctx, const pb::NodeRequest* req,
                                     pb::AdminReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  Result<pb::NodeRecord> node = store_->Node(req->node_id());
  dfs::Status s = node.status();
  if (s.ok() && node->state() == "removed") {
    s = Status::InvalidArgument("chunk server " + std::to_string(req->node_id()) +
                                " is removed already");
  }
  if (s.ok() && node->state() != "draining") {
    pb::MetaCommand cmd;
    cmd.mutable_set_node_state()->set_node_id(req->node_id());
    cmd.mutable_set_node_state()->set_state("draining");
    s = ProposeCommand(node_, std::move(cmd)).status();
  }
  if (!s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return grpc::Status::OK;
  }
  reply->set_message("chunk server " + std::to_string(req->node_id()) + " (" + node->address() +
                     ") is draining: its replicas move to other servers, then it is removed");
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::SetRepairLimits(grpc::ServerContext* ctx,
                                               const pb::SetRepairLimitsRequest* req,
                                               pb::AdminReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
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

namespace {

// Fills `reply` from `s`, or with `message` on success.
grpc::Status Answer(const dfs::Status& s, const std::string& message, pb::AdminReply* reply) {
  if (s.ok()) {
    reply->set_message(message);
  } else {
    StatusToProto(s, reply->mutable_error());
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AdminServiceImpl::AddMember(grpc::ServerContext* ctx,
                                         const pb::MemberChangeRequest* req,
                                         pb::AdminReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckAddMemberRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  raft::RaftNodeStatus st = node_->GetStatus();
  for (raft::NodeId id : st.conf_state.voters) {
    if (id == req->id()) {
      return Answer(
          Status::AlreadyExists("meta server " + std::to_string(id) + " is a member already"), "",
          reply);
    }
  }
  const auto timeout = std::chrono::seconds(30);
  dfs::Status s = node_->AddLearner(req->id(), req->address(), timeout);
  // A learner becomes a voter once it has caught up with the log.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (s.ok()) {
    s = node_->PromoteLearner(req->id(), timeout);
    if (s.ok() || std::chrono::steady_clock::now() > deadline || !s.IsRetryable()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s = dfs::Status::Ok();
  }
  return Answer(s,
                "meta server " + std::to_string(req->id()) + " at " + req->address() +
                    " joined as a voting member",
                reply);
}

grpc::Status AdminServiceImpl::RemoveMember(grpc::ServerContext* ctx,
                                            const pb::MemberChangeRequest* req,
                                            pb::AdminReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckMemberRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  dfs::Status s = node_->RemoveMember(req->id(), std::chrono::seconds(30));
  return Answer(s, "meta server " + std::to_string(req->id()) + " removed from the group", reply);
}

grpc::Status AdminServiceImpl::TransferLeader(grpc::ServerContext* ctx,
                                              const pb::MemberChangeRequest* req,
                                              pb::AdminReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckMemberRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  dfs::Status s = node_->TransferLeadership(req->id());
  // Done when the target leads (or the time is up).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s.ok() && node_->GetStatus().leader != req->id()) {
    if (std::chrono::steady_clock::now() > deadline) {
      s = Status::Timeout("meta server " + std::to_string(req->id()) + " did not take over");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Answer(s, "meta server " + std::to_string(req->id()) + " leads now", reply);
}

namespace {

// Streams every file under `dir` as pieces; fills `files` with their sizes
// and checksums. False once the client is gone.
Result<bool> StreamFiles(const std::string& dir, grpc::ServerWriter<pb::BackupEvent>* writer,
                         pb::BackupManifest* manifest) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) paths.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<char> buf(1 << 20);
  for (const std::string& rel : paths) {
    const std::string path = dir + "/" + rel;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Status::IoError("cannot open " + path);
    uint64_t offset = 0;
    size_t n;
    bool sent = true;
    bool first = true;  // an empty file is sent as one empty piece
    while (sent && ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0 || first)) {
      first = false;
      pb::BackupEvent event;
      pb::BackupPiece* piece = event.mutable_piece();
      piece->set_path(rel);
      piece->set_offset(offset);
      piece->set_data(buf.data(), n);
      sent = writer->Write(event);
      offset += n;
    }
    std::fclose(f);
    if (!sent) return false;
    pb::BackupFileInfo* info = manifest->add_files();
    info->set_path(rel);
    uint64_t size = 0, sum = 0;
    RETURN_IF_ERROR(FileChecksum(path, &sum, &size));
    if (size != offset) return Status::IoError(path + " changed while it was sent");
    info->set_size(size);
    info->set_xxh3(sum);
  }
  return true;
}

}  // namespace

grpc::Status AdminServiceImpl::Backup(grpc::ServerContext* ctx, const pb::BackupRequest* req,
                                      grpc::ServerWriter<pb::BackupEvent>* writer) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  pb::BackupEvent refused;
  if (Refused(CheckRequest(*req), refused.mutable_error()) ||
      !Serving(req->header(), refused.mutable_error())) {
    writer->Write(refused);
    return grpc::Status::OK;
  }
  namespace fs = std::filesystem;
  const std::string dir = scratch_dir_ + "/backup-" + NewUuid();
  auto fail = [&](const dfs::Status& s) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    pb::BackupEvent event;
    StatusToProto(s, event.mutable_error());
    writer->Write(event);
    return grpc::Status::OK;
  };
  std::error_code ec;
  fs::create_directories(scratch_dir_, ec);
  if (dfs::Status s = store_->Checkpoint(dir); !s.ok()) return fail(s);
  // What the checkpoint holds: open it as a store of its own.
  pb::BackupManifest manifest;
  {
    Result<std::unique_ptr<MetaStore>> copy = MetaStore::Open(dir);
    if (!copy.ok()) return fail(copy.status());
    manifest.set_cluster_id((*copy)->cluster_id());
    manifest.set_applied_index((*copy)->AppliedIndex());
    manifest.set_chunk_size((*copy)->chunk_size());
    manifest.set_inodes((*copy)->InodeCount());
  }
  manifest.set_created_ns(WallNanos());
  Result<bool> sent = StreamFiles(dir, writer, &manifest);
  if (!sent.ok()) return fail(sent.status());
  fs::remove_all(dir, ec);
  if (!*sent) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  pb::BackupEvent last;
  *last.mutable_manifest() = std::move(manifest);
  writer->Write(last);
  DFS_LOG(INFO) << "backup at index " << last.manifest().applied_index() << ": "
                << last.manifest().files_size() << " files";
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Fsck(grpc::ServerContext* ctx, const pb::FsckRequest* req,
                                    grpc::ServerWriter<pb::FsckEvent>* writer) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  pb::FsckEvent refused;
  if (Refused(CheckRequest(*req), refused.mutable_error()) ||
      !Serving(req->header(), refused.mutable_error())) {
    writer->Write(refused);
    return grpc::Status::OK;
  }
  if (dfs::Status s = node_->ReadBarrierAndWait(std::chrono::seconds(5)); !s.ok()) {
    StatusToProto(s, refused.mutable_error());
    writer->Write(refused);
    return grpc::Status::OK;
  }
  // Chunk health as the repair scheduler would judge it, once this leader
  // has listened long enough to know who is dead.
  const bool settled = registry_->Settled();
  const std::map<uint64_t, ServerView> servers = registry_->Views();
  const RepairPolicy policy{replication_, store_->chunk_size()};
  std::mt19937_64 rng(1);
  std::vector<ops::FsckFinding> findings;
  ops::FsckVisitor visitor;
  visitor.found = [&](const ops::FsckFinding& f) { findings.push_back(f); };
  visitor.progress = [&](const ops::FsckCounts& c) {
    pb::FsckEvent event;
    event.mutable_progress()->set_inodes_checked(c.inodes_checked);
    event.mutable_progress()->set_inodes_total(c.inodes_total);
    return !ctx->IsCancelled() && writer->Write(event);
  };
  visitor.chunk = [&](uint64_t inode, const IndexedChunk& c) {
    if (!settled) return;
    ChunkVerdict v = JudgeChunk(
        c.record, servers, policy, [](uint64_t) { return false; }, rng);
    const std::string name = "chunk " + std::to_string(c.record.chunk_id()) + " (index " +
                             std::to_string(c.index) + " of inode " + std::to_string(inode) + ")";
    if (v.lost) {
      findings.push_back(
          {"chunk_lost", inode, c.record.chunk_id(), name + " has no live copy", std::nullopt});
    } else if (!v.unknown && v.good < static_cast<int>(replication_)) {
      findings.push_back({"chunk_under_replicated", inode, c.record.chunk_id(),
                          name + " has " + std::to_string(v.good) + " of " +
                              std::to_string(replication_) + " copies (repair restores them)",
                          std::nullopt});
    }
  };
  const uint64_t start = req->inode() == 0 ? 1 : req->inode();
  Result<ops::FsckCounts> counts = store_->Fsck(start, visitor);
  if (!counts.ok()) {
    StatusToProto(counts.status(), refused.mutable_error());
    writer->Write(refused);
    return grpc::Status::OK;
  }
  pb::FsckSummary summary;
  summary.set_directories(counts->directories);
  summary.set_files(counts->files);
  summary.set_other(counts->other);
  summary.set_chunks(counts->chunks);
  for (const ops::FsckFinding& f : findings) {
    pb::FsckEvent event;
    pb::FsckProblem* p = event.mutable_problem();
    p->set_kind(f.kind);
    p->set_inode(f.inode);
    p->set_chunk_id(f.chunk_id);
    p->set_detail(f.detail);
    if (req->fix() && f.fix) {
      pb::MetaCommand cmd;
      *cmd.mutable_fsck_fix() = *f.fix;
      p->set_fixed(ProposeCommand(node_, std::move(cmd)).ok());
      if (p->fixed()) summary.set_fixed(summary.fixed() + 1);
    }
    summary.set_problems(summary.problems() + 1);
    if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  }
  pb::FsckEvent last;
  *last.mutable_summary() = summary;
  writer->Write(last);
  return grpc::Status::OK;
}

}  // namespace dfs::meta
