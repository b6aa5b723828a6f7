#include "server/chunk_store_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cinttypes>
#include <cstdio>
#include <string_view>

#include "common/check.h"
#include "server/io_ring.h"

namespace dfs::server {
namespace {

// Key and value encodings: docs/chunk_store.md, "Metadata".
constexpr char kReplicasFamily[] = "replicas";
constexpr char kBlocksFamily[] = "blocks";
constexpr char kIntentsFamily[] = "intents";
constexpr char kFormatKey[] = "format";
constexpr char kFormat[] = "dfs chunk store 1";
constexpr size_t kReplicaValueSize = 17;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (char c : in)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

void PutLittleEndian64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string ChunkKey(uint64_t chunk_id) {
  std::string key;
  PutBigEndian(&key, chunk_id, 8);
  return key;
}

std::string BlockKey(uint64_t chunk_id, uint32_t block) {
  std::string key = ChunkKey(chunk_id);
  PutBigEndian(&key, block, 4);
  return key;
}

// Sorts after every block key of the chunk: the exclusive end of a range.
std::string PastLastBlockKey(uint64_t chunk_id) {
  std::string key = BlockKey(chunk_id, UINT32_MAX);
  key.push_back('\0');
  return key;
}

std::string IntentKey(Intent::Kind kind, uint64_t chunk_id, uint32_t block) {
  std::string key(1, static_cast<char>(kind));
  PutBigEndian(&key, chunk_id, 8);
  if (kind == Intent::kWrite) PutBigEndian(&key, block, 4);
  return key;
}

std::string Value64(uint64_t v) {
  std::string value;
  PutLittleEndian64(&value, v);
  return value;
}

std::string EncodeReplica(const ReplicaInfo& info) {
  std::string value;
  PutLittleEndian64(&value, info.version);
  PutLittleEndian64(&value, info.length);
  value.push_back(static_cast<char>(info.state));
  return value;
}

bool DecodeReplica(std::string_view key, std::string_view value, ReplicaInfo* info) {
  if (key.size() != 8 || value.size() != kReplicaValueSize) return false;
  const auto state = static_cast<uint8_t>(value[16]);
  if (state > static_cast<uint8_t>(ReplicaState::kCorrupt)) return false;
  info->chunk_id = GetBigEndian(key);
  info->version = GetLittleEndian64(value.substr(0, 8));
  info->length = GetLittleEndian64(value.substr(8, 8));
  info->state = static_cast<ReplicaState>(state);
  return true;
}

bool DecodeIntent(std::string_view key, std::string_view value, Intent* intent) {
  if (key.empty()) return false;
  switch (key[0]) {
    case Intent::kWrite:
      if (key.size() != 13 || value.size() != 8) return false;
      intent->block = static_cast<uint32_t>(GetBigEndian(key.substr(9, 4)));
      intent->value = GetLittleEndian64(value);
      break;
    case Intent::kTruncate:
      if (key.size() != 9 || value.size() != 8) return false;
      intent->value = GetLittleEndian64(value);
      break;
    case Intent::kRemove:
      if (key.size() != 9 || !value.empty()) return false;
      break;
    default:
      return false;
  }
  intent->kind = static_cast<Intent::Kind>(key[0]);
  intent->chunk_id = GetBigEndian(key.substr(1, 8));
  return true;
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

MetaBatch::MetaBatch(const DataDir& dir)
    : dir_(dir), batch_(std::make_unique<rocksdb::WriteBatch>()) {}

MetaBatch::~MetaBatch() = default;

void MetaBatch::PutReplica(const ReplicaInfo& info) {
  batch_->Put(dir_.replicas_cf_, ChunkKey(info.chunk_id), EncodeReplica(info))
      .PermitUncheckedError();
}

void MetaBatch::DeleteReplica(uint64_t chunk_id) {
  batch_->Delete(dir_.replicas_cf_, ChunkKey(chunk_id)).PermitUncheckedError();
  DropBlocksFrom(chunk_id, 0);
  batch_->Delete(dir_.intents_cf_, IntentKey(Intent::kTruncate, chunk_id, 0))
      .PermitUncheckedError();
}

void MetaBatch::PutBlockSum(uint64_t chunk_id, uint32_t block, uint64_t sum) {
  batch_->Put(dir_.blocks_cf_, BlockKey(chunk_id, block), Value64(sum)).PermitUncheckedError();
}

void MetaBatch::DropBlocksFrom(uint64_t chunk_id, uint32_t first) {
  batch_->DeleteRange(dir_.blocks_cf_, BlockKey(chunk_id, first), PastLastBlockKey(chunk_id))
      .PermitUncheckedError();
  batch_
      ->DeleteRange(dir_.intents_cf_, IntentKey(Intent::kWrite, chunk_id, first),
                    std::string(1, Intent::kWrite) + PastLastBlockKey(chunk_id))
      .PermitUncheckedError();
}

void MetaBatch::PutIntent(const Intent& intent) {
  const std::string key = IntentKey(intent.kind, intent.chunk_id, intent.block);
  const std::string value = intent.kind == Intent::kRemove ? "" : Value64(intent.value);
  batch_->Put(dir_.intents_cf_, key, value).PermitUncheckedError();
}

void MetaBatch::DeleteIntent(Intent::Kind kind, uint64_t chunk_id, uint32_t block) {
  batch_->Delete(dir_.intents_cf_, IntentKey(kind, chunk_id, block)).PermitUncheckedError();
}

bool MetaBatch::empty() const {
  return batch_->Count() == 0;
}

Result<std::unique_ptr<DataDir>> DataDir::Open(const std::string& path) {
  std::unique_ptr<DataDir> dir(new DataDir());
  dir->path_ = path;
  bool created = false;
  RETURN_IF_ERROR(MakeDir(path, &created));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  dir->device_ = st.st_dev;
  RETURN_IF_ERROR(MakeChunkTree(path), "while preparing data directory " << path);

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Metadata is small next to the data: keep RocksDB's threads and logs modest.
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kReplicasFamily, rocksdb::ColumnFamilyOptions()},
      {kBlocksFamily, rocksdb::ColumnFamilyOptions()},
      {kIntentsFamily, rocksdb::ColumnFamilyOptions()},
  };
  const std::string meta = path + "/meta";
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, meta, families, &dir->handles_, &db),
                            "opening chunk metadata " + meta));
  dir->db_.reset(db);
  dir->replicas_cf_ = dir->handles_[1];
  dir->blocks_cf_ = dir->handles_[2];
  dir->intents_cf_ = dir->handles_[3];

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

