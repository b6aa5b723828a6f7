// The nemesis: injects one fault at a time into a ChaosCluster, at random
// (seeded), until told to stop:
//   kill     kill -9 of one meta or chunk server (the meta leader half of
//            the times a meta server is picked), restarted after 1-10 s;
//   pause    SIGSTOP of one server, SIGCONT after 1-5 s (longer than the
//            election timeout and than node_dead_after);
//   corrupt  one byte flipped in a replica file of one chunk server; the
//            fault lasts until the replica is replaced or rewritten;
//   zone     every server of one zone (its two chunk servers and its meta
//            server) killed at once, restarted after 3-10 s;
//   partition one server cut off from every other process for 1-8 s (the
//            meta leader half of the times a meta server is picked): the
//            server is moved into a cgroup (v2) of its own, and iptables
//            drops what that cgroup sends (OUTPUT -m cgroup) and what is
//            sent to the server's port (INPUT --dport); healing removes both
//            rules and moves it back. Sockets keep the cgroup they were
//            made in, so connections the server opened before the cut
//            still carry what it sends (heartbeats reach the meta leader)
//            while nothing reaches it: a one-way partition in effect, and
//            new connections from it fail. The heal can come late: while the
//            cut-off server retries, writes to cgroup.procs and iptables
//            calls have stalled here for up to two minutes (a longer
//            partition, still one server);
//   disk-full the data file system of one chunk server (a tmpfs of its own,
//            ChaosCluster's small_disks) filled to the last byte by a
//            ballast file for 2-8 s, then the ballast is removed.
// At most one zone is faulty at a time: each fault is healed before the
// next starts, and before a fault in another zone the cluster must have
// recovered (ChaosCluster::Recovered); at the end, `dfsadmin status`
// must exit 0. Meanwhile it watches every
// daemon: one that dies without being killed is a failure (restarted so
// the run goes on).
#pragma once

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/fault/chaos_cluster.h"
#include "tests/fault/chaos_log.h"

namespace dfs::chaos {

class Nemesis {
 public:
  Nemesis(Context* ctx, ChaosCluster* cluster, std::set<std::string> kinds);

  // Injects faults until `stop`, then heals the one in progress.
  void Run(const std::atomic<bool>& stop);
  // Restarts what is down and waits until dfsadmin status says healthy;
  // false on timeout.
  bool HealAll(std::chrono::seconds timeout);
  // Faults injected by kind.
  const std::map<std::string, int>& counts() const { return counts_; }
  // Checks that every daemon runs; a dead one is a failure, and is restarted.
  void CheckDaemons();

 private:
  // Sleeps up to `d`, in small steps, checking daemons; false if `stop`
  // came first.
  bool Wait(std::chrono::milliseconds d, const std::atomic<bool>* stop);
  // Until ChaosCluster::Recovered (between faults, under load).
  bool WaitHealthy(std::chrono::seconds timeout);
  // Until `dfsadmin status` exits 0 and not with "healthy so far" (a new
  // leader that has not judged the chunks yet), at the end, with no load.
  bool WaitHealthyAdmin(std::chrono::seconds timeout);
  // Before a fault in `zone`: if the last fault was in another zone, waits
  // until the cluster is healthy; false (and no more faults) if it is not.
  bool EnterZone(const std::string& zone);
  Server PickServer();
  std::chrono::milliseconds Between(int lo_ms, int hi_ms);

  void Kill(const std::atomic<bool>& stop);
  void Pause(const std::atomic<bool>& stop);
  void Corrupt(const std::atomic<bool>& stop);
  void Zone(const std::atomic<bool>& stop);
  void Partition(const std::atomic<bool>& stop);
  void DiskFull(const std::atomic<bool>& stop);
  void Restart(const Server& s);

  Context* ctx_;
  ChaosCluster* cluster_;
  std::vector<std::string> kinds_;
  std::mt19937_64 rng_;
  std::map<std::string, int> counts_;
  std::set<std::string> down_;  // servers the nemesis killed, by name
  std::string last_zone_;
  bool halted_ = false;
  std::set<int> dead_mounts_;  // mounts reported dead
};

}  // namespace dfs::chaos
