#include "tools/dfsadmin/backup_dir.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "tools/dfsadmin/admin_report.h"

namespace dfs::admin {

namespace fs = std::filesystem;

namespace {

std::string WithoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

// A path the leader may name: relative, inside the backup, not the manifest.
Status CheckRelativePath(const std::string& path) {
  if (path.empty() || path[0] == '/') {
    return Status::InvalidArgument("backup file path \"" + path + "\" is not relative");
  }
  for (const auto& part : fs::path(path)) {
    if (part == "..") {
      return Status::InvalidArgument("backup file path \"" + path + "\" leaves the backup");
    }
  }
  if (fs::path(path).lexically_normal() == kManifestFile) {
    return Status::InvalidArgument(std::string("backup file path ") + kManifestFile +
                                   " is the manifest's");
  }
  return Status::Ok();
}

Status FromFsError(const std::error_code& error, const std::string& what) {
  return Status::FromErrno(error.value(), what);
}

// Fsyncs the file or directory at `path`.
Status SyncPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path + " to sync it");
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Status::FromErrno(err, "syncing " + path);
  return Status::Ok();
}

// XXH3-64 (seed 0) and size of the file at `path`; synced first if `sync`.
Status HashFile(const std::string& path, bool sync, uint64_t* hash, uint64_t* size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "opening " + path);
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                 &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  std::string buffer(1 << 20, '\0');
  *size = 0;
  Status s;
  while (true) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Status::FromErrno(errno, "reading " + path);
    if (n <= 0) break;
    XXH3_64bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
    *size += static_cast<uint64_t>(n);
  }
  if (s.ok() && sync && fsync(fd) != 0) s = Status::FromErrno(errno, "syncing " + path);
  close(fd);
  *hash = XXH3_64bits_digest(state.get());
  return s;
}

// Checks the files under `root` against `manifest`: each listed one with
// its size and hash, no other (but the manifest's own file).
Result<BackupTotals> CheckFiles(const std::string& root, const pb::BackupManifest& manifest,
                                bool sync) {
  std::set<std::string> listed;
  BackupTotals totals;
  for (const pb::BackupFileInfo& file : manifest.files()) {
    RETURN_IF_ERROR(CheckRelativePath(file.path()));
    listed.insert(fs::path(file.path()).lexically_normal().string());
    const std::string path = root + "/" + file.path();
    uint64_t hash = 0, size = 0;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      return Status::NotFound(file.path() + " is in the manifest but not in the backup");
    }
    RETURN_IF_ERROR(HashFile(path, sync, &hash, &size));
    if (size != file.size()) {
      return Status::Corrupt(file.path() + " has " + std::to_string(size) +
                             " bytes, the manifest says " + std::to_string(file.size()));
    }
    if (hash != file.xxh3()) {
      return Status::Corrupt(file.path() + " does not match its XXH3-64 in the manifest");
    }
    totals.files++;
    totals.bytes += size;
  }
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_directory()) continue;
    std::string relative = fs::relative(it->path(), root).lexically_normal().string();
    if (relative == kManifestFile || listed.count(relative)) continue;
    return Status::Corrupt(relative + " is in the backup but not in the manifest");
  }
  if (error) return FromFsError(error, "listing " + root);
  return totals;
}

}  // namespace

BackupWriter::BackupWriter(const std::string& dir)
    : dir_(WithoutTrailingSlash(dir)), partial_(dir_ + ".partial") {}

BackupWriter::~BackupWriter() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) {
    std::error_code ignored;
    fs::remove_all(partial_, ignored);
  }
}

Status BackupWriter::Begin() {
  std::error_code error;
  fs::remove_all(partial_, error);
  if (error) return FromFsError(error, "removing the unfinished " + partial_);
  fs::create_directories(partial_, error);
  if (error) return FromFsError(error, "creating " + partial_);
  return Status::Ok();
}

Status BackupWriter::CloseFile() {
  if (fd_ < 0) return Status::Ok();
  int rc = close(fd_);
  fd_ = -1;
  if (rc != 0) return Status::FromErrno(errno, "closing " + partial_ + "/" + open_path_);
  return Status::Ok();
}

Status BackupWriter::Write(const pb::BackupPiece& piece) {
  RETURN_IF_ERROR(CheckRelativePath(piece.path()));
  const std::string path = partial_ + "/" + piece.path();
  if (fd_ < 0 || piece.path() != open_path_) {
    RETURN_IF_ERROR(CloseFile());
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
    if (error) return FromFsError(error, "creating the directory of " + path);
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno(errno, "creating " + path);
    open_path_ = piece.path();
  }
  const std::string& data = piece.data();
  for (size_t done = 0; done < data.size();) {
    ssize_t n = pwrite(fd_, data.data() + done, data.size() - done,
                       static_cast<off_t>(piece.offset() + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "writing " + path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<BackupTotals> BackupWriter::Commit(const pb::BackupManifest& manifest) {
  RETURN_IF_ERROR(CloseFile());
  // An empty file comes as no piece at all.
  for (const pb::BackupFileInfo& file : manifest.files()) {
    if (file.size() != 0) continue;
    pb::BackupPiece empty;
    empty.set_path(file.path());
    RETURN_IF_ERROR(Write(empty));
  }
  RETURN_IF_ERROR(CloseFile());
  ASSIGN_OR_RETURN(BackupTotals totals, CheckFiles(partial_, manifest, /*sync=*/true));
  const std::string manifest_path = partial_ + "/" + kManifestFile;
  {
    std::ofstream out(manifest_path, std::ios::trunc);
    out << ToJson(manifest);
    out.close();
    if (!out) return Status::IoError("writing " + manifest_path);
  }
  RETURN_IF_ERROR(SyncPath(manifest_path));
  RETURN_IF_ERROR(SyncPath(partial_));

  // The swap: at every moment DIR or DIR.previous holds a whole backup.
  const std::string previous = dir_ + ".previous";
  std::error_code error;
  fs::remove_all(previous, error);
  if (error) return FromFsError(error, "removing the old " + previous);
  bool had_one = fs::exists(dir_, error);
  if (had_one) {
    fs::rename(dir_, previous, error);
    if (error) return FromFsError(error, "moving " + dir_ + " aside to " + previous);
  }
  fs::rename(partial_, dir_, error);
  if (error) {
    Status s = FromFsError(error, "renaming " + partial_ + " to " + dir_);
    if (had_one) fs::rename(previous, dir_, error);
    return s;
  }
  committed_ = true;
  std::string parent = fs::path(dir_).parent_path().string();
  RETURN_IF_ERROR(SyncPath(parent.empty() ? "." : parent));
  if (had_one) {
    fs::remove_all(previous, error);
    if (error) return FromFsError(error, "removing " + previous + " (the new backup is in place)");
  }
  return totals;
}

Result<BackupTotals> VerifyBackup(const std::string& dir, pb::BackupManifest* manifest) {
  const std::string root = WithoutTrailingSlash(dir);
  const std::string path = root + "/" + kManifestFile;
  std::ifstream in(path);
  if (!in) return Status::NotFound("no " + path + " (is " + root + " a backup?)");
  std::stringstream text;
  text << in.rdbuf();
  manifest->Clear();
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), manifest, options).ok()) {
    return Status::Corrupt(path + " is not a backup manifest");
  }
  return CheckFiles(root, *manifest, /*sync=*/false);
}

}  // namespace dfs::admin
