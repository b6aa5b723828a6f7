#include "common/result.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "tests/unit/child_process.h"

namespace dfs {
namespace {

Status FailIf(bool fail) {
  return fail ? Status::NotFound("no such chunk") : Status::Ok();
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Status CheckTwice(bool fail, int* reached) {
  RETURN_IF_ERROR(FailIf(fail));
  *reached = 1;
  RETURN_IF_ERROR(FailIf(false));
  *reached = 2;
  return Status::Ok();
}

Status ReadChunk(uint64_t id) {
  RETURN_IF_ERROR(FailIf(true), "while reading chunk " << id);
  return Status::Ok();
}

Status HalveAndDrop(int x) {
  RETURN_IF_ERROR(Half(x));  // a Result<T> works too
  return Status::Ok();
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half), "halving " << half);
  return quarter;
}

Result<std::string> Describe(int x) {
  RETURN_IF_ERROR(Half(x), "describe");  // returns Status into a Result<std::string>
  return "even " + std::to_string(x);
}

Result<std::unique_ptr<int>> MakeBox(int x) {
  if (x < 0) return Status::InvalidArgument("negative");
  return std::make_unique<int>(x);
}

Result<int> Unbox(int x) {
  std::unique_ptr<int> box;
  ASSIGN_OR_RETURN(box, MakeBox(x));  // into an existing variable, move-only
  return *box;
}

Result<int> SumOfHalves(int a, int b) {
  // Two on one line need distinct hidden variables.
  // clang-format off
  ASSIGN_OR_RETURN(int x, Half(a)); ASSIGN_OR_RETURN(int y, Half(b));
  // clang-format on
  return x + y;
}

TEST_CASE("a Result holds a value", "[result]") {
  Result<int> result = 42;
  REQUIRE(result.ok());
  CHECK(result.status().ok());
  CHECK(result.value() == 42);
  CHECK(*result == 42);
  CHECK(result.value_or(7) == 42);
  *result = 43;
  CHECK(result.value() == 43);

  Result<std::string> text = "hello";
  CHECK(text->size() == 5);
  const Result<std::string>& const_text = text;
  CHECK(*const_text == "hello");
  std::string moved = std::move(text).value();
  CHECK(moved == "hello");

  Result<std::string> in_place(std::in_place, 3, 'x');
  CHECK(*in_place == "xxx");
}

TEST_CASE("a Result holds an error", "[result]") {
  Result<int> result = Status::NotFound("gone");
  CHECK_FALSE(result.ok());
  CHECK(result.status().code() == ErrorCode::NOT_FOUND);
  CHECK(result.status().message() == "gone");
  CHECK(result.value_or(7) == 7);
  Status status = std::move(result).status();
  CHECK(status.code() == ErrorCode::NOT_FOUND);
}

TEST_CASE("a Result can hold a move-only value", "[result]") {
  Result<std::unique_ptr<int>> box = MakeBox(5);
  REQUIRE(box.ok());
  std::unique_ptr<int> taken = std::move(box).value();
  CHECK(*taken == 5);
  CHECK(MakeBox(-1).status().code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(*Unbox(9) == 9);
  CHECK(Unbox(-1).status().message() == "negative");
}

TEST_CASE("RETURN_IF_ERROR returns early on error only", "[result]") {
  int reached = 0;
  CHECK(CheckTwice(false, &reached).ok());
  CHECK(reached == 2);
  reached = 0;
  Status status = CheckTwice(true, &reached);
  CHECK(status.code() == ErrorCode::NOT_FOUND);
  CHECK(reached == 0);

  CHECK(HalveAndDrop(4).ok());
  CHECK(HalveAndDrop(3).code() == ErrorCode::INVALID_ARGUMENT);
}

TEST_CASE("RETURN_IF_ERROR with context prefixes the message", "[result]") {
  Status status = ReadChunk(1234);
  CHECK(status.code() == ErrorCode::NOT_FOUND);
  CHECK(status.message() == "while reading chunk 1234: no such chunk");
  CHECK(status.ToString() == "NOT_FOUND: while reading chunk 1234: no such chunk");

  CHECK(*Describe(4) == "even 4");
  CHECK(Describe(5).status().message() == "describe: 5 is odd");
}

TEST_CASE("the context is only evaluated on failure", "[result]") {
  int evaluations = 0;
  auto count = [&] { return ++evaluations; };
  auto run = [&](bool fail) -> Status {
    RETURN_IF_ERROR(FailIf(fail), "call " << count());
    return Status::Ok();
  };
  CHECK(run(false).ok());
  CHECK(evaluations == 0);
  CHECK(run(true).message() == "call 1: no such chunk");
  CHECK(evaluations == 1);
}

TEST_CASE("ASSIGN_OR_RETURN unwraps values and forwards errors", "[result]") {
  CHECK(*Quarter(8) == 2);
  Result<int> odd = Quarter(3);
  CHECK(odd.status().code() == ErrorCode::INVALID_ARGUMENT);
  CHECK(odd.status().message() == "3 is odd");  // first call: no context
  Result<int> odd_half = Quarter(6);
  CHECK(odd_half.status().message() == "halving 3: 3 is odd");
  CHECK(*SumOfHalves(4, 6) == 5);
  CHECK(SumOfHalves(4, 7).status().message() == "7 is odd");
}

TEST_CASE("misusing a Result stops the process", "[result][death]") {
  auto from_ok = testing::RunInChild([] { Result<int> bad = Status::Ok(); });
  CHECK(from_ok.Aborted());
  CHECK_THAT(from_ok.output, Catch::Contains("Result<T> constructed from an OK Status"));

  auto value_of_error = testing::RunInChild([] {
    Result<int> failed = Status::NotFound("no chunk 9");
    std::printf("%d\n", failed.value());
  });
  CHECK(value_of_error.Aborted());
  CHECK_THAT(value_of_error.output,
             Catch::Contains("value() of a failed Result: NOT_FOUND: no chunk 9"));
}

}  // namespace
}  // namespace dfs
