// BlockCache: the mount's local read cache (DESIGN §5). Blocks of file
// data, keyed by (inode, data_version, block index), kept in RAM (LRU) and
// on local disk under `dir` so that they survive a remount. A block is
// cached only after it passed its checksum on the way in, and every block
// read back from disk is verified again: a damaged cache file is dropped and
// reported as a miss, never returned.
//
// data_version is bumped by every committed write to a file, so blocks of
// an older version are simply never asked for again; they age out of the
// LRU. Invalidate(inode) drops every version of an inode at once (another
// mount changed it).
//
// Blocks are kBlockSize (64 KiB) except the last of a file, which may be
// shorter. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace dfs::client {

struct BlockKey {
  uint64_t inode = 0;
  uint64_t data_version = 0;
  uint64_t block = 0;  // index of the 64 KiB block in the file
  bool operator==(const BlockKey&) const = default;
};

struct BlockCacheOptions {
  uint64_t ram_bytes = 256ull << 20;  // 0: no RAM tier
  std::string dir;                    // empty: no disk tier
  // Bound on the disk tier; a block file counts as its header and data
  // rounded up to 4 KiB, about what it takes on disk (docs/block_cache.md).
  uint64_t disk_bytes = 1ull << 30;
  // Required with a disk tier: a cache dir of another cluster is wiped, not used.
  std::string cluster_id;
};

struct BlockCacheStats {
  uint64_t ram_hits = 0, disk_hits = 0, misses = 0;
  uint64_t ram_bytes = 0, disk_bytes = 0;  // in use now
  uint64_t corrupt_dropped = 0;            // damaged disk blocks (checksum, length, header)
};

class BlockCache {
 public:
  // Opens the cache; the disk tier's index is rebuilt from `dir`. Fails if
  // `dir` cannot be created or used, is in use by another open cache, or
  // `cluster_id` is empty while `dir` is set (INVALID_ARGUMENT).
  static Result<std::unique_ptr<BlockCache>> Open(BlockCacheOptions options);
  virtual ~BlockCache() = default;

  // The block if cached (RAM first, then disk; a disk hit is promoted to RAM).
  virtual std::optional<std::string> Get(const BlockKey& key) = 0;
  // Whether the block is cached (RAM, or indexed on disk), without reading
  // it or changing its place in either LRU.
  virtual bool Contains(const BlockKey& key) = 0;
  // Caches a verified block (at most kBlockSize bytes) in RAM and on disk.
  // Disk writes may happen in the background; a failure only costs a miss later.
  virtual void Put(const BlockKey& key, std::string data) = 0;
  // Drops every cached block of `inode`, every version.
  virtual void Invalidate(uint64_t inode) = 0;

  virtual BlockCacheStats stats() const = 0;
};

}  // namespace dfs::client
