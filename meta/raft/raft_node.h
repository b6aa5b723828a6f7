// RaftNode: the driver around the pure Raft core. It owns the thread that
// ticks the clock, feeds messages in, persists each Ready to the
// RaftLogStore (one atomic RocksDB write, fsynced, before any message that
// depends on it leaves), hands messages to the transport, applies committed
// entries to the StateMachine, serves ReadIndex reads, and takes local
// snapshots (state machine checkpoints) to compact the log.
//
// Threading: every public method is thread-safe; the core and the state
// machine's Apply run only on the driver thread. Callbacks run on the
// driver thread and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "meta/raft/log_store.h"
#include "meta/raft/raft.h"
#include "meta/raft/state_machine.h"
#include "meta/raft/transport.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace dfs::raft {

struct RaftNodeOptions {
  NodeId id = kNone;
  // The founding members (id -> address); used to bootstrap an empty store
  // and as addresses for members not recorded in the store.
  std::map<NodeId, std::string> peers;
  std::string data_dir;  // holds raft/ (the log), snapshots/, incoming/
  std::string cluster_id;
  std::chrono::milliseconds tick{100};
  int heartbeat_ticks = 1;  // heartbeat every 100 ms
  int election_ticks = 5;   // election timeout randomized in [500, 1000) ms
  bool lease_read = true;   // reads without a heartbeat round (raft::Config::lease_read)
  // Take a local snapshot and compact the log after this many entries.
  uint64_t snapshot_entries = 10000;
  uint64_t max_learner_lag = 1000;
  // A proposal or read not answered within this long fails with TIMEOUT
  // (a proposal's outcome is then unknown: it may still be applied).
  std::chrono::milliseconds request_timeout{10000};
};

// A member as this node knows it.
struct PeerStatus {
  std::string address;
  uint64_t match = 0;   // leader only: highest index known replicated there
  bool active = false;  // leader only: heard from since the last quorum check
};

// A point-in-time view, for status pages and tests.
struct RaftNodeStatus {
  NodeId id = kNone;
  StateRole role = StateRole::kFollower;
  uint64_t term = 0;
  NodeId leader = kNone;
  std::string leader_address;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  uint64_t snapshots_installed = 0;
  ConfState conf_state;
  std::map<NodeId, PeerStatus> peers;  // every member with a known address
  // Counters since start: how well writes are grouped per fsync.
  uint64_t readies = 0;
  uint64_t fsyncs = 0;
  uint64_t entries_persisted = 0;
  uint64_t persist_micros = 0;  // time spent writing the log
};

class RaftNode : private TransportHandler {
 public:
  // Opens the store in options.data_dir (bootstrapping a new group from
  // options.peers if it is empty), restores from the last snapshot and
  // starts the driver thread. REQUIRES: sm outlives the node.
  static Result<std::unique_ptr<RaftNode>> Start(RaftNodeOptions options, StateMachine* sm);
  // Seeds a new group's member from a state machine checkpoint taken at
  // log index `index` (a backup): the checkpoint becomes the member's
  // snapshot at `index`, with options.peers as the voters. Start then
  // restores the state machine from it. Every member of the new group is
  // seeded from the same checkpoint. ALREADY_EXISTS if options.data_dir
  // already holds a Raft log.
  static Status Seed(const RaftNodeOptions& options, const std::string& checkpoint, uint64_t index);
  ~RaftNode() override;

  // The gRPC service carrying Raft traffic: register it on the server.
  grpc::Service* raft_service() { return transport_.service(); }

  // Appends `data`; `done` gets the state machine's result once the entry
  // is applied here, or NOT_LEADER (with the leader's address as message)
  // or UNAVAILABLE (the entry was lost to a leader change; safe to retry
  // with the same session sequence).
  using ProposeCallback = std::function<void(Result<std::string>)>;
  void Propose(std::string data, ProposeCallback done);
  // Blocking form, bounded by `timeout` (TIMEOUT: outcome unknown).
  Result<std::string> ProposeAndWait(std::string data, std::chrono::milliseconds timeout);

  // Linearizable read barrier: `done` gets OK once the local state machine
  // reflects every write acknowledged before the call; read it then.
  void ReadBarrier(std::function<void(Status)> done);
  Status ReadBarrierAndWait(std::chrono::milliseconds timeout);

