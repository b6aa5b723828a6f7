// Scrubber: reads every block of every replica in the background, at most
// `bytes_per_second`, and verifies it against its checksum; the store marks
// a failing replica corrupt and queues the report, and `on_corrupt` lets
// the heartbeat carry it at once. One pass after another, forever.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "server/chunk_store.h"

namespace dfs::server {

struct ScrubberOptions {
  uint64_t bytes_per_second = 4 << 20;  // gentle by default; 0 = off
  std::function<void()> on_corrupt;
};

class Scrubber {
 public:
  Scrubber(ScrubberOptions options, ChunkStore* store);
  ~Scrubber();

  void Start();
  void Stop();

  // Counters, for logs and tests.
  uint64_t blocks_verified() const;
  uint64_t passes() const;

 private:
  void Loop();
  // Sleeps until `seconds` have passed or Stop; false on Stop.
  bool Pause(double seconds);

  const ScrubberOptions options_;
  ChunkStore* const store_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  uint64_t blocks_verified_ = 0;
  uint64_t passes_ = 0;
  std::thread thread_;
};

}  // namespace dfs::server
