#include "meta/raft/log_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "common/check.h"

namespace dfs::raft {

namespace {

constexpr char kLogFamily[] = "raft_log";
constexpr char kStateFamily[] = "raft_state";
constexpr char kHardStateKey[] = "hard_state";
constexpr char kSnapshotKey[] = "snapshot";
constexpr char kMetaPrefix[] = "meta/";

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; i++)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; i++)
    *v |= uint64_t{static_cast<uint8_t>((*in)[i])} << (8 * i);
  in->remove_prefix(8);
  return true;
}

// Log keys are big-endian indexes so that RocksDB's order is the log's.
std::string LogKey(uint64_t index) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; i++)
    key[i] = static_cast<char>((index >> (8 * (7 - i))) & 0xff);
  return key;
}

uint64_t DecodeLogKey(std::string_view key) {
  uint64_t index = 0;
  for (char c : key)
    index = (index << 8) | static_cast<uint8_t>(c);
  return index;
}

std::string EncodeEntry(const Entry& e) {
  std::string out;
  out.reserve(9 + e.data.size());
  PutFixed64(&out, e.term);
  out.push_back(static_cast<char>(e.type));
  out += e.data;
  return out;
}

bool DecodeEntry(uint64_t index, std::string_view in, Entry* e) {
  e->index = index;
  if (!GetFixed64(&in, &e->term) || in.empty()) return false;
  uint8_t type = static_cast<uint8_t>(in[0]);
  if (type > static_cast<uint8_t>(EntryType::kConfChange)) return false;
  e->type = static_cast<EntryType>(type);
  e->data.assign(in.substr(1));
  return true;
}

std::string EncodeHardState(const HardState& hs) {
  std::string out;
  PutFixed64(&out, hs.term);
  PutFixed64(&out, hs.vote);
  PutFixed64(&out, hs.commit);
  return out;
}

void PutIds(std::string* out, const std::vector<NodeId>& ids) {
  PutFixed64(out, ids.size());
  for (NodeId id : ids)
    PutFixed64(out, id);
}

bool GetIds(std::string_view* in, std::vector<NodeId>* ids) {
  uint64_t n;
  if (!GetFixed64(in, &n) || n > in->size() / 8) return false;
  ids->resize(n);
  for (auto& id : *ids)
    GetFixed64(in, &id);
  return true;
}

std::string EncodeSnapshotMeta(const SnapshotMeta& meta) {
  std::string out;
  PutFixed64(&out, meta.index);
  PutFixed64(&out, meta.term);
  PutIds(&out, meta.conf_state.voters);
  PutIds(&out, meta.conf_state.learners);
  return out;
}

bool DecodeSnapshotMeta(std::string_view in, SnapshotMeta* meta) {
  return GetFixed64(&in, &meta->index) && GetFixed64(&in, &meta->term) &&
         GetIds(&in, &meta->conf_state.voters) && GetIds(&in, &meta->conf_state.learners);
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corrupt(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

}  // namespace

Result<std::unique_ptr<RaftLogStore>> RaftLogStore::Open(const std::string& dir) {
  std::unique_ptr<RaftLogStore> store(new RaftLogStore());
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // The log is small and hot: keep RocksDB's own threads and memory modest.
  options.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kLogFamily, rocksdb::ColumnFamilyOptions()},
      {kStateFamily, rocksdb::ColumnFamilyOptions()},
  };
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir, families, &store->handles_, &db),
                            "opening Raft log " + dir));
  store->db_.reset(db);
  store->log_cf_ = store->handles_[1];
  store->state_cf_ = store->handles_[2];
  RETURN_IF_ERROR(store->Load(), "while loading Raft log " << dir);
  return store;
}

RaftLogStore::~RaftLogStore() {
  if (!db_) return;
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  db_->Close().PermitUncheckedError();
}

