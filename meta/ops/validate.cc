#include "meta/ops/validate.h"

#include <string_view>

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

}  // namespace dfs::meta
