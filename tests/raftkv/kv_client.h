// A client of a raft-kv-server group: finds the leader, follows NOT_LEADER
// hints and retries on other servers until a deadline.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "proto/raftkv.grpc.pb.h"

namespace dfs::raftkv {

class KvClient {
 public:
  // servers: node id -> address.
  explicit KvClient(const std::map<uint64_t, std::string>& servers);

  Status Put(const std::string& key, const std::string& value,
             std::chrono::milliseconds deadline = std::chrono::seconds(20));
  Result<std::optional<std::string>> Get(
      const std::string& key, std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // One server's status, or an error if it does not answer in 1 s.
  Result<pb::KvStatusReply> NodeStatus(uint64_t id);
  // A membership call, sent to the leader.
  Status Member(const std::string& call, uint64_t id, const std::string& address,
                std::chrono::milliseconds deadline = std::chrono::seconds(20));
  void AddServer(uint64_t id, const std::string& address);
  // The node that last answered as leader (0 if none yet).
  uint64_t leader_guess() const { return leader_; }

 private:
  // Runs `call` against the leader guess until it returns a final status.
  template <class Call>
  Status WithLeader(std::chrono::milliseconds deadline, Call call);

  std::map<uint64_t, std::shared_ptr<grpc::Channel>> channels_;
  std::map<uint64_t, std::unique_ptr<pb::RaftKv::Stub>> stubs_;
  uint64_t leader_ = 0;
};

}  // namespace dfs::raftkv
