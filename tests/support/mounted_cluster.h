// MountedCluster: a real dfs cluster (3 dfs-meta, N dfs-chunkserver in
// zones z1..zN) and any number of dfs-mount processes on it, for tests that
// go through the kernel with plain POSIX calls (tests/fuse/).
//
//   testing::MountedCluster cluster;             // starts and waits for the servers
//   testing::Mount* m = cluster.AddMount({"allow_other"});
//   REQUIRE(m != nullptr);                       // mounted and answering
//   ... open(m->path() + "/file", ...) ...
//   REQUIRE(m->Unmount() == 0);                  // dfs-mount's exit status
//
// Each mount runs `dfs-mount --meta ... DIR -o foreground,...` as a child
// (its output in <dir>/mount<i>.log); the destructor unmounts whatever is
// still mounted (lazily if busy) and stops every server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/chunk_servers.h"
#include "tests/support/server_group.h"

namespace dfs::testing {

struct MountedClusterOptions {
  std::string chunk_size = "4MiB";  // dfs-meta --chunk-size
  int chunk_servers = 3;
  std::vector<std::string> meta_args;   // more dfs-meta arguments
  std::vector<std::string> chunk_args;  // more dfs-chunkserver arguments
  // Where the servers keep their data and logs; empty: a fresh temporary
  // directory, removed at destruction unless KEEP_TEST_DIR is set.
  std::string dir;
};

// One dfs-mount process and its mount point.
class Mount {
 public:
  Mount(std::string path, std::string log_path)
      : path_(std::move(path)), log_(std::move(log_path)) {}
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  const std::string& path() const { return path_; }
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return pid_; }
  bool mounted() const { return mounted_; }

  // Runs `argv` (dfs-mount in the foreground) and waits until `path` is a
  // dfs mount; false if the process exits first or `timeout` passes.
  bool Start(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);
  // Unmounts with umount(2) (or `fusermount3 -u` if `fusermount`), retrying
  // while busy, and waits for dfs-mount to exit. Returns its exit status,
  // or -1 if it could not be unmounted or did not exit within `timeout`;
  // -2 if it died of a signal.
  int Unmount(bool fusermount = false,
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  std::string path_, log_;
  pid_t pid_ = -1;
  bool mounted_ = false;
};

class MountedCluster {
 public:
  // Starts the servers and waits until every chunk server has registered;
  // ok() says whether that worked.
  explicit MountedCluster(MountedClusterOptions options = {});
  ~MountedCluster();
  MountedCluster(const MountedCluster&) = delete;
  MountedCluster& operator=(const MountedCluster&) = delete;

  bool ok() const { return ok_; }

  // Mounts the cluster on a new directory under dir() with these -o
  // options (foreground is added); nullptr if the mount did not come up
  // (see the mount's log). The cluster owns the Mount.
  Mount* AddMount(const std::vector<std::string>& options = {"allow_other"},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // The dfs-meta addresses as dfs-mount takes them: HOST:PORT,HOST:PORT,...
  std::string MetaAddresses() const;
  // A new empty directory under dir() (e.g. a mount point or a cache dir).
  std::string NewDir(const std::string& prefix);
  const std::string& dir() const { return meta_.dir(); }
  ServerGroup& meta() { return meta_; }
  ChunkServers& chunks() { return chunks_; }

 private:
  ServerGroup meta_;
  ChunkServers chunks_;
  bool ok_ = false;
  int next_dir_ = 0;
  std::vector<std::unique_ptr<Mount>> mounts_;
};

// True if `path` is the mount point of a FUSE mount of type fuse.dfs
// (from /proc/self/mountinfo).
bool IsDfsMount(const std::string& path);

}  // namespace dfs::testing
