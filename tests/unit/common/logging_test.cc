#include "common/logging.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/unit/temp_dir.h"

namespace dfs {
namespace {

// Sends everything written to fd 2 to a file until Stop(), which returns it.
class StderrCapture {
 public:
  explicit StderrCapture(const testing::TempDir& dir) : path_(dir.path() + "/stderr") {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Stop(); }

  std::string Stop() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
    std::ifstream in(path_);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

// Restores the global log level when a test ends.
struct LevelGuard {
  LogLevel saved = GetLogLevel();
  ~LevelGuard() { SetLogLevel(saved); }
};

TEST_CASE("log level names parse in any case", "[logging]") {
  CHECK(*ParseLogLevel("trace") == LogLevel::kTrace);
  CHECK(*ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(*ParseLogLevel("INFO") == LogLevel::kInfo);
  CHECK(*ParseLogLevel("warn") == LogLevel::kWarn);
  CHECK(*ParseLogLevel("Warning") == LogLevel::kWarn);
  CHECK(*ParseLogLevel("error") == LogLevel::kError);
  CHECK(*ParseLogLevel("off") == LogLevel::kOff);

  Result<LogLevel> bad = ParseLogLevel("verbose");
  CHECK(bad.status().code() == ErrorCode::INVALID_ARGUMENT);
  CHECK_THAT(bad.status().message(), Catch::Contains("'verbose'"));
  CHECK_FALSE(ParseLogLevel("").ok());
  CHECK_FALSE(ParseLogLevel("infos").ok());

  for (LogLevel level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                         LogLevel::kError, LogLevel::kOff}) {
    CHECK(*ParseLogLevel(LogLevelName(level)) == level);
  }
}

TEST_CASE("the threshold decides what is logged", "[logging]") {
  LevelGuard guard;
  SetLogLevel(LogLevel::kWarn);
  CHECK(GetLogLevel() == LogLevel::kWarn);
  CHECK_FALSE(ShouldLog(LogLevel::kInfo));
  CHECK(ShouldLog(LogLevel::kWarn));
  CHECK(ShouldLog(LogLevel::kError));
  SetLogLevel(LogLevel::kOff);
  CHECK_FALSE(ShouldLog(LogLevel::kError));
}

TEST_CASE("a statement below the threshold does not evaluate its arguments", "[logging]") {
  LevelGuard guard;
  SetLogLevel(LogLevel::kInfo);
  int evaluations = 0;
  auto expensive = [&] { return ++evaluations; };
  DFS_LOG(DEBUG) << "value " << expensive();
  DFS_LOG(TRACE) << "value " << expensive();
  DFS_LOG_IF(ERROR, false) << "value " << expensive();
  CHECK(evaluations == 0);

  testing::TempDir dir;
  StderrCapture capture(dir);
  DFS_LOG(INFO) << "value " << expensive();
  capture.Stop();
  CHECK(evaluations == 1);
}

TEST_CASE("InitLogging validates the level and names the process", "[logging]") {
  LevelGuard guard;
  SetLogLevel(LogLevel::kWarn);
  Status bad = InitLogging("loud", "unit-common");
  CHECK(bad.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(GetLogLevel() == LogLevel::kWarn);  // unchanged

  REQUIRE(InitLogging("info", "unit-common").ok());
  CHECK(GetLogLevel() == LogLevel::kInfo);

  testing::TempDir dir;
  StderrCapture capture(dir);
  DFS_LOG(INFO) << "replica " << 7 << " repaired";
  DFS_LOG(DEBUG) << "not shown";
  DFS_LOG_IF(WARN, 2 > 1) << "lagging follower";
  std::string output = capture.Stop();

  CHECK_THAT(output, Catch::Contains("replica 7 repaired"));
  CHECK_THAT(output, Catch::Contains("unit-common"));
  CHECK_THAT(output, Catch::Contains("logging_test.cc:"));
  CHECK_THAT(output, Catch::Contains("lagging follower"));
  CHECK_THAT(output, !Catch::Contains("not shown"));
}

}  // namespace
}  // namespace dfs
