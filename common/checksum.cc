#include "common/checksum.h"

#include <xxhash.h>
#if defined(__x86_64__)
// Debian's libxxhash picks the widest SIMD unit (SSE2, AVX2, AVX-512) at run
// time through these entry points; the header maps XXH3_64bits and
// XXH3_64bits_update onto them. Checksumming is on every byte's path.
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "common/check.h"

namespace dfs {
namespace {

size_t BlockCount(size_t len, size_t block_size) {
  return (len + block_size - 1) / block_size;
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, value);
  return buf;
}

}  // namespace

uint64_t BlockChecksum(const void* data, size_t len) {
  return XXH3_64bits(data, len);
}

std::vector<uint64_t> BlockChecksums(const void* data, size_t len, size_t block_size) {
  DFS_CHECK_GT(block_size, 0u);
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::vector<uint64_t> sums;
  sums.reserve(BlockCount(len, block_size));
  for (size_t offset = 0; offset < len; offset += block_size) {
    sums.push_back(BlockChecksum(bytes + offset, std::min(block_size, len - offset)));
  }
  return sums;
}

Status VerifyBlocks(const void* data, size_t len, const uint64_t* sums, size_t count,
                    uint64_t first_block_index, size_t block_size) {
  DFS_CHECK_GT(block_size, 0u);
  const size_t blocks = BlockCount(len, block_size);
  if (count != blocks) {
    return Status::InvalidArgument(std::to_string(count) + " checksums for " + std::to_string(len) +
                                   " bytes, which is " + std::to_string(blocks) + " blocks");
  }
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < blocks; ++i) {
    const size_t offset = i * block_size;
    const uint64_t actual = BlockChecksum(bytes + offset, std::min(block_size, len - offset));
    if (actual != sums[i]) {
      const uint64_t block = first_block_index + i;
      return Status::ChecksumMismatch("block " + std::to_string(block) + " at offset " +
                                      std::to_string(block * block_size) + ": checksum " +
                                      Hex(actual) + ", expected " + Hex(sums[i]));
    }
  }
  return Status::Ok();
}

void BlockHasher::StateDeleter::operator()(XXH3_state_s* state) const {
  XXH3_freeState(state);
}

BlockHasher::BlockHasher(size_t block_size) : block_size_(block_size), state_(XXH3_createState()) {
  DFS_CHECK_GT(block_size_, 0u);
  DFS_CHECK(state_ != nullptr) << "out of memory";
  XXH3_64bits_reset(state_.get());
}

BlockHasher::~BlockHasher() = default;

void BlockHasher::Update(const void* data, size_t len) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (len > 0) {
    // Whole blocks arriving at a block boundary skip the streaming state,
    // which is slower than the one-shot hash.
    if (in_block_ == 0 && len >= block_size_) {
      sums_.push_back(BlockChecksum(bytes, block_size_));
      bytes += block_size_;
      len -= block_size_;
      continue;
    }
    const size_t take = std::min(len, block_size_ - in_block_);
    XXH3_64bits_update(state_.get(), bytes, take);
    in_block_ += take;
    bytes += take;
    len -= take;
    if (in_block_ == block_size_) {
      sums_.push_back(XXH3_64bits_digest(state_.get()));
      XXH3_64bits_reset(state_.get());
      in_block_ = 0;
    }
  }
}

std::vector<uint64_t> BlockHasher::Finish() {
  if (in_block_ > 0) {
    sums_.push_back(XXH3_64bits_digest(state_.get()));
    XXH3_64bits_reset(state_.get());
    in_block_ = 0;
  }
  std::vector<uint64_t> sums;
  sums.swap(sums_);
  return sums;
}

Status FileChecksum(const std::string& path, uint64_t* xxh3, uint64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IoError("cannot open " + path);
  BlockHasher hasher(SIZE_MAX);
  std::vector<char> buf(1 << 20);
  *size = 0;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    hasher.Update(buf.data(), n);
    *size += n;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::IoError("cannot read " + path);
  std::vector<uint64_t> sums = hasher.Finish();
  *xxh3 = sums.empty() ? BlockChecksum(nullptr, 0) : sums.front();
  return Status::Ok();
}

}  // namespace dfs
