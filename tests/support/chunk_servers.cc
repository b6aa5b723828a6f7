#include "tests/support/chunk_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace dfs::testing {

namespace fs = std::filesystem;

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

// True when something accepts TCP connections at host:port.
bool Listening(const std::string& address) {
  size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  close(fd);
  return ok;
}

}  // namespace

ChunkServers::ChunkServers(std::string dir, int n, std::vector<std::string> meta,
                           std::vector<std::string> extra_args, std::vector<std::string> zones)
    : dir_(std::move(dir)), meta_(std::move(meta)), extra_args_(std::move(extra_args)) {
  fs::create_directories(dir_);
  for (int i = 1; i <= n; i++) {
    addresses_[i] = "127.0.0.1:" + std::to_string(FreePort());
    zones_[i] = i <= static_cast<int>(zones.size()) ? zones[i - 1] : "z" + std::to_string(i);
  }
  for (int i = 1; i <= n; i++)
    Start(i);
}

int ChunkServers::Add(const std::string& zone) {
  int i = static_cast<int>(addresses_.size()) + 1;
  addresses_[i] = "127.0.0.1:" + std::to_string(FreePort());
  zones_[i] = zone;
  Start(i);
  return i;
}

ChunkServers::~ChunkServers() {
  procs_.clear();
}

std::string ChunkServers::data_dir(int i) const {
  return dir_ + "/chunk" + std::to_string(i);
}

std::string ChunkServers::ReplicaFile(int i, uint64_t chunk_id) const {
  char name[20];
  std::snprintf(name, sizeof(name), "%016llx", static_cast<unsigned long long>(chunk_id));
  for (const auto& e : fs::recursive_directory_iterator(data_dir(i)))
    if (e.is_regular_file() && e.path().filename() == name) return e.path().string();
  return "";
}

bool ChunkServers::Start(int i) {
  auto& p = procs_[i];
  p = std::make_unique<Process>();
  std::vector<std::string> argv = {BinDir() + "/dfs-chunkserver",
                                   "--listen",
                                   addresses_.at(i),
                                   "--zone",
                                   zones_.at(i),
                                   "--data-dir",
                                   data_dir(i),
                                   "--meta",
                                   Join(meta_)};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  return p->Start(argv, data_dir(i) + ".log");
}

void ChunkServers::Kill(int i) {
  auto it = procs_.find(i);
  if (it != procs_.end()) it->second->Kill();
}

bool ChunkServers::running(int i) const {
  auto it = procs_.find(i);
  return it != procs_.end() && it->second->running();
}

pid_t ChunkServers::pid(int i) const {
  auto it = procs_.find(i);
  return it != procs_.end() ? it->second->pid() : -1;
}

bool ChunkServers::WaitRegistered(int i, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  const std::string path = data_dir(i) + "/IDENTITY";
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(path);
    std::string line, cluster;
    uint64_t node = 0;
    while (in && std::getline(in, line)) {
      if (line.rfind("cluster_id=", 0) == 0) cluster = line.substr(11);
      if (line.rfind("node_id=", 0) == 0) node = std::stoull(line.substr(8));
    }
    // The identity is written at registration, before the server listens.
    if (node != 0 && !cluster.empty() && Listening(addresses_.at(i))) {
      node_ids_[i] = node;
      cluster_id_ = cluster;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

pb::ChunkReplica ChunkServers::Replica(int i) const {
  pb::ChunkReplica r;
  r.set_node_id(node_ids_.at(i));
  r.set_address(addresses_.at(i));
  r.set_zone(zones_.at(i));
  return r;
}

}  // namespace dfs::testing
