// files-bench: the small-file phases of bench/run, one phase per call, on
// any directory (a dfs mount, a MooseFS mount, the local disk). bench/run
// drops caches and remounts between calls, so "cold" and "warm" are the
// caller's to arrange.
//
//   files-bench create  DIR --files N [--min B] [--max B] [--seed S] [--threads T]
//   files-bench stat    DIR --files N [--threads T]
//   files-bench read    DIR --files N [--min B] [--max B] [--seed S] [--threads T] [--verify]
//   files-bench rename  DIR --files N [--threads T]
//   files-bench delete  DIR --files N [--threads T]      (the renamed names)
//   files-bench include DIR --files N [--min B] [--max B] [--seed S] --workers W
//                       (--seconds T | --passes P) [--verify]
//
// File i lives at DIR/dA/dB/fI (20 files a leaf directory, 10 leaves a
// branch), its size and bytes are functions of (seed, i): a reader knows
// what it must see. `include` is a PHP interpreter's request: stat, open,
// read whole and close every file of the tree in order, W workers at once.
//
// Prints one JSON object on stdout: ops, seconds, ops_per_s, p50_ms, p99_ms,
// errors, mismatches (bytes that differ from the seed's), and for include
// passes and pass_p99_ms. Verification happens outside the timed region.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace dfs::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string phase;
  std::string dir;
  uint64_t files = 0;
  uint64_t min_bytes = 4096;
  uint64_t max_bytes = 65536;
  uint64_t seed = 1;
  int threads = 1;
  int workers = 0;  // include: W workers (threads) doing whole passes
  double seconds = 0;
  int passes = 0;
  bool verify = false;
};

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string Leaf(const Options& o, uint64_t i) {
  return o.dir + "/d" + std::to_string(i / 200) + "/d" + std::to_string(i / 20 % 10);
}

std::string PathOf(const Options& o, uint64_t i, const char* suffix = "") {
  return Leaf(o, i) + "/f" + std::to_string(i) + suffix;
}

uint64_t SizeOf(const Options& o, uint64_t i) {
  return o.min_bytes + Mix(o.seed * 1000003 + i) % (o.max_bytes - o.min_bytes + 1);
}

std::string ContentOf(const Options& o, uint64_t i) {
  std::string s(SizeOf(o, i), '\0');
  uint64_t state = Mix(o.seed ^ (i << 20));
  for (size_t at = 0; at < s.size(); at += 8) {
    state = Mix(state);
    std::memcpy(&s[at], &state, std::min<size_t>(8, s.size() - at));
  }
  return s;
}

// What one thread saw: latencies of its operations and what went wrong.
struct Tally {
  std::vector<double> ms;
  std::vector<double> pass_ms;
  uint64_t errors = 0;
  uint64_t mismatches = 0;
  uint64_t bytes = 0;
  std::string first_error;

  void Error(const std::string& what) {
    if (errors++ == 0) first_error = what + ": " + std::strerror(errno);
  }
};

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool WriteAll(int fd, const std::string& data) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

// Reads the whole file into `out`; false on any error.
bool ReadAll(const std::string& path, std::string* out, Tally& t) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return t.Error("open " + path), false;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      t.Error("read " + path);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, n);
  }
  if (::close(fd) != 0) return t.Error("close " + path), false;
  t.bytes += out->size();
  return true;
}

void MakeDirs(const Options& o) {
  ::mkdir(o.dir.c_str(), 0755);
  for (uint64_t i = 0; i < o.files; i += 20) {
    std::string leaf = Leaf(o, i);
    std::string branch = leaf.substr(0, leaf.rfind('/'));
    ::mkdir(branch.c_str(), 0755);
    ::mkdir(leaf.c_str(), 0755);
  }
}

void OnePhaseOp(const Options& o, uint64_t i, Tally& t) {
  const std::string path = PathOf(o, i);
  auto start = Clock::now();
  if (o.phase == "create") {
    std::string data = ContentOf(o, i);
    start = Clock::now();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return t.Error("create " + path);
    bool ok = WriteAll(fd, data);
    if (!ok) t.Error("write " + path);
    if (::close(fd) != 0 && ok) return t.Error("close " + path);
    if (!ok) return;
    t.bytes += data.size();
  } else if (o.phase == "stat") {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return t.Error("stat " + path);
    if (uint64_t(st.st_size) != SizeOf(o, i)) t.mismatches++;
  } else if (o.phase == "read") {
    std::string got;
    if (!ReadAll(path, &got, t)) return;
    t.ms.push_back(MsSince(start));
    if (o.verify && got != ContentOf(o, i)) t.mismatches++;
    return;
  } else if (o.phase == "rename") {
    if (::rename(path.c_str(), PathOf(o, i, ".r").c_str()) != 0) return t.Error("rename " + path);
  } else if (o.phase == "delete") {
    std::string renamed = PathOf(o, i, ".r");
    if (::unlink(renamed.c_str()) != 0) return t.Error("unlink " + renamed);
  }
  t.ms.push_back(MsSince(start));
}

