#include "tests/raftkv/kv_client.h"

#include <grpcpp/grpcpp.h>

#include <thread>

namespace dfs::raftkv {

KvClient::KvClient(const std::map<uint64_t, std::string>& servers) {
  for (const auto& [id, address] : servers)
    AddServer(id, address);
  leader_ = servers.empty() ? 0 : servers.begin()->first;
}

void KvClient::AddServer(uint64_t id, const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channels_[id] = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  stubs_[id] = pb::RaftKv::NewStub(channels_[id]);
}

template <class Call>
Status KvClient::WithLeader(std::chrono::milliseconds deadline, Call call) {
  auto end = std::chrono::steady_clock::now() + deadline;
  Status last = Status::Unavailable("no server answered");
  while (std::chrono::steady_clock::now() < end) {
    if (!stubs_.count(leader_)) leader_ = stubs_.begin()->first;
    // Waiting briefly for the connection makes a channel to a restarted
    // server reconnect at once instead of after its backoff.
    pb::KvReply reply;
    grpc::Status rpc(grpc::StatusCode::UNAVAILABLE, "cannot connect");
    if (channels_.at(leader_)->WaitForConnected(std::chrono::system_clock::now() +
                                                std::chrono::milliseconds(300))) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(6));
      rpc = call(stubs_.at(leader_).get(), &ctx, &reply);
    }
    if (!rpc.ok()) {
      last = Status::Unavailable("node " + std::to_string(leader_) + ": " + rpc.error_message());
    } else if (reply.error().code() == 0) {
      return Status::Ok();
    } else {
      last = Status(ErrorCodeFromNumber(reply.error().code()), reply.error().message());
      if (!last.IsRetryable()) return last;
      if (reply.error().leader_id() != 0 && reply.error().leader_id() != leader_) {
        leader_ = reply.error().leader_id();
        continue;  // follow the hint at once
      }
    }
    // Try the next server after a short pause (an election may be running).
    auto it = stubs_.upper_bound(leader_);
    leader_ = it == stubs_.end() ? stubs_.begin()->first : it->first;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return last;
}

Status KvClient::Put(const std::string& key, const std::string& value,
                     std::chrono::milliseconds deadline) {
  pb::KvPutRequest req;
  req.set_key(key);
  req.set_value(value);
  return WithLeader(deadline, [&](pb::RaftKv::Stub* stub, grpc::ClientContext* ctx,
                                  pb::KvReply* reply) { return stub->Put(ctx, req, reply); });
}

Result<std::optional<std::string>> KvClient::Get(const std::string& key,
                                                 std::chrono::milliseconds deadline) {
  pb::KvGetRequest req;
  req.set_key(key);
  pb::KvReply out;
  Status s = WithLeader(deadline,
                        [&](pb::RaftKv::Stub* stub, grpc::ClientContext* ctx, pb::KvReply* reply) {
                          grpc::Status rpc = stub->Get(ctx, req, reply);
                          out = *reply;
                          return rpc;
                        });
  if (!s.ok()) return s;
  if (!out.found()) return std::optional<std::string>();
  return std::optional<std::string>(out.value());
}

Result<pb::KvStatusReply> KvClient::NodeStatus(uint64_t id) {
  if (!stubs_.count(id)) return Status::NotFound("no server " + std::to_string(id));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ctx.set_wait_for_ready(true);
  pb::KvStatusReply reply;
  grpc::Status rpc = stubs_.at(id)->Status(&ctx, pb::KvStatusRequest(), &reply);
  if (!rpc.ok()) return Status::Unavailable(rpc.error_message());
  return reply;
}

Status KvClient::Member(const std::string& call, uint64_t id, const std::string& address,
                        std::chrono::milliseconds deadline) {
  pb::KvMemberRequest req;
  req.set_id(id);
  req.set_address(address);
  return WithLeader(deadline,
                    [&](pb::RaftKv::Stub* stub, grpc::ClientContext* ctx, pb::KvReply* reply) {
                      if (call == "add-learner") return stub->AddLearner(ctx, req, reply);
                      if (call == "promote") return stub->Promote(ctx, req, reply);
                      if (call == "remove") return stub->Remove(ctx, req, reply);
                      return stub->TransferLeader(ctx, req, reply);
                    });
}

}  // namespace dfs::raftkv
