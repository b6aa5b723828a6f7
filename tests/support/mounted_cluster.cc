#include "tests/support/mounted_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace dfs::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

// Runs argv to completion; its exit status, or -1.
int Run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Waits up to `timeout` for `pid` to exit; its wait status, or -1 if it still runs.
int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return 0;  // not our child any more
    if (std::chrono::steady_clock::now() >= end) return -1;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

bool IsDfsMount(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint, word;
    fields >> id >> parent >> dev >> root >> mountpoint;
    while (fields >> word && word != "-") {
    }
    std::string type;
    fields >> type;
    if (mountpoint == path && type == "fuse.dfs") return true;
  }
  return false;
}

Mount::~Mount() {
  if (mounted_ && IsDfsMount(path_)) umount2(path_.c_str(), MNT_DETACH);
  if (pid_ > 0) {
    if (WaitFor(pid_, 10s) == -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
}

bool Mount::Start(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  // A test that dies takes its mounts along, cleanly: SIGTERM unmounts.
  pid_t pid = Spawn(argv, log_, SIGTERM);
  if (pid < 0) return false;
  pid_ = pid;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (IsDfsMount(path_)) {
      mounted_ = true;
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

int Mount::Unmount(bool fusermount, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (mounted_ && IsDfsMount(path_)) {
    bool done;
    if (fusermount) {
      done = Run({"fusermount3", "-u", path_}) == 0;
    } else {
      done = umount2(path_.c_str(), 0) == 0 || errno == EINVAL;
    }
    if (done) break;
    // EBUSY: the kernel may still hold a file that was just closed.
    if (std::chrono::steady_clock::now() >= end) return -1;
    std::this_thread::sleep_for(100ms);
  }
  mounted_ = false;
  if (pid_ <= 0) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(end - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(1s)));
  int status = WaitFor(pid_, left);
  if (status == -1) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

MountedCluster::MountedCluster(MountedClusterOptions options)
    : meta_(
          "dfs-meta", 3,
          [&] {
            std::vector<std::string> args = {"--chunk-size", options.chunk_size};
            args.insert(args.end(), options.meta_args.begin(), options.meta_args.end());
            return args;
          }(),
          options.dir),
      chunks_(meta_.dir() + "/chunk", options.chunk_servers, meta_.AddressList(),
              options.chunk_args) {
  ok_ = true;
  for (int i = 1; i <= options.chunk_servers; i++)
    ok_ = chunks_.WaitRegistered(i) && ok_;
}

MountedCluster::~MountedCluster() {
  for (auto& m : mounts_)
    if (m->mounted()) m->Unmount(false, 30s);
  mounts_.clear();
}

std::string MountedCluster::MetaAddresses() const {
  return Join(meta_.AddressList());
}

std::string MountedCluster::NewDir(const std::string& prefix) {
  std::string path = dir() + "/" + prefix + std::to_string(next_dir_++);
  fs::create_directories(path);
  return path;
}

Mount* MountedCluster::AddMount(const std::vector<std::string>& options,
                                std::chrono::milliseconds timeout) {
  const std::string path = NewDir("mnt");
  std::vector<std::string> o = options;
  o.push_back("foreground");
  auto m = std::make_unique<Mount>(path, path + ".log");
  if (!m->Start({BinDir() + "/dfs-mount", "--meta", MetaAddresses(), path, "-o", Join(o)},
                timeout)) {
    return nullptr;
  }
  mounts_.push_back(std::move(m));
  return mounts_.back().get();
}

}  // namespace dfs::testing
