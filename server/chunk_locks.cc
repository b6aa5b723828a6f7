#include "server/chunk_locks.h"

namespace dfs::server {

void ChunkLocks::Acquire(uint64_t chunk_id) {
  std::unique_lock lock(mu_);
  Entry& e = entries_[chunk_id];
  e.waiters++;
  released_.wait(lock, [&] { return !e.held; });
  e.waiters--;
  e.held = true;
}

void ChunkLocks::Release(uint64_t chunk_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(chunk_id);
  it->second.held = false;
  if (it->second.waiters == 0) {
    entries_.erase(it);
  } else {
    released_.notify_all();
  }
}

}  // namespace dfs::server
