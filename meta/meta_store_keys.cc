#include "meta/meta_store_keys.h"

namespace dfs::meta::keys {

std::string BigEndian(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++)
    out[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
  return out;
}

uint64_t DecodeBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string LittleEndian(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

uint64_t DecodeLittleEndian(std::string_view in) {
  if (in.size() != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return v;
}

std::string Named(uint64_t id, std::string_view name) {
  std::string out = BigEndian(id);
  out.append(name);
  return out;
}

std::string Chunk(uint64_t inode, uint64_t index) {
  return BigEndian(inode) + BigEndian(index);
}

std::string GarbageReplica(uint64_t node_id, uint64_t chunk_id) {
  return BigEndian(node_id) + BigEndian(chunk_id);
}

}  // namespace dfs::meta::keys
