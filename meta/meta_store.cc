#include "meta/meta_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <filesystem>
#include <utility>

#include "common/check.h"
#include "common/logging.h"
#include "meta/meta_store_keys.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/fsck.h"
#include "meta/ops/locks.h"
#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/queries.h"
#include "meta/ops/trash.h"
#include "meta/raft/checkpoint.h"

namespace dfs::meta {

namespace fs = std::filesystem;

namespace {

// A command for the trace log: the operation and its request without the
// header (cluster id, caller, session), at most 300 characters.
std::string CommandText(const pb::MetaCommand& cmd) {
  pb::MetaCommand copy = cmd;
  const google::protobuf::Reflection* reflection = copy.GetReflection();
  const google::protobuf::OneofDescriptor* op = copy.GetDescriptor()->FindOneofByName("op");
  std::string text;
  if (op != nullptr) {
    if (const google::protobuf::FieldDescriptor* field =
            reflection->GetOneofFieldDescriptor(copy, op)) {
      google::protobuf::Message* request = reflection->MutableMessage(&copy, field);
      if (const google::protobuf::FieldDescriptor* header =
              request->GetDescriptor()->FindFieldByName("header")) {
        request->GetReflection()->ClearField(request, header);
      }
      text = field->name() + " { " + request->ShortDebugString() + " }";
    }
  }
  return text.substr(0, 300);
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corrupt(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

FamilyHandles ToFamilies(const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  DFS_CHECK_EQ(handles.size(), keys::kFamilyCount);
  FamilyHandles out;
  for (size_t i = 0; i < keys::kFamilyCount; i++)
    out[i] = handles[i];
  return out;
}

// A failure of the store itself, as opposed to a refused command: applying
// on would let this replica diverge from the others.
void CheckNotStorageFailure(const Status& status) {
  DFS_CHECK(status.code() != ErrorCode::IO_ERROR && status.code() != ErrorCode::CORRUPT)
      << "metadata store failed while applying: " << status;
}

template <class T>
T ValueOrDie(Result<T> result, const char* what) {
  DFS_CHECK(result.ok()) << what << ": " << result.status();
  return std::move(result).value();
}

Credentials CallerOf(const pb::MetaCommand& cmd) {
  Credentials caller;
  caller.uid = cmd.uid();
  caller.gid = cmd.gid();
  caller.groups.assign(cmd.groups().begin(), cmd.groups().end());
  return caller;
}

// One operation per MetaCommand op; each lives in meta/ops/.
Result<pb::MetaReply> Dispatch(MetaTxn& txn, const ops::OpContext& ctx,
                               const pb::MetaCommand& cmd) {
  switch (cmd.op_case()) {
    case pb::MetaCommand::kFormat:
      return ops::Format(txn, ctx, cmd.format());
    case pb::MetaCommand::kCreate:
      return ops::Create(txn, ctx, cmd.create());
    case pb::MetaCommand::kSetattr:
      return ops::SetAttr(txn, ctx, cmd.setattr());
    case pb::MetaCommand::kUnlink:
      return ops::Unlink(txn, ctx, cmd.unlink());
    case pb::MetaCommand::kRmdir:
      return ops::Rmdir(txn, ctx, cmd.rmdir());
    case pb::MetaCommand::kRename:
      return ops::Rename(txn, ctx, cmd.rename());
    case pb::MetaCommand::kLink:
      return ops::Link(txn, ctx, cmd.link());
    case pb::MetaCommand::kSetxattr:
      return ops::SetXattr(txn, ctx, cmd.setxattr());
    case pb::MetaCommand::kRemovexattr:
      return ops::RemoveXattr(txn, ctx, cmd.removexattr());
    case pb::MetaCommand::kAllocateChunk:
      return ops::AllocateChunk(txn, ctx, cmd.allocate_chunk());
    case pb::MetaCommand::kCommitWrite:
      return ops::CommitWrite(txn, ctx, cmd.commit_write());
    case pb::MetaCommand::kRegisterNode:
      return ops::RegisterNode(txn, ctx, cmd.register_node());
    case pb::MetaCommand::kForgetGarbage:
      return ops::ForgetGarbage(txn, ctx, cmd.forget_garbage());
    case pb::MetaCommand::kExpireSessions:
      return ops::ExpireSessions(txn, ctx, cmd.expire_sessions());
    case pb::MetaCommand::kChangeChain:
      return ops::ChangeChain(txn, ctx, cmd.change_chain());
    case pb::MetaCommand::kSetNodeState:
      return ops::SetNodeState(txn, ctx, cmd.set_node_state());
    case pb::MetaCommand::kFsckFix:
      return ops::FsckFix(txn, ctx, cmd.fsck_fix());
    case pb::MetaCommand::kTrashRestore:
      return ops::TrashRestore(txn, ctx, cmd.trash_restore());
    case pb::MetaCommand::kTrashPurge:
      return ops::TrashPurge(txn, ctx, cmd.trash_purge());
    case pb::MetaCommand::kLock:
      return ops::Lock(txn, ctx, cmd.lock());
    case pb::MetaCommand::kReleaseLocks:
      return ops::ReleaseLocks(txn, ctx, cmd.release_locks());
    case pb::MetaCommand::kOpenLockSession:
      return ops::OpenLockSession(txn, ctx, cmd.open_lock_session());
    case pb::MetaCommand::kExpireLockSessions:
      return ops::ExpireLockSessions(txn, ctx, cmd.expire_lock_sessions());
    case pb::MetaCommand::OP_NOT_SET:
      break;
  }
  return Status::InvalidArgument("command without an operation");
}

std::string Serialized(const pb::MetaReply& reply) {
  return reply.SerializeAsString();
}

}  // namespace

pb::MetaReply MakeReply(const Status& status) {
  pb::MetaReply reply;
  if (!status.ok()) {
    reply.mutable_error()->set_code(static_cast<uint32_t>(status.code()));
    reply.mutable_error()->set_message(status.message());
  }
  return reply;
}

Status ReplyStatus(const pb::MetaReply& reply) {
  if (reply.error().code() == 0) return Status::Ok();
  return Status(ErrorCodeFromNumber(reply.error().code()), reply.error().message());
}

MetaStore::MetaStore(std::string dir) : dir_(std::move(dir)) {}

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& dir) {
  std::unique_ptr<MetaStore> store(new MetaStore(dir));
  RETURN_IF_ERROR(store->OpenDb());
  return store;
}

MetaStore::~MetaStore() {
  CloseDb();
}

Status MetaStore::OpenDb() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::IoError("cannot create " + dir_ + ": " + ec.message());
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : keys::kFamilies)
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir_, families, &handles, &db),
                            "opening metadata store " + dir_));
  db_.reset(db);
  handles_ = std::move(handles);

  MetaTxn txn = MetaTxn::ReadOnly(db_.get(), ToFamilies(handles_), nullptr);
  ASSIGN_OR_RETURN(uint64_t applied, txn.GetAppliedIndex(), "in " << dir_);
  ASSIGN_OR_RETURN(std::optional<pb::FormatCommand> format, txn.GetFormat(), "in " << dir_);
  ASSIGN_OR_RETURN(uint64_t layout, txn.GetLayoutVersion(), "in " << dir_);
  // A state (or a snapshot) written before the indexes existed gets them
  // now, before anything reads them: every replica derives the same ones.
  if (format && layout < keys::kCurrentLayout) RETURN_IF_ERROR(RebuildIndexes(), "in " << dir_);
  std::lock_guard cache_lock(cache_mu_);
  applied_index_ = applied;
  format_ = std::move(format);
  return Status::Ok();
}

