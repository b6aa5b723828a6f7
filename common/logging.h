// Logging for every dfs process.
//
//   DFS_LOG(INFO) << "chunk " << id << " repaired from node " << node;
//   DFS_LOG_IF(WARN, lag > limit) << "follower " << peer << " lags by " << lag;
//
// Levels, lowest first: TRACE, DEBUG, INFO, WARN, ERROR. A statement below the
// current level costs one relaxed atomic load and a branch: its stream
// arguments are not evaluated. Lines go to stderr (the journal, under
// systemd) through spdlog, prefixed with time, level, process name, thread
// and source location. Use DFS_CHECK, not a log level, for broken invariants.
#pragma once

#include <atomic>
#include <sstream>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dfs {

// Severity of a log line; kOff as a threshold silences everything.
enum class LogLevel : int { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace", "debug", "info", "warn" (or "warning"), "error", "off",
// ignoring case. Anything else is INVALID_ARGUMENT.
Result<LogLevel> ParseLogLevel(std::string_view name);

// "trace" ... "off".
const char* LogLevelName(LogLevel level);

// Sets up logging for a process: the threshold from `level` (as for
// ParseLogLevel) and `process_name` on every line. Call once, early in main;
// lines logged before it go to stderr at level INFO under the name "dfs".
// A bad level is INVALID_ARGUMENT and changes nothing.
Status InitLogging(const std::string& level, const std::string& process_name);

// Lines below `level` are dropped from now on. Thread-safe.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

namespace internal {

// The current threshold; read on every DFS_LOG, hence inline and atomic.
inline std::atomic<int> g_log_threshold{static_cast<int>(LogLevel::kInfo)};

// Collects one log line; its destructor hands it to the sink.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Turns the streamed expression into void so that it fits in a ?: branch.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal

// True if a line at `level` would be written.
inline bool ShouldLog(LogLevel level) {
  return static_cast<int>(level) >= internal::g_log_threshold.load(std::memory_order_relaxed);
}

}  // namespace dfs

#define DFS_LOG(level) DFS_LOG_IF(level, true)

#define DFS_LOG_IF(level, cond)                           \
  !(::dfs::ShouldLog(DFS_LOG_LEVEL_##level##_) && (cond)) \
      ? (void)0                                           \
      : ::dfs::internal::LogVoidify() &                   \
            ::dfs::internal::LogMessage(DFS_LOG_LEVEL_##level##_, __FILE__, __LINE__).stream()

// Level names for the macros, spelled through ## so that a stray -DDEBUG or
// -DERROR on the command line cannot break DFS_LOG(DEBUG).
#define DFS_LOG_LEVEL_TRACE_ ::dfs::LogLevel::kTrace
#define DFS_LOG_LEVEL_DEBUG_ ::dfs::LogLevel::kDebug
#define DFS_LOG_LEVEL_INFO_ ::dfs::LogLevel::kInfo
#define DFS_LOG_LEVEL_WARN_ ::dfs::LogLevel::kWarn
#define DFS_LOG_LEVEL_ERROR_ ::dfs::LogLevel::kError
