#include "meta/ops/fsck.h"

#include <deque>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "meta/ops/namespace.h"
#include "meta/ops/ops.h"
#include "meta/ops/trash.h"

namespace dfs::meta::ops {

namespace {

constexpr size_t kPage = 1000;
constexpr uint64_t kProgressEvery = 1000;

std::string Name(uint64_t inode) {
  return "inode " + std::to_string(inode);
}

pb::FsckFixCommand SetNlinkFix(uint64_t inode, uint32_t expect, uint32_t nlink) {
  pb::FsckFixCommand fix;
  fix.mutable_set_nlink()->set_inode(inode);
  fix.mutable_set_nlink()->set_expect(expect);
  fix.mutable_set_nlink()->set_nlink(nlink);
  return fix;
}

class Walker {
 public:
  Walker(const MetaTxn& txn, const FsckVisitor& v) : txn_(txn), v_(v) {}

  Result<FsckCounts> Run(uint64_t start) {
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> root, txn_.GetInode(start));
    if (!root) return Status::NotFound(Name(start) + " does not exist");
    ASSIGN_OR_RETURN(counts_.inodes_total, CountInodes());
    const bool whole = start == kRootInode;
    RETURN_IF_ERROR(Visit(*root));
    seen_dirs_.insert(start);
    if (root->attr().type() == pb::FILE_TYPE_DIRECTORY) queue_.push_back(start);
    if (whole) RETURN_IF_ERROR(AddTrash());
    while (!queue_.empty() && !stopped_) {
      uint64_t dir = queue_.front();
      queue_.pop_front();
      RETURN_IF_ERROR(WalkDirectory(dir));
    }
    if (whole && !stopped_) {
      RETURN_IF_ERROR(CheckFileLinks());
      RETURN_IF_ERROR(FindOrphans());
    }
    return counts_;
  }

 private:
  Result<uint64_t> CountInodes() {
    uint64_t n = 0, after = 0;
    while (true) {
      ASSIGN_OR_RETURN(std::vector<uint64_t> page, txn_.ScanInodeIds(after, kPage));
      n += page.size();
      if (page.size() < kPage) return n;
      after = page.back();
    }
  }

  // The trash directory has no entry (trash.h): the whole walk starts
  // there too, so that it and its files are reached.
  Status AddTrash() {
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> trash, txn_.GetInode(kTrashInode));
    if (!trash) return Status::Ok();
    RETURN_IF_ERROR(Visit(*trash));
    seen_dirs_.insert(kTrashInode);
    queue_.push_back(kTrashInode);
    return Status::Ok();
  }

  void Found(FsckFinding f) {
    if (v_.found) v_.found(f);
  }

  // Counts one inode reached by the walk and checks its chunks.
  Status Visit(const pb::InodeRecord& record) {
    const pb::InodeAttr& attr = record.attr();
    counts_.inodes_checked++;
    if (v_.progress && counts_.inodes_checked % kProgressEvery == 0 && !v_.progress(counts_)) {
      stopped_ = true;
    }
    switch (attr.type()) {
      case pb::FILE_TYPE_DIRECTORY:
        counts_.directories++;
        return Status::Ok();
      case pb::FILE_TYPE_REGULAR:
        counts_.files++;
        return CheckChunks(attr.inode());
      default:
        counts_.other++;
        return Status::Ok();
    }
  }

  Status CheckChunks(uint64_t inode) {
    ASSIGN_OR_RETURN(std::vector<IndexedChunk> chunks,
                     txn_.ListChunks(inode, 0, std::numeric_limits<uint64_t>::max()));
    for (const IndexedChunk& c : chunks) {
      counts_.chunks++;
      ASSIGN_OR_RETURN(std::optional<LocatedChunk> indexed, txn_.FindChunk(c.record.chunk_id()));
      if (!indexed || indexed->inode != inode || indexed->index != c.index) {
        Found({"chunk_index", inode, c.record.chunk_id(),
               "chunk " + std::to_string(c.record.chunk_id()) + " at index " +
                   std::to_string(c.index) + " of " + Name(inode) +
                   " is missing from the chunk id index",
               std::nullopt});
      }
      if (v_.chunk) v_.chunk(inode, c);
    }
    return Status::Ok();
  }

