// The chunk store's metadata records (server/chunk_store_records.h): the
// bytes docs/chunk_store.md lays down, round trips, and refusal of anything
// else. tests/fuzz/fuzz_chunk_meta.cc does the same with arbitrary bytes.
#include <catch2/catch.hpp>

#include <string>

#include "server/chunk_store_records.h"

namespace dfs::server {
namespace {

TEST_CASE("ChunkStoreRecords: a replica record is the documented 8 + 17 bytes",
          "[chunk_store][records]") {
  const ReplicaInfo info{0x0102030405060708, 3, 0x10000, ReplicaState::kCopying};
  const std::string key = ChunkKey(info.chunk_id);
  const std::string value = EncodeReplica(info);
  CHECK(key == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(value == std::string("\x03\0\0\0\0\0\0\0"
                             "\0\0\x01\0\0\0\0\0"
                             "\x01",
                             17));

  ReplicaInfo back;
  REQUIRE(DecodeReplica(key, value, &back));
  CHECK(back.chunk_id == info.chunk_id);
  CHECK(back.version == info.version);
  CHECK(back.length == info.length);
  CHECK(back.state == info.state);

  CHECK_FALSE(DecodeReplica(key.substr(1), value, &back));
  CHECK_FALSE(DecodeReplica(key, value + "x", &back));
  std::string bad_state = value;
  bad_state[16] = 3;
  CHECK_FALSE(DecodeReplica(key, bad_state, &back));
}

TEST_CASE("ChunkStoreRecords: block checksums round trip and sort inside their chunk",
          "[chunk_store][records]") {
  const std::string key = BlockKey(7, 0xfffffffe);
  const std::string value = EncodeBlockSum(0xdeadbeefcafef00d);
  uint64_t chunk = 0, sum = 0;
  uint32_t block = 0;
  REQUIRE(DecodeBlockSum(key, value, &chunk, &block, &sum));
  CHECK(chunk == 7);
  CHECK(block == 0xfffffffe);
  CHECK(sum == 0xdeadbeefcafef00d);
  CHECK(ChunkKey(7) < key);
  CHECK(key < BlockKey(7, UINT32_MAX));
  CHECK(BlockKey(7, UINT32_MAX) < PastLastBlockKey(7));
  CHECK(PastLastBlockKey(7) < ChunkKey(8));

  CHECK_FALSE(DecodeBlockSum(key + "x", value, &chunk, &block, &sum));
  CHECK_FALSE(DecodeBlockSum(key, value.substr(1), &chunk, &block, &sum));
}

TEST_CASE("ChunkStoreRecords: each intent kind has its own key and value size",
          "[chunk_store][records]") {
  for (const Intent& intent :
       {Intent{Intent::kWrite, 9, 4, 0x1234}, Intent{Intent::kTruncate, 9, 0, 65536},
        Intent{Intent::kRemove, 9, 0, 0}}) {
    INFO("intent " << static_cast<char>(intent.kind));
    const std::string key = IntentKey(intent.kind, intent.chunk_id, intent.block);
    const std::string value = EncodeIntentValue(intent);
    CHECK(key.size() == (intent.kind == Intent::kWrite ? 13u : 9u));
    CHECK(value.size() == (intent.kind == Intent::kRemove ? 0u : 8u));
    Intent back{};
    REQUIRE(DecodeIntent(key, value, &back));
    CHECK(back.kind == intent.kind);
    CHECK(back.chunk_id == intent.chunk_id);
    CHECK(back.block == intent.block);
    CHECK(back.value == intent.value);
    CHECK_FALSE(DecodeIntent(key + "x", value, &back));
    CHECK_FALSE(DecodeIntent(key, value + "x", &back));
  }
  Intent back{};
  CHECK_FALSE(DecodeIntent("", "", &back));
  CHECK_FALSE(DecodeIntent(std::string("x") + ChunkKey(9), "", &back));
}

}  // namespace
}  // namespace dfs::server