Status RaftLogStore::Load() {
  std::string value;
  SnapshotMeta snap;
  auto s = db_->Get(rocksdb::ReadOptions(), state_cf_, kSnapshotKey, &value);
  if (s.ok()) {
    if (!DecodeSnapshotMeta(value, &snap)) return Status::Corrupt("bad snapshot record");
    cache_.ApplySnapshot(Snapshot{snap, ""});
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading snapshot record");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_cf_));
  std::vector<Entry> entries;
  for (it->Seek(LogKey(snap.index + 1)); it->Valid(); it->Next()) {
    Entry e;
    uint64_t index = DecodeLogKey(it->key().ToStringView());
    if (!DecodeEntry(index, it->value().ToStringView(), &e)) {
      return Status::Corrupt("bad log entry at index " + std::to_string(index));
    }
    uint64_t expected = snap.index + 1 + entries.size();
    if (index != expected) {
      return Status::Corrupt("log gap: found index " + std::to_string(index) + ", expected " +
                             std::to_string(expected));
    }
    entries.push_back(std::move(e));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scanning the log"));
  cache_.Append(entries);
  s = db_->Get(rocksdb::ReadOptions(), state_cf_, kHardStateKey, &value);
  if (s.ok()) {
    std::string_view in = value;
    HardState hs;
    if (!GetFixed64(&in, &hs.term) || !GetFixed64(&in, &hs.vote) || !GetFixed64(&in, &hs.commit)) {
      return Status::Corrupt("bad hard state");
    }
    cache_.SetHardState(hs);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading hard state");
  }
  return Status::Ok();
}

bool RaftLogStore::IsEmpty() const {
  return cache_.InitialHardState() == HardState{} && cache_.LastIndex() == 0;
}

Status RaftLogStore::Bootstrap(const std::vector<NodeId>& voters) {
  DFS_CHECK(IsEmpty());
  auto entries = BootstrapEntries(voters);
  HardState hs{1, kNone, entries.size()};
  return Save(nullptr, entries, hs, true);
}

Status RaftLogStore::Save(const SnapshotMeta* snapshot, const std::vector<Entry>& entries,
                          const std::optional<HardState>& hard_state, bool sync) {
  rocksdb::WriteBatch batch;
  uint64_t last = cache_.LastIndex();
  if (snapshot) {
    // The snapshot replaces the whole log.
    batch.DeleteRange(log_cf_, LogKey(0), LogKey(UINT64_MAX));
    batch.Put(state_cf_, kSnapshotKey, EncodeSnapshotMeta(*snapshot));
    last = snapshot->index;
  }
  if (!entries.empty() && entries[0].index <= last) {
    // A new leader overwrote our suffix: drop what follows too.
    batch.DeleteRange(log_cf_, LogKey(entries[0].index), LogKey(last + 1));
  }
  for (const Entry& e : entries)
    batch.Put(log_cf_, LogKey(e.index), EncodeEntry(e));
  if (hard_state) batch.Put(state_cf_, kHardStateKey, EncodeHardState(*hard_state));
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "writing the Raft log"));
  if (snapshot) cache_.ApplySnapshot(Snapshot{*snapshot, ""});
  cache_.Append(entries);
  if (hard_state) cache_.SetHardState(*hard_state);
  return Status::Ok();
}

Status RaftLogStore::Compact(const SnapshotMeta& meta) {
  DFS_CHECK_LE(FirstIndex(), meta.index);
  DFS_CHECK_LE(meta.index, LastIndex());
  DFS_CHECK_EQ(Term(meta.index), meta.term);
  rocksdb::WriteBatch batch;
  batch.Put(state_cf_, kSnapshotKey, EncodeSnapshotMeta(meta));
  batch.DeleteRange(log_cf_, LogKey(0), LogKey(meta.index + 1));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "compacting the Raft log"));
  cache_.CreateSnapshotAndCompact(meta.index, meta.conf_state, "");
  return Status::Ok();
}

Status RaftLogStore::PutMeta(const std::string& key, const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, state_cf_, kMetaPrefix + key, value), "writing " + key);
}

std::optional<std::string> RaftLogStore::GetMeta(const std::string& key) const {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), state_cf_, kMetaPrefix + key, &value).ok()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace dfs::raft
