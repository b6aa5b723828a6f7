#include "client/meta_client.h"

#include <grpcpp/grpcpp.h>

#include <random>
#include <thread>

#include "proto/channel_args.h"
#include "proto/tls.h"

namespace dfs::client {

MetaClient::MetaClient(MetaClientOptions options) : options_(std::move(options)) {
  // Chunk servers' full replica reports and large directory pages need
  // the 64 MiB messages.
  grpc::ChannelArguments args = MetaChannelArgs(/*keepalive=*/false);
  for (const std::string& address : options_.servers) {
    channels_.push_back(tls::Channel(address, args));
    stubs_.push_back(pb::MetaService::NewStub(channels_.back()));
  }
  std::random_device rd;
  session_id_ = (uint64_t{rd()} << 32) | rd();
  if (session_id_ == 0) session_id_ = 1;
}

void MetaClient::SetCredentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  std::lock_guard lock(mu_);
  options_.uid = uid;
  options_.gid = gid;
  options_.groups = std::move(groups);
}

pb::RpcHeader MetaClient::Header(bool mutation) {
  pb::RpcHeader h;
  h.set_cluster_id(options_.cluster_id);
  h.set_uid(options_.uid);
  h.set_gid(options_.gid);
  for (uint32_t g : options_.groups)
    h.add_groups(g);
  if (mutation) {
    h.set_session_id(session_id_);
    h.set_sequence(++sequence_);
  }
  return h;
}

bool MetaClient::FollowHint(const std::string& leader_address) {
  for (size_t i = 0; i < options_.servers.size(); i++) {
    if (options_.servers[i] == leader_address && i != leader_) {
      leader_ = i;
      return true;
    }
  }
  return false;
}

void MetaClient::RenewSession() {
  std::random_device rd;
  do {
    session_id_ = (uint64_t{rd()} << 32) | rd();
  } while (session_id_ == 0);
  sequence_ = 0;
}

void CallCanceller::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (ctx_ != nullptr) ctx_->TryCancel();
}

bool CallCanceller::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool CallCanceller::Attach(grpc::ClientContext* ctx) {
  std::lock_guard lock(mu_);
  if (cancelled_) return false;
  ctx_ = ctx;
  return true;
}

void CallCanceller::Detach() {
  std::lock_guard lock(mu_);
  ctx_ = nullptr;
}

template <class Reply, class Call>
Status MetaClient::Invoke(Reply* reply, Call call, pb::RpcHeader* mutation, CallCanceller* cancel) {
  if (stubs_.empty()) return Status::InvalidArgument("no metadata servers given");
  auto end = std::chrono::steady_clock::now() + options_.timeout;
  Status last = Status::Unavailable("no metadata server answered");
  size_t attempts = 0;
  bool renewed = false;
  while (std::chrono::steady_clock::now() < end) {
    // A fail-fast call to a server that was down keeps failing for seconds
    // after it is back (the channel's reconnect backoff); waiting for the
    // connection, briefly, makes the channel retry at once.
    bool connected = channels_[leader_]->WaitForConnected(std::chrono::system_clock::now() +
                                                          options_.connect_timeout);
    grpc::Status rpc(grpc::StatusCode::UNAVAILABLE, "cannot connect");
    if (connected) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
      reply->Clear();
      if (cancel != nullptr && !cancel->Attach(&ctx))
        return Status::Interrupted("call interrupted");
      rpc = call(stubs_[leader_].get(), &ctx, reply);
      if (cancel != nullptr) {
        cancel->Detach();
        // An answer that arrived is the answer (a lock granted just before
        // the signal is held, and the caller must know it).
        if (!rpc.ok() && cancel->cancelled()) return Status::Interrupted("call interrupted");
      }
    }
    if (rpc.ok() && reply->error().code() == 0) return Status::Ok();
    if (!rpc.ok()) {
      last = Status::Unavailable(options_.servers[leader_] + ": " + rpc.error_message());
    } else {
      last = Status(ErrorCodeFromNumber(reply->error().code()), reply->error().message());
      if (last.code() == ErrorCode::SESSION_EXPIRED && mutation != nullptr && !renewed) {
        // The servers forgot this session after a long silence. No attempt
        // of this call was applied (it would have renewed the record), so
        // it is safe to send it again as the first call of a new session.
        RenewSession();
        *mutation = Header(true);
        renewed = true;
        continue;
      }
      if (!last.IsRetryable()) return last;
      const std::string& hint = reply->error().leader_address();
      if (last.code() == ErrorCode::NOT_LEADER && FollowHint(hint)) {
        // Hints can be stale during an election; do not bounce without pause.
        if (++attempts % stubs_.size() == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
    }
    leader_ = (leader_ + 1) % stubs_.size();
    // After a full round without an answer, pause: an election takes time.
    if (++attempts % stubs_.size() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last.WithContext("metadata call gave up after " +
                          std::to_string(options_.timeout.count()) + " ms");
}

Result<pb::InodeAttr> MetaClient::Lookup(uint64_t parent, const std::string& name) {
  std::lock_guard lock(mu_);
  pb::LookupRequest req;
  *req.mutable_header() = Header(false);
  req.set_parent(parent);
  req.set_name(name);
  pb::AttrReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Lookup(ctx, req, r); }));
  return reply.attr();
}

