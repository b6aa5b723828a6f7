// MetaClient: the client side of the metadata service, as libdfsclient, the
// mount, dfsadmin and the tests use it. It finds the leader, follows
// NOT_LEADER hints, and retries a call on other servers until `timeout`
// (hard-mount semantics, DESIGN §5): the caller sees a pause, not an error.
//
// Exactly once: every mutation carries this client's session id and the
// next sequence number; a retry after a lost reply or a leader change
// resends the same number, and the state machine answers it from its
// session record instead of applying it twice.
//
// Threading: a MetaClient issues one call at a time (calls take a lock);
// use one per thread for concurrency.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/meta.grpc.pb.h"

namespace dfs::client {

// Ends a call in flight from another thread (a signal interrupting a lock
// wait): the call returns INTERRUPTED, and later calls given the same
// canceller do not start.
class CallCanceller {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class MetaClient;
  // False if already cancelled; otherwise Cancel also cancels `ctx` until
  // Detach.
  bool Attach(grpc::ClientContext* ctx);
  void Detach();

  mutable std::mutex mu_;
  grpc::ClientContext* ctx_ = nullptr;
  bool cancelled_ = false;
};

struct MetaClientOptions {
  std::vector<std::string> servers;  // host:port of every dfs-meta
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds rpc_timeout{5000};     // one attempt
  std::chrono::milliseconds connect_timeout{300};  // to reach one server
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  std::string cluster_id;  // empty: learn it from the first reply that names one
};

class MetaClient {
 public:
  explicit MetaClient(MetaClientOptions options);

  Result<pb::InodeAttr> Lookup(uint64_t parent, const std::string& name);
  // access_mask nonzero: fails (EACCES) unless the caller may access the
  // inode so (R_OK 4, W_OK 2, X_OK 1), in the same call.
  Result<pb::InodeAttr> GetAttr(uint64_t inode, uint32_t access_mask = 0);
  Result<pb::InodeAttr> Create(uint64_t parent, const std::string& name, pb::FileType type,
                               uint32_t mode, bool exclusive = false,
                               const std::string& symlink_target = "");
  Result<pb::InodeAttr> SetAttr(const pb::SetAttrRequest& request);
  Status Unlink(uint64_t parent, const std::string& name);
  Status Rmdir(uint64_t parent, const std::string& name);
  Status Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, uint32_t flags = 0);
  Result<pb::InodeAttr> Link(uint64_t inode, uint64_t new_parent, const std::string& new_name);
  Result<std::string> ReadLink(uint64_t inode);
  Result<pb::ReadDirReply> ReadDir(uint64_t inode, const std::string& cookie,
                                   uint32_t max_entries = 0);
  Result<pb::StatFsReply> StatFs();
  Status Access(uint64_t inode, uint32_t mask);
  Result<std::string> GetXattr(uint64_t inode, const std::string& name);
  Status SetXattr(uint64_t inode, const std::string& name, const std::string& value,
                  uint32_t flags);
  Result<std::vector<std::string>> ListXattr(uint64_t inode);
  Status RemoveXattr(uint64_t inode, const std::string& name);

  // File data: where a file's chunks are, a chunk to write (allocated on
  // first use; `failed_nodes` are replicas a write saw fail, to be dropped
  // from the chain), and publishing a synced write's size and mtime.
  Result<pb::GetChunksReply> GetChunks(uint64_t inode, uint64_t first_index, uint64_t count);
  Result<pb::ChunkLocation> AllocateChunk(uint64_t inode, uint64_t index,
                                          const std::vector<uint64_t>& failed_nodes = {});
  Result<pb::InodeAttr> CommitWrite(uint64_t inode, uint64_t size, const pb::Timespec& mtime);

  // Advisory locks (docs/locks.md). The header is filled in here. Lock
  // with req.wait is held by the leader for up to about rpc_timeout (then
  // LOCK_CONFLICT: call again); `cancel` ends it early (INTERRUPTED).
  Result<pb::LockReply> Lock(pb::LockRequest req, CallCanceller* cancel = nullptr);
  Result<pb::LockReply> GetLock(pb::LockRequest req);
  Status ReleaseLocks(pb::ReleaseLocksRequest req);
  // `close`: end the session (its locks go now).
  Result<pb::LockSessionReply> LockSession(uint64_t lock_session, bool close = false);
  // Chunk servers (server/meta_link.h). The header is filled in here.
  Result<pb::RegisterNodeReply> RegisterNode(pb::RegisterNodeRequest request);
  Result<pb::HeartbeatReply> Heartbeat(pb::HeartbeatRequest request);

  uint64_t session_id() const { return session_id_; }
  // Sets the credentials later calls carry.
  void SetCredentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups);
  // Sets the cluster id later calls carry (servers of another cluster refuse them).
  void SetClusterId(std::string cluster_id);

 private:
  // Runs `call` (stub, context, reply) against the leader until it returns
  // a final answer or the timeout passes.
  // `mutation`: the header of a mutation's request, renewed here when the
  // servers answer SESSION_EXPIRED.
  // `cancel`: see CallCanceller.
  template <class Reply, class Call>
  Status Invoke(Reply* reply, Call call, pb::RpcHeader* mutation = nullptr,
                CallCanceller* cancel = nullptr);
  // A fresh session id, sequence numbers from 1 again.
  void RenewSession();
  pb::RpcHeader Header(bool mutation);
  // Points leader_ at the server with this address; false if it already
  // does or the address is unknown.
  bool FollowHint(const std::string& leader_address);

  MetaClientOptions options_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<pb::MetaService::Stub>> stubs_;
  std::mutex mu_;
  size_t leader_ = 0;  // index into stubs_
  uint64_t session_id_;
  uint64_t sequence_ = 0;
};

}  // namespace dfs::client
