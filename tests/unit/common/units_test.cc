#include "common/units.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

namespace dfs {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_CASE("ParseDuration reads units, fractions and sums", "[units]") {
  CHECK(*ParseDuration("500ms") == milliseconds(500));
  CHECK(*ParseDuration("2s") == seconds(2));
  CHECK(*ParseDuration("1m") == minutes(1));
  CHECK(*ParseDuration("3h") == hours(3));
  CHECK(*ParseDuration("1d") == hours(24));
  CHECK(*ParseDuration("250us") == microseconds(250));
  CHECK(*ParseDuration("250\xC2\xB5s") == microseconds(250));
  CHECK(*ParseDuration("42ns") == nanoseconds(42));
  CHECK(*ParseDuration("1.5s") == milliseconds(1500));
  CHECK(*ParseDuration(".25s") == milliseconds(250));
  CHECK(*ParseDuration("1m30s") == seconds(90));
  CHECK(*ParseDuration("1h2m3s4ms") == hours(1) + minutes(2) + seconds(3) + milliseconds(4));
  CHECK(*ParseDuration("0") == nanoseconds(0));
  CHECK(*ParseDuration(" 10s ") == seconds(10));
  CHECK(*ParseDuration("9223372036854775807ns") ==
        nanoseconds(std::numeric_limits<int64_t>::max()));
}

TEST_CASE("ParseDuration rejects what it cannot read exactly", "[units]") {
  for (const char* bad : {"", "10", "s", "-1s", "1.s.", "1sec", "1 s", "5parsecs", "1e3ms",
                          "9223372036854775808ns", "300000000000h", "1s-"}) {
    INFO(bad);
    Result<nanoseconds> parsed = ParseDuration(bad);
    CHECK(parsed.status().code() == ErrorCode::INVALID_ARGUMENT);
  }
  CHECK_THAT(ParseDuration("soon").status().message(), Catch::Contains("'soon'"));
}

TEST_CASE("ParseBytes reads binary and decimal units", "[units]") {
  CHECK(*ParseBytes("4096") == 4096);
  CHECK(*ParseBytes("0") == 0);
  CHECK(*ParseBytes("12B") == 12);
  CHECK(*ParseBytes("64KiB") == 64 * 1024);
  CHECK(*ParseBytes("64MiB") == 64ull << 20);
  CHECK(*ParseBytes("1GiB") == 1ull << 30);
  CHECK(*ParseBytes("2TiB") == 2ull << 40);
  CHECK(*ParseBytes("1PiB") == 1ull << 50);
  CHECK(*ParseBytes("64k") == 64 * 1024);
  CHECK(*ParseBytes("64M") == 64ull << 20);
  CHECK(*ParseBytes("1G") == 1ull << 30);
  CHECK(*ParseBytes("1kB") == 1000);
  CHECK(*ParseBytes("5MB") == 5'000'000);
  CHECK(*ParseBytes("2GB") == 2'000'000'000);
  CHECK(*ParseBytes("1.5GiB") == 3ull << 29);
  CHECK(*ParseBytes("0.5KiB") == 512);
  CHECK(*ParseBytes("64 mib") == 64ull << 20);
  CHECK(*ParseBytes("18446744073709551615") == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("ParseBytes rejects bad sizes", "[units]") {
  for (const char* bad : {"", "MiB", "-1", "1.5B", "0.1KiB", "10 lots", "1XiB",
                          "18446744073709551616", "16EiB", "17179869184GiB", "1,5GiB"}) {
    INFO(bad);
    CHECK(ParseBytes(bad).status().code() == ErrorCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("formatting picks the largest exact unit and parses back", "[units]") {
  CHECK(FormatDuration(milliseconds(500)) == "500ms");
  CHECK(FormatDuration(seconds(90)) == "90s");
  CHECK(FormatDuration(minutes(2)) == "2m");
  CHECK(FormatDuration(milliseconds(1500)) == "1500ms");
  CHECK(FormatDuration(hours(48)) == "2d");
  CHECK(FormatDuration(nanoseconds(0)) == "0");
  CHECK(FormatDuration(nanoseconds(-5000)) == "-5us");

  CHECK(FormatBytes(64ull << 20) == "64MiB");
  CHECK(FormatBytes(1536 * 1024) == "1536KiB");
  CHECK(FormatBytes(1000) == "1000B");
  CHECK(FormatBytes(0) == "0");

  for (int64_t ns : {int64_t{1}, int64_t{999}, int64_t{1'000'000}, int64_t{61'000'000'000},
                     std::numeric_limits<int64_t>::max()}) {
    CHECK(*ParseDuration(FormatDuration(nanoseconds(ns))) == nanoseconds(ns));
  }
  for (uint64_t bytes : {uint64_t{1}, uint64_t{1023}, uint64_t{1} << 20, uint64_t{3} << 40,
                         std::numeric_limits<uint64_t>::max()}) {
    CHECK(*ParseBytes(FormatBytes(bytes)) == bytes);
  }
}

TEST_CASE("Bytes compares by value", "[units]") {
  CHECK(Bytes{1} < Bytes{2});
  CHECK(Bytes{64} == Bytes{64});
}

}  // namespace
}  // namespace dfs
