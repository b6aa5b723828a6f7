// Test hooks of the block cache. Not for production code.
#pragma once

#include "client/block_cache.h"

namespace dfs::client {

// Waits until every disk write queued by Put before the call is done:
// written (and the disk tier trimmed to its bound, evicted files removed),
// skipped or failed. Returns at once without a disk tier.
// REQUIRES: `cache` came from BlockCache::Open.
void FlushForTesting(BlockCache* cache);

}  // namespace dfs::client
