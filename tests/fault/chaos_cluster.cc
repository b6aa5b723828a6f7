#include "tests/fault/chaos_cluster.h"

#include <sys/mount.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "proto/admin.grpc.pb.h"
#include "tests/support/meta_leader.h"
#include "tests/support/process.h"

namespace dfs::chaos {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kChunkZones = {"z1", "z2", "z3", "z1", "z2", "z3"};
// The workload mounts, then the history mounts (tests/fault/history.h).
const std::vector<std::string> kMountZones = {"z1", "z2", "z1", "z3"};

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  // PID (COMM) STATE ...: COMM may hold spaces and parentheses.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

ChaosCluster::ChaosCluster(const std::string& dir, uint64_t small_disks,
                           const std::string& meta_log_level)
    : dir_(dir) {
  for (size_t i = 1; small_disks > 0 && i <= kChunkZones.size(); i++) {
    // The path testing::ChunkServers gives server i.
    const std::string path = dir_ + "/chunk/chunk" + std::to_string(i);
    fs::create_directories(path);
    const std::string opts = "size=" + std::to_string(small_disks);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) != 0) return;  // ok_ stays false
    tmpfs_.push_back(path);
  }
  meta_ = std::make_unique<testing::ServerGroup>(
      "dfs-meta", 3,
      // No trash: the workload deletes and overwrites all the time, and the
      // 512 MiB disks of the disk-full nemesis would fill with its files
      // (the trash is not purged early under space pressure yet).
      std::vector<std::string>{"--chunk-size", "1MiB", "--node-dead-after", "2s",
                               "--repair-scan-interval", "500ms", "--repair-doubt-grace", "3s",
                               "--trash-days", "0", "--log-level", meta_log_level},
      dir_);
  chunks_ = std::make_unique<testing::ChunkServers>(
      dir_ + "/chunk", static_cast<int>(kChunkZones.size()), meta_->AddressList(),
      std::vector<std::string>{"--heartbeat-interval", "500ms", "--scrub-rate", "32MiB"},
      kChunkZones);
  ok_ = true;
  for (int i = 1; i <= chunks_->size(); i++)
    ok_ = chunks_->WaitRegistered(i) && ok_;
}

ChaosCluster::~ChaosCluster() {
  for (auto& m : mounts_)
    if (m->mounted()) m->Unmount(false, 30s);
  mounts_.clear();
  chunks_.reset();
  meta_.reset();
  for (const std::string& path : tmpfs_)
    ::umount2(path.c_str(), MNT_DETACH);
}

bool ChaosCluster::MountAll() {
  for (size_t i = 0; i < kMountZones.size(); i++) {
    const bool history = static_cast<int>(i) >= kWorkloadMounts;
    std::string path = dir_ + "/mnt" + std::to_string(i + 1);
    fs::create_directories(path);
    auto m = std::make_unique<testing::Mount>(path, path + ".log");
    std::string options = "allow_other,foreground,zone=" + kMountZones[i];
    if (history) options += ",attr_timeout=0,entry_timeout=0";
    if (!m->Start(
            {testing::BinDir() + "/dfs-mount", "--meta", MetaAddresses(), path, "-o", options},
            60s)) {
      return false;
    }
    mounts_.push_back(std::move(m));
  }
  return true;
}

std::vector<Server> ChaosCluster::Servers() const {
  std::vector<Server> out;
  for (const auto& [id, address] : meta_->addresses())
    out.push_back({true, static_cast<int>(id), "z" + std::to_string(id)});
  for (int i = 1; i <= chunks_->size(); i++)
    out.push_back({false, i, chunks_->zone(i)});
  return out;
}

std::vector<Server> ChaosCluster::ZoneServers(const std::string& zone) const {
  std::vector<Server> out;
  for (const Server& s : Servers())
    if (s.zone == zone) out.push_back(s);
  return out;
}

void ChaosCluster::Kill(const Server& s) {
  if (s.meta) {
    meta_->Kill(s.index);
  } else {
    chunks_->Kill(s.index);
  }
}

bool ChaosCluster::Start(const Server& s) {
  return s.meta ? meta_->Start(s.index) : chunks_->Start(s.index);
}

pid_t ChaosCluster::Pid(const Server& s) const {
  return s.meta ? meta_->pid(s.index) : chunks_->pid(s.index);
}

bool ChaosCluster::Alive(const Server& s) const {
  return ProcessAlive(Pid(s));
}

std::string ChaosCluster::LogPath(const Server& s) const {
  if (s.meta) return meta_->dir() + "/dfs-meta" + std::to_string(s.index) + ".log";
  return chunks_->data_dir(s.index) + ".log";
}

Server ChaosCluster::Leader() const {
  uint64_t id = testing::MetaLeader(*meta_);
  return {true, static_cast<int>(id), "z" + std::to_string(id)};
}

std::string ChaosCluster::MetaAddresses() const {
  std::string out;
  for (const std::string& a : meta_->AddressList())
    out += (out.empty() ? "" : ",") + a;
  return out;
}

bool ChaosCluster::Recovered(std::string* why) const {
  uint64_t leader = testing::MetaLeader(*meta_);
  if (leader == 0) {
    *why = "no meta leader";
    return false;
  }
  auto stub = pb::AdminService::NewStub(
      grpc::CreateChannel(meta_->addresses().at(leader), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  pb::StatusReply st;
  grpc::Status s = stub->Status(&ctx, pb::StatusRequest(), &st);
  if (!s.ok() || st.error().code() != 0) {
    *why = "Status: " + (s.ok() ? st.error().message() : s.error_message());
    return false;
  }
  std::ostringstream o;
  if (st.repair_waiting()) o << " leader settling;";
  for (const pb::MetaMember& m : st.members())
    if (m.role() != "leader" && m.role() != "follower")
      o << " meta " << m.id() << " " << m.role() << ";";
  for (const pb::NodeInfo& n : st.nodes())
    if (n.state() != "active") o << " node " << n.node_id() << " " << n.state() << ";";
  if (st.chunks_under_replicated())
    o << " " << st.chunks_under_replicated() << " under-replicated;";
  if (st.chunks_lost()) o << " " << st.chunks_lost() << " lost;";
  if (st.chunks_zone_degraded()) o << " " << st.chunks_zone_degraded() << " zone-degraded;";
  if (st.repair_running()) o << " " << st.repair_running() << " repairs running;";
  *why = o.str();
  return why->empty();
}

int ChaosCluster::DfsAdmin(const std::vector<std::string>& args, std::string* output) const {
  static std::atomic<int> counter{0};
  std::string log = dir_ + "/dfsadmin.tmp" + std::to_string(counter++);
  std::vector<std::string> argv = {testing::BinDir() + "/dfsadmin", "--meta", MetaAddresses()};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ToolRun run = testing::RunTool(argv, log);
  fs::remove(log);
  if (output) *output = run.output;
  return run.exit_code;
}

}  // namespace dfs::chaos
