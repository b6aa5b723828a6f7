// chaos: the fault-injection suite (issue #11): nothing acknowledged is
// ever lost.
//
//   chaos --duration SECONDS [--seed S] [--nemesis kill,pause,corrupt,zone,partition,disk-full]
//         [--dir DIR] [--writers N] [--keep] [--meta-log-level LEVEL]
//
// Starts its own cluster (tests/fault/chaos_cluster.h: 3 dfs-meta, 6
// dfs-chunkserver in 3 zones, 4 dfs-mount), runs the workload of
// tests/fault/workload.h on two mounts and the namespace history of
// tests/fault/history.h on the other two while the nemesis
// (tests/fault/nemesis.h) injects faults, then stops the faults, heals the
// cluster and checks: every file whose last change was acknowledged reads
// back exactly through both workload mounts, and each of its chunks has 3
// replicas on 3 zones that hold exactly those bytes; the namespace matches
// the model; the namespace history is linearizable; `dfsadmin fsck` is
// clean; no daemon died unless the nemesis killed it; every mount
// unmounts cleanly. The last line is
//
//   chaos: ops=N faults=F lost=0 corrupt=0 app_errors=E
//
// and the exit status 1 on any loss, corruption, application error or
// other failure, with the seed and the directory (kept) to look into:
// chaos.log there has every call and every fault with its time.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/chunk_client.h"
#include "client/meta_client.h"
#include "tests/fault/chaos_cluster.h"
#include "tests/fault/chaos_log.h"
#include "tests/fault/history.h"
#include "tests/fault/nemesis.h"
#include "tests/fault/workload.h"
#include "tests/support/bytes.h"

namespace dfs::chaos {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int duration = 60;
  uint64_t seed = 0;
  std::set<std::string> nemesis = {"kill", "pause", "corrupt", "zone", "partition", "disk-full"};
  std::string dir;
  int writers = 2;  // per mount
  bool keep = false;
  std::string meta_log_level = "info";
};

// Clients of the namespace history, alternating between its two mounts.
constexpr int kHistoryClients = 4;

int Usage(const char* why) {
  std::fprintf(stderr,
               "chaos: %s\nusage: chaos --duration SECONDS [--seed S] "
               "[--nemesis kill,pause,corrupt,zone,partition,disk-full|none] [--dir DIR] "
               "[--writers N] [--keep] [--meta-log-level trace|debug|info]\n",
               why);
  return 2;
}

bool Parse(int argc, char** argv, Options* o, std::string* error) {
  o->seed = std::random_device()() % 1000000;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        *error = a + " needs a value";
        return "";
      }
      return argv[++i];
    };
    if (a == "--duration") {
      o->duration = std::atoi(value().c_str());
    } else if (a == "--seed") {
      o->seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--dir") {
      o->dir = value();
    } else if (a == "--writers") {
      o->writers = std::atoi(value().c_str());
    } else if (a == "--meta-log-level") {
      o->meta_log_level = value();
    } else if (a == "--keep") {
      o->keep = true;
    } else if (a == "--nemesis") {
      o->nemesis.clear();
      std::stringstream list(value());
      std::string kind;
      while (std::getline(list, kind, ',')) {
        if (kind == "none") continue;
        if (kind != "kill" && kind != "pause" && kind != "corrupt" && kind != "zone" &&
            kind != "partition" && kind != "disk-full") {
          *error = "unknown nemesis " + kind;
          return false;
        }
        o->nemesis.insert(kind);
      }
    } else {
      *error = "unknown argument " + a;
      return false;
    }
    if (!error->empty()) return false;
  }
  if (o->duration <= 0) *error = "--duration must be positive";
  if (o->writers <= 0) *error = "--writers must be positive";
  return error->empty();
}

// The checker's direct look at the replicas of one file.
class ReplicaChecker {
 public:
  ReplicaChecker(Context* ctx, ChaosCluster* cluster)
      : ctx_(ctx),
        meta_([&] {
          client::MetaClientOptions o;
          o.servers = cluster->meta().AddressList();
          o.timeout = 30s;
          return o;
        }()),
        chunks_(client::ChunkClientOptions{cluster->chunks().cluster_id(), 10s}) {}

