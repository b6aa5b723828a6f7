#include "tests/fault/nemesis.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace dfs::chaos {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// The last `n` lines of a log file, for a report.
std::string Tail(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& l : lines)
    out += "    | " + l + "\n";
  return out;
}

// The cgroup v2 hierarchy's mount point ("" if there is none).
std::string Cgroup2Root() {
  std::ifstream mounts("/proc/mounts");
  std::string device, path, type, rest;
  while (mounts >> device >> path >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return path;
  }
  return "";
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// Runs `op` (-I or -D) on every rule of the filter table in one
// iptables-restore commit: all take effect at once, never half of them.
bool IptablesBatch(const std::string& op, const std::vector<std::string>& rules) {
  FILE* restore = ::popen("iptables-restore -w --noflush 2>/dev/null", "w");
  if (restore == nullptr) return false;
  std::string batch = "*filter\n";
  for (const std::string& rule : rules)
    batch += op + " " + rule + "\n";
  batch += "COMMIT\n";
  bool written = std::fwrite(batch.data(), 1, batch.size(), restore) == batch.size();
  return ::pclose(restore) == 0 && written;
}

// The local ports of the TCP connections `pid` has open now (from ss),
// but `except`: the connections it made itself, to other servers.
std::vector<std::string> ConnectionPorts(pid_t pid, const std::string& except) {
  std::vector<std::string> ports;
  FILE* ss = ::popen("ss -tnpH state established 2>/dev/null", "r");
  if (ss == nullptr) return ports;
  const std::string owner = "pid=" + std::to_string(pid) + ",";
  char line[1024];
  while (std::fgets(line, sizeof(line), ss) != nullptr) {
    std::istringstream fields(line);
    std::string recv_q, send_q, local;
    if (std::string(line).find(owner) == std::string::npos ||
        !(fields >> recv_q >> send_q >> local)) {
      continue;
    }
    std::string port = local.substr(local.rfind(':') + 1);
    if (port != except) ports.push_back(port);
  }
  ::pclose(ss);
  return ports;
}

bool IsReplicaName(const std::string& name) {
  if (name.size() != 16) return false;
  for (char c : name)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

Nemesis::Nemesis(Context* ctx, ChaosCluster* cluster, std::set<std::string> kinds)
    : ctx_(ctx),
      cluster_(cluster),
      kinds_(kinds.begin(), kinds.end()),
      rng_(ctx->seed * 7919 + 17) {}

std::chrono::milliseconds Nemesis::Between(int lo_ms, int hi_ms) {
  return std::chrono::milliseconds(lo_ms + static_cast<int>(rng_() % (hi_ms - lo_ms + 1)));
}

void Nemesis::CheckDaemons() {
  for (const Server& s : cluster_->Servers()) {
    if (down_.count(s.Name())) continue;
    if (cluster_->Alive(s)) continue;
    ctx_->Fail(s.Name() + " (pid " + std::to_string(cluster_->Pid(s)) +
               ") died without being killed; its log " + cluster_->LogPath(s) + " ends:\n" +
               Tail(cluster_->LogPath(s), 15));
    Restart(s);
  }
  for (int i = 0; i < cluster_->mount_count(); i++) {
    testing::Mount& m = cluster_->mount(i);
    if (!ProcessAlive(m.pid()) && !dead_mounts_.count(i)) {
      dead_mounts_.insert(i);
      ctx_->Fail("dfs-mount " + std::to_string(i + 1) + " died; its log " + m.log_path() +
                 " ends:\n" + Tail(m.log_path(), 15));
    }
  }
}

bool Nemesis::Wait(std::chrono::milliseconds d, const std::atomic<bool>* stop) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    if (stop && *stop) return false;
    CheckDaemons();
    std::this_thread::sleep_for(std::min<Clock::duration>(100ms, end - Clock::now()));
  }
  return true;
}

bool Nemesis::WaitHealthy(std::chrono::seconds timeout) {
  const auto t0 = Clock::now();
  const auto end = t0 + timeout;
  std::string why;
  while (Clock::now() < end) {
    CheckDaemons();
    if (cluster_->Recovered(&why)) {
      ctx_->log->Line("recovered after " +
                      std::to_string(std::chrono::duration<double>(Clock::now() - t0).count()) +
                      " s");
      return true;
    }
    std::this_thread::sleep_for(250ms);
  }
  ctx_->log->Say("not recovered after " + std::to_string(timeout.count()) + " s:" + why);
  return false;
}

