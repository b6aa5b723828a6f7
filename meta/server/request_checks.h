// Field checks of every MetaService and AdminService request
// (proto/meta.proto, proto/admin.proto). Each handler calls its check first,
// before it acts: before it proposes a command, waits for a read barrier or
// touches the leader's soft state. So a malformed request costs no Raft
// round, leaves no log entry and no session record, and gets a clear error.
//
// Pure functions of the request. Whether an inode, a node or a trash entry
// exists is for the state machine to say; what is decided here is whether
// each field is well-formed: ids not 0, names and xattrs as
// meta/ops/validate.h has them (the state machine checks those again when it
// applies, for commands already in the log), flags and enums known, sizes
// and counts within the limits below. Errors: INVALID_ARGUMENT with a message
// that starts with the field's name, or the code POSIX gives
// (NAME_TOO_LONG, RANGE, FILE_TOO_LARGE, NOT_SUPPORTED).
//
// The limits are written down in docs/security.md, "Input limits".
#pragma once

#include <cstdint>

#include "common/status.h"
#include "proto/admin.pb.h"
#include "proto/meta.pb.h"

namespace dfs::meta {

// ReadDir: entries per page when max_entries is 0, and the most one page
// holds (a larger max_entries is served this many; eof says whether more
// follow). 4096 entries of 255-byte names with attributes are ~1.5 MiB.
inline constexpr uint32_t kDefaultReadDirEntries = 256;
inline constexpr uint32_t kMaxReadDirEntries = 4096;
// GetChunks: chunks per reply when count is 0 (to the end, a page at a
// time) and the most one reply holds; a larger count is served this many.
inline constexpr uint64_t kMaxChunksPerCall = 1024;
// Watch: the mount's own meta sessions (one per MetaClient of its pool).
inline constexpr int kMaxWatchSessions = 1024;
// SetRepairLimits: max_jobs and per_node_jobs are 1 to this (the repair
// scheduler's worker threads).
inline constexpr uint32_t kMaxRepairJobs = 16;
// TrashPurge: older_than_sec is 0 to this (~31 years).
inline constexpr double kMaxTrashAgeSec = 1e9;
// Mode bits a create or chmod may carry: permissions, setuid, setgid,
// sticky, and the file type bits (S_IFMT) a client may leave in.
inline constexpr uint32_t kMaxModeBits = 0177777;

// --------------------------------------------------------- MetaService

// Lookup: parent > 0, a valid name.
Status CheckRequest(const pb::LookupRequest& req);
// GetAttr and ReadLink: inode > 0, access_mask within R_OK|W_OK|X_OK.
Status CheckRequest(const pb::GetAttrRequest& req);
// SetAttr (a mutation: see CheckMutationHeader): inode > 0, known bits, a
// mode within kMaxModeBits, the size and times meta/ops/validate.h allows.
Status CheckRequest(const pb::SetAttrRequest& req);
// Create: parent > 0, ValidateCreate, mode within kMaxModeBits, umask
// within 0777, a symlink target only for a symlink.
Status CheckRequest(const pb::CreateRequest& req);
// Unlink and Rmdir: parent > 0, a valid name.
Status CheckRequest(const pb::EntryRequest& req);
// Rename: both parents > 0, ValidateRename.
Status CheckRequest(const pb::RenameRequest& req);
// Link: inode > 0, new_parent > 0, a valid new name.
Status CheckRequest(const pb::LinkRequest& req);
// ReadDir: inode > 0; the cookie empty or a valid name (the last one
// returned). Any max_entries (see kMaxReadDirEntries).
Status CheckRequest(const pb::ReadDirRequest& req);
Status CheckRequest(const pb::StatFsRequest& req);
// Access: inode > 0, mask within R_OK|W_OK|X_OK.
Status CheckRequest(const pb::AccessRequest& req);
// The xattr calls share one request type; each uses other fields, and the
// ones it does not use must be empty (a value for a get is a mistake, and
// a large one would travel through the Raft log for a remove).
Status CheckGetXattrRequest(const pb::XattrRequest& req);
Status CheckSetXattrRequest(const pb::XattrRequest& req);
Status CheckListXattrRequest(const pb::XattrRequest& req);
Status CheckRemoveXattrRequest(const pb::XattrRequest& req);
// GetChunks: inode > 0. Any first_index and count (see kMaxChunksPerCall).
Status CheckRequest(const pb::GetChunksRequest& req);
// AllocateChunk: inode > 0; an index within the largest file (when
// chunk_size, the cluster's, is known: not 0); at most kMaxChainLength
// failed nodes, none 0.
Status CheckRequest(const pb::AllocateChunkRequest& req, uint64_t chunk_size);
// CommitWrite: inode > 0, size within kMaxFileSize, mtime nanoseconds
// below 1e9.
Status CheckRequest(const pb::CommitWriteRequest& req);
// RegisterNode: a valid address and zone (node_id 0 asks for a new id).
Status CheckRequest(const pb::RegisterNodeRequest& req);
// Heartbeat: node_id > 0; every reported replica with chunk id and
// version > 0 and a length within chunk_size (when known: not 0).
Status CheckRequest(const pb::HeartbeatRequest& req, uint64_t chunk_size);
// Watch: at most kMaxWatchSessions own sessions.
Status CheckRequest(const pb::WatchRequest& req);
// Lock and GetLock: inode > 0, ValidateLockRange, lock_session > 0.
Status CheckRequest(const pb::LockRequest& req);
// ReleaseLocks: inode > 0, a known kind, lock_session > 0.
Status CheckRequest(const pb::ReleaseLocksRequest& req);
// LockSession: closing needs the session to close (lock_session > 0).
Status CheckRequest(const pb::LockSessionRequest& req);

// The header of a mutation: CheckHeader, and a session (session_id > 0)
// numbers its mutations from 1. Part of every mutation's check above.
Status CheckMutationHeader(const pb::RpcHeader& header);

// -------------------------------------------------------- AdminService

// Status and Health.
Status CheckRequest(const pb::StatusRequest& req);
// AddMember: id > 0 and a valid address.
Status CheckAddMemberRequest(const pb::MemberChangeRequest& req);
// RemoveMember and TransferLeader: id > 0, no address.
Status CheckMemberRequest(const pb::MemberChangeRequest& req);
// Drain: node_id > 0.
Status CheckRequest(const pb::NodeRequest& req);
// SetRepairLimits: max_jobs and per_node_jobs, when given, 1 to
// kMaxRepairJobs; any bandwidth (0: unlimited).
Status CheckRequest(const pb::SetRepairLimitsRequest& req);
// Fsck: any inode (0: the root) and fix.
Status CheckRequest(const pb::FsckRequest& req);
Status CheckRequest(const pb::BackupRequest& req);
// TrashList: any after and max (a page holds at most 10000 entries).
Status CheckRequest(const pb::TrashListRequest& req);
// TrashRestore: id > 0; a new name only with the directory to put it in,
// and a valid one.
Status CheckRequest(const pb::TrashRestoreRequest& req);
// TrashPurge: older_than_sec a number from 0 to kMaxTrashAgeSec.
Status CheckRequest(const pb::TrashPurgeRequest& req);

}  // namespace dfs::meta