  void Check(const std::string& what, uint64_t inode, const std::string& want) {
    // count 0 would mean 1: ask for every chunk the file can have.
    auto got = meta_.GetChunks(inode, 0, want.size() / kChunkSize + 2);
    if (!got.ok()) {
      ctx_->Fail(what + ": GetChunks of inode " + std::to_string(inode) + ": " +
                 got.status().ToString());
      return;
    }
    std::set<uint64_t> indexes;
    for (const pb::ChunkLocation& c : got->chunks()) {
      indexes.insert(c.index());
      const uint64_t off = c.index() * kChunkSize;
      if (off >= want.size()) continue;
      const uint64_t len = std::min<uint64_t>(kChunkSize, want.size() - off);
      const std::string slice = want.substr(off, len);
      std::set<std::string> zones;
      std::string chain;
      for (const pb::ChunkReplica& r : c.replicas()) {
        zones.insert(r.zone());
        chain += " " + std::to_string(r.node_id()) + "/" + r.zone();
      }
      const std::string where = what + " chunk " + std::to_string(c.chunk_id()) + " v" +
                                std::to_string(c.version()) + " (index " +
                                std::to_string(c.index()) + ", chain" + chain + ")";
      if (c.replicas_size() != 3 || zones.size() != 3) {
        ctx_->Fail(where + ": not 3 replicas on 3 zones");
      }
      for (const pb::ChunkReplica& r : c.replicas()) {
        auto data = chunks_.Read(r, c.chunk_id(), c.version(), 0, len);
        replicas_read_++;
        if (!data.ok()) {
          ctx_->Corrupt(where + ": replica on node " + std::to_string(r.node_id()) +
                        " unreadable: " + data.status().ToString());
        } else if (*data != slice) {
          ctx_->Corrupt(where + ": replica on node " + std::to_string(r.node_id()) + ": " +
                        Describe(*data, slice));
          if (ctx_->on_mismatch) ctx_->on_mismatch("/" + what, *data);
        }
      }
    }
    const uint64_t needed = (want.size() + kChunkSize - 1) / kChunkSize;
    for (uint64_t i = 0; i < needed; i++)
      if (!indexes.count(i))
        ctx_->Lost(what + ": no chunk at index " + std::to_string(i) + " (inode " +
                   std::to_string(inode) + ", " + std::to_string(want.size()) + " bytes)");
    files_++;
  }

  int files() const { return files_; }
  int replicas_read() const { return replicas_read_; }

 private:
  Context* ctx_;
  client::MetaClient meta_;
  client::ChunkClient chunks_;
  int files_ = 0, replicas_read_ = 0;
};