Status MetaStore::RebuildIndexes() {
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  MetaTxn txn = MetaTxn::ReadWrite(db_.get(), ToFamilies(handles_), &batch);
  ASSIGN_OR_RETURN(auto counts, txn.RebuildIndexes(), "rebuilding the chunk indexes");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  RETURN_IF_ERROR(FromRocks(db_->Write(sync, batch.GetWriteBatch()), "writing the chunk indexes"));
  DFS_LOG(INFO) << "indexed " << counts.first << " chunks and " << counts.second
                << " garbage records in " << dir_;
  return Status::Ok();
}

void MetaStore::CloseDb() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_)
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  handles_.clear();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

uint64_t MetaStore::AppliedIndex() const {
  std::lock_guard cache_lock(cache_mu_);
  return applied_index_;
}

bool MetaStore::formatted() const {
  std::lock_guard cache_lock(cache_mu_);
  return format_.has_value();
}

std::string MetaStore::cluster_id() const {
  std::lock_guard cache_lock(cache_mu_);
  return format_ ? format_->cluster_id() : std::string();
}

uint64_t MetaStore::chunk_size() const {
  std::lock_guard cache_lock(cache_mu_);
  return format_ ? format_->chunk_size() : 0;
}

std::vector<std::string> MetaStore::Apply(std::span<const raft::Entry> entries) {
  std::vector<std::string> replies;
  if (entries.empty()) return replies;
  std::shared_lock lock(mu_);
  uint64_t applied;
  std::optional<pb::FormatCommand> format;
  {
    std::lock_guard cache_lock(cache_mu_);
    applied = applied_index_;
    format = format_;
  }
  // One batch for the whole call; overwrite_key so that iterators over
  // batch + DB see each key once, as of the latest command.
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  MetaTxn txn = MetaTxn::ReadWrite(db_.get(), ToFamilies(handles_), &batch);
  replies.reserve(entries.size());
  for (const raft::Entry& entry : entries) {
    DFS_CHECK_EQ(entry.index, applied + 1) << "entries must follow the applied index";
    applied = entry.index;
    if (entry.type != raft::EntryType::kNormal || entry.data.empty()) {
      replies.emplace_back();
      continue;
    }
    replies.push_back(ApplyCommand(txn, batch, &format, entry.data));
    DFS_LOG(TRACE) << "applied index " << entry.index << " term " << entry.term;
  }
  // The applied index moves in the same write as the changes it covers.
  txn.PutAppliedIndex(applied);
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), batch.GetWriteBatch());
  DFS_CHECK(s.ok()) << "cannot write the metadata store: " << s.ToString();
  std::lock_guard cache_lock(cache_mu_);
  applied_index_ = applied;
  format_ = std::move(format);
  return replies;
}

