#include "tools/dfsadmin/admin_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <deque>
#include <set>
#include <thread>

#include "common/check.h"
#include "common/units.h"
#include "proto/channel_args.h"
#include "proto/tls.h"
#include "proto/wire_error.h"

namespace dfs::admin {

using namespace std::chrono_literals;

namespace {

// Pause between rounds while a leader is being elected (elections take
// 0.5-1 s with the default timeouts).
constexpr std::chrono::milliseconds kRoundPause = 200ms;

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// What Invoke needs of a reply, for a stream: the error its first event
// carried, if that was one.
struct StreamOpening {
  pb::Error refusal;
  void Clear() { refusal.Clear(); }
  const pb::Error& error() const { return refusal; }
};

std::string Trim(std::string s) {
  const char* space = " \t\r\n";
  s.erase(0, s.find_first_not_of(space));
  s.erase(s.find_last_not_of(space) + 1);
  return s;
}

}  // namespace

std::vector<std::string> SplitServerList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = Trim(text.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

AdminClient::AdminClient(AdminClientOptions options) : options_(std::move(options)) {
  DFS_CHECK(!options_.servers.empty()) << "AdminClient needs at least one server";
}

pb::AdminService::Stub* AdminClient::StubFor(const std::string& address) {
  auto& stub = stubs_[address];
  if (!stub) {
    stub = pb::AdminService::NewStub(tls::Channel(address, MetaChannelArgs(/*keepalive=*/false)));
  }
  return stub.get();
}

pb::RpcHeader AdminClient::Header() const {
  pb::RpcHeader header;
  header.set_cluster_id(cluster_id_);
  return header;
}

template <class Reply, class Call>
dfs::Status AdminClient::Invoke(const char* method, Reply* reply, Call call) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + options_.timeout;
  // One attempt may not use the whole timeout: a server whose host is gone
  // (no reset, no answer) must leave time for the others.
  const auto per_attempt = std::max<std::chrono::milliseconds>(
      options_.timeout / static_cast<int64_t>(options_.servers.size()), 1s);
  std::vector<std::string> said;  // what each server answered in the last round
  bool timed_out = false;
  while (true) {
    std::deque<std::string> todo(options_.servers.begin(), options_.servers.end());
    std::set<std::string> tried;
    bool worth_another_round = false;
    said.clear();
    while (!todo.empty()) {
      std::string address = std::move(todo.front());
      todo.pop_front();
      if (!tried.insert(address).second) continue;
      const auto now = Clock::now();
      if (now >= end) {
        timed_out = true;
        break;
      }
      grpc::ClientContext ctx;
      // gRPC takes deadlines on the system clock only.
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::min<std::chrono::nanoseconds>(end - now, per_attempt));
      reply->Clear();
      grpc::Status rpc = call(StubFor(address), &ctx, reply);
      if (!rpc.ok()) {
        if (rpc.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
          return dfs::Status::NotSupported(address + " does not serve " + method +
                                           " (a dfs-meta older than this dfsadmin)");
        }
        if (rpc.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          return dfs::Status::Unauthenticated(address + ": " + rpc.error_message() +
                                              " (dfsadmin needs an admin certificate)");
        }
        if (rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          said.push_back(address + ": no answer in time");
        } else if (rpc.error_message().find("Connection refused") != std::string::npos) {
          said.push_back(address + ": connection refused");
        } else {
          said.push_back(address + ": " + rpc.error_message());
        }
        continue;
      }
      const pb::Error& error = reply->error();
      dfs::Status answer = StatusFromProto(error);
      if (answer.ok()) return answer;
      if (answer.code() == ErrorCode::NOT_LEADER) {
        const std::string& leader = error.leader_address();
        if (leader.empty()) {
          said.push_back(address + ": not the leader, no leader known");
          worth_another_round = true;
        } else if (tried.count(leader)) {
          // A stale belief (the leader just died) or an election under way.
          said.push_back(address + ": not the leader (leader " + leader + ", tried)");
          worth_another_round = true;
        } else {
          said.push_back(address + ": not the leader (leader " + leader + ")");
          todo.push_front(leader);
        }
        continue;
      }
      if (answer.IsRetryable()) {
        said.push_back(address + ": " + answer.ToString());
        worth_another_round = true;
        continue;
      }
      return answer;  // the leader's final word
    }
    if (timed_out || !worth_another_round) break;
    if (Clock::now() + kRoundPause >= end) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(kRoundPause);
  }
  std::string message = "no dfs-meta leader answered";
  if (timed_out) message += " within " + FormatDuration(options_.timeout);
  if (!said.empty()) message += " (" + Join(said, "; ") + ")";
  return dfs::Status::Unavailable(message);
}