  // Membership, one server at a time; returns once applied.
  Status AddLearner(NodeId id, const std::string& address, std::chrono::milliseconds timeout);
  Status PromoteLearner(NodeId id, std::chrono::milliseconds timeout);
  Status RemoveMember(NodeId id, std::chrono::milliseconds timeout);
  Status TransferLeadership(NodeId to);

  RaftNodeStatus GetStatus() const;
  // The cluster id Raft traffic carries, once known (see ClusterIdentity).
  void SetClusterId(const std::string& id) { transport_.SetClusterId(id); }
  void Stop();

 private:
  explicit RaftNode(RaftNodeOptions options, StateMachine* sm);
  Status Init();
  void Run();
  // Queues work for the driver thread; false once the node is stopping.
  bool Post(std::function<void()> work);
  void HandleReady();
  // Applies all[from, to) to the state machine and answers their proposers.
  void ApplyEntries(const std::vector<Entry>& all, size_t from, size_t to);
  void SendMessages(std::vector<Message> messages);
  void ServeReads();
  void MaybeSnapshot();
  void FailPending(const Status& status);
  Status ProposeConfChangeAndWait(const ConfChange& cc, std::chrono::milliseconds timeout);
  void PersistPeers();
  std::string SnapshotDir(uint64_t index) const;
  Status NotLeaderStatus() const;

  // TransportHandler, called from gRPC threads.
  void OnMessage(Message m) override;
  void OnSnapshot(Message m, std::string dir) override;
  void OnUnreachable(NodeId peer) override;
  void OnSnapshotSent(NodeId peer, bool failed) override;

  RaftNodeOptions options_;
  StateMachine* sm_;
  std::unique_ptr<RaftLogStore> store_;
  std::unique_ptr<Raft> raft_;
  RaftTransport transport_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> inbox_;
  bool stopping_ = false;
  std::thread thread_;

  // Driver-thread state.
  using Deadline = std::chrono::steady_clock::time_point;
  struct PendingProposal {
    uint64_t term;
    Deadline deadline;
    ProposeCallback done;
  };
  struct PendingRead {
    Deadline deadline;
    std::function<void(Status)> done;
  };
  // Read barriers share ReadIndex rounds: callers that arrive while one is
  // in flight wait for the next, which is issued as soon as it returns.
  struct InflightRead {
    std::string context;
    Deadline retry_at;  // re-issued if the leader never answers
    std::vector<PendingRead> waiters;
  };
  void IssueReadIndex();
  void ExpireRequests();
  Deadline RequestDeadline() const {
    return std::chrono::steady_clock::now() + options_.request_timeout;
  }
  std::map<uint64_t, PendingProposal> proposals_;  // by log index
  uint64_t next_read_id_ = 1;
  std::vector<PendingRead> waiting_reads_;
  std::optional<InflightRead> inflight_read_;
  std::vector<std::pair<uint64_t, PendingRead>> ready_reads_;  // waiting for applied >= index
  std::map<uint64_t, std::string> incoming_snapshots_;         // index -> dir
  std::map<NodeId, std::string> addresses_;

  mutable std::mutex status_mu_;
  RaftNodeStatus status_;
};

// Calls in progress at once on one client connection (HTTP/2 streams) of
// a server started by ServeRaftNode; a client's further calls wait for one
// to end. Bounds what one connection may hold (handler threads of the
// synchronous services, buffers of large messages) while leaving room for
// a busy mount: its watch stream and lock waits (up to 30 s each) count.
inline constexpr int kMaxStreamsPerConnection = 1024;

// Starts a gRPC server on `listen` carrying the node's Raft traffic and the
// application's `services` (ConfigureRaftServer applied, messages up to 64
// MiB; at most kMaxStreamsPerConnection calls per connection). REQUIRES:
// all outlive the server.
Result<std::unique_ptr<grpc::Server>> ServeRaftNode(const std::string& listen, RaftNode* node,
                                                    const std::vector<grpc::Service*>& services);

// Parses "1=host:port,2=host:port" into a peer map.
Result<std::map<NodeId, std::string>> ParsePeers(const std::vector<std::string>& items);

}  // namespace dfs::raft
