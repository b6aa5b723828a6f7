// A metadata backup on local disk, as `dfsadmin backup create|verify DIR`
// writes and checks it: the files of the leader's checkpoint as the
// AdminService Backup stream carries them (proto/admin.proto), and
// MANIFEST.json, the stream's BackupManifest in proto3 JSON with the
// proto's field names (64-bit numbers as strings), which
// `dfs-meta --restore-from DIR` reads.
//
// Creating never harms the backup already in DIR: the pieces go to
// DIR.partial/, every file is checked against the manifest (size and
// XXH3-64) and synced, and only then does DIR.partial replace DIR (DIR is
// renamed to DIR.previous, DIR.partial to DIR, DIR.previous removed). A
// failed or interrupted run leaves DIR as it was; the next run starts
// DIR.partial afresh.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "proto/admin.pb.h"

namespace dfs::admin {

// The manifest's file, next to the backup's own files.
inline constexpr const char* kManifestFile = "MANIFEST.json";

struct BackupTotals {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Writes one backup stream into DIR.partial and puts it in place of DIR.
class BackupWriter {
 public:
  // `dir` as the operator wrote it (a trailing "/" is ignored).
  explicit BackupWriter(const std::string& dir);
  // Removes DIR.partial unless Commit succeeded.
  ~BackupWriter();
  BackupWriter(const BackupWriter&) = delete;
  BackupWriter& operator=(const BackupWriter&) = delete;

  // Starts an empty DIR.partial, removing one an earlier run left.
  Status Begin();
  // Writes `piece` at its offset into its file. Errors: INVALID_ARGUMENT
  // for a path that is empty, absolute, has a ".." or is the manifest's;
  // IO_ERROR and the like from the disk.
  Status Write(const pb::BackupPiece& piece);
  // Checks the files written against `manifest` (each listed file there
  // with its size and hash, no other file), writes MANIFEST.json, syncs,
  // and replaces DIR. Errors: CORRUPT naming the first file that does
  // not match; then DIR is untouched.
  Result<BackupTotals> Commit(const pb::BackupManifest& manifest);

  const std::string& dir() const { return dir_; }

 private:
  Status CloseFile();

  std::string dir_;
  std::string partial_;
  std::string open_path_;  // the file `fd_` writes, relative
  int fd_ = -1;
  bool committed_ = false;
};

// Checks the backup in `dir` against its MANIFEST.json, which goes to
// `manifest`: every file listed is there with its size and XXH3-64, and
// no other file is. Errors: NOT_FOUND / CORRUPT naming what is wrong.
Result<BackupTotals> VerifyBackup(const std::string& dir, pb::BackupManifest* manifest);

}  // namespace dfs::admin
