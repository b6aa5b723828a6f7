#include "server/node_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dfs::server {
namespace {

constexpr const char* kFileName = "IDENTITY";

Result<NodeIdentity> Parse(const std::string& path, const std::string& text) {
  NodeIdentity id;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) return Status::Corrupt(path + ": malformed line '" + line + "'");
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    try {
      if (key == "cluster_id") {
        id.cluster_id = value;
      } else if (key == "node_id") {
        id.node_id = std::stoull(value);
      } else if (key == "chunk_size") {
        id.chunk_size = std::stoull(value);
      } else {
        return Status::Corrupt(path + ": unknown key '" + key + "'");
      }
    } catch (const std::exception&) {
      return Status::Corrupt(path + ": bad number in '" + line + "'");
    }
  }
  if (id.cluster_id.empty() || id.node_id == 0 || id.chunk_size == 0) {
    return Status::Corrupt(path + ": cluster_id, node_id and chunk_size are all required");
  }
  return id;
}

bool Same(const NodeIdentity& a, const NodeIdentity& b) {
  return a.cluster_id == b.cluster_id && a.node_id == b.node_id && a.chunk_size == b.chunk_size;
}

Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IoError("open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("fsync " + path + ": " + std::strerror(err));
  return Status::Ok();
}

}  // namespace

Result<NodeIdentity> LoadNodeIdentity(const std::vector<std::string>& dirs) {
  NodeIdentity found;
  std::string found_in;
  for (const std::string& dir : dirs) {
    std::string path = dir + "/" + kFileName;
    std::ifstream in(path);
    if (!in) {
      if (std::filesystem::exists(path)) return Status::IoError("cannot read " + path);
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    ASSIGN_OR_RETURN(NodeIdentity id, Parse(path, text.str()));
    if (found_in.empty()) {
      found = id;
      found_in = dir;
    } else if (!Same(found, id)) {
      return Status::Corrupt("data directories " + found_in + " and " + dir +
                             " belong to different nodes or clusters");
    }
  }
  return found;
}

Status SaveNodeIdentity(const std::vector<std::string>& dirs, const NodeIdentity& identity) {
  for (const std::string& dir : dirs) {
    std::string path = dir + "/" + kFileName;
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "# dfs-chunkserver identity: do not edit, do not copy to another server\n"
          << "cluster_id=" << identity.cluster_id << "\n"
          << "node_id=" << identity.node_id << "\n"
          << "chunk_size=" << identity.chunk_size << "\n";
      if (!out.flush()) return Status::IoError("cannot write " + tmp);
    }
    RETURN_IF_ERROR(FsyncPath(tmp, O_RDONLY));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return Status::IoError("rename " + tmp + ": " + std::strerror(errno));
    }
    RETURN_IF_ERROR(FsyncPath(dir, O_RDONLY | O_DIRECTORY));
  }
  return Status::Ok();
}

}  // namespace dfs::server
