#include "server/chunk_store_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <string_view>

#include "common/check.h"
#include "common/logging.h"
#include "server/io_ring.h"

namespace dfs::server {
namespace {

// Column families and the format marker: docs/chunk_store.md, "Metadata";
// the records in them: server/chunk_store_records.h.
constexpr char kReplicasFamily[] = "replicas";
constexpr char kBlocksFamily[] = "blocks";
constexpr char kIntentsFamily[] = "intents";
constexpr char kFormatKey[] = "format";
constexpr char kFormat[] = "dfs chunk store 1";

// The reserve when none is given: the larger of these (chunk_store_dir.h).
constexpr uint64_t kMinReserve = 64ull << 20;
constexpr uint64_t kReservePercent = 1;

// RocksDB sizes that keep what it writes on its own (log, flushes) well
// inside the reserve: small memtables (metadata is a few bytes per 64 KiB
// block), and a bound on the log, which a restart replays and flushes.
constexpr uint64_t kWriteBufferSize = 8ull << 20;  // per column family, 4 of them
constexpr uint64_t kMaxTotalWalSize = 32ull << 20;

// RocksDB's info log, into the dfs log: warnings and errors only. A file
// in the data directory would be the first thing to fail on a full disk,
// and RocksDB 7.8 aborts on the next line after a failed one.
class RocksLogger final : public rocksdb::Logger {
 public:
  explicit RocksLogger(std::string dir) : Logger(rocksdb::WARN_LEVEL), dir_(std::move(dir)) {}

  void Logv(const char* /*format*/, va_list /*ap*/) override {}  // INFO: not kept
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < rocksdb::WARN_LEVEL || level == rocksdb::HEADER_LEVEL) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    if (level == rocksdb::WARN_LEVEL) {
      DFS_LOG(WARN) << "rocksdb " << dir_ << ": " << line;
    } else {
      DFS_LOG(ERROR) << "rocksdb " << dir_ << ": " << line;
    }
  }

 private:
  const std::string dir_;
};

// The default Env, except that it cannot tell free space. That is how
// RocksDB 7.8 is told not to recover from NoSpace by itself
// (ErrorHandler::OverrideNoSpaceError): its recovery may resume writing to
// the log that failed, which aborts (facebook/rocksdb#12448). DataDir
// reopens the instance instead.
class NoFreeSpaceEnv final : public rocksdb::EnvWrapper {
 public:
  NoFreeSpaceEnv() : EnvWrapper(rocksdb::Env::Default()) {}
  const char* Name() const override { return "DfsNoFreeSpaceEnv"; }
  rocksdb::Status GetFreeSpace(const std::string& /*path*/, uint64_t* /*free*/) override {
    return rocksdb::Status::NotSupported("free space is dfs's business");
  }
};

rocksdb::Env* ChunkMetaEnv() {
  static NoFreeSpaceEnv* env = new NoFreeSpaceEnv();  // lives as long as any DB
  return env;
}

Result<uint64_t> FreeSpace(const std::string& path, uint64_t* total = nullptr) {
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0) return Status::FromErrno(errno, "statvfs " + path);
  if (total) *total = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  return uint64_t{vfs.f_bavail} * vfs.f_frsize;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<uint8_t>(c));
    out += buf;
  }
  return out;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corrupt(what + ": " + s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

// Creates `path` if missing; true in `*created` when it did.
Status MakeDir(const std::string& path, bool* created) {
  if (mkdir(path.c_str(), 0755) == 0) {
    *created = true;
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::FromErrno(errno, "mkdir " + path);
}

Status FsyncDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  Status s = RingFsync(fd);
  close(fd);
  return s.WithContext("fsync " + path);
}

// The chunks/ tree: chunks/00 ... chunks/ff. New directories are made
// durable before any file goes in them.
Status MakeChunkTree(const std::string& root) {
  bool root_changed = false;
  bool chunks_changed = false;
  const std::string chunks = root + "/chunks";
  RETURN_IF_ERROR(MakeDir(chunks, &root_changed));
  for (int i = 0; i < 256; ++i) {
    char name[4];
    std::snprintf(name, sizeof(name), "%02x", i);
    RETURN_IF_ERROR(MakeDir(chunks + "/" + name, &chunks_changed));
  }
  if (chunks_changed) RETURN_IF_ERROR(FsyncDir(chunks));
  if (root_changed) RETURN_IF_ERROR(FsyncDir(root));
  return Status::Ok();
}

}  // namespace

