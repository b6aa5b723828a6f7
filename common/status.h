// Status: how every dfs function reports success or failure.
//
// Errors are values. A function that can fail returns a Status (or a
// Result<T>, see common/result.h); callers check it and carry it upward with
// context, never as an exception.
//
// Every error in the system has one stable numbered ErrorCode from the table
// below. The number is what travels on the wire (proto dfs.pb.Error.code), so
// a code, once released, keeps its number forever: add new codes at the end of
// their group, never renumber or reuse one. The same table maps each code once
// to errno (what the mount returns to applications), once to a gRPC status
// code, and says whether the caller may retry.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace dfs {

// The error table. Columns:
//   NAME        enumerator and ErrorCodeName() text; also the proto/log spelling
//   Factory     name of the Status factory, e.g. Status::NotFound("...")
//   number      stable wire number; groups: 1-99 generic, 100-199 namespace,
//               200-299 cluster and Raft, 300-399 storage
//   errno       what the mount returns for it (ToErrno)
//   retryable   true if sending the same request again, possibly to another
//               server, may succeed (IsRetryable). Mutations are safe to
//               retry because sessions make them exactly-once.
//   grpc        gRPC status code number (grpc::StatusCode), see ToGrpcCode
//   from_errno  true for the one code FromErrno picks for this errno when
//               several codes share it
//
// Why EIO for UNAVAILABLE and NOT_LEADER: the mount retries retryable codes
// itself (hard-mount semantics, bounded by meta_timeout), so one reaching an
// application means the cluster stayed unreachable. EIO is the errno every
// application handles, and what an NFS mount reports in the same situation;
// EAGAIN would make a blocking read look like a non-blocking one.
//
// clang-format off
#define DFS_ERROR_CODES(X)                                                                     \
  /* NAME                Factory             number errno         retry  grpc from_errno */    \
  /* 1-99: generic */                                                                          \
  X(UNKNOWN,             Unknown,              1,  EIO,          false, 2,   false)             \
  X(INVALID_ARGUMENT,    InvalidArgument,      2,  EINVAL,       false, 3,   true)              \
  X(NOT_FOUND,           NotFound,             3,  ENOENT,       false, 5,   true)              \
  X(ALREADY_EXISTS,      AlreadyExists,        4,  EEXIST,       false, 6,   true)              \
  X(PERMISSION_DENIED,   PermissionDenied,     5,  EACCES,       false, 7,   true)              \
  X(NOT_PERMITTED,       NotPermitted,         6,  EPERM,        false, 7,   true)              \
  X(NOT_SUPPORTED,       NotSupported,         7,  EOPNOTSUPP,   false, 12,  true)              \
  X(INTERNAL,            Internal,             8,  EIO,          false, 13,  false)             \
  X(TIMEOUT,             Timeout,              9,  ETIMEDOUT,    true,  4,   true)              \
  X(CANCELLED,           Cancelled,           10,  ECANCELED,    false, 1,   true)              \
  X(RESOURCE_EXHAUSTED,  ResourceExhausted,   11,  EAGAIN,       true,  8,   true)              \
  X(UNAUTHENTICATED,     Unauthenticated,     12,  EACCES,       false, 16,  false)             \
  X(INTERRUPTED,         Interrupted,         13,  EINTR,        false, 1,   true)              \
  /* 100-199: namespace (POSIX semantics of files and directories) */                          \
  X(NOT_A_DIRECTORY,     NotADirectory,      100,  ENOTDIR,      false, 9,   true)              \
  X(IS_A_DIRECTORY,      IsADirectory,       101,  EISDIR,       false, 9,   true)              \
  X(NOT_EMPTY,           NotEmpty,           102,  ENOTEMPTY,    false, 9,   true)              \
  X(NAME_TOO_LONG,       NameTooLong,        103,  ENAMETOOLONG, false, 3,   true)              \
  X(NO_SPACE,            NoSpace,            104,  ENOSPC,       false, 8,   true)              \
  X(CROSS_DEVICE,        CrossDevice,        105,  EXDEV,        false, 9,   true)              \
  X(TOO_MANY_LINKS,      TooManyLinks,       106,  EMLINK,       false, 8,   true)              \
  X(NO_DATA,             NoData,             107,  ENODATA,      false, 5,   true)              \
  X(RANGE,               Range,              108,  ERANGE,       false, 11,  true)              \
  X(FILE_TOO_LARGE,      FileTooLarge,       109,  EFBIG,        false, 11,  true)              \
  X(SYMLINK_LOOP,        SymlinkLoop,        110,  ELOOP,        false, 9,   true)              \
  X(STALE_HANDLE,        StaleHandle,        111,  ESTALE,       false, 5,   true)              \
  X(LOCK_CONFLICT,       LockConflict,       112,  EAGAIN,       false, 10,  false)             \
  X(READ_ONLY,           ReadOnly,           113,  EROFS,        false, 9,   true)              \
  /* 200-299: cluster and Raft */                                                              \
  X(UNAVAILABLE,         Unavailable,        200,  EIO,          true,  14,  false)             \
  X(NOT_LEADER,          NotLeader,          201,  EIO,          true,  14,  false)             \
  X(CLUSTER_MISMATCH,    ClusterMismatch,    202,  EIO,          false, 9,   false)             \
  X(STALE_VERSION,       StaleVersion,       203,  EIO,          false, 9,   false)             \
  X(SESSION_EXPIRED,     SessionExpired,     204,  EIO,          false, 9,   false)             \
  /* 300-399: storage */                                                                       \
  X(IO_ERROR,            IoError,            300,  EIO,          false, 13,  true)              \
  X(CORRUPT,             Corrupt,            301,  EIO,          false, 15,  false)             \
  X(CHECKSUM_MISMATCH,   ChecksumMismatch,   302,  EIO,          false, 15,  false)
