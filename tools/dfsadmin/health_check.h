// `dfsadmin health --mount DIR`: a self-test of one dfs mount, for a load
// balancer's health probe on a web node. It checks that DIR is on a dfs
// mount (fstype fuse.dfs in /proc/self/mountinfo), then does what a web
// application does with a file: create a canary DIR/.dfs-health-HOST-PID
// (O_CREAT|O_EXCL), write 4 KiB of random bytes, fsync, close, reopen, read
// them back and compare, unlink.
//
// A hung FUSE call may never return, so the steps run on a thread of
// their own, and each step that does not finish within the timeout fails
// the check; the thread is then left behind (blocked in the kernel) and
// the caller should exit soon. Only the steps up to the first failure run,
// except that a canary already created is closed and unlinked (unless a
// step hung).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs::admin {

struct HealthStep {
  std::string name;  // stat, create, write, fsync, close, reopen, read (and close), unlink
  std::chrono::nanoseconds latency{0};
  Status status;  // why it failed; TIMEOUT if it did not finish in time
};

struct HealthReport {
  std::string mount;              // DIR as given
  std::string detail;             // what DIR is on: "fuse.dfs at /mnt/dfs, meta 10.0.0.1:7000,..."
  std::vector<HealthStep> steps;  // those that ran, the failed one last
  bool healthy() const;
};

// Runs the self-test in `dir`, giving each step up to `step_timeout`.
HealthReport CheckMount(const std::string& dir, std::chrono::milliseconds step_timeout);

}  // namespace dfs::admin
