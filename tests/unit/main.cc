// The one Catch2 main shared by every unit-test binary, compiled once so that
// editing a test recompiles only that test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