  Status WalkDirectory(uint64_t dir) {
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> self, txn_.GetInode(dir));
    uint32_t subdirs = 0;
    std::string after;
    while (!stopped_) {
      ASSIGN_OR_RETURN(std::vector<NamedDentry> page, txn_.ListDentries(dir, after, kPage));
      for (const NamedDentry& e : page) {
        RETURN_IF_ERROR(CheckEntry(dir, e, &subdirs));
      }
      if (page.size() < kPage) break;
      after = page.back().name;
    }
    if (self && self->attr().nlink() != 2 + subdirs) {
      Found({"nlink", dir, 0,
             "directory " + Name(dir) + " has nlink " + std::to_string(self->attr().nlink()) +
                 ", its entries make it " + std::to_string(2 + subdirs),
             SetNlinkFix(dir, self->attr().nlink(), 2 + subdirs)});
    }
    return Status::Ok();
  }

  Status CheckEntry(uint64_t dir, const NamedDentry& e, uint32_t* subdirs) {
    const uint64_t inode = e.record.inode();
    ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn_.GetInode(inode));
    if (!record) {
      pb::FsckFixCommand fix;
      fix.mutable_remove_dentry()->set_parent(dir);
      fix.mutable_remove_dentry()->set_name(e.name);
      fix.mutable_remove_dentry()->set_inode(inode);
      Found({"dangling_dentry", inode, 0,
             "entry '" + e.name + "' in " + Name(dir) + " names missing " + Name(inode), fix});
      return Status::Ok();
    }
    if (record->attr().type() != e.record.type()) {
      Found({"type_mismatch", inode, 0,
             "entry '" + e.name + "' in " + Name(dir) + " says type " +
                 std::to_string(e.record.type()) + ", the inode is " +
                 std::to_string(record->attr().type()),
             std::nullopt});
    }
    if (record->attr().type() == pb::FILE_TYPE_DIRECTORY) {
      (*subdirs)++;
      if (!seen_dirs_.insert(inode).second) {
        Found({"dir_linked_twice", inode, 0,
               "directory " + Name(inode) + " is reached twice (again as '" + e.name + "' in " +
                   Name(dir) + ")",
               std::nullopt});
        return Status::Ok();
      }
      if (record->parent() != dir) {
        pb::FsckFixCommand fix;
        fix.mutable_set_parent()->set_inode(inode);
        fix.mutable_set_parent()->set_parent(dir);
        Found({"wrong_parent", inode, 0,
               "directory " + Name(inode) + " is in " + Name(dir) + " but names " +
                   Name(record->parent()) + " as its parent",
               fix});
      }
      queue_.push_back(inode);
    } else {
      // Files are visited once however many names they have.
      if (links_[inode]++ > 0) return Status::Ok();
    }
    return Visit(*record);
  }

  Status CheckFileLinks() {
    for (const auto& [inode, names] : links_) {
      ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn_.GetInode(inode));
      if (record && record->attr().nlink() != names) {
        Found({"nlink", inode, 0,
               Name(inode) + " has nlink " + std::to_string(record->attr().nlink()) + " but " +
                   std::to_string(names) + " entries name it",
               SetNlinkFix(inode, record->attr().nlink(), names)});
      }
    }
    return Status::Ok();
  }

  Status FindOrphans() {
    uint64_t after = 0;
    while (true) {
      ASSIGN_OR_RETURN(std::vector<uint64_t> page, txn_.ScanInodeIds(after, kPage));
      for (uint64_t inode : page) {
        if (inode == kRootInode || seen_dirs_.count(inode) || links_.count(inode)) continue;
        Found({"orphan_inode", inode, 0, Name(inode) + " is reached by no entry", std::nullopt});
      }
      if (page.size() < kPage) return Status::Ok();
      after = page.back();
    }
  }

  const MetaTxn& txn_;
  const FsckVisitor& v_;
  FsckCounts counts_;
  std::deque<uint64_t> queue_;
  std::set<uint64_t> seen_dirs_;
  std::map<uint64_t, uint32_t> links_;  // non-directories: entries naming them
  bool stopped_ = false;
};

}  // namespace

Result<FsckCounts> Fsck(const MetaTxn& txn, uint64_t start, const FsckVisitor& visitor) {
  return Walker(txn, visitor).Run(start);
}

Result<pb::MetaReply> FsckFix(MetaTxn& txn, const OpContext& /*ctx*/,
                              const pb::FsckFixCommand& req) {
  switch (req.fix_case()) {
    case pb::FsckFixCommand::kRemoveDentry: {
      const auto& r = req.remove_dentry();
      ASSIGN_OR_RETURN(std::optional<pb::DentryRecord> d, txn.GetDentry(r.parent(), r.name()));
      ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> target, txn.GetInode(r.inode()));
      if (!d || d->inode() != r.inode() || target) {
        return Status::InvalidArgument("the entry changed since fsck saw it");
      }
      txn.DeleteDentry(r.parent(), r.name());
      return pb::MetaReply();
    }
    case pb::FsckFixCommand::kSetNlink: {
      const auto& r = req.set_nlink();
      ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn.GetInode(r.inode()));
      if (!record || record->attr().nlink() != r.expect()) {
        return Status::InvalidArgument("the link count changed since fsck saw it");
      }
      record->mutable_attr()->set_nlink(r.nlink());
      txn.PutInode(*record);
      return pb::MetaReply();
    }
    case pb::FsckFixCommand::kSetParent: {
      const auto& r = req.set_parent();
      ASSIGN_OR_RETURN(std::optional<pb::InodeRecord> record, txn.GetInode(r.inode()));
      if (!record || record->attr().type() != pb::FILE_TYPE_DIRECTORY) {
        return Status::InvalidArgument("not a directory any more");
      }
      record->set_parent(r.parent());
      txn.PutInode(*record);
      return pb::MetaReply();
    }
    case pb::FsckFixCommand::FIX_NOT_SET:
      break;
  }
  return Status::InvalidArgument("fsck fix without a fix");
}

}  // namespace dfs::meta::ops
