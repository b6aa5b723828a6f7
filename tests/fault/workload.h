// The chaos workload and its model. Each Writer owns one directory on one
// mount ("w<mount>_<thread>") and runs plain POSIX calls in it: whole-file
// writes (create or O_TRUNC, fsync or not, then close), O_APPEND appends,
// renames over other names, unlinks, chmods, mkdir/rmdir, and reads of its
// own files. Readers, one per mount, read other writers' files through
// their own mount.
//
// The model is per name. A file's content is a list of segments, each
// Pattern(size, seed) with a seed derived from (run seed, writer, a
// generation counter), so the model stays small. A name is
//   absent   known not to exist,
//   present  known to exist with exactly this content (every change to it
//            was acknowledged: fsync, close, rename, chmod returned 0),
//   unknown  a call on it returned an error: it may hold the old state,
//            the new one, or anything; never checked, and made known
//            again by unlinking it before its next use.
// A call that contradicts a known state (ENOENT on a present name, EEXIST
// on an absent one, other bytes) is a loss or a corruption, at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "tests/fault/chaos_log.h"

namespace dfs::chaos {

struct Segment {
  uint64_t seed;
  uint32_t size;
};

// The bytes a list of segments stands for.
std::string Content(const std::vector<Segment>& segments);
uint64_t ContentSize(const std::vector<Segment>& segments);

enum class Known { kAbsent, kPresent, kUnknown };

struct NameState {
  Known known = Known::kAbsent;
  bool dir = false;
  std::vector<Segment> content;  // files, when present
  uint32_t mode = 0644;
  bool mode_known = true;
  uint64_t version = 0;  // bumped as a call on the name starts and ends
  bool busy = false;     // a call on the name is running
  std::chrono::steady_clock::time_point changed{};
};

// Checks one file's chunks on the chunk servers against its expected bytes
// (the checker's replica comparison); given the file's description for the
// log.
using ReplicaCheck =
    std::function<void(const std::string& what, uint64_t inode, const std::string& expected)>;

class Writer {
 public:
  Writer(Context* ctx, int mount, int thread, std::string mount_path);

  // Runs calls until `stop`.
  void Run(const std::atomic<bool>& stop);

  // For readers: a present file that nothing has touched for `quiet`
  // (longer than the kernel's attribute and entry timeouts, so another
  // mount must see it as it is). False if none was found.
  bool PickStable(std::mt19937_64& rng, std::chrono::milliseconds quiet, std::string* name,
                  std::vector<Segment>* content, uint64_t* version);
  // True if `name` is still as PickStable saw it (no call started since).
  bool Unchanged(const std::string& name, uint64_t version);

  // The final check, through each mount in `mount_paths`: the directory
  // lists exactly the present names and maybe unknown ones; every present
  // file has its mode and content; `replicas` checks its chunks.
  void Check(const std::vector<std::string>& mount_paths, const ReplicaCheck& replicas);

  const std::string& dir_name() const { return dir_name_; }
  int mount() const { return mount_; }

 private:
  std::string Path(const std::string& name) const {
    return mount_path_ + "/" + dir_name_ + "/" + name;
  }
  std::string Who() const { return dir_name_; }
  Segment NewSegment();
  // Makes an unknown name known again (unlink or rmdir); false if it stays
  // unknown.
  bool Resolve(const std::string& name);
  // Marks the names busy (a call starts) or done with their new states.
  void Begin(const std::vector<std::string>& names);
  void End(const std::string& name, NameState state);
  NameState Get(const std::string& name);

  void WriteFile();
  void Append();
  bool WriteAndClose(int fd, const std::string& data, bool do_fsync, const std::string& suffix,
                     const std::string& name, std::string* outcome);
  void Rename();
  void Unlink();
  void Chmod();
  void DirChurn();
  void ReadOwn();

  // Logs an error the application saw.
  void Error(const std::string& op, const std::string& name, int err);

  Context* ctx_;
  const int mount_, thread_;
  const std::string mount_path_, dir_name_;
  std::mt19937_64 rng_;
  uint64_t generation_ = 0;
  std::mutex mu_;
  std::map<std::string, NameState> names_;
};

// Reads files of any writer through one mount and compares them with the
// model, for files that have been quiet long enough.
class Reader {
 public:
  Reader(Context* ctx, int mount, std::string mount_path, std::vector<Writer*> writers);
  void Run(const std::atomic<bool>& stop);

 private:
  Context* ctx_;
  const int mount_;
  const std::string mount_path_;
  std::vector<Writer*> writers_;
  std::mt19937_64 rng_;
};

// What differs between `got` and `want`: the first difference, how many
// bytes differ, the first differing ranges, and how many of the differing
// bytes read as zero (a hole) rather than other data.
std::string Describe(const std::string& got, const std::string& want);

// Reads a whole file: 0, or the errno of the call that failed.
int ReadWhole(const std::string& path, std::string* out);

}  // namespace dfs::chaos
