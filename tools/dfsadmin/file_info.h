// What `dfsadmin file` and `dfsadmin fsck PATH` learn about a path in the
// file system: its inode, found by walking the namespace from the root as
// the mount would, and for `file` its attributes and every chunk with its
// replicas, from the MetaService (client/meta_client.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/meta_client.h"
#include "common/result.h"
#include "proto/meta.pb.h"

namespace dfs::admin {

// A file's metadata as the leader holds it.
struct FileInfo {
  std::string path;
  pb::InodeAttr attr;
  uint64_t chunk_size = 0;                // 0 when not asked (not a regular file)
  std::vector<pb::ChunkLocation> chunks;  // by index; holes are absent
};

// The attributes of `path`, an absolute path inside the file system
// ("/photos/a.jpg", "/" the root), found with one Lookup per component
// from the root inode. Symbolic links are not followed. Errors:
// INVALID_ARGUMENT for a relative path or a "." / ".." component,
// NOT_FOUND / NOT_A_DIRECTORY naming the component, or the MetaClient's.
Result<pb::InodeAttr> ResolvePath(client::MetaClient& meta, const std::string& path);

// ResolvePath, then for a regular file every chunk of its current size.
Result<FileInfo> DescribeFile(client::MetaClient& meta, const std::string& path);

}  // namespace dfs::admin
