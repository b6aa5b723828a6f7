// repair-bench: how long dfs takes to re-protect data after a chunk server
// dies, and what the repair costs a running fio job.
//
//   repair-bench [--size 1GiB] [--quick] [--dir DIR]
//
// Every phase runs on a fresh cluster (3 dfs-meta, 4 dfs-chunkserver in
// zones z1..z4, 64 MiB chunks, node_dead_after 2 s, repair sweep every
// 500 ms, heartbeats every 500 ms, no scrubbing) with --size of data written
// through a dfs-mount (64 MiB files, 1 MiB writes, fsync) and every chunk
// healthy (docs/self_healing.md). A restarted server would come back with
// stale copies to delete, so no phase reuses a cluster that lost one.
//   1. re-protect, default limits: kill -9 the chunk server holding the
//      most replicas; the time until the leader's AdminService.Status shows
//      every chunk healthy again (polled every 100 ms), the bytes repair
//      copied, and the rate.
//   2. re-protect, unthrottled: the same after SetRepairLimits(16 jobs,
//      16 per node, no bandwidth bound).
//   3. fio during repair (repair bandwidth 100 MiB/s): a time-based fio
//      sequential read (1 MiB, O_DIRECT, of a file written by another
//      mount) and then a sequential write (1 MiB, end_fsync), once with
//      nothing failing and once after a kill, started as soon as the
//      leader's Status shows the repair (node_dead_after, ~2 s, later).
//      Prints how much of each job's time the repair overlapped.
// --quick: --size 256MiB and 4 s fio jobs instead of 10 s.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bench/fio_runner.h"
#include "common/units.h"
#include "proto/admin.grpc.pb.h"
#include "proto/channel_args.h"
#include "tests/support/bytes.h"
#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"

namespace dfs::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kChunkSize = 64 * kMiB;
constexpr double kNodeDeadAfterSec = 2;
constexpr uint64_t kFioPhaseBandwidth = 100 * kMiB;  // repair's bound in the fio phase

struct Options {
  uint64_t size = 1024 * kMiB;
  bool quick = false;
  std::string dir;  // empty: clusters in fresh temporary directories
  int fio_seconds = 10;
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// AdminService calls on the meta leader, found again whenever the one used
// last does not answer as leader.
class LeaderAdmin {
 public:
  explicit LeaderAdmin(const testing::ServerGroup& meta) : meta_(meta) {}

  // The leader's Status, or nullopt if no leader answers.
  std::optional<pb::StatusReply> Status() {
    for (int attempt = 0; attempt < 2; attempt++) {
      if (!stub_ && !Connect()) return std::nullopt;
      pb::StatusReply reply;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      if (stub_->Status(&ctx, pb::StatusRequest(), &reply).ok() && reply.error().code() == 0)
        return reply;
      stub_.reset();
    }
    return std::nullopt;
  }

  // Changes the leader's repair limits (they are the leader's own, not
  // replicated: a new leader starts from its flags). False on failure.
  bool SetRepairLimits(const pb::SetRepairLimitsRequest& request) {
    if (!stub_ && !Connect()) return false;
    pb::AdminReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    return stub_->SetRepairLimits(&ctx, request, &reply).ok() && reply.error().code() == 0;
  }

 private:
  bool Connect() {
    uint64_t leader = testing::MetaLeader(meta_);
    if (leader == 0) return false;
    stub_ = pb::AdminService::NewStub(grpc::CreateCustomChannel(
        meta_.addresses().at(leader), grpc::InsecureChannelCredentials(), MetaChannelArgs(false)));
    return true;
  }

