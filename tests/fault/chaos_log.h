// The chaos run's log and its tally: one log file (chaos.log in the run's
// directory) that every thread appends timestamped lines to, and the
// counters the last line prints.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

namespace dfs::chaos {

class Log {
 public:
  explicit Log(const std::string& path)
      : file_(std::fopen(path.c_str(), "ae")), start_(std::chrono::steady_clock::now()) {}
  ~Log() {
    if (file_) std::fclose(file_);
  }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Seconds since the run started, as the log's timestamps show them.
  double Now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // One line in the log file.
  void Line(const std::string& text) { Write(text, false); }
  // One line in the log file and on stderr.
  void Say(const std::string& text) { Write(text, true); }

 private:
  void Write(const std::string& text, bool also_stderr) {
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%9.3f] ", Now());
    std::lock_guard lock(mu_);
    if (file_) {
      std::fputs(stamp, file_);
      std::fputs(text.c_str(), file_);
      std::fputc('\n', file_);
      std::fflush(file_);
    }
    if (also_stderr) std::fprintf(stderr, "%s%s\n", stamp, text.c_str());
  }

  std::mutex mu_;
  std::FILE* file_;
  const std::chrono::steady_clock::time_point start_;
};

// What the run counts. `lost` and `corrupt` are acknowledged data gone or
// wrong; `app_errors` every error a workload call returned; `failures`
// anything else that fails the run (a daemon died unasked, no heal, fsck).
struct Tally {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> faults{0};
  std::atomic<uint64_t> lost{0};
  std::atomic<uint64_t> corrupt{0};
  std::atomic<uint64_t> app_errors{0};
  std::atomic<uint64_t> failures{0};

  // The longest a single workload operation took: the longest pause the
  // application saw.
  void Took(double ms, const std::string& what) {
    std::lock_guard lock(mu_);
    if (ms <= longest_ms_) return;
    longest_ms_ = ms;
    longest_what_ = what;
  }
  double longest_ms() const {
    std::lock_guard lock(mu_);
    return longest_ms_;
  }
  std::string longest_what() const {
    std::lock_guard lock(mu_);
    return longest_what_;
  }

 private:
  mutable std::mutex mu_;
  double longest_ms_ = 0;
  std::string longest_what_;
};

// The run's shared state, handed to the workload, the nemesis and the checker.
struct Context {
  Log* log;
  Tally* tally;
  uint64_t seed;
  uint64_t chunk_size;
  std::string dir;  // the run's directory
  // Called with a file's path from the file system's root when a read
  // returned other bytes than acknowledged, with what was read, so that
  // the run can keep evidence (the bytes, `dfsadmin file`).
  std::function<void(const std::string& path, const std::string& got)> on_mismatch;

  void Fail(const std::string& what) {
    tally->failures++;
    log->Say("FAIL " + what);
  }
  void Lost(const std::string& what) {
    tally->lost++;
    log->Say("LOST " + what);
  }
  void Corrupt(const std::string& what) {
    tally->corrupt++;
    log->Say("CORRUPT " + what);
  }
  void AppError(const std::string& what) {
    tally->app_errors++;
    log->Say("APP_ERROR " + what);
  }
};

}  // namespace dfs::chaos
