// Fuzzes the checks a server runs on a request before acting on it: the
// request validators of dfs-meta (meta/server/request_checks.h, which use
// meta/ops/validate.h) and of dfs-chunkserver
// (server/chunk_request_checks.h).
//
// Input: byte 0 picks one request type of MetaService, AdminService
// (proto/meta.proto, proto/admin.proto) or ChunkService (proto/chunk.proto);
// byte 1 picks what the server knows of itself (the chunk size, its node
// id); the rest is parsed as that message, as gRPC parses it off the wire,
// and what parses goes to the type's check.
//
// Asserts, besides no crash and no undefined behaviour (an overflow in a
// range check would be one):
//   - a check answers the same twice; a refusal has a code from the error
//     table and a message;
//   - what a check accepts has what its header promises, restated here
//     without the implementation's arithmetic: names valid for
//     meta/ops/validate.h, ranges inside the chunk (no wrap-around), data
//     matching its checksum count, chains short and naming each replica
//     once and never this server, ...;
//   - a request serializes and parses back to itself.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "common/checksum.h"
#include "common/status.h"
#include "meta/ops/validate.h"
#include "meta/server/request_checks.h"
#include "proto/admin.pb.h"
#include "proto/chunk.pb.h"
#include "proto/field_checks.h"
#include "proto/meta.pb.h"
#include "server/chunk_request_checks.h"

