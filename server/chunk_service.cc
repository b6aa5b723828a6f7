#include "server/chunk_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <future>
#include <span>

#include "common/checksum.h"
#include "common/logging.h"
#include "proto/tls.h"
#include "proto/wire_error.h"

namespace dfs::server {
namespace {

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Counts a request as load while it runs.
class InFlight {
 public:
  explicit InFlight(std::atomic<uint32_t>* n) : n_(n) { n_->fetch_add(1); }
  ~InFlight() { n_->fetch_sub(1); }

 private:
  std::atomic<uint32_t>* n_;
};

// Fills `error` when `check`, the request's field check, failed; true then.
bool Refused(const Status& check, pb::Error* error) {
  if (check.ok()) return false;
  StatusToProto(check, error);
  return true;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::span<const uint64_t> Sums(const google::protobuf::RepeatedField<uint64_t>& sums) {
  return {sums.data(), static_cast<size_t>(sums.size())};
}

// One request on its way to the next replica: everything the asynchronous
// call needs must outlive it.
template <class Request>
struct Forward {
  grpc::ClientContext ctx;
  const Request* req = nullptr;  // the incoming request, its chain cut by one
  pb::ChainReply reply;
  std::promise<grpc::Status> done;
  void Finish(grpc::Status s) { done.set_value(std::move(s)); }
};

}  // namespace

ChunkServiceImpl::ChunkServiceImpl(ChunkServiceOptions options, ChunkStore* store,
                                   client::ChunkStubPool* peers)
    : options_(std::move(options)), store_(store), peers_(peers) {}

void ChunkServiceImpl::SetIdentity(uint64_t node_id, const std::string& cluster_id) {
  std::lock_guard lock(mu_);
  node_id_ = node_id;
  cluster_id_ = cluster_id;
}

Status ChunkServiceImpl::CheckCaller(const grpc::ServerContext& ctx, const pb::RpcHeader& header,
                                     CallKind kind) const {
  RETURN_IF_ERROR(tls::Allow(tls::PeerOf(ctx), kind));
  std::lock_guard lock(mu_);
  if (node_id_ == 0) return Status::Unavailable("chunk server not registered yet");
  if (header.cluster_id() != cluster_id_) {
    return Status::ClusterMismatch("this chunk server is of cluster " + cluster_id_ +
                                   ", the request of '" + header.cluster_id() + "'");
  }
  return Status::Ok();
}

ChunkRequestContext ChunkServiceImpl::context() const {
  std::lock_guard lock(mu_);
  return ChunkRequestContext{store_->chunk_size(), node_id_};
}

void ChunkServiceImpl::NoteResult(const Status& s) {
  if (s.code() != ErrorCode::CORRUPT) return;
  corrupt_++;
  if (options_.on_corrupt) options_.on_corrupt();
}

ChunkServiceStats ChunkServiceImpl::stats() const {
  ChunkServiceStats out;
  out.reads = reads_.load();
  out.read_bytes = read_bytes_.load();
  out.read_errors = read_errors_.load();
  out.writes = writes_.load();
  out.write_bytes = write_bytes_.load();
  out.write_errors = write_errors_.load();
  out.corrupt = corrupt_.load();
  return out;
}

// A hop's deadline: at most forward_timeout, and a quarter of the caller's
// time left sooner than the caller's own, so that when a replica further
// down stops answering, this hop names it before its caller gives up on
// this one (and blames the wrong replica).
std::chrono::system_clock::time_point ChunkServiceImpl::ForwardDeadline(
    const grpc::ServerContext* ctx) const {
  const auto now = std::chrono::system_clock::now();
  auto deadline = now + options_.forward_timeout;
  const auto caller = ctx->deadline();
  if (caller > now && caller < deadline) deadline = now + (caller - now) * 3 / 4;
  return deadline;
}

template <class Request, class Local, class Send>
void ChunkServiceImpl::RunChain(grpc::ServerContext* ctx, const Request& req, pb::ChainReply* reply,
                                Local local, Send send) {
  if (Status s = CheckCaller(*ctx, req.header(), CallKind::kWrite); !s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return;
  }
  ChunkLocks::Guard guard(&locks_, req.chunk_id());
  std::unique_ptr<Forward<Request>> next;
  pb::ChunkReplica peer;
  if (req.chain_size() > 0) {
    // The request goes on as it came, minus its first hop: cut the chain in
    // place rather than copy megabytes of data. The handler owns the
    // request until it returns, and from here on only reads it.
    peer = req.chain(0);
    auto& forwarded = const_cast<Request&>(req);
    forwarded.mutable_chain()->DeleteSubrange(0, 1);
    next = std::make_unique<Forward<Request>>();
    next->req = &req;
    next->ctx.set_deadline(ForwardDeadline(ctx));
    send(peers_->Get(peer.address()), next.get());
  }
  Status mine = local();
  NoteResult(mine);
  // The forwarded call owns `next`'s context: wait for it whatever happened here.
  grpc::Status sent = next ? next->done.get_future().get() : grpc::Status::OK;
  uint64_t self;
  {
    std::lock_guard lock(mu_);
    self = node_id_;
  }
  if (!mine.ok()) {
    StatusToProto(
        mine.WithContext("replica " + std::to_string(self) + " of chunk " + Hex(req.chunk_id())),
        reply->mutable_error());
    reply->set_failed_node(self);
  } else if (!sent.ok()) {
    StatusToProto(Status::Unavailable("replica " + std::to_string(peer.node_id()) + " at " +
                                      peer.address() + ": " + sent.error_message()),
                  reply->mutable_error());
    reply->set_failed_node(peer.node_id());
  } else if (next && next->reply.error().code() != 0) {
    *reply = next->reply;
  }
}

grpc::Status ChunkServiceImpl::CreateChunk(grpc::ServerContext* ctx,
                                           const pb::CreateChunkRequest* req,
                                           pb::ChainReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  RunChain(
      ctx, *req, reply, [&] { return store_->Create(req->chunk_id(), req->version()); },
      [](pb::ChunkService::Stub* stub, auto* f) {
        stub->async()->CreateChunk(&f->ctx, f->req, &f->reply,
                                   [f](grpc::Status s) { f->Finish(std::move(s)); });
      });
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::Write(grpc::ServerContext* ctx, const pb::WriteRequest* req,
                                     pb::ChainReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  RunChain(
      ctx, *req, reply,
      [&] {
        Status s = store_->Write(req->chunk_id(), req->version(), req->offset(), Bytes(req->data()),
                                 Sums(req->checksums()));
        (s.ok() ? writes_ : write_errors_)++;
        if (s.ok()) write_bytes_ += req->data().size();
        if (s.ok() && req->sync()) s = store_->Sync(req->chunk_id(), req->version());
        return s;
      },
      [](pb::ChunkService::Stub* stub, auto* f) {
        stub->async()->Write(&f->ctx, f->req, &f->reply,
                             [f](grpc::Status s) { f->Finish(std::move(s)); });
      });
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::Sync(grpc::ServerContext* ctx, const pb::SyncRequest* req,
                                    pb::ChainReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  RunChain(
      ctx, *req, reply, [&] { return store_->Sync(req->chunk_id(), req->version()); },
      [](pb::ChunkService::Stub* stub, auto* f) {
        stub->async()->Sync(&f->ctx, f->req, &f->reply,
                            [f](grpc::Status s) { f->Finish(std::move(s)); });
      });
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::TruncateChunk(grpc::ServerContext* ctx,
                                             const pb::TruncateChunkRequest* req,
                                             pb::ChainReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  RunChain(
      ctx, *req, reply,
      [&] { return store_->Truncate(req->chunk_id(), req->version(), req->length()); },
      [](pb::ChunkService::Stub* stub, auto* f) {
        stub->async()->TruncateChunk(&f->ctx, f->req, &f->reply,
                                     [f](grpc::Status s) { f->Finish(std::move(s)); });
      });
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::Read(grpc::ServerContext* ctx, const pb::ReadRequest* req,
                                    pb::ReadReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  Status s = CheckCaller(*ctx, req->header(), CallKind::kRead);
  if (s.ok()) {
    Result<ReadResult> r =
        store_->Read(req->chunk_id(), req->version(), req->offset(), req->length());
    (r.ok() ? reads_ : read_errors_)++;
    if (r.ok()) {
      read_bytes_ += r->data.size();
      reply->set_data(std::move(r->data));
      reply->mutable_checksums()->Assign(r->checksums.begin(), r->checksums.end());
      reply->set_replica_length(r->replica_length);
    } else {
      s = r.status();
      NoteResult(s);
    }
  }
  if (!s.ok()) StatusToProto(s, reply->mutable_error());
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::SetVersion(grpc::ServerContext* ctx,
                                          const pb::SetVersionRequest* req, pb::Error* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply)) return grpc::Status::OK;
  Status s = CheckCaller(*ctx, req->header(), CallKind::kWrite);
  if (s.ok()) {
    ChunkLocks::Guard guard(&locks_, req->chunk_id());
    s = store_->SetVersion(req->chunk_id(), req->old_version(), req->new_version());
  }
  if (!s.ok()) StatusToProto(s, reply);
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::DeleteChunk(grpc::ServerContext* ctx,
                                           const pb::DeleteChunkRequest* req, pb::Error* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply)) return grpc::Status::OK;
  Status s = CheckCaller(*ctx, req->header(), CallKind::kNode);
  if (s.ok()) {
    ChunkLocks::Guard guard(&locks_, req->chunk_id());
    s = store_->Delete(req->chunk_id(), req->version());
  }
  if (!s.ok()) StatusToProto(s, reply);
  return grpc::Status::OK;
}

grpc::Status ChunkServiceImpl::Rechain(grpc::ServerContext* ctx, const pb::RechainRequest* req,
                                       pb::RechainReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  if (Status s = CheckCaller(*ctx, req->header(), CallKind::kNode); !s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return grpc::Status::OK;
  }
  // The lock every chain operation of this chunk holds here while it runs
  // and is forwarded: while Rechain holds it no write of the chunk runs
  // anywhere in the chain, so the joiners copy a replica that does not
  // move, and the writes that wait for it then run at the new version on
  // the whole new chain (or are refused as stale). The joiners' reads of
  // this replica do not take it.
  ChunkLocks::Guard guard(&locks_, req->chunk_id());
  if (!RaiseHead(*req, reply)) return grpc::Status::OK;
  for (const pb::ChunkReplica& joiner : req->joiners()) {
    if (!CopyToJoiner(*req, joiner, reply)) return grpc::Status::OK;
  }
  for (const pb::ChunkReplica& member : req->members()) {
    if (!RaiseMember(*req, member, reply)) return grpc::Status::OK;
  }
  std::string joiners;
  for (const pb::ChunkReplica& joiner : req->joiners())
    joiners += (joiners.empty() ? "" : ",") + std::to_string(joiner.node_id());
  DFS_LOG(INFO) << "rechained chunk " << Hex(req->chunk_id()) << " v" << req->version() << ": "
                << req->members_size() << " members, joiners [" << joiners << "], "
                << reply->bytes_copied() << " bytes copied";
  return grpc::Status::OK;
}

bool ChunkServiceImpl::RaiseHead(const pb::RechainRequest& req, pb::RechainReply* reply) {
  const uint64_t id = req.chunk_id(), version = req.version();
  const std::string what = "rechaining chunk " + Hex(id) + " at v" + std::to_string(version);
  Status s;
  if (version == 0) {
    s = Status::InvalidArgument("version 0");
  } else if (Result<ReplicaInfo> info = store_->Stat(id); !info.ok()) {
    s = info.status();
  } else if (info->version > version) {
    s = Status::StaleVersion("the head's replica is v" + std::to_string(info->version));
  } else if (info->state == ReplicaState::kCorrupt) {
    s = Status::Corrupt("the head's replica is marked corrupt");
  } else if (info->state == ReplicaState::kCopying) {
    s = Status::Unavailable("the head's replica is still being copied");
  } else if (info->version < version) {
    s = store_->SetVersion(id, 0, version);
  }
  if (s.ok()) return true;
  NoteResult(s);
  StatusToProto(s.WithContext(what), reply->mutable_error());
  reply->set_failed_node(0);
  return false;
}

bool ChunkServiceImpl::CopyToJoiner(const pb::RechainRequest& req, const pb::ChunkReplica& joiner,
                                    pb::RechainReply* reply) {
  const std::string who = "joiner " + std::to_string(joiner.node_id()) + " at " + joiner.address();
  const std::string what = "rechaining chunk " + Hex(req.chunk_id()) + " at v" +
                           std::to_string(req.version()) + ": " + who;
  pb::ChunkService::Stub* stub = peers_->Get(joiner.address());
  pb::ReplicateRequest copy;
  *copy.mutable_header() = req.header();
  copy.set_chunk_id(req.chunk_id());
  copy.set_version(req.version());
  *copy.mutable_source() = req.head();
  // Whatever the joiner holds may lack writes (a writer's Create can have
  // made it empty): it is copied again, under this head's lock.
  copy.set_replace(true);
  pb::ReplicateReply copied;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rechain_copy_timeout);
  grpc::Status rpc = stub->Replicate(&ctx, copy, &copied);
  Status s = rpc.ok() ? StatusFromProto(copied.error()) : Status::Unavailable(rpc.error_message());
  if (s.code() == ErrorCode::ALREADY_EXISTS) {
    // It holds this version or a newer one already (a retried Rechain), or
    // a copy of it is still running there: only a replica it serves counts.
    pb::ReadRequest probe;
    *probe.mutable_header() = req.header();
    probe.set_chunk_id(req.chunk_id());
    probe.set_version(req.version());
    pb::ReadReply probed;
    grpc::ClientContext probe_ctx;
    probe_ctx.set_deadline(std::chrono::system_clock::now() + options_.forward_timeout);
    rpc = stub->Read(&probe_ctx, probe, &probed);
    s = rpc.ok() ? StatusFromProto(probed.error()) : Status::Unavailable(rpc.error_message());
    if (s.code() == ErrorCode::STALE_VERSION) s = Status::Ok();  // newer there
    if (s.ok()) copied.set_bytes_copied(0);
  }
  if (s.ok()) {
    reply->set_bytes_copied(reply->bytes_copied() + copied.bytes_copied());
    return true;
  }
  // A copy that fails because this replica turned out corrupt (its Read
  // marked it) is this server's fault, not the joiner's.
  if (Result<ReplicaInfo> info = store_->Stat(req.chunk_id());
      info.ok() && info->state == ReplicaState::kCorrupt) {
    StatusToProto(Status::Corrupt("the head's replica is marked corrupt")
                      .WithContext(what + ": " + s.message()),
                  reply->mutable_error());
    reply->set_failed_node(0);
    return false;
  }
  StatusToProto(s.WithContext(what), reply->mutable_error());
  reply->set_failed_node(joiner.node_id());
  return false;
}

bool ChunkServiceImpl::RaiseMember(const pb::RechainRequest& req, const pb::ChunkReplica& member,
                                   pb::RechainReply* reply) {
  pb::SetVersionRequest raise;
  *raise.mutable_header() = req.header();
  raise.set_chunk_id(req.chunk_id());
  raise.set_old_version(0);  // from whatever version it missed the moves at
  raise.set_new_version(req.version());
  pb::Error raised;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.forward_timeout);
  grpc::Status rpc = peers_->Get(member.address())->SetVersion(&ctx, raise, &raised);
  Status s = rpc.ok() ? StatusFromProto(raised) : Status::Unavailable(rpc.error_message());
  if (s.ok()) return true;
  StatusToProto(s.WithContext("rechaining chunk " + Hex(req.chunk_id()) + " at v" +
                              std::to_string(req.version()) + ": member " +
                              std::to_string(member.node_id()) + " at " + member.address()),
                reply->mutable_error());
  reply->set_failed_node(member.node_id());
  return false;
}

grpc::Status ChunkServiceImpl::Replicate(grpc::ServerContext* ctx, const pb::ReplicateRequest* req,
                                         pb::ReplicateReply* reply) {
  InFlight count(&in_flight_);
  if (Refused(CheckRequest(*req, context()), reply->mutable_error())) return grpc::Status::OK;
  Status s = CheckCaller(*ctx, req->header(), CallKind::kNode);
  if (s.ok()) {
    Result<uint64_t> copied = CopyFrom(*req);
    if (copied.ok()) {
      reply->set_bytes_copied(*copied);
    } else {
      s = copied.status();
    }
  }
  if (!s.ok()) StatusToProto(s, reply->mutable_error());
  return grpc::Status::OK;
}

Result<uint64_t> ChunkServiceImpl::CopyFrom(const pb::ReplicateRequest& req) {
  const uint64_t id = req.chunk_id(), version = req.version();
  const std::string source =
      "replica " + std::to_string(req.source().node_id()) + " at " + req.source().address();
  pb::ChunkService::Stub* stub = peers_->Get(req.source().address());
  // [offset, offset + length) of the source's replica at `version`.
  auto fetch = [&](uint64_t offset, uint64_t length, pb::ReadReply* piece) -> Status {
    pb::ReadRequest read;
    *read.mutable_header() = req.header();
    read.set_chunk_id(id);
    read.set_version(version);
    read.set_offset(offset);
    read.set_length(length);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.forward_timeout);
    grpc::Status rpc = stub->Read(&ctx, read, piece);
    if (!rpc.ok()) return Status::Unavailable(source + ": " + rpc.error_message());
    return StatusFromProto(piece->error()).WithContext(source);
  };
  // The source must serve this version before anything here is replaced:
  // BeginCopy drops an older replica of this server, and a version the
  // source does not hold (a stale request, a malformed one) would leave
  // nothing in its place.
  pb::ReadReply probe;
  RETURN_IF_ERROR(fetch(0, 0, &probe), "copying chunk " << Hex(id) << " v" << version);
  RETURN_IF_ERROR(store_->BeginCopy(id, version, req.replace()), "copying chunk " << Hex(id));
  uint64_t offset = 0, length = 0, copied = 0;
  Status s;
  do {
    pb::ReadReply piece;
    s = fetch(offset, std::min<uint64_t>(options_.copy_piece_bytes, store_->chunk_size() - offset),
              &piece);
    if (!s.ok()) break;
    length = piece.replica_length();
    const std::string& data = piece.data();
    s = VerifyBlocks(data.data(), data.size(), piece.checksums().data(), piece.checksums_size(),
                     offset / kBlockSize);
    if (!s.ok()) {
      s = s.WithContext("from " + source);
      break;
    }
    // Holes stay holes: an all-zero piece reads as zeros here without a write.
    bool zeros = std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
    if (!zeros && !data.empty()) {
      s = store_->Write(id, version, offset, Bytes(data), Sums(piece.checksums()));
      if (!s.ok()) break;
      copied += data.size();
    }
    offset += data.size();
    if (data.empty()) break;
  } while (offset < length && offset < store_->chunk_size());
  if (s.ok()) s = store_->FinishCopy(id, version, length);
  if (!s.ok()) {
    Status dropped = store_->Delete(id, version);
    if (!dropped.ok()) DFS_LOG(WARN) << "dropping failed copy of " << Hex(id) << ": " << dropped;
    return s.WithContext("copying chunk " + Hex(id) + " v" + std::to_string(version));
  }
  DFS_LOG(INFO) << "copied chunk " << Hex(id) << " v" << version << " (" << length
                << " bytes) from " << source;
  return copied;
}

}  // namespace dfs::server
