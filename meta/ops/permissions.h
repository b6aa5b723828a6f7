// Who is asking, and what the POSIX mode bits let them do (docs/meta.md,
// "Namespace rules"). Pure functions of the caller and an inode's attributes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/common.pb.h"

namespace dfs::meta {

// The caller of an operation, as the mount reports it (the FUSE request's
// uid, gid and supplementary groups).
struct Credentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
};

// access(2) mask bits.
inline constexpr uint32_t kMayRead = 4;
inline constexpr uint32_t kMayWrite = 2;
inline constexpr uint32_t kMayExec = 1;

// Mode bits beyond rwx.
inline constexpr uint32_t kSetUid = 04000;
inline constexpr uint32_t kSetGid = 02000;
inline constexpr uint32_t kSticky = 01000;
inline constexpr uint32_t kPermissionBits = 07777;

inline bool IsRoot(const Credentials& caller) {
  return caller.uid == 0;
}

// True if `gid` is the caller's primary or one of its supplementary groups.
bool InGroup(const Credentials& caller, uint32_t gid);

// True if the owner class / group class / other class bits that apply to
// the caller grant every bit of `mask` (kMay*). Root passes read and write
// always, and exec on a directory or on anything with at least one x bit.
bool Permits(const Credentials& caller, const pb::InodeAttr& attr, uint32_t mask);

// OK if Permits(), else PERMISSION_DENIED naming `what`.
Status CheckPermission(const Credentials& caller, const pb::InodeAttr& attr, uint32_t mask,
                       const char* what);

// True for the owner of the inode and for root.
bool OwnsOrRoot(const Credentials& caller, const pb::InodeAttr& attr);

// The sticky-directory rule: in a directory with mode 01000 only the owner
// of `victim`, the owner of `dir` or root may remove or rename `victim`.
// NOT_PERMITTED (EPERM, as Linux) otherwise.
Status CheckSticky(const Credentials& caller, const pb::InodeAttr& dir,
                   const pb::InodeAttr& victim);

// Access to the extended attribute `name` of an inode, for reading
// (kMayRead) or writing (kMayWrite), as Linux's xattr_permission: trusted.*
// is root's alone; user.* lives only on regular files and directories, and
// on a sticky directory only its owner or root may write it; security.* and
// system.* may be written by the owner or root and read by anyone; user.*
// and trusted.* otherwise follow the mode bits. A denied read of a
// namespace the caller may not see is NO_DATA, a denied write NOT_PERMITTED
// (or PERMISSION_DENIED from the mode bits).
Status CheckXattrAccess(const Credentials& caller, const pb::InodeAttr& attr,
                        const std::string& name, uint32_t mask);

// Whether listxattr shows `name` to the caller (trusted.* only to root).
bool XattrVisible(const Credentials& caller, const std::string& name);

}  // namespace dfs::meta
