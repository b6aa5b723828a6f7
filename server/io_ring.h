// Disk I/O of the chunk store through io_uring (liburing).
//
// Each calling thread gets its own ring on first use (thread_local), so
// threads never share a submission queue and need no lock. A call submits
// one request and waits for its completion; short transfers are continued
// and EINTR/EAGAIN retried, so a call either moves every byte it was asked
// to or fails. Where io_uring cannot be set up (old kernel, disabled by
// sysctl or seccomp) the same calls fall back to plain system calls, with
// one warning in the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace dfs::server {

// Reads up to `len` bytes at `offset` into `buf`. Returns the bytes read,
// fewer than `len` only when the file ends first.
Result<size_t> RingRead(int fd, void* buf, size_t len, uint64_t offset);

// Writes every byte of `pieces`, one after the other, from `offset` (one
// vectored write, so the pieces need not be contiguous in memory).
Status RingWrite(int fd, std::span<const std::span<const uint8_t>> pieces, uint64_t offset);

// fdatasync(fd): the file's data and the metadata needed to read it back.
Status RingDatasync(int fd);

// fsync(fd); for directories, whose entries fdatasync may not cover.
Status RingFsync(int fd);

}  // namespace dfs::server
