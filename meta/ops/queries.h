// The reads of the metadata state machine: pure functions of one
// consistent view (a read-only MetaTxn), with the same permission rules as
// the mutations (docs/meta.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "meta/meta_store_txn.h"
#include "meta/ops/permissions.h"
#include "proto/meta.pb.h"

namespace dfs::meta::ops {

// ReadDir page size: 0 asks for the default; more than the maximum gets
// the maximum.
inline constexpr uint32_t kDefaultReadDirEntries = 1024;
inline constexpr uint32_t kMaxReadDirEntries = 4096;

// NOT_FOUND for a missing inode.
Result<pb::InodeAttr> GetAttr(const MetaTxn& txn, uint64_t inode);

// The entry `name` of `parent`: needs search permission on `parent`.
// ".trash" in the root is the trash directory, for uid 0 only (trash.h).
Result<pb::InodeAttr> Lookup(const MetaTxn& txn, const Credentials& caller, uint64_t parent,
                             const std::string& name);

// Up to max_entries entries after `cookie` (the last name of the previous
// page, "" to start) in name order; eof when none follow. Needs read
// permission; attributes only with search permission too (else each entry
// carries just its inode number and type). "." and ".." are not listed.
Result<pb::ReadDirReply> ReadDir(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                                 const std::string& cookie, uint32_t max_entries);

// The target of a symlink; INVALID_ARGUMENT for anything else (as Linux).
Result<std::string> ReadLink(const MetaTxn& txn, uint64_t inode);

// NO_DATA when the attribute is missing (or hidden from the caller).
Result<std::string> GetXattr(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                             const std::string& name);
// Names in byte order; trusted.* only for root.
Result<std::vector<std::string>> ListXattr(const MetaTxn& txn, const Credentials& caller,
                                           uint64_t inode);

// access(2): mask is R_OK 4 | W_OK 2 | X_OK 1, or 0 (F_OK) for existence.
Status Access(const MetaTxn& txn, const Credentials& caller, uint64_t inode, uint32_t mask);
// Access, then the inode's attributes, from one read: an open's
// revalidation and access check in one call.
Result<pb::InodeAttr> CheckedAttr(const MetaTxn& txn, const Credentials& caller, uint64_t inode,
                                  uint32_t mask);

// The chunks of a regular file with first_index <= index < first_index +
// count (count 0: to the end); holes are simply absent.
Result<pb::GetChunksReply> GetChunks(const MetaTxn& txn, uint64_t chunk_size, uint64_t inode,
                                     uint64_t first_index, uint64_t count);

}  // namespace dfs::meta::ops
