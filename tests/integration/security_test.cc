// Mutual TLS and certificate roles with real processes (docs/security.md):
// a cluster whose daemons run with node certificates of one CA, mounts and
// direct gRPC callers with other certificates (or none), and what each may
// do. Certificates come from deploy/tls-certs, as an operator makes them.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/admin.grpc.pb.h"
#include "proto/chunk.grpc.pb.h"
#include "proto/meta.grpc.pb.h"
#include "proto/raft.grpc.pb.h"
#include "proto/tls.h"
#include "tests/support/meta_leader.h"
#include "tests/support/mounted_cluster.h"
#include "tests/support/process.h"

namespace dfs {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uint32_t kUnauthenticated = 12;  // ErrorCode::UNAUTHENTICATED on the wire

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A cluster CA in a directory, and certificates issued by it.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) { Run({"init"}); }

  void Issue(const std::string& role, const std::string& name,
             const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"issue", "--role", role, "--name", name};
    args.insert(args.end(), more.begin(), more.end());
    Run(args);
  }
  tls::Files Files(const std::string& name) const {
    return {dir_ + "/ca.crt", dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  }
  std::vector<std::string> DaemonFlags(const std::string& name) const {
    tls::Files f = Files(name);
    return {"--tls-ca", f.ca, "--tls-cert", f.cert, "--tls-key", f.key};
  }
  std::string MountOption(const std::string& name) const {
    tls::Files f = Files(name);
    return "tls_ca=" + f.ca + ",tls_cert=" + f.cert + ",tls_key=" + f.key;
  }
  // A channel that presents `name`'s certificate and checks the server's
  // the way dfs does (the node role); plain text for an empty name.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& name,
                                           const std::string& address) const {
    if (name.empty()) return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    tls::Files f = Files(name);
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadText(f.ca);
    o.pem_cert_chain = ReadText(f.cert);
    o.pem_private_key = ReadText(f.key);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("node.dfs");
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(o), args);
  }

 private:
  void Run(const std::vector<std::string>& args) {
    std::string cmd = std::string(DFS_SOURCE_DIR) + "/deploy/tls-certs";
    for (const std::string& a : args)
      cmd += " '" + a + "'";
    cmd += " --dir '" + dir_ + "' >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }

  std::string dir_;
};