Result<pb::InodeAttr> MetaClient::GetAttr(uint64_t inode, uint32_t access_mask) {
  std::lock_guard lock(mu_);
  pb::GetAttrRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  req.set_access_mask(access_mask);
  pb::AttrReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->GetAttr(ctx, req, r); }));
  return reply.attr();
}

Result<pb::InodeAttr> MetaClient::Create(uint64_t parent, const std::string& name,
                                         pb::FileType type, uint32_t mode, bool exclusive,
                                         const std::string& symlink_target) {
  std::lock_guard lock(mu_);
  pb::CreateRequest req;
  *req.mutable_header() = Header(true);
  req.set_parent(parent);
  req.set_name(name);
  req.set_type(type);
  req.set_mode(mode);
  req.set_exclusive(exclusive);
  req.set_symlink_target(symlink_target);
  pb::AttrReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Create(ctx, req, r); },
      req.mutable_header()));
  return reply.attr();
}

Result<pb::InodeAttr> MetaClient::SetAttr(const pb::SetAttrRequest& request) {
  std::lock_guard lock(mu_);
  pb::SetAttrRequest req = request;
  *req.mutable_header() = Header(true);
  pb::AttrReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->SetAttr(ctx, req, r); },
      req.mutable_header()));
  return reply.attr();
}

Status MetaClient::Unlink(uint64_t parent, const std::string& name) {
  std::lock_guard lock(mu_);
  pb::EntryRequest req;
  *req.mutable_header() = Header(true);
  req.set_parent(parent);
  req.set_name(name);
  pb::EmptyReply reply;
  return Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Unlink(ctx, req, r); },
      req.mutable_header());
}

Status MetaClient::Rmdir(uint64_t parent, const std::string& name) {
  std::lock_guard lock(mu_);
  pb::EntryRequest req;
  *req.mutable_header() = Header(true);
  req.set_parent(parent);
  req.set_name(name);
  pb::EmptyReply reply;
  return Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Rmdir(ctx, req, r); },
      req.mutable_header());
}

Status MetaClient::Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                          const std::string& new_name, uint32_t flags) {
  std::lock_guard lock(mu_);
  pb::RenameRequest req;
  *req.mutable_header() = Header(true);
  req.set_parent(parent);
  req.set_name(name);
  req.set_new_parent(new_parent);
  req.set_new_name(new_name);
  req.set_flags(flags);
  pb::EmptyReply reply;
  return Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Rename(ctx, req, r); },
      req.mutable_header());
}

Result<pb::InodeAttr> MetaClient::Link(uint64_t inode, uint64_t new_parent,
                                       const std::string& new_name) {
  std::lock_guard lock(mu_);
  pb::LinkRequest req;
  *req.mutable_header() = Header(true);
  req.set_inode(inode);
  req.set_new_parent(new_parent);
  req.set_new_name(new_name);
  pb::AttrReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Link(ctx, req, r); },
      req.mutable_header()));
  return reply.attr();
}

Result<std::string> MetaClient::ReadLink(uint64_t inode) {
  std::lock_guard lock(mu_);
  pb::GetAttrRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  pb::ReadLinkReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->ReadLink(ctx, req, r); }));
  return reply.target();
}

Result<pb::ReadDirReply> MetaClient::ReadDir(uint64_t inode, const std::string& cookie,
                                             uint32_t max_entries) {
  std::lock_guard lock(mu_);
  pb::ReadDirRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  req.set_cookie(cookie);
  req.set_max_entries(max_entries);
  pb::ReadDirReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->ReadDir(ctx, req, r); }));
  return reply;
}

Result<pb::StatFsReply> MetaClient::StatFs() {
  std::lock_guard lock(mu_);
  pb::StatFsRequest req;
  *req.mutable_header() = Header(false);
  pb::StatFsReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->StatFs(ctx, req, r); }));
  return reply;
}

Status MetaClient::Access(uint64_t inode, uint32_t mask) {
  std::lock_guard lock(mu_);
  pb::AccessRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  req.set_mask(mask);
  pb::EmptyReply reply;
  return Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Access(ctx, req, r); });
}

Result<std::string> MetaClient::GetXattr(uint64_t inode, const std::string& name) {
  std::lock_guard lock(mu_);
  pb::XattrRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  req.set_name(name);
  pb::XattrReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->GetXattr(ctx, req, r); }));
  return reply.value();
}

Status MetaClient::SetXattr(uint64_t inode, const std::string& name, const std::string& value,
                            uint32_t flags) {
  std::lock_guard lock(mu_);
  pb::XattrRequest req;
  *req.mutable_header() = Header(true);
  req.set_inode(inode);
  req.set_name(name);
  req.set_value(value);
  req.set_flags(flags);
  pb::EmptyReply reply;
  return Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->SetXattr(ctx, req, r); },
      req.mutable_header());
}

