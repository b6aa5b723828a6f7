// Argument checks shared by the state machine and the server (which may
// reject bad input before proposing it). Pure functions; docs/meta.md says
// which error each rule gives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxSymlinkLength = 4095;  // PATH_MAX - 1
inline constexpr size_t kMaxXattrNameLength = 255;
inline constexpr size_t kMaxXattrValueLength = 64 * 1024;
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 62;  // far beyond any chunk map
inline constexpr uint32_t kMaxLinks = 65000;                 // per inode, as ext4

// A directory entry name: 1-255 bytes, no '/', no NUL, not "." or "..".
// INVALID_ARGUMENT, or NAME_TOO_LONG above 255 bytes.
Status ValidateName(const std::string& name);

// An extended attribute name: 1-255 bytes (INVALID_ARGUMENT when empty or
// holding a NUL, RANGE above 255 as Linux), in one of the namespaces user.,
// trusted., security. or system. (NOT_SUPPORTED otherwise, as Linux).
Status ValidateXattrName(const std::string& name);

// A symlink target: 1-4095 bytes without NUL. NOT_FOUND when empty (as
// symlink(2)), NAME_TOO_LONG when longer, INVALID_ARGUMENT with a NUL.
Status ValidateSymlinkTarget(const std::string& target);

// A create: a valid name, a type that can be created (regular, directory,
// symlink, FIFO, socket; INVALID_ARGUMENT otherwise) and, for a symlink, a
// valid target.
Status ValidateCreate(const pb::CreateRequest& req);

// A setattr: only known SetAttrBits (INVALID_ARGUMENT), a size of at most
// kMaxFileSize (FILE_TOO_LARGE), nanoseconds below 1e9 in the times it sets.
Status ValidateSetAttr(const pb::SetAttrRequest& req);

// A setxattr: a valid name, known flags and not both, a value of at most
// kMaxXattrValueLength bytes (RANGE, as Linux).
Status ValidateSetXattr(const pb::XattrRequest& req);

// A rename: known flags and not both; both names valid.
Status ValidateRename(const pb::RenameRequest& req);

// A lock or unlock: a known kind and type, start <= end.
Status ValidateLockRange(const pb::LockRange& lock);

}  // namespace dfs::meta
