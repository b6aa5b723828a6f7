#include "tests/raftkv/kv_state_machine.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "meta/raft/checkpoint.h"

namespace dfs::raftkv {

namespace {

constexpr char kAppliedKey[] =
    "\x01"
    "applied";  // sorts before every "k" key

std::string EncodeIndex(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

uint64_t DecodeIndex(const std::string& in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); i++)
    v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return v;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IoError(what + ": " + s.ToString());
}

}  // namespace

KvStateMachine::KvStateMachine(std::string dir) : dir_(std::move(dir)) {}

Result<std::unique_ptr<KvStateMachine>> KvStateMachine::Open(const std::string& dir) {
  std::unique_ptr<KvStateMachine> sm(new KvStateMachine(dir));
  RETURN_IF_ERROR(sm->OpenDb());
  return sm;
}

KvStateMachine::~KvStateMachine() {
  if (db_) db_->Close().PermitUncheckedError();
}

Status KvStateMachine::OpenDb() {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir_, &db), "opening " + dir_));
  db_.reset(db);
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), kAppliedKey, &value);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading applied index");
  applied_ = s.ok() ? DecodeIndex(value) : 0;
  return Status::Ok();
}

std::string KvStateMachine::EncodePut(const std::string& key, const std::string& value) {
  std::string out = key;
  out.push_back('\0');
  out += value;
  return out;
}

uint64_t KvStateMachine::AppliedIndex() const {
  std::shared_lock lock(mu_);
  return applied_;
}

std::vector<std::string> KvStateMachine::Apply(std::span<const raft::Entry> entries) {
  std::shared_lock lock(mu_);
  rocksdb::WriteBatch batch;
  for (const raft::Entry& e : entries) {
    if (e.type != raft::EntryType::kNormal || e.data.empty()) continue;
    auto nul = e.data.find('\0');
    if (nul == std::string::npos) continue;  // not ours; skip, keep the index
    batch.Put("k" + e.data.substr(0, nul), e.data.substr(nul + 1));
  }
  // The applied index moves in the same write as the data it covers.
  batch.Put(kAppliedKey, EncodeIndex(entries.back().index));
  auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  DFS_CHECK(s.ok()) << "cannot apply to the key-value state: " << s.ToString();
  applied_ = entries.back().index;
  return std::vector<std::string>(entries.size());
}

Status KvStateMachine::Checkpoint(const std::string& dir) {
  std::shared_lock lock(mu_);
  return raft::CreateCheckpoint(db_.get(), dir);
}

Status KvStateMachine::Restore(const std::string& dir) {
  std::unique_lock lock(mu_);
  RETURN_IF_ERROR(raft::InstallCheckpoint(dir, dir_, [this] {
    db_->Close().PermitUncheckedError();
    db_.reset();
  }));
  return OpenDb();
}

Result<std::optional<std::string>> KvStateMachine::Get(const std::string& key) const {
  std::shared_lock lock(mu_);
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), "k" + key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "reading " + key));
  return std::optional<std::string>(std::move(value));
}

}  // namespace dfs::raftkv
