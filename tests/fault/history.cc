#include "tests/fault/history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

namespace dfs::chaos {

using testing::NsOp;

namespace {

constexpr int kNames = 5;  // k0..k4
// By this long after its call an operation whose outcome the client never
// learned has taken effect or never will: the mount's retries (meta_timeout
// 60 s) are over and a new leader has committed or dropped what an old one
// held.
constexpr std::chrono::seconds kSettle{120};

NsOp NewOp(NsOp::Kind kind, int client, int name) {
  NsOp op;
  op.kind = kind;
  op.client = client;
  op.name = name;
  return op;
}

std::string ErrnoText(int err) {
  return std::string(strerrordesc_np(err)) + " (" + std::to_string(err) + ")";
}

}  // namespace

History::History(Context* ctx, std::vector<std::string> mount_paths)
    : ctx_(ctx), mounts_(std::move(mount_paths)) {}

bool History::Prepare() {
  const std::string dir = mounts_.at(0) + "/" + kDir;
  // The history's times are steady-clock microseconds; this line ties them
  // to the wall clock of the daemons' logs.
  const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  ctx_->log->Line("history: steady " + std::to_string(Now()) + " us is unix time " +
                  std::to_string(wall) + " us");
  if (mkdir(dir.c_str(), 0777) != 0) {
    ctx_->Fail("mkdir " + dir + ": " + std::strerror(errno));
    return false;
  }
  return true;
}

int64_t History::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string History::Path(int client, int name) const {
  return mounts_[client % mounts_.size()] + "/" + kDir + "/k" + std::to_string(name);
}

void History::Record(const NsOp& op) {
  std::lock_guard lock(mu_);
  ops_.push_back(op);
}

void History::Outcome(NsOp* op, int err, int expected_err, const std::string& what) {
  if (err == 0 || err == expected_err) {
    op->ok = err == 0;
    return;
  }
  op->unknown = true;
  ctx_->AppError("history client " + std::to_string(op->client) + " " + what + ": " +
                 ErrnoText(err));
}

void History::Create(int client, int name) {
  NsOp op = NewOp(NsOp::Kind::kCreate, client, name);
  const std::string path = Path(client, name);
  op.call = Now();
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  op.ret = Now();
  Outcome(&op, fd < 0 ? errno : 0, EEXIST, "create " + path);
  if (fd >= 0) {
    // The inode number as the create's reply gave it to the kernel (not a
    // new GETATTR, which fails if another mount removed the file already).
    struct statx st {};
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &st) != 0) {
      op.unknown = true;
      ctx_->AppError("history statx " + path + ": " + ErrnoText(errno));
    }
    op.id = st.stx_ino;
    if (close(fd) != 0) ctx_->AppError("history close " + path + ": " + ErrnoText(errno));
  }
  Record(op);
}

void History::Unlink(int client, int name) {
  NsOp op = NewOp(NsOp::Kind::kUnlink, client, name);
  const std::string path = Path(client, name);
  op.call = Now();
  int rc = unlink(path.c_str());
  op.ret = Now();
  Outcome(&op, rc != 0 ? errno : 0, ENOENT, "unlink " + path);
  Record(op);
}

void History::Rename(int client, int name, int to) {
  NsOp op = NewOp(NsOp::Kind::kRename, client, name);
  op.to = to;
  op.noreplace = true;
  const std::string from = Path(client, name), target = Path(client, to);
  op.call = Now();
  int rc = renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
  op.ret = Now();
  // ENOENT (no source) and EEXIST (a target) are both the model's failure;
  // which one the kernel reports depends on which name it looked at first.
  const int err = rc != 0 ? errno : 0;
  Outcome(&op, err == EEXIST ? ENOENT : err, ENOENT, "rename " + from + " " + target);
  Record(op);
}

