#include "client/meta_pool.h"

namespace dfs::client {

MetaPool::MetaPool(const MetaClientOptions& options, int size) {
  for (int i = 0; i < std::max(size, 1); i++) {
    clients_.push_back(std::make_unique<MetaClient>(options));
    free_.push_back(clients_.back().get());
  }
}

MetaPool::Lease MetaPool::Acquire(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  std::unique_lock lock(mu_);
  returned_.wait(lock, [&] { return !free_.empty(); });
  MetaClient* c = free_.back();
  free_.pop_back();
  lock.unlock();
  c->SetCredentials(uid, gid, std::move(groups));
  return Lease(this, c);
}

std::vector<uint64_t> MetaPool::session_ids() const {
  std::vector<uint64_t> ids;
  for (const auto& c : clients_)
    ids.push_back(c->session_id());
  return ids;
}

void MetaPool::SetClusterId(const std::string& cluster_id) {
  for (auto& c : clients_)
    c->SetClusterId(cluster_id);
}

void MetaPool::Return(MetaClient* client) {
  std::lock_guard lock(mu_);
  free_.push_back(client);
  returned_.notify_one();
}

}  // namespace dfs::client