bool Nemesis::WaitHealthyAdmin(std::chrono::seconds timeout) {
  const auto t0 = Clock::now();
  const auto end = t0 + timeout;
  std::string out;
  while (Clock::now() < end) {
    CheckDaemons();
    // "healthy so far": a new leader has not judged the chunks yet.
    // "pending N": chunks whose replicas lag or miss the latest version
    // but still within the doubt grace (a server just came back): healthy
    // for an operator, not yet for a checker that reads every replica.
    // "over-replicated N": a server came back after its chunks were
    // copied elsewhere, and the extra copies are not trimmed yet.
    if (cluster_->DfsAdmin({"status"}, &out) == 0 &&
        out.find("healthy so far") == std::string::npos &&
        out.find("pending ") == std::string::npos &&
        out.find("over-replicated 0") != std::string::npos) {
      ctx_->log->Line("dfsadmin status: healthy after " +
                      std::to_string(std::chrono::duration<double>(Clock::now() - t0).count()) +
                      " s");
      return true;
    }
    std::this_thread::sleep_for(500ms);
  }
  ctx_->log->Say("dfsadmin status not healthy after " + std::to_string(timeout.count()) + " s:\n" +
                 out);
  return false;
}

Server Nemesis::PickServer() {
  if (rng_() % 5 < 2) {  // a meta server; the leader half of the time
    if (rng_() % 2 == 0) {
      Server leader = cluster_->Leader();
      if (leader.index != 0) return leader;
    }
    return {true, static_cast<int>(1 + rng_() % 3), ""};
  }
  return {false, static_cast<int>(1 + rng_() % cluster_->chunks().size()), ""};
}

void Nemesis::Restart(const Server& s) {
  if (!cluster_->Start(s)) ctx_->Fail("could not restart " + s.Name());
  down_.erase(s.Name());
}

void Nemesis::Run(const std::atomic<bool>& stop) {
  if (kinds_.empty()) {
    Wait(std::chrono::hours(24), &stop);
    return;
  }
  while (!stop) {
    if (halted_) {
      Wait(std::chrono::hours(24), &stop);
      break;
    }
    if (!Wait(Between(500, 3000), &stop)) break;
    const std::string kind = kinds_[rng_() % kinds_.size()];
    if (kind == "kill") {
      Kill(stop);
    } else if (kind == "pause") {
      Pause(stop);
    } else if (kind == "corrupt") {
      Corrupt(stop);
    } else if (kind == "zone") {
      Zone(stop);
    } else if (kind == "partition") {
      Partition(stop);
    } else if (kind == "disk-full") {
      DiskFull(stop);
    }
  }
}

bool Nemesis::EnterZone(const std::string& zone) {
  if (!last_zone_.empty() && last_zone_ != zone && !WaitHealthy(120s)) {
    ctx_->Fail("the cluster is not healthy 120 s after the last fault (in " + last_zone_ +
               "); no more faults");
    halted_ = true;
    return false;
  }
  last_zone_ = zone;
  return true;
}

void Nemesis::Kill(const std::atomic<bool>& stop) {
  Server s = PickServer();
  s.zone = s.meta ? "z" + std::to_string(s.index) : cluster_->chunks().zone(s.index);
  if (!EnterZone(s.zone) || stop) return;
  const bool leader = s.meta && cluster_->Leader().index == s.index;
  auto hold = Between(1000, 10000);
  ctx_->log->Say("nemesis: kill -9 " + s.Name() + (leader ? " (leader)" : "") + " for " +
                 std::to_string(hold.count()) + " ms");
  down_.insert(s.Name());
  cluster_->Kill(s);
  ctx_->tally->faults++;
  counts_["kill"]++;
  Wait(hold, nullptr);
  Restart(s);
  ctx_->log->Say("nemesis: restarted " + s.Name());
}

void Nemesis::Pause(const std::atomic<bool>& stop) {
  Server s = PickServer();
  s.zone = s.meta ? "z" + std::to_string(s.index) : cluster_->chunks().zone(s.index);
  if (!EnterZone(s.zone) || stop) return;
  const bool leader = s.meta && cluster_->Leader().index == s.index;
  auto hold = Between(1000, 5000);
  pid_t pid = cluster_->Pid(s);
  if (pid <= 0) return;
  ctx_->log->Say("nemesis: SIGSTOP " + s.Name() + (leader ? " (leader)" : "") + " for " +
                 std::to_string(hold.count()) + " ms");
  kill(pid, SIGSTOP);
  ctx_->tally->faults++;
  counts_["pause"]++;
  Wait(hold, nullptr);
  kill(pid, SIGCONT);
  ctx_->log->Say("nemesis: SIGCONT " + s.Name());
}

