// AdminClient: dfsadmin's side of the AdminService (proto/admin.proto),
// which every dfs-meta serves and only the leader answers.
//
// Finding the leader: each call goes to the given servers in turn; a
// follower's NOT_LEADER with a leader address sends it there next; a
// transport error moves on to the next server. If some server said that
// no leader is known yet (an election) or answered UNAVAILABLE, the round
// starts again after a short pause until `timeout` has passed; if every
// server failed at the transport level, the call gives up at once, so a
// wrong address is reported in milliseconds rather than after the timeout.
//
// Every request carries the cluster id once one reply has named it (the
// first Status); before that it is empty, which servers accept.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/admin.grpc.pb.h"

namespace dfs::admin {

struct AdminClientOptions {
  std::vector<std::string> servers;         // host:port of dfs-meta servers
  std::chrono::milliseconds timeout{5000};  // one whole call, leader search included
};

class AdminClient {
 public:
  // REQUIRES: options.servers not empty.
  explicit AdminClient(AdminClientOptions options);

  // The cluster as the leader sees it. Errors: UNAVAILABLE when no server
  // answered or no leader was found in time (the message lists what each
  // server said), NOT_SUPPORTED when a server does not serve the call, or
  // the leader's own error.
  Result<pb::StatusReply> Status();
  // Starts draining chunk server `node_id`; the reply's message says what
  // the leader did. Errors as for Status().
  Result<pb::AdminReply> Drain(uint64_t node_id);
  // Changes the repair limits that are set in `request` (the header is
  // filled in here). Errors as for Status().
  Result<pb::AdminReply> SetRepairLimits(pb::SetRepairLimitsRequest request);

  // Raft membership (docs/raft.md): AddMember lets meta server `id` at
  // `address` join (as a learner, then a voter once caught up);
  // RemoveMember takes `id` out of the group; TransferLeader hands the
  // leadership to `id`. The reply's message says what the leader did.
  // Errors as for Status(), and the leader's refusal (e.g. ALREADY_EXISTS).
  Result<pb::AdminReply> AddMember(uint64_t id, const std::string& address);
  Result<pb::AdminReply> RemoveMember(uint64_t id);
  Result<pb::AdminReply> TransferLeader(uint64_t id);

  // The trash (docs/meta.md, "Trash"): a page of entries with ids above
  // `after` (TrashList), putting one back (TrashRestore: to_parent 0 means
  // where it was), freeing those older than `older_than_sec` (0: all).
  // Errors as for Status(), and the leader's refusal (NOT_FOUND,
  // ALREADY_EXISTS, READ_ONLY).
  Result<pb::TrashListReply> TrashList(uint64_t after, uint32_t max);
  Result<pb::TrashRestoreReply> TrashRestore(uint64_t id, uint64_t to_parent,
                                             const std::string& to_name);
  Result<pb::TrashPurgeReply> TrashPurge(double older_than_sec);

  // The streaming calls find the leader as the others do, from the first
  // event of a stream (a refusal is a stream of one error event). Once the
  // leader has sent anything else, every event goes to `on_event` and the
  // call is not retried elsewhere: a broken stream is an error (UNAVAILABLE),
  // not a second run. The stream itself may run for up to `run_time`.
  //
  // fsck of the subtree at request.inode (0: the root); `on_event` sees the
  // progress, problem and summary events in order. A stream that ends
  // without a summary is an error.
  dfs::Status Fsck(pb::FsckRequest request,
                   const std::function<void(const pb::FsckEvent&)>& on_event,
                   std::chrono::milliseconds run_time);
  // A backup of the metadata: `on_piece` gets every piece of every file
  // (returning an error stops the call with it); the manifest, last, is
  // returned. A stream that ends without a manifest is an error.
  Result<pb::BackupManifest> Backup(
      const std::function<dfs::Status(const pb::BackupPiece&)>& on_piece,
      std::chrono::milliseconds run_time);

  // The cluster id learned from a reply; empty until one named it.
  const std::string& cluster_id() const { return cluster_id_; }

 private:
  // Sends `call` (stub, context, reply) to the leader as described above.
  // `method` names the RPC in messages.
  template <class Reply, class Call>
  dfs::Status Invoke(const char* method, Reply* reply, Call call);
  // Opens the stream `open` (stub, context) returns on the leader, with
  // Invoke's leader search, and hands every event after a first non-error
  // one to `on_event`. Returns the stream's final status.
  template <class Event, class Open, class OnEvent>
  dfs::Status InvokeStream(const char* method, std::chrono::milliseconds run_time, Open open,
                           OnEvent on_event);
  using MemberCall = grpc::Status (pb::AdminService::Stub::*)(grpc::ClientContext*,
                                                              const pb::MemberChangeRequest&,
                                                              pb::AdminReply*);
  Result<pb::AdminReply> ChangeMembers(const char* method, MemberCall call, uint64_t id,
                                       const std::string& address);
  pb::AdminService::Stub* StubFor(const std::string& address);
  pb::RpcHeader Header() const;

  AdminClientOptions options_;
  std::map<std::string, std::unique_ptr<pb::AdminService::Stub>> stubs_;
  std::string cluster_id_;
};

// "host:port,host:port" as --meta and DFS_META write it: trimmed, empty
// items dropped.
std::vector<std::string> SplitServerList(const std::string& text);

}  // namespace dfs::admin
