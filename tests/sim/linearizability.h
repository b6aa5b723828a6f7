// Checks that a concurrent history of register operations (one key) is
// linearizable: that some total order of the operations, consistent with
// real time, explains every observed result (Herlihy & Wing). The search is
// Wing & Gong's with Lowe's memoization, as in Porcupine.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dfs::sim {

struct RegisterOp {
  enum Kind { kPut, kGet } kind = kGet;
  std::string value;  // kPut: the value written; kGet: the value read
  uint64_t invoke = 0;
  // kNoResponse when the client never heard back: the operation may have
  // taken effect at any point after invoke, or never.
  uint64_t response = kNoResponse;
  static constexpr uint64_t kNoResponse = std::numeric_limits<uint64_t>::max();
};

struct LinearizabilityResult {
  bool ok = true;
  std::string explanation;  // when !ok: the operations that cannot be ordered
};

// REQUIRES: invoke < response for completed operations; times distinct.
// `initial` is the register's value before the history.
LinearizabilityResult CheckRegisterHistory(const std::vector<RegisterOp>& ops,
                                           const std::string& initial);

}  // namespace dfs::sim
