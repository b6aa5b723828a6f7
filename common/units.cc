#include "common/units.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace dfs {
namespace {

using u128 = unsigned __int128;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A decimal number with an optional fraction, read from the front of `text`:
// value = whole + fraction / scale.
struct Decimal {
  u128 whole = 0;
  u128 fraction = 0;
  u128 scale = 1;
};

// Consumes a number like "12" or "1.25" (at least one digit) from `text`.
// Digits beyond what 128 bits hold are rejected; fractional digits beyond
// the 18th are dropped, far below a nanosecond or a byte for any real unit.
bool ConsumeDecimal(std::string_view& text, Decimal* out) {
  size_t i = 0;
  size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (out->whole > std::numeric_limits<uint64_t>::max()) return false;
    out->whole = out->whole * 10 + static_cast<unsigned>(text[i] - '0');
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (int kept = 0; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
         ++i, ++digits) {
      if (kept++ >= 18) continue;
      out->fraction = out->fraction * 10 + static_cast<unsigned>(text[i] - '0');
      out->scale *= 10;
    }
  }
  if (digits == 0) return false;
  text.remove_prefix(i);
  return true;
}

struct Unit {
  const char* name;
  uint64_t factor;
};

// Longer names first, so that "ms" is not read as "m".
constexpr Unit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
};

constexpr uint64_t kKi = 1024;
constexpr Unit kByteUnits[] = {
    {"", 1},
    {"b", 1},
    {"kib", kKi},
    {"mib", kKi* kKi},
    {"gib", kKi* kKi* kKi},
    {"tib", kKi* kKi* kKi* kKi},
    {"pib", kKi* kKi* kKi* kKi* kKi},
    {"k", kKi},
    {"m", kKi* kKi},
    {"g", kKi* kKi* kKi},
    {"t", kKi* kKi* kKi* kKi},
    {"p", kKi* kKi* kKi* kKi* kKi},
    {"kb", 1'000},
    {"mb", 1'000'000},
    {"gb", 1'000'000'000},
    {"tb", 1'000'000'000'000},
    {"pb", 1'000'000'000'000'000},
};

Status BadDuration(std::string_view text) {
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a duration (write e.g. 500ms, 2s, 1m30s)");
}

Status BadBytes(std::string_view text) {
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a byte size (write e.g. 4096, 64KiB, 1GiB)");
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  std::string_view rest = Trim(text);
  if (rest == "0") return std::chrono::nanoseconds(0);
  if (rest.empty()) return BadDuration(text);

  constexpr u128 kMax = std::numeric_limits<int64_t>::max();
  u128 total = 0;
  while (!rest.empty()) {
    Decimal number;
    if (!ConsumeDecimal(rest, &number)) return BadDuration(text);
    const Unit* unit = nullptr;
    for (const Unit& candidate : kDurationUnits) {
      std::string_view name(candidate.name);
      if (rest.substr(0, name.size()) == name &&
          (unit == nullptr || name.size() > std::string_view(unit->name).size())) {
        unit = &candidate;
      }
    }
    if (unit == nullptr) return BadDuration(text);
    rest.remove_prefix(std::string_view(unit->name).size());
    if (number.whole > kMax) return BadDuration(text);
    total += number.whole * unit->factor + number.fraction * unit->factor / number.scale;
    if (total > kMax) return BadDuration(text);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

Result<uint64_t> ParseBytes(std::string_view text) {
  std::string_view rest = Trim(text);
  Decimal number;
  if (!ConsumeDecimal(rest, &number)) return BadBytes(text);
  rest = Trim(rest);
  for (const Unit& unit : kByteUnits) {
    if (!EqualsIgnoreCase(rest, unit.name)) continue;
    const u128 fraction_bytes = number.fraction * unit.factor;
    if (fraction_bytes % number.scale != 0) {
      return Status::InvalidArgument("'" + std::string(text) + "' is not a whole number of bytes");
    }
    if (number.whole > std::numeric_limits<uint64_t>::max()) return BadBytes(text);
    const u128 total = number.whole * unit.factor + fraction_bytes / number.scale;
    if (total > std::numeric_limits<uint64_t>::max()) return BadBytes(text);
    return static_cast<uint64_t>(total);
  }
  return BadBytes(text);
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  if (d.count() == 0) return "0";
  // Built from the magnitude so that INT64_MIN needs no special case.
  const bool negative = d.count() < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(d.count()) : static_cast<uint64_t>(d.count());
  constexpr Unit kLargestFirst[] = {
      {"d", 86'400'000'000'000},
      {"h", 3'600'000'000'000},
      {"m", 60'000'000'000},
      {"s", 1'000'000'000},
      {"ms", 1'000'000},
      {"us", 1'000},
      {"ns", 1},
  };
  for (const Unit& unit : kLargestFirst) {
    if (magnitude % unit.factor == 0) {
      return (negative ? "-" : "") + std::to_string(magnitude / unit.factor) + unit.name;
    }
  }
  return std::to_string(d.count()) + "ns";  // unreachable: ns divides everything
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes == 0) return "0";
  constexpr Unit kLargestFirst[] = {
      {"PiB", kKi * kKi * kKi * kKi * kKi},
      {"TiB", kKi * kKi * kKi * kKi},
      {"GiB", kKi * kKi * kKi},
      {"MiB", kKi * kKi},
      {"KiB", kKi},
  };
  for (const Unit& unit : kLargestFirst) {
    if (bytes % unit.factor == 0) return std::to_string(bytes / unit.factor) + unit.name;
  }
  return std::to_string(bytes) + "B";
}

}  // namespace dfs
