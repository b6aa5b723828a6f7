#include "meta/ops/permissions.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace dfs::meta {

bool InGroup(const Credentials& caller, uint32_t gid) {
  return caller.gid == gid ||
         std::find(caller.groups.begin(), caller.groups.end(), gid) != caller.groups.end();
}

bool Permits(const Credentials& caller, const pb::InodeAttr& attr, uint32_t mask) {
  mask &= kMayRead | kMayWrite | kMayExec;
  if (IsRoot(caller)) {
    // Root may read and write anything, and search any directory, but runs
    // only what somebody may run.
    if ((mask & kMayExec) == 0 || attr.type() == pb::FILE_TYPE_DIRECTORY) return true;
    return (attr.mode() & 0111) != 0;
  }
  uint32_t bits;
  if (caller.uid == attr.uid()) {
    bits = (attr.mode() >> 6) & 7;
  } else if (InGroup(caller, attr.gid())) {
    bits = (attr.mode() >> 3) & 7;
  } else {
    bits = attr.mode() & 7;
  }
  return (bits & mask) == mask;
}

Status CheckPermission(const Credentials& caller, const pb::InodeAttr& attr, uint32_t mask,
                       const char* what) {
  if (Permits(caller, attr, mask)) return Status::Ok();
  return Status::PermissionDenied(std::string(what) + " on inode " + std::to_string(attr.inode()) +
                                  " denied to uid " + std::to_string(caller.uid));
}

bool OwnsOrRoot(const Credentials& caller, const pb::InodeAttr& attr) {
  return IsRoot(caller) || caller.uid == attr.uid();
}

Status CheckSticky(const Credentials& caller, const pb::InodeAttr& dir,
                   const pb::InodeAttr& victim) {
  if ((dir.mode() & kSticky) == 0) return Status::Ok();
  if (IsRoot(caller) || caller.uid == dir.uid() || caller.uid == victim.uid()) return Status::Ok();
  return Status::NotPermitted("sticky directory " + std::to_string(dir.inode()) +
                              ": only the owner may remove or rename inode " +
                              std::to_string(victim.inode()));
}

namespace {

bool HasPrefix(const std::string& name, std::string_view prefix) {
  return std::string_view(name).substr(0, prefix.size()) == prefix;
}

}  // namespace

Status CheckXattrAccess(const Credentials& caller, const pb::InodeAttr& attr,
                        const std::string& name, uint32_t mask) {
  bool write = (mask & kMayWrite) != 0;
  auto refuse = [&](const std::string& why) {
    return write ? Status::NotPermitted(why) : Status::NoData(why);
  };
  if (HasPrefix(name, "security.") || HasPrefix(name, "system.")) {
    if (write && !OwnsOrRoot(caller, attr)) {
      return Status::NotPermitted("only the owner or root may set " + name);
    }
    return Status::Ok();
  }
  if (HasPrefix(name, "trusted.")) {
    if (!IsRoot(caller)) return refuse("trusted.* attributes are root's");
    return Status::Ok();
  }
  if (HasPrefix(name, "user.")) {
    if (attr.type() != pb::FILE_TYPE_REGULAR && attr.type() != pb::FILE_TYPE_DIRECTORY) {
      return refuse("user.* attributes only exist on files and directories");
    }
    if (attr.type() == pb::FILE_TYPE_DIRECTORY && (attr.mode() & kSticky) != 0 && write &&
        !OwnsOrRoot(caller, attr)) {
      return Status::NotPermitted("sticky directory: only its owner may set user.* attributes");
    }
  }
  return CheckPermission(caller, attr, mask, write ? "writing xattrs" : "reading xattrs");
}

bool XattrVisible(const Credentials& caller, const std::string& name) {
  return IsRoot(caller) || !HasPrefix(name, "trusted.");
}

}  // namespace dfs::meta
