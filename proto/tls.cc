#include "proto/tls.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/auth_context.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "common/config.h"

namespace dfs::tls {
namespace {

// The name every client checks the server's certificate against, whatever
// address it dialed: only node certificates carry it.
constexpr char kNodeName[] = "node.dfs";
constexpr char kAdminName[] = "admin.dfs";
constexpr char kMountName[] = "mount.dfs";
constexpr char kReadOnlyName[] = "readonly.mount.dfs";
constexpr char kRootSquashName[] = "rootsquash.mount.dfs";

struct State {
  std::mutex mu;
  bool enabled = false;
  std::string ca, cert, key;  // PEM text
};

State& state() {
  static State* s = new State;  // never destroyed: channels outlive main's locals
  return *s;
}

Result<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(std::string("cannot read the TLS ") + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos)
    return Status::InvalidArgument(std::string("the TLS ") + what + " " + path + " is not PEM");
  return text.str();
}

}  // namespace

void AddConfigKeys(ConfigParser* parser, Files* files) {
  parser->Add("tls_ca", &files->ca,
              "PEM file: the cluster CA certificate (mutual TLS; with the next two)");
  parser->Add("tls_cert", &files->cert,
              "PEM file: this server's certificate, signed by the cluster CA");
  parser->Add("tls_key", &files->key, "PEM file: the key of --tls-cert");
}

Status Configure(const Files& files) {
  State& s = state();
  if (files.empty()) {
    std::lock_guard lock(s.mu);
    s.enabled = false;
    return Status::Ok();
  }
  if (files.ca.empty() || files.cert.empty() || files.key.empty())
    return Status::InvalidArgument("TLS needs all three of tls_ca, tls_cert and tls_key");
  ASSIGN_OR_RETURN(std::string ca, ReadPem(files.ca, "CA certificate"));
  ASSIGN_OR_RETURN(std::string cert, ReadPem(files.cert, "certificate"));
  ASSIGN_OR_RETURN(std::string key, ReadPem(files.key, "key"));
  std::lock_guard lock(s.mu);
  s.enabled = true;
  s.ca = std::move(ca);
  s.cert = std::move(cert);
  s.key = std::move(key);
  return Status::Ok();
}

bool Enabled() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.enabled;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, grpc::ChannelArguments args) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.enabled)
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = s.ca;
  options.pem_cert_chain = s.cert;
  options.pem_private_key = s.key;
  args.SetSslTargetNameOverride(kNodeName);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.enabled) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = s.ca;
  options.pem_key_cert_pairs.push_back({s.key, s.cert});
  return grpc::SslServerCredentials(options);
}

Peer PeerOf(const grpc::ServerContextBase& ctx) {
  Peer peer;
  if (!Enabled()) return peer;
  peer.role = Role::kNone;
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return peer;
  bool node = false, admin = false, mount = false;
  for (const grpc::string_ref& name : auth->FindPropertyValues("x509_subject_alternative_name")) {
    const std::string_view v(name.data(), name.size());
    node |= v == kNodeName;
    admin |= v == kAdminName;
    mount |= v == kMountName;
    peer.read_only |= v == kReadOnlyName;
    peer.root_squash |= v == kRootSquashName;
  }
  // The strongest role the certificate names; a node or admin certificate
  // is never read-only or squashed.
  if (node) {
    peer.role = Role::kNode;
  } else if (admin) {
    peer.role = Role::kAdmin;
  } else if (mount) {
    peer.role = Role::kMount;
  }
  if (peer.role != Role::kMount) peer.read_only = peer.root_squash = false;
  return peer;
}

Status Allow(const Peer& peer, CallKind kind) {
  if (kind == CallKind::kNode ? !peer.node() : !peer.client())
    return Status::Unauthenticated("the caller's certificate holds no role for this call");
  if (kind == CallKind::kWrite && peer.read_only)
    return Status::ReadOnly("this mount's certificate is read-only");
  return Status::Ok();
}

grpc::Status PermissionDenied() {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "the caller's certificate holds no role for this call");
}

uint32_t EffectiveUid(const Peer& peer, uint32_t uid) {
  return peer.root_squash && uid == 0 ? kNobody : uid;
}

uint32_t EffectiveGid(const Peer& peer, uint32_t gid) {
  return peer.root_squash && gid == 0 ? kNobody : gid;
}

}  // namespace dfs::tls
