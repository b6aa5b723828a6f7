#include "meta/server/request_checks.h"

#include <cmath>
#include <string>
#include <string_view>

#include "common/result.h"
#include "meta/ops/validate.h"
#include "proto/field_checks.h"

namespace dfs::meta {

namespace {

constexpr uint32_t kAccessBits = 7;  // R_OK | W_OK | X_OK

// An id that names something: inodes, nodes and trash entries count from 1.
Status CheckId(std::string_view field, uint64_t id) {
  if (id == 0) return InvalidField(field, "0 names nothing");
  return Status::Ok();
}

Status CheckName(std::string_view field, const std::string& name) {
  return ValidateName(name).WithContext(field);
}

Status CheckAccessMask(std::string_view field, uint32_t mask) {
  if ((mask & ~kAccessBits) != 0) {
    return InvalidField(field, "unknown access bits " + std::to_string(mask));
  }
  return Status::Ok();
}

Status CheckMode(std::string_view field, uint32_t mode) {
  if ((mode & ~kMaxModeBits) != 0) return InvalidField(field, "unknown mode bits");
  return Status::Ok();
}

Status CheckNanos(std::string_view field, const pb::Timespec& t) {
  if (t.nsec() >= 1000000000) return InvalidField(field, "nanoseconds out of range");
  return Status::Ok();
}

Status CheckLockSession(uint64_t lock_session) {
  if (lock_session == 0) return InvalidField("lock_session", "0 is no lock session");
  return Status::Ok();
}

Status CheckEmpty(std::string_view field, const std::string& value) {
  if (!value.empty()) return InvalidField(field, "not used by this call: must be empty");
  return Status::Ok();
}

}  // namespace

Status CheckMutationHeader(const pb::RpcHeader& header) {
  RETURN_IF_ERROR(CheckHeader(header));
  if (header.session_id() != 0 && header.sequence() == 0) {
    return InvalidField("header.sequence", "a session numbers its mutations from 1");
  }
  return Status::Ok();
}

// --------------------------------------------------------- MetaService

Status CheckRequest(const pb::LookupRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("parent", req.parent()));
  return CheckName("name", req.name());
}

Status CheckRequest(const pb::GetAttrRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  return CheckAccessMask("access_mask", req.access_mask());
}

Status CheckRequest(const pb::SetAttrRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(ValidateSetAttr(req));
  if ((req.valid() & pb::SETATTR_MODE) != 0) RETURN_IF_ERROR(CheckMode("mode", req.mode()));
  return Status::Ok();
}

Status CheckRequest(const pb::CreateRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("parent", req.parent()));
  RETURN_IF_ERROR(ValidateCreate(req));
  RETURN_IF_ERROR(CheckMode("mode", req.mode()));
  if ((req.umask() & ~0777u) != 0) return InvalidField("umask", "bits beyond 0777");
  if (req.type() != pb::FILE_TYPE_SYMLINK) {
    RETURN_IF_ERROR(CheckEmpty("symlink_target", req.symlink_target()));
  }
  return Status::Ok();
}

Status CheckRequest(const pb::EntryRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("parent", req.parent()));
  return CheckName("name", req.name());
}

Status CheckRequest(const pb::RenameRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("parent", req.parent()));
  RETURN_IF_ERROR(CheckId("new_parent", req.new_parent()));
  return ValidateRename(req);
}

Status CheckRequest(const pb::LinkRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(CheckId("new_parent", req.new_parent()));
  return CheckName("new_name", req.new_name());
}

Status CheckRequest(const pb::ReadDirRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  if (!req.cookie().empty()) RETURN_IF_ERROR(CheckName("cookie", req.cookie()));
  return Status::Ok();
}

Status CheckRequest(const pb::StatFsRequest& req) {
  return CheckHeader(req.header());
}

Status CheckRequest(const pb::AccessRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  return CheckAccessMask("mask", req.mask());
}

Status CheckGetXattrRequest(const pb::XattrRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(ValidateXattrName(req.name()).WithContext("name"));
  RETURN_IF_ERROR(CheckEmpty("value", req.value()));
  if (req.flags() != 0) return InvalidField("flags", "only setxattr takes flags");
  return Status::Ok();
}

Status CheckSetXattrRequest(const pb::XattrRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  return ValidateSetXattr(req);
}

Status CheckListXattrRequest(const pb::XattrRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(CheckEmpty("name", req.name()));
  RETURN_IF_ERROR(CheckEmpty("value", req.value()));
  if (req.flags() != 0) return InvalidField("flags", "only setxattr takes flags");
  return Status::Ok();
}

Status CheckRemoveXattrRequest(const pb::XattrRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(ValidateXattrName(req.name()).WithContext("name"));
  RETURN_IF_ERROR(CheckEmpty("value", req.value()));
  if (req.flags() != 0) return InvalidField("flags", "only setxattr takes flags");
  return Status::Ok();
}

Status CheckRequest(const pb::GetChunksRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  return CheckId("inode", req.inode());
}

