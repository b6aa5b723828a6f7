#include "common/status.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace dfs {
namespace {

// Every code this build knows, found through the wire-number lookup.
std::vector<ErrorCode> AllErrorCodes() {
  std::vector<ErrorCode> codes;
  for (uint32_t n = 1; n < 1000; ++n) {
    ErrorCode code = ErrorCodeFromNumber(n);
    if (static_cast<uint32_t>(code) == n) codes.push_back(code);
  }
  return codes;
}

TEST_CASE("an OK status is empty and maps to success everywhere", "[status]") {
  Status status;
  CHECK(status.ok());
  CHECK(status.code() == ErrorCode::OK);
  CHECK(status.message().empty());
  CHECK(status.ToString() == "OK");
  CHECK(status.ToErrno() == 0);
  CHECK(status.ToGrpcCode() == 0);
  CHECK_FALSE(status.IsRetryable());
  CHECK(Status::Ok() == status);
  CHECK(Status(ErrorCode::OK, "dropped").ok());
  CHECK(Status(ErrorCode::OK, "dropped").message().empty());
}

TEST_CASE("factories set the code and message", "[status]") {
  Status status = Status::NotFound("no such entry");
  CHECK_FALSE(status.ok());
  CHECK(status.code() == ErrorCode::NOT_FOUND);
  CHECK(status.message() == "no such entry");
  CHECK(status.ToString() == "NOT_FOUND: no such entry");
  CHECK(Status::Corrupt().ToString() == "CORRUPT");
  CHECK(Status::NotLeader("x").code() == ErrorCode::NOT_LEADER);
  CHECK(Status::ChecksumMismatch("x").code() == ErrorCode::CHECKSUM_MISMATCH);

  std::ostringstream out;
  out << status << " " << ErrorCode::IS_A_DIRECTORY;
  CHECK(out.str() == "NOT_FOUND: no such entry IS_A_DIRECTORY");
}

TEST_CASE("error numbers are stable: they are the wire format", "[status]") {
  CHECK(static_cast<uint32_t>(ErrorCode::OK) == 0);
  CHECK(static_cast<uint32_t>(ErrorCode::INVALID_ARGUMENT) == 2);
  CHECK(static_cast<uint32_t>(ErrorCode::NOT_FOUND) == 3);
  CHECK(static_cast<uint32_t>(ErrorCode::TIMEOUT) == 9);
  CHECK(static_cast<uint32_t>(ErrorCode::NOT_A_DIRECTORY) == 100);
  CHECK(static_cast<uint32_t>(ErrorCode::NO_DATA) == 107);
  CHECK(static_cast<uint32_t>(ErrorCode::UNAVAILABLE) == 200);
  CHECK(static_cast<uint32_t>(ErrorCode::NOT_LEADER) == 201);
  CHECK(static_cast<uint32_t>(ErrorCode::IO_ERROR) == 300);
  CHECK(static_cast<uint32_t>(ErrorCode::CORRUPT) == 301);
  CHECK(static_cast<uint32_t>(ErrorCode::CHECKSUM_MISMATCH) == 302);
}

TEST_CASE("wire numbers convert back to codes", "[status]") {
  CHECK(ErrorCodeFromNumber(0) == ErrorCode::OK);
  CHECK(ErrorCodeFromNumber(3) == ErrorCode::NOT_FOUND);
  CHECK(ErrorCodeFromNumber(201) == ErrorCode::NOT_LEADER);
  // A code from a newer peer is still an error, never OK.
  CHECK(ErrorCodeFromNumber(99) == ErrorCode::UNKNOWN);
  CHECK(ErrorCodeFromNumber(123456) == ErrorCode::UNKNOWN);
  CHECK(std::string(ErrorCodeName(static_cast<ErrorCode>(123456))) == "INVALID_ERROR_CODE");
}

TEST_CASE("every code has a unique name and its group's number range", "[status]") {
  std::vector<ErrorCode> codes = AllErrorCodes();
  REQUIRE(codes.size() >= 30);
  std::set<std::string> names;
  for (ErrorCode code : codes) {
    std::string name = ErrorCodeName(code);
    CHECK(name != "INVALID_ERROR_CODE");
    CHECK(names.insert(name).second);
    CHECK(Status(code, "m").ToString() == name + ": m");
    CHECK(static_cast<uint32_t>(code) < 400);
  }
}

TEST_CASE("retryability says what a client may do", "[status]") {
  CHECK(Status::Unavailable().IsRetryable());
  CHECK(Status::NotLeader().IsRetryable());
  CHECK(Status::Timeout().IsRetryable());
  CHECK(Status::ResourceExhausted().IsRetryable());
  CHECK_FALSE(Status::Corrupt().IsRetryable());
  CHECK_FALSE(Status::ChecksumMismatch().IsRetryable());
  CHECK_FALSE(Status::NotFound().IsRetryable());
  CHECK_FALSE(Status::InvalidArgument().IsRetryable());
  CHECK_FALSE(Status::StaleVersion().IsRetryable());
  CHECK_FALSE(Status::ClusterMismatch().IsRetryable());
  CHECK_FALSE(Status::LockConflict().IsRetryable());
}

TEST_CASE("errno mapping for the mount", "[status]") {
  CHECK(Status::NotFound().ToErrno() == ENOENT);
  CHECK(Status::AlreadyExists().ToErrno() == EEXIST);
  CHECK(Status::PermissionDenied().ToErrno() == EACCES);
  CHECK(Status::NotPermitted().ToErrno() == EPERM);
  CHECK(Status::InvalidArgument().ToErrno() == EINVAL);
  CHECK(Status::NotADirectory().ToErrno() == ENOTDIR);
  CHECK(Status::IsADirectory().ToErrno() == EISDIR);
  CHECK(Status::NotEmpty().ToErrno() == ENOTEMPTY);
  CHECK(Status::NameTooLong().ToErrno() == ENAMETOOLONG);
  CHECK(Status::NoSpace().ToErrno() == ENOSPC);
  CHECK(Status::TooManyLinks().ToErrno() == EMLINK);
  CHECK(Status::NoData().ToErrno() == ENODATA);
  CHECK(Status::Range().ToErrno() == ERANGE);
  CHECK(Status::NotSupported().ToErrno() == EOPNOTSUPP);
  CHECK(Status::Timeout().ToErrno() == ETIMEDOUT);
  CHECK(Status::LockConflict().ToErrno() == EAGAIN);
  CHECK(Status::Corrupt().ToErrno() == EIO);
  CHECK(Status::ChecksumMismatch().ToErrno() == EIO);
  CHECK(Status::Unavailable().ToErrno() == EIO);
  CHECK(Status::NotLeader().ToErrno() == EIO);
}

TEST_CASE("gRPC mapping uses gRPC's numbers", "[status]") {
  CHECK(Status::Cancelled().ToGrpcCode() == 1);
  CHECK(Status::InvalidArgument().ToGrpcCode() == 3);
  CHECK(Status::Timeout().ToGrpcCode() == 4);  // DEADLINE_EXCEEDED
  CHECK(Status::NotFound().ToGrpcCode() == 5);
  CHECK(Status::AlreadyExists().ToGrpcCode() == 6);
  CHECK(Status::PermissionDenied().ToGrpcCode() == 7);
  CHECK(Status::ResourceExhausted().ToGrpcCode() == 8);
  CHECK(Status::NotEmpty().ToGrpcCode() == 9);       // FAILED_PRECONDITION
  CHECK(Status::NotSupported().ToGrpcCode() == 12);  // UNIMPLEMENTED
  CHECK(Status::Internal().ToGrpcCode() == 13);
  CHECK(Status::Unavailable().ToGrpcCode() == 14);
  CHECK(Status::NotLeader().ToGrpcCode() == 14);
  CHECK(Status::Corrupt().ToGrpcCode() == 15);  // DATA_LOSS
  CHECK(Status::Unauthenticated().ToGrpcCode() == 16);
  CHECK(Status::Unknown().ToGrpcCode() == 2);
}

TEST_CASE("FromErrno maps system call failures", "[status]") {
  Status status = Status::FromErrno(ENOENT, "open /data/x");
  CHECK(status.code() == ErrorCode::NOT_FOUND);
  CHECK(status.message() == "open /data/x: No such file or directory");

  CHECK(Status::FromErrno(0, "fine").ok());
  CHECK(Status::FromErrno(EIO, "").code() == ErrorCode::IO_ERROR);
  CHECK(Status::FromErrno(EIO, "").message() == "Input/output error");
  CHECK(Status::FromErrno(EACCES, "x").code() == ErrorCode::PERMISSION_DENIED);
  CHECK(Status::FromErrno(EAGAIN, "x").code() == ErrorCode::RESOURCE_EXHAUSTED);
  CHECK(Status::FromErrno(ENOSPC, "x").code() == ErrorCode::NO_SPACE);
  CHECK(Status::FromErrno(EDQUOT, "x").code() == ErrorCode::NO_SPACE);
  CHECK(Status::FromErrno(ENOMEM, "x").code() == ErrorCode::RESOURCE_EXHAUSTED);
  CHECK(Status::FromErrno(ECONNREFUSED, "x").code() == ErrorCode::UNAVAILABLE);
  CHECK(Status::FromErrno(ENOSYS, "x").code() == ErrorCode::NOT_SUPPORTED);
  CHECK(Status::FromErrno(EBADF, "x").code() == ErrorCode::INTERNAL);
  Status odd = Status::FromErrno(4242, "ioctl");
  CHECK(odd.code() == ErrorCode::IO_ERROR);
  CHECK(odd.message().find("4242") != std::string::npos);
}

TEST_CASE("errno survives a round trip through every code", "[status]") {
  for (ErrorCode code : AllErrorCodes()) {
    INFO(ErrorCodeName(code));
    const int err = ErrorCodeToErrno(code);
    CHECK(err != 0);
    CHECK(Status::FromErrno(err, "").ToErrno() == err);
  }
}

TEST_CASE("WithContext prefixes the message and keeps the code", "[status]") {
  Status base = Status::NotFound("no such entry");
  Status wrapped = base.WithContext("while reading chunk 7");
  CHECK(wrapped.code() == ErrorCode::NOT_FOUND);
  CHECK(wrapped.message() == "while reading chunk 7: no such entry");
  CHECK(base.message() == "no such entry");  // the const& overload copies

  Status twice = Status::Corrupt("bad block").WithContext("inner").WithContext("outer");
  CHECK(twice.ToString() == "CORRUPT: outer: inner: bad block");
  CHECK(Status::Timeout().WithContext("rpc Lookup").message() == "rpc Lookup");
  CHECK(Status::Ok().WithContext("anything").ok());
}

TEST_CASE("copies are deep and equality compares code and message", "[status]") {
  Status a = Status::IoError("disk 1");
  Status b = a;
  b = std::move(b).WithContext("ctx");
  CHECK(a.message() == "disk 1");
  CHECK(b.message() == "ctx: disk 1");
  CHECK_FALSE(a == b);
  Status c;
  c = a;
  CHECK(c == a);
  CHECK_FALSE(Status::IoError("x") == Status::Corrupt("x"));
  Status moved = std::move(c);
  CHECK(moved == a);
}

}  // namespace
}  // namespace dfs