std::string MetaStore::ApplyCommand(MetaTxn& txn, rocksdb::WriteBatchWithIndex& batch,
                                    std::optional<pb::FormatCommand>* format,
                                    const std::string& data) {
  pb::MetaCommand cmd;
  if (!cmd.ParseFromString(data)) {
    return Serialized(MakeReply(Status::InvalidArgument("malformed MetaCommand")));
  }
  // Not recorded in the session: UNAVAILABLE is retryable, and the retry
  // must get a real answer once the cluster is formatted.
  if (!format->has_value() && cmd.op_case() != pb::MetaCommand::kFormat) {
    return Serialized(MakeReply(Status::Unavailable("not formatted")));
  }

  // Exactly once (docs/meta.md): a retried command gets the reply recorded
  // the first time and changes nothing.
  bool deduplicated = cmd.session_id() != 0;
  if (deduplicated) {
    if (cmd.sequence() == 0) {
      return Serialized(MakeReply(Status::InvalidArgument("sequence numbers start at 1")));
    }
    std::optional<pb::SessionRecord> session =
        ValueOrDie(txn.GetSession(cmd.session_id()), "reading a session");
    if (!session && cmd.sequence() > 1) {
      // The session was forgotten (expire_sessions): an earlier command of
      // it may have been applied, so this one cannot be told from a retry.
      return Serialized(MakeReply(Status::SessionExpired(
          "session " + std::to_string(cmd.session_id()) + " is unknown or expired")));
    }
    if (session && cmd.sequence() <= session->last_sequence()) {
      DFS_LOG(TRACE) << "session " << cmd.session_id() << " sequence " << cmd.sequence()
                     << ": a retry, answered from the session";
      if (cmd.sequence() == session->last_sequence()) return session->last_reply();
      return Serialized(MakeReply(
          Status::InvalidArgument("stale sequence " + std::to_string(cmd.sequence()) +
                                  " of session " + std::to_string(cmd.session_id()) + " (last " +
                                  std::to_string(session->last_sequence()) + ")")));
    }
  }

  ops::OpContext ctx;
  ctx.caller = CallerOf(cmd);
  ctx.now_ns = cmd.now_ns();
  ctx.now = ops::TimespecFromNs(cmd.now_ns());
  ctx.chunk_size = format->has_value() ? (*format)->chunk_size() : 0;
  ctx.trash = cmd.trash();

  // Operations check before they write; the save point guarantees that a
  // refused command leaves nothing behind even if one did not.
  batch.SetSavePoint();
  Result<pb::MetaReply> result = Dispatch(txn, ctx, cmd);
  pb::MetaReply reply;
  if (result.ok()) {
    DFS_CHECK(batch.PopSavePoint().ok());
    reply = std::move(result).value();
    if (cmd.op_case() == pb::MetaCommand::kFormat) *format = cmd.format();
  } else {
    CheckNotStorageFailure(result.status());
    DFS_CHECK(batch.RollbackToSavePoint().ok());
    reply = MakeReply(result.status());
  }
  std::string bytes = Serialized(reply);
  DFS_LOG(TRACE) << "session " << cmd.session_id() << " sequence " << cmd.sequence() << ": "
                 << CommandText(cmd) << " -> "
                 << (result.ok() ? std::string("OK") : result.status().ToString());

  if (deduplicated && !IsRetryable(result.status().code())) {
    pb::SessionRecord record;
    record.set_last_sequence(cmd.sequence());
    record.set_last_reply(bytes);
    record.set_last_seen_ns(cmd.now_ns());
    txn.PutSession(cmd.session_id(), record);
  }
  return bytes;
}