MetaBatch::MetaBatch(const DataDir& dir) : dir_(dir) {}

MetaBatch::~MetaBatch() = default;

void MetaBatch::PutReplica(const ReplicaInfo& info) {
  ops_.push_back({Op::kPut, Family::kReplicas, ChunkKey(info.chunk_id), EncodeReplica(info)});
}

void MetaBatch::DeleteReplica(uint64_t chunk_id) {
  ops_.push_back({Op::kDelete, Family::kReplicas, ChunkKey(chunk_id), ""});
  DropBlocksFrom(chunk_id, 0);
  ops_.push_back({Op::kDelete, Family::kIntents, IntentKey(Intent::kTruncate, chunk_id, 0), ""});
}

void MetaBatch::PutBlockSum(uint64_t chunk_id, uint32_t block, uint64_t sum) {
  ops_.push_back({Op::kPut, Family::kBlocks, BlockKey(chunk_id, block), EncodeBlockSum(sum)});
}

void MetaBatch::DropBlocksFrom(uint64_t chunk_id, uint32_t first) {
  ops_.push_back(
      {Op::kDeleteRange, Family::kBlocks, BlockKey(chunk_id, first), PastLastBlockKey(chunk_id)});
  ops_.push_back({Op::kDeleteRange, Family::kIntents, IntentKey(Intent::kWrite, chunk_id, first),
                  std::string(1, Intent::kWrite) + PastLastBlockKey(chunk_id)});
}

void MetaBatch::PutIntent(const Intent& intent) {
  ops_.push_back({Op::kPut, Family::kIntents, IntentKey(intent.kind, intent.chunk_id, intent.block),
                  EncodeIntentValue(intent)});
}

void MetaBatch::DeleteIntent(Intent::Kind kind, uint64_t chunk_id, uint32_t block) {
  ops_.push_back({Op::kDelete, Family::kIntents, IntentKey(kind, chunk_id, block), ""});
}

bool MetaBatch::empty() const {
  return ops_.empty();
}

Result<std::unique_ptr<DataDir>> DataDir::Open(const std::string& path, uint64_t reserve) {
  std::unique_ptr<DataDir> dir(new DataDir());
  dir->path_ = path;
  bool created = false;
  RETURN_IF_ERROR(MakeDir(path, &created));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  dir->device_ = st.st_dev;
  uint64_t total = 0;
  ASSIGN_OR_RETURN(const uint64_t free, FreeSpace(path, &total));
  dir->reserve_ = reserve > 0 ? reserve : std::max(kMinReserve, total / 100 * kReservePercent);
  if (free < dir->reserve_ / 2) {
    return Status::NoSpace(path + ": " + std::to_string(free) +
                           " bytes free, the chunk metadata needs " +
                           std::to_string(dir->reserve_ / 2) + " to open");
  }
  RETURN_IF_ERROR(MakeChunkTree(path), "while preparing data directory " << path);
  RETURN_IF_ERROR(MakeDir(path + "/meta", &created));
  RETURN_IF_ERROR(dir->OpenDb());
  rocksdb::DB* db = dir->db_.get();

  const std::string meta = path + "/meta";
  std::string format;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = db->Put(sync, kFormatKey, kFormat);
    RETURN_IF_ERROR(FromRocks(s, "writing format marker in " + meta));
  } else {
    RETURN_IF_ERROR(FromRocks(s, "reading format marker in " + meta));
    if (format != kFormat) {
      return Status::Corrupt(meta + " holds format \"" + format + "\", expected \"" + kFormat +
                             "\"");
    }
  }
  return dir;
}