Status CheckRequest(const pb::AllocateChunkRequest& req, uint64_t chunk_size) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  if (chunk_size != 0 && req.index() >= kMaxFileSize / chunk_size) {
    return Status::FileTooLarge("index: chunk " + std::to_string(req.index()) +
                                " lies past the largest file");
  }
  if (req.failed_nodes_size() > kMaxChainLength) {
    return InvalidField("failed_nodes", std::to_string(req.failed_nodes_size()) +
                                            " nodes, more than a chain holds (" +
                                            std::to_string(kMaxChainLength) + ")");
  }
  for (uint64_t node_id : req.failed_nodes())
    RETURN_IF_ERROR(CheckId("failed_nodes", node_id));
  return Status::Ok();
}

Status CheckRequest(const pb::CommitWriteRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  if (req.size() > kMaxFileSize) {
    return Status::FileTooLarge("size: " + std::to_string(req.size()) + " bytes");
  }
  if (req.has_mtime()) RETURN_IF_ERROR(CheckNanos("mtime", req.mtime()));
  return Status::Ok();
}

Status CheckRequest(const pb::RegisterNodeRequest& req) {
  RETURN_IF_ERROR(CheckMutationHeader(req.header()));
  RETURN_IF_ERROR(CheckAddress("address", req.address()));
  return CheckZone("zone", req.zone());
}

Status CheckRequest(const pb::HeartbeatRequest& req, uint64_t chunk_size) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("node_id", req.node_id()));
  for (const pb::ChunkReport& r : req.changed()) {
    if (r.chunk_id() == 0) return InvalidField("changed.chunk_id", "0 is no chunk");
    if (r.version() == 0) return InvalidField("changed.version", "versions count from 1");
    if (chunk_size != 0 && r.length() > chunk_size) {
      return InvalidField("changed.length",
                          std::to_string(r.length()) + " bytes is more than a chunk holds");
    }
  }
  return Status::Ok();
}

Status CheckRequest(const pb::WatchRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  if (req.own_sessions_size() > kMaxWatchSessions) {
    return InvalidField("own_sessions", std::to_string(req.own_sessions_size()) +
                                            " sessions (max " + std::to_string(kMaxWatchSessions) +
                                            ")");
  }
  return Status::Ok();
}

Status CheckRequest(const pb::LockRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  RETURN_IF_ERROR(ValidateLockRange(req.lock()).WithContext("lock"));
  return CheckLockSession(req.lock().lock_session());
}

Status CheckRequest(const pb::ReleaseLocksRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("inode", req.inode()));
  if (req.kind() != pb::LOCK_KIND_POSIX && req.kind() != pb::LOCK_KIND_FLOCK) {
    return InvalidField("kind", "unknown lock kind " + std::to_string(req.kind()));
  }
  return CheckLockSession(req.lock_session());
}

Status CheckRequest(const pb::LockSessionRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  if (req.close()) return CheckLockSession(req.lock_session());
  return Status::Ok();
}

// -------------------------------------------------------- AdminService

Status CheckRequest(const pb::StatusRequest& req) {
  return CheckHeader(req.header());
}

Status CheckAddMemberRequest(const pb::MemberChangeRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  return CheckAddress("address", req.address());
}

Status CheckMemberRequest(const pb::MemberChangeRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  return CheckEmpty("address", req.address());
}

Status CheckRequest(const pb::NodeRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  return CheckId("node_id", req.node_id());
}

Status CheckRequest(const pb::SetRepairLimitsRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  auto in_range = [](std::string_view field, uint32_t jobs) {
    if (jobs == 0 || jobs > kMaxRepairJobs) {
      return InvalidField(field,
                          std::to_string(jobs) + " (1 to " + std::to_string(kMaxRepairJobs) + ")");
    }
    return Status::Ok();
  };
  if (req.has_max_jobs()) RETURN_IF_ERROR(in_range("max_jobs", req.max_jobs()));
  if (req.has_per_node_jobs()) RETURN_IF_ERROR(in_range("per_node_jobs", req.per_node_jobs()));
  return Status::Ok();
}

Status CheckRequest(const pb::FsckRequest& req) {
  return CheckHeader(req.header());
}

Status CheckRequest(const pb::BackupRequest& req) {
  return CheckHeader(req.header());
}

Status CheckRequest(const pb::TrashListRequest& req) {
  return CheckHeader(req.header());
}

Status CheckRequest(const pb::TrashRestoreRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  if (!req.to_name().empty()) {
    if (req.to_parent() == 0) {
      return InvalidField("to_name", "a new name needs the directory to put it in (to_parent)");
    }
    RETURN_IF_ERROR(CheckName("to_name", req.to_name()));
  }
  return Status::Ok();
}

Status CheckRequest(const pb::TrashPurgeRequest& req) {
  RETURN_IF_ERROR(CheckHeader(req.header()));
  const double age = req.older_than_sec();
  if (!std::isfinite(age) || age < 0 || age > kMaxTrashAgeSec) {
    return InvalidField("older_than_sec", "must be between 0 and 1e9 seconds");
  }
  return Status::Ok();
}

}  // namespace dfs::meta
