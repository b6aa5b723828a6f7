// Runs code in a forked child, for tests of code that must abort the process
// (DFS_CHECK and everything built on it).
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

namespace dfs::testing {

// How a child run by RunInChild ended.
struct ChildResult {
  bool signaled = false;  // killed by a signal
  int signal = 0;         // which, if signaled
  int exit_code = -1;     // exit status otherwise
  std::string output;     // everything the child wrote to stdout and stderr

  bool Aborted() const { return signaled && signal == SIGABRT; }
};

// Forks, runs `body` in the child with its output captured and core dumps off,
// and exits the child with 0 if `body` returns. Call it while the process has
// a single thread: only the forking thread exists in the child.
inline ChildResult RunInChild(const std::function<void()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    // The test framework's own SIGABRT handler would report a failed test
    // from the child; the parent judges how the child died instead.
    std::signal(SIGABRT, SIG_DFL);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    body();
    std::fflush(stderr);
    _exit(0);
  }
  close(fds[1]);
  ChildResult result;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0)
    result.output.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace dfs::testing
