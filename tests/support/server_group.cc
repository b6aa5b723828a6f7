#include "tests/support/server_group.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace dfs::testing {

namespace fs = std::filesystem;

ServerGroup::ServerGroup(std::string binary, int founders, std::vector<std::string> extra_args,
                         std::string dir)
    : binary_(std::move(binary)), extra_args_(std::move(extra_args)), owns_dir_(dir.empty()) {
  if (owns_dir_) {
    static int counter = 0;
    dir = (fs::temp_directory_path() /
           (binary_ + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
              .string();
    fs::remove_all(dir);
  }
  dir_ = dir;
  fs::create_directories(dir_);
  for (int id = 1; id <= founders; id++) {
    addresses_[id] = "127.0.0.1:" + std::to_string(FreePort());
    peers_ += (peers_.empty() ? "" : ",") + std::to_string(id) + "=" + addresses_[id];
  }
  for (int id = 1; id <= founders; id++)
    Start(id);
}

ServerGroup::~ServerGroup() {
  procs_.clear();
  if (owns_dir_ && !std::getenv("KEEP_TEST_DIR")) fs::remove_all(dir_);
}

bool ServerGroup::Start(uint64_t id) {
  auto& p = procs_[id];
  p = std::make_unique<Process>();
  std::string data = dir_ + "/" + binary_ + std::to_string(id);
  std::vector<std::string> argv = {BinDir() + "/" + binary_,
                                   "--id",
                                   std::to_string(id),
                                   "--listen",
                                   addresses_.at(id),
                                   "--peers",
                                   peers_,
                                   "--data-dir",
                                   data};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  return p->Start(argv, data + ".log");
}

void ServerGroup::Kill(uint64_t id) {
  auto it = procs_.find(id);
  if (it != procs_.end()) it->second->Kill();
}

bool ServerGroup::running(uint64_t id) const {
  auto it = procs_.find(id);
  return it != procs_.end() && it->second->running();
}

pid_t ServerGroup::pid(uint64_t id) const {
  auto it = procs_.find(id);
  return it != procs_.end() ? it->second->pid() : -1;
}

std::string ServerGroup::StartJoiner(uint64_t id) {
  addresses_[id] = "127.0.0.1:" + std::to_string(FreePort());
  Start(id);
  return addresses_[id];
}

std::vector<std::string> ServerGroup::AddressList() const {
  std::vector<std::string> out;
  for (const auto& [id, address] : addresses_)
    out.push_back(address);
  return out;
}

}  // namespace dfs::testing