namespace {

namespace pb = dfs::pb;
using dfs::Status;
using dfs::server::ChunkRequestContext;

#define FUZZ_ASSERT(cond)                                                                \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: accepted, yet not: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// What the server answering knows of itself, from byte 1.
struct Server {
  uint64_t chunk_size;  // 0: not known yet (dfs-meta before format)
  uint64_t self;
  ChunkRequestContext chunk() const { return ChunkRequestContext{chunk_size, self}; }
};

Server ServerFrom(uint8_t b) {
  constexpr uint64_t kChunkSizes[] = {64ull << 20, 1ull << 20, dfs::kBlockSize, 0, UINT64_MAX};
  return Server{kChunkSizes[b % 5], uint64_t{b / 5u % 4}};
}

// Runs a check twice: the same answer, and a refusal that says what.
bool Accepts(const Status& first, const Status& second) {
  if (!(first == second)) {
    std::fprintf(stderr, "a check answered %s, then %s\n", first.ToString().c_str(),
                 second.ToString().c_str());
    std::abort();
  }
  if (first.ok()) return true;
  if (std::string(dfs::ErrorCodeName(first.code())) == "INVALID_ERROR_CODE" ||
      first.message().empty()) {
    std::fprintf(stderr, "a refusal without a code or a message: %s\n", first.ToString().c_str());
    std::abort();
  }
  return false;
}
#define ACCEPTS(call) Accepts(call, call)

bool ValidName(const std::string& name) {
  return dfs::meta::ValidateName(name).ok();
}

bool HeaderOk(const pb::RpcHeader& h) {
  return h.cluster_id().size() <= dfs::kMaxClusterIdLength && h.groups_size() <= dfs::kMaxGroups;
}

// [offset, offset + length) inside a chunk of `size` bytes, in exact arithmetic.
bool InChunk(uint64_t offset, uint64_t length, uint64_t size) {
  return static_cast<unsigned __int128>(offset) + length <= size;
}

// The replicas of a chain as the checks promise them: valid ids, each once,
// never this server.
template <class Replicas>
void ChainOk(const Replicas& replicas, std::set<uint64_t>* seen, uint64_t self) {
  for (const pb::ChunkReplica& r : replicas) {
    FUZZ_ASSERT(r.node_id() != 0 && r.node_id() != self);
    FUZZ_ASSERT(seen->insert(r.node_id()).second);
    FUZZ_ASSERT(!r.address().empty() && r.address().size() <= dfs::kMaxAddressLength);
  }
}

// ------------------------------------------------------------- MetaService

void Check(const pb::LookupRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(HeaderOk(r.header()) && r.parent() != 0 && ValidName(r.name()));
}
void Check(const pb::GetAttrRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.access_mask() <= 7);
}
void Check(const pb::SetAttrRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && dfs::meta::ValidateSetAttr(r).ok());
  FUZZ_ASSERT((r.valid() & pb::SETATTR_SIZE) == 0 || r.size() <= dfs::meta::kMaxFileSize);
}
void Check(const pb::CreateRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.parent() != 0 && ValidName(r.name()));
  if (r.type() == pb::FILE_TYPE_SYMLINK) {
    FUZZ_ASSERT(dfs::meta::ValidateSymlinkTarget(r.symlink_target()).ok());
  } else {
    FUZZ_ASSERT(r.symlink_target().empty());
  }
  FUZZ_ASSERT((r.mode() & ~dfs::meta::kMaxModeBits) == 0 && (r.umask() & ~0777u) == 0);
}
void Check(const pb::EntryRequest& r, const Server&) {  // Unlink, Rmdir
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.parent() != 0 && ValidName(r.name()));
}
void Check(const pb::RenameRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.parent() != 0 && r.new_parent() != 0);
  FUZZ_ASSERT(ValidName(r.name()) && ValidName(r.new_name()) && (r.flags() & ~3u) == 0 &&
              r.flags() != 3);
}
void Check(const pb::LinkRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.new_parent() != 0 && ValidName(r.new_name()));
}
void Check(const pb::ReadDirRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && (r.cookie().empty() || ValidName(r.cookie())));
}
void Check(const pb::StatFsRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(HeaderOk(r.header()));
}
void Check(const pb::AccessRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.mask() <= 7);
}
void Check(const pb::XattrRequest& r, const Server&) {  // four calls, one type
  if (ACCEPTS(dfs::meta::CheckSetXattrRequest(r))) {
    FUZZ_ASSERT(r.inode() != 0 && dfs::meta::ValidateXattrName(r.name()).ok());
    FUZZ_ASSERT(r.value().size() <= dfs::meta::kMaxXattrValueLength);
  }
  if (ACCEPTS(dfs::meta::CheckGetXattrRequest(r))) {
    FUZZ_ASSERT(dfs::meta::ValidateXattrName(r.name()).ok() && r.value().empty());
  }
  if (ACCEPTS(dfs::meta::CheckRemoveXattrRequest(r))) {
    FUZZ_ASSERT(dfs::meta::ValidateXattrName(r.name()).ok() && r.value().empty());
  }
  if (ACCEPTS(dfs::meta::CheckListXattrRequest(r))) {
    FUZZ_ASSERT(r.inode() != 0 && r.value().empty());
  }
}
void Check(const pb::GetChunksRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0);
}
void Check(const pb::AllocateChunkRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r, s.chunk_size))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.failed_nodes_size() <= dfs::kMaxChainLength);
  for (uint64_t node : r.failed_nodes())
    FUZZ_ASSERT(node != 0);
  // Whatever the exact bound, the chunk starts inside the largest file.
  if (s.chunk_size != 0) FUZZ_ASSERT(r.index() <= dfs::meta::kMaxFileSize / s.chunk_size);
}
void Check(const pb::CommitWriteRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.size() <= dfs::meta::kMaxFileSize &&
              r.mtime().nsec() < 1000000000);
}
void Check(const pb::RegisterNodeRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(!r.address().empty() && r.address().size() <= dfs::kMaxAddressLength);
  FUZZ_ASSERT(!r.zone().empty() && r.zone().size() <= dfs::kMaxZoneLength);
}
void Check(const pb::HeartbeatRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r, s.chunk_size))) return;
  FUZZ_ASSERT(r.node_id() != 0);
  for (const pb::ChunkReport& c : r.changed()) {
    FUZZ_ASSERT(c.chunk_id() != 0 && c.version() != 0);
    FUZZ_ASSERT(s.chunk_size == 0 || c.length() <= s.chunk_size);
  }
}
void Check(const pb::WatchRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.own_sessions_size() <= dfs::meta::kMaxWatchSessions);
}
void Check(const pb::LockRequest& r, const Server&) {  // Lock, GetLock
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.lock().lock_session() != 0);
  FUZZ_ASSERT(dfs::meta::ValidateLockRange(r.lock()).ok() && r.lock().start() <= r.lock().end());
}
void Check(const pb::ReleaseLocksRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.inode() != 0 && r.lock_session() != 0);
}
void Check(const pb::LockSessionRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(!r.close() || r.lock_session() != 0);
}

