// Byte strings in tests: pseudo-random contents by seed, and comparisons
// that say where two differ, never print the megabytes themselves.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace dfs::testing {

// `n` pseudo-random bytes, the same for the same seed.
inline std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, n - i < 8 ? n - i : 8);
  }
  return s;
}

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
