#include "tools/dfsadmin/health_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/units.h"

namespace dfs::admin {

namespace {

constexpr size_t kCanaryBytes = 4096;

// One line of /proc/self/mountinfo, the fields the check needs.
struct MountEntry {
  std::string mount_point;
  std::string fstype;
  std::string source;  // a dfs mount's fsname: its meta servers
};

// mountinfo writes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); i++) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// The mount holding `path` (canonical): the entry with the longest mount
// point that is `path` or a parent of it; the last such entry wins, as
// later mounts hide earlier ones.
Result<MountEntry> MountOf(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Status::FromErrno(errno, "reading /proc/self/mountinfo");
  MountEntry best;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, word;
    fields >> id >> parent >> dev >> root >> mount_point;
    while (fields >> word && word != "-") {
    }
    MountEntry entry;
    entry.mount_point = Unescape(mount_point);
    fields >> entry.fstype >> entry.source;
    entry.source = Unescape(entry.source);
    const std::string& mp = entry.mount_point;
    bool holds =
        path == mp || mp == "/" ||
        (path.size() > mp.size() && path.compare(0, mp.size(), mp) == 0 && path[mp.size()] == '/');
    if (holds && (!found || mp.size() >= best.mount_point.size())) {
      best = std::move(entry);
      found = true;
    }
  }
  if (!found) return Status::NotFound("no mount holds " + path);
  return best;
}

std::string CanaryName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return ".dfs-health-" + std::string(host) + "-" + std::to_string(getpid());
}

// What the worker thread and the waiting caller share; it outlives
// whichever of them finishes last.
struct Probe {
  std::mutex mu;
  std::condition_variable changed;
  std::string current;  // the step running now
  std::vector<HealthStep> done;
  std::string detail;
  bool finished = false;
};

// The steps, run on the worker thread. Stops at the first failure.
class CanaryTest {
 public:
  CanaryTest(std::shared_ptr<Probe> probe, std::string dir)
      : probe_(std::move(probe)), dir_(std::move(dir)), canary_(dir_ + "/" + CanaryName()) {}

  void Run() {
    bool ok = Step("stat", [&] { return CheckDfsMount(); }) &&
              Step("create", [&] { return Open(O_WRONLY | O_CREAT | O_EXCL, "creating"); }) &&
              Step("write", [&] { return Write(); }) &&
              Step("fsync", [&] { return Errno(fsync(fd_), "fsync of"); }) &&
              Step("close", [&] { return Close(); }) &&
              Step("reopen", [&] { return Open(O_RDONLY, "reopening"); }) &&
              Step("read", [&] { return ReadBack(); }) && Step("unlink", [&] {
                created_ = false;
                return Errno(unlink(canary_.c_str()), "unlinking");
              });
    if (!ok) {
      // Leave nothing behind; these are not steps of their own.
      if (fd_ >= 0) close(fd_);
      if (created_) unlink(canary_.c_str());
    }
    std::lock_guard<std::mutex> lock(probe_->mu);
    probe_->finished = true;
    probe_->changed.notify_all();
  }

 private:
  bool Step(const char* name, const std::function<Status()>& step) {
    {
      std::lock_guard<std::mutex> lock(probe_->mu);
      probe_->current = name;
    }
    auto start = std::chrono::steady_clock::now();
    Status s = step();
    HealthStep done{name, std::chrono::steady_clock::now() - start, s};
    std::lock_guard<std::mutex> lock(probe_->mu);
    probe_->done.push_back(std::move(done));
    probe_->changed.notify_all();
    return s.ok();
  }

  Status Errno(int rc, const std::string& what) {
    if (rc == 0) return Status::Ok();
    return Status::FromErrno(errno, what + " " + canary_);
  }

  Status CheckDfsMount() {
    struct stat st;
    if (stat(dir_.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + dir_);
    if (!S_ISDIR(st.st_mode)) return Status::NotADirectory(dir_ + " is not a directory");
    char real[PATH_MAX];
    if (realpath(dir_.c_str(), real) == nullptr)
      return Status::FromErrno(errno, "resolving " + dir_);
    ASSIGN_OR_RETURN(MountEntry mount, MountOf(real));
    std::string detail = mount.fstype + " at " + mount.mount_point;
    if (mount.fstype == "fuse.dfs") detail += ", meta " + mount.source;
    {
      std::lock_guard<std::mutex> lock(probe_->mu);
      probe_->detail = detail;
    }
    if (mount.fstype != "fuse.dfs") {
      return Status::InvalidArgument(dir_ + " is not on a dfs mount (it is on " + detail + ")");
    }
    return Status::Ok();
  }

  Status Open(int flags, const std::string& what) {
    fd_ = open(canary_.c_str(), flags | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::FromErrno(errno, what + " " + canary_);
    if (flags & O_CREAT) created_ = true;
    return Status::Ok();
  }

  Status Close() {
    int fd = fd_;
    fd_ = -1;
    return Errno(close(fd), "closing");
  }

  Status Write() {
    std::mt19937_64 random(std::random_device{}());
    data_.resize(kCanaryBytes);
    for (char& c : data_)
      c = static_cast<char>(random());
    for (size_t off = 0; off < data_.size();) {
      ssize_t n = pwrite(fd_, data_.data() + off, data_.size() - off, static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "writing " + canary_);
      off += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status ReadBack() {
    std::string got(data_.size() + 1, '\0');  // one more: a longer file is wrong too
    size_t have = 0;
    while (have < got.size()) {
      ssize_t n = pread(fd_, got.data() + have, got.size() - have, static_cast<off_t>(have));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "reading " + canary_);
      if (n == 0) break;
      have += static_cast<size_t>(n);
    }
    got.resize(have);
    if (got.size() != data_.size()) {
      return Status::Corrupt("read back " + std::to_string(got.size()) + " bytes of " + canary_ +
                             ", wrote " + std::to_string(data_.size()));
    }
    if (got != data_) return Status::Corrupt("read back other bytes than written to " + canary_);
    return Close();
  }

  std::shared_ptr<Probe> probe_;
  const std::string dir_;
  const std::string canary_;
  int fd_ = -1;
  bool created_ = false;
  std::string data_;
};

}  // namespace

bool HealthReport::healthy() const {
  if (steps.empty()) return false;
  for (const HealthStep& s : steps) {
    if (!s.status.ok()) return false;
  }
  return true;
}

HealthReport CheckMount(const std::string& dir, std::chrono::milliseconds step_timeout) {
  auto probe = std::make_shared<Probe>();
  std::thread([probe, dir] { CanaryTest(probe, dir).Run(); }).detach();
  HealthReport report;
  report.mount = dir;
  std::unique_lock<std::mutex> lock(probe->mu);
  size_t seen = 0;
  while (true) {
    // Each step gets its own time, counted from when the last one ended.
    bool moved = probe->changed.wait_for(
        lock, step_timeout, [&] { return probe->finished || probe->done.size() > seen; });
    if (!moved) {
      report.steps = probe->done;
      report.steps.push_back({probe->current, step_timeout,
                              Status::Timeout("no answer within " + FormatDuration(step_timeout) +
                                              " (a hung mount; the canary may be left behind)")});
      break;
    }
    seen = probe->done.size();
    if (probe->finished) {
      report.steps = probe->done;
      break;
    }
  }
  report.detail = probe->detail;
  return report;
}

}  // namespace dfs::admin