DataDir::~DataDir() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_)
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
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
  return ScanBlocks(blocks_cf_, "", chunk_id, first, count);
}

Result<std::vector<std::optional<uint64_t>>> DataDir::WriteIntents(uint64_t chunk_id,
                                                                   uint32_t first,
                                                                   uint32_t count) const {
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
    std::string_view key = it->key().ToStringView();
    const std::string_view value = it->value().ToStringView();
    if (key.size() != prefix.size() + 12 || value.size() != 8) {
      return Status::Corrupt(path_ + ": bad block record " + Printable(key));
    }
    key.remove_prefix(prefix.size() + 8);
    const auto block = static_cast<uint32_t>(GetBigEndian(key));
    values[block - first] = GetLittleEndian64(value);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading block records in " + path_));
  return values;
}

Status DataDir::Commit(MetaBatch& batch, bool sync) {
  DFS_CHECK(&batch.dir_ == this) << "a batch for " << batch.dir_.path_ << " committed to " << path_;
  rocksdb::WriteOptions options;
  options.sync = sync;
  return FromRocks(db_->Write(options, batch.batch_.get()), "writing chunk metadata in " + path_);
}

Status DataDir::SyncLog() {
  return FromRocks(db_->SyncWAL(), "syncing chunk metadata in " + path_);
}

}  // namespace dfs::server
