// RaftTransport: moves Raft messages between dfs-meta servers over gRPC
// (proto/raft.proto). Each peer has its own sender thread and one
// long-lived client stream: messages queued for a peer go out in batches,
// and a peer that is down costs only its own reconnect attempts. Snapshots
// stream as checkpoint files in pieces on a separate call.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "meta/raft/types.h"

namespace grpc {
class Service;
class ServerBuilder;
}  // namespace grpc

namespace dfs::raft {

// Where received traffic goes. Called from gRPC threads.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  virtual void OnMessage(Message m) = 0;
  // A complete snapshot has arrived: its files are in `dir`.
  virtual void OnSnapshot(Message m, std::string dir) = 0;
  virtual void OnUnreachable(NodeId peer) = 0;
  virtual void OnSnapshotSent(NodeId peer, bool failed) = 0;
};

// The cluster id that Raft traffic carries. A new cluster learns its id
// only when the format command is applied, so it can be set after start.
// Two ids match when equal, or when either side does not know its id yet.
class ClusterIdentity {
 public:
  explicit ClusterIdentity(std::string id) : id_(std::move(id)) {}
  void Set(std::string id) {
    std::lock_guard lock(mu_);
    id_ = std::move(id);
  }
  std::string Get() const {
    std::lock_guard lock(mu_);
    return id_;
  }
  bool Accepts(const std::string& theirs) const {
    std::lock_guard lock(mu_);
    return id_.empty() || theirs.empty() || id_ == theirs;
  }

 private:
  mutable std::mutex mu_;
  std::string id_;
};

struct TransportOptions {
  NodeId self = kNone;
  std::string cluster_id;             // initial value; see ClusterIdentity
  std::string incoming_dir;           // where received snapshots are assembled
  size_t max_queued_per_peer = 4096;  // beyond this, messages are dropped
  size_t max_batch_bytes = 4 << 20;
  size_t snapshot_piece_bytes = 1 << 20;
};

// Server settings the transport relies on (keepalive pings every second
// from peers must be welcome). Call on the builder that hosts service().
void ConfigureRaftServer(grpc::ServerBuilder* builder);

class RaftTransport {
 public:
  RaftTransport(TransportOptions options, TransportHandler* handler);
  ~RaftTransport();

  // The gRPC service to register on the server's port.
  grpc::Service* service();

  // Adds or changes a peer's address; RemovePeer stops its sender.
  void SetPeer(NodeId id, const std::string& address);
  void RemovePeer(NodeId id);
  std::map<NodeId, std::string> Peers() const;

  // Queues messages; never blocks on the network.
  void Send(std::vector<Message> messages);
  // Streams the snapshot files in `dir` to m.to, then reports through
  // OnSnapshotSent.
  void SendSnapshot(Message m, std::string dir);

  void Stop();

  // Sets the cluster id once it is known (after format).
  void SetClusterId(const std::string& id) { cluster_id_.Set(id); }

 private:
  class Peer;
  class Service;

  TransportOptions options_;
  ClusterIdentity cluster_id_;
  TransportHandler* handler_;
  std::unique_ptr<Service> service_;
  mutable std::mutex mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;
};

}  // namespace dfs::raft
