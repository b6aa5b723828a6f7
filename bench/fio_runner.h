// Runs fio as the reference (or as the workload through a mount) and reads
// its JSON output: the one job's bandwidth and IOPS.
#pragma once

#include <string>

namespace dfs::bench {

struct FioResult {
  double mb_per_s = 0;  // 10^6 bytes per second
  double iops = 0;
  bool ok = false;
};

struct FioJob {
  std::string directory;
  std::string rw;          // write, read, randread, randwrite
  std::string block_size;  // 1M, 4k
  std::string size;        // per job file, e.g. 1G
  int iodepth = 1;
  bool direct = false;
  bool end_fsync = false;   // writes: count the final fsync in the time
  int runtime_seconds = 0;  // > 0: time based
  std::string engine = "psync";
  // fio drops the file's cached pages before the job unless told not to;
  // a "warm" run keeps them (the kernel page cache is part of the cache).
  bool invalidate = true;
};

// Drops clean page cache pages (root only); false if it could not.
bool DropCaches();

FioResult RunFio(const FioJob& job);

}  // namespace dfs::bench
