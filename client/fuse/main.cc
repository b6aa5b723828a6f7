// dfs-mount (also installed as mount.dfs): mounts a dfs cluster with FUSE
// (DESIGN §5, docs/mount.md).
//
//   dfs-mount --meta 10.0.0.1:7001,10.0.0.2:7001,10.0.0.3:7001 /mnt/dfs -o allow_other,zone=a
//   mount -t dfs 10.0.0.1:7001,10.0.0.2:7001,10.0.0.3:7001 /mnt/dfs -o allow_other
//
// Without `foreground` the command returns once the mount works (exit 0)
// or failed (exit 32, the reason on stderr), leaving a daemon behind.
// libfuse's fuse_daemonize cannot say so: its parent exits as soon as it
// forks, and the FileSystem's gRPC threads must be started after the fork.
// So the process forks first, the child connects and mounts, then tells the
// waiting parent. Unmounting (umount, fusermount3 -u) ends the daemon after
// every open file is flushed; it exits 0.
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "client/file_system.h"
#include "client/fuse/fuse_ops.h"
#include "client/fuse/mount_options.h"
#include "common/http_status.h"
#include "common/logging.h"
#include "proto/tls.h"

namespace dfs::client {
namespace {

// Exit codes as mount(8) defines them for helpers.
constexpr int kExitUsage = 1;
constexpr int kExitFailure = 32;

// Worker threads: each may wait on the network for a whole call. Idle
// workers are kept (libfuse's default): libfuse 3.14 discourages destroying
// them, and doing so (fuse_loop_cfg_set_idle_threads) corrupted the heap
// under bursts of requests.
constexpr unsigned kMaxThreads = 64;

std::string g_program = "dfs-mount";

int Fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", g_program.c_str(), what.c_str());
  DFS_LOG(ERROR) << what;
  return kExitFailure;
}

// The parent of a background mount: waits for the child's verdict.
int WaitForDaemon(int ready_fd) {
  char verdict = 1;
  ssize_t n;
  do {
    n = read(ready_fd, &verdict, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1 && verdict == 0 ? 0 : kExitFailure;
}

// The child of a background mount, once mounted: a daemon from now on.
void Detach(int ready_fd) {
  setsid();
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (null_fd > 2) close(null_fd);
  }
  const char ok = 0;
  if (write(ready_fd, &ok, 1) != 1) DFS_LOG(WARN) << "cannot tell the parent the mount is up";
  close(ready_fd);
}

// /metrics of a mount: what it asked of the cluster and how its cache did.
std::string MountMetrics(const FileSystem& fs) {
  FileSystemStats st = fs.stats();
  const double lookups = static_cast<double>(st.cache_hits + st.cache_misses);
  MetricsText m;
  m.Counter("dfs_mount_chunk_reads_total", "reads sent to chunk servers",
            static_cast<double>(st.chunk_reads))
      .Counter("dfs_mount_chunk_read_bytes_total", "bytes read from chunk servers",
               static_cast<double>(st.chunk_read_bytes))
      .Counter("dfs_mount_chunk_writes_total", "chain writes sent",
               static_cast<double>(st.chunk_writes))
      .Counter("dfs_mount_chain_retries_total", "chain writes sent again after a replica failed",
               static_cast<double>(st.chain_retries))
      .Labeled("dfs_mount_cache_lookups_total", "counter", "block cache lookups", "result",
               {{"hit", static_cast<double>(st.cache_hits)},
                {"miss", static_cast<double>(st.cache_misses)}})
      .Gauge("dfs_mount_cache_hit_ratio", "block cache hits over lookups since start",
             lookups == 0 ? 0 : static_cast<double>(st.cache_hits) / lookups);
  return m.text();
}

// /healthz of a mount: the root answers a fresh getattr from the cluster.
Status MountHealth(FileSystem& fs) {
  RETURN_IF_ERROR(fs.GetAttr(Caller{}, FUSE_ROOT_ID).status(), "stat of the root");
  return Status::Ok();
}

// Mounts and serves until unmounted. `ready_fd` >= 0: a background mount.
int Serve(const MountOptions& o, int ready_fd) {
  Status s = InitLogging(o.debug ? "debug" : "info", "dfs-mount");
  if (!s.ok()) return Fail(s.ToString());

  Result<std::unique_ptr<FileSystem>> fs = FileSystem::Open(o.fs);
  if (!fs.ok()) return Fail("cannot reach the cluster: " + fs.status().ToString());
  FuseMount mount(fs->get(), FuseMountOptions{o.attr_timeout, o.entry_timeout});

  std::vector<std::string> args = FuseSessionArgs(o);
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&fargs, FuseMount::Ops(), sizeof(fuse_lowlevel_ops), &mount);
  fuse_opt_free_args(&fargs);
  if (se == nullptr) return Fail("cannot create the FUSE session (see above)");
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    return Fail("cannot install signal handlers");
  }
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return Fail("cannot mount on " + o.mountpoint + " (see above)");
  }
  mount.SetSession(se);
  DFS_LOG(INFO) << "mounted cluster " << (*fs)->cluster_id() << " on " << o.mountpoint;
  if (chdir("/") != 0) DFS_LOG(WARN) << "chdir /: " << std::strerror(errno);
  if (ready_fd >= 0) Detach(ready_fd);

  std::unique_ptr<StatusHttp> http;
  if (!o.http.empty()) {
    FileSystem* served = fs->get();
    auto started =
        StatusHttp::Start(StatusHttpOptions{o.http, [served] { return MountMetrics(*served); },
                                            [served] { return MountHealth(*served); }});
    if (!started.ok()) DFS_LOG(ERROR) << "no /metrics: " << started.status();
    if (started.ok()) http = std::move(started).value();
    if (http) DFS_LOG(INFO) << "serving /metrics and /healthz on http port " << http->port();
  }

  // What other mounts change reaches this kernel at once (DESIGN §5).
  (*fs)->SetInvalidationHandler(
      [&mount](const pb::WatchEvent& event) { mount.ForwardInvalidation(event); });

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(loop, 1);
  fuse_loop_cfg_set_max_threads(loop, kMaxThreads);
  // 0 after an unmount, the signal number after SIGTERM/SIGINT/SIGHUP,
  // negative on a broken connection.
  const int loop_result = fuse_session_loop_mt(se, loop);
  fuse_loop_cfg_destroy(loop);

  http.reset();
  (*fs)->SetInvalidationHandler(nullptr);
  mount.SetSession(nullptr);
  fuse_session_unmount(se);  // after a signal; a no-op after umount
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);  // runs Destroy: flushes what is still open
  fs->reset();
  if (loop_result < 0) {
    DFS_LOG(ERROR) << "FUSE session failed: " << std::strerror(-loop_result);
    return kExitFailure;
  }
  DFS_LOG(INFO) << "unmounted " << o.mountpoint;
  return 0;
}

