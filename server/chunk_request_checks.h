// Field checks of every ChunkService request (proto/chunk.proto). Each
// handler calls its check first, before it acts: before it takes the chunk's
// lock, forwards a chain operation to the next replica, touches the replica
// store or calls another server. A chain operation refused here goes
// nowhere: no replica of the chain sees it.
//
// Pure functions of the request and of what the server knows of itself
// (ChunkRequestContext). Whether the chunk exists and at which version is
// the store's business (server/chunk_store.h); what is decided here is
// whether each field is well-formed: chunk ids and versions > 0, offsets
// and lengths within the chunk, data as long as its checksums say, chains
// bounded and naming each replica once, addresses HOST:PORT. Errors:
// INVALID_ARGUMENT with a message that starts with the field's name.
//
// The limits are written down in docs/security.md, "Input limits".
#pragma once

#include <cstdint>

#include "client/chunk_stub_pool.h"
#include "common/status.h"
#include "proto/chunk.pb.h"

namespace dfs::server {

// The most data one Read or Write moves: what fits in one gRPC message of
// client::kMaxChunkMessageBytes with its checksums (8 bytes per 64 KiB) and
// the other fields. Clients send 4 MiB (at most 8 MiB) per write.
inline constexpr uint64_t kMaxIoBytes = uint64_t{client::kMaxChunkMessageBytes} - (1 << 20);

// Calls in progress at once on one client connection (HTTP/2 streams); a
// client's further calls wait for one to end. Each call holds a handler
// thread and up to a message of data; a mount's pipelined writes and
// readahead, or a peer forwarding chain writes, stay well below it.
inline constexpr int kMaxStreamsPerConnection = 256;

// What the checks need to know of the server answering.
struct ChunkRequestContext {
  uint64_t chunk_size = 0;    // the cluster's; offsets and lengths stay within it
  uint64_t self_node_id = 0;  // a chain naming this server again would loop back to it
};

// Chain operations: chunk_id and version > 0; the chain (the replicas after
// this one) at most kMaxChainLength - 1 long, each replica valid, none
// named twice, this server not among them.
Status CheckRequest(const pb::CreateChunkRequest& req, const ChunkRequestContext& ctx);
// Write: also data of 1 to kMaxIoBytes bytes within [0, chunk_size) from
// offset, and one checksum per 64 KiB piece of it.
Status CheckRequest(const pb::WriteRequest& req, const ChunkRequestContext& ctx);
Status CheckRequest(const pb::SyncRequest& req, const ChunkRequestContext& ctx);
// TruncateChunk: also a length within the chunk size.
Status CheckRequest(const pb::TruncateChunkRequest& req, const ChunkRequestContext& ctx);

// Read: chunk_id and version > 0; [offset, offset + length) within the
// chunk, length at most kMaxIoBytes.
Status CheckRequest(const pb::ReadRequest& req, const ChunkRequestContext& ctx);
// SetVersion: chunk_id > 0, new_version > 0, old_version 0 (any lower) or
// at most new_version.
Status CheckRequest(const pb::SetVersionRequest& req, const ChunkRequestContext& ctx);
// Replicate: chunk_id and version > 0; a valid source that is not this
// server.
Status CheckRequest(const pb::ReplicateRequest& req, const ChunkRequestContext& ctx);
// DeleteChunk: chunk_id and version > 0.
Status CheckRequest(const pb::DeleteChunkRequest& req, const ChunkRequestContext& ctx);
// Rechain: chunk_id and version > 0; a valid head; members and joiners
// valid, the whole chain (head, members, joiners) at most kMaxChainLength
// replicas, each named once.
Status CheckRequest(const pb::RechainRequest& req, const ChunkRequestContext& ctx);

}  // namespace dfs::server