// clang-format on
//
// Meanings where the name is not enough:
//   UNKNOWN            a code this build does not know (from a newer peer)
//   NOT_PERMITTED      EPERM: forbidden whatever the mode bits (e.g. chown by
//                      a non-owner); PERMISSION_DENIED is EACCES: mode bits
//   NO_DATA            no such extended attribute
//   RANGE              the caller's buffer is too small (xattr, readlink)
//   STALE_HANDLE       the inode behind an open handle no longer exists
//   LOCK_CONFLICT      a non-blocking flock/fcntl lock is held by another
//                      owner; the application decides, so not retryable
//   STALE_VERSION      the chunk version in the request differs from the
//                      replica's: refresh the chunk's replica chain from the
//                      meta leader, then retry with the new version
//   SESSION_EXPIRED    the client's session lease ran out: open a new session
//   INTERRUPTED        a blocking wait (a lock) ended by a signal: EINTR
//   READ_ONLY          a read-only place (the trash directory, a ro mount)
//   CORRUPT            stored data or metadata failed validation; never retry
//                      the same source
//   CHECKSUM_MISMATCH  a block failed its checksum; read another replica

// Stable numbered error codes; see the table above.
enum class ErrorCode : uint32_t {
  OK = 0,
#define DFS_ERROR_CODE_ENUMERATOR_(name, factory, number, err, retry, grpc, from_errno) \
  name = number,
  DFS_ERROR_CODES(DFS_ERROR_CODE_ENUMERATOR_)
#undef DFS_ERROR_CODE_ENUMERATOR_
};

// "NOT_FOUND" for ErrorCode::NOT_FOUND, "OK" for OK, "INVALID_ERROR_CODE" for
// a value outside the table.
const char* ErrorCodeName(ErrorCode code);

// The code with wire number `number`; UNKNOWN if this build has no such code.
ErrorCode ErrorCodeFromNumber(uint32_t number);

// Column lookups for one code; OK is not retryable and maps to 0 / gRPC OK.
bool IsRetryable(ErrorCode code);
int ErrorCodeToErrno(ErrorCode code);
int ErrorCodeToGrpcCode(ErrorCode code);

// The outcome of an operation: OK, or an ErrorCode with a message.
//
// An OK Status is one null pointer: creating, copying, moving and checking an
// OK Status allocates nothing. Marked [[nodiscard]]: ignoring an error is a
// bug; write `.IgnoreError()` where it really is meant.
class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  // An error with `message`. Status(ErrorCode::OK, ...) is OK (the message is
  // dropped), so code from the wire can be passed in unchecked.
  Status(ErrorCode code, std::string message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&& other) noexcept = default;
  Status& operator=(Status&& other) noexcept = default;
  ~Status() = default;

  static Status Ok() { return Status(); }

  // One factory per error code: Status::NotFound("no such entry"), ...
#define DFS_ERROR_CODE_FACTORY_(name, factory, number, err, retry, grpc, from_errno) \
  static Status factory(std::string message = std::string()) {                       \
    return Status(ErrorCode::name, std::move(message));                              \
  }
  DFS_ERROR_CODES(DFS_ERROR_CODE_FACTORY_)
#undef DFS_ERROR_CODE_FACTORY_

  // The Status for a failed system call: the code mapped from `err` (see the
  // table's from_errno column; errnos not in the table map to a close code,
  // or IO_ERROR) and the message "context: strerror(err)". err == 0 is OK.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const {
    return state_ == nullptr;
  }
  ErrorCode code() const {
    return ok() ? ErrorCode::OK : state_->code;
  }
  // Empty for OK.
  const std::string& message() const;

  // "OK", "NOT_FOUND" or "NOT_FOUND: no such entry".
  std::string ToString() const;

  // See the table: whether the same request may succeed if sent again.
  bool IsRetryable() const {
    return dfs::IsRetryable(code());
  }
  // The errno for the mount to return; 0 for OK.
  int ToErrno() const {
    return ErrorCodeToErrno(code());
  }
  // The int value of the matching grpc::StatusCode (gRPC's numbering: 0 OK,
  // 1 CANCELLED, ... 14 UNAVAILABLE, 15 DATA_LOSS, 16 UNAUTHENTICATED). Plain
  // numbers so that common/ does not depend on gRPC's headers.
  int ToGrpcCode() const {
    return ErrorCodeToGrpcCode(code());
  }

  // The same code with message "context: message" (or "context" if the
  // message was empty). An OK Status stays OK.
  Status WithContext(std::string_view context) const&;
  Status WithContext(std::string_view context) &&;

  // Explicitly drops the Status where an error really does not matter.
  void IgnoreError() const {}

  // Same code and same message.
  friend bool operator==(const Status& a, const Status& b);

 private:
  struct State {
    ErrorCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;  // null means OK
};

// Prints ToString().
std::ostream& operator<<(std::ostream& out, const Status& status);
// Prints ErrorCodeName().
std::ostream& operator<<(std::ostream& out, ErrorCode code);

}  // namespace dfs