Status DataDir::OpenDb() {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Metadata is small next to the data: keep RocksDB's threads modest.
  options.max_background_jobs = 2;
  options.max_total_wal_size = kMaxTotalWalSize;
  // Full disks (chunk_store_dir.h): no info log file, no recovery of
  // RocksDB's own (retryable errors included), a failed write stops the
  // instance (paranoid_checks, the default).
  options.info_log = std::make_shared<RocksLogger>(path_);
  options.env = ChunkMetaEnv();
  options.max_bgerror_resume_count = 0;
  options.paranoid_checks = true;
  rocksdb::ColumnFamilyOptions family;
  family.write_buffer_size = kWriteBufferSize;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family},
      {kReplicasFamily, family},
      {kBlocksFamily, family},
      {kIntentsFamily, family},
  };
  const std::string meta = path_ + "/meta";
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, meta, families, &handles, &db),
                            "opening chunk metadata " + meta));
  db_.reset(db);
  handles_ = std::move(handles);
  replicas_cf_ = handles_[1];
  blocks_cf_ = handles_[2];
  intents_cf_ = handles_[3];
  return Status::Ok();
}

void DataDir::CloseDb() {
  if (!db_) return;
  // After a failed write too: closing flushes nothing into a failed log
  // (RocksDB 7.8 skips a writer that has seen an error).
  for (rocksdb::ColumnFamilyHandle* handle : handles_)
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  handles_.clear();
  replicas_cf_ = blocks_cf_ = intents_cf_ = nullptr;
  db_->Close().PermitUncheckedError();
  db_.reset();
}

DataDir::~DataDir() {
  CloseDb();
}

Result<uint64_t> DataDir::FreeBytes() const {
  return FreeSpace(path_);
}

rocksdb::ColumnFamilyHandle* DataDir::Handle(MetaBatch::Family family) const {
  switch (family) {
    case MetaBatch::Family::kReplicas:
      return replicas_cf_;
    case MetaBatch::Family::kBlocks:
      return blocks_cf_;
    case MetaBatch::Family::kIntents:
      return intents_cf_;
  }
  DFS_CHECK(false) << "unknown column family " << static_cast<int>(family);
  return nullptr;
}

std::string DataDir::FanoutDir(uint64_t chunk_id) const {
  char name[4];
  std::snprintf(name, sizeof(name), "%02" PRIx64, chunk_id & 0xff);
  return path_ + "/chunks/" + name;
}

std::string DataDir::DataFile(uint64_t chunk_id) const {
  char name[20];
  std::snprintf(name, sizeof(name), "%016" PRIx64, chunk_id);
  return FanoutDir(chunk_id) + "/" + name;
}

Result<std::vector<ReplicaInfo>> DataDir::LoadReplicas() const {
  std::shared_lock lock(mu_);
  if (!db_) return Status::Unavailable(path_ + ": chunk metadata not open (being reopened)");
  std::vector<ReplicaInfo> replicas;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), replicas_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ReplicaInfo info;
    if (!DecodeReplica(it->key().ToStringView(), it->value().ToStringView(), &info)) {
      return Status::Corrupt(path_ + ": bad replica record " + Printable(it->key().ToStringView()));
    }
    replicas.push_back(info);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing replicas in " + path_));
  return replicas;
}

Result<std::vector<Intent>> DataDir::LoadIntents() const {
  std::shared_lock lock(mu_);
  if (!db_) return Status::Unavailable(path_ + ": chunk metadata not open (being reopened)");
  std::vector<Intent> intents;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), intents_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Intent intent{};
    if (!DecodeIntent(it->key().ToStringView(), it->value().ToStringView(), &intent)) {
      return Status::Corrupt(path_ + ": bad intent record " + Printable(it->key().ToStringView()));
    }
    intents.push_back(intent);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing intents in " + path_));
  return intents;
}

Result<std::vector<std::optional<uint64_t>>> DataDir::BlockSums(uint64_t chunk_id, uint32_t first,
                                                                uint32_t count) const {
  std::shared_lock lock(mu_);
  if (!db_) return Status::Unavailable(path_ + ": chunk metadata not open (being reopened)");
  return ScanBlocks(blocks_cf_, "", chunk_id, first, count);
}

Result<std::vector<std::optional<uint64_t>>> DataDir::WriteIntents(uint64_t chunk_id,
                                                                   uint32_t first,
                                                                   uint32_t count) const {
  std::shared_lock lock(mu_);
  if (!db_) return Status::Unavailable(path_ + ": chunk metadata not open (being reopened)");
  return ScanBlocks(intents_cf_, std::string(1, Intent::kWrite), chunk_id, first, count);
}

