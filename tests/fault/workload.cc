#include "tests/fault/workload.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/bytes.h"

namespace dfs::chaos {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kFiles = 12;  // file names f0..f11 per writer
constexpr int kDirs = 4;    // directory names d0..d3 per writer

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e5ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string Errno(int err) {
  return std::string(strerrordesc_np(err)) + " (" + std::to_string(err) + ")";
}

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Writes all of `data` in pieces of random size; 0 or the errno.
int WritePieces(int fd, const std::string& data, std::mt19937_64& rng) {
  size_t off = 0;
  while (off < data.size()) {
    size_t piece = std::min<size_t>(data.size() - off, 4096 + rng() % (1 << 20));
    ssize_t n = write(fd, data.data() + off, piece);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

std::string Describe(const std::string& got, const std::string& want) {
  std::ostringstream o;
  o << testing::FirstDifference(got, want);
  size_t n = std::min(got.size(), want.size()), differ = 0, zeros = 0, ranges = 0;
  o << "; ranges:";
  for (size_t i = 0; i < n;) {
    if (got[i] == want[i]) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < n && got[j] != want[j]) {
      differ++;
      if (got[j] == 0) zeros++;
      j++;
    }
    if (ranges++ < 6) o << " [" << i << "," << j << ")";
    i = j;
  }
  o << " (" << ranges << " ranges, " << differ << " bytes differ, " << zeros
    << " of them read as zero)";
  return o.str();
}

std::string Content(const std::vector<Segment>& segments) {
  std::string out;
  out.reserve(ContentSize(segments));
  for (const Segment& s : segments)
    out += testing::Pattern(s.size, s.seed);
  return out;
}

uint64_t ContentSize(const std::vector<Segment>& segments) {
  uint64_t n = 0;
  for (const Segment& s : segments)
    n += s.size;
  return n;
}

int ReadWhole(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->append(buf.data(), static_cast<size_t>(n));
  }
  if (close(fd) != 0) return errno;
  return 0;
}

Writer::Writer(Context* ctx, int mount, int thread, std::string mount_path)
    : ctx_(ctx),
      mount_(mount),
      thread_(thread),
      mount_path_(std::move(mount_path)),
      dir_name_("w" + std::to_string(mount) + "_" + std::to_string(thread)),
      rng_(Mix(ctx->seed, 1000 + mount * 100 + thread)) {
  for (int i = 0; i < kFiles; i++)
    names_["f" + std::to_string(i)] = NameState();
  for (int i = 0; i < kDirs; i++) {
    NameState d;
    d.dir = true;
    names_["d" + std::to_string(i)] = d;
  }
}

void Writer::Run(const std::atomic<bool>& stop) {
  static constexpr const char* kOps[] = {"write", "append",    "rename",  "unlink",
                                         "chmod", "dir churn", "read own"};
  while (!stop) {
    int r = static_cast<int>(rng_() % 100);
    const auto t0 = Clock::now();
    const int op = r < 30 ? 0 : r < 45 ? 1 : r < 55 ? 2 : r < 62 ? 3 : r < 67 ? 4 : r < 72 ? 5 : 6;
    switch (op) {
      case 0:
        WriteFile();
        break;
      case 1:
        Append();
        break;
      case 2:
        Rename();
        break;
      case 3:
        Unlink();
        break;
      case 4:
        Chmod();
        break;
      case 5:
        DirChurn();
        break;
      default:
        ReadOwn();
        break;
    }
    ctx_->tally->Took(Ms(t0), Who() + " " + kOps[op]);
    ctx_->tally->ops++;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 20));
  }
}

Segment Writer::NewSegment() {
  generation_++;
  Segment s;
  s.seed = Mix(ctx_->seed, (uint64_t(mount_) << 56) | (uint64_t(thread_) << 48) | generation_);
  int r = static_cast<int>(rng_() % 100);
  if (r < 50) {
    s.size = static_cast<uint32_t>(rng_() % (16 << 10));
  } else if (r < 85) {
    s.size = static_cast<uint32_t>((16 << 10) + rng_() % (496 << 10));
  } else {
    s.size = static_cast<uint32_t>((512 << 10) + rng_() % (2560 << 10));
  }
  return s;
}

