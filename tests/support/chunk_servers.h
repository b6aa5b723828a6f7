// ChunkServers: N real dfs-chunkserver processes on loopback, registered
// with a running dfs-meta group, for integration tests and benchmarks.
// Server i (from 1) listens on a free port, keeps its data in
// <dir>/chunk<i>/ and is in zone "z<i>" unless zones are given; its output
// goes to <dir>/chunk<i>.log.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proto/common.pb.h"
#include "tests/support/process.h"

namespace dfs::testing {

class ChunkServers {
 public:
  // Starts `n` servers against the dfs-meta `meta` addresses.
  ChunkServers(std::string dir, int n, std::vector<std::string> meta,
               std::vector<std::string> extra_args = {}, std::vector<std::string> zones = {});
  ~ChunkServers();

  bool Start(int i);
  // Starts one more server (a new node) in `zone`; returns its index.
  int Add(const std::string& zone);
  void Kill(int i);  // kill -9
  bool running(int i) const;
  // The process id of server i, or -1 if it is not started (it may have
  // exited since: a zombie keeps its id until the next Start or Kill).
  pid_t pid(int i) const;
  const std::string& zone(int i) const { return zones_.at(i); }

  // Waits until server i has registered (its IDENTITY file exists); false
  // on timeout. After it: node_id(i), cluster_id().
  bool WaitRegistered(int i, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  uint64_t node_id(int i) const { return node_ids_.at(i); }
  const std::string& cluster_id() const { return cluster_id_; }
  const std::string& address(int i) const { return addresses_.at(i); }
  std::string data_dir(int i) const;
  // The data file of server i's replica of `chunk_id`; "" if it has none.
  std::string ReplicaFile(int i, uint64_t chunk_id) const;
  // The replica descriptor chains are made of. REQUIRES: WaitRegistered(i).
  pb::ChunkReplica Replica(int i) const;
  int size() const { return static_cast<int>(addresses_.size()); }

 private:
  std::string dir_;
  std::vector<std::string> meta_;
  std::vector<std::string> extra_args_;
  std::map<int, std::string> addresses_, zones_;
  std::map<int, uint64_t> node_ids_;
  std::string cluster_id_;
  std::map<int, std::unique_ptr<Process>> procs_;
};

}  // namespace dfs::testing
