#include "common/check.h"

#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/child_process.h"

namespace dfs {
namespace {

TEST_CASE("a passing check does nothing and builds no message", "[check]") {
  int evaluations = 0;
  auto count = [&] { return ++evaluations; };
  DFS_CHECK(1 + 1 == 2) << "never built " << count();
  DFS_CHECK_EQ(2, 2) << count();
  DFS_CHECK_LT(1, 2);
  DFS_CHECK_GE(2, 2);
  CHECK(evaluations == 0);
}

TEST_CASE("a failing check aborts with location, condition and context", "[check][death]") {
  auto result = testing::RunInChild([] {
    int commit = 7;
    DFS_CHECK(commit <= 5) << "commit index " << commit << " beyond last index";
  });
  CHECK(result.Aborted());
  CHECK_THAT(result.output, Catch::Contains("check_test.cc:"));
  CHECK_THAT(result.output, Catch::Contains("check failed: commit <= 5"));
  CHECK_THAT(result.output, Catch::Contains("commit index 7 beyond last index"));
}

TEST_CASE("comparison checks print both values", "[check][death]") {
  auto result = testing::RunInChild([] {
    int term = 3;
    int voted_term = 4;
    DFS_CHECK_EQ(term, voted_term) << "vote from another term";
  });
  CHECK(result.Aborted());
  CHECK_THAT(result.output, Catch::Contains("(term = 3, voted_term = 4)"));
  CHECK_THAT(result.output, Catch::Contains("vote from another term"));
}

TEST_CASE("the child harness tells a clean exit from an abort", "[check]") {
  auto result = testing::RunInChild([] {});
  CHECK_FALSE(result.signaled);
  CHECK(result.exit_code == 0);
}

}  // namespace
}  // namespace dfs