Status MetaStore::Checkpoint(const std::string& dir) {
  std::shared_lock lock(mu_);
  return raft::CreateCheckpoint(db_.get(), dir);
}

Status MetaStore::Restore(const std::string& dir) {
  std::unique_lock lock(mu_);
  RETURN_IF_ERROR(raft::InstallCheckpoint(dir, dir_, [this] { CloseDb(); }));
  RETURN_IF_ERROR(OpenDb(), "while restoring from " << dir);
  DFS_LOG(INFO) << "metadata store restored from " << dir << " at index " << AppliedIndex();
  return Status::Ok();
}

template <class Read>
auto MetaStore::ReadState(Read read) const -> decltype(read(std::declval<const MetaTxn&>())) {
  std::shared_lock lock(mu_);
  if (!formatted()) return Status::Unavailable("not formatted");
  rocksdb::ManagedSnapshot snapshot(db_.get());
  MetaTxn txn = MetaTxn::ReadOnly(db_.get(), ToFamilies(handles_), snapshot.snapshot());
  return read(txn);
}

Result<pb::InodeAttr> MetaStore::GetAttr(uint64_t inode) const {
  return ReadState([&](const MetaTxn& txn) { return ops::GetAttr(txn, inode); });
}

Result<pb::InodeAttr> MetaStore::Lookup(const Credentials& caller, uint64_t parent,
                                        const std::string& name) const {
  return ReadState([&](const MetaTxn& txn) { return ops::Lookup(txn, caller, parent, name); });
}

Result<pb::ReadDirReply> MetaStore::ReadDir(const Credentials& caller, uint64_t inode,
                                            const std::string& cookie, uint32_t max_entries) const {
  return ReadState(
      [&](const MetaTxn& txn) { return ops::ReadDir(txn, caller, inode, cookie, max_entries); });
}

Result<std::string> MetaStore::ReadLink(uint64_t inode) const {
  return ReadState([&](const MetaTxn& txn) { return ops::ReadLink(txn, inode); });
}

Result<std::string> MetaStore::GetXattr(const Credentials& caller, uint64_t inode,
                                        const std::string& name) const {
  return ReadState([&](const MetaTxn& txn) { return ops::GetXattr(txn, caller, inode, name); });
}

Result<std::vector<std::string>> MetaStore::ListXattr(const Credentials& caller,
                                                      uint64_t inode) const {
  return ReadState([&](const MetaTxn& txn) { return ops::ListXattr(txn, caller, inode); });
}

Status MetaStore::Access(const Credentials& caller, uint64_t inode, uint32_t mask) const {
  return ReadState([&](const MetaTxn& txn) { return ops::Access(txn, caller, inode, mask); });
}

Result<pb::InodeAttr> MetaStore::CheckedAttr(const Credentials& caller, uint64_t inode,
                                             uint32_t mask) const {
  return ReadState([&](const MetaTxn& txn) { return ops::CheckedAttr(txn, caller, inode, mask); });
}

Result<pb::GetChunksReply> MetaStore::GetChunks(uint64_t inode, uint64_t first_index,
                                                uint64_t count) const {
  uint64_t size = chunk_size();
  return ReadState(
      [&](const MetaTxn& txn) { return ops::GetChunks(txn, size, inode, first_index, count); });
}

std::vector<pb::NodeRecord> MetaStore::Nodes() const {
  auto nodes = ReadState([](const MetaTxn& txn) { return txn.ListNodes(); });
  if (!nodes.ok()) {
    DFS_LOG_IF(ERROR, nodes.status().code() != ErrorCode::UNAVAILABLE)
        << "listing nodes: " << nodes.status();
    return {};
  }
  return std::move(nodes).value();
}