void Nemesis::Corrupt(const std::atomic<bool>& stop) {
  const int i = static_cast<int>(1 + rng_() % cluster_->chunks().size());
  const std::string zone = cluster_->chunks().zone(i);
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(cluster_->chunks().data_dir(i), ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && IsReplicaName(it->path().filename().string()) &&
        it->file_size(ec) > 0)
      files.push_back(it->path().string());
  }
  if (files.empty()) return;
  if (!EnterZone(zone) || stop) return;
  const std::string file = files[rng_() % files.size()];
  int fd = open(file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return;  // deleted meanwhile
  struct stat sb;
  fstat(fd, &sb);
  if (sb.st_size <= 0) {
    close(fd);
    return;
  }
  const off_t at = static_cast<off_t>(rng_() % sb.st_size);
  unsigned char byte = 0;
  if (pread(fd, &byte, 1, at) != 1) {
    close(fd);
    return;
  }
  const unsigned char flipped = byte ^ static_cast<unsigned char>(1u << (rng_() % 8));
  bool written = pwrite(fd, &flipped, 1, at) == 1 && fdatasync(fd) == 0;
  close(fd);
  if (!written) return;
  ctx_->log->Say("nemesis: flipped byte " + std::to_string(at) + " of cs" + std::to_string(i) +
                 " " + file.substr(cluster_->dir().size() + 1));
  ctx_->tally->faults++;
  counts_["corrupt"]++;
  // The fault lasts until the replica is gone or the byte rewritten (the
  // scrubber found it and the leader replaced the copy, or a write
  // covered it).
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < 120s) {
    int rfd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd < 0) break;
    unsigned char now = 0;
    ssize_t n = pread(rfd, &now, 1, at);
    close(rfd);
    if (n != 1 || now != flipped) break;
    Wait(250ms, nullptr);
  }
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  if (took >= 120) {
    ctx_->Fail("the flipped byte in " + file + " was still there after 120 s");
  } else {
    ctx_->log->Say("nemesis: corrupt replica on cs" + std::to_string(i) + " gone after " +
                   std::to_string(took) + " s");
  }
}

void Nemesis::Zone(const std::atomic<bool>& stop) {
  const std::string zone = "z" + std::to_string(1 + rng_() % 3);
  if (!EnterZone(zone) || stop) return;
  auto hold = Between(3000, 10000);
  std::string names;
  std::vector<Server> servers = cluster_->ZoneServers(zone);
  for (const Server& s : servers)
    names += " " + s.Name();
  ctx_->log->Say("nemesis: zone " + zone + " down (" + names.substr(1) + ") for " +
                 std::to_string(hold.count()) + " ms");
  for (const Server& s : servers) {
    down_.insert(s.Name());
    cluster_->Kill(s);
  }
  ctx_->tally->faults++;
  counts_["zone"]++;
  Wait(hold, nullptr);
  for (const Server& s : servers)
    Restart(s);
  ctx_->log->Say("nemesis: zone " + zone + " back");
}

bool Nemesis::HealAll(std::chrono::seconds timeout) {
  for (const Server& s : cluster_->Servers()) {
    if (cluster_->Pid(s) > 0) kill(cluster_->Pid(s), SIGCONT);
    if (down_.count(s.Name())) Restart(s);
  }
  return WaitHealthyAdmin(timeout);
}