  const testing::ServerGroup& meta_;
  std::unique_ptr<pb::AdminService::Stub> stub_;
};

bool Healthy(const pb::StatusReply& s) {
  return s.chunks_total() > 0 && s.chunks_healthy() == s.chunks_total() && !s.repair_waiting();
}

// Waits until the leader reports every chunk healthy; false after `timeout`.
bool WaitHealthy(LeaderAdmin& admin, Clock::duration timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    std::optional<pb::StatusReply> s = admin.Status();
    if (s && Healthy(*s)) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// Writes `bytes` into files of one chunk each under `dir`: 1 MiB writes,
// fsync, close. False (and a message) on the first error.
bool WriteFiles(const std::string& dir, uint64_t bytes) {
  std::string block = testing::Pattern(kMiB, 42);
  for (uint64_t file = 0; file * kChunkSize < bytes; file++) {
    const std::string path = dir + "/data" + std::to_string(file);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    bool ok = fd >= 0;
    const uint64_t n = std::min(kChunkSize, bytes - file * kChunkSize);
    for (uint64_t off = 0; ok && off < n; off += kMiB) {
      block[0] = static_cast<char>(file);  // no two blocks alike
      block[1] = static_cast<char>(off / kMiB);
      ok = ::pwrite(fd, block.data(), kMiB, static_cast<off_t>(off)) == static_cast<ssize_t>(kMiB);
    }
    ok = ok && ::fsync(fd) == 0;
    ok = fd >= 0 && ::close(fd) == 0 && ok;
    if (!ok) {
      std::fprintf(stderr, "repair-bench: writing %s: %s\n", path.c_str(), std::strerror(errno));
      return false;
    }
  }
  return true;
}

// A fresh cluster for one phase, with the data written and healthy.
class PhaseCluster {
 public:
  PhaseCluster(const Options& o, const std::string& name) {
    testing::MountedClusterOptions co;
    co.chunk_size = "64MiB";
    co.chunk_servers = 4;
    co.meta_args = {"--node-dead-after", "2s", "--repair-scan-interval", "500ms"};
    co.chunk_args = {"--heartbeat-interval", "500ms", "--scrub-rate", "0"};
    if (!o.dir.empty()) co.dir = dir_ = o.dir + "/" + name;
    cluster_ = std::make_unique<testing::MountedCluster>(co);
    admin_ = std::make_unique<LeaderAdmin>(cluster_->meta());
    if (!cluster_->ok()) {
      std::fprintf(stderr, "repair-bench: the cluster did not start (logs in %s)\n",
                   cluster_->dir().c_str());
      return;
    }
    writer_ = cluster_->AddMount({"allow_other"});
    if (!writer_) {
      std::fprintf(stderr, "repair-bench: the mount did not come up (logs in %s)\n",
                   cluster_->dir().c_str());
      return;
    }
    fs::create_directories(writer_->path() + "/data");
    ok_ = WriteFiles(writer_->path() + "/data", o.size) && WaitUntilHealthy();
  }

  ~PhaseCluster() {
    cluster_.reset();
    if (!dir_.empty() && !std::getenv("KEEP_TEST_DIR")) fs::remove_all(dir_);
  }

  bool ok() const { return ok_; }
  testing::MountedCluster& cluster() { return *cluster_; }
  testing::Mount& writer() { return *writer_; }
  LeaderAdmin& admin() { return *admin_; }

  bool WaitUntilHealthy() {
    if (WaitHealthy(*admin_, 120s)) return true;
    std::fprintf(stderr, "repair-bench: chunks not all healthy after 120 s (logs in %s)\n",
                 cluster_->dir().c_str());
    return false;
  }

  // Sets the leader's repair limits (if `limits`) and prints them; the
  // leader's Status after, or nullopt on failure.
  std::optional<pb::StatusReply> SetLimits(const pb::SetRepairLimitsRequest* limits) {
    if (limits && !admin_->SetRepairLimits(*limits)) {
      std::fprintf(stderr, "repair-bench: SetRepairLimits failed\n");
      return std::nullopt;
    }
    std::optional<pb::StatusReply> status = admin_->Status();
    if (!status) return std::nullopt;
    const pb::RepairLimits& l = status->repair_limits();
    std::printf("  repair limits: %u jobs, %u per node, bandwidth %s\n", l.max_jobs(),
                l.per_node_jobs(),
                l.bandwidth() == 0 ? "unlimited" : (FormatBytes(l.bandwidth()) + "/s").c_str());
    return status;
  }

  // kill -9 of the chunk server holding the most replicas; its index, or 0.
  int KillBusiestServer(const pb::StatusReply& status) {
    uint64_t node = 0, most = 0;
    for (const pb::NodeInfo& n : status.nodes()) {
      if (n.chunks() > most) {
        node = n.node_id();
        most = n.chunks();
      }
    }
    testing::ChunkServers& chunks = cluster_->chunks();
    for (int i = 1; i <= chunks.size(); i++) {
      if (chunks.node_id(i) != node) continue;
      chunks.Kill(i);
      std::printf("  killed chunk server %d (node %llu, zone z%d, %llu of %llu chunks)\n", i,
                  static_cast<unsigned long long>(node), i, static_cast<unsigned long long>(most),
                  static_cast<unsigned long long>(status.chunks_total()));
      return i;
    }
    return 0;
  }

 private:
  std::string dir_;
  std::unique_ptr<testing::MountedCluster> cluster_;
  std::unique_ptr<LeaderAdmin> admin_;
  testing::Mount* writer_ = nullptr;
  bool ok_ = false;
};

// The repair after a kill as the leader's Status shows it, times in seconds
// after the kill (resolution: the 500 ms sweep plus the 100 ms poll).
struct RepairWindow {
  double detected = -1;  // first seen with a chunk not healthy
  double healed = -1;    // every chunk healthy again; -1: not within the timeout
  uint64_t bytes = 0;    // copied by repair meanwhile
  uint64_t steps = 0;    // repair steps done meanwhile
  std::string first;     // the Status first seen not healthy, in short
};

std::string Describe(const pb::StatusReply& s) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "%llu/%llu healthy, %llu under-replicated, %llu lost, %llu zone-degraded, "
                "%llu over-replicated, %llu queued, %llu running%s",
                static_cast<unsigned long long>(s.chunks_healthy()),
                static_cast<unsigned long long>(s.chunks_total()),
                static_cast<unsigned long long>(s.chunks_under_replicated()),
                static_cast<unsigned long long>(s.chunks_lost()),
                static_cast<unsigned long long>(s.chunks_zone_degraded()),
                static_cast<unsigned long long>(s.chunks_over_replicated()),
                static_cast<unsigned long long>(s.repair_queued()),
                static_cast<unsigned long long>(s.repair_running()),
                s.repair_waiting() ? ", waiting" : "");
  std::string out = line;
  for (const pb::NodeInfo& n : s.nodes())
    out += "; node " + std::to_string(n.node_id()) + " " + n.state();
  return out;
}

