// Checks of the wire fields every dfs service shares (proto/common.proto):
// the RpcHeader, server addresses, zones and chunk replicas. Each service's
// own request checks (meta/server/request_checks.h,
// server/chunk_request_checks.h) are built from these.
//
// Pure functions of the value: whether a node or a cluster id is the right
// one is the service's business. A refused value gets INVALID_ARGUMENT with
// a message that starts with the field's name. The limits are written down
// in docs/security.md, "Input limits".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "proto/common.pb.h"

namespace dfs {

// A cluster id is a UUID (36 bytes); anything much longer is not one.
inline constexpr size_t kMaxClusterIdLength = 64;
// Supplementary groups of one caller: Linux's NGROUPS_MAX.
inline constexpr int kMaxGroups = 65536;
// HOST:PORT with a DNS name of at most 253 bytes (or a bracketed IPv6
// address) and a port of at most 5 digits.
inline constexpr size_t kMaxAddressLength = 253 + 1 + 5;
// A zone name ("a", "eu-west-1a", "rack-17").
inline constexpr size_t kMaxZoneLength = 64;
// Replicas in one chunk's chain, the head included: a chain longer than any
// replication factor is malformed, and every hop of a chain costs a
// forwarded call and a server thread.
inline constexpr int kMaxChainLength = 16;

// Any request's header: a cluster id of at most kMaxClusterIdLength bytes
// (empty is allowed: a caller that has not learned it yet), at most
// kMaxGroups groups. uid, gid and the session fields take any value.
Status CheckHeader(const pb::RpcHeader& header);

// A server address HOST:PORT: HOST a name or IPv4 address of letters,
// digits, '.', '-' and '_', or an IPv6 address in brackets; PORT a decimal
// number 1-65535. `field` names it in the error.
Status CheckAddress(std::string_view field, const std::string& address);

// A zone name: 1 to kMaxZoneLength bytes, no control characters.
Status CheckZone(std::string_view field, const std::string& zone);

// A replica as a chain or a copy names it: node id > 0, a valid address, a
// zone that is empty or valid.
Status CheckReplica(std::string_view field, const pb::ChunkReplica& replica);

// INVALID_ARGUMENT "field: why".
Status InvalidField(std::string_view field, std::string_view why);

}  // namespace dfs
