// WatchClient: a mount's end of the Watch stream (proto/meta.proto,
// docs/meta.md "Watches"). A background thread keeps one stream open to
// the meta leader: it follows NOT_LEADER hints, tries each server in turn,
// pausing 100 ms (doubling to 1 s) after each round without a leader, and
// replaces a broken stream at once (with the same pauses if streams keep
// breaking within a second). Every event goes to `on_event`, in order; the
// first event of each stream, and so of every reconnection (after a leader
// change or a broken stream), has resync = true: the mount must revalidate
// everything it caches, since events were missed in between.
//
// Threading: on_event runs on the WatchClient's thread, one event at a
// time; it must not call Stop (or destroy the client). Other methods are
// thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proto/meta.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace dfs::client {

struct WatchClientOptions {
  std::vector<std::string> servers;  // host:port of every dfs-meta
  std::string cluster_id;            // empty: any (as MetaClientOptions)
  // The mount's meta sessions (MetaClient::session_id() of each client in
  // its pool): the leader does not send back what they changed.
  std::vector<uint64_t> own_sessions;
  std::chrono::milliseconds connect_timeout{300};  // to reach one server
  std::chrono::milliseconds min_backoff{100};      // after a round of failed servers
  std::chrono::milliseconds max_backoff{1000};
};

class WatchClient {
 public:
  using EventHandler = std::function<void(const pb::WatchEvent&)>;

  // Starts the thread; the first stream opens at once.
  WatchClient(WatchClientOptions options, EventHandler on_event);
  // Stops.
  ~WatchClient();
  WatchClient(const WatchClient&) = delete;
  WatchClient& operator=(const WatchClient&) = delete;

  // Ends the stream (cancelling the call in progress) and joins the thread;
  // on_event is not called after it returns. Idempotent.
  void Stop();

  // True while a stream to the leader is open and has delivered its first
  // (resync) event.
  bool connected() const { return connected_.load(); }
  // Streams that delivered their first event since the start.
  uint64_t streams_opened() const { return streams_opened_.load(); }

 private:
  // What one attempt on one server came to.
  struct Attempt {
    bool delivered = false;               // the stream delivered at least one event
    std::string leader_hint;              // NOT_LEADER: where the leader is, if known
    std::chrono::milliseconds lasted{0};  // from the call to its end
  };
  void Run();
  Attempt Watch(size_t server);
  // Waits up to `d`; false if Stop was called.
  bool Sleep(std::chrono::milliseconds d);
  bool stopping() const;

  const WatchClientOptions options_;
  const EventHandler on_event_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<pb::MetaService::Stub>> stubs_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* call_ = nullptr;  // the stream in progress, for Stop

  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> streams_opened_{0};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace dfs::client
