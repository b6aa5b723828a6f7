#include "client/lock_client.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"

namespace dfs::client {

namespace {

// Metadata clients for lock calls that do not wait.
constexpr int kPoolSize = 2;

}  // namespace

LockClient::LockClient(MetaClientOptions options)
    : options_(std::move(options)), pool_(options_, kPoolSize), renewer_([this] { RenewLoop(); }) {}

LockClient::~LockClient() {
  uint64_t session = 0;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    session = session_;
  }
  cv_.notify_all();
  renewer_.join();
  if (session == 0) return;
  // Unmounting: the locks still held go now, not a lease later. Briefly:
  // an unreachable cluster lets the lease do it.
  MetaClientOptions brief = options_;
  brief.timeout = std::min(brief.timeout, std::chrono::milliseconds(2000));
  Result<pb::LockSessionReply> r = MetaClient(brief).LockSession(session, /*close=*/true);
  DFS_LOG_IF(WARN, !r.ok()) << "ending lock session " << session << ": " << r.status();
}

void LockClient::SetClusterId(const std::string& cluster_id) {
  std::lock_guard lock(mu_);
  options_.cluster_id = cluster_id;
  pool_.SetClusterId(cluster_id);
}

std::unique_ptr<MetaClient> LockClient::NewClient() const {
  std::lock_guard lock(mu_);
  return std::make_unique<MetaClient>(options_);
}

Result<uint64_t> LockClient::Session() {
  {
    std::lock_guard lock(mu_);
    if (session_ != 0) return session_;
  }
  auto sent = std::chrono::steady_clock::now();
  auto client = pool_.Acquire(0, 0, {});
  ASSIGN_OR_RETURN(pb::LockSessionReply reply, client->LockSession(0));
  std::lock_guard lock(mu_);
  if (session_ == 0) {
    session_ = reply.lock_session();
    lease_ = std::chrono::milliseconds(reply.lease_ms());
    renewed_ = sent;
    DFS_LOG(INFO) << "lock session " << session_ << " opened (lease " << lease_.count() << " ms)";
    cv_.notify_all();  // the renewer starts renewing it
  }
  // Another thread opened one at the same time: that one is used, this one
  // lapses unused.
  return session_;
}

uint64_t LockClient::current() const {
  std::lock_guard lock(mu_);
  return session_;
}

bool LockClient::Lapsed(uint64_t lock_session) const {
  std::lock_guard lock(mu_);
  return lapsed_.count(lock_session) > 0;
}

void LockClient::MarkLapsed(uint64_t lock_session) {
  if (!lapsed_.insert(lock_session).second) return;
  DFS_LOG(WARN) << "lock session " << lock_session
                << " lapsed: this mount's locks in it were released by the cluster";
  if (session_ == lock_session) session_ = 0;
  for (auto it = holders_.begin(); it != holders_.end();) {
    it = it->second == lock_session ? holders_.erase(it) : std::next(it);
  }
  std::erase_if(unreleased_,
                [&](const pb::ReleaseLocksRequest& r) { return r.lock_session() == lock_session; });
}

Status LockClient::Renew(uint64_t lock_session) {
  auto sent = std::chrono::steady_clock::now();
  Result<pb::LockSessionReply> r = pool_.Acquire(0, 0, {})->LockSession(lock_session);
  std::lock_guard lock(mu_);
  if (r.ok()) {
    if (lock_session == session_) renewed_ = std::max(renewed_, sent);
    return Status::Ok();
  }
  if (r.status().code() == ErrorCode::SESSION_EXPIRED) MarkLapsed(lock_session);
  return r.status();
}

Status LockClient::Confirm(uint64_t lock_session) {
  {
    std::lock_guard lock(mu_);
    if (lapsed_.count(lock_session) > 0) {
      return Status::SessionExpired(
          "the locks taken through this open file were lost: the mount's lock lease lapsed");
    }
    if (lock_session != session_) return Status::Ok();  // not this client's to judge
    if (std::chrono::steady_clock::now() - renewed_ < lease_ * 3 / 4) return Status::Ok();
  }
  RETURN_IF_ERROR(Renew(lock_session), "confirming this mount's locks");
  return Status::Ok();
}

