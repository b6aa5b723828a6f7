#include "tests/support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace dfs::testing {

int FreePort() {
  // The kernel may hand the same ephemeral port to two binds in a row once
  // the first socket is closed, so a process never gives out a port twice.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    if (port > 0 && given.insert(port).second) return port;
  }
  return -1;
}

std::string BinDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

Process::~Process() {
  if (pid_ > 0) Kill();
}

int LoggedHttpPort(const std::string& log) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  const std::regex line("serving /metrics and /healthz on http port ([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    std::smatch m;
    if (std::regex_search(s, m, line)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

ToolRun RunTool(const std::vector<std::string>& argv, const std::string& log_path) {
  ToolRun run;
  pid_t pid = Spawn(argv, log_path, SIGKILL);
  if (pid <= 0) return run;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log_path);
  std::ostringstream text;
  text << in.rdbuf();
  run.output = text.str();
  return run;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path, int death_signal) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  prctl(PR_SET_PDEATHSIG, death_signal);
  execv(args[0], args.data());
  _exit(127);
}

bool Process::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  // Dies with the test, even when the test itself is killed.
  pid_t pid = Spawn(argv, log_path, SIGKILL);
  if (pid < 0) return false;
  pid_ = pid;
  return true;
}

bool PausedProcesses::Pause(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) return false;
  pids_.push_back(pid);
  return true;
}

void PausedProcesses::Resume() {
  for (auto it = pids_.rbegin(); it != pids_.rend(); ++it)
    kill(*it, SIGCONT);
  pids_.clear();
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::Wait() {
  int status = 0;
  if (pid_ > 0) waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void Process::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait();
}

}  // namespace dfs::testing
