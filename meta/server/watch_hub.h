// WatchHub: the leader's registry of open Watch streams (docs/meta.md,
// "Watches"). The service publishes one event per committed mutation; the
// hub fans it out to every subscription but those of the mount whose
// session made the mutation. Each subscription sends one event at a time;
// what is published meanwhile waits in a bounded, coalescing backlog (one
// pending event: inodes and entries deduplicated). A backlog that would
// grow past its bound becomes a single `resync` event: a slow mount
// revalidates everything instead of holding the leader's memory or being
// skipped silently.
//
// Streams end when this server stops leading (main.cc's leader loop calls
// Observe every turn), when the leader's term changes under them (events
// of another leader's term were never seen here), at shutdown, or when the
// mount goes away. A stream ends after its send in flight; a send still in
// flight at the next Observe (or at shutdown) is aborted.
//
// The hub knows nothing of gRPC: a WatchSink carries the events (the
// stream's reactor in the server, a recorder in tests).
//
// Threading: every method is thread-safe. Publish is called on the Raft
// driver thread and does not block: sinks only start sends.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

// The transport of one subscription. The hub calls it under the
// subscription's lock, never twice at once; calls must not block and must
// not call back into the subscription or the hub.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // Starts sending `event`; the sink reports completion with
  // WatchSubscription::SendDone. At most one send is in flight.
  virtual void SendEvent(pb::WatchEvent event) = 0;
  // Makes the send in flight complete (failed) soon: the stream is to end.
  virtual void AbortSend() = 0;
  // Ends the stream with `status`. Called once, never with a send in
  // flight; nothing is sent after it.
  virtual void EndStream(const Status& status) = 0;
};

struct WatchHubOptions {
  // Inodes plus entries one subscription may have waiting; beyond it the
  // backlog becomes one resync event.
  size_t max_backlog = 4096;
};

// One open stream, as the hub sees it. Created by WatchHub::Subscribe.
class WatchSubscription {
 public:
  WatchSubscription(WatchSink* sink, uint64_t term, std::vector<uint64_t> own_sessions,
                    size_t max_backlog);
  WatchSubscription(const WatchSubscription&) = delete;
  WatchSubscription& operator=(const WatchSubscription&) = delete;

  // The sink's reports. `ok` false: the stream is broken, it ends.
  void SendDone(bool ok);
  // The mount cancelled the stream or its connection broke: end it.
  void Cancelled();
  // The stream is done: the sink is never called again.
  void Detach();

  uint64_t term() const { return term_; }

 private:
  friend class WatchHub;
  // Adds `event` to the backlog unless `origin_session` is the mount's own.
  void Offer(const pb::WatchEvent& event, uint64_t origin_session);
  // Ends the stream with `status`, after the send in flight. That send is
  // aborted if `abort_now`, or if the stream is closed again while it is
  // still in flight (a mount that does not read).
  void Close(const Status& status, bool abort_now);
  bool BacklogEmpty() const;
  // Sends the backlog, or ends the stream, when nothing is in flight.
  // REQUIRES: mu_ held.
  void Pump();

  const uint64_t term_;
  const std::set<uint64_t> own_sessions_;
  const size_t max_backlog_;

  std::mutex mu_;
  WatchSink* sink_;  // null once detached
  // The backlog: one event's worth, deduplicated. `resync_` covers every
  // change up to the moment it is sent, so nothing is added beside it.
  bool resync_ = true;  // the first event of every stream
  std::set<uint64_t> inodes_;
  std::set<std::pair<uint64_t, std::string>> entries_;
  bool sending_ = false;
  bool ending_ = false;   // EndStream is due once nothing is in flight
  bool aborted_ = false;  // AbortSend was called
  bool ended_ = false;    // EndStream was called
  Status end_status_;
};

class WatchHub {
 public:
  explicit WatchHub(WatchHubOptions options = {});
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A new stream of a mount whose meta sessions are `own_sessions`, opened
  // while this server leads in `term`. Its first event (resync) is sent at
  // once. Null after Shutdown, or if Observe saw a later term: the caller
  // ends the stream (UNAVAILABLE).
  // REQUIRES: `sink` stays valid until the subscription is detached.
  std::shared_ptr<WatchSubscription> Subscribe(WatchSink* sink, uint64_t term,
                                               std::vector<uint64_t> own_sessions);
  // Forgets a subscription whose stream is done (after Detach).
  void Unsubscribe(const WatchSubscription* subscription);

  // Fans `event` out to every subscription, but not to the mount that made
  // the mutation (`origin_session`, 0 for none).
  void Publish(const pb::WatchEvent& event, uint64_t origin_session);

  // The server's role: ends every stream when it does not lead, and the
  // streams of other terms when it leads in `term`.
  void Observe(bool leading, uint64_t term);
  // Ends every stream and refuses new ones.
  void Shutdown();

  // True if some stream is open (the service skips preparing events when
  // nobody listens).
  bool watched() const;
  size_t size() const;

 private:
  const WatchHubOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<WatchSubscription>> subscriptions_;
  uint64_t term_ = 0;  // the latest term Observe saw
  bool shut_down_ = false;
};

}  // namespace dfs::meta