Result<pb::StatusReply> AdminClient::Status() {
  pb::StatusRequest req;
  *req.mutable_header() = Header();
  pb::StatusReply reply;
  RETURN_IF_ERROR(Invoke(
      "Status", &reply, [&](auto* stub, auto* ctx, auto* r) { return stub->Status(ctx, req, r); }));
  if (!reply.cluster_id().empty()) cluster_id_ = reply.cluster_id();
  return reply;
}

Result<pb::AdminReply> AdminClient::Drain(uint64_t node_id) {
  pb::NodeRequest req;
  *req.mutable_header() = Header();
  req.set_node_id(node_id);
  pb::AdminReply reply;
  RETURN_IF_ERROR(Invoke("Drain", &reply,
                         [&](auto* stub, auto* ctx, auto* r) { return stub->Drain(ctx, req, r); }));
  return reply;
}

Result<pb::AdminReply> AdminClient::SetRepairLimits(pb::SetRepairLimitsRequest request) {
  *request.mutable_header() = Header();
  pb::AdminReply reply;
  RETURN_IF_ERROR(Invoke("SetRepairLimits", &reply, [&](auto* stub, auto* ctx, auto* r) {
    return stub->SetRepairLimits(ctx, request, r);
  }));
  return reply;
}

Result<pb::AdminReply> AdminClient::ChangeMembers(const char* method, MemberCall call, uint64_t id,
                                                  const std::string& address) {
  pb::MemberChangeRequest req;
  *req.mutable_header() = Header();
  req.set_id(id);
  req.set_address(address);
  pb::AdminReply reply;
  RETURN_IF_ERROR(Invoke(
      method, &reply, [&](auto* stub, auto* ctx, auto* r) { return (stub->*call)(ctx, req, r); }));
  return reply;
}

Result<pb::AdminReply> AdminClient::AddMember(uint64_t id, const std::string& address) {
  return ChangeMembers("AddMember", &pb::AdminService::Stub::AddMember, id, address);
}

Result<pb::AdminReply> AdminClient::RemoveMember(uint64_t id) {
  return ChangeMembers("RemoveMember", &pb::AdminService::Stub::RemoveMember, id, "");
}

Result<pb::AdminReply> AdminClient::TransferLeader(uint64_t id) {
  return ChangeMembers("TransferLeader", &pb::AdminService::Stub::TransferLeader, id, "");
}

Result<pb::TrashListReply> AdminClient::TrashList(uint64_t after, uint32_t max) {
  pb::TrashListRequest req;
  *req.mutable_header() = Header();
  req.set_after(after);
  req.set_max(max);
  pb::TrashListReply reply;
  RETURN_IF_ERROR(Invoke("TrashList", &reply, [&](auto* stub, auto* ctx, auto* r) {
    return stub->TrashList(ctx, req, r);
  }));
  return reply;
}

Result<pb::TrashRestoreReply> AdminClient::TrashRestore(uint64_t id, uint64_t to_parent,
                                                        const std::string& to_name) {
  pb::TrashRestoreRequest req;
  *req.mutable_header() = Header();
  req.set_id(id);
  req.set_to_parent(to_parent);
  req.set_to_name(to_name);
  pb::TrashRestoreReply reply;
  RETURN_IF_ERROR(Invoke("TrashRestore", &reply, [&](auto* stub, auto* ctx, auto* r) {
    return stub->TrashRestore(ctx, req, r);
  }));
  return reply;
}