int Run(const Options& opt) {
  umask(022);
  std::string dir = opt.dir;
  if (dir.empty())
    dir = (fs::temp_directory_path() /
           ("dfs-chaos-" + std::to_string(opt.seed) + "-" + std::to_string(getpid())))
              .string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  Log log(dir + "/chaos.log");
  Tally tally;
  Context ctx{&log, &tally, opt.seed, kChunkSize, dir, nullptr};
  std::string kinds;
  for (const std::string& k : opt.nemesis)
    kinds += (kinds.empty() ? "" : ",") + k;
  log.Say("chaos: seed " + std::to_string(opt.seed) + ", " + std::to_string(opt.duration) +
          " s, nemesis " + (kinds.empty() ? "none" : kinds) + ", dir " + dir);

  bool ok = true;
  {
    // The disk-full nemesis fills a chunk server's own small file system.
    ChaosCluster cluster(dir, opt.nemesis.count("disk-full") ? 512ull << 20 : 0,
                         opt.meta_log_level);
    if (!cluster.ok() || !cluster.MountAll()) {
      ctx.Fail("the cluster did not start (see the logs in " + dir + ")");
      std::printf("chaos: ops=0 faults=0 lost=0 corrupt=0 app_errors=0\n");
      return 1;
    }
    std::atomic<int> mismatches{0};
    ctx.on_mismatch = [&](const std::string& path, const std::string& got) {
      int n = mismatches++;
      if (n >= 20) return;
      const std::string file = dir + "/mismatch" + std::to_string(n) + ".bin";
      if (FILE* f = std::fopen(file.c_str(), "we")) {
        std::fwrite(got.data(), 1, got.size(), f);
        std::fclose(f);
      }
      std::string out;
      cluster.DfsAdmin({"file", path}, &out);
      log.Line("mismatch " + std::to_string(n) + ": " + path + " as read is in " + file +
               "; dfsadmin file " + path + ":\n" + out);
    };
    std::vector<std::string> mounts, history_mounts;
    for (int m = 0; m < cluster.mount_count(); m++)
      (m < kWorkloadMounts ? mounts : history_mounts).push_back(cluster.mount(m).path());
    History history(&ctx, history_mounts);
    if (!history.Prepare()) return 1;

    std::vector<std::unique_ptr<Writer>> writers;
    std::vector<Writer*> all;
    for (int m = 0; m < kWorkloadMounts; m++) {
      for (int t = 0; t < opt.writers; t++) {
        writers.push_back(std::make_unique<Writer>(&ctx, m + 1, t, mounts[m]));
        all.push_back(writers.back().get());
        if (mkdir((mounts[m] + "/" + all.back()->dir_name()).c_str(), 0755) != 0) {
          ctx.Fail("mkdir " + all.back()->dir_name() + ": " + std::strerror(errno));
          return 1;
        }
      }
    }
    std::vector<std::unique_ptr<Reader>> readers;
    for (int m = 0; m < kWorkloadMounts; m++)
      readers.push_back(std::make_unique<Reader>(&ctx, m + 1, mounts[m], all));

    std::atomic<bool> stop{false};
    std::atomic<int> running{0};
    std::vector<std::thread> threads;
    for (auto& w : writers) {
      running++;
      threads.emplace_back([&, w = w.get()] {
        w->Run(stop);
        running--;
      });
    }
    for (auto& r : readers) {
      running++;
      threads.emplace_back([&, r = r.get()] {
        r->Run(stop);
        running--;
      });
    }
    for (int c = 0; c < kHistoryClients; c++) {
      running++;
      threads.emplace_back([&, c] {
        history.Run(c, stop);
        running--;
      });
    }
    Nemesis nemesis(&ctx, &cluster, opt.nemesis);
    std::atomic<bool> nemesis_stop{false};
    // The servers the nemesis restarts are its thread's children, and die
    // with that thread (PR_SET_PDEATHSIG follows the thread that forked),
    // so the thread lives until the checks are over.
    std::atomic<bool> nemesis_done{false}, nemesis_exit{false};
    std::thread nemesis_thread([&] {
      nemesis.Run(nemesis_stop);
      nemesis_done = true;
      while (!nemesis_exit)
        std::this_thread::sleep_for(50ms);
    });

    const auto end = Clock::now() + std::chrono::seconds(opt.duration);
    int last_report = 0;
    while (Clock::now() < end) {
      std::this_thread::sleep_for(200ms);
      int elapsed = static_cast<int>(log.Now());
      if (elapsed / 30 > last_report) {
        last_report = elapsed / 30;
        log.Say("progress: ops=" + std::to_string(tally.ops) + " faults=" +
                std::to_string(tally.faults) + " app_errors=" + std::to_string(tally.app_errors));
      }
    }
    log.Say("time is up: stopping the nemesis and the workload");
    nemesis_stop = true;
    stop = true;
    while (!nemesis_done)
      std::this_thread::sleep_for(50ms);
    // A call may wait out a fault's end (meta_timeout is 60 s): give the
    // workload that and more before calling it stuck.
    const auto give_up = Clock::now() + 180s;
    while (running > 0 && Clock::now() < give_up)
      std::this_thread::sleep_for(100ms);
    if (running > 0) {
      ctx.Fail(std::to_string(running.load()) +
               " workload threads still stuck in a call 180 s after the end; see " + dir +
               "/chaos.log for their last calls");
      std::printf("chaos: ops=%llu faults=%llu lost=%llu corrupt=%llu app_errors=%llu\n",
                  (unsigned long long)tally.ops, (unsigned long long)tally.faults,
                  (unsigned long long)tally.lost, (unsigned long long)tally.corrupt,
                  (unsigned long long)tally.app_errors);
      std::fprintf(stderr, "chaos: FAILED, seed %llu, logs in %s\n", (unsigned long long)opt.seed,
                   dir.c_str());
      std::fflush(stdout);
      std::_Exit(1);
    }
    for (auto& t : threads)
      t.join();

    log.Say("healing: restarting what is down, waiting for dfsadmin status to say healthy");
    if (!nemesis.HealAll(180s)) {
      std::string out;
      cluster.DfsAdmin({"status"}, &out);
      ctx.Fail("the cluster is not healthy 180 s after the faults stopped:\n" + out);
    }

    log.Say("checking: every acknowledged file through both mounts and on every replica");
    ReplicaChecker replicas(&ctx, &cluster);
    auto check = [&](const std::string& what, uint64_t inode, const std::string& want) {
      replicas.Check(what, inode, want);
    };
    for (auto& w : writers)
      w->Check(mounts, check);
    for (const std::string& m : mounts) {
      std::set<std::string> want = {History::kDir};
      for (Writer* w : all)
        want.insert(w->dir_name());
      for (const auto& e : fs::directory_iterator(m))
        if (!want.count(e.path().filename().string()))
          ctx.Corrupt("unexpected name " + e.path().filename().string() + " at the root of " + m);
    }
    log.Say("checked " + std::to_string(replicas.files()) + " files, " +
            std::to_string(replicas.replicas_read()) + " chunk replicas");
    history.Check();

    std::string fsck;
    int rc = cluster.DfsAdmin({"fsck"}, &fsck);
    log.Line("dfsadmin fsck (exit " + std::to_string(rc) + "):\n" + fsck);
    if (rc != 0) ctx.Fail("dfsadmin fsck exited " + std::to_string(rc) + ":\n" + fsck);

    nemesis.CheckDaemons();
    for (int m = 0; m < cluster.mount_count(); m++) {
      int status = cluster.mount(m).Unmount(false, 60s);
      if (status != 0)
        ctx.Fail("dfs-mount " + std::to_string(m + 1) + " exited " + std::to_string(status) +
                 " at unmount (log " + cluster.mount(m).log_path() + ")");
    }

    nemesis_exit = true;
    nemesis_thread.join();
    std::string by_kind;
    for (const auto& [kind, n] : nemesis.counts())
      by_kind += " " + kind + "=" + std::to_string(n);
    log.Say("faults by kind:" + (by_kind.empty() ? std::string(" none") : by_kind));
    char longest[64];
    std::snprintf(longest, sizeof(longest), "%.0f ms", tally.longest_ms());
    log.Say(std::string("longest pause the application saw: ") + longest + " (" +
            tally.longest_what() + ")");
    ok = tally.lost == 0 && tally.corrupt == 0 && tally.app_errors == 0 && tally.failures == 0;
  }

  const std::string last =
      "chaos: ops=" + std::to_string(tally.ops) + " faults=" + std::to_string(tally.faults) +
      " lost=" + std::to_string(tally.lost) + " corrupt=" + std::to_string(tally.corrupt) +
      " app_errors=" + std::to_string(tally.app_errors);
  log.Line(last);
  if (!ok) {
    std::fprintf(stderr, "chaos: FAILED (%llu other failures), seed %llu, logs in %s\n",
                 (unsigned long long)tally.failures, (unsigned long long)opt.seed, dir.c_str());
    std::fprintf(stderr, "chaos: reproduce with: chaos --duration %d --seed %llu\n", opt.duration,
                 (unsigned long long)opt.seed);
  } else if (!opt.keep) {
    fs::remove_all(dir);
  }
  std::printf("%s\n", last.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace dfs::chaos

int main(int argc, char** argv) {
  dfs::chaos::Options options;
  std::string error;
  if (!dfs::chaos::Parse(argc, argv, &options, &error)) return dfs::chaos::Usage(error.c_str());
  return dfs::chaos::Run(options);
}