void History::Lookup(int client, int name) {
  NsOp op = NewOp(NsOp::Kind::kLookup, client, name);
  const std::string path = Path(client, name);
  struct stat st {};
  op.call = Now();
  int rc = stat(path.c_str(), &st);
  op.ret = Now();
  Outcome(&op, rc != 0 ? errno : 0, ENOENT, "stat " + path);
  if (op.ok) op.id = st.st_ino;
  Record(op);
}

void History::Run(int client, const std::atomic<bool>& stop) {
  std::mt19937_64 rng(ctx_->seed * 7919 + static_cast<uint64_t>(client));
  while (!stop) {
    const int name = static_cast<int>(rng() % kNames);
    const int r = static_cast<int>(rng() % 100);
    const auto t0 = std::chrono::steady_clock::now();
    if (r < 30) {
      Create(client, name);
    } else if (r < 50) {
      Unlink(client, name);
    } else if (r < 70) {
      Rename(client, name, static_cast<int>((name + 1 + rng() % (kNames - 1)) % kNames));
    } else {
      Lookup(client, name);
    }
    ctx_->tally->Took(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
        "history client " + std::to_string(client));
    ctx_->tally->ops++;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
  }
}

void History::Check() {
  // The final state, through every mount, after everything else.
  for (size_t m = 0; m < mounts_.size(); m++)
    for (int name = 0; name < kNames; name++)
      Lookup(static_cast<int>(m), name);
  std::vector<NsOp> ops;
  {
    std::lock_guard lock(mu_);
    ops = ops_;
  }
  const auto t0 = std::chrono::steady_clock::now();
  testing::LinearizabilityResult r = testing::CheckNamespaceHistory(
      ops, kNames, 50'000'000,
      std::chrono::duration_cast<std::chrono::microseconds>(kSettle).count());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ctx_->log->Say("linearizability: " + std::to_string(ops.size()) + " namespace operations in " +
                 std::to_string(r.windows) + " windows (largest " +
                 std::to_string(r.largest_window) + "), " + std::to_string(r.states_explored) +
                 " states, " + std::to_string(seconds).substr(0, 5) + " s: " +
                 (r.linearizable ? "linearizable"
                  : r.gave_up    ? "no verdict (the search exceeded its budget)"
                                 : "NOT linearizable"));
  if (r.linearizable) return;
  if (r.gave_up) {
    ctx_->Fail("linearizability: the check gave up after " + std::to_string(r.states_explored) +
               " states");
    return;
  }
  // The whole history in call order in history.txt, the calls around the
  // one no order explains in chaos.log.
  std::sort(ops.begin(), ops.end(), [](const NsOp& a, const NsOp& b) { return a.call < b.call; });
  static constexpr const char* kKinds[] = {"create", "unlink", "rename", "lookup"};
  auto describe = [&](size_t i) {
    const NsOp& op = ops[i];
    return std::to_string(i) + " client " + std::to_string(op.client) + " " +
           kKinds[static_cast<int>(op.kind)] + " k" + std::to_string(op.name) +
           (op.kind == NsOp::Kind::kRename ? " -> k" + std::to_string(op.to) : "") + " id " +
           std::to_string(op.id) + " " +
           (op.unknown ? "unknown"
            : op.ok    ? "ok"
                       : "failed") +
           " [" + std::to_string(op.call) + ", " + std::to_string(op.ret) + "] us";
  };
  const size_t at = r.longest_prefix;
  for (size_t i = at >= 20 ? at - 20 : 0; i < std::min(ops.size(), at + 5); i++)
    ctx_->log->Line(std::string(i == at ? ">> " : "   ") + describe(i));
  const std::string file = ctx_->dir + "/history.txt";
  if (FILE* f = std::fopen(file.c_str(), "we")) {
    for (size_t i = 0; i < ops.size(); i++)
      std::fprintf(f, "%s\n", describe(i).c_str());
    std::fclose(f);
  }
  ctx_->Corrupt("linearizability: the namespace history is not linearizable: " + r.explanation +
                " (the calls around it are in chaos.log, all of them in " + file + ")");
}

}  // namespace dfs::chaos
