// raft-bench: committed proposals per second through the Raft library with
// three real raft-kv-server processes on loopback, fsync on, for 1, 16 and
// 64 concurrent proposers, with commit latency percentiles. Beside it, the
// floor set by the disk: a write+fdatasync loop on the same file system.
//
//   raft-bench [--seconds 5] [--proposers 1,16,64] [--value-bytes 128] [--dir DIR]
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "proto/raftkv.grpc.pb.h"
#include "tests/raftkv/kv_client.h"
#include "tests/support/server_group.h"

namespace dfs::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 5;
  std::vector<int> proposers = {1, 16, 64};
  size_t value_bytes = 128;
  std::string dir;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// How many write+fdatasync round trips per second the disk under `dir`
// does: no replicated log can commit faster with one writer.
double FsyncRate(const std::string& dir, double seconds) {
  std::string path = dir + "/fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  char buf[512] = {};
  uint64_t n = 0;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (pwrite(fd, buf, sizeof(buf), static_cast<off_t>((n % 1024) * sizeof(buf))) < 0) break;
    fdatasync(fd);
    n++;
  }
  close(fd);
  fs::remove(path);
  return static_cast<double>(n) / seconds;
}

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "raft-bench: %s needs a value\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--seconds") {
      opt.seconds = std::stod(v);
    } else if (a == "--value-bytes") {
      opt.value_bytes = std::stoul(v);
    } else if (a == "--dir") {
      opt.dir = v;
    } else if (a == "--proposers") {
      opt.proposers.clear();
      std::stringstream in(v);
      for (std::string item; std::getline(in, item, ',');)
        opt.proposers.push_back(std::stoi(item));
    } else {
      std::fprintf(stderr,
                   "usage: raft-bench [--seconds S] [--proposers 1,16,64] [--value-bytes N] "
                   "[--dir DIR]\n");
      return 2;
    }
  }
  // Without --dir, a temporary directory removed at the end.
  testing::ServerGroup servers("raft-kv-server", 3, {"--log-level", "warn"}, opt.dir);
  const auto& addresses = servers.addresses();
  raftkv::KvClient probe(addresses);
  if (!probe.Put("warmup", "x").ok()) {
    std::fprintf(stderr, "raft-bench: the cluster did not come up (logs in %s)\n",
                 servers.dir().c_str());
    return 1;
  }
  uint64_t leader = probe.leader_guess();
  auto channel = grpc::CreateChannel(addresses.at(leader), grpc::InsecureChannelCredentials());

  std::printf(
      "raft-bench: 3 raft-kv-server processes on loopback, fsync on, %zu-byte values, "
      "%.0f s per run, %u cores\n",
      opt.value_bytes, opt.seconds, std::thread::hardware_concurrency());
  std::printf("disk floor: %.0f write+fdatasync per second in %s (one writer)\n",
              FsyncRate(servers.dir(), 2), servers.dir().c_str());
  std::printf("%10s %14s %12s %12s %10s\n", "proposers", "commits/s", "p50 ms", "p99 ms", "errors");
  double single = 0;
  uint64_t prev_fsyncs = 0, prev_entries = 0, prev_readies = 0, prev_micros = 0;
  for (int p : opt.proposers) {
    // Each proposer keeps one Put in flight, issued from the previous one's
    // completion (gRPC callback API: no thread per proposer).
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> errors{0};
    std::atomic<int> running{p};
    std::vector<std::vector<double>> latencies(p);
    std::string value(opt.value_bytes, 'v');
    auto stub = pb::RaftKv::NewStub(channel);
    struct Proposer {
      grpc::ClientContext* ctx = nullptr;
      pb::KvPutRequest req;
      pb::KvReply reply;
      Clock::time_point t0;
      uint64_t n = 0;
    };
    std::vector<Proposer> proposers(p);
    std::mutex done_mu;
    std::condition_variable done_cv;
    std::function<void(int)> issue = [&](int t) {
      Proposer& pr = proposers[t];
      delete pr.ctx;
      pr.ctx = new grpc::ClientContext();
      pr.req.set_key("p" + std::to_string(t) + "-" + std::to_string(pr.n++));
      pr.req.set_value(value);
      pr.reply.Clear();
      pr.t0 = Clock::now();
      stub->async()->Put(pr.ctx, &pr.req, &pr.reply, [&, t](grpc::Status s) {
        Proposer& me = proposers[t];
        if (!s.ok() || me.reply.error().code() != 0) {
          errors++;
        } else {
          latencies[t].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - me.t0).count());
        }
        if (!stop) {
          issue(t);
        } else if (--running == 0) {
          std::lock_guard lock(done_mu);
          done_cv.notify_all();
        }
      });
    };
    auto started = Clock::now();
    for (int t = 0; t < p; t++)
      issue(t);
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
    stop = true;
    {
      std::unique_lock lock(done_mu);
      done_cv.wait(lock, [&] { return running == 0; });
    }
    for (Proposer& pr : proposers)
      delete pr.ctx;
    double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    std::vector<double> all;
    for (auto& l : latencies)
      all.insert(all.end(), l.begin(), l.end());
    double rate = static_cast<double>(all.size()) / elapsed;
    if (p == 1) single = rate;
    double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
    auto st = probe.NodeStatus(leader);
    std::printf("%10d %14.0f %12.2f %12.2f %10llu\n", p, rate, p50, p99,
                static_cast<unsigned long long>(errors.load()));
    if (p != 1 && single > 0) std::printf("%10s %13.1fx one proposer\n", "", rate / single);
    if (st.ok()) {
      uint64_t fsyncs = st->fsyncs() - prev_fsyncs,
               entries = st->entries_persisted() - prev_entries;
      std::printf("%10s leader: %.1f entries per fsync, %.2f ms per log write\n", "",
                  fsyncs ? static_cast<double>(entries) / fsyncs : 0.0,
                  st->readies() > prev_readies ? (st->persist_micros() - prev_micros) / 1000.0 /
                                                     (st->readies() - prev_readies)
                                               : 0.0);
      prev_fsyncs = st->fsyncs();
      prev_entries = st->entries_persisted();
      prev_readies = st->readies();
      prev_micros = st->persist_micros();
    }
  }
  return 0;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  return dfs::bench::Main(argc, argv);
}
