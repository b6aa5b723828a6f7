#include "meta/ops/trash.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "meta/ops/namespace.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

namespace {

// How much EntryPath may read: a path is a courtesy, an unlink must stay
// cheap even in huge directories.
constexpr size_t kPathMaxEntriesRead = 4096;
constexpr size_t kPathPage = 256;
constexpr int kPathMaxDepth = 256;
// Purge commands free at most this many entries, whatever they ask.
constexpr uint32_t kMaxPurgeEntries = 4096;

pb::InodeRecord TrashDirectory(const OpContext& ctx) {
  pb::InodeRecord dir;
  pb::InodeAttr* attr = dir.mutable_attr();
  attr->set_inode(kTrashInode);
  attr->set_type(pb::FILE_TYPE_DIRECTORY);
  attr->set_mode(0500);
  attr->set_uid(0);
  attr->set_gid(0);
  attr->set_nlink(2);
  attr->set_data_version(1);
  *attr->mutable_atime() = ctx.now;
  *attr->mutable_mtime() = ctx.now;
  *attr->mutable_ctime() = ctx.now;
  dir.set_parent(kRootInode);
  return dir;
}

// The trash directory, created on first use. It is not counted in
// inode_count: states with and without it count the same inodes.
Status EnsureTrashDirectory(MetaTxn& txn, const OpContext& ctx) {
  ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> existing, txn.GetInode(kTrashInode));
  if (!existing) txn.PutInode(TrashDirectory(ctx));
  return Status::Ok();
}

// Adds `entries` and `bytes` (either may be negative) to the totals.
Status AdjustTotals(MetaTxn& txn, int64_t entries, int64_t bytes) {
  ASSIGN_OR_RETURN(TrashTotals totals, GetTrashTotals(txn));
  if ((entries < 0 && totals.entries < static_cast<uint64_t>(-entries)) ||
      (bytes < 0 && totals.bytes < static_cast<uint64_t>(-bytes))) {
    return Status::Corrupt("trash totals underflow");
  }
  txn.PutCounter(Counter::kTrashEntries, totals.entries + entries);
  txn.PutCounter(Counter::kTrashBytes, totals.bytes + bytes);
  return Status::Ok();
}

Status TouchTrash(MetaTxn& txn, const OpContext& ctx) {
  return UpdateInode(txn, kTrashInode, [&ctx](pb::InodeRecord& dir) { TouchDirectory(&dir, ctx); });
}

// The name of directory `dir` in its parent `up`, reading at most what is
// left of `*budget` entries; nullopt if not found within it.
Result<std::optional<std::string>> NameInParent(const MetaTxn& txn, uint64_t dir, uint64_t up,
                                                size_t* budget) {
  std::string after;
  while (*budget > 0) {
    const size_t page = std::min(kPathPage, *budget);
    ASSIGN_OR_RETURN(std::vector<NamedDentry> entries, txn.ListDentries(up, after, page));
    *budget -= entries.size();
    for (const NamedDentry& e : entries) {
      if (e.record.inode() == dir) return std::optional<std::string>(e.name);
    }
    if (entries.size() < page) break;
    after = entries.back().name;
  }
  return std::optional<std::string>();
}

// Frees one entry whose time has come: its entry, record and totals go,
// and the file as its last link would.
Status PurgeEntry(MetaTxn& txn, const OpContext& ctx, const pb::TrashRecord& record,
                  pb::MetaReply* reply) {
  txn.DeleteDentry(kTrashInode, TrashEntryName(record.id(), record.name()));
  txn.DeleteTrash(record.id());
  RETURN_IF_ERROR(AdjustTotals(txn, -1, -static_cast<int64_t>(record.size())));
  ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> file, txn.GetInode(record.inode()));
  if (file) RETURN_IF_ERROR(DropLink(txn, ctx, record.inode(), reply));
  return Status::Ok();
}

}  // namespace

bool InTrash(const pb::InodeRecord& record) {
  return record.attr().inode() == kTrashInode ||
         (record.attr().type() != pb::FILE_TYPE_DIRECTORY && record.parent() == kTrashInode);
}

