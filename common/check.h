// Invariant checks that stop the process loudly.
//
// DFS_CHECK(cond) << "context";  aborts with file, line, the condition and the
// context when cond is false. Checks are always on, in every build type: a
// broken invariant in a storage system must stop the process before it
// corrupts data, not after.
//
// DFS_CHECK_EQ/NE/LT/LE/GT/GE(a, b) also print both values.
#pragma once

#include <sstream>

namespace dfs::internal {

// Collects the message of a failed check; its destructor aborts.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Turns the streamed expression into void so that it fits in a ?: branch.
struct CheckVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace dfs::internal

#define DFS_CHECK(cond)                      \
  (cond) ? (void)0                           \
         : ::dfs::internal::CheckVoidify() & \
               ::dfs::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#define DFS_CHECK_OP_(a, op, b) \
  DFS_CHECK((a)op(b)) << "(" << #a << " = " << (a) << ", " << #b << " = " << (b) << ") "

#define DFS_CHECK_EQ(a, b) DFS_CHECK_OP_(a, ==, b)
#define DFS_CHECK_NE(a, b) DFS_CHECK_OP_(a, !=, b)
#define DFS_CHECK_LT(a, b) DFS_CHECK_OP_(a, <, b)
#define DFS_CHECK_LE(a, b) DFS_CHECK_OP_(a, <=, b)
#define DFS_CHECK_GT(a, b) DFS_CHECK_OP_(a, >, b)
#define DFS_CHECK_GE(a, b) DFS_CHECK_OP_(a, >=, b)
