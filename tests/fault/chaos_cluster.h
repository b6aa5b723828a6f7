// The cluster a chaos run tortures: 3 dfs-meta (meta i counts as zone zi),
// 6 dfs-chunkserver in zones z1,z2,z3,z1,z2,z3, and 4 dfs-mount: two for
// the workload (zones z1 and z2) and two for the namespace history (zones
// z1 and z3, no kernel caching), all real processes on loopback under one
// directory. Settings
// that make failure detection and repair quick: node_dead_after 2 s, a
// repair sweep every 500 ms, heartbeats every 500 ms, 1 MiB chunks, a
// scrubber fast enough to find a flipped byte within seconds.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/chunk_servers.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/server_group.h"

namespace dfs::chaos {

constexpr uint64_t kChunkSize = 1 << 20;
// mount(0) and mount(1) carry the workload; mount(2) and mount(3) the
// namespace history.
constexpr int kWorkloadMounts = 2;

// One server process of the cluster, as the nemesis names it.
struct Server {
  bool meta = false;
  int index = 0;  // meta id (1..3) or chunk server index (1..6)
  std::string zone;
  std::string Name() const { return (meta ? "meta" : "cs") + std::to_string(index); }
};

class ChaosCluster {
 public:
  // Starts the servers in `dir` and waits for every chunk server to
  // register; ok() says whether that worked.
  // `small_disks` > 0: every chunk server keeps its data on a tmpfs of
  // that many bytes of its own (for the disk-full nemesis).
  // `meta_log_level`: dfs-meta's --log-level ("trace" logs every applied
  // command, for finding out what a failed history saw).
  explicit ChaosCluster(const std::string& dir, uint64_t small_disks = 0,
                        const std::string& meta_log_level = "info");
  ~ChaosCluster();

  bool ok() const { return ok_; }
  // Mounts every mount; false if one did not come up.
  bool MountAll();

  std::vector<Server> Servers() const;
  std::vector<Server> ZoneServers(const std::string& zone) const;
  void Kill(const Server& s);
  bool Start(const Server& s);
  pid_t Pid(const Server& s) const;
  // True if the process was started and has not exited (a stopped process
  // counts as alive).
  bool Alive(const Server& s) const;
  std::string LogPath(const Server& s) const;
  // The meta leader now (Server with meta, index the id), or index 0.
  Server Leader() const;

  testing::ServerGroup& meta() { return *meta_; }
  testing::ChunkServers& chunks() { return *chunks_; }
  testing::Mount& mount(int i) { return *mounts_.at(i); }
  int mount_count() const { return static_cast<int>(mounts_.size()); }
  std::string MetaAddresses() const;
  const std::string& dir() const { return dir_; }

  // True when the cluster has recovered from the last fault: the leader
  // answers and has settled, every meta server follows it, every chunk
  // server is active, and no chunk is under-replicated, lost or
  // zone-degraded and no repair runs. Unlike `dfsadmin status` it does not
  // wait for chunks the leader has not judged yet (just written, reported
  // at the next heartbeat), which a steady write load always has.
  // Otherwise false, and *why says what is missing.
  bool Recovered(std::string* why) const;
  // Runs dfsadmin with these arguments (after --meta); its exit code, and
  // its output in *output if given.
  int DfsAdmin(const std::vector<std::string>& args, std::string* output = nullptr) const;

 private:
  std::string dir_;
  std::vector<std::string> tmpfs_;  // mounted data directories
  std::unique_ptr<testing::ServerGroup> meta_;
  std::unique_ptr<testing::ChunkServers> chunks_;
  std::vector<std::unique_ptr<testing::Mount>> mounts_;
  bool ok_ = false;
};

// True if `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);

}  // namespace dfs::chaos
