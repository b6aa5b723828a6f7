// chunk-bench: chunk server data path against the disk, side by side.
//
//   chunk-bench [--mib N] [--writers W] [--readers R] [--dir DIR] [--no-fio]
//
// Starts three dfs-meta and three dfs-chunkserver processes on loopback
// (data under --dir, default a fresh directory in /var/tmp), then:
//   - chain write: W writers, each writing N/W MiB in 1 MiB writes through
//     a 3-replica chain (one chunk after another, allocated by the meta
//     leader), then Sync;
//   - 1 MiB reads: R readers read it all back from the first replica, with
//     the page cache dropped first (cold) and again (warm);
//   - 4 KiB reads: R readers at random offsets for a few seconds (cold).
// Then fio on the same file system: direct 1 MiB sequential write and read,
// and 4 KiB random read, io_uring, iodepth = W / R. Prints MB/s, IOPS and
// the ratios the targets are stated in.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/fio_runner.h"
#include "client/chunk_client.h"
#include "client/meta_client.h"
#include "common/malloc_tuning.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/server_group.h"

namespace dfs::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kChunkSize = 64 * kMiB;

struct Options {
  uint64_t mib = 1024;
  int writers = 4;
  int readers = 4;
  std::string dir;
  bool fio = true;
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// fio with this run's settings: direct I/O through io_uring.
std::pair<double, double> Fio(const std::string& dir, const std::string& rw, const std::string& bs,
                              int depth, const std::string& size, int seconds) {
  FioJob job;
  job.directory = dir;
  job.rw = rw;
  job.block_size = bs;
  job.size = size;
  job.iodepth = depth;
  job.direct = true;
  job.engine = "io_uring";
  job.runtime_seconds = seconds;
  FioResult r = RunFio(job);
  return {r.mb_per_s, r.iops};
}

int Run(const Options& opt) {
  std::string dir = opt.dir;
  if (dir.empty()) dir = "/var/tmp/chunk-bench-" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  testing::ServerGroup meta("dfs-meta", 3, {"--chunk-size", "64MiB"}, dir + "/meta");
  testing::ChunkServers chunks(dir + "/chunk", 3, meta.AddressList(), {"--scrub-rate", "0"});
  for (int i = 1; i <= 3; i++) {
    if (!chunks.WaitRegistered(i)) {
      std::fprintf(stderr, "chunk-bench: chunk server %d did not register (see %s.log)\n", i,
                   chunks.data_dir(i).c_str());
      return 1;
    }
  }
  client::MetaClientOptions mo;
  mo.servers = meta.AddressList();
  mo.timeout = 30s;
  client::MetaClient mc(mo);
  mc.SetClusterId(chunks.cluster_id());
  client::ChunkClient cc({chunks.cluster_id(), 60s});

  // One file per writer; chunks allocated ahead so the timing is the data path.
  const uint64_t per_writer = opt.mib / opt.writers * kMiB;
  const uint64_t chunks_per_writer = (per_writer + kChunkSize - 1) / kChunkSize;
  std::vector<std::vector<pb::ChunkLocation>> files(opt.writers);
  for (int w = 0; w < opt.writers; w++) {
    auto f = mc.Create(1, "bench" + std::to_string(w), pb::FILE_TYPE_REGULAR, 0644, true);
    if (!f.ok()) {
      std::fprintf(stderr, "chunk-bench: %s\n", f.status().ToString().c_str());
      return 1;
    }
    for (uint64_t i = 0; i < chunks_per_writer; i++) {
      auto c = mc.AllocateChunk(f->inode(), i);
      if (!c.ok() || !cc.Create(*c).ok()) {
        std::fprintf(stderr, "chunk-bench: cannot allocate a chunk\n");
        return 1;
      }
      files[w].push_back(*c);
    }
  }
  std::string block(kMiB, '\0');
  std::mt19937_64 rng(1);
  for (char& ch : block)
    ch = static_cast<char>(rng());

  std::printf("chunk-bench: 3 dfs-meta + 3 dfs-chunkserver on loopback, data in %s, %d cores\n",
              dir.c_str(), static_cast<int>(std::thread::hardware_concurrency()));

  // Chain write.
  std::atomic<uint64_t> errors{0};
  auto t0 = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < opt.writers; w++) {
      threads.emplace_back([&, w] {
        for (uint64_t off = 0; off < per_writer; off += kMiB) {
          const pb::ChunkLocation& c = files[w][off / kChunkSize];
          if (!cc.Write(c, off % kChunkSize, block).ok()) errors++;
        }
        for (const pb::ChunkLocation& c : files[w])
          if (!cc.Sync(c).ok()) errors++;
      });
    }
    for (auto& t : threads)
      t.join();
  }
  const double write_s = Seconds(Clock::now() - t0);
  const double write_mbs = opt.writers * per_writer / 1e6 / write_s;

  // 1 MiB reads from the first replica of each chunk.
  auto read_all = [&]() {
    std::vector<std::thread> threads;
    auto start = Clock::now();
    for (int r = 0; r < opt.readers; r++) {
      threads.emplace_back([&, r] {
        for (int w = r; w < opt.writers; w += opt.readers) {
          for (uint64_t off = 0; off < per_writer; off += kMiB) {
            const pb::ChunkLocation& c = files[w][off / kChunkSize];
            auto got = cc.Read(c.replicas(0), c.chunk_id(), c.version(), off % kChunkSize, kMiB);
            if (!got.ok() || *got != block) errors++;
          }
        }
      });
    }
    for (auto& t : threads)
      t.join();
    return opt.writers * per_writer / 1e6 / Seconds(Clock::now() - start);
  };
  const bool dropped = DropCaches();
  const double read_cold_mbs = read_all();
  const double read_warm_mbs = read_all();

  // 4 KiB random reads.
  DropCaches();
  std::atomic<uint64_t> small_reads{0};
  {
    std::vector<std::thread> threads;
    auto end = Clock::now() + 5s;
    for (int r = 0; r < opt.readers; r++) {
      threads.emplace_back([&, r] {
        std::mt19937_64 rng(r + 100);
        while (Clock::now() < end) {
          const auto& f = files[rng() % opt.writers];
          uint64_t off = (rng() % (per_writer / 4096)) * 4096;
          const pb::ChunkLocation& c = f[off / kChunkSize];
          auto got = cc.Read(c.replicas(0), c.chunk_id(), c.version(), off % kChunkSize, 4096);
          if (!got.ok()) errors++;
          small_reads++;
        }
      });
    }
    for (auto& t : threads)
      t.join();
  }
  const double small_iops = small_reads / 5.0;

  std::printf("%-34s %10s %10s\n", "", "MB/s", "IOPS");
  std::printf("%-34s %10.1f %10.0f\n", "dfs chain write 1MiB (3 replicas)", write_mbs,
              write_mbs * 1e6 / kMiB);
  std::printf("%-34s %10.1f %10.0f%s\n", "dfs read 1MiB, cold", read_cold_mbs,
              read_cold_mbs * 1e6 / kMiB, dropped ? "" : "  (page cache not dropped: not root)");
  std::printf("%-34s %10.1f %10.0f\n", "dfs read 1MiB, warm", read_warm_mbs,
              read_warm_mbs * 1e6 / kMiB);
  std::printf("%-34s %10.1f %10.0f\n", "dfs read 4KiB random, cold", small_iops * 4096 / 1e6,
              small_iops);
  if (opt.fio) {
    const std::string fio_dir = dir + "/fio";
    fs::create_directories(fio_dir);
    const std::string size = std::to_string(std::min<uint64_t>(opt.mib, 1024)) + "M";
    auto [fw, fw_iops] = Fio(fio_dir, "write", "1M", opt.writers, size, 0);
    auto [fr, fr_iops] = Fio(fio_dir, "read", "1M", opt.readers, size, 0);
    auto [f4, f4_iops] = Fio(fio_dir, "randread", "4k", opt.readers, size, 5);
    fs::remove_all(fio_dir);
    std::printf("%-34s %10.1f %10.0f\n", "fio write 1MiB direct", fw, fw_iops);
    std::printf("%-34s %10.1f %10.0f\n", "fio read 1MiB direct", fr, fr_iops);
    std::printf("%-34s %10.1f %10.0f\n", "fio randread 4KiB direct", f4, f4_iops);
    std::printf("chain write / (fio write / 3): %.2f (target >= 0.50)\n",
                fw > 0 ? write_mbs / (fw / 3) : 0);
    std::printf("cold 1MiB read / fio read:     %.2f (target >= 0.50)\n",
                fr > 0 ? read_cold_mbs / fr : 0);
    std::printf("4KiB read IOPS / fio IOPS:     %.2f\n", f4_iops > 0 ? small_iops / f4_iops : 0);
  }
  std::printf("errors: %llu\n", static_cast<unsigned long long>(errors.load()));
  if (opt.dir.empty() && !std::getenv("KEEP_TEST_DIR")) fs::remove_all(dir);
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  dfs::KeepLargeBuffersInHeap();
  dfs::bench::Options opt;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "chunk-bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mib") {
      opt.mib = std::stoull(next());
    } else if (a == "--writers") {
      opt.writers = std::stoi(next());
    } else if (a == "--readers") {
      opt.readers = std::stoi(next());
    } else if (a == "--dir") {
      opt.dir = next();
    } else if (a == "--no-fio") {
      opt.fio = false;
    } else {
      std::fprintf(stderr,
                   "usage: chunk-bench [--mib N] [--writers W] [--readers R] [--dir DIR] "
                   "[--no-fio]\n");
      return 2;
    }
  }
  if (opt.writers < 1 || opt.readers < 1 || opt.mib < static_cast<uint64_t>(opt.writers)) {
    std::fprintf(stderr, "chunk-bench: need --writers, --readers >= 1 and --mib >= --writers\n");
    return 2;
  }
  return dfs::bench::Run(opt);
}
