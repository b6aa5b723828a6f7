// Block checksums: the integrity unit of dfs data.
//
// A chunk is checksummed in blocks of kBlockSize bytes, XXH3-64 with seed 0
// per block; the last block of a chunk may be short and is hashed as it is
// (no padding). The client computes the checksums on write, every replica
// stores them next to the data, and every reader verifies them, so no byte is
// served that did not pass its block's checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct XXH3_state_s;  // xxhash's streaming state; kept out of this header

namespace dfs {

// Bytes per checksummed block.
constexpr size_t kBlockSize = 64 * 1024;

// XXH3-64, seed 0, of `len` bytes at `data`.
uint64_t BlockChecksum(const void* data, size_t len);

// The checksum of each consecutive `block_size` piece of [data, data + len);
// the last piece may be short. Empty input has no blocks.
// REQUIRES: block_size > 0.
std::vector<uint64_t> BlockChecksums(const void* data, size_t len, size_t block_size = kBlockSize);

// Checks [data, data + len) against `count` block checksums at `sums`.
// `first_block_index` is the index of the first block within its chunk; it
// only makes messages name the block (and byte offset) a reader knows.
// Returns CHECKSUM_MISMATCH naming the first bad block, or INVALID_ARGUMENT if
// `count` is not the number of blocks in `len` bytes.
Status VerifyBlocks(const void* data, size_t len, const uint64_t* sums, size_t count,
                    uint64_t first_block_index = 0, size_t block_size = kBlockSize);

// XXH3-64, seed 0, of a whole file's contents and its size, read in
// pieces (backups and their manifests).
Status FileChecksum(const std::string& path, uint64_t* xxh3, uint64_t* size);

// Computes block checksums over data that arrives in pieces of any size
// (e.g. network messages), with the same result as BlockChecksums over the
// concatenation. Not thread-safe.
class BlockHasher {
 public:
  // REQUIRES: block_size > 0.
  explicit BlockHasher(size_t block_size = kBlockSize);
  ~BlockHasher();
  BlockHasher(const BlockHasher&) = delete;
  BlockHasher& operator=(const BlockHasher&) = delete;

  // Feeds the next `len` bytes.
  void Update(const void* data, size_t len);

  // The checksums of the blocks completed so far.
  const std::vector<uint64_t>& sums() const { return sums_; }

  // Closes the last, possibly short, block and returns every checksum. The
  // hasher is then empty, ready for a new stream.
  std::vector<uint64_t> Finish();

 private:
  struct StateDeleter {
    void operator()(XXH3_state_s* state) const;
  };

  const size_t block_size_;
  std::unique_ptr<XXH3_state_s, StateDeleter> state_;
  size_t in_block_ = 0;  // bytes of the current block hashed so far
  std::vector<uint64_t> sums_;
};

}  // namespace dfs
