// mount-bench: fio through a dfs mount against fio on the local disk,
// side by side in the same run.
//
//   mount-bench [--size 1G] [--seconds 10] [--dir DIR]
//
// Starts a local cluster (3 dfs-meta, 3 dfs-chunkserver in 3 zones, one
// dfs-mount with a disk block cache), then runs the same fio jobs on the
// mount and on a directory of the local disk:
//   seq write 1 MiB (end_fsync), seq read 1 MiB cold (page cache dropped;
//   for dfs also a fresh mount with an empty block cache), seq read 1 MiB
//   warm (again, everything cached), rand read 4 KiB (cold), rand write
//   4 KiB (end_fsync).
// Prints MB/s, IOPS and dfs / local for each, with the targets.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/fio_runner.h"
#include "tests/support/mounted_cluster.h"

namespace dfs::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string size = "1G";
  int seconds = 10;
  std::string dir;
};

struct Row {
  const char* name;
  FioResult dfs, local;
  const char* target;  // "" when the issue sets none
};

FioJob Job(const std::string& dir, const std::string& rw, const std::string& bs, const Options& o) {
  FioJob j;
  j.directory = dir;
  j.rw = rw;
  j.block_size = bs;
  j.size = o.size;
  j.end_fsync = rw.find("write") != std::string::npos;
  if (rw.rfind("rand", 0) == 0) j.runtime_seconds = o.seconds;
  return j;
}

int Run(const Options& o) {
  std::string dir = o.dir.empty() ? "/var/tmp/mount-bench-" + std::to_string(::getpid()) : o.dir;
  fs::remove_all(dir);
  fs::create_directories(dir + "/local");
  testing::MountedClusterOptions co;
  co.chunk_size = "64MiB";
  co.chunk_args = {"--scrub-rate", "0"};
  testing::MountedCluster cluster(co);
  if (!cluster.ok()) {
    std::fprintf(stderr, "mount-bench: the cluster did not start (logs in %s)\n",
                 cluster.dir().c_str());
    return 1;
  }
  const std::string cache = cluster.NewDir("cache");
  auto mount_opts = [&] {
    return std::vector<std::string>{"allow_other", "zone=z1", "cache_dir=" + cache,
                                    "cache_size=4GiB"};
  };
  testing::Mount* m = cluster.AddMount(mount_opts());
  if (!m) {
    std::fprintf(stderr, "mount-bench: the mount did not come up\n");
    return 1;
  }
  const std::string local = dir + "/local";
  std::printf(
      "mount-bench: fio (psync, 1 job) on a dfs mount (3 meta, 3 chunk servers, "
      "loopback) and on %s, size %s, 2 cores\n",
      local.c_str(), o.size.c_str());

  std::vector<Row> rows;
  // Sequential write.
  Row w{"seq write 1MiB", RunFio(Job(m->path(), "write", "1M", o)),
        RunFio(Job(local, "write", "1M", o)), ">= 0.30"};
  rows.push_back(w);

  // Cold sequential read: no page cache, and for dfs no block cache either
  // (a fresh mount on an empty cache directory).
  m->Unmount();
  fs::remove_all(cache);
  fs::create_directories(cache);
  m = cluster.AddMount(mount_opts());
  if (!m) return 1;
  DropCaches();
  FioResult dfs_cold = RunFio(Job(m->path(), "read", "1M", o));
  DropCaches();
  FioResult local_cold = RunFio(Job(local, "read", "1M", o));
  rows.push_back({"seq read 1MiB cold", dfs_cold, local_cold, ">= 0.50"});

  // Warm: read again, caches kept (fio would drop the page cache first):
  // dfs serves from the kernel page cache (keep_cache) and its block cache.
  FioJob warm_dfs = Job(m->path(), "read", "1M", o);
  FioJob warm_local = Job(local, "read", "1M", o);
  warm_dfs.invalidate = warm_local.invalidate = false;
  RunFio(warm_dfs);  // the cold run above may not have filled every cache
  FioResult dfs_warm = RunFio(warm_dfs);
  RunFio(warm_local);
  FioResult local_warm = RunFio(warm_local);
  rows.push_back({"seq read 1MiB warm", dfs_warm, local_warm, ">= 0.70"});

  DropCaches();
  FioResult dfs_rr = RunFio(Job(m->path(), "randread", "4k", o));
  DropCaches();
  FioResult local_rr = RunFio(Job(local, "randread", "4k", o));
  rows.push_back({"rand read 4KiB", dfs_rr, local_rr, ""});

  FioResult dfs_rw = RunFio(Job(m->path(), "randwrite", "4k", o));
  FioResult local_rw = RunFio(Job(local, "randwrite", "4k", o));
  rows.push_back({"rand write 4KiB", dfs_rw, local_rw, ""});

  std::printf("%-20s %10s %10s %10s %10s %8s  %s\n", "", "dfs MB/s", "dfs IOPS", "disk MB/s",
              "disk IOPS", "ratio", "target");
  bool all_ok = true;
  for (const Row& r : rows) {
    all_ok = all_ok && r.dfs.ok && r.local.ok;
    std::printf("%-20s %10.1f %10.0f %10.1f %10.0f %8.2f  %s%s\n", r.name, r.dfs.mb_per_s,
                r.dfs.iops, r.local.mb_per_s, r.local.iops,
                r.local.mb_per_s > 0 ? r.dfs.mb_per_s / r.local.mb_per_s : 0, r.target,
                r.dfs.ok && r.local.ok ? "" : "  (fio failed)");
  }
  m->Unmount();
  if (o.dir.empty() && !std::getenv("KEEP_TEST_DIR")) fs::remove_all(dir);
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  dfs::bench::Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: mount-bench [--size 1G] [--seconds 10] [--dir DIR]\n");
      return 2;
    }
    if (a == "--size") {
      o.size = argv[++i];
    } else if (a == "--seconds") {
      o.seconds = std::atoi(argv[++i]);
    } else if (a == "--dir") {
      o.dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: mount-bench [--size 1G] [--seconds 10] [--dir DIR]\n");
      return 2;
    }
  }
  return dfs::bench::Run(o);
}
