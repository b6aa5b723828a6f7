#include "common/status.h"

#include <cerrno>
#include <cstring>
#include <ostream>

namespace dfs {
namespace {

// One row of DFS_ERROR_CODES.
struct CodeInfo {
  ErrorCode code;
  const char* name;
  int err;
  bool retryable;
  int grpc;
  bool from_errno;
};

#define DFS_ERROR_CODE_INFO_(name, factory, number, err, retry, grpc, from_errno) \
  CodeInfo{ErrorCode::name, #name, err, retry, grpc, from_errno},
constexpr CodeInfo kCodes[] = {DFS_ERROR_CODES(DFS_ERROR_CODE_INFO_)};
#undef DFS_ERROR_CODE_INFO_

// The numbers are the wire format: two codes sharing one would be a protocol
// bug that no test of a single process could see.
constexpr bool NumbersAreUnique() {
  for (const CodeInfo& a : kCodes) {
    if (a.code == ErrorCode::OK) return false;
    for (const CodeInfo& b : kCodes) {
      if (&a != &b && a.code == b.code) return false;
    }
  }
  return true;
}
static_assert(NumbersAreUnique(), "two error codes share a number, or one uses 0");

// FromErrno must have exactly one answer per errno.
constexpr bool FromErrnoIsUnambiguous() {
  for (const CodeInfo& a : kCodes) {
    for (const CodeInfo& b : kCodes) {
      if (&a != &b && a.from_errno && b.from_errno && a.err == b.err) return false;
    }
  }
  return true;
}
static_assert(FromErrnoIsUnambiguous(), "two error codes claim the same errno for FromErrno");

const CodeInfo* Find(ErrorCode code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

// errnos without a row of their own (several can only map to one code), and
// aliases that some platforms define as distinct values.
ErrorCode CodeForUnlistedErrno(int err) {
  switch (err) {
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
      return ErrorCode::RESOURCE_EXHAUSTED;
    case EDQUOT:
      return ErrorCode::NO_SPACE;
    case ENOSYS:
      return ErrorCode::NOT_SUPPORTED;
#if ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
      return ErrorCode::NOT_SUPPORTED;
#endif
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
      return ErrorCode::RESOURCE_EXHAUSTED;
#endif
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EPIPE:
      return ErrorCode::UNAVAILABLE;
    case EBADF:
    case EFAULT:
      // Bad descriptors and pointers are our bugs, not the disk's.
      return ErrorCode::INTERNAL;
    default:
      return ErrorCode::IO_ERROR;
  }
}

// strerror_r comes in two flavours; these overloads accept either.
[[maybe_unused]] const char* StrerrorText(int rc, const char* buf) {
  return rc == 0 ? buf : "unknown error";
}
[[maybe_unused]] const char* StrerrorText(const char* text, const char*) {
  return text;
}

const std::string& EmptyString() {
  static const std::string* const empty = new std::string();
  return *empty;
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  if (code == ErrorCode::OK) return "OK";
  const CodeInfo* info = Find(code);
  return info != nullptr ? info->name : "INVALID_ERROR_CODE";
}

ErrorCode ErrorCodeFromNumber(uint32_t number) {
  ErrorCode code = static_cast<ErrorCode>(number);
  if (code == ErrorCode::OK || Find(code) != nullptr) return code;
  return ErrorCode::UNKNOWN;
}

bool IsRetryable(ErrorCode code) {
  const CodeInfo* info = Find(code);
  return info != nullptr && info->retryable;
}

int ErrorCodeToErrno(ErrorCode code) {
  if (code == ErrorCode::OK) return 0;
  const CodeInfo* info = Find(code);
  return info != nullptr ? info->err : EIO;
}

int ErrorCodeToGrpcCode(ErrorCode code) {
  if (code == ErrorCode::OK) return 0;
  const CodeInfo* info = Find(code);
  return info != nullptr ? info->grpc : 2;  // gRPC UNKNOWN
}

Status::Status(ErrorCode code, std::string message) {
  if (code != ErrorCode::OK) state_.reset(new State{code, std::move(message)});
}

Status::Status(const Status& other)
    : state_(other.state_ == nullptr ? nullptr : new State(*other.state_)) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) {
    state_.reset(other.state_ == nullptr ? nullptr : new State(*other.state_));
  }
  return *this;
}

Status Status::FromErrno(int err, std::string_view context) {
  if (err == 0) return Status();
  ErrorCode code = ErrorCode::OK;
  for (const CodeInfo& info : kCodes) {
    if (info.from_errno && info.err == err) code = info.code;
  }
  if (code == ErrorCode::OK) code = CodeForUnlistedErrno(err);

  char buf[128];
  const char* text = StrerrorText(strerror_r(err, buf, sizeof(buf)), buf);
  std::string message;
  if (!context.empty()) {
    message.append(context);
    message.append(": ");
  }
  message.append(text);
  return Status(code, std::move(message));
}

const std::string& Status::message() const {
  return ok() ? EmptyString() : state_->message;
}

std::string Status::ToString() const {
  std::string text = ErrorCodeName(code());
  if (!ok() && !state_->message.empty()) {
    text.append(": ");
    text.append(state_->message);
  }
  return text;
}

Status Status::WithContext(std::string_view context) const& {
  return Status(*this).WithContext(context);
}

Status Status::WithContext(std::string_view context) && {
  if (ok() || context.empty()) return std::move(*this);
  std::string message(context);
  if (!state_->message.empty()) {
    message.append(": ");
    message.append(state_->message);
  }
  state_->message = std::move(message);
  return std::move(*this);
}

bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

std::ostream& operator<<(std::ostream& out, const Status& status) {
  return out << status.ToString();
}

std::ostream& operator<<(std::ostream& out, ErrorCode code) {
  return out << ErrorCodeName(code);
}

}  // namespace dfs
