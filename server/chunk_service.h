// ChunkServiceImpl: the gRPC face of a chunk server (proto/chunk.proto).
// Chain operations apply locally and forward to the next replica at the
// same time, under the chunk's lock (server/chunk_locks.h); reads are local;
// Replicate pulls a whole replica from a peer; Rechain (at the head of a
// repaired chain) brings the joiners and members of a new chain to its
// version under the chunk's lock.
//
// Every handler first checks the request's fields
// (server/chunk_request_checks.h): a malformed request is answered
// INVALID_ARGUMENT and goes no further. Until SetIdentity is called (the
// server has registered with the meta leader) every request is answered
// UNAVAILABLE; afterwards a request whose header names another cluster is
// answered CLUSTER_MISMATCH.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "client/chunk_stub_pool.h"
#include "proto/chunk.grpc.pb.h"
#include "proto/tls.h"
#include "server/chunk_locks.h"
#include "server/chunk_request_checks.h"
#include "server/chunk_store.h"

namespace dfs::server {

struct ChunkServiceOptions {
  // How long one replica waits for the rest of the chain.
  std::chrono::milliseconds forward_timeout{10000};
  // Piece size of re-replication reads.
  uint32_t copy_piece_bytes = 1 << 20;
  // How long Rechain waits for one joiner to copy the whole replica. The
  // chunk's writes wait for as long, so it stays below the clients' call
  // timeout (10 s): a slow copy fails and is retried rather than make the
  // head look dead to its writers. 64 MiB in 8 s is 8 MB/s.
  std::chrono::milliseconds rechain_copy_timeout{8000};
  // Called when this server finds one of its replicas corrupt, so that the
  // meta leader hears of it without waiting for the next heartbeat.
  std::function<void()> on_corrupt;
};

// Counters since start (for /metrics).
struct ChunkServiceStats {
  uint64_t reads = 0, read_bytes = 0, read_errors = 0;
  uint64_t writes = 0, write_bytes = 0, write_errors = 0;  // chain writes, this replica's part
  uint64_t corrupt = 0;  // requests that found a corrupt replica here
};

class ChunkServiceImpl final : public pb::ChunkService::Service {
 public:
  ChunkServiceImpl(ChunkServiceOptions options, ChunkStore* store, client::ChunkStubPool* peers);

  // Who this server is, once registered.
  void SetIdentity(uint64_t node_id, const std::string& cluster_id);
  // Requests in progress (the load a heartbeat reports).
  uint32_t load() const { return in_flight_.load(); }
  ChunkServiceStats stats() const;

  grpc::Status CreateChunk(grpc::ServerContext* ctx, const pb::CreateChunkRequest* req,
                           pb::ChainReply* reply) override;
  grpc::Status Write(grpc::ServerContext* ctx, const pb::WriteRequest* req,
                     pb::ChainReply* reply) override;
  grpc::Status Read(grpc::ServerContext* ctx, const pb::ReadRequest* req,
                    pb::ReadReply* reply) override;
  grpc::Status Sync(grpc::ServerContext* ctx, const pb::SyncRequest* req,
                    pb::ChainReply* reply) override;
  grpc::Status TruncateChunk(grpc::ServerContext* ctx, const pb::TruncateChunkRequest* req,
                             pb::ChainReply* reply) override;
  grpc::Status SetVersion(grpc::ServerContext* ctx, const pb::SetVersionRequest* req,
                          pb::Error* reply) override;
  grpc::Status Replicate(grpc::ServerContext* ctx, const pb::ReplicateRequest* req,
                         pb::ReplicateReply* reply) override;
  grpc::Status DeleteChunk(grpc::ServerContext* ctx, const pb::DeleteChunkRequest* req,
                           pb::Error* reply) override;
  grpc::Status Rechain(grpc::ServerContext* ctx, const pb::RechainRequest* req,
                       pb::RechainReply* reply) override;

 private:
  // What the request checks (server/chunk_request_checks.h) need to know of
  // this server: the chunk size, its node id.
  ChunkRequestContext context() const;
  // OK when the request may be served: registered, same cluster.
  // What a call does, for the caller's certificate role (docs/security.md):
  // reads any client may make, writes (and the version moves a writer makes
  // after a chain failure) all but read-only mounts, the rest only nodes.
  using CallKind = tls::CallKind;
  // The caller's role allows `kind`, this server is registered, and the
  // header names its cluster.
  Status CheckCaller(const grpc::ServerContext& ctx, const pb::RpcHeader& header,
                     CallKind kind) const;
  // Runs `local` on this replica and, concurrently, sends `forward` (the
  // request with the rest of the chain) to the next replica with `send`;
  // fills `reply` with the first failure along the chain.
  template <class Request, class Local, class Send>
  void RunChain(grpc::ServerContext* ctx, const Request& req, pb::ChainReply* reply, Local local,
                Send send);
  std::chrono::system_clock::time_point ForwardDeadline(const grpc::ServerContext* ctx) const;
  // Copies a whole replica from `source`; the copy is kept only if complete.
  Result<uint64_t> CopyFrom(const pb::ReplicateRequest& req);
  // Rechain's steps, under the chunk's lock. Each fills `reply` (error and
  // failed_node) on failure and returns false.
  bool RaiseHead(const pb::RechainRequest& req, pb::RechainReply* reply);
  bool CopyToJoiner(const pb::RechainRequest& req, const pb::ChunkReplica& joiner,
                    pb::RechainReply* reply);
  bool RaiseMember(const pb::RechainRequest& req, const pb::ChunkReplica& member,
                   pb::RechainReply* reply);
  void NoteResult(const Status& s);

  const ChunkServiceOptions options_;
  ChunkStore* const store_;
  client::ChunkStubPool* const peers_;
  ChunkLocks locks_;
  std::atomic<uint32_t> in_flight_{0};
  std::atomic<uint64_t> reads_{0}, read_bytes_{0}, read_errors_{0};
  std::atomic<uint64_t> writes_{0}, write_bytes_{0}, write_errors_{0}, corrupt_{0};

  mutable std::mutex mu_;
  uint64_t node_id_ = 0;
  std::string cluster_id_;
};

}  // namespace dfs::server