Result<std::vector<std::optional<uint64_t>>> DataDir::ScanBlocks(
    rocksdb::ColumnFamilyHandle* family, const std::string& prefix, uint64_t chunk_id,
    uint32_t first, uint32_t count) const {
  std::vector<std::optional<uint64_t>> values(count);
  if (count == 0) return values;
  const std::string begin = prefix + BlockKey(chunk_id, first);
  const std::string end =
      prefix + (first + uint64_t{count} > UINT32_MAX ? PastLastBlockKey(chunk_id)
                                                     : BlockKey(chunk_id, first + count));
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, family));
  for (it->Seek(begin); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    uint64_t chunk = 0;
    uint32_t block = 0;
    uint64_t sum = 0;
    if (!key.starts_with(prefix) ||
        !DecodeBlockSum(key.substr(prefix.size()), it->value().ToStringView(), &chunk, &block,
                        &sum) ||
        chunk != chunk_id || block < first || block - first >= count) {
      return Status::Corrupt(path_ + ": bad block record " + Printable(key));
    }
    values[block - first] = sum;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading block records in " + path_));
  return values;
}

Status DataDir::Commit(MetaBatch& batch, bool sync) {
  DFS_CHECK(&batch.dir_ == this) << "a batch for " << batch.dir_.path_ << " committed to " << path_;
  while (true) {
    if (failed_) RETURN_IF_ERROR(ReopenAfterFailure());
    std::shared_lock lock(mu_);
    // Again under the lock, which a reopen holds exclusively: while failed_
    // is false, db_ is open and none of its writes has failed.
    if (failed_) continue;  // another caller's write failed meanwhile
    rocksdb::WriteBatch write;
    for (const MetaBatch::Op& op : batch.ops_) {
      rocksdb::ColumnFamilyHandle* family = Handle(op.family);
      switch (op.kind) {
        case MetaBatch::Op::kPut:
          write.Put(family, op.key, op.value).PermitUncheckedError();
          break;
        case MetaBatch::Op::kDelete:
          write.Delete(family, op.key).PermitUncheckedError();
          break;
        case MetaBatch::Op::kDeleteRange:
          write.DeleteRange(family, op.key, op.value).PermitUncheckedError();
          break;
      }
    }
    rocksdb::WriteOptions options;
    options.sync = sync;
    Status s = FromRocks(db_->Write(options, &write), "writing chunk metadata in " + path_);
    lock.unlock();
    if (!s.ok()) {
      // RocksDB stops the instance as well (every later write returns this
      // error before touching the log), but it would also restart it.
      std::lock_guard reopen(reopen_mu_);
      if (!failed_) {
        DFS_LOG(ERROR) << s << "; no more metadata writes in " << path_ << " until it is reopened";
        failure_ = s;
        next_reopen_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        failed_ = true;
      }
    }
    return s;
  }
}

Status DataDir::SyncLog() {
  // A synced write of nothing syncs the log with everything before it, and
  // unlike DB::SyncWAL it refuses after a failed log write instead of
  // syncing the failed log (which aborts in RocksDB 7.8).
  MetaBatch nothing(*this);
  return Commit(nothing, /*sync=*/true).WithContext("syncing chunk metadata");
}

Status DataDir::ReopenAfterFailure() {
  std::lock_guard lock(reopen_mu_);
  if (!failed_) return Status::Ok();  // reopened by another caller meanwhile
  const auto refuse = [&](const std::string& why) {
    return Status(failure_.code(), path_ + ": chunk metadata stopped after a failed write (" +
                                       failure_.message() + "); " + why);
  };
  const auto now = std::chrono::steady_clock::now();
  if (now < next_reopen_) return refuse("reopened when space allows");
  next_reopen_ = now + std::chrono::seconds(1);
  ASSIGN_OR_RETURN(const uint64_t free, FreeBytes());
  if (free < reserve_ / 2) {
    return refuse(std::to_string(free) + " bytes free, " + std::to_string(reserve_ / 2) +
                  " needed to reopen");
  }
  std::unique_lock exclusive(mu_);
  CloseDb();
  Status s = OpenDb();
  if (!s.ok()) {
    DFS_LOG(ERROR) << "reopening chunk metadata in " << path_ << ": " << s << " (retried)";
    return refuse("reopening failed: " + s.message());
  }
  failed_ = false;
  DFS_LOG(INFO) << "reopened chunk metadata in " << path_ << " after " << failure_;
  return Status::Ok();
}

}  // namespace dfs::server
