// ServerGroup: N processes of one server binary (raft-kv-server, dfs-meta)
// forming one Raft group on loopback, for integration tests and benchmarks.
// Each server gets --id, --listen (a free port), --peers (the founding
// members), --data-dir (under the group's directory) and the extra
// arguments; its output goes to <dir>/<name><id>.log.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dfs::testing {

class ServerGroup {
 public:
  // `binary` is a file name in BinDir(). `dir` empty: a fresh temporary
  // directory, removed at destruction unless KEEP_TEST_DIR is set.
  ServerGroup(std::string binary, int founders, std::vector<std::string> extra_args,
              std::string dir = "");
  ~ServerGroup();
  ServerGroup(const ServerGroup&) = delete;
  ServerGroup& operator=(const ServerGroup&) = delete;

  // (Re)starts server `id` on its address and data directory.
  bool Start(uint64_t id);
  void Kill(uint64_t id);  // kill -9
  bool running(uint64_t id) const;
  // The process id of server `id`, or -1 if it is not started (it may
  // have exited since: a zombie keeps its id until the next Start or Kill).
  pid_t pid(uint64_t id) const;
  // Starts a server that is not a founding member; returns its address.
  std::string StartJoiner(uint64_t id);

  const std::map<uint64_t, std::string>& addresses() const { return addresses_; }
  std::vector<std::string> AddressList() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string binary_;
  std::vector<std::string> extra_args_;
  std::string dir_;
  bool owns_dir_;
  std::string peers_;  // the founding members, ID=HOST:PORT,...
  std::map<uint64_t, std::string> addresses_;
  std::map<uint64_t, std::unique_ptr<Process>> procs_;
};

}  // namespace dfs::testing
