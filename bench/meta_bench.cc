// meta-bench: metadata operations per second against dfs-meta, with fsync
// on: create, stat, readdir of a 1000-entry directory, rename, unlink, for
// each client count, with p50/p99 latency.
//
//   meta-bench [--meta HOST:PORT,...] [--clients 1,32] [--ops N] [--dir DIR]
//
// Without --meta it starts three dfs-meta processes on loopback itself (data
// under --dir, or a temporary directory).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "client/meta_client.h"
#include "tests/support/server_group.h"

namespace dfs::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

struct PhaseResult {
  double ops_per_sec = 0, p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
};

// Runs `op(client, thread, i)` for i in [0, per_thread) on every thread.
PhaseResult RunPhase(std::vector<std::unique_ptr<client::MetaClient>>& clients, uint64_t per_thread,
                     const std::function<Status(client::MetaClient&, size_t, uint64_t)>& op) {
  std::vector<std::vector<double>> lat(clients.size());
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (size_t t = 0; t < clients.size(); t++) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < per_thread; i++) {
        auto t0 = Clock::now();
        Status s = op(*clients[t], t, i);
        lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!s.ok()) {
          if (errors++ == 0) std::fprintf(stderr, "meta-bench: %s\n", s.ToString().c_str());
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat)
    all.insert(all.end(), l.begin(), l.end());
  PhaseResult r;
  r.ops_per_sec = static_cast<double>(all.size()) / secs;
  r.p50_ms = Percentile(all, 0.5);
  r.p99_ms = Percentile(all, 0.99);
  r.errors = errors;
  return r;
}

int Main(int argc, char** argv) {
  std::vector<std::string> servers;
  std::vector<int> client_counts = {1, 32};
  uint64_t ops = 20000;
  std::string dir;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "meta-bench: %s needs a value\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--meta") {
      servers = Split(v);
    } else if (a == "--clients") {
      client_counts.clear();
      for (auto& c : Split(v))
        client_counts.push_back(std::stoi(c));
    } else if (a == "--ops") {
      ops = std::stoull(v);
    } else if (a == "--dir") {
      dir = v;
    } else {
      std::fprintf(stderr,
                   "usage: meta-bench [--meta HOST:PORT,...] [--clients 1,32] [--ops N] "
                   "[--dir DIR]\n");
      return 2;
    }
  }
  std::unique_ptr<testing::ServerGroup> group;
  if (servers.empty()) {
    group = std::make_unique<testing::ServerGroup>(
        "dfs-meta", 3, std::vector<std::string>{"--log-level", "warn"}, dir);
    servers = group->AddressList();
  }
  client::MetaClientOptions options;
  options.servers = servers;
  options.timeout = std::chrono::seconds(30);
  client::MetaClient admin(options);
  if (!admin.GetAttr(1).ok()) {
    std::fprintf(stderr, "meta-bench: the metadata servers do not answer\n");
    return 1;
  }
  std::printf("meta-bench: 3 dfs-meta on loopback, fsync on, %u cores\n",
              std::thread::hardware_concurrency());
  std::printf("%8s %-16s %12s %10s %10s %8s\n", "clients", "operation", "ops/s", "p50 ms", "p99 ms",
              "errors");
  int run = 0;
  for (int c : client_counts) {
    run++;
    std::vector<std::unique_ptr<client::MetaClient>> clients;
    std::vector<uint64_t> dirs;
    for (int t = 0; t < c; t++) {
      clients.push_back(std::make_unique<client::MetaClient>(options));
      auto d = admin.Create(1, "r" + std::to_string(run) + "-c" + std::to_string(t),
                            pb::FILE_TYPE_DIRECTORY, 0755, true);
      if (!d.ok()) {
        std::fprintf(stderr, "meta-bench: %s\n", d.status().ToString().c_str());
        return 1;
      }
      dirs.push_back(d->inode());
    }
    uint64_t per = std::max<uint64_t>(1, ops / c);
    std::vector<std::vector<uint64_t>> inodes(c, std::vector<uint64_t>(per, 0));
    auto print = [&](const char* name, const PhaseResult& r) {
      std::printf("%8d %-16s %12.0f %10.2f %10.2f %8llu\n", c, name, r.ops_per_sec, r.p50_ms,
                  r.p99_ms, static_cast<unsigned long long>(r.errors));
      std::fflush(stdout);
    };
    print("create", RunPhase(clients, per, [&](client::MetaClient& m, size_t t, uint64_t i) {
            auto a = m.Create(dirs[t], "f" + std::to_string(i), pb::FILE_TYPE_REGULAR, 0644, true);
            if (a.ok()) inodes[t][i] = a->inode();
            return a.status();
          }));
    print("stat", RunPhase(clients, per, [&](client::MetaClient& m, size_t t, uint64_t i) {
            return m.GetAttr(inodes[t][(i * 7919) % per]).status();
          }));
    // Readdir: one shared directory of 1000 entries, listed whole.
    auto big = admin.Create(1, "big" + std::to_string(run), pb::FILE_TYPE_DIRECTORY, 0755, true);
    if (big.ok()) {
      for (int i = 0; i < 1000; i++) {
        (void)admin.Create(big->inode(), "e" + std::to_string(i), pb::FILE_TYPE_REGULAR, 0644);
      }
      uint64_t listings = std::max<uint64_t>(1, 200 / c);
      print(
          "readdir-1000", RunPhase(clients, listings, [&](client::MetaClient& m, size_t, uint64_t) {
            std::string cookie;
            size_t seen = 0;
            while (true) {
              auto r = m.ReadDir(big->inode(), cookie, 1000);
              if (!r.ok()) return r.status();
              seen += r->entries_size();
              if (r->eof() || r->entries_size() == 0) break;
              cookie = r->entries(r->entries_size() - 1).name();
            }
            return seen == 1000 ? Status::Ok() : Status::Internal("listed " + std::to_string(seen));
          }));
    }
    print("rename", RunPhase(clients, per, [&](client::MetaClient& m, size_t t, uint64_t i) {
            return m.Rename(dirs[t], "f" + std::to_string(i), dirs[t], "g" + std::to_string(i));
          }));
    print("unlink", RunPhase(clients, per, [&](client::MetaClient& m, size_t t, uint64_t i) {
            return m.Unlink(dirs[t], "g" + std::to_string(i));
          }));
  }
  return 0;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  return dfs::bench::Main(argc, argv);
}
