// Real processes for integration tests: start a binary with arguments and
// its output in a log file, signal it (kill -9, SIGSTOP), wait for it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace dfs::testing {

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
int FreePort();

// The directory holding the project's binaries (build/bin), found next to
// the running test binary.
std::string BinDir();

// Forks and execs `argv` (argv[0] a path) with stdout and stderr appended
// to `log_path`; the child gets `death_signal` when the test process dies.
// Returns the child's pid, or -1 if fork failed (exec failures exit 127).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path, int death_signal);

// One finished run of a command-line tool: its exit code (-1 if it did not
// exit normally) and what it wrote to stdout and stderr, together.
struct ToolRun {
  int exit_code = -1;
  std::string output;
};

// Runs `argv` to completion with its output in `log_path`, and reads it.
ToolRun RunTool(const std::vector<std::string>& argv, const std::string& log_path);

// The port of the /metrics and /healthz server a dfs daemon started with
// `--http HOST:0` (or a mount with `-o http=HOST:0`) logged into `log`;
// 0 if it did not within 20 s.
int LoggedHttpPort(const std::string& log);

// Processes a test stopped with SIGSTOP: continued by Resume() or at
// destruction (a failed REQUIRE must not leave a server stopped), the
// last one paused first.
class PausedProcesses {
 public:
  PausedProcesses() = default;
  ~PausedProcesses() { Resume(); }
  PausedProcesses(const PausedProcesses&) = delete;
  PausedProcesses& operator=(const PausedProcesses&) = delete;

  // Sends SIGSTOP; false if it could not be sent.
  bool Pause(pid_t pid);
  // Sends SIGCONT to every paused process.
  void Resume();

 private:
  std::vector<pid_t> pids_;
};

class Process {
 public:
  Process() = default;
  ~Process();  // kills the process if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts `argv[0]` (a path) with stdout and stderr appended to log_path.
  // Returns false if fork or exec failed.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path);
  // Sends a signal; SIGKILL is kill -9.
  void Signal(int sig);
  // Waits for exit; returns the wait status.
  int Wait();
  // SIGKILL and wait.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace dfs::testing
