#include "server/scrubber.h"

#include "common/checksum.h"
#include "common/logging.h"

namespace dfs::server {

Scrubber::Scrubber(ScrubberOptions options, ChunkStore* store)
    : options_(std::move(options)), store_(store) {}

Scrubber::~Scrubber() {
  Stop();
}

void Scrubber::Start() {
  if (options_.bytes_per_second == 0) return;
  thread_ = std::thread([this] { Loop(); });
}

void Scrubber::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Scrubber::blocks_verified() const {
  std::lock_guard lock(mu_);
  return blocks_verified_;
}

uint64_t Scrubber::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

bool Scrubber::Pause(double seconds) {
  std::unique_lock lock(mu_);
  return !stop_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                            [&] { return stopping_; });
}

void Scrubber::Loop() {
  const double seconds_per_block =
      static_cast<double>(kBlockSize) / static_cast<double>(options_.bytes_per_second);
  while (true) {
    uint64_t verified = 0;
    for (const ReplicaInfo& replica : store_->List()) {
      if (replica.state != ReplicaState::kReady) continue;
      const uint64_t blocks = (replica.length + kBlockSize - 1) / kBlockSize;
      for (uint64_t b = 0; b < blocks; b++) {
        if (!Pause(seconds_per_block)) return;
        Status s = store_->VerifyBlock(replica.chunk_id, b);
        if (s.code() == ErrorCode::CORRUPT) {
          DFS_LOG(ERROR) << "scrubber: " << s;
          if (options_.on_corrupt) options_.on_corrupt();
          break;  // the replica is out of service now; the rest can wait for its repair
        }
        if (!s.ok()) break;  // deleted or changed under us: next replica
        verified++;
        std::lock_guard lock(mu_);
        blocks_verified_++;
      }
    }
    {
      std::lock_guard lock(mu_);
      passes_++;
    }
    // An empty or tiny store must not spin.
    if (verified == 0 && !Pause(1.0)) return;
  }
}

}  // namespace dfs::server
