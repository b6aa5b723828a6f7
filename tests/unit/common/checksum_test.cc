#include "common/checksum.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dfs {
namespace {

// The xorshift test buffer behind the published XXH3-64 vectors below (the
// same vectors LLVM's xxhash unit test checks), long enough to reach the SIMD
// long-input path and its block boundaries.
std::vector<uint8_t> XorshiftBuffer(size_t size) {
  std::vector<uint8_t> buffer(size);
  uint64_t x = 1;
  for (uint8_t& byte : buffer) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    byte = static_cast<uint8_t>(x);
  }
  return buffer;
}

std::vector<uint8_t> RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(size);
  for (uint8_t& byte : data)
    byte = static_cast<uint8_t>(rng());
  return data;
}

TEST_CASE("BlockChecksum is XXH3-64 with seed 0", "[checksum]") {
  CHECK(BlockChecksum("", 0) == 0x2D06800538D394C2ull);
  CHECK(BlockChecksum("a", 1) == 0xE6C632B61E964E1Full);

  const std::vector<uint8_t> buffer = XorshiftBuffer(2243);
  const std::pair<size_t, uint64_t> vectors[] = {
      {0, 0x2d06800538d394c2},    {1, 0xd0d496e05c553485},    {16, 0x7e46916754d7c9b8},
      {17, 0xed4be912ba5f836d},   {129, 0xbc7138129bf065da},  {403, 0xcefeb3ffa532ad8c},
      {512, 0xcdfa6b6268e3650f},  {2048, 0x330ce110cbb79eae}, {2049, 0x3ba6afa0249fef9a},
      {2240, 0xd61d4d2a94e926a8}, {2243, 0x0979f786a24edde7},
  };
  for (const auto& [len, expected] : vectors) {
    INFO("length " << len);
    CHECK(BlockChecksum(buffer.data(), len) == expected);
  }
}

TEST_CASE("BlockChecksums splits into blocks, the last one short", "[checksum]") {
  CHECK(kBlockSize == 65536);
  const std::vector<uint8_t> data = RandomBytes(2 * kBlockSize + 1000, 1);

  std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  REQUIRE(sums.size() == 3);
  CHECK(sums[0] == BlockChecksum(data.data(), kBlockSize));
  CHECK(sums[1] == BlockChecksum(data.data() + kBlockSize, kBlockSize));
  CHECK(sums[2] == BlockChecksum(data.data() + 2 * kBlockSize, 1000));
  CHECK(sums[0] != sums[1]);

  CHECK(BlockChecksums(data.data(), 2 * kBlockSize).size() == 2);
  CHECK(BlockChecksums(data.data(), 1).size() == 1);
  CHECK(BlockChecksums(data.data(), 0).empty());

  std::vector<uint64_t> small = BlockChecksums(data.data(), 10000, 4096);
  REQUIRE(small.size() == 3);
  CHECK(small[2] == BlockChecksum(data.data() + 8192, 10000 - 8192));
}

TEST_CASE("VerifyBlocks accepts intact data", "[checksum]") {
  const std::vector<uint8_t> data = RandomBytes(3 * kBlockSize + 17, 2);
  const std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  CHECK(VerifyBlocks(data.data(), data.size(), sums.data(), sums.size()).ok());
  CHECK(VerifyBlocks(nullptr, 0, nullptr, 0).ok());
}

TEST_CASE("VerifyBlocks names the corrupted block", "[checksum]") {
  std::vector<uint8_t> data = RandomBytes(4 * kBlockSize, 3);
  const std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  data[2 * kBlockSize + 12345] ^= 0x01;  // one flipped bit in block 2

  Status status = VerifyBlocks(data.data(), data.size(), sums.data(), sums.size());
  CHECK(status.code() == ErrorCode::CHECKSUM_MISMATCH);
  CHECK_FALSE(status.IsRetryable());
  CHECK_THAT(status.message(), Catch::StartsWith("block 2 at offset 131072: checksum 0x"));
  CHECK_THAT(status.message(), Catch::Contains("expected 0x"));

  // The caller's block numbering: this buffer starts at block 10 of its chunk.
  Status in_chunk = VerifyBlocks(data.data(), data.size(), sums.data(), sums.size(), 10);
  CHECK_THAT(in_chunk.message(), Catch::StartsWith("block 12 at offset 786432:"));
}

TEST_CASE("VerifyBlocks checks the short last block and the count", "[checksum]") {
  std::vector<uint8_t> data = RandomBytes(kBlockSize + 10, 4);
  const std::vector<uint64_t> sums = BlockChecksums(data.data(), data.size());
  data.back() ^= 0x80;
  CHECK_THAT(VerifyBlocks(data.data(), data.size(), sums.data(), sums.size()).message(),
             Catch::StartsWith("block 1 "));

  Status count = VerifyBlocks(data.data(), data.size(), sums.data(), 1);
  CHECK(count.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK_THAT(count.message(), Catch::Contains("2 blocks"));
}

TEST_CASE("BlockHasher over pieces equals BlockChecksums over the whole", "[checksum]") {
  const std::vector<uint8_t> data = RandomBytes(5 * kBlockSize + 4321, 5);
  const std::vector<uint64_t> expected = BlockChecksums(data.data(), data.size());

  std::mt19937 rng(6);
  for (int round = 0; round < 4; ++round) {
    BlockHasher hasher;
    size_t offset = 0;
    while (offset < data.size()) {
      // Pieces from 1 byte to 1.5 blocks, crossing boundaries at random.
      size_t piece = std::min<size_t>(data.size() - offset, 1 + rng() % (kBlockSize * 3 / 2));
      hasher.Update(data.data() + offset, piece);
      offset += piece;
      CHECK(hasher.sums().size() == offset / kBlockSize);
    }
    CHECK(hasher.Finish() == expected);
    CHECK(hasher.sums().empty());
  }

  // Reusable after Finish, and exact multiples leave no empty last block.
  BlockHasher hasher(4096);
  hasher.Update(data.data(), 8192);
  CHECK(hasher.Finish() == BlockChecksums(data.data(), 8192, 4096));
  hasher.Update(data.data(), 100);
  CHECK(hasher.Finish() == BlockChecksums(data.data(), 100, 4096));
  CHECK(hasher.Finish().empty());
}

}  // namespace
}  // namespace dfs
