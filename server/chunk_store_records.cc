#include "server/chunk_store_records.h"

namespace dfs::server {
namespace {

constexpr size_t kReplicaValueSize = 17;
constexpr size_t kBlockKeySize = 12;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (char c : in)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

void PutLittleEndian64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

std::string ChunkKey(uint64_t chunk_id) {
  std::string key;
  PutBigEndian(&key, chunk_id, 8);
  return key;
}

std::string BlockKey(uint64_t chunk_id, uint32_t block) {
  std::string key = ChunkKey(chunk_id);
  PutBigEndian(&key, block, 4);
  return key;
}

std::string PastLastBlockKey(uint64_t chunk_id) {
  std::string key = BlockKey(chunk_id, UINT32_MAX);
  key.push_back('\0');
  return key;
}

std::string IntentKey(Intent::Kind kind, uint64_t chunk_id, uint32_t block) {
  std::string key(1, static_cast<char>(kind));
  PutBigEndian(&key, chunk_id, 8);
  if (kind == Intent::kWrite) PutBigEndian(&key, block, 4);
  return key;
}

std::string EncodeBlockSum(uint64_t sum) {
  std::string value;
  PutLittleEndian64(&value, sum);
  return value;
}

bool DecodeBlockSum(std::string_view key, std::string_view value, uint64_t* chunk_id,
                    uint32_t* block, uint64_t* sum) {
  if (key.size() != kBlockKeySize || value.size() != 8) return false;
  *chunk_id = GetBigEndian(key.substr(0, 8));
  *block = static_cast<uint32_t>(GetBigEndian(key.substr(8, 4)));
  *sum = GetLittleEndian64(value);
  return true;
}

std::string EncodeIntentValue(const Intent& intent) {
  return intent.kind == Intent::kRemove ? "" : EncodeBlockSum(intent.value);
}

std::string EncodeReplica(const ReplicaInfo& info) {
  std::string value;
  PutLittleEndian64(&value, info.version);
  PutLittleEndian64(&value, info.length);
  value.push_back(static_cast<char>(info.state));
  return value;
}

bool DecodeReplica(std::string_view key, std::string_view value, ReplicaInfo* info) {
  if (key.size() != 8 || value.size() != kReplicaValueSize) return false;
  const auto state = static_cast<uint8_t>(value[16]);
  if (state > static_cast<uint8_t>(ReplicaState::kCorrupt)) return false;
  info->chunk_id = GetBigEndian(key);
  info->version = GetLittleEndian64(value.substr(0, 8));
  info->length = GetLittleEndian64(value.substr(8, 8));
  info->state = static_cast<ReplicaState>(state);
  return true;
}

bool DecodeIntent(std::string_view key, std::string_view value, Intent* intent) {
  if (key.empty()) return false;
  switch (key[0]) {
    case Intent::kWrite:
      if (key.size() != 13 || value.size() != 8) return false;
      intent->block = static_cast<uint32_t>(GetBigEndian(key.substr(9, 4)));
      intent->value = GetLittleEndian64(value);
      break;
    case Intent::kTruncate:
      if (key.size() != 9 || value.size() != 8) return false;
      intent->value = GetLittleEndian64(value);
      break;
    case Intent::kRemove:
      if (key.size() != 9 || !value.empty()) return false;
      break;
    default:
      return false;
  }
  intent->kind = static_cast<Intent::Kind>(key[0]);
  intent->chunk_id = GetBigEndian(key.substr(1, 8));
  return true;
}

}  // namespace dfs::server
