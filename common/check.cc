#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace dfs::internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  // stderr, not the logger: the logger may be the thing that is broken.
  std::string message = stream_.str();
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace dfs::internal