Result<pb::NodeRecord> MetaStore::Node(uint64_t node_id) const {
  return ReadState([&](const MetaTxn& txn) -> Result<pb::NodeRecord> {
    ASSIGN_OR_RETURN(std::optional<pb::NodeRecord> node, txn.GetNode(node_id));
    if (!node) return Status::NotFound("no chunk server " + std::to_string(node_id));
    return std::move(*node);
  });
}

uint64_t MetaStore::InodeCount() const {
  auto count = ReadState([](const MetaTxn& txn) { return txn.GetCounter(Counter::kInodeCount); });
  if (!count.ok()) {
    DFS_LOG_IF(ERROR, count.status().code() != ErrorCode::UNAVAILABLE)
        << "counting inodes: " << count.status();
    return 0;
  }
  return *count;
}

std::vector<pb::ChunkRecord> MetaStore::Garbage(size_t max) const {
  auto garbage = ReadState([&](const MetaTxn& txn) { return txn.ListGarbage(max); });
  if (!garbage.ok()) {
    DFS_LOG_IF(ERROR, garbage.status().code() != ErrorCode::UNAVAILABLE)
        << "listing garbage: " << garbage.status();
    return {};
  }
  return std::move(garbage).value();
}

Result<LocatedChunk> MetaStore::FindChunk(uint64_t chunk_id) const {
  return ReadState([&](const MetaTxn& txn) -> Result<LocatedChunk> {
    ASSIGN_OR_RETURN(std::optional<LocatedChunk> chunk, txn.FindChunk(chunk_id));
    if (!chunk) return Status::NotFound("no file holds chunk " + std::to_string(chunk_id));
    return std::move(*chunk);
  });
}

Result<std::vector<LocatedChunk>> MetaStore::ScanChunks(uint64_t after_inode, uint64_t after_index,
                                                        size_t max) const {
  return ReadState(
      [&](const MetaTxn& txn) { return txn.ScanChunks(after_inode, after_index, max); });
}

Result<ops::FsckCounts> MetaStore::Fsck(uint64_t start, const ops::FsckVisitor& visitor) const {
  return ReadState([&](const MetaTxn& txn) { return ops::Fsck(txn, start, visitor); });
}

Result<pb::ChunkRecord> MetaStore::FindGarbage(uint64_t chunk_id) const {
  return ReadState([&](const MetaTxn& txn) -> Result<pb::ChunkRecord> {
    ASSIGN_OR_RETURN(std::optional<pb::ChunkRecord> record, txn.GetGarbage(chunk_id));
    if (!record) return Status::NotFound("chunk " + std::to_string(chunk_id) + " is not garbage");
    return std::move(*record);
  });
}

Result<std::vector<uint64_t>> MetaStore::GarbageOn(uint64_t node_id, uint64_t after,
                                                   size_t max) const {
  return ReadState([&](const MetaTxn& txn) { return txn.ListGarbageOn(node_id, after, max); });
}

Result<ops::TrashTotals> MetaStore::TrashUsage() const {
  return ReadState([](const MetaTxn& txn) { return ops::GetTrashTotals(txn); });
}

Result<std::vector<pb::TrashRecord>> MetaStore::ListTrash(uint64_t after, size_t max) const {
  return ReadState([&](const MetaTxn& txn) { return txn.ListTrash(after, max); });
}

Result<std::string> MetaStore::EntryPath(uint64_t dir, const std::string& name) const {
  return ReadState([&](const MetaTxn& txn) { return ops::EntryPath(txn, dir, name); });
}

Result<std::optional<pb::LockRange>> MetaStore::TestLock(uint64_t inode,
                                                         const pb::LockRange& want) const {
  return ReadState([&](const MetaTxn& txn) { return ops::TestLock(txn, inode, want); });
}

Result<std::vector<uint64_t>> MetaStore::LiveLockSessions() const {
  return ReadState([&](const MetaTxn& txn) { return ops::LiveLockSessions(txn); });
}

Result<bool> MetaStore::LockSessionLive(uint64_t lock_session) const {
  return ReadState([&](const MetaTxn& txn) -> Result<bool> {
    ASSIGN_OR_RETURN(std::optional<pb::LockSessionRecord> record, txn.GetLockSession(lock_session));
    return record.has_value() && record->expired_ns() == 0;
  });
}

Result<ops::LockCounts> MetaStore::CountLocks() const {
  return ReadState([&](const MetaTxn& txn) { return ops::CountLocks(txn); });
}

}  // namespace dfs::meta
