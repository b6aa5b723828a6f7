#include "tools/dfsadmin/file_info.h"

namespace dfs::admin {

namespace {

constexpr uint64_t kRootInode = 1;
// The MetaService answers at most 1024 chunks per GetChunks.
constexpr uint64_t kChunksPerCall = 1024;

}  // namespace

Result<pb::InodeAttr> ResolvePath(client::MetaClient& meta, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("\"" + path +
                                   "\" is not an absolute path inside the file system "
                                   "(start it at the file system's root: /dir/file)");
  }
  ASSIGN_OR_RETURN(pb::InodeAttr attr, meta.GetAttr(kRootInode), "reading the root");
  std::string walked;
  size_t start = 1;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string name = path.substr(start, slash - start);
    start = slash + 1;
    if (name.empty()) continue;  // "//" or a trailing "/"
    if (name == "." || name == "..") {
      return Status::InvalidArgument("\"" + path + "\": write the path without . or ..");
    }
    if (attr.type() != pb::FILE_TYPE_DIRECTORY) {
      return Status::NotADirectory((walked.empty() ? "/" : walked) + " is not a directory");
    }
    walked += "/" + name;
    ASSIGN_OR_RETURN(attr, meta.Lookup(attr.inode(), name), "looking up " << walked);
  }
  return attr;
}

Result<FileInfo> DescribeFile(client::MetaClient& meta, const std::string& path) {
  FileInfo info;
  info.path = path;
  ASSIGN_OR_RETURN(info.attr, ResolvePath(meta, path));
  if (info.attr.type() != pb::FILE_TYPE_REGULAR) return info;
  uint64_t count = 0;  // chunks the size spans, known after the first reply
  for (uint64_t first = 0; first == 0 || first < count; first += kChunksPerCall) {
    ASSIGN_OR_RETURN(pb::GetChunksReply reply,
                     meta.GetChunks(info.attr.inode(), first, kChunksPerCall),
                     "reading the chunks of " << path);
    if (first == 0) {
      info.chunk_size = reply.chunk_size();
      if (info.chunk_size == 0) return Status::Internal("the leader reports chunk size 0");
      count = (info.attr.size() + info.chunk_size - 1) / info.chunk_size;
    }
    for (pb::ChunkLocation& c : *reply.mutable_chunks())
      info.chunks.push_back(std::move(c));
  }
  return info;
}

}  // namespace dfs::admin
