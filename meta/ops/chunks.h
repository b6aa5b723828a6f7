// The chunk map of a file: locating chunks for clients and freeing them to
// the garbage list (docs/meta.md, "Chunks").
#pragma once

#include <cstdint>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

// The chunk as a client sees it: its replicas with address and zone (from
// the node records), and its length from the file size.
Result<pb::ChunkLocation> LocateChunk(const MetaTxn& txn, uint64_t chunk_size, uint64_t file_size,
                                      const IndexedChunk& chunk);

// A chain as a command names it: at least one node, none twice, every one
// a registered chunk server (INVALID_ARGUMENT / NOT_FOUND).
Status CheckChain(const MetaTxn& txn, const google::protobuf::RepeatedField<uint64_t>& nodes);

// Moves the chunks of `inode` at index >= first_index to the garbage list
// and appends their ids to reply->freed_chunks.
Status FreeChunks(MetaTxn& txn, uint64_t inode, uint64_t first_index, pb::MetaReply* reply);

// The index of the first chunk wholly past `size` (ceil(size / chunk_size)).
// REQUIRES: chunk_size > 0.
uint64_t ChunksCovering(uint64_t size, uint64_t chunk_size);

}  // namespace dfs::meta::ops
