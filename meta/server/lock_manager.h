// LockManager: the leader's soft state for advisory locks (docs/locks.md):
// the lease of every lock session and the Lock calls waiting for a lock.
//
// Leases. A lock session lives while its mount renews it within `lease`.
// The leader that sees a lease lapse proposes ExpireLockSessions, which
// drops the session's locks for good. Leases are the leader's clock only:
// a new leader (and a leader that meets a live session it has no lease
// for) starts a full lease from now, so a leader change can lengthen a
// lease but never shorten it, and no lock is lost to a failover.
//
// Waiters. A blocking Lock call whose lock is taken waits here until a
// command that released a lock on its inode is applied (Wake), until its
// deadline, or until this server stops leading; then the service answers
// it or tries again. Propose callbacks run in log order on the Raft
// thread, so a waiter registered from the callback of its failed attempt
// is registered before the callback of any later release wakes it.
//
// Threading: every method is thread-safe; `done` callbacks run on the
// manager's own thread, never under its lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace dfs::raft {
class RaftNode;
}

namespace dfs::meta {

class MetaStore;

struct LockManagerOptions {
  std::chrono::milliseconds lease{10000};
  std::chrono::milliseconds tick{100};  // lease and deadline checks
};

class LockManager {
 public:
  enum class WaitEnd { kChanged, kDeadline, kNotLeader };
  using WaitDone = std::function<void(WaitEnd)>;

  // REQUIRES: `node` and `store` outlive the manager.
  LockManager(LockManagerOptions options, raft::RaftNode* node, MetaStore* store);
  ~LockManager();
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;

  std::chrono::milliseconds lease() const { return options_.lease; }

  // A full lease from now for a session the store holds as live. False if
  // this leader already saw its lease lapse (the expiry is on its way).
  bool Renew(uint64_t lock_session);

  // Calls `done` once: kChanged after Wake names `inode`, kDeadline at
  // `deadline` or once `cancelled` returns true (checked every tick),
  // kNotLeader when this server stops leading.
  void Wait(uint64_t inode, std::chrono::steady_clock::time_point deadline,
            std::function<bool()> cancelled, WaitDone done);
  // Locks on these inodes were released or weakened.
  void Wake(const std::vector<uint64_t>& inodes);

  size_t waiters() const;

 private:
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    std::function<bool()> cancelled;
    WaitDone done;
  };
  struct Ready {
    WaitDone done;
    WaitEnd end;
  };
  void Run();
  // Leadership, leases and expiry, waiter deadlines.
  void Tick();
  // Proposes the expiry without waiting; its callback wakes the waiters.
  void ExpireLapsed(const std::vector<uint64_t>& lapsed);

  const LockManagerOptions options_;
  raft::RaftNode* const node_;
  MetaStore* const store_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool leading_ = false;
  uint64_t term_ = 0;
  std::map<uint64_t, std::chrono::steady_clock::time_point> leases_;  // session -> lapse
  std::set<uint64_t> expiring_;              // lapsed sessions whose expiry is proposed
  std::multimap<uint64_t, Waiter> waiters_;  // by inode
  std::vector<Ready> ready_;                 // to call back
  std::thread thread_;                       // last: started when the rest is ready
};

}  // namespace dfs::meta