int Main(int argc, char** argv) {
  const char* slash = std::strrchr(argv[0], '/');
  g_program = slash ? slash + 1 : argv[0];
  Result<MountOptions> parsed = ParseMountArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s: %s\n%s", g_program.c_str(), parsed.status().message().c_str(),
                 MountUsage().c_str());
    return kExitUsage;
  }
  MountOptions o = std::move(*parsed);
  if (o.help) {
    std::fputs(MountUsage().c_str(), stdout);
    return 0;
  }
  // An absolute mount point: the daemon leaves the working directory, and
  // the unmount after a signal uses the path.
  char real[PATH_MAX];
  if (realpath(o.mountpoint.c_str(), real) == nullptr)
    return Fail("mount point " + o.mountpoint + ": " + std::strerror(errno));
  struct stat st;
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    return Fail("mount point " + o.mountpoint + " is not a directory");
  o.mountpoint = real;
  // Read now: the daemon leaves the working directory, relative paths too.
  if (Status s = tls::Configure({o.tls_ca, o.tls_cert, o.tls_key}); !s.ok())
    return Fail(s.message());
  if (o.fake) return 0;

  if (o.foreground) return Serve(o, -1);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return Fail(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) return Fail(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) {
    close(ready[1]);
    return WaitForDaemon(ready[0]);
  }
  close(ready[0]);
  return Serve(o, ready[1]);
}

}  // namespace
}  // namespace dfs::client

int main(int argc, char** argv) {
  return dfs::client::Main(argc, argv);
}
