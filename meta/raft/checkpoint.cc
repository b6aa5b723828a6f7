#include "meta/raft/checkpoint.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <memory>

namespace dfs::raft {

namespace fs = std::filesystem;

Status CreateCheckpoint(rocksdb::DB* db, const std::string& dir) {
  rocksdb::Checkpoint* checkpoint = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db, &checkpoint);
  if (!s.ok()) return Status::IoError("checkpoint: " + s.ToString());
  std::unique_ptr<rocksdb::Checkpoint> owned(checkpoint);
  s = owned->CreateCheckpoint(dir);
  if (!s.ok()) return Status::IoError("creating checkpoint " + dir + ": " + s.ToString());
  return Status::Ok();
}

Status InstallCheckpoint(const std::string& from, const std::string& live_dir,
                         const std::function<void()>& close_live) {
  std::string staging = live_dir + ".restoring";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Status::IoError("cannot create " + staging + ": " + ec.message());
  for (const auto& file : fs::directory_iterator(from, ec)) {
    fs::path target = fs::path(staging) / file.path().filename();
    if (file.path().extension() == ".sst") {
      fs::create_hard_link(file.path(), target, ec);
      if (!ec) continue;
    }
    fs::copy_file(file.path(), target, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IoError("cannot copy " + file.path().string() + ": " + ec.message());
  }
  if (ec) return Status::IoError("cannot read snapshot " + from + ": " + ec.message());
  close_live();
  fs::remove_all(live_dir, ec);
  if (!ec) fs::rename(staging, live_dir, ec);
  if (ec) return Status::IoError("cannot replace " + live_dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace dfs::raft
