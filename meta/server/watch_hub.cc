#include "meta/server/watch_hub.h"

#include <algorithm>
#include <utility>

namespace dfs::meta {

// ------------------------------------------------------- WatchSubscription

WatchSubscription::WatchSubscription(WatchSink* sink, uint64_t term,
                                     std::vector<uint64_t> own_sessions, size_t max_backlog)
    : term_(term),
      own_sessions_(own_sessions.begin(), own_sessions.end()),
      max_backlog_(max_backlog),
      sink_(sink) {}

bool WatchSubscription::BacklogEmpty() const {
  return !resync_ && inodes_.empty() && entries_.empty();
}

void WatchSubscription::Pump() {
  if (sink_ == nullptr || ended_ || sending_) return;
  if (ending_) {
    ended_ = true;
    sink_->EndStream(end_status_);
    return;
  }
  if (BacklogEmpty()) return;
  pb::WatchEvent event;
  event.set_resync(resync_);
  for (uint64_t inode : inodes_)
    event.add_inodes(inode);
  for (const auto& [parent, name] : entries_) {
    pb::WatchEntry* e = event.add_entries();
    e->set_parent(parent);
    e->set_name(name);
  }
  resync_ = false;
  inodes_.clear();
  entries_.clear();
  sending_ = true;
  sink_->SendEvent(std::move(event));
}

void WatchSubscription::Offer(const pb::WatchEvent& event, uint64_t origin_session) {
  if (origin_session != 0 && own_sessions_.contains(origin_session)) return;
  std::lock_guard lock(mu_);
  if (ending_ || ended_) return;
  if (event.resync()) resync_ = true;
  if (!resync_) {
    for (uint64_t inode : event.inodes())
      inodes_.insert(inode);
    for (const pb::WatchEntry& e : event.entries())
      entries_.emplace(e.parent(), e.name());
    if (inodes_.size() + entries_.size() > max_backlog_) resync_ = true;
  }
  if (resync_) {
    inodes_.clear();
    entries_.clear();
  }
  Pump();
}

void WatchSubscription::SendDone(bool ok) {
  std::lock_guard lock(mu_);
  sending_ = false;
  if (!ok && !ending_) {
    ending_ = true;
    end_status_ = Status::Unavailable("the watch stream broke");
  }
  Pump();
}

void WatchSubscription::Cancelled() {
  std::lock_guard lock(mu_);
  if (!ending_) {
    ending_ = true;
    end_status_ = Status::Cancelled("the watch stream was cancelled");
  }
  // A send in flight completes (failed) on its own; the end follows it.
  Pump();
}

void WatchSubscription::Close(const Status& status, bool abort_now) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  // Closed again (the next turn of the leader loop) with the send still in
  // flight: the mount does not read. Abort the send so that the stream ends
  // now. A send that is merely completing ends with the status asked for.
  bool abort = abort_now || ending_;
  if (!ending_) {
    ending_ = true;
    end_status_ = status;
  }
  if (abort && sending_ && !aborted_ && sink_ != nullptr) {
    aborted_ = true;
    sink_->AbortSend();
  }
  Pump();
}

void WatchSubscription::Detach() {
  std::lock_guard lock(mu_);
  sink_ = nullptr;
}

// ---------------------------------------------------------------- WatchHub

WatchHub::WatchHub(WatchHubOptions options) : options_(options) {}

std::shared_ptr<WatchSubscription> WatchHub::Subscribe(WatchSink* sink, uint64_t term,
                                                       std::vector<uint64_t> own_sessions) {
  std::lock_guard lock(mu_);
  // A caller whose view of the role is older than the latest Observe's. (A
  // stale view of the same term, the leader having stepped down since, is
  // not told apart from a candidate that just won: the next Observe ends
  // that stream.)
  if (shut_down_ || term < term_) return nullptr;
  auto sub = std::make_shared<WatchSubscription>(sink, term, std::move(own_sessions),
                                                 options_.max_backlog);
  subscriptions_.push_back(sub);
  std::lock_guard sub_lock(sub->mu_);
  sub->Pump();  // the first event: resync
  return sub;
}

void WatchHub::Unsubscribe(const WatchSubscription* subscription) {
  std::lock_guard lock(mu_);
  std::erase_if(subscriptions_, [&](const auto& s) { return s.get() == subscription; });
}

void WatchHub::Publish(const pb::WatchEvent& event, uint64_t origin_session) {
  std::lock_guard lock(mu_);
  for (const auto& sub : subscriptions_)
    sub->Offer(event, origin_session);
}

void WatchHub::Observe(bool leading, uint64_t term) {
  std::lock_guard lock(mu_);
  if (term < term_) return;  // an older view than one already seen
  term_ = term;
  // A leader steps down in its own term (check-quorum): when not leading,
  // the streams of this term go too. A stream of a later term was opened
  // by a caller with a newer view than this one: it stays.
  for (const auto& sub : subscriptions_) {
    if (!leading && sub->term() <= term) {
      sub->Close(Status::NotLeader("this server is no longer the leader"), /*abort_now=*/false);
    } else if (leading && sub->term() < term) {
      sub->Close(Status::NotLeader("this server led again in a later term"), /*abort_now=*/false);
    }
  }
}

void WatchHub::Shutdown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  for (const auto& sub : subscriptions_)
    sub->Close(Status::Unavailable("the metadata server is shutting down"), /*abort_now=*/true);
}

bool WatchHub::watched() const {
  std::lock_guard lock(mu_);
  return !subscriptions_.empty();
}

size_t WatchHub::size() const {
  std::lock_guard lock(mu_);
  return subscriptions_.size();
}

}  // namespace dfs::meta