// Polls every 100 ms until every chunk is healthy again after being seen
// not healthy, or `timeout`; sets `*seen` (if given) on the first sight.
RepairWindow WatchRepair(LeaderAdmin& admin, Clock::time_point killed,
                         const pb::StatusReply& before, Clock::duration timeout,
                         std::atomic<bool>* seen = nullptr) {
  RepairWindow w;
  while (Clock::now() - killed < timeout) {
    std::optional<pb::StatusReply> s = admin.Status();
    const double at = Seconds(Clock::now() - killed);
    if (s && !Healthy(*s) && w.detected < 0) {
      w.detected = at;
      w.first = Describe(*s);
      if (seen) *seen = true;
    }
    if (s && Healthy(*s) && w.detected >= 0) {
      w.healed = at;
      w.bytes = s->repair_bytes() - before.repair_bytes();
      w.steps = s->repair_done() - before.repair_done();
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  return w;
}

void PrintWindow(const RepairWindow& w) {
  std::printf(
      "  under-replicated seen at +%.1f s, healthy again at +%.1f s: %llu steps, %.0f MiB\n",
      w.detected, w.healed, static_cast<unsigned long long>(w.steps),
      static_cast<double>(w.bytes) / kMiB);
  std::printf("  first not healthy: %s\n", w.first.c_str());
}

struct Reprotect {
  const char* name;
  RepairWindow window;
};

// Phases 1 and 2: the kill and the time until every chunk is healthy.
std::optional<Reprotect> TimeReprotect(const Options& o, const char* name, const char* dir,
                                       const pb::SetRepairLimitsRequest* limits) {
  std::printf("%s: writing %s ...\n", name, FormatBytes(o.size).c_str());
  std::fflush(stdout);
  PhaseCluster pc(o, dir);
  if (!pc.ok()) return std::nullopt;
  std::optional<pb::StatusReply> before = pc.SetLimits(limits);
  if (!before || pc.KillBusiestServer(*before) == 0) return std::nullopt;
  RepairWindow w = WatchRepair(pc.admin(), Clock::now(), *before, 600s);
  PrintWindow(w);
  if (w.healed < 0) {
    std::fprintf(stderr, "repair-bench: not healthy again within 600 s (logs in %s)\n",
                 pc.cluster().dir().c_str());
    return std::nullopt;
  }
  return Reprotect{name, w};
}

struct FioPair {
  const char* name;
  FioResult baseline, repair;
  double start = 0, end = 0;  // the job during repair, seconds after the kill
};

// The seconds of [start, end] that `w` was repairing.
double Overlap(const RepairWindow& w, double start, double end) {
  if (w.detected < 0) return 0;
  const double healed = w.healed < 0 ? end : w.healed;
  return std::max(0.0, std::min(end, healed) - std::max(start, w.detected));
}

// Phase 3: fio with and without a repair running.
bool FioDuringRepair(const Options& o, std::vector<FioPair>* pairs, RepairWindow* window) {
  const uint64_t read_size = std::max<uint64_t>(o.size, 512 * kMiB);
  std::printf("fio during repair: writing %s, and a %s file to read ...\n",
              FormatBytes(o.size).c_str(), FormatBytes(read_size).c_str());
  std::fflush(stdout);
  PhaseCluster pc(o, "fio");
  if (!pc.ok()) return false;
  // The read job reads a file another mount wrote, with O_DIRECT: neither
  // the kernel's page cache nor the reader's block cache (RAM only, 256
  // MiB, LRU, smaller than the file) can serve a pass over it.
  const std::string size = std::to_string(read_size / kMiB) + "M";
  FioJob read{.directory = pc.writer().path() + "/read",
              .rw = "write",
              .block_size = "1M",
              .size = size,
              .end_fsync = true};
  fs::create_directories(read.directory);
  if (!RunFio(read).ok) {
    std::fprintf(stderr, "repair-bench: fio could not write the file to read\n");
    return false;
  }
  testing::Mount* reader = pc.cluster().AddMount({"allow_other"});
  if (!reader || !pc.WaitUntilHealthy()) return false;
  read.directory = reader->path() + "/read";
  read.rw = "read";
  read.direct = true;
  read.end_fsync = false;
  read.runtime_seconds = o.fio_seconds;
  FioJob write{.directory = pc.writer().path() + "/write-baseline",
               .rw = "write",
               .block_size = "1M",
               .size = size,
               .end_fsync = true,
               .runtime_seconds = o.fio_seconds};
  fs::create_directories(write.directory);
  FioPair r{"seq read 1MiB", RunFio(read), {}};
  FioPair wr{"seq write 1MiB", RunFio(write), {}};
  write.directory = pc.writer().path() + "/write-repair";
  fs::create_directories(write.directory);
  if (!pc.WaitUntilHealthy()) return false;

  pb::SetRepairLimitsRequest limits;
  limits.set_bandwidth(kFioPhaseBandwidth);
  std::optional<pb::StatusReply> before = pc.SetLimits(&limits);
  if (!before || pc.KillBusiestServer(*before) == 0) return false;
  const Clock::time_point killed = Clock::now();
  std::atomic<bool> seen{false};
  std::thread watch([&] { *window = WatchRepair(pc.admin(), killed, *before, 600s, &seen); });
  // The jobs start once repair does (node_dead_after, about 2 s, after the
  // kill), so that all of their time is repair time.
  while (!seen && Clock::now() - killed < 60s)
    std::this_thread::sleep_for(20ms);
  auto run = [&](FioPair* p, const FioJob& job) {
    p->start = Seconds(Clock::now() - killed);
    p->repair = RunFio(job);
    p->end = Seconds(Clock::now() - killed);
  };
  run(&r, read);
  run(&wr, write);
  watch.join();
  PrintWindow(*window);
  pairs->push_back(r);
  pairs->push_back(wr);
  return window->healed >= 0;
}

int Run(const Options& o) {
  if (!o.dir.empty()) fs::create_directories(o.dir);
  std::printf(
      "repair-bench: 3 dfs-meta, 4 dfs-chunkserver (z1..z4), 1 dfs-mount, loopback, 64 MiB "
      "chunks, 3 copies, node_dead_after 2 s, %s of data, fio %d s, 2 cores\n",
      FormatBytes(o.size).c_str(), o.fio_seconds);
  std::vector<Reprotect> reprotects;
  std::optional<Reprotect> r = TimeReprotect(o, "re-protect, default limits", "default", nullptr);
  if (!r) return 1;
  reprotects.push_back(*r);
  pb::SetRepairLimitsRequest unthrottled;
  unthrottled.set_max_jobs(16);
  unthrottled.set_per_node_jobs(16);
  unthrottled.set_bandwidth(0);
  r = TimeReprotect(o, "re-protect, unthrottled", "unthrottled", &unthrottled);
  if (!r) return 1;
  reprotects.push_back(*r);
  std::vector<FioPair> pairs;
  RepairWindow window;
  if (!FioDuringRepair(o, &pairs, &window)) return 1;

  std::printf("\n%-28s %8s %10s %10s %11s %8s\n", "", "seconds", "minus 2 s", "seen->ok",
              "copied MiB", "MB/s");
  for (const Reprotect& p : reprotects) {
    const double work = p.window.healed - kNodeDeadAfterSec;
    std::printf("%-28s %8.1f %10.1f %10.1f %11.0f %8.1f\n", p.name, p.window.healed, work,
                p.window.healed - p.window.detected, static_cast<double>(p.window.bytes) / kMiB,
                work > 0 ? static_cast<double>(p.window.bytes) / 1e6 / work : 0);
  }
  std::printf(
      "(seconds: kill to every chunk healthy; MB/s: copied over the seconds minus 2 s; "
      "seen->ok: first Status not healthy to healthy)\n");
  std::printf("\nfio through the mount, repair bandwidth %s/s, repair from +%.1f s to +%.1f s\n",
              FormatBytes(kFioPhaseBandwidth).c_str(), window.detected, window.healed);
  std::printf("%-28s %9s %12s %11s %8s\n", "", "MB/s", "MB/s repair", "ratio", "overlap");
  bool fio_ok = true;
  for (const FioPair& p : pairs) {
    fio_ok = fio_ok && p.baseline.ok && p.repair.ok;
    const double overlap = Overlap(window, p.start, p.end) / std::max(p.end - p.start, 1e-9);
    std::printf("%-28s %9.1f %12.1f %11.2f %7.0f%%%s\n", p.name, p.baseline.mb_per_s,
                p.repair.mb_per_s,
                p.baseline.mb_per_s > 0 ? p.repair.mb_per_s / p.baseline.mb_per_s : 0,
                100 * overlap, p.baseline.ok && p.repair.ok ? "" : "  (fio failed)");
  }
  std::printf(
      "(overlap: the share of the job's time, from +start to +end after the kill, that "
      "repair was running)\n");
  for (const FioPair& p : pairs)
    std::printf("  %s during repair: +%.1f s to +%.1f s\n", p.name, p.start, p.end);
  return fio_ok ? 0 : 1;
}

int Usage() {
  std::fprintf(stderr, "usage: repair-bench [--size 1GiB] [--quick] [--dir DIR]\n");
  return 2;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  dfs::bench::Options o;
  std::optional<uint64_t> size;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if (i + 1 >= argc) {
      return dfs::bench::Usage();
    } else if (a == "--size") {
      dfs::Result<uint64_t> s = dfs::ParseBytes(argv[++i]);
      if (!s.ok() || *s == 0) return dfs::bench::Usage();
      size = *s;
    } else if (a == "--dir") {
      o.dir = argv[++i];
    } else {
      return dfs::bench::Usage();
    }
  }
  if (o.quick) {
    o.size = 256 * dfs::bench::kMiB;
    o.fio_seconds = 4;
  }
  if (size) o.size = *size;
  return dfs::bench::Run(o);
}
