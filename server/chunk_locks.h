// ChunkLocks: one mutex per chunk id, made while someone needs it. A chain
// operation holds its chunk's lock on every replica from the local apply
// until the rest of the chain has answered, so operations on one chunk reach
// every replica in the order the first replica took them.
//
// One lock per chunk, never a shared shard: two chains that cross (A→B for
// one chunk, B→A for another) must not wait on each other.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>

namespace dfs::server {

class ChunkLocks {
 public:
  class Guard {
   public:
    Guard(ChunkLocks* locks, uint64_t chunk_id) : locks_(locks), chunk_id_(chunk_id) {
      locks_->Acquire(chunk_id_);
    }
    ~Guard() { locks_->Release(chunk_id_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    ChunkLocks* locks_;
    uint64_t chunk_id_;
  };

 private:
  void Acquire(uint64_t chunk_id);
  void Release(uint64_t chunk_id);

  struct Entry {
    bool held = false;
    int waiters = 0;
  };
  std::mutex mu_;
  std::condition_variable released_;
  std::map<uint64_t, Entry> entries_;  // only chunks held or waited for
};

}  // namespace dfs::server