Status CheckEntryWritable(const MetaTxn& txn, uint64_t parent, const std::string& name) {
  if (parent == kTrashInode) {
    return Status::ReadOnly("the trash is read-only ('dfsadmin trash restore' takes files out)");
  }
  if (parent == kRootInode && name == kTrashName) {
    ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> entry, txn.GetDentry(kRootInode, name));
    if (!entry) return Status::ReadOnly("'/.trash' is reserved for the trash");
  }
  return Status::Ok();
}

Status CheckInodeWritable(const pb::InodeRecord& record, const std::string& what) {
  if (!InTrash(record)) return Status::Ok();
  return Status::ReadOnly(what + ": inode " + std::to_string(record.attr().inode()) +
                          " is in the trash, which is read-only");
}

bool GoesToTrash(const OpContext& ctx, const pb::InodeRecord& record) {
  return ctx.trash && record.attr().type() == pb::FILE_TYPE_REGULAR && record.attr().nlink() <= 1 &&
         !InTrash(record);
}

std::string TrashEntryName(uint64_t id, const std::string& name) {
  std::string out = std::to_string(id) + "-" + name;
  if (out.size() > kMaxNameLength) {
    // Cut before the character that would straddle the limit.
    size_t cut = kMaxNameLength;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      cut--;
    out.resize(cut);
  }
  return out;
}

Result<std::string> EntryPath(const MetaTxn& txn, uint64_t dir, const std::string& name) {
  std::vector<std::string> parts;  // leaf first
  if (!name.empty()) parts.push_back(name);
  size_t budget = kPathMaxEntriesRead;
  uint64_t at = dir;
  for (int depth = 0; at != kRootInode; depth++) {
    if (depth >= kPathMaxDepth) return std::string();
    if (at == kTrashInode) {
      parts.push_back(kTrashName);
      break;
    }
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn.GetInode(at));
    if (!record || record->attr().type() != pb::FILE_TYPE_DIRECTORY) return std::string();
    const uint64_t up = record->parent();
    if (up == 0 || up == at) return std::string();
    ASSIGN_OR_RETURN(std::optional<std::string> own, NameInParent(txn, at, up, &budget));
    if (!own) return std::string();
    parts.push_back(std::move(*own));
    at = up;
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    path += "/" + *it;
  return path.empty() ? std::string("/") : path;
}

Result<TrashTotals> GetTrashTotals(const MetaTxn& txn) {
  TrashTotals out;
  ASSIGN_OR_RETURN(out.entries, txn.GetCounter(Counter::kTrashEntries));
  ASSIGN_OR_RETURN(out.bytes, txn.GetCounter(Counter::kTrashBytes));
  return out;
}

Status MoveToTrash(MetaTxn& txn, const OpContext& ctx, uint64_t inode, uint64_t parent,
                   const std::string& name, pb::MetaReply* reply) {
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, inode));
  if (!GoesToTrash(ctx, file)) {
    return Status::Internal("inode " + std::to_string(inode) + " cannot go to the trash");
  }
  RETURN_IF_ERROR(EnsureTrashDirectory(txn, ctx));
  ASSIGN_OR_RETURN(uint64_t next_id, txn.GetCounter(Counter::kNextTrashId));
  const uint64_t id = std::max<uint64_t>(next_id, 1);
  txn.PutCounter(Counter::kNextTrashId, id + 1);

  pb::TrashRecord record;
  record.set_id(id);
  record.set_inode(inode);
  record.set_parent(parent);
  record.set_name(name);
  ASSIGN_OR_RETURN(*record.mutable_path(), EntryPath(txn, parent, name));
  record.set_deleted_ns(ctx.now_ns);
  record.set_size(file.attr().size());
  record.set_uid(file.attr().uid());
  txn.PutTrash(record);

  pb::DentryRecord entry;
  entry.set_inode(inode);
  entry.set_type(pb::FILE_TYPE_REGULAR);
  txn.PutDentry(kTrashInode, TrashEntryName(id, name), entry);
  file.set_parent(kTrashInode);
  *file.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(file);
  RETURN_IF_ERROR(TouchTrash(txn, ctx));
  RETURN_IF_ERROR(AdjustTotals(txn, 1, static_cast<int64_t>(record.size())));
  reply->set_trash_id(id);
  return Status::Ok();
}