std::string TempDir() {
  std::string pattern = (fs::temp_directory_path() / "dfs-security-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

int Err(long rc) {
  return rc < 0 ? errno : 0;
}

void PutFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  REQUIRE(fchmod(fd, mode) == 0);
  REQUIRE(close(fd) == 0);
}

TEST_CASE("mutual TLS: only the cluster CA's certificates get in, and roles limit the calls") {
  const std::string dir = TempDir();
  Pki pki(dir + "/ca");
  pki.Issue("node", "node");
  pki.Issue("mount", "mount");
  pki.Issue("mount", "readonly", {"--read-only"});
  pki.Issue("mount", "squashed", {"--root-squash"});
  pki.Issue("admin", "admin");
  Pki rogue(dir + "/rogue");  // another CA: its node certificate is worth nothing here
  rogue.Issue("node", "node");
  // The test's own clients (finding the leader) act as a node.
  REQUIRE(tls::Configure(pki.Files("node")).ok());

  testing::MountedClusterOptions options;
  options.meta_args = pki.DaemonFlags("node");
  options.chunk_args = pki.DaemonFlags("node");
  testing::MountedCluster cluster(options);
  REQUIRE(cluster.ok());
  uint64_t leader_id = 0;
  for (int i = 0; i < 50 && leader_id == 0; i++) {
    leader_id = testing::MetaLeader(cluster.meta());  // a TLS handshake may take its probe's time
    if (leader_id == 0) std::this_thread::sleep_for(200ms);
  }
  REQUIRE(leader_id != 0);
  const std::string leader = cluster.meta().addresses().at(leader_id);
  const std::string chunk_server = cluster.chunks().address(1);

  // A mount with a mount certificate works as any mount.
  testing::Mount* m = cluster.AddMount({"allow_other", pki.MountOption("mount")});
  REQUIRE(m != nullptr);
  PutFile(m->path() + "/hello", "over TLS");
  CHECK(ReadText(m->path() + "/hello") == "over TLS");

  // A mount without a certificate, or with one of another CA, never comes up.
  CHECK(cluster.AddMount({"meta_timeout=3"}, 30s) == nullptr);
  CHECK(cluster.AddMount({"meta_timeout=3", rogue.MountOption("node")}, 30s) == nullptr);

  // Nor do direct calls in plain text or with the other CA's certificate.
  for (const auto& channel : {pki.ChannelAs("", leader), rogue.ChannelAs("node", leader)}) {
    auto stub = pb::MetaService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    pb::GetAttrRequest req;
    req.set_inode(1);
    pb::AttrReply reply;
    CHECK(stub->GetAttr(&ctx, req, &reply).error_code() == grpc::StatusCode::UNAVAILABLE);
  }

  // A chunk server with the other CA's certificate never registers.
  {
    const std::string data = dir + "/rogue-cs";
    testing::Process cs;
    std::vector<std::string> argv = {testing::BinDir() + "/dfs-chunkserver",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(testing::FreePort()),
                                     "--zone",
                                     "z1",
                                     "--data-dir",
                                     data,
                                     "--meta",
                                     cluster.MetaAddresses()};
    for (const std::string& flag : rogue.DaemonFlags("node"))
      argv.push_back(flag);
    REQUIRE(cs.Start(argv, dir + "/rogue-cs.log"));
    std::this_thread::sleep_for(5s);
    CHECK_FALSE(fs::exists(data + "/IDENTITY"));
  }

  // A mount certificate may not call admin, Raft or node RPCs.
  {
    auto admin = pb::AdminService::NewStub(pki.ChannelAs("mount", leader));
    grpc::ClientContext ctx;
    pb::StatusRequest req;
    pb::StatusReply reply;
    CHECK(admin->Status(&ctx, req, &reply).error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    auto raft = pb::RaftService::NewStub(pki.ChannelAs("mount", leader));
    grpc::ClientContext ctx;
    pb::RaftAck ack;
    auto writer = raft->Send(&ctx, &ack);
    writer->WritesDone();
    CHECK(writer->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    auto meta = pb::MetaService::NewStub(pki.ChannelAs("mount", leader));
    grpc::ClientContext ctx;
    pb::RegisterNodeRequest req;
    req.set_address("127.0.0.1:1");
    req.set_zone("z9");
    pb::RegisterNodeReply reply;
    REQUIRE(meta->RegisterNode(&ctx, req, &reply).ok());
    CHECK(reply.error().code() == kUnauthenticated);
  }
  {
    auto chunk = pb::ChunkService::NewStub(pki.ChannelAs("mount", chunk_server));
    grpc::ClientContext ctx;
    pb::DeleteChunkRequest req;  // well-formed, of this cluster: only the role is wrong
    req.mutable_header()->set_cluster_id(cluster.chunks().cluster_id());
    req.set_chunk_id(1);
    req.set_version(1);
    pb::Error reply;
    REQUIRE(chunk->DeleteChunk(&ctx, req, &reply).ok());
    CHECK(reply.code() == kUnauthenticated);
  }
  // An admin certificate may.
  {
    auto admin = pb::AdminService::NewStub(pki.ChannelAs("admin", leader));
    grpc::ClientContext ctx;
    pb::StatusRequest req;
    pb::StatusReply reply;
    CHECK(admin->Status(&ctx, req, &reply).ok());
  }

  // A read-only mount certificate reads and never writes, whatever the
  // mount's own options say.
  testing::Mount* ro = cluster.AddMount({"allow_other", pki.MountOption("readonly")});
  REQUIRE(ro != nullptr);
  CHECK(ReadText(ro->path() + "/hello") == "over TLS");
  CHECK(Err(open((ro->path() + "/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == EROFS);
  CHECK(Err(unlink((ro->path() + "/hello").c_str())) == EROFS);
  CHECK(Err(mkdir((ro->path() + "/d").c_str(), 0755)) == EROFS);
  CHECK(Err(truncate((ro->path() + "/hello").c_str(), 0)) == EROFS);
  CHECK(ReadText(m->path() + "/hello") == "over TLS");

  // A root-squashed mount's root is nobody to the cluster: the kernel lets
  // root through, the metadata service does not.
  REQUIRE(mkdir((m->path() + "/private").c_str(), 0700) == 0);
  PutFile(m->path() + "/private/secret", "root's", 0600);
  PutFile(m->path() + "/root-only", "root's too", 0600);
  testing::Mount* squashed = cluster.AddMount({"allow_other", pki.MountOption("squashed")});
  REQUIRE(squashed != nullptr);
  CHECK(ReadText(squashed->path() + "/hello") == "over TLS");  // 0644: readable by all
  CHECK(Err(open((squashed->path() + "/root-only").c_str(), O_RDONLY | O_CLOEXEC)) == EACCES);
  CHECK(Err(open((squashed->path() + "/private/secret").c_str(), O_RDONLY | O_CLOEXEC)) == EACCES);
  CHECK(Err(open((squashed->path() + "/mine").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) ==
        EACCES);  // the root directory is 0755 root's
  CHECK(Err(chmod((squashed->path() + "/hello").c_str(), 0666)) == EPERM);

  REQUIRE(tls::Configure({}).ok());
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace dfs