// One request of a PHP application: every file of the tree, in order.
void IncludePass(const Options& o, Tally& t) {
  const auto pass_start = Clock::now();
  std::string got;
  for (uint64_t i = 0; i < o.files; i++) {
    const std::string path = PathOf(o, i);
    const auto start = Clock::now();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      t.Error("stat " + path);
      continue;
    }
    if (!ReadAll(path, &got, t)) continue;
    t.ms.push_back(MsSince(start));
    if (o.verify && got != ContentOf(o, i)) t.mismatches++;
  }
  t.pass_ms.push_back(MsSince(pass_start));
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(p * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

int Run(const Options& o) {
  if (o.phase == "create") MakeDirs(o);
  const bool include = o.phase == "include";
  const int threads = include ? std::max(1, o.workers) : std::max(1, o.threads);
  std::vector<Tally> tallies(threads);
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      Tally& tally = tallies[t];
      if (include) {
        for (int pass = 0;; pass++) {
          if (o.passes > 0 ? pass >= o.passes : Clock::now() >= deadline) break;
          IncludePass(o, tally);
        }
        return;
      }
      for (uint64_t i = t; i < o.files; i += threads)
        OnePhaseOp(o, i, tally);
    });
  }
  for (std::thread& th : pool)
    th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  Tally all;
  for (Tally& t : tallies) {
    all.ms.insert(all.ms.end(), t.ms.begin(), t.ms.end());
    all.pass_ms.insert(all.pass_ms.end(), t.pass_ms.begin(), t.pass_ms.end());
    all.errors += t.errors;
    all.mismatches += t.mismatches;
    all.bytes += t.bytes;
    if (all.first_error.empty()) all.first_error = t.first_error;
  }
  if (!all.first_error.empty())
    std::fprintf(stderr, "files-bench %s: %llu errors, first: %s\n", o.phase.c_str(),
                 (unsigned long long)all.errors, all.first_error.c_str());
  const size_t ops = all.ms.size();
  std::printf(
      "{\"phase\": \"%s\", \"ops\": %zu, \"seconds\": %.3f, \"ops_per_s\": %.1f, "
      "\"mb_per_s\": %.2f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %llu, "
      "\"mismatches\": %llu, \"passes\": %zu, \"pass_p99_ms\": %.2f}\n",
      o.phase.c_str(), ops, seconds, seconds > 0 ? ops / seconds : 0,
      seconds > 0 ? all.bytes / seconds / 1e6 : 0, Percentile(all.ms, 0.50),
      Percentile(all.ms, 0.99), (unsigned long long)all.errors, (unsigned long long)all.mismatches,
      all.pass_ms.size(), Percentile(all.pass_ms, 0.99));
  return all.errors == 0 && all.mismatches == 0 ? 0 : 1;
}

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: files-bench create|stat|read|rename|delete|include DIR --files N\n"
               "         [--min B] [--max B] [--seed S] [--threads T] [--workers W]\n"
               "         [--seconds T | --passes P] [--verify]\n");
  std::exit(2);
}

}  // namespace
}  // namespace dfs::bench

int main(int argc, char** argv) {
  using dfs::bench::Usage;
  if (argc < 3) Usage();
  dfs::bench::Options o;
  o.phase = argv[1];
  o.dir = argv[2];
  const std::vector<std::string> phases{"create", "stat", "read", "rename", "delete", "include"};
  if (std::find(phases.begin(), phases.end(), o.phase) == phases.end()) Usage();
  for (int i = 3; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--verify") {
      o.verify = true;
      continue;
    }
    if (i + 1 >= argc) Usage();
    const char* v = argv[++i];
    if (a == "--files") {
      o.files = std::strtoull(v, nullptr, 10);
    } else if (a == "--min") {
      o.min_bytes = std::strtoull(v, nullptr, 10);
    } else if (a == "--max") {
      o.max_bytes = std::strtoull(v, nullptr, 10);
    } else if (a == "--seed") {
      o.seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--threads") {
      o.threads = std::atoi(v);
    } else if (a == "--workers") {
      o.workers = std::atoi(v);
    } else if (a == "--seconds") {
      o.seconds = std::atof(v);
    } else if (a == "--passes") {
      o.passes = std::atoi(v);
    } else {
      Usage();
    }
  }
  if (o.files == 0 || o.min_bytes > o.max_bytes) Usage();
  if (o.phase == "include" && o.passes <= 0 && o.seconds <= 0) Usage();
  return dfs::bench::Run(o);
}
