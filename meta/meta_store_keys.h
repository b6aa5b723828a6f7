// The RocksDB layout of MetaStore: column family names and key encodings.
// The byte-by-byte format is in docs/meta.md ("Storage"); change both
// together.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dfs::meta::keys {

// Column families, in the order MetaStore opens them (default first).
inline constexpr const char* kFamilies[] = {"default",   "inodes",          "dentries", "chunks",
                                            "xattrs",    "nodes",           "sessions", "garbage",
                                            "chunk_ids", "garbage_by_node", "locks",    "trash"};
inline constexpr size_t kFamilyCount = sizeof(kFamilies) / sizeof(kFamilies[0]);

// Keys of the default column family.
inline constexpr char kAppliedIndex[] = "applied_index";
inline constexpr char kFormat[] = "format";
inline constexpr char kNextInode[] = "next_inode";
inline constexpr char kNextChunkId[] = "next_chunk_id";
inline constexpr char kNextNodeId[] = "next_node_id";
inline constexpr char kInodeCount[] = "inode_count";
inline constexpr char kLayoutVersion[] = "layout_version";
// The trash (docs/meta.md, "Trash"): the next trash id, and the entries
// and bytes it holds, so that status and metrics need no scan.
inline constexpr char kNextTrashId[] = "next_trash_id";
inline constexpr char kTrashEntries[] = "trash_entries";
inline constexpr char kTrashBytes[] = "trash_bytes";

// The layout a formatted state has (kLayoutVersion, 8 bytes LE; absent is
// 0). 1: the chunk_ids and garbage_by_node indexes exist. Opening an older
// state builds what it lacks.
inline constexpr uint64_t kCurrentLayout = 1;

// 8 bytes big-endian: RocksDB's byte order is then numeric order.
std::string BigEndian(uint64_t v);
// REQUIRES: in.size() >= 8; reads the first 8 bytes.
uint64_t DecodeBigEndian(std::string_view in);

// 8 bytes little-endian: the counters and the applied index.
std::string LittleEndian(uint64_t v);
// 0 unless in.size() == 8.
uint64_t DecodeLittleEndian(std::string_view in);

// inodes: inode. nodes: node id. sessions: session id. garbage and
// chunk_ids: chunk id. trash: trash id.
inline std::string Id(uint64_t id) {
  return BigEndian(id);
}
// dentries: parent + name; xattrs: inode + name.
std::string Named(uint64_t id, std::string_view name);
// chunks: inode + chunk index. chunk_ids values: the same 16 bytes.
std::string Chunk(uint64_t inode, uint64_t index);
// garbage_by_node: node id + chunk id.
std::string GarbageReplica(uint64_t node_id, uint64_t chunk_id);

}  // namespace dfs::meta::keys
