// MetaLink: a chunk server's conversation with the meta leader. Register
// once per start (learning or confirming node id, cluster id and chunk
// size), then a heartbeat every interval carrying capacity, free space,
// load and the replica report: the full list first (and whenever the leader
// asks for it, e.g. after a leader change), then only what changed. Replies
// carry replicas to delete, which it deletes. The MetaClient inside follows
// the leader as it moves.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/meta_client.h"
#include "server/chunk_store.h"
#include "server/node_identity.h"

namespace dfs::server {

struct MetaLinkOptions {
  std::vector<std::string> meta;  // every dfs-meta address
  std::string address;            // where this server is reached
  std::string zone;
  std::chrono::milliseconds heartbeat_interval{1000};
};

class MetaLink {
 public:
  explicit MetaLink(MetaLinkOptions options);
  ~MetaLink();

  // Registers as `identity` (a new node when it is empty), retrying until a
  // meta leader answers or `stop` turns true. A refusal (another cluster, an
  // unknown node id) is returned as it is: the caller must not serve.
  // Capacity and free space come from `capacity`/`free` as known before the
  // store opens.
  Result<NodeIdentity> Register(const NodeIdentity& identity, uint64_t capacity, uint64_t free,
                                const std::atomic<bool>& stop);

  // Starts the heartbeat thread. REQUIRES: Register succeeded.
  void Start(ChunkStore* store, std::function<uint32_t()> load);
  // Sends the next heartbeat now (a replica turned corrupt).
  void Wake();
  void Stop();

  // Whether the last heartbeat reached the meta leader.
  bool connected() const { return connected_.load(); }

 private:
  void Loop();
  // One heartbeat; false if the leader did not take it.
  bool Beat();

  const MetaLinkOptions options_;
  client::MetaClient meta_;
  NodeIdentity identity_;
  ChunkStore* store_ = nullptr;
  std::function<uint32_t()> load_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;

  // Heartbeat thread only.
  bool need_full_report_ = true;
  std::vector<ReplicaChange> unsent_;  // changes not yet acknowledged by a leader
  std::atomic<bool> connected_{false};
};

}  // namespace dfs::server
