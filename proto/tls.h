// Mutual TLS for every gRPC channel and server of a dfs process, and the
// roles that a peer's certificate grants (docs/security.md).
//
// A process calls Configure once at start with its cluster CA, certificate
// and key (or with nothing: plain-text gRPC, as on a trusted network).
// Every channel made with Channel() and every server port made with
// ServerCredentials() afterwards uses them. With TLS, a server accepts only
// peers that present a certificate signed by the cluster CA, and a client
// accepts only servers whose certificate holds the node role.
//
// Roles are DNS names in the certificate's subjectAltName:
//   node.dfs               a dfs-meta or dfs-chunkserver (may call anything)
//   admin.dfs              dfsadmin (AdminService and MetaService)
//   mount.dfs              dfs-mount (MetaService and the chunk data path)
//   readonly.mount.dfs     with mount.dfs: every mutation fails with EROFS
//   rootsquash.mount.dfs   with mount.dfs: uid 0 is treated as nobody
// deploy/tls-certs makes a CA and such certificates with openssl.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace dfs {
class ConfigParser;
}

namespace dfs::tls {

// PEM files: the cluster CA's certificate, this process's certificate and
// its private key. All three or none.
struct Files {
  std::string ca, cert, key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// Binds config keys tls_ca, tls_cert and tls_key (flags --tls-ca, ...) to
// `files`, for daemons.
void AddConfigKeys(ConfigParser* parser, Files* files);

// Reads the files and makes every later Channel() and ServerCredentials()
// use them; with empty `files`, plain text. INVALID_ARGUMENT when only some
// are given or a file is not PEM, NOT_FOUND when one cannot be read.
// REQUIRES: called before any channel or server is made, at most once
// (tests may call it again before making channels).
Status Configure(const Files& files);

// Whether Configure was given files.
bool Enabled();

// A channel to `address` with `args`, over TLS when configured (verifying
// that the server holds the node role).
std::shared_ptr<grpc::Channel> Channel(const std::string& address, grpc::ChannelArguments args);

// What a listening port uses: TLS requiring and verifying a client
// certificate of the cluster CA when configured, plain text otherwise.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials();

enum class Role : uint8_t {
  kAny,   // TLS is off: every peer may call everything
  kNone,  // a certificate of the CA that holds no dfs role
  kNode,
  kAdmin,
  kMount,
};

// What a caller's certificate grants.
struct Peer {
  Role role = Role::kAny;
  bool read_only = false;    // readonly.mount.dfs
  bool root_squash = false;  // rootsquash.mount.dfs
  bool node() const { return role == Role::kAny || role == Role::kNode; }
  bool admin() const { return node() || role == Role::kAdmin; }
  // A mount, an admin tool or a node: the namespace and data services.
  bool client() const { return admin() || role == Role::kMount; }
};

// The caller of a call being served.
Peer PeerOf(const grpc::ServerContextBase& ctx);

// What a call of the Meta or Chunk service does, for the caller's role
// (docs/security.md): reads any client may make, writes all but a
// read-only mount, node calls only nodes.
enum class CallKind { kRead, kWrite, kNode };
// OK if `peer` may make a call of `kind`; UNAUTHENTICATED or READ_ONLY.
Status Allow(const Peer& peer, CallKind kind);

// The gRPC answer (PERMISSION_DENIED) to a caller whose role does not
// allow the call, for services that answer errors with a gRPC status.
grpc::Status PermissionDenied();

// The uid a call acts as: uid 0 of a root-squashed mount is nobody.
inline constexpr uint32_t kNobody = 65534;
uint32_t EffectiveUid(const Peer& peer, uint32_t uid);
uint32_t EffectiveGid(const Peer& peer, uint32_t gid);

}  // namespace dfs::tls