// ------------------------------------------------------------ AdminService

void Check(const pb::StatusRequest& r, const Server&) {  // Status, Health
  ACCEPTS(dfs::meta::CheckRequest(r));
}
void Check(const pb::MemberChangeRequest& r, const Server&) {
  if (ACCEPTS(dfs::meta::CheckAddMemberRequest(r))) {
    FUZZ_ASSERT(r.id() != 0 && !r.address().empty());
  }
  if (ACCEPTS(dfs::meta::CheckMemberRequest(r))) FUZZ_ASSERT(r.id() != 0 && r.address().empty());
}
void Check(const pb::NodeRequest& r, const Server&) {  // Drain
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.node_id() != 0);
}
void Check(const pb::SetRepairLimitsRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(!r.has_max_jobs() ||
              (r.max_jobs() >= 1 && r.max_jobs() <= dfs::meta::kMaxRepairJobs));
  FUZZ_ASSERT(!r.has_per_node_jobs() ||
              (r.per_node_jobs() >= 1 && r.per_node_jobs() <= dfs::meta::kMaxRepairJobs));
}
void Check(const pb::FsckRequest& r, const Server&) {
  ACCEPTS(dfs::meta::CheckRequest(r));
}
void Check(const pb::BackupRequest& r, const Server&) {
  ACCEPTS(dfs::meta::CheckRequest(r));
}
void Check(const pb::TrashListRequest& r, const Server&) {
  ACCEPTS(dfs::meta::CheckRequest(r));
}
void Check(const pb::TrashRestoreRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  FUZZ_ASSERT(r.id() != 0);
  FUZZ_ASSERT(r.to_name().empty() || (r.to_parent() != 0 && ValidName(r.to_name())));
}
void Check(const pb::TrashPurgeRequest& r, const Server&) {
  if (!ACCEPTS(dfs::meta::CheckRequest(r))) return;
  // NaN compares false both ways: it must not pass.
  FUZZ_ASSERT(r.older_than_sec() >= 0 && r.older_than_sec() <= dfs::meta::kMaxTrashAgeSec);
}

// ------------------------------------------------------------ ChunkService

template <class Request>
void ChainOpOk(const Request& r, const Server& s) {
  FUZZ_ASSERT(HeaderOk(r.header()) && r.chunk_id() != 0 && r.version() != 0);
  FUZZ_ASSERT(r.chain_size() <= dfs::kMaxChainLength - 1);
  std::set<uint64_t> seen;
  ChainOk(r.chain(), &seen, s.self);
}

void Check(const pb::CreateChunkRequest& r, const Server& s) {
  if (ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) ChainOpOk(r, s);
}
void Check(const pb::WriteRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  ChainOpOk(r, s);
  const uint64_t size = r.data().size();
  FUZZ_ASSERT(size >= 1 && size <= dfs::server::kMaxIoBytes);
  FUZZ_ASSERT(InChunk(r.offset(), size, s.chunk_size));
  FUZZ_ASSERT(static_cast<uint64_t>(r.checksums_size()) * dfs::kBlockSize >= size &&
              static_cast<uint64_t>(r.checksums_size() - 1) * dfs::kBlockSize < size);
}
void Check(const pb::ReadRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  FUZZ_ASSERT(r.chunk_id() != 0 && r.version() != 0);
  FUZZ_ASSERT(r.length() <= dfs::server::kMaxIoBytes &&
              InChunk(r.offset(), r.length(), s.chunk_size));
}
void Check(const pb::SyncRequest& r, const Server& s) {
  if (ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) ChainOpOk(r, s);
}
void Check(const pb::TruncateChunkRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  ChainOpOk(r, s);
  FUZZ_ASSERT(r.length() <= s.chunk_size);
}
void Check(const pb::SetVersionRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  FUZZ_ASSERT(r.chunk_id() != 0 && r.new_version() != 0 && r.old_version() <= r.new_version());
}
void Check(const pb::ReplicateRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  FUZZ_ASSERT(r.chunk_id() != 0 && r.version() != 0);
  std::set<uint64_t> seen;
  ChainOk(std::vector<pb::ChunkReplica>{r.source()}, &seen, s.self);
}
void Check(const pb::DeleteChunkRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  FUZZ_ASSERT(r.chunk_id() != 0 && r.version() != 0);
}
void Check(const pb::RechainRequest& r, const Server& s) {
  if (!ACCEPTS(dfs::server::CheckRequest(r, s.chunk()))) return;
  FUZZ_ASSERT(r.chunk_id() != 0 && r.version() != 0 && r.head().node_id() == s.self);
  FUZZ_ASSERT(1 + r.members_size() + r.joiners_size() <= dfs::kMaxChainLength);
  std::set<uint64_t> seen;
  ChainOk(r.members(), &seen, s.self);
  ChainOk(r.joiners(), &seen, s.self);
}