void Nemesis::Partition(const std::atomic<bool>& stop) {
  const std::string root = Cgroup2Root();
  if (root.empty()) {
    ctx_->Fail("partition: no cgroup2 hierarchy in /proc/mounts");
    halted_ = true;
    return;
  }
  Server s = PickServer();
  s.zone = s.meta ? "z" + std::to_string(s.index) : cluster_->chunks().zone(s.index);
  if (!EnterZone(s.zone) || stop) return;
  const pid_t pid = cluster_->Pid(s);
  if (pid <= 0) return;
  const std::string address =
      s.meta ? cluster_->meta().addresses().at(s.index) : cluster_->chunks().address(s.index);
  const std::string port = address.substr(address.rfind(':') + 1);
  const std::string group = "dfs-chaos-" + std::to_string(::getpid()) + "-" + s.Name();
  // New sockets of the process match its cgroup; the ones it has open
  // keep the cgroup they were made in, so its own connections to other
  // servers are cut by their local ports, both ways. Otherwise the cut is
  // one-way: the server still heartbeats the leader over an old connection
  // while nobody reaches it.
  // Every rule goes in at once (one iptables-restore commit, which can take
  // seconds on a busy machine: a partition must not exist by halves), while
  // the cgroup is still empty; the process moves in last, and out first.
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> rules = {"INPUT -p tcp --dport " + port + " -j DROP"};
  for (const std::string& local : ConnectionPorts(pid, port)) {
    rules.push_back("INPUT -p tcp --dport " + local + " -j DROP");
    rules.push_back("OUTPUT -p tcp --sport " + local + " -j DROP");
  }
  rules.push_back("OUTPUT -m cgroup --path " + group + " -j DROP");
  std::error_code ec;
  fs::create_directories(root + "/" + group, ec);
  bool cut = !ec && IptablesBatch("-I", rules) &&
             WriteFile(root + "/" + group + "/cgroup.procs", std::to_string(pid));
  ctx_->log->Line("partition: " + std::to_string(rules.size()) + " rules in and " + s.Name() +
                  " in its cgroup after " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count()) +
                  " ms");
  if (!cut) {
    ctx_->Fail("partition: could not cut off " + s.Name() + " (cgroup " + root + "/" + group +
               ", iptables)");
    IptablesBatch("-D", rules);
    halted_ = true;
    return;
  }
  const bool leader = s.meta && cluster_->Leader().index == s.index;
  auto hold = Between(1000, 8000);
  ctx_->log->Say("nemesis: partition " + s.Name() + (leader ? " (leader)" : "") + " from all for " +
                 std::to_string(hold.count()) + " ms (" + std::to_string(rules.size() / 2 - 1) +
                 " open connections cut)");
  ctx_->tally->faults++;
  counts_["partition"]++;
  Wait(hold, nullptr);
  // Out of the cgroup first: its packets stop matching at once (removing
  // the OUTPUT rule can take seconds while the server's sockets are busy).
  ctx_->log->Line("partition: healing " + s.Name());
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
            .count());
  };
  const auto heal_start = std::chrono::steady_clock::now();
  WriteFile(root + "/cgroup.procs", std::to_string(pid));  // fails if it died: nothing to move
  ctx_->log->Line("partition: " + s.Name() + " out of its cgroup after " + ms_since(heal_start) +
                  " ms");
  const auto rules_start = std::chrono::steady_clock::now();
  bool healed = IptablesBatch("-D", rules);
  ctx_->log->Line("partition: " + std::to_string(rules.size()) + " iptables rules removed in " +
                  ms_since(rules_start) + " ms");
  fs::remove(root + "/" + group, ec);
  if (!healed) ctx_->Fail("partition: could not remove the iptables rules for " + s.Name());
  ctx_->log->Say("nemesis: healed the partition of " + s.Name());
}

void Nemesis::DiskFull(const std::atomic<bool>& stop) {
  const int i = static_cast<int>(1 + rng_() % cluster_->chunks().size());
  const std::string zone = cluster_->chunks().zone(i);
  if (!EnterZone(zone) || stop) return;
  const std::string ballast = cluster_->chunks().data_dir(i) + "/nemesis-ballast";
  int fd = open(ballast.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ctx_->Fail("disk-full: cannot create " + ballast);
    halted_ = true;
    return;
  }
  // Everything that is free, in shrinking steps: the last bytes too.
  uint64_t taken = 0;
  for (uint64_t step = 1ull << 30; step >= 4096; step /= 2) {
    while (fallocate(fd, 0, static_cast<off_t>(taken), static_cast<off_t>(step)) == 0)
      taken += step;
  }
  close(fd);
  auto hold = Between(2000, 8000);
  ctx_->log->Say("nemesis: disk full on cs" + std::to_string(i) + " (" +
                 std::to_string(taken >> 20) + " MiB of ballast) for " +
                 std::to_string(hold.count()) + " ms");
  ctx_->tally->faults++;
  counts_["disk-full"]++;
  Wait(hold, nullptr);
  std::error_code ec;
  fs::remove(ballast, ec);
  ctx_->log->Say("nemesis: disk space back on cs" + std::to_string(i));
}

}  // namespace dfs::chaos
