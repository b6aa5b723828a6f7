#include "server/io_ring.h"

#include <errno.h>
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/logging.h"

namespace dfs::server {
namespace {

// Requests in flight per ring: always one, but a little room costs nothing.
constexpr unsigned kRingEntries = 8;

// One thread's ring. Run() submits one request and waits for it; the
// request's buffers belong to the caller and stay valid until Run returns.
class Ring {
 public:
  Ring() {
    const int err = io_uring_queue_init(kRingEntries, &ring_, 0);
    ready_ = err == 0;
    static std::atomic<bool> warned{false};
    if (!ready_ && !warned.exchange(true)) {
      DFS_LOG(WARN) << "io_uring unavailable (" << std::strerror(-err)
                    << "); chunk store I/O falls back to system calls";
    }
  }
  ~Ring() {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool ready() const { return ready_; }

  // Prepares one SQE with `prep`, submits it and returns its CQE's result:
  // bytes moved, or -errno.
  template <class Prep>
  int Run(Prep&& prep) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    DFS_CHECK(sqe != nullptr) << "io_uring submission queue full with nothing in flight";
    prep(sqe);
    int submitted;
    do {
      submitted = io_uring_submit(&ring_);
    } while (submitted == -EINTR || submitted == -EAGAIN);
    if (submitted < 0) return submitted;
    DFS_CHECK_EQ(submitted, 1);
    io_uring_cqe* cqe = nullptr;
    int err;
    do {
      err = io_uring_wait_cqe(&ring_, &cqe);
    } while (err == -EINTR || err == -EAGAIN);
    // The request still points at the caller's buffers: it cannot be
    // abandoned, and a ring that cannot wait is broken beyond repair.
    DFS_CHECK_EQ(err, 0) << "io_uring_wait_cqe: " << std::strerror(-err);
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }

 private:
  io_uring ring_{};
  bool ready_ = false;
};

Ring& ThreadRing() {
  thread_local Ring ring;
  return ring;
}

int SyscallResult(ssize_t n) {
  return n < 0 ? -errno : static_cast<int>(n);
}

int ReadOnce(int fd, void* buf, size_t len, uint64_t offset) {
  Ring& ring = ThreadRing();
  if (!ring.ready()) return SyscallResult(pread(fd, buf, len, static_cast<off_t>(offset)));
  return ring.Run([&](io_uring_sqe* sqe) {
    io_uring_prep_read(sqe, fd, buf, static_cast<unsigned>(len), offset);
  });
}

int WriteOnce(int fd, const iovec* iov, int count, uint64_t offset) {
  Ring& ring = ThreadRing();
  if (!ring.ready()) return SyscallResult(pwritev(fd, iov, count, static_cast<off_t>(offset)));
  return ring.Run([&](io_uring_sqe* sqe) { io_uring_prep_writev(sqe, fd, iov, count, offset); });
}

int SyncOnce(int fd, bool data_only) {
  Ring& ring = ThreadRing();
  if (!ring.ready()) return SyscallResult(data_only ? fdatasync(fd) : fsync(fd));
  return ring.Run([&](io_uring_sqe* sqe) {
    io_uring_prep_fsync(sqe, fd, data_only ? IORING_FSYNC_DATASYNC : 0);
  });
}

bool Retryable(int res) {
  return res == -EINTR || res == -EAGAIN;
}

// One request moves at most this much; larger transfers loop. Keeps the
// byte count inside the int a CQE reports.
constexpr size_t kMaxTransfer = size_t{1} << 30;

Status Sync(int fd, bool data_only) {
  int res;
  do {
    res = SyncOnce(fd, data_only);
  } while (Retryable(res));
  if (res < 0) return Status::FromErrno(-res, data_only ? "fdatasync" : "fsync");
  return Status::Ok();
}

}  // namespace

Result<size_t> RingRead(int fd, void* buf, size_t len, uint64_t offset) {
  auto* bytes = static_cast<uint8_t*>(buf);
  size_t done = 0;
  while (done < len) {
    const size_t want = std::min(len - done, kMaxTransfer);
    const int res = ReadOnce(fd, bytes + done, want, offset + done);
    if (Retryable(res)) continue;
    if (res < 0) {
      return Status::FromErrno(
          -res, "read of " + std::to_string(len) + " bytes at offset " + std::to_string(offset));
    }
    if (res == 0) break;  // end of file
    done += static_cast<size_t>(res);
  }
  return done;
}

Status RingWrite(int fd, std::span<const std::span<const uint8_t>> pieces, uint64_t offset) {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  size_t total = 0;
  for (std::span<const uint8_t> piece : pieces) {
    if (piece.empty()) continue;
    iov.push_back({const_cast<uint8_t*>(piece.data()), piece.size()});
    total += piece.size();
  }
  // Continue after a short write: drop the iovecs written, trim the next.
  size_t first = 0;
  size_t done = 0;
  while (done < total) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const int res = WriteOnce(fd, iov.data() + first, count, offset + done);
    if (Retryable(res)) continue;
    if (res < 0) {
      return Status::FromErrno(
          -res, "write of " + std::to_string(total) + " bytes at offset " + std::to_string(offset));
    }
    if (res == 0) {
      return Status::IoError("write of " + std::to_string(total) + " bytes at offset " +
                             std::to_string(offset) + " made no progress");
    }
    done += static_cast<size_t>(res);
    size_t left = static_cast<size_t>(res);
    while (left > 0 && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

Status RingDatasync(int fd) {
  return Sync(fd, /*data_only=*/true);
}

Status RingFsync(int fd) {
  return Sync(fd, /*data_only=*/false);
}

}  // namespace dfs::server
