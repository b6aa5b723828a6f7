// MetaPool: a few MetaClients for one mount, so metadata calls from many
// FUSE threads run concurrently (a MetaClient makes one call at a time: its
// session numbers mutations in order). A call borrows a client with the
// caller's credentials and gives it back.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "client/meta_client.h"

namespace dfs::client {

class MetaPool {
 public:
  // A borrowed client; returned to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(MetaPool* pool, MetaClient* client) : pool_(pool), client_(client) {}
    ~Lease() {
      if (client_) pool_->Return(client_);
    }
    Lease(Lease&& o) noexcept : pool_(o.pool_), client_(o.client_) { o.client_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    MetaClient* operator->() const { return client_; }

   private:
    MetaPool* pool_;
    MetaClient* client_;
  };

  MetaPool(const MetaClientOptions& options, int size);

  // Waits for a free client and sets the credentials its calls carry.
  Lease Acquire(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups);
  // The clients' session ids (as they are now; a session renewed after
  // SESSION_EXPIRED is not in an older list).
  std::vector<uint64_t> session_ids() const;
  // Sets the cluster id every client's calls carry.
  void SetClusterId(const std::string& cluster_id);

 private:
  void Return(MetaClient* client);

  std::vector<std::unique_ptr<MetaClient>> clients_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::vector<MetaClient*> free_;
};

}  // namespace dfs::client
