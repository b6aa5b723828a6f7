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

struct TransportOptions {
  NodeId self = kNone;
  std::string cluster_id;             // every batch carries it; others are refused
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

 private:
  class Peer;
  class Service;

  TransportOptions options_;
  TransportHandler* handler_;
  std::unique_ptr<Service> service_;
  mutable std::mutex mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;
};

}  // namespace dfs::raft
