#include "meta/ops/validate.h"

#include <string_view>

#include "common/result.h"
#include "meta/ops/ops.h"

namespace dfs::meta {

Status ValidateName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("empty name");
  if (name.size() > kMaxNameLength) {
    return Status::NameTooLong("name of " + std::to_string(name.size()) + " bytes (max " +
                               std::to_string(kMaxNameLength) + ")");
  }
  if (name == "." || name == "..")
    return Status::InvalidArgument("name '" + name + "' is reserved");
  if (name.find('/') != std::string::npos) return Status::InvalidArgument("name contains '/'");
  if (name.find('\0') != std::string::npos) return Status::InvalidArgument("name contains NUL");
  return Status::Ok();
}

Status ValidateXattrName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("empty xattr name");
  if (name.size() > kMaxXattrNameLength) {
    return Status::Range("xattr name of " + std::to_string(name.size()) + " bytes (max " +
                         std::to_string(kMaxXattrNameLength) + ")");
  }
  if (name.find('\0') != std::string::npos) return Status::InvalidArgument("xattr name has NUL");
  std::string_view n(name);
  for (std::string_view prefix : {"user.", "trusted.", "security.", "system."}) {
    if (n.size() > prefix.size() && n.substr(0, prefix.size()) == prefix) return Status::Ok();
  }
  return Status::NotSupported("xattr name '" + name + "' has no known namespace");
}

Status ValidateSymlinkTarget(const std::string& target) {
  if (target.empty()) return Status::NotFound("empty symlink target");
  if (target.size() > kMaxSymlinkLength) {
    return Status::NameTooLong("symlink target of " + std::to_string(target.size()) + " bytes");
  }
  if (target.find('\0') != std::string::npos) return Status::InvalidArgument("target has NUL");
  return Status::Ok();
}

namespace {

bool IsCreatable(pb::FileType type) {
  switch (type) {
    case pb::FILE_TYPE_REGULAR:
    case pb::FILE_TYPE_DIRECTORY:
    case pb::FILE_TYPE_SYMLINK:
    case pb::FILE_TYPE_FIFO:
    case pb::FILE_TYPE_SOCKET:
      return true;
    default:
      return false;
  }
}

constexpr uint32_t kKnownSetAttrBits = pb::SETATTR_MODE | pb::SETATTR_UID | pb::SETATTR_GID |
                                       pb::SETATTR_SIZE | pb::SETATTR_ATIME | pb::SETATTR_MTIME |
                                       pb::SETATTR_ATIME_NOW | pb::SETATTR_MTIME_NOW;

}  // namespace

Status ValidateCreate(const pb::CreateRequest& req) {
  RETURN_IF_ERROR(ValidateName(req.name()));
  if (!IsCreatable(req.type())) {
    return Status::InvalidArgument("cannot create a file of type " + std::to_string(req.type()));
  }
  if (req.type() == pb::FILE_TYPE_SYMLINK)
    RETURN_IF_ERROR(ValidateSymlinkTarget(req.symlink_target()));
  return Status::Ok();
}

Status ValidateSetAttr(const pb::SetAttrRequest& req) {
  if ((req.valid() & ~kKnownSetAttrBits) != 0) {
    return Status::InvalidArgument("unknown setattr bits " + std::to_string(req.valid()));
  }
  if ((req.valid() & pb::SETATTR_SIZE) != 0 && req.size() > kMaxFileSize) {
    return Status::FileTooLarge("size " + std::to_string(req.size()));
  }
  if (((req.valid() & pb::SETATTR_ATIME) != 0 && req.atime().nsec() >= 1000000000) ||
      ((req.valid() & pb::SETATTR_MTIME) != 0 && req.mtime().nsec() >= 1000000000)) {
    return Status::InvalidArgument("nanoseconds out of range");
  }
  return Status::Ok();
}

Status ValidateSetXattr(const pb::XattrRequest& req) {
  RETURN_IF_ERROR(ValidateXattrName(req.name()));
  if ((req.flags() & ~(ops::kXattrCreate | ops::kXattrReplace)) != 0) {
    return Status::InvalidArgument("unknown xattr flags " + std::to_string(req.flags()));
  }
  if ((req.flags() & ops::kXattrCreate) != 0 && (req.flags() & ops::kXattrReplace) != 0) {
    return Status::InvalidArgument("XATTR_CREATE and XATTR_REPLACE together");
  }
  if (req.value().size() > kMaxXattrValueLength) {
    return Status::Range("xattr value of " + std::to_string(req.value().size()) + " bytes (max " +
                         std::to_string(kMaxXattrValueLength) + ")");
  }
  return Status::Ok();
}

Status ValidateRename(const pb::RenameRequest& req) {
  if ((req.flags() & ~(ops::kRenameNoReplace | ops::kRenameExchange)) != 0) {
    return Status::InvalidArgument("unknown rename flags " + std::to_string(req.flags()));
  }
  if ((req.flags() & ops::kRenameNoReplace) != 0 && (req.flags() & ops::kRenameExchange) != 0) {
    return Status::InvalidArgument("RENAME_NOREPLACE and RENAME_EXCHANGE together");
  }
  RETURN_IF_ERROR(ValidateName(req.name()));
  return ValidateName(req.new_name());
}

Status ValidateLockRange(const pb::LockRange& l) {
  if (l.kind() != pb::LOCK_KIND_POSIX && l.kind() != pb::LOCK_KIND_FLOCK) {
    return Status::InvalidArgument("unknown lock kind " + std::to_string(l.kind()));
  }
  if (l.type() != pb::LOCK_TYPE_UNLOCK && l.type() != pb::LOCK_TYPE_READ &&
      l.type() != pb::LOCK_TYPE_WRITE) {
    return Status::InvalidArgument("unknown lock type " + std::to_string(l.type()));
  }
  if (l.start() > l.end()) {
    return Status::InvalidArgument("lock range ends (" + std::to_string(l.end()) +
                                   ") before it starts (" + std::to_string(l.start()) + ")");
  }
  return Status::Ok();
}

}  // namespace dfs::meta