NameState Writer::Get(const std::string& name) {
  std::lock_guard lock(mu_);
  return names_.at(name);
}

void Writer::Begin(const std::vector<std::string>& names) {
  std::lock_guard lock(mu_);
  for (const std::string& n : names) {
    NameState& s = names_.at(n);
    s.busy = true;
    s.version++;
  }
}

void Writer::End(const std::string& name, NameState state) {
  std::lock_guard lock(mu_);
  NameState& s = names_.at(name);
  state.busy = false;
  state.version = s.version + 1;
  state.changed = Clock::now();
  state.dir = s.dir;
  s = std::move(state);
}

void Writer::Error(const std::string& op, const std::string& name, int err) {
  ctx_->AppError(Who() + " " + op + " " + name + ": " + Errno(err));
}

bool Writer::Resolve(const std::string& name) {
  NameState st = Get(name);
  if (st.known != Known::kUnknown) return true;
  Begin({name});
  int rc = st.dir ? rmdir(Path(name).c_str()) : unlink(Path(name).c_str());
  int err = rc == 0 ? 0 : errno;
  ctx_->log->Line(Who() + " resolve " + name + " -> " + (err ? Errno(err) : "ok"));
  if (err != 0 && err != ENOENT) {
    Error(st.dir ? "rmdir (resolve)" : "unlink (resolve)", name, err);
    End(name, st);
    return false;
  }
  End(name, NameState());
  return true;
}

void Writer::WriteFile() {
  const std::string name = "f" + std::to_string(rng_() % kFiles);
  if (!Resolve(name)) return;
  NameState st = Get(name);
  const bool create = st.known == Known::kAbsent;
  const Segment seg = NewSegment();
  const std::string data = Content({seg});
  const bool do_fsync = rng_() % 2 == 0;
  Begin({name});
  auto t0 = Clock::now();
  NameState after;
  after.known = Known::kUnknown;
  std::string outcome = "ok";
  // O_CLOEXEC everywhere: a server the nemesis forks meanwhile must not
  // inherit (and hold open) a file of the mount.
  int fd =
      open(Path(name).c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : O_TRUNC), 0644);
  if (fd < 0) {
    int err = errno;
    outcome = "open: " + Errno(err);
    if (create && err == EEXIST) {
      ctx_->Corrupt(Who() + " create " + name + ": exists, but the model says it does not");
    } else if (!create && err == ENOENT) {
      ctx_->Lost(Who() + " open " + name + " for writing: gone, but the model has it");
    } else {
      Error("open", name, err);
    }
  } else {
    if (WriteAndClose(fd, data, do_fsync, "", name, &outcome)) {
      after.known = Known::kPresent;
      after.content = {seg};
      after.mode = create ? 0644 : st.mode;
      after.mode_known = create ? true : st.mode_known;
    }
  }
  ctx_->log->Line(Who() + (create ? " create " : " overwrite ") + name +
                  " seed=" + std::to_string(seg.seed) + " size=" + std::to_string(seg.size) +
                  " fsync=" + std::to_string(do_fsync) + " -> " + outcome + " (" +
                  std::to_string(Ms(t0)) + " ms)");
  End(name, after);
}

// Writes `data` to `fd` in random pieces, fsyncs if asked, closes. True
// when the data is acknowledged (fsync or close returned 0 after every
// write succeeded); errors are counted and named in `outcome`.
bool Writer::WriteAndClose(int fd, const std::string& data, bool do_fsync,
                           const std::string& suffix, const std::string& name,
                           std::string* outcome) {
  bool acked = false, failed = false;
  if (int err = WritePieces(fd, data, rng_); err != 0) {
    Error("write" + suffix, name, err);
    *outcome = "write: " + Errno(err);
    failed = true;
  }
  if (!failed && do_fsync) {
    if (fsync(fd) == 0) {
      acked = true;
    } else {
      Error("fsync" + suffix, name, errno);
      *outcome = "fsync: " + Errno(errno);
      failed = true;
    }
  }
  if (close(fd) != 0) {
    Error("close" + suffix, name, errno);
    if (!acked) *outcome = "close: " + Errno(errno);
  } else if (!failed) {
    acked = true;
  }
  return acked;
}

