// The namespace history of a chaos run, checked for linearizability
// (tests/support/linearizability.h). Clients on the two history mounts
// (attribute and entry timeouts 0, so the kernel asks the meta service on
// every call instead of answering from its caches) create (O_EXCL),
// unlink, rename (RENAME_NOREPLACE) and stat a few names in one shared
// directory, "lin", and record each call's interval and outcome. A call
// that fails with an error other than the model's answer (EEXIST, ENOENT)
// is an application error and its outcome unknown.
//
// Why RENAME_NOREPLACE: for a plain rename the kernel looks up both names
// (one LOOKUP each, at different moments) and, if they name the same
// inode, returns success without asking the file system (POSIX: renaming
// a file onto a link to itself does nothing). With another mount renaming
// the same file between the two LOOKUPs, both renames "succeed", which no
// single moment explains: a property of every network file system under
// the Linux VFS, not of dfs. RENAME_NOREPLACE fails on an existing target
// before that shortcut, so every success is the meta service's answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tests/fault/chaos_log.h"
#include "tests/support/linearizability.h"

namespace dfs::chaos {

class History {
 public:
  History(Context* ctx, std::vector<std::string> mount_paths);

  // Makes the shared directory; false (and a failure logged) if it cannot.
  bool Prepare();
  // Runs client `client` (on mount client % mounts) until `stop`.
  void Run(int client, const std::atomic<bool>& stop);
  // After the run: every name looked up through every mount, then the
  // whole history checked. Fails the run if it is not linearizable.
  void Check();

  static constexpr const char* kDir = "lin";

 private:
  int64_t Now() const;
  void Record(const testing::NsOp& op);
  // One call of `client`; records it.
  void Create(int client, int name);
  void Unlink(int client, int name);
  void Rename(int client, int name, int to);
  void Lookup(int client, int name);
  std::string Path(int client, int name) const;
  // Sets the outcome of `op` from a call's result (0 or an errno) and the
  // errno the model gives when the call fails; anything else is unknown.
  void Outcome(testing::NsOp* op, int err, int expected_err, const std::string& what);

  Context* ctx_;
  const std::vector<std::string> mounts_;
  std::mutex mu_;
  std::vector<testing::NsOp> ops_;
};

}  // namespace dfs::chaos