Result<pb::MetaReply> TrashRestore(MetaTxn& txn, const OpContext& ctx,
                                   const pb::TrashRestoreCommand& req) {
  ASSIGN_OR_RETURN(std::optional<pb::TrashRecord> record, txn.GetTrash(req.id()));
  if (!record && req.inode() != 0 && req.parent() != 0) {
    ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> done, txn.GetDentry(req.parent(), req.name()));
    if (done && done->inode() == req.inode()) {
      pb::MetaReply reply;  // restored by an earlier attempt of this call
      ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, req.inode()));
      *reply.mutable_attr() = file.attr();
      return reply;
    }
  }
  if (!record) return Status::NotFound("no trash entry " + std::to_string(req.id()));
  const uint64_t parent = req.parent() != 0 ? req.parent() : record->parent();
  const std::string name = req.name().empty() ? record->name() : req.name();
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckEntryWritable(txn, parent, name));
  ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> dir, txn.GetInode(parent));
  if (!dir) {
    return Status::NotFound("directory " + std::to_string(parent) + " (to hold '" + name +
                            "') no longer exists; restore with --to PATH");
  }
  if (dir->attr().type() != pb::FILE_TYPE_DIRECTORY) {
    return Status::NotADirectory("inode " + std::to_string(parent) + " is not a directory");
  }
  ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> existing, txn.GetDentry(parent, name));
  if (existing) {
    ASSIGN_OR_RETURN(std::string path, EntryPath(txn, parent, name));
    if (path.empty()) path = "'" + name + "' in directory " + std::to_string(parent);
    return Status::AlreadyExists(path + " exists; restore with --to PATH");
  }
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, record->inode()),
                   "trash entry " << req.id());

  txn.DeleteDentry(kTrashInode, TrashEntryName(record->id(), record->name()));
  pb::DentryRecord entry;
  entry.set_inode(file.attr().inode());
  entry.set_type(file.attr().type());
  txn.PutDentry(parent, name, entry);
  file.clear_parent();
  *file.mutable_attr()->mutable_ctime() = ctx.now;
  txn.PutInode(file);
  TouchDirectory(&*dir, ctx);
  txn.PutInode(*dir);
  RETURN_IF_ERROR(TouchTrash(txn, ctx));
  txn.DeleteTrash(record->id());
  RETURN_IF_ERROR(AdjustTotals(txn, -1, -static_cast<int64_t>(record->size())));

  pb::MetaReply reply;
  *reply.mutable_attr() = file.attr();
  return reply;
}

Result<pb::MetaReply> TrashPurge(MetaTxn& txn, const OpContext& ctx,
                                 const pb::TrashPurgeCommand& req) {
  const uint32_t max =
      req.max_entries() == 0 ? kDefaultPurgeEntries : std::min(req.max_entries(), kMaxPurgeEntries);
  ASSIGN_OR_RETURN(std::vector<pb::TrashRecord> oldest, txn.ListTrash(0, max));
  pb::MetaReply reply;
  uint64_t purged = 0;
  for (const pb::TrashRecord& record : oldest) {
    // Ids follow deletion order; a younger entry ends the run (entries
    // behind it stamped by a leader with a slower clock wait for it).
    if (record.deleted_ns() > req.deleted_before_ns()) break;
    RETURN_IF_ERROR(PurgeEntry(txn, ctx, record, &reply));
    purged++;
  }
  if (purged > 0) RETURN_IF_ERROR(TouchTrash(txn, ctx));
  reply.set_trash_purged(purged);
  return reply;
}

}  // namespace dfs::meta::ops
