// The MetaService gRPC handlers (proto/meta.proto) of dfs-meta, on the
// callback API: a request holds no thread while Raft works on it.
//
// Mutations become a MetaCommand (caller, session, the leader's clock and,
// for chunk allocation, the placement) proposed through Raft; the reply is
// what MetaStore's Apply returned. Reads wait for a Raft read barrier, then
// read the local MetaStore. Followers answer NOT_LEADER with the leader's
// address. Requests naming another cluster id get CLUSTER_MISMATCH.
// Before any of that, every handler checks its request's fields
// (meta/server/request_checks.h): a malformed request is refused before it
// costs a Raft round.
//
// Watch streams (docs/meta.md, "Watches"): on the leader, each committed
// mutation is published to the WatchHub before its reply is sent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "common/thread_pool.h"
#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/lock_manager.h"
#include "meta/server/node_registry.h"
#include "meta/server/watch_hub.h"
#include "proto/meta.grpc.pb.h"
#include "proto/tls.h"

namespace dfs::meta {

struct MetaServiceOptions {
  uint32_t replication = 3;
  size_t reader_threads = 2;  // run reads after their barrier
  // Unlink and rename move the last link of a regular file to the trash
  // (trash_days > 0; docs/meta.md, "Trash").
  bool trash = false;
};

// Request counters since start (for /metrics): calls answered, the ones
// answered with an error, and their total time in microseconds.
struct MetaRequestStats {
  uint64_t mutations = 0, mutation_errors = 0, mutation_micros = 0;
  uint64_t reads = 0, read_errors = 0, read_micros = 0;
};

class MetaServiceImpl final : public pb::MetaService::CallbackService {
 public:
  // REQUIRES: every pointer outlives the service.
  MetaServiceImpl(MetaServiceOptions options, raft::RaftNode* node, MetaStore* store,
                  NodeRegistry* registry, WatchHub* watch_hub, LockManager* locks);