void Writer::Append() {
  const std::string name = "f" + std::to_string(rng_() % kFiles);
  if (!Resolve(name)) return;
  NameState st = Get(name);
  if (st.known != Known::kPresent) return;
  const Segment seg = NewSegment();
  const std::string data = Content({seg});
  const bool do_fsync = rng_() % 2 == 0;
  Begin({name});
  auto t0 = Clock::now();
  NameState after = st;
  after.known = Known::kUnknown;
  std::string outcome = "ok";
  int fd = open(Path(name).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    outcome = "open: " + Errno(err);
    if (err == ENOENT) {
      ctx_->Lost(Who() + " open " + name + " for append: gone, but the model has it");
    } else {
      Error("open (append)", name, err);
    }
  } else {
    if (WriteAndClose(fd, data, do_fsync, " (append)", name, &outcome)) {
      after.known = Known::kPresent;
      after.content.push_back(seg);
    }
  }
  ctx_->log->Line(Who() + " append " + name + " seed=" + std::to_string(seg.seed) +
                  " size=" + std::to_string(seg.size) +
                  " total=" + std::to_string(ContentSize(after.content)) +
                  " fsync=" + std::to_string(do_fsync) + " -> " + outcome + " (" +
                  std::to_string(Ms(t0)) + " ms)");
  End(name, after);
}

void Writer::Rename() {
  const std::string from = "f" + std::to_string(rng_() % kFiles);
  std::string to = "f" + std::to_string(rng_() % kFiles);
  if (from == to) return;
  if (!Resolve(from) || !Resolve(to)) return;
  NameState a = Get(from), b = Get(to);
  if (a.known != Known::kPresent) return;
  Begin({from, to});
  auto t0 = Clock::now();
  int rc = rename(Path(from).c_str(), Path(to).c_str());
  int err = rc == 0 ? 0 : errno;
  ctx_->log->Line(Who() + " rename " + from + " " + to +
                  (b.known == Known::kPresent ? " (replace)" : "") + " -> " +
                  (err ? Errno(err) : "ok") + " (" + std::to_string(Ms(t0)) + " ms)");
  if (err == 0) {
    End(to, a);
    End(from, NameState());
    return;
  }
  if (err == ENOENT) {
    ctx_->Lost(Who() + " rename " + from + ": gone, but the model has it");
  } else {
    Error("rename", from + " " + to, err);
  }
  NameState unknown;
  unknown.known = Known::kUnknown;
  End(from, unknown);
  End(to, unknown);
}

void Writer::Unlink() {
  const std::string name = "f" + std::to_string(rng_() % kFiles);
  if (!Resolve(name)) return;
  NameState st = Get(name);
  if (st.known != Known::kPresent) return;
  Begin({name});
  auto t0 = Clock::now();
  int rc = unlink(Path(name).c_str());
  int err = rc == 0 ? 0 : errno;
  ctx_->log->Line(Who() + " unlink " + name + " -> " + (err ? Errno(err) : "ok") + " (" +
                  std::to_string(Ms(t0)) + " ms)");
  NameState after;
  if (err == ENOENT) {
    ctx_->Lost(Who() + " unlink " + name + ": gone, but the model has it");
    after.known = Known::kUnknown;
  } else if (err != 0) {
    Error("unlink", name, err);
    after.known = Known::kUnknown;
  }
  End(name, after);
}

