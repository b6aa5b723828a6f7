#include "meta/server/watch_events.h"

#include <algorithm>
#include <utility>

#include "meta/ops/trash.h"

namespace dfs::meta {

namespace {

// Builds an event; inodes and entries named twice are listed once.
class EventBuilder {
 public:
  EventBuilder& Inode(uint64_t inode) {
    if (inode != 0 && std::find(inodes_.begin(), inodes_.end(), inode) == inodes_.end()) {
      inodes_.push_back(inode);
    }
    return *this;
  }
  EventBuilder& Entry(uint64_t parent, const std::string& name) {
    for (const auto& [p, n] : entries_) {
      if (p == parent && n == name) return *this;
    }
    entries_.emplace_back(parent, name);
    return *this;
  }
  pb::WatchEvent Build() const {
    pb::WatchEvent event;
    for (uint64_t inode : inodes_)
      event.add_inodes(inode);
    for (const auto& [parent, name] : entries_) {
      pb::WatchEntry* e = event.add_entries();
      e->set_parent(parent);
      e->set_name(name);
    }
    return event;
  }

 private:
  std::vector<uint64_t> inodes_;
  std::vector<std::pair<uint64_t, std::string>> entries_;
};

int64_t Nanos(const pb::Timespec& t) {
  return t.sec() * 1'000'000'000 + t.nsec();
}

uint64_t At(std::span<const uint64_t> resolved, size_t i) {
  return i < resolved.size() ? resolved[i] : 0;
}

}  // namespace

std::vector<EntryName> EntriesToResolve(const pb::MetaCommand& cmd) {
  switch (cmd.op_case()) {
    case pb::MetaCommand::kUnlink:
      return {{cmd.unlink().parent(), cmd.unlink().name()}};
    case pb::MetaCommand::kRmdir:
      return {{cmd.rmdir().parent(), cmd.rmdir().name()}};
    case pb::MetaCommand::kRename:
      return {{cmd.rename().parent(), cmd.rename().name()},
              {cmd.rename().new_parent(), cmd.rename().new_name()}};
    default:
      return {};
  }
}

std::optional<pb::WatchEvent> WatchEventFor(const pb::MetaCommand& cmd, const pb::MetaReply& reply,
                                            std::span<const uint64_t> resolved) {
  if (reply.error().code() != 0) return std::nullopt;  // a refused command changed nothing
  EventBuilder b;
  switch (cmd.op_case()) {
    case pb::MetaCommand::kCreate: {
      // A new inode's ctime is the command's time. O_CREAT without O_EXCL
      // on an existing file returns that file unchanged (older ctime), and
      // a create replayed from its session record returns the first
      // answer: neither changes anything now.
      if (Nanos(reply.attr().ctime()) != cmd.now_ns()) return std::nullopt;
      const pb::CreateRequest& r = cmd.create();
      b.Inode(r.parent()).Inode(reply.attr().inode()).Entry(r.parent(), r.name());
      break;
    }
    case pb::MetaCommand::kSetattr:
      b.Inode(cmd.setattr().inode());
      break;
    case pb::MetaCommand::kUnlink:
    case pb::MetaCommand::kRmdir: {
      const pb::EntryRequest& r =
          cmd.op_case() == pb::MetaCommand::kUnlink ? cmd.unlink() : cmd.rmdir();
      b.Inode(r.parent()).Inode(At(resolved, 0)).Entry(r.parent(), r.name());
      if (reply.trash_id() != 0) b.Inode(ops::kTrashInode);  // a new entry in the trash
      break;
    }
    case pb::MetaCommand::kRename: {
      // Both parents (entries, mtime, nlink for directories), the moved
      // inode (ctime; a directory's ".."), and the inode at the target: it
      // lost a link (replaced) or moved too (RENAME_EXCHANGE).
      const pb::RenameRequest& r = cmd.rename();
      b.Inode(r.parent()).Inode(r.new_parent()).Inode(At(resolved, 0)).Inode(At(resolved, 1));
      b.Entry(r.parent(), r.name()).Entry(r.new_parent(), r.new_name());
      if (reply.trash_id() != 0) b.Inode(ops::kTrashInode);
      break;
    }
    case pb::MetaCommand::kLink: {
      const pb::LinkRequest& r = cmd.link();
      b.Inode(r.inode()).Inode(r.new_parent()).Entry(r.new_parent(), r.new_name());
      break;
    }
    case pb::MetaCommand::kCommitWrite:
      b.Inode(cmd.commit_write().inode());
      break;
    case pb::MetaCommand::kSetxattr:
      b.Inode(cmd.setxattr().inode());
      break;
    case pb::MetaCommand::kRemovexattr:
      b.Inode(cmd.removexattr().inode());
      break;
    default:
      // format, chunk allocation, chunk servers, garbage, sessions: nothing
      // a mount caches as attributes or entries.
      return std::nullopt;
  }
  return b.Build();
}

}  // namespace dfs::meta
