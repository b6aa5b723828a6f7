// Clock: where dfs code gets the time, so that tests can control it.
//
// Code that waits, times out or stamps records takes a Clock* instead of
// calling std::chrono directly. Production passes RealClock::Default(); unit
// tests pass a ManualClock and move time forward by hand. (The Raft core takes
// no clock at all: its driver turns time into Tick() calls.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace dfs {

using Nanos = std::chrono::nanoseconds;

// A source of monotonic time, wall time and sleeping.
class Clock {
 public:
  virtual ~Clock();

  // Monotonic time since an arbitrary fixed point; never goes backwards. Use
  // it for timeouts, deadlines and durations.
  virtual Nanos Now() const = 0;

  // Nanoseconds since the Unix epoch. May jump; use it only for timestamps
  // shown to people or stored in metadata (mtime, ctime).
  virtual int64_t WallNanos() const = 0;

  // Blocks the calling thread until Now() has advanced by at least `d`.
  // Returns at once if d <= 0.
  virtual void SleepFor(Nanos d) = 0;
};

// The operating system's clocks: steady_clock for Now(), system_clock for
// WallNanos(). Stateless and thread-safe.
class RealClock final : public Clock {
 public:
  // A process-wide instance, never destroyed.
  static Clock* Default();

  Nanos Now() const override;
  int64_t WallNanos() const override;
  void SleepFor(Nanos d) override;
};

// A clock that moves only when told to. Thread-safe: a thread blocked in
// SleepFor wakes when another thread advances the clock past its deadline,
// so tests can drive code that sleeps without real waiting.
class ManualClock final : public Clock {
 public:
  // Now() starts at `start`; WallNanos() at `wall_start` and moves with Now().
  explicit ManualClock(Nanos start = Nanos(0), int64_t wall_start = 0);

  Nanos Now() const override;
  int64_t WallNanos() const override;
  void SleepFor(Nanos d) override;

  // Moves time forward by `d` and wakes the sleepers whose deadline passed.
  // REQUIRES: d >= 0.
  void Advance(Nanos d);

  // Sets Now() to `t`. REQUIRES: t >= Now() (monotonic time never goes back).
  void Set(Nanos t);

  // Threads currently blocked in SleepFor.
  size_t sleepers() const;

  // Blocks until at least `count` threads are in SleepFor. Lets a test be
  // sure a thread is asleep before it advances the clock.
  void WaitForSleepers(size_t count) const;

 private:
  mutable std::mutex mu_;
  // Signalled whenever now_ or sleepers_ changes.
  mutable std::condition_variable changed_;
  Nanos now_;
  const Nanos start_;
  const int64_t wall_start_;
  size_t sleepers_ = 0;
};

}  // namespace dfs
