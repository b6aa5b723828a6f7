#include "meta/server/lock_manager.h"

#include <utility>

#include "common/logging.h"
#include "meta/meta_store.h"
#include "meta/raft/raft_node.h"
#include "meta/server/propose.h"

namespace dfs::meta {

namespace {

// Expired sessions are remembered this long, so that a mount that comes
// back late still hears that its locks are gone.
constexpr std::chrono::hours kRememberExpired{24};

}  // namespace

LockManager::LockManager(LockManagerOptions options, raft::RaftNode* node, MetaStore* store)
    : options_(options), node_(node), store_(store), thread_([this] { Run(); }) {}

LockManager::~LockManager() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool LockManager::Renew(uint64_t lock_session) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto it = leases_.find(lock_session);
  if (it != leases_.end() && it->second < now) return false;
  leases_[lock_session] = now + options_.lease;
  return true;
}

void LockManager::Wait(uint64_t inode, std::chrono::steady_clock::time_point deadline,
                       std::function<bool()> cancelled, WaitDone done) {
  // A leader elected since the last tick waits its waiters too; if it
  // stops leading, the next tick answers them.
  bool leader = node_->GetStatus().role == raft::StateRole::kLeader;
  {
    std::lock_guard lock(mu_);
    if ((leading_ || leader) && !stop_) {
      waiters_.emplace(inode, Waiter{deadline, std::move(cancelled), std::move(done)});
      return;
    }
    ready_.push_back(Ready{std::move(done), WaitEnd::kNotLeader});
  }
  cv_.notify_all();
}

void LockManager::Wake(const std::vector<uint64_t>& inodes) {
  bool woke = false;
  {
    std::lock_guard lock(mu_);
    for (uint64_t inode : inodes) {
      auto [first, last] = waiters_.equal_range(inode);
      for (auto it = first; it != last; ++it) {
        ready_.push_back(Ready{std::move(it->second.done), WaitEnd::kChanged});
        woke = true;
      }
      waiters_.erase(first, last);
    }
  }
  if (woke) cv_.notify_all();
}

size_t LockManager::waiters() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

void LockManager::Run() {
  auto next_tick = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_until(lock, next_tick, [&] { return stop_ || !ready_.empty(); });
    std::vector<Ready> ready = std::move(ready_);
    ready_.clear();
    lock.unlock();
    for (Ready& r : ready)
      r.done(r.end);
    if (std::chrono::steady_clock::now() >= next_tick) {
      Tick();
      next_tick = std::chrono::steady_clock::now() + options_.tick;
    }
    lock.lock();
  }
  // Stopping: every waiter is answered (as by a server that stops leading).
  std::vector<Ready> ready = std::move(ready_);
  for (auto& [inode, w] : waiters_)
    ready.push_back(Ready{std::move(w.done), WaitEnd::kNotLeader});
  waiters_.clear();
  lock.unlock();
  for (Ready& r : ready)
    r.done(r.end);
}

void LockManager::Tick() {
  raft::RaftNodeStatus st = node_->GetStatus();
  bool leading = st.role == raft::StateRole::kLeader && store_->formatted();
  Result<std::vector<uint64_t>> live =
      leading ? store_->LiveLockSessions() : Status::Unavailable("not leading");
  auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> lapsed;
  {
    std::lock_guard lock(mu_);
    if (!leading) {
      leases_.clear();
      expiring_.clear();
      for (auto& [inode, w] : waiters_)
        ready_.push_back(Ready{std::move(w.done), WaitEnd::kNotLeader});
      waiters_.clear();
      leading_ = false;
      return;
    }
    if (!leading_ || st.term != term_) leases_.clear();  // full leases for all, from now
    leading_ = true;
    term_ = st.term;
    if (live.ok()) {
      std::map<uint64_t, std::chrono::steady_clock::time_point> kept;
      for (uint64_t id : *live) {
        auto it = leases_.find(id);
        kept[id] = it != leases_.end() ? it->second : now + options_.lease;
        if (kept[id] < now && expiring_.insert(id).second) lapsed.push_back(id);
      }
      leases_ = std::move(kept);
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now || (it->second.cancelled && it->second.cancelled())) {
        ready_.push_back(Ready{std::move(it->second.done), WaitEnd::kDeadline});
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!lapsed.empty()) ExpireLapsed(lapsed);
}

void LockManager::ExpireLapsed(const std::vector<uint64_t>& lapsed) {
  pb::MetaCommand cmd;
  for (uint64_t id : lapsed)
    cmd.mutable_expire_lock_sessions()->add_lock_sessions(id);
  cmd.mutable_expire_lock_sessions()->set_forget_expired_before_ns(
      WallNanos() - std::chrono::duration_cast<std::chrono::nanoseconds>(kRememberExpired).count());
  cmd.set_now_ns(WallNanos());
  // Not waited for here: this thread answers the waiters meanwhile.
  node_->Propose(cmd.SerializeAsString(), [this, lapsed](Result<std::string> r) {
    pb::MetaReply reply;
    if (r.ok() && !reply.ParseFromString(*r)) r = Status::Internal("undecodable reply");
    {
      std::lock_guard lock(mu_);
      for (uint64_t id : lapsed)
        expiring_.erase(id);  // if it failed, the next tick proposes again
    }
    if (!r.ok()) {
      DFS_LOG(WARN) << "expiring " << lapsed.size() << " lapsed lock sessions: " << r.status();
      return;
    }
    DFS_LOG(INFO) << "lock sessions lapsed, their locks released: " << lapsed.size()
                  << " sessions, " << reply.changed_inodes_size() << " inodes";
    Wake(std::vector<uint64_t>(reply.changed_inodes().begin(), reply.changed_inodes().end()));
  });
}

}  // namespace dfs::meta
