#include "common/clock.h"

#include <thread>

#include "common/check.h"

namespace dfs {

Clock::~Clock() = default;

Clock* RealClock::Default() {
  // Leaked on purpose: threads still running at exit may read the time.
  static RealClock* const clock = new RealClock();
  return clock;
}

Nanos RealClock::Now() const {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
}

int64_t RealClock::WallNanos() const {
  return std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RealClock::SleepFor(Nanos d) {
  if (d > Nanos(0)) std::this_thread::sleep_for(d);
}

ManualClock::ManualClock(Nanos start, int64_t wall_start)
    : now_(start), start_(start), wall_start_(wall_start) {}

Nanos ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

int64_t ManualClock::WallNanos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_start_ + (now_ - start_).count();
}

void ManualClock::SleepFor(Nanos d) {
  if (d <= Nanos(0)) return;
  std::unique_lock<std::mutex> lock(mu_);
  const Nanos deadline = now_ + d;
  ++sleepers_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return now_ >= deadline; });
  --sleepers_;
  changed_.notify_all();
}

void ManualClock::Advance(Nanos d) {
  DFS_CHECK_GE(d.count(), 0) << "ManualClock cannot go back";
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
  changed_.notify_all();
}

void ManualClock::Set(Nanos t) {
  std::lock_guard<std::mutex> lock(mu_);
  DFS_CHECK_GE(t.count(), now_.count()) << "ManualClock cannot go back";
  now_ = t;
  changed_.notify_all();
}

size_t ManualClock::sleepers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleepers_;
}

void ManualClock::WaitForSleepers(size_t count) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return sleepers_ >= count; });
}

}  // namespace dfs
