// AdminService's trash calls (proto/admin.proto; docs/meta.md, "Trash"):
// listing reads the leader's state after a read barrier; restore and purge
// are replicated commands (meta/ops/trash.h).
#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "meta/ops/trash.h"
#include "meta/server/admin_service.h"
#include "meta/server/propose.h"
#include "meta/server/request_checks.h"
#include "proto/tls.h"
#include "proto/wire_error.h"

namespace dfs::meta {

namespace {

constexpr uint32_t kDefaultListEntries = 1000;
constexpr uint32_t kMaxListEntries = 10000;
// A purge is many commands of this many entries each, for at most this
// long; what is left waits for the next purge (or the background one).
constexpr uint32_t kPurgeBatch = ops::kDefaultPurgeEntries;
constexpr std::chrono::seconds kPurgeRunTime{60};

pb::TrashEntry ToEntry(const pb::TrashRecord& record) {
  pb::TrashEntry entry;
  entry.set_id(record.id());
  entry.set_inode(record.inode());
  entry.set_path(!record.path().empty()
                     ? record.path()
                     : "(directory " + std::to_string(record.parent()) + ")/" + record.name());
  entry.set_size(record.size());
  entry.set_deleted_ns(record.deleted_ns());
  entry.set_uid(record.uid());
  entry.set_parent(record.parent());
  entry.set_name(record.name());
  entry.set_trash_name(ops::TrashEntryName(record.id(), record.name()));
  return entry;
}

// What a restore changes for the mounts (docs/meta.md, "Watches"): the
// file, both directories, and the entry in each.
pb::WatchEvent RestoreEvent(uint64_t inode, uint64_t parent, const std::string& name,
                            const std::string& trash_name) {
  pb::WatchEvent event;
  event.add_inodes(inode);
  event.add_inodes(parent);
  event.add_inodes(ops::kTrashInode);
  pb::WatchEntry* entry = event.add_entries();
  entry->set_parent(parent);
  entry->set_name(name);
  entry = event.add_entries();
  entry->set_parent(ops::kTrashInode);
  entry->set_name(trash_name);
  return event;
}

}  // namespace

grpc::Status AdminServiceImpl::TrashList(grpc::ServerContext* ctx, const pb::TrashListRequest* req,
                                         pb::TrashListReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  if (dfs::Status s = node_->ReadBarrierAndWait(std::chrono::seconds(5)); !s.ok()) {
    StatusToProto(s, reply->mutable_error());
    return grpc::Status::OK;
  }
  const uint32_t max =
      req->max() == 0 ? kDefaultListEntries : std::min(req->max(), kMaxListEntries);
  Result<std::vector<pb::TrashRecord>> records = store_->ListTrash(req->after(), max);
  Result<ops::TrashTotals> totals = store_->TrashUsage();
  if (!records.ok() || !totals.ok()) {
    StatusToProto(!records.ok() ? records.status() : totals.status(), reply->mutable_error());
    return grpc::Status::OK;
  }
  for (const pb::TrashRecord& record : *records)
    *reply->add_entries() = ToEntry(record);
  reply->set_eof(records->size() < max);
  reply->set_total_entries(totals->entries);
  reply->set_total_bytes(totals->bytes);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::TrashRestore(grpc::ServerContext* ctx,
                                            const pb::TrashRestoreRequest* req,
                                            pb::TrashRestoreReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  // Where it goes: the request's place, or the entry's original one (read
  // before the command takes the record away); the original name when only
  // a directory is given.
  uint64_t parent = req->to_parent();
  std::string name = req->to_name();
  std::string trash_name;
  uint64_t inode = 0;
  Result<std::vector<pb::TrashRecord>> record = store_->ListTrash(req->id() - 1, 1);
  if (record.ok() && !record->empty() && record->front().id() == req->id()) {
    trash_name = ops::TrashEntryName(req->id(), record->front().name());
    inode = record->front().inode();
    if (parent == 0) parent = record->front().parent();
    if (name.empty()) name = record->front().name();
  }
  pb::MetaCommand cmd;
  pb::TrashRestoreCommand* restore = cmd.mutable_trash_restore();
  restore->set_id(req->id());
  restore->set_parent(parent);
  restore->set_name(name);
  restore->set_inode(inode);
  Result<pb::MetaReply> applied = ProposeCommand(node_, std::move(cmd));
  if (!applied.ok()) {
    StatusToProto(applied.status(), reply->mutable_error());
    return grpc::Status::OK;
  }
  reply->set_inode(applied->attr().inode());
  if (watch_hub_ != nullptr) {
    watch_hub_->Publish(RestoreEvent(applied->attr().inode(), parent, name, trash_name), 0);
  }
  Result<std::string> path = store_->EntryPath(parent, name);
  reply->set_path(path.ok() && !path->empty() ? *path : name);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::TrashPurge(grpc::ServerContext* ctx,
                                          const pb::TrashPurgeRequest* req,
                                          pb::TrashPurgeReply* reply) {
  if (!tls::PeerOf(*ctx).admin()) return tls::PermissionDenied();
  if (Refused(CheckRequest(*req), reply->mutable_error())) return grpc::Status::OK;
  if (!Serving(req->header(), reply->mutable_error())) return grpc::Status::OK;
  // 0: everything, whatever clock stamped it.
  const int64_t before = req->older_than_sec() == 0
                             ? std::numeric_limits<int64_t>::max()
                             : WallNanos() - static_cast<int64_t>(req->older_than_sec() * 1e9);
  // Batches until done or just before the caller's deadline; then `more`
  // asks it to call again (each call purges what is old enough then).
  auto end = std::chrono::steady_clock::now() + kPurgeRunTime;
  if (ctx != nullptr && ctx->deadline() != std::chrono::system_clock::time_point::max()) {
    end = std::min(end, std::chrono::steady_clock::now() +
                            (ctx->deadline() - std::chrono::system_clock::now()) -
                            std::chrono::milliseconds(300));
  }
  for (;;) {
    if (std::chrono::steady_clock::now() >= end || (ctx != nullptr && ctx->IsCancelled())) {
      reply->set_more(true);
      break;
    }
    pb::MetaCommand cmd;
    cmd.mutable_trash_purge()->set_deleted_before_ns(before);
    cmd.mutable_trash_purge()->set_max_entries(kPurgeBatch);
    Result<pb::MetaReply> applied = ProposeCommand(node_, std::move(cmd));
    if (!applied.ok()) {
      StatusToProto(applied.status(), reply->mutable_error());
      return grpc::Status::OK;
    }
    reply->set_purged(reply->purged() + applied->trash_purged());
    if (applied->trash_purged() > 0 && watch_hub_ != nullptr) {
      pb::WatchEvent event;  // the trash's listing changed
      event.add_inodes(ops::kTrashInode);
      watch_hub_->Publish(event, 0);
    }
    reply->set_freed_chunks(reply->freed_chunks() + applied->freed_chunks_size());
    if (applied->trash_purged() < kPurgeBatch) break;
  }
  return grpc::Status::OK;
}

}  // namespace dfs::meta