Result<std::vector<std::string>> MetaClient::ListXattr(uint64_t inode) {
  std::lock_guard lock(mu_);
  pb::XattrRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  pb::XattrReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->ListXattr(ctx, req, r); }));
  return std::vector<std::string>(reply.names().begin(), reply.names().end());
}

Status MetaClient::RemoveXattr(uint64_t inode, const std::string& name) {
  std::lock_guard lock(mu_);
  pb::XattrRequest req;
  *req.mutable_header() = Header(true);
  req.set_inode(inode);
  req.set_name(name);
  pb::EmptyReply reply;
  return Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->RemoveXattr(ctx, req, r); },
      req.mutable_header());
}

Result<pb::GetChunksReply> MetaClient::GetChunks(uint64_t inode, uint64_t first_index,
                                                 uint64_t count) {
  std::lock_guard lock(mu_);
  pb::GetChunksRequest req;
  *req.mutable_header() = Header(false);
  req.set_inode(inode);
  req.set_first_index(first_index);
  req.set_count(count);
  pb::GetChunksReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->GetChunks(ctx, req, r); }));
  return reply;
}

Result<pb::ChunkLocation> MetaClient::AllocateChunk(uint64_t inode, uint64_t index,
                                                    const std::vector<uint64_t>& failed_nodes) {
  std::lock_guard lock(mu_);
  pb::AllocateChunkRequest req;
  *req.mutable_header() = Header(true);
  req.set_inode(inode);
  req.set_index(index);
  req.mutable_failed_nodes()->Assign(failed_nodes.begin(), failed_nodes.end());
  pb::AllocateChunkReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->AllocateChunk(ctx, req, r); },
      req.mutable_header()));
  return reply.chunk();
}

Result<pb::InodeAttr> MetaClient::CommitWrite(uint64_t inode, uint64_t size,
                                              const pb::Timespec& mtime) {
  std::lock_guard lock(mu_);
  pb::CommitWriteRequest req;
  *req.mutable_header() = Header(true);
  req.set_inode(inode);
  req.set_size(size);
  *req.mutable_mtime() = mtime;
  pb::AttrReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->CommitWrite(ctx, req, r); },
      req.mutable_header()));
  return reply.attr();
}

Result<pb::RegisterNodeReply> MetaClient::RegisterNode(pb::RegisterNodeRequest request) {
  std::lock_guard lock(mu_);
  *request.mutable_header() = Header(true);
  pb::RegisterNodeReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->RegisterNode(ctx, request, r); },
      request.mutable_header()));
  return reply;
}

Result<pb::HeartbeatReply> MetaClient::Heartbeat(pb::HeartbeatRequest request) {
  std::lock_guard lock(mu_);
  *request.mutable_header() = Header(false);
  pb::HeartbeatReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Heartbeat(ctx, request, r); }));
  return reply;
}

void MetaClient::SetClusterId(std::string cluster_id) {
  std::lock_guard lock(mu_);
  options_.cluster_id = std::move(cluster_id);
}

Result<pb::LockReply> MetaClient::Lock(pb::LockRequest req, CallCanceller* cancel) {
  std::lock_guard lock(mu_);
  *req.mutable_header() = Header(false);
  pb::LockReply reply;
  Status s = Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Lock(ctx, req, r); }, nullptr,
      cancel);
  // A conflict comes with its holder: the reply is the answer.
  if (s.code() == ErrorCode::LOCK_CONFLICT) return reply;
  RETURN_IF_ERROR(s);
  return reply;
}

Result<pb::LockReply> MetaClient::GetLock(pb::LockRequest req) {
  std::lock_guard lock(mu_);
  *req.mutable_header() = Header(false);
  pb::LockReply reply;
  RETURN_IF_ERROR(
      Invoke(&reply, [&](auto* stub, auto* ctx, auto* r) { return stub->GetLock(ctx, req, r); }));
  return reply;
}

Status MetaClient::ReleaseLocks(pb::ReleaseLocksRequest req) {
  std::lock_guard lock(mu_);
  *req.mutable_header() = Header(false);
  pb::EmptyReply reply;
  return Invoke(&reply,
                [&](auto* stub, auto* ctx, auto* r) { return stub->ReleaseLocks(ctx, req, r); });
}

Result<pb::LockSessionReply> MetaClient::LockSession(uint64_t lock_session, bool close) {
  std::lock_guard lock(mu_);
  pb::LockSessionRequest req;
  *req.mutable_header() = Header(false);
  req.set_lock_session(lock_session);
  req.set_close(close);
  pb::LockSessionReply reply;
  RETURN_IF_ERROR(Invoke(
      &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->LockSession(ctx, req, r); }));
  return reply;
}

}  // namespace dfs::client