void Writer::Chmod() {
  const std::string name = "f" + std::to_string(rng_() % kFiles);
  NameState st = Get(name);
  if (st.known != Known::kPresent) return;
  static const uint32_t kModes[] = {0600, 0640, 0644, 0604};
  const uint32_t mode = kModes[rng_() % 4];
  Begin({name});
  auto t0 = Clock::now();
  int rc = chmod(Path(name).c_str(), mode);
  int err = rc == 0 ? 0 : errno;
  ctx_->log->Line(Who() + " chmod " + name + " " + std::to_string(mode) + " -> " +
                  (err ? Errno(err) : "ok") + " (" + std::to_string(Ms(t0)) + " ms)");
  NameState after = st;
  if (err == 0) {
    after.mode = mode;
    after.mode_known = true;
  } else if (err == ENOENT) {
    ctx_->Lost(Who() + " chmod " + name + ": gone, but the model has it");
    after.known = Known::kUnknown;
  } else {
    Error("chmod", name, err);
    after.mode_known = false;
  }
  End(name, after);
}

void Writer::DirChurn() {
  const std::string name = "d" + std::to_string(rng_() % kDirs);
  if (!Resolve(name)) return;
  NameState st = Get(name);
  Begin({name});
  auto t0 = Clock::now();
  const bool make = st.known == Known::kAbsent;
  int rc = make ? mkdir(Path(name).c_str(), 0755) : rmdir(Path(name).c_str());
  int err = rc == 0 ? 0 : errno;
  ctx_->log->Line(Who() + (make ? " mkdir " : " rmdir ") + name + " -> " +
                  (err ? Errno(err) : "ok") + " (" + std::to_string(Ms(t0)) + " ms)");
  NameState after;
  if (err == 0) {
    after.known = make ? Known::kPresent : Known::kAbsent;
  } else {
    after.known = Known::kUnknown;
    if (make && err == EEXIST) {
      ctx_->Corrupt(Who() + " mkdir " + name + ": exists, but the model says it does not");
    } else if (!make && err == ENOENT) {
      ctx_->Lost(Who() + " rmdir " + name + ": gone, but the model has it");
    } else {
      Error(make ? "mkdir" : "rmdir", name, err);
    }
  }
  End(name, after);
}

void Writer::ReadOwn() {
  const std::string name = "f" + std::to_string(rng_() % kFiles);
  NameState st = Get(name);
  if (st.known != Known::kPresent) return;
  auto t0 = Clock::now();
  std::string got;
  int err = ReadWhole(Path(name), &got);
  ctx_->log->Line(Who() + " read " + name + " -> " + (err ? Errno(err) : "ok") + " " +
                  std::to_string(got.size()) + " bytes (" + std::to_string(Ms(t0)) + " ms)");
  if (err == ENOENT) {
    ctx_->Lost(Who() + " read " + name + ": gone, but the model has it");
  } else if (err != 0) {
    Error("read", name, err);
  } else if (const std::string want = Content(st.content); got != want) {
    ctx_->Corrupt(Who() + " read " + name + " on its own mount: " + Describe(got, want));
    if (ctx_->on_mismatch) ctx_->on_mismatch("/" + dir_name_ + "/" + name, got);
  }
}

bool Writer::PickStable(std::mt19937_64& rng, std::chrono::milliseconds quiet, std::string* name,
                        std::vector<Segment>* content, uint64_t* version) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  std::vector<const std::pair<const std::string, NameState>*> stable;
  for (const auto& entry : names_) {
    const NameState& s = entry.second;
    if (!s.dir && s.known == Known::kPresent && !s.busy && now - s.changed >= quiet)
      stable.push_back(&entry);
  }
  if (stable.empty()) return false;
  const auto* pick = stable[rng() % stable.size()];
  *name = pick->first;
  *content = pick->second.content;
  *version = pick->second.version;
  return true;
}

bool Writer::Unchanged(const std::string& name, uint64_t version) {
  std::lock_guard lock(mu_);
  return names_.at(name).version == version;
}