void LockClient::RenewLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (session_ == 0 && unreleased_.empty()) {
      cv_.wait(lock, [&] { return stop_ || session_ != 0 || !unreleased_.empty(); });
      continue;
    }
    // A quarter of the lease: a renewal can fail (a leader change) and
    // the next one still comes in time.
    cv_.wait_for(lock, std::max(lease_ / 4, std::chrono::milliseconds(100)), [&] { return stop_; });
    if (stop_) continue;
    uint64_t session = session_;
    lock.unlock();
    if (session != 0) {
      Status s = Renew(session);
      DFS_LOG_IF(WARN, !s.ok() && s.code() != ErrorCode::SESSION_EXPIRED)
          << "renewing lock session " << session << ": " << s;
    }
    RetryReleases();
    lock.lock();
  }
}

void LockClient::RetryReleases() {
  std::vector<pb::ReleaseLocksRequest> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(unreleased_);
  }
  for (const pb::ReleaseLocksRequest& req : pending) {
    Status s = pool_.Acquire(0, 0, {})->ReleaseLocks(req);
    if (s.ok()) continue;
    std::lock_guard lock(mu_);
    if (lapsed_.count(req.lock_session()) == 0) unreleased_.push_back(req);
  }
}

Status LockClient::Lock(uint64_t inode, const pb::LockRange& lock, bool wait,
                        CallCanceller* cancel) {
  pb::LockRequest req;
  req.set_inode(inode);
  *req.mutable_lock() = lock;
  // Only a lock waits; an unlock never conflicts.
  wait = wait && lock.type() != pb::LOCK_TYPE_UNLOCK;
  req.set_wait(wait);
  if (lock.type() != pb::LOCK_TYPE_UNLOCK) {
    // Noted before the call: if it is granted but the answer is lost (an
    // interrupted wait, a timeout), the close still releases it.
    std::lock_guard guard(mu_);
    holders_[{inode, lock.kind(), lock.owner()}] = lock.lock_session();
  }
  std::unique_ptr<MetaClient> waiter;
  if (wait) waiter = NewClient();
  for (;;) {
    Result<pb::LockReply> reply =
        wait ? waiter->Lock(req, cancel) : pool_.Acquire(0, 0, {})->Lock(req);
    RETURN_IF_ERROR(reply.status());
    Status s(ErrorCodeFromNumber(reply->error().code()), reply->error().message());
    // The leader holds a waiting call only so long: ask again.
    if (s.code() == ErrorCode::LOCK_CONFLICT && wait) continue;
    if (s.code() == ErrorCode::SESSION_EXPIRED) {
      std::lock_guard guard(mu_);
      MarkLapsed(lock.lock_session());
    }
    return s;
  }
}

Result<std::optional<pb::LockRange>> LockClient::Test(uint64_t inode, const pb::LockRange& lock) {
  pb::LockRequest req;
  req.set_inode(inode);
  *req.mutable_lock() = lock;
  ASSIGN_OR_RETURN(pb::LockReply reply, pool_.Acquire(0, 0, {})->GetLock(req));
  if (!reply.found()) return std::optional<pb::LockRange>();
  return std::optional<pb::LockRange>(reply.conflict());
}

Status LockClient::Release(uint64_t inode, pb::LockKind kind, uint64_t owner) {
  pb::ReleaseLocksRequest req;
  {
    std::lock_guard lock(mu_);
    auto it = holders_.find({inode, kind, owner});
    if (it == holders_.end()) return Status::Ok();
    req.set_lock_session(it->second);
    holders_.erase(it);
  }
  req.set_inode(inode);
  req.set_kind(kind);
  req.set_owner(owner);
  Status s = pool_.Acquire(0, 0, {})->ReleaseLocks(req);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    unreleased_.push_back(req);
    cv_.notify_all();
  }
  return s;
}

}  // namespace dfs::client
