#include "meta/ops/queries.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "meta/ops/chunks.h"
#include "meta/ops/namespace.h"
#include "meta/ops/trash.h"
#include "meta/ops/validate.h"

namespace dfs::meta::ops {

Result<pb::InodeAttr> GetAttr(const MetaTxn& txn, uint64_t inode) {
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  return record.attr();
}

Result<pb::InodeAttr> Lookup(const MetaTxn& txn, const Credentials& caller, uint64_t parent,
                             const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(RequireDirectory(txn, caller, parent, kMayExec));
  if (parent == kRootInode && name == kTrashName && IsRoot(caller)) {
    // The trash has no entry in the root: root alone finds it, by name
    // (an entry named so in an older state wins).
    ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> entry, txn.GetDentry(parent, name));
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> trash, txn.GetInode(kTrashInode));
    if (!entry && trash) return trash->attr();
  }
  ASSIGN_OR_RETURN(pb::DentryRecord entry, RequireDentry(txn, parent, name));
  ASSIGN_OR_RETURN(pb::InodeRecord child, RequireInode(txn, entry.inode()),
                   "entry '" << name << "' of " << parent);
  return child.attr();
}

Result<pb::ReadDirReply> ReadDir(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                                 const std::string& cookie, uint32_t max_entries) {
  ASSIGN_OR_RETURN(pb::InodeRecord dir, RequireDirectory(txn, caller, inode, kMayRead));
  bool searchable = Permits(caller, dir.attr(), kMayExec);
  size_t limit = max_entries == 0 ? kDefaultReadDirEntries
                                  : std::min<uint32_t>(max_entries, kMaxReadDirEntries);
  // One more than asked for tells whether the directory goes on.
  ASSIGN_OR_RETURN(std::vector<NamedDentry> entries, txn.ListDentries(inode, cookie, limit + 1));
  pb::ReadDirReply reply;
  reply.set_eof(entries.size() <= limit);
  if (entries.size() > limit) entries.resize(limit);
  for (const NamedDentry& entry : entries) {
    pb::DirEntry* out = reply.add_entries();
    out->set_name(entry.name);
    if (searchable) {
      ASSIGN_OR_RETURN(pb::InodeRecord child, RequireInode(txn, entry.record.inode()),
                       "entry '" << entry.name << "' of " << inode);
      *out->mutable_attr() = child.attr();
    } else {
      out->mutable_attr()->set_inode(entry.record.inode());
      out->mutable_attr()->set_type(entry.record.type());
    }
  }
  return reply;
}

Result<std::string> ReadLink(const MetaTxn& txn, uint64_t inode) {
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  if (record.attr().type() != pb::FILE_TYPE_SYMLINK) {
    return Status::InvalidArgument("inode " + std::to_string(inode) + " is not a symlink");
  }
  return record.symlink_target();
}

Result<std::string> GetXattr(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                             const std::string& name) {
  RETURN_IF_ERROR(ValidateXattrName(name));
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  RETURN_IF_ERROR(CheckXattrAccess(caller, record.attr(), name, kMayRead));
  ASSIGN_OR_RETURN(std::optional<std::string> value, txn.GetXattr(inode, name));
  if (!value) return Status::NoData("no attribute " + name);
  return std::move(*value);
}

Result<std::vector<std::string>> ListXattr(const MetaTxn& txn, const Credentials& caller,
                                           uint64_t inode) {
  RETURN_IF_ERROR(RequireInode(txn, inode));
  ASSIGN_OR_RETURN(std::vector<std::string> names, txn.ListXattrNames(inode));
  std::erase_if(names, [&](const std::string& name) { return !XattrVisible(caller, name); });
  return names;
}

Result<pb::InodeAttr> CheckedAttr(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                                  uint32_t mask) {
  if ((mask & ~(kMayRead | kMayWrite | kMayExec)) != 0) {
    return Status::InvalidArgument("unknown access mask " + std::to_string(mask));
  }
  ASSIGN_OR_RETURN(pb::InodeRecord record, RequireInode(txn, inode));
  if (mask != 0) RETURN_IF_ERROR(CheckPermission(caller, record.attr(), mask, "access"));
  return record.attr();
}

Status Access(const MetaTxn& txn, const Credentials& caller, uint64_t inode, uint32_t mask) {
  return CheckedAttr(txn, caller, inode, mask).status();
}

Result<pb::GetChunksReply> GetChunks(const MetaTxn& txn, uint64_t chunk_size, uint64_t inode,
                                     uint64_t first_index, uint64_t count) {
  ASSIGN_OR_RETURN(pb::InodeRecord file, RequireInode(txn, inode));
  if (file.attr().type() == pb::FILE_TYPE_DIRECTORY) {
    return Status::IsADirectory("inode " + std::to_string(inode) + " is a directory");
  }
  if (file.attr().type() != pb::FILE_TYPE_REGULAR) {
    return Status::InvalidArgument("inode " + std::to_string(inode) + " has no chunks");
  }
  uint64_t end = std::numeric_limits<uint64_t>::max();
  if (count != 0 && count < end - first_index) end = first_index + count;
  ASSIGN_OR_RETURN(std::vector<IndexedChunk> chunks, txn.ListChunks(inode, first_index, end));
  pb::GetChunksReply reply;
  reply.set_chunk_size(chunk_size);
  for (const IndexedChunk& chunk : chunks) {
    ASSIGN_OR_RETURN(*reply.add_chunks(), LocateChunk(txn, chunk_size, file.attr().size(), chunk));
  }
  return reply;
}

}  // namespace dfs::meta::ops
