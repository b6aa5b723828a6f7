// Fuzzes the chunk server's on-disk metadata records
// (server/chunk_store_records.h, the RocksDB of each data directory).
//
// Input: byte 0 picks the record kind (replica, block checksum, intent);
// byte 1 is the key's length; the key follows, the rest is the value.
// Asserts, besides no crash or out-of-bounds read:
//   - garbage: a decoder accepts exactly the documented sizes and codes
//     (replica 8 + 17 bytes with state 0-2; block 12 + 8 bytes; intent
//     'w' 13 + 8, 't' 9 + 8, 'd' 9 + 0 bytes) and rejects everything else;
//   - what it accepts is canonical: encode(decode(key, value)) gives back
//     the very same bytes, so no two byte strings mean the same record;
//   - decode(encode(x)) == x, for an x built from the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/chunk_store.h"
#include "server/chunk_store_records.h"

namespace {

using dfs::server::Intent;
using dfs::server::ReplicaInfo;
using dfs::server::ReplicaState;

#define FUZZ_ASSERT(cond)                                                               \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

// Reads fixed-width integers from the input, zeros once it runs out.
class Bytes {
 public:
  explicit Bytes(std::string data) : data_(std::move(data)) {}
  uint64_t Next(int width) {
    uint64_t v = 0;
    for (int i = 0; i < width && pos_ < data_.size(); ++i)
      v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return v;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

void Replica(std::string_view key, std::string_view value) {
  ReplicaInfo info;
  const bool ok = dfs::server::DecodeReplica(key, value, &info);
  const bool expected =
      key.size() == 8 && value.size() == 17 && static_cast<uint8_t>(value[16]) <= 2;
  FUZZ_ASSERT(ok == expected);
  if (ok) {
    FUZZ_ASSERT(dfs::server::ChunkKey(info.chunk_id) == key);
    FUZZ_ASSERT(dfs::server::EncodeReplica(info) == value);
  }

  // The other way round, from a record made of the same bytes.
  Bytes in(std::string(key) + std::string(value));
  ReplicaInfo x;
  x.chunk_id = in.Next(8);
  x.version = in.Next(8);
  x.length = in.Next(8);
  x.state = static_cast<ReplicaState>(in.Next(1) % 3);
  ReplicaInfo y;
  FUZZ_ASSERT(dfs::server::DecodeReplica(dfs::server::ChunkKey(x.chunk_id),
                                         dfs::server::EncodeReplica(x), &y));
  FUZZ_ASSERT(y.chunk_id == x.chunk_id && y.version == x.version && y.length == x.length &&
              y.state == x.state);
}

void BlockSum(std::string_view key, std::string_view value) {
  uint64_t chunk_id = 0, sum = 0;
  uint32_t block = 0;
  const bool ok = dfs::server::DecodeBlockSum(key, value, &chunk_id, &block, &sum);
  FUZZ_ASSERT(ok == (key.size() == 12 && value.size() == 8));
  if (ok) {
    FUZZ_ASSERT(dfs::server::BlockKey(chunk_id, block) == key);
    FUZZ_ASSERT(dfs::server::EncodeBlockSum(sum) == value);
    // Every block key of a chunk sorts before its end-of-range key.
    FUZZ_ASSERT(std::string(key) < dfs::server::PastLastBlockKey(chunk_id));
    FUZZ_ASSERT(dfs::server::ChunkKey(chunk_id) < std::string(key));
  }

  Bytes in(std::string(key) + std::string(value));
  const uint64_t x_chunk = in.Next(8);
  const auto x_block = static_cast<uint32_t>(in.Next(4));
  const uint64_t x_sum = in.Next(8);
  FUZZ_ASSERT(dfs::server::DecodeBlockSum(dfs::server::BlockKey(x_chunk, x_block),
                                          dfs::server::EncodeBlockSum(x_sum), &chunk_id, &block,
                                          &sum));
  FUZZ_ASSERT(chunk_id == x_chunk && block == x_block && sum == x_sum);
}

void IntentRecord(std::string_view key, std::string_view value) {
  Intent intent{};
  const bool ok = dfs::server::DecodeIntent(key, value, &intent);
  bool expected = false;
  if (!key.empty()) {
    switch (key[0]) {
      case 'w':
        expected = key.size() == 13 && value.size() == 8;
        break;
      case 't':
        expected = key.size() == 9 && value.size() == 8;
        break;
      case 'd':
        expected = key.size() == 9 && value.empty();
        break;
    }
  }
  FUZZ_ASSERT(ok == expected);
  if (ok) {
    FUZZ_ASSERT(dfs::server::IntentKey(intent.kind, intent.chunk_id, intent.block) == key);
    FUZZ_ASSERT(dfs::server::EncodeIntentValue(intent) == value);
  }

  Bytes in(std::string(key) + std::string(value));
  constexpr Intent::Kind kKinds[] = {Intent::kWrite, Intent::kTruncate, Intent::kRemove};
  Intent x{};
  x.kind = kKinds[in.Next(1) % 3];
  x.chunk_id = in.Next(8);
  if (x.kind == Intent::kWrite) x.block = static_cast<uint32_t>(in.Next(4));
  if (x.kind != Intent::kRemove) x.value = in.Next(8);
  Intent y{};
  FUZZ_ASSERT(dfs::server::DecodeIntent(dfs::server::IntentKey(x.kind, x.chunk_id, x.block),
                                        dfs::server::EncodeIntentValue(x), &y));
  FUZZ_ASSERT(y.kind == x.kind && y.chunk_id == x.chunk_id && y.block == x.block &&
              y.value == x.value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t key_size = data[1] < rest.size() ? data[1] : rest.size();
  // Copies in buffers of their exact size, so that AddressSanitizer sees a
  // read past the end of either (a std::string's short buffer would hide it).
  const std::vector<char> key_bytes(rest.begin(), rest.begin() + key_size);
  const std::vector<char> value_bytes(rest.begin() + key_size, rest.end());
  const std::string_view key(key_bytes.data(), key_bytes.size());
  const std::string_view value(value_bytes.data(), value_bytes.size());
  switch (data[0] % 3) {
    case 0:
      Replica(key, value);
      break;
    case 1:
      BlockSum(key, value);
      break;
    case 2:
      IntentRecord(key, value);
      break;
  }
  return 0;
}