template <class Request>
void Fuzz(const uint8_t* data, size_t size, const Server& server) {
  Request r;
  if (!r.ParseFromArray(data, static_cast<int>(size))) return;
  Check(r, server);
  // What a server forwards down a chain or into a Raft command.
  Request again;
  const std::string bytes = r.SerializeAsString();
  if (!again.ParseFromString(bytes) || again.SerializeAsString() != bytes) {
    std::fprintf(stderr, "a %s does not survive serialize and parse\n",
                 r.GetDescriptor()->name().c_str());
    std::abort();
  }
}

using FuzzFn = void (*)(const uint8_t*, size_t, const Server&);

constexpr FuzzFn kRequestTypes[] = {
    // MetaService.
    Fuzz<pb::LookupRequest>,
    Fuzz<pb::GetAttrRequest>,
    Fuzz<pb::SetAttrRequest>,
    Fuzz<pb::CreateRequest>,
    Fuzz<pb::EntryRequest>,
    Fuzz<pb::RenameRequest>,
    Fuzz<pb::LinkRequest>,
    Fuzz<pb::ReadDirRequest>,
    Fuzz<pb::StatFsRequest>,
    Fuzz<pb::AccessRequest>,
    Fuzz<pb::XattrRequest>,
    Fuzz<pb::GetChunksRequest>,
    Fuzz<pb::AllocateChunkRequest>,
    Fuzz<pb::CommitWriteRequest>,
    Fuzz<pb::RegisterNodeRequest>,
    Fuzz<pb::HeartbeatRequest>,
    Fuzz<pb::WatchRequest>,
    Fuzz<pb::LockRequest>,
    Fuzz<pb::ReleaseLocksRequest>,
    Fuzz<pb::LockSessionRequest>,
    // AdminService.
    Fuzz<pb::StatusRequest>,
    Fuzz<pb::MemberChangeRequest>,
    Fuzz<pb::NodeRequest>,
    Fuzz<pb::SetRepairLimitsRequest>,
    Fuzz<pb::FsckRequest>,
    Fuzz<pb::BackupRequest>,
    Fuzz<pb::TrashListRequest>,
    Fuzz<pb::TrashRestoreRequest>,
    Fuzz<pb::TrashPurgeRequest>,
    // ChunkService.
    Fuzz<pb::CreateChunkRequest>,
    Fuzz<pb::WriteRequest>,
    Fuzz<pb::ReadRequest>,
    Fuzz<pb::SyncRequest>,
    Fuzz<pb::TruncateChunkRequest>,
    Fuzz<pb::SetVersionRequest>,
    Fuzz<pb::ReplicateRequest>,
    Fuzz<pb::DeleteChunkRequest>,
    Fuzz<pb::RechainRequest>,
};
constexpr size_t kTypes = sizeof(kRequestTypes) / sizeof(kRequestTypes[0]);

}  // namespace

// Invalid UTF-8 in a string field fails the parse with a log line per
// input: quiet, so that the fuzzer's own output stays readable and fast.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  kRequestTypes[data[0] % kTypes](data + 2, size - 2, ServerFrom(data[1]));
  return 0;
}
