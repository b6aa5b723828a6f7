// Durations and byte sizes as people write them in config files and flags.
//
//   ParseDuration("1m30s") == 90s        ParseBytes("64MiB") == 67108864
//   FormatDuration(90s)    == "90s"      FormatBytes(67108864) == "64MiB"
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dfs {

// A byte count that config files and flags may write with a unit ("64MiB").
// A distinct type, so that a config option knows to accept units.
struct Bytes {
  uint64_t value = 0;

  friend auto operator<=>(const Bytes&, const Bytes&) = default;
};

// Parses a non-negative duration: one or more <number><unit> terms, e.g.
// "500ms", "2s", "1.5h", "1m30s"; units ns, us, ms, s, m, h, d (24h). A lone
// "0" needs no unit. Surrounding spaces are ignored. Bad syntax and values
// beyond ~292 years are INVALID_ARGUMENT.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// Parses a byte size: a number, optionally with a fraction, then optional
// spaces and an optional unit, ignoring case:
//   none or B              bytes
//   KiB MiB GiB TiB PiB    powers of 1024
//   K M G T P              powers of 1024 too (as dd, fallocate and -Xmx read them)
//   kB MB GB TB PB         powers of 1000
// "64MiB", "1.5GiB", "4096". A result that is not a whole number of bytes,
// or above 2^64 - 1, is INVALID_ARGUMENT.
Result<uint64_t> ParseBytes(std::string_view text);

// The shortest exact spelling in the largest unit that divides `d`, e.g.
// "90s", "1500ms", "2h"; "0" for zero. ParseDuration reads it back.
std::string FormatDuration(std::chrono::nanoseconds d);

// The largest binary unit that divides `bytes` exactly, e.g. "64MiB",
// "1536KiB", "1000B"; "0" for zero. ParseBytes reads it back.
std::string FormatBytes(uint64_t bytes);

}  // namespace dfs