void Writer::Check(const std::vector<std::string>& mount_paths, const ReplicaCheck& replicas) {
  std::lock_guard lock(mu_);
  for (size_t m = 0; m < mount_paths.size(); m++) {
    const std::string dir = mount_paths[m] + "/" + dir_name_;
    const std::string where = dir_name_ + " through mount " + std::to_string(m + 1);
    std::map<std::string, bool> listed;  // name -> is a directory
    DIR* d = opendir(dir.c_str());
    if (!d) {
      ctx_->Lost(where + ": cannot list the directory: " + Errno(errno));
      continue;
    }
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") listed[n] = e->d_type == DT_DIR;
    }
    closedir(d);
    for (const auto& [n, is_dir] : listed)
      if (!names_.count(n)) ctx_->Corrupt(where + ": unexpected name " + n);
    for (const auto& [n, s] : names_) {
      const bool there = listed.count(n) > 0;
      if (s.known == Known::kAbsent && there) {
        ctx_->Corrupt(where + ": " + n + " exists, but its removal was acknowledged");
      }
      if (s.known != Known::kPresent) continue;
      if (!there) {
        ctx_->Lost(where + ": " + n + " is missing");
        continue;
      }
      if (listed[n] != s.dir) {
        ctx_->Corrupt(where + ": " + n + " has the wrong type");
        continue;
      }
      if (s.dir) continue;
      struct stat sb;
      if (stat((dir + "/" + n).c_str(), &sb) != 0) {
        ctx_->Lost(where + ": stat " + n + ": " + Errno(errno));
        continue;
      }
      if (s.mode_known && (sb.st_mode & 07777) != s.mode) {
        std::ostringstream o;
        o << where << ": " << n << " has mode " << std::oct << (sb.st_mode & 07777) << ", want "
          << s.mode;
        ctx_->Corrupt(o.str());
      }
      const std::string want = Content(s.content);
      std::string got;
      int err = ReadWhole(dir + "/" + n, &got);
      if (err != 0) {
        ctx_->Lost(where + ": read " + n + ": " + Errno(err));
      } else if (got.size() != want.size()) {
        ctx_->Lost(where + ": " + n + " holds " + std::to_string(got.size()) + " bytes, want " +
                   std::to_string(want.size()));
      } else if (got != want) {
        ctx_->Corrupt(where + ": " + n + ": " + Describe(got, want));
        if (ctx_->on_mismatch) ctx_->on_mismatch("/" + dir_name_ + "/" + n, got);
      }
      if (m == 0) replicas(dir_name_ + "/" + n, sb.st_ino, want);
    }
  }
}

Reader::Reader(Context* ctx, int mount, std::string mount_path, std::vector<Writer*> writers)
    : ctx_(ctx),
      mount_(mount),
      mount_path_(std::move(mount_path)),
      writers_(std::move(writers)),
      rng_(Mix(ctx->seed, 5000 + mount)) {}

void Reader::Run(const std::atomic<bool>& stop) {
  const std::string who = "r" + std::to_string(mount_);
  while (!stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng_() % 30));
    Writer* w = writers_[rng_() % writers_.size()];
    std::string name;
    std::vector<Segment> content;
    uint64_t version = 0;
    if (!w->PickStable(rng_, 2500ms, &name, &content, &version)) continue;
    ctx_->tally->ops++;
    const std::string what = who + " read " + w->dir_name() + "/" + name;
    auto t0 = Clock::now();
    std::string got;
    int err = ReadWhole(mount_path_ + "/" + w->dir_name() + "/" + name, &got);
    ctx_->tally->Took(Ms(t0), what);
    const bool unchanged = w->Unchanged(name, version);
    ctx_->log->Line(what + " -> " + (err ? Errno(err) : "ok") + " " + std::to_string(got.size()) +
                    " bytes (" + std::to_string(Ms(t0)) + " ms)" +
                    (unchanged ? "" : " (changed meanwhile)"));
    if (!unchanged) continue;
    if (err == ENOENT) {
      ctx_->Lost(what + ": gone, but the model has it");
    } else if (err != 0) {
      ctx_->AppError(what + ": " + Errno(err));
    } else if (const std::string want = Content(content); got != want) {
      ctx_->Corrupt(what + ": " + Describe(got, want));
      if (ctx_->on_mismatch) ctx_->on_mismatch("/" + w->dir_name() + "/" + name, got);
    }
  }
}

}  // namespace dfs::chaos
