// LockClient: a mount's side of cluster-wide advisory locks (docs/locks.md).
//
// Every lock this mount takes belongs to its lock session, which the meta
// leader keeps while this client renews it (every quarter of the lease,
// from a thread of its own). When the leader says the session lapsed (the
// mount was cut off or stalled for a whole lease), its locks are gone: the
// session is marked lapsed for good, and the next lock opens a new one.
// The FileSystem refuses further lock and write calls on handles that held
// locks in a lapsed session, so the application hears that it lost them.
//
// It also remembers which holders (inode, kind, owner) may hold locks, so
// that a close releases locks only where some were taken: a close of a
// file never locked costs no call.
//
// Thread-safe. A blocking Lock holds a MetaClient of its own for the wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "client/meta_client.h"
#include "client/meta_pool.h"
#include "common/result.h"

namespace dfs::client {

class LockClient {
 public:
  explicit LockClient(MetaClientOptions options);
  ~LockClient();
  LockClient(const LockClient&) = delete;
  LockClient& operator=(const LockClient&) = delete;

  void SetClusterId(const std::string& cluster_id);

  // The live lock session, opened on first use (or after one lapsed).
  Result<uint64_t> Session();
  // The session open now; 0 if none.
  uint64_t current() const;
  // The leader said `lock_session` lapsed: its locks are gone.
  bool Lapsed(uint64_t lock_session) const;
  // OK if `lock_session` surely still holds its locks: renewed within
  // three quarters of the lease (as this client's clock measures from the
  // renewal's send, which the leader's lease outlasts), or renewed now.
  // SESSION_EXPIRED if it lapsed; the renewal's error if it cannot tell.
  // A mount that stalled past its lease learns so here, before it writes.
  Status Confirm(uint64_t lock_session);

  // Takes, changes or releases (UNLOCK) `lock` on `inode` in `lock`'s
  // session. LOCK_CONFLICT if another holder has it and `wait` is false;
  // with `wait`, blocks until granted, or INTERRUPTED once `cancel` is
  // cancelled.
  Status Lock(uint64_t inode, const pb::LockRange& lock, bool wait, CallCanceller* cancel);
  // The lock of another holder that blocks `lock`, if any.
  Result<std::optional<pb::LockRange>> Test(uint64_t inode, const pb::LockRange& lock);
  // Drops every lock of (kind, owner) on `inode` if this mount may hold
  // some; no call otherwise.
  Status Release(uint64_t inode, pb::LockKind kind, uint64_t owner);

 private:
  void RenewLoop();
  // One renewal, sent now; records its send time when it succeeds and
  // marks the session lapsed when the leader says so.
  Status Renew(uint64_t lock_session);
  // REQUIRES: mu_ held. The session's locks are gone.
  void MarkLapsed(uint64_t lock_session);
  // Sends the releases that failed before (from the renewer).
  void RetryReleases();
  std::unique_ptr<MetaClient> NewClient() const;

  MetaClientOptions options_;
  MetaPool pool_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t session_ = 0;  // 0: none open
  std::chrono::milliseconds lease_{10000};
  std::chrono::steady_clock::time_point renewed_;  // send time of the last good renewal
  std::set<uint64_t> lapsed_;
  // (inode, kind, owner) -> the session its locks were taken in.
  std::map<std::tuple<uint64_t, int, uint64_t>, uint64_t> holders_;
  // Releases whose call failed, retried until they succeed or their
  // session lapses (a lock must not outlive its close).
  std::vector<pb::ReleaseLocksRequest> unreleased_;
  std::thread renewer_;  // last: started when the rest is ready
};

}  // namespace dfs::client
