#include "common/clock.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/child_process.h"

namespace dfs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("RealClock follows the system's clocks", "[clock]") {
  Clock* clock = RealClock::Default();
  REQUIRE(clock == RealClock::Default());

  Nanos before = clock->Now();
  clock->SleepFor(milliseconds(5));
  Nanos after = clock->Now();
  CHECK(after - before >= milliseconds(5));

  int64_t wall = clock->WallNanos();
  int64_t system =
      std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  CHECK(std::abs(system - wall) < Nanos(seconds(1)).count());
  clock->SleepFor(Nanos(-1));  // returns at once
}

TEST_CASE("ManualClock moves only when told", "[clock]") {
  ManualClock clock(seconds(100), 1'700'000'000'000'000'000);
  CHECK(clock.Now() == seconds(100));
  CHECK(clock.WallNanos() == 1'700'000'000'000'000'000);

  clock.Advance(milliseconds(250));
  CHECK(clock.Now() == seconds(100) + milliseconds(250));
  CHECK(clock.WallNanos() == 1'700'000'000'250'000'000);

  clock.Set(seconds(200));
  CHECK(clock.Now() == seconds(200));
  clock.Set(seconds(200));  // setting the same time is fine
  CHECK(clock.sleepers() == 0);
  clock.SleepFor(Nanos(0));  // does not block
}

TEST_CASE("ManualClock wakes a sleeper when time passes its deadline", "[clock]") {
  ManualClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(seconds(1));
    woke = true;
  });

  clock.WaitForSleepers(1);
  clock.Advance(milliseconds(500));
  // Half way: give the sleeper real time to (wrongly) wake.
  std::this_thread::sleep_for(milliseconds(20));
  CHECK_FALSE(woke);
  CHECK(clock.sleepers() == 1);

  clock.Advance(milliseconds(500));
  sleeper.join();
  CHECK(woke);
  CHECK(clock.sleepers() == 0);
}

TEST_CASE("ManualClock wakes sleepers in deadline order", "[clock]") {
  ManualClock clock;
  std::atomic<int> woken{0};
  std::thread short_sleep([&] {
    clock.SleepFor(seconds(1));
    ++woken;
  });
  std::thread long_sleep([&] {
    clock.SleepFor(seconds(3));
    ++woken;
  });
  clock.WaitForSleepers(2);

  clock.Set(seconds(2));
  short_sleep.join();
  CHECK(woken == 1);
  CHECK(clock.sleepers() == 1);

  clock.Advance(seconds(1));
  long_sleep.join();
  CHECK(woken == 2);
}

TEST_CASE("ManualClock refuses to go back in time", "[clock][death]") {
  auto result = testing::RunInChild([] {
    ManualClock clock(seconds(10));
    clock.Set(seconds(5));
  });
  CHECK(result.Aborted());
  CHECK_THAT(result.output, Catch::Contains("ManualClock cannot go back"));
}

}  // namespace
}  // namespace dfs