  MetaRequestStats request_stats() const;

  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext*, const pb::LookupRequest*,
                                   pb::AttrReply*) override;
  grpc::ServerUnaryReactor* GetAttr(grpc::CallbackServerContext*, const pb::GetAttrRequest*,
                                    pb::AttrReply*) override;
  grpc::ServerUnaryReactor* SetAttr(grpc::CallbackServerContext*, const pb::SetAttrRequest*,
                                    pb::AttrReply*) override;
  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext*, const pb::CreateRequest*,
                                   pb::AttrReply*) override;
  grpc::ServerUnaryReactor* Unlink(grpc::CallbackServerContext*, const pb::EntryRequest*,
                                   pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* Rmdir(grpc::CallbackServerContext*, const pb::EntryRequest*,
                                  pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* Rename(grpc::CallbackServerContext*, const pb::RenameRequest*,
                                   pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* Link(grpc::CallbackServerContext*, const pb::LinkRequest*,
                                 pb::AttrReply*) override;
  grpc::ServerUnaryReactor* ReadLink(grpc::CallbackServerContext*, const pb::GetAttrRequest*,
                                     pb::ReadLinkReply*) override;
  grpc::ServerUnaryReactor* ReadDir(grpc::CallbackServerContext*, const pb::ReadDirRequest*,
                                    pb::ReadDirReply*) override;
  grpc::ServerUnaryReactor* StatFs(grpc::CallbackServerContext*, const pb::StatFsRequest*,
                                   pb::StatFsReply*) override;
  grpc::ServerUnaryReactor* Access(grpc::CallbackServerContext*, const pb::AccessRequest*,
                                   pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* GetXattr(grpc::CallbackServerContext*, const pb::XattrRequest*,
                                     pb::XattrReply*) override;
  grpc::ServerUnaryReactor* SetXattr(grpc::CallbackServerContext*, const pb::XattrRequest*,
                                     pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* ListXattr(grpc::CallbackServerContext*, const pb::XattrRequest*,
                                      pb::XattrReply*) override;
  grpc::ServerUnaryReactor* RemoveXattr(grpc::CallbackServerContext*, const pb::XattrRequest*,
                                        pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* GetChunks(grpc::CallbackServerContext*, const pb::GetChunksRequest*,
                                      pb::GetChunksReply*) override;
  grpc::ServerUnaryReactor* AllocateChunk(grpc::CallbackServerContext*,
                                          const pb::AllocateChunkRequest*,
                                          pb::AllocateChunkReply*) override;
  grpc::ServerUnaryReactor* CommitWrite(grpc::CallbackServerContext*, const pb::CommitWriteRequest*,
                                        pb::AttrReply*) override;
  grpc::ServerUnaryReactor* RegisterNode(grpc::CallbackServerContext*,
                                         const pb::RegisterNodeRequest*,
                                         pb::RegisterNodeReply*) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext*, const pb::HeartbeatRequest*,
                                      pb::HeartbeatReply*) override;
  // The leader's stream of invalidations; a follower sends one event with
  // NOT_LEADER and ends the stream.
  grpc::ServerWriteReactor<pb::WatchEvent>* Watch(grpc::CallbackServerContext*,
                                                  const pb::WatchRequest*) override;

  // Advisory locks (docs/locks.md). Lock with `wait` holds the call in the
  // LockManager until the lock may be free, then tries again.
  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext*, const pb::LockRequest*,
                                 pb::LockReply*) override;
  grpc::ServerUnaryReactor* GetLock(grpc::CallbackServerContext*, const pb::LockRequest*,
                                    pb::LockReply*) override;
  grpc::ServerUnaryReactor* ReleaseLocks(grpc::CallbackServerContext*,
                                         const pb::ReleaseLocksRequest*, pb::EmptyReply*) override;
  grpc::ServerUnaryReactor* LockSession(grpc::CallbackServerContext*, const pb::LockSessionRequest*,
                                        pb::LockSessionReply*) override;

 private:
  // A mutation as the watch hub needs it once applied: the command and the
  // inodes at the entries it changes without returning them
  // (watch_events.h), read just before proposing.
  struct WatchedCommand {
    pb::MetaCommand cmd;
    std::vector<uint64_t> resolved;
  };
  // Null when nobody watches.
  std::shared_ptr<const WatchedCommand> PrepareWatch(pb::MetaCommand cmd) const;
  // Publishes what `watched` invalidates, applied with `reply`.
  void PublishWatch(const WatchedCommand& watched, const pb::MetaReply& reply);

  // Proposes a command built by `fill`; `out` copies the MetaReply into
  // the RPC reply when it succeeded.
  template <class Reply, class Fill, class Out>
  grpc::ServerUnaryReactor* Mutate(grpc::CallbackServerContext* ctx, const pb::RpcHeader& header,
                                   Reply* reply, Fill fill, Out out);
  // Runs `read` after a read barrier; its Status becomes the reply's error.
  enum class ReadCost { kPoint, kScan };
  template <class Reply, class ReadFn>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, const pb::RpcHeader& header,
                                 Reply* reply, ReadCost cost, ReadFn read);
  // The heartbeat reply's verdicts on node_id's replica report; proposes
  // the garbage it drained. REQUIRES: after a read barrier.
  void AnswerReport(uint64_t node_id, pb::HeartbeatReply* reply);
  // ForgetGarbage(chunk, node_id) for each chunk, in one command, without
  // waiting; the pairs stay in flight in the registry until it is applied.
  void ProposeForgets(uint64_t node_id, std::vector<uint64_t> chunk_ids);
  // What a call does, for the caller's certificate role (docs/security.md):
  // reads (and locks) any client may make, writes all but a read-only
  // mount, node calls only chunk servers.
  using CallKind = tls::CallKind;
  // The caller's role allows `kind`, and the header names this cluster.
  Status CheckCaller(const tls::Peer& peer, const pb::RpcHeader& header, CallKind kind) const;
  // Counts one answered call that took since `start`.
  struct Counter {
    std::atomic<uint64_t> calls{0}, errors{0}, micros{0};
    void Add(std::chrono::steady_clock::time_point start, bool error);
  };
  void FillError(const Status& s, pb::Error* error) const;
  // Ends the call at once with `s` as the reply's error.
  template <class Reply>
  grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, Reply* reply,
                                      const Status& s);
  // Proposes a lock command (not deduplicated: lock commands are
  // idempotent) and calls `done` with its MetaReply or failure, waking the
  // lock waiters of the inodes it released.
  void ProposeLockCommand(pb::MetaCommand cmd, std::function<void(Result<pb::MetaReply>)> done);
  // ProposeLockCommand for an RPC: `out` fills the reply from a
  // successful MetaReply.
  template <class Reply, class Out>
  grpc::ServerUnaryReactor* LockMutation(grpc::CallbackServerContext* ctx,
                                         const pb::RpcHeader& header, Reply* reply,
                                         pb::MetaCommand cmd, Out out);
  friend class LockCall;

  MetaServiceOptions options_;
  raft::RaftNode* node_;
  MetaStore* store_;
  NodeRegistry* registry_;
  WatchHub* watch_hub_;
  LockManager* locks_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  Counter mutations_, reads_;
  ThreadPool readers_;  // last member: joined first, while the rest is alive
};

}  // namespace dfs::meta
