#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>  // also the stderr sinks
#include <spdlog/spdlog.h>

#include <cctype>
#include <memory>

namespace dfs {
namespace {

struct LevelName {
  const char* name;
  LogLevel level;
};
constexpr LevelName kLevelNames[] = {
    {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},  {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},   {"warning", LogLevel::kWarn}, {"error", LogLevel::kError},
    {"off", LogLevel::kOff},
};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      break;
  }
  return spdlog::level::off;
}

// spdlog pattern for `process_name`: time, level letter, process, thread,
// file:line, message. The name is baked in (with % escaped) rather than being
// the logger's name so that the one logger never has to be replaced.
std::string Pattern(const std::string& process_name) {
  std::string name;
  for (char c : process_name) {
    if (c == '%') name.push_back('%');
    name.push_back(c);
  }
  return "%Y-%m-%d %H:%M:%S.%f %^%L%$ " + name + "[%t] %s:%# %v";
}

// The one logger of the process. Created on first use and never destroyed,
// so that lines logged from static destructors or late threads still work.
// Its own level is trace: filtering happens in ShouldLog, before any work.
spdlog::logger& Logger() {
  static spdlog::logger* const logger = [] {
    auto* created =
        new spdlog::logger("dfs", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::warn);
    created->set_pattern(Pattern("dfs"));
    return created;
  }();
  return *logger;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view name) {
  for (const LevelName& entry : kLevelNames) {
    if (EqualsIgnoreCase(name, entry.name)) return entry.level;
  }
  return Status::InvalidArgument("unknown log level '" + std::string(name) +
                                 "' (expected trace, debug, info, warn, error or off)");
}

const char* LogLevelName(LogLevel level) {
  for (const LevelName& entry : kLevelNames) {
    if (entry.level == level) return entry.name;
  }
  return "unknown";
}

Status InitLogging(const std::string& level, const std::string& process_name) {
  ASSIGN_OR_RETURN(LogLevel threshold, ParseLogLevel(level));
  Logger().set_pattern(Pattern(process_name));
  SetLogLevel(threshold);
  return Status::Ok();
}

void SetLogLevel(LogLevel level) {
  internal::g_log_threshold.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel GetLogLevel() {
  return static_cast<LogLevel>(internal::g_log_threshold.load(std::memory_order_relaxed));
}

namespace internal {

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  std::string text = stream_.str();
  Logger().log(spdlog::source_loc{file_, line_, ""}, ToSpdlog(level_),
               spdlog::string_view_t(text.data(), text.size()));
}

}  // namespace internal
}  // namespace dfs
