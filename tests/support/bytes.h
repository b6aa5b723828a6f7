// Comparing large byte strings in tests: say where they differ, never
// print the megabytes themselves.
#pragma once

#include <string>

namespace dfs::testing {

// "" when equal; otherwise the first differing offset and both sizes.
inline std::string FirstDifference(const std::string& got, const std::string& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i])
    i++;
  return "first difference at byte " + std::to_string(i) + " of " + std::to_string(got.size()) +
         " (want " + std::to_string(want.size()) + ")";
}

}  // namespace dfs::testing