Result<pb::TrashPurgeReply> AdminClient::TrashPurge(double older_than_sec) {
  pb::TrashPurgeRequest req;
  *req.mutable_header() = Header();
  req.set_older_than_sec(older_than_sec);
  pb::TrashPurgeReply reply;
  RETURN_IF_ERROR(Invoke("TrashPurge", &reply, [&](auto* stub, auto* ctx, auto* r) {
    return stub->TrashPurge(ctx, req, r);
  }));
  return reply;
}

template <class Event, class Open, class OnEvent>
dfs::Status AdminClient::InvokeStream(const char* method, std::chrono::milliseconds run_time,
                                      Open open, OnEvent on_event) {
  dfs::Status result;
  StreamOpening opening;
  RETURN_IF_ERROR(
      Invoke(method, &opening, [&](auto* stub, grpc::ClientContext* ctx, StreamOpening* first) {
        // Invoke's deadline suits one unary call; a stream may run much longer.
        ctx->set_deadline(std::chrono::system_clock::now() + run_time);
        std::unique_ptr<grpc::ClientReader<Event>> reader = open(stub, ctx);
        Event event;
        if (!reader->Read(&event)) return reader->Finish();  // the transport's error, or empty
        if (event.has_error()) {
          // A refusal (NOT_LEADER, ...): Invoke decides where to go next.
          first->refusal = event.error();
          ctx->TryCancel();
          reader->Finish();
          return grpc::Status::OK;
        }
        // From here on the leader is working: no retry elsewhere.
        do {
          result = event.has_error() ? StatusFromProto(event.error()) : on_event(event);
        } while (result.ok() && reader->Read(&event));
        if (!result.ok()) {
          ctx->TryCancel();
          reader->Finish();
          return grpc::Status::OK;
        }
        grpc::Status end = reader->Finish();
        if (!end.ok()) {
          result = dfs::Status::Unavailable(std::string(method) +
                                            " stream broke off: " + end.error_message());
        }
        return grpc::Status::OK;
      }));
  return result;
}

dfs::Status AdminClient::Fsck(pb::FsckRequest request,
                              const std::function<void(const pb::FsckEvent&)>& on_event,
                              std::chrono::milliseconds run_time) {
  *request.mutable_header() = Header();
  bool summarized = false;
  RETURN_IF_ERROR(InvokeStream<pb::FsckEvent>(
      "Fsck", run_time, [&](auto* stub, auto* ctx) { return stub->Fsck(ctx, request); },
      [&](const pb::FsckEvent& event) {
        on_event(event);
        summarized = event.has_summary();
        return dfs::Status::Ok();
      }));
  if (!summarized) return dfs::Status::Unavailable("the fsck stream ended without a summary");
  return dfs::Status::Ok();
}

Result<pb::BackupManifest> AdminClient::Backup(
    const std::function<dfs::Status(const pb::BackupPiece&)>& on_piece,
    std::chrono::milliseconds run_time) {
  pb::BackupRequest req;
  *req.mutable_header() = Header();
  std::optional<pb::BackupManifest> manifest;
  RETURN_IF_ERROR(InvokeStream<pb::BackupEvent>(
      "Backup", run_time, [&](auto* stub, auto* ctx) { return stub->Backup(ctx, req); },
      [&](const pb::BackupEvent& event) {
        if (manifest) return dfs::Status::Internal("the backup stream went on after its manifest");
        if (event.has_manifest()) manifest = event.manifest();
        if (event.has_piece()) return on_piece(event.piece());
        return dfs::Status::Ok();
      }));
  if (!manifest) return dfs::Status::Unavailable("the backup stream ended without a manifest");
  return *std::move(manifest);
}

}  // namespace dfs::admin
