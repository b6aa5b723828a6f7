// raft-kv-server: a replicated key-value server on the Raft library, over
// gRPC. Test-only: the Raft integration tests and raft-bench run three of
// these as real processes on loopback.
//
//   raft-kv-server --id 1 --listen 127.0.0.1:7001
//       --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data-dir /tmp/kv1
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/config.h"
#include "common/logging.h"
#include "meta/raft/raft_node.h"
#include "proto/raftkv.grpc.pb.h"
#include "tests/raftkv/kv_state_machine.h"

namespace dfs::raftkv {
namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(5);

void SetError(const Status& s, const raft::RaftNode& node, pb::KvReply* reply) {
  reply->mutable_error()->set_code(static_cast<uint32_t>(s.code()));
  reply->mutable_error()->set_message(std::string(s.message()));
  if (s.code() == ErrorCode::NOT_LEADER) {
    auto st = node.GetStatus();
    reply->mutable_error()->set_leader_id(st.leader);
    reply->mutable_error()->set_leader_address(st.leader_address);
  }
}

// Callback (reactor) API: a request holds no thread while Raft works on it;
// the node's callback finishes it from the driver thread.
class KvService final : public pb::RaftKv::CallbackService {
 public:
  KvService(raft::RaftNode* node, KvStateMachine* sm) : node_(node), sm_(sm) {}

  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx, const pb::KvPutRequest* req,
                                pb::KvReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    if (req->key().find('\0') != std::string::npos || req->key().empty()) {
      SetError(Status::InvalidArgument("key must be non-empty and free of NUL"), *node_, reply);
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    node_->Propose(KvStateMachine::EncodePut(req->key(), req->value()),
                   [this, reactor, reply](Result<std::string> r) {
                     if (!r.ok()) SetError(r.status(), *node_, reply);
                     reactor->Finish(grpc::Status::OK);
                   });
    return reactor;
  }

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const pb::KvGetRequest* req,
                                pb::KvReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    node_->ReadBarrier([this, reactor, req, reply](dfs::Status s) {
      if (!s.ok()) {
        SetError(s, *node_, reply);
      } else if (auto value = sm_->Get(req->key()); !value.ok()) {
        SetError(value.status(), *node_, reply);
      } else if (value->has_value()) {
        reply->set_found(true);
        reply->set_value(**value);
      }
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const pb::KvStatusRequest*,
                                   pb::KvStatusReply* reply) override {
    raft::RaftNodeStatus st = node_->GetStatus();
    reply->set_id(st.id);
    reply->set_role(raft::StateRoleName(st.role));
    reply->set_term(st.term);
    reply->set_leader(st.leader);
    reply->set_commit(st.commit);
    reply->set_applied(st.applied);
    reply->set_first_index(st.first_index);
    reply->set_last_index(st.last_index);
    reply->set_snapshots_installed(st.snapshots_installed);
    for (auto id : st.conf_state.voters)
      reply->add_voters(id);
    for (auto id : st.conf_state.learners)
      reply->add_learners(id);
    reply->set_readies(st.readies);
    reply->set_fsyncs(st.fsyncs);
    reply->set_entries_persisted(st.entries_persisted);
    reply->set_persist_micros(st.persist_micros);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // Membership calls wait for the change to apply: rare, so they get a
  // thread of their own rather than holding one of gRPC's.
  grpc::ServerUnaryReactor* AddLearner(grpc::CallbackServerContext* ctx,
                                       const pb::KvMemberRequest* req,
                                       pb::KvReply* reply) override {
    return Blocking(ctx, reply, [=, this] {
      return node_->AddLearner(req->id(), req->address(), kRequestTimeout);
    });
  }
  grpc::ServerUnaryReactor* Promote(grpc::CallbackServerContext* ctx,
                                    const pb::KvMemberRequest* req, pb::KvReply* reply) override {
    return Blocking(ctx, reply,
                    [=, this] { return node_->PromoteLearner(req->id(), kRequestTimeout); });
  }
  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* ctx, const pb::KvMemberRequest* req,
                                   pb::KvReply* reply) override {
    return Blocking(ctx, reply,
                    [=, this] { return node_->RemoveMember(req->id(), kRequestTimeout); });
  }
  grpc::ServerUnaryReactor* TransferLeader(grpc::CallbackServerContext* ctx,
                                           const pb::KvMemberRequest* req,
                                           pb::KvReply* reply) override {
    return Blocking(ctx, reply, [=, this] { return node_->TransferLeadership(req->id()); });
  }

 private:
  template <class Fn>
  grpc::ServerUnaryReactor* Blocking(grpc::CallbackServerContext* ctx, pb::KvReply* reply, Fn fn) {
    auto* reactor = ctx->DefaultReactor();
    std::thread([this, reactor, reply, fn] {
      dfs::Status s = fn();
      if (!s.ok()) SetError(s, *node_, reply);
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }

  raft::RaftNode* node_;
  KvStateMachine* sm_;
};

std::atomic<bool> g_stop{false};

int Main(int argc, char** argv) {
  struct {
    uint64_t id = 0;
    std::string listen;
    std::vector<std::string> peers;
    std::string data_dir;
    std::string cluster_id = "raftkv";
    std::chrono::milliseconds tick{100};
    uint64_t snapshot_entries = 10000;
    std::string log_level = "info";
  } cfg;
  ConfigParser parser("raft-kv-server", "replicated key-value server for Raft tests");
  parser.Add("id", &cfg.id, "this node's id (> 0)");
  parser.Add("listen", &cfg.listen, "host:port to serve on");
  parser.Add("peers", &cfg.peers, "founding members, ID=HOST:PORT,...");
  parser.Add("data_dir", &cfg.data_dir, "directory for the log, state and snapshots");
  parser.Add("cluster_id", &cfg.cluster_id, "cluster id every Raft message must carry");
  parser.Add("tick", &cfg.tick, "Raft tick (heartbeat = 1 tick, election = 5-10 ticks)");
  parser.Add("snapshot_entries", &cfg.snapshot_entries, "compact the log every N entries");
  parser.Add("log_level", &cfg.log_level, "trace, debug, info, warn, error");
  Status s = parser.Parse(argc, argv);
  if (parser.help_requested()) return 0;
  if (!s.ok()) {
    std::fprintf(stderr, "raft-kv-server: %s\n", s.ToString().c_str());
    return 2;
  }
  s = InitLogging(cfg.log_level, "raft-kv-" + std::to_string(cfg.id));
  if (!s.ok() || cfg.id == 0 || cfg.listen.empty() || cfg.data_dir.empty()) {
    std::fprintf(stderr, "raft-kv-server: --id, --listen and --data-dir are required%s%s\n",
                 s.ok() ? "" : "; ", s.ok() ? "" : s.ToString().c_str());
    return 2;
  }
  auto peers = raft::ParsePeers(cfg.peers);
  if (!peers.ok()) {
    std::fprintf(stderr, "raft-kv-server: %s\n", peers.status().ToString().c_str());
    return 2;
  }
  std::filesystem::create_directories(cfg.data_dir);
  auto sm = KvStateMachine::Open(cfg.data_dir + "/state");
  if (!sm.ok()) {
    std::fprintf(stderr, "raft-kv-server: %s\n", sm.status().ToString().c_str());
    return 1;
  }
  raft::RaftNodeOptions options;
  options.id = cfg.id;
  options.peers = *peers;
  options.data_dir = cfg.data_dir;
  options.cluster_id = cfg.cluster_id;
  options.tick = cfg.tick;
  options.snapshot_entries = cfg.snapshot_entries;
  auto node = raft::RaftNode::Start(options, sm->get());
  if (!node.ok()) {
    std::fprintf(stderr, "raft-kv-server: %s\n", node.status().ToString().c_str());
    return 1;
  }
  KvService service(node->get(), sm->get());
  auto server = raft::ServeRaftNode(cfg.listen, node->get(), {&service});
  if (!server.ok()) {
    std::fprintf(stderr, "%s: %s\n", "raft-kv-server", server.status().ToString().c_str());
    return 1;
  }
  DFS_LOG(INFO) << "raft-kv-server " << cfg.id << " serving on " << cfg.listen;
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  while (!g_stop)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  (*node)->Stop();
  return 0;
}

}  // namespace
}  // namespace dfs::raftkv

int main(int argc, char** argv) {
  return dfs::raftkv::Main(argc, argv);
}
