#include "common/config.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/child_process.h"
#include "tests/unit/temp_dir.h"

namespace dfs {
namespace {

using std::chrono::milliseconds;

// A daemon's settings; the initializers are the defaults.
struct TestConfig {
  std::string data_dir = "/var/lib/dfs";
  int64_t offset = -1;
  uint64_t big = 0;
  uint32_t replication = 3;
  int32_t port = 7000;
  bool verbose = false;
  double ratio = 0.5;
  std::vector<std::string> peers = {"a:1"};
  milliseconds heartbeat{100};
  milliseconds election_timeout{1000};
  Bytes cache_size{64 << 20};
};

void Bind(ConfigParser& parser, TestConfig& config) {
  parser.Add("data_dir", &config.data_dir, "where data lives");
  parser.Add("offset", &config.offset, "a signed number");
  parser.Add("big", &config.big, "a large number");
  parser.Add("replication", &config.replication, "copies of each chunk");
  parser.Add("port", &config.port, "listen port");
  parser.Add("verbose", &config.verbose, "say more");
  parser.Add("ratio", &config.ratio, "a fraction");
  parser.Add("peers", &config.peers, "other servers");
  parser.Add("raft.heartbeat", &config.heartbeat, "leader heartbeat interval");
  parser.Add("raft.election_timeout", &config.election_timeout, "election timeout");
  parser.Add("cache_size", &config.cache_size, "block cache size");
}

// Parses `args` (without the program name) into a fresh parser bound to *config.
Status ParseArgs(TestConfig* config, std::vector<std::string> args,
                 ConfigParser* parser_out = nullptr) {
  ConfigParser local("dfs-test", "a test daemon");
  ConfigParser& parser = parser_out != nullptr ? *parser_out : local;
  Bind(parser, *config);
  std::vector<const char*> argv = {"dfs-test"};
  for (const std::string& arg : args)
    argv.push_back(arg.c_str());
  return parser.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST_CASE("without arguments the fields keep their defaults", "[config]") {
  TestConfig config;
  REQUIRE(ParseArgs(&config, {}).ok());
  CHECK(config.data_dir == "/var/lib/dfs");
  CHECK(config.replication == 3);
  CHECK(config.peers == std::vector<std::string>{"a:1"});
  CHECK(config.heartbeat == milliseconds(100));
  CHECK(config.cache_size == Bytes{64 << 20});
}

TEST_CASE("every type can be set by flag", "[config]") {
  TestConfig config;
  Status status = ParseArgs(&config, {"--data-dir",
                                      "/srv/dfs",
                                      "--offset=-5",
                                      "--big",
                                      "18446744073709551615",
                                      "--replication",
                                      "5",
                                      "--port=8000",
                                      "--verbose",
                                      "--ratio",
                                      "0.25",
                                      "--peers",
                                      "b:1,c:1",
                                      "--peers",
                                      "d:1",
                                      "--raft-heartbeat",
                                      "250ms",
                                      "--raft-election-timeout=2s",
                                      "--cache-size",
                                      "1GiB"});
  REQUIRE(status.ok());
  CHECK(config.data_dir == "/srv/dfs");
  CHECK(config.offset == -5);
  CHECK(config.big == 18446744073709551615ull);
  CHECK(config.replication == 5);
  CHECK(config.port == 8000);
  CHECK(config.verbose);
  CHECK(config.ratio == 0.25);
  CHECK(config.peers == std::vector<std::string>{"b:1", "c:1", "d:1"});
  CHECK(config.heartbeat == milliseconds(250));
  CHECK(config.election_timeout == milliseconds(2000));
  CHECK(config.cache_size == Bytes{1ull << 30});
}

TEST_CASE("flag value forms", "[config]") {
  TestConfig config;
  config.verbose = true;
  REQUIRE(ParseArgs(&config, {"--verbose=false", "--raft-heartbeat", "300", "--cache-size", "4096",
                              "--replication", "2", "--replication", "4"})
              .ok());
  CHECK_FALSE(config.verbose);
  CHECK(config.heartbeat == milliseconds(300));  // a bare number is milliseconds
  CHECK(config.cache_size == Bytes{4096});
  CHECK(config.replication == 4);  // the last one wins

  TestConfig empty_list;
  REQUIRE(ParseArgs(&empty_list, {"--peers", ""}).ok());
  CHECK(empty_list.peers.empty());
}

TEST_CASE("a TOML file sets every type", "[config]") {
  testing::TempDir dir;
  std::string path = dir.WriteFile("dfs.toml", R"(
data_dir = "/from/file"
offset = -9
big = 123
replication = 2
port = 9000
verbose = true
ratio = 1          # an integer fills a double
peers = ["x:1", "y:2"]
cache_size = "256MiB"

[raft]
heartbeat = 50       # integer milliseconds
election_timeout = "1.5s"
)");
  TestConfig config;
  REQUIRE(ParseArgs(&config, {"--config", path}).ok());
  CHECK(config.data_dir == "/from/file");
  CHECK(config.offset == -9);
  CHECK(config.big == 123);
  CHECK(config.replication == 2);
  CHECK(config.port == 9000);
  CHECK(config.verbose);
  CHECK(config.ratio == 1.0);
  CHECK(config.peers == std::vector<std::string>{"x:1", "y:2"});
  CHECK(config.cache_size == Bytes{256ull << 20});
  CHECK(config.heartbeat == milliseconds(50));
  CHECK(config.election_timeout == milliseconds(1500));

  TestConfig dotted;
  std::string dotted_path =
      dir.WriteFile("dotted.toml", "raft.heartbeat = \"2s\"\ncache_size = 1048576\n");
  REQUIRE(ParseArgs(&dotted, {"-c", dotted_path}).ok());
  CHECK(dotted.heartbeat == milliseconds(2000));
  CHECK(dotted.cache_size == Bytes{1 << 20});
}

TEST_CASE("flags override the file, whatever their order", "[config]") {
  testing::TempDir dir;
  std::string path = dir.WriteFile("dfs.toml", R"(
data_dir = "/from/file"
replication = 2
peers = ["x:1", "y:2"]
[raft]
heartbeat = "1s"
)");
  TestConfig config;
  REQUIRE(
      ParseArgs(&config, {"--data-dir", "/from/flag", "--config", path, "--peers", "z:3"}).ok());
  CHECK(config.data_dir == "/from/flag");
  CHECK(config.peers == std::vector<std::string>{"z:3"});  // replaced, not appended
  CHECK(config.replication == 2);                          // from the file
  CHECK(config.heartbeat == milliseconds(1000));           // from the file
  CHECK(config.port == 7000);                              // default
}

TEST_CASE("unknown TOML keys are errors naming file, line and key", "[config]") {
  testing::TempDir dir;
  TestConfig config;

  std::string top = dir.WriteFile("top.toml", "data_dir = \"/x\"\n\nreplicaton = 3\n");
  Status status = ParseArgs(&config, {"--config", top});
  CHECK(status.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::Contains(top + ":3:"));
  CHECK_THAT(status.message(), Catch::Contains("unknown key 'replicaton'"));

  std::string in_table = dir.WriteFile("table.toml", "[raft]\nheartbeat = 5\nhearbeat = 5\n");
  status = ParseArgs(&config, {"--config", in_table});
  CHECK_THAT(status.message(), Catch::Contains("table.toml:3:"));
  CHECK_THAT(status.message(), Catch::Contains("unknown key 'raft.hearbeat'"));

  std::string other_table = dir.WriteFile("other.toml", "[meta]\nport = 1\n");
  status = ParseArgs(&config, {"--config", other_table});
  CHECK_THAT(status.message(), Catch::Contains("unknown key 'meta.port'"));
}

TEST_CASE("TOML type errors name the key", "[config]") {
  testing::TempDir dir;
  struct Case {
    const char* toml;
    const char* expected;
  };
  const Case cases[] = {
      {"replication = \"three\"", "key 'replication': expected an integer, got a string"},
      {"replication = -1", "key 'replication': -1 is negative"},
      {"replication = 5000000000", "key 'replication': 5000000000 is out of range"},
      {"port = 3000000000", "key 'port': 3000000000 is out of range"},
      {"data_dir = 5", "key 'data_dir': expected a string, got an integer"},
      {"verbose = \"yes\"", "key 'verbose': expected a boolean, got a string"},
      {"ratio = \"half\"", "key 'ratio': expected a number, got a string"},
      {"peers = \"a:1\"", "key 'peers': expected an array of strings, got a string"},
      {"peers = [\"a\", 1]", "key 'peers': element 1: expected a string, got an integer"},
      {"cache_size = \"lots\"", "key 'cache_size': 'lots' is not a byte size"},
      {"cache_size = true", "key 'cache_size': expected a byte size"},
      {"[raft]\nheartbeat = true", "key 'raft.heartbeat': expected a duration"},
      {"[raft]\nheartbeat = \"soon\"", "key 'raft.heartbeat': 'soon' is not a duration"},
      {"[raft]\nheartbeat = \"1500us\"", "is not a whole number of milliseconds"},
      {"[raft]\nheartbeat = -5", "key 'raft.heartbeat': a duration cannot be negative"},
      {"data_dir = { x = 1 }", "key 'data_dir': expected a string, got a table"},
      {"[raft.heartbeat]\nx = 1", "key 'raft.heartbeat': expected a duration"},
  };
  for (const Case& c : cases) {
    INFO(c.toml);
    std::string path = dir.WriteFile("bad.toml", c.toml);
    TestConfig config;
    Status status = ParseArgs(&config, {"--config", path});
    CHECK(status.code() == ErrorCode::INVALID_ARGUMENT);
    CHECK_THAT(status.message(), Catch::Contains(c.expected));
    CHECK_THAT(status.message(), Catch::StartsWith(path + ":"));
  }
}

TEST_CASE("a broken or missing file is an error naming it", "[config]") {
  testing::TempDir dir;
  TestConfig config;
  std::string path = dir.WriteFile("broken.toml", "data_dir = \"/x\"\nreplication = = 3\n");
  Status status = ParseArgs(&config, {"--config", path});
  CHECK(status.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::StartsWith(path + ":2:"));

  std::string missing = dir.path() + "/missing.toml";
  status = ParseArgs(&config, {"--config", missing});
  CHECK(status.code() == ErrorCode::INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::Contains(missing));
  CHECK_THAT(status.message(), Catch::Contains("No such file or directory"));
}

TEST_CASE("bad command lines are errors naming the flag", "[config]") {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  const Case cases[] = {
      {{"--bogus", "1"}, "unknown flag --bogus"},
      {{"--data_dir", "/x"}, "unknown flag --data_dir"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--replication", "x"}, "flag --replication: 'x' is not an integer"},
      {{"--replication", "-2"}, "flag --replication: '-2' is negative"},
      {{"--replication", "4294967296"}, "flag --replication: '4294967296' is out of range"},
      {{"--offset", "99999999999999999999"}, "flag --offset: '99999999999999999999' is out"},
      {{"--ratio", "0.5x"}, "flag --ratio: '0.5x' is not a number"},
      {{"--verbose=maybe"}, "flag --verbose: 'maybe' is not a boolean"},
      {{"--raft-heartbeat", "5parsecs"}, "flag --raft-heartbeat: '5parsecs' is not a duration"},
      {{"--raft-heartbeat", "1500us"}, "'1500us' is not a whole number of milliseconds"},
      {{"--cache-size", "1.5B"}, "flag --cache-size: '1.5B' is not a whole number of bytes"},
      {{"--data-dir"}, "command line: --data-dir"},
  };
  for (const Case& c : cases) {
    INFO(c.args.front());
    TestConfig config;
    Status status = ParseArgs(&config, c.args);
    CHECK(status.code() == ErrorCode::INVALID_ARGUMENT);
    CHECK_THAT(status.message(), Catch::Contains(c.expected));
  }
}

TEST_CASE("--help prints usage and changes nothing", "[config]") {
  TestConfig config;
  ConfigParser parser("dfs-test", "a test daemon");
  std::ostringstream help;
  parser.set_help_output(&help);
  Status status = ParseArgs(&config, {"--data-dir", "/elsewhere", "--help"}, &parser);
  CHECK(status.code() == ErrorCode::CANCELLED);
  CHECK(parser.help_requested());
  CHECK(config.data_dir == "/var/lib/dfs");

  const std::string text = help.str();
  CHECK_THAT(text, Catch::Contains("a test daemon"));
  CHECK_THAT(text, Catch::Contains("--config FILE"));
  CHECK_THAT(text, Catch::Contains("--data-dir TEXT"));
  CHECK_THAT(text, Catch::Contains("where data lives (default: \"/var/lib/dfs\")"));
  CHECK_THAT(text, Catch::Contains("--raft-heartbeat DURATION"));
  CHECK_THAT(text, Catch::Contains("(default: 100ms)"));
  CHECK_THAT(text, Catch::Contains("--cache-size BYTES"));
  CHECK_THAT(text, Catch::Contains("(default: 64MiB)"));
  CHECK_THAT(text, Catch::Contains("--peers LIST"));
  CHECK_THAT(text, Catch::Contains("--verbose"));
  CHECK_THAT(text, Catch::Contains("--raft-heartbeat is key heartbeat in table [raft]"));
  CHECK(text == parser.Usage());

  TestConfig short_flag;
  ConfigParser other("dfs-test", "");
  other.set_help_output(&help);
  CHECK(ParseArgs(&short_flag, {"-h"}, &other).code() == ErrorCode::CANCELLED);
  CHECK(other.help_requested());
}

TEST_CASE("ToToml writes a file that parses back to the same values", "[config]") {
  TestConfig original;
  original.data_dir = "/with \"quotes\"";
  original.offset = -3;
  original.big = 18446744073709551615ull;  // beyond TOML's integers: written as a string
  original.replication = 7;
  original.verbose = true;
  original.ratio = 0.125;
  original.peers = {"p:1", "q:2"};
  original.heartbeat = milliseconds(1500);
  original.cache_size = Bytes{3ull << 30};

  ConfigParser writer("dfs-test", "");
  Bind(writer, original);
  const std::string toml = writer.ToToml();
  CHECK_THAT(toml, Catch::Contains("[raft]"));
  CHECK_THAT(toml,
             Catch::Contains("cache_size = '3GiB'") || Catch::Contains("cache_size = \"3GiB\""));

  testing::TempDir dir;
  std::string path = dir.WriteFile("effective.toml", toml);
  TestConfig copy;
  REQUIRE(ParseArgs(&copy, {"--config", path}).ok());
  CHECK(copy.data_dir == original.data_dir);
  CHECK(copy.offset == original.offset);
  CHECK(copy.big == original.big);
  CHECK(copy.replication == original.replication);
  CHECK(copy.port == original.port);
  CHECK(copy.verbose == original.verbose);
  CHECK(copy.ratio == original.ratio);
  CHECK(copy.peers == original.peers);
  CHECK(copy.heartbeat == original.heartbeat);
  CHECK(copy.election_timeout == original.election_timeout);
  CHECK(copy.cache_size == original.cache_size);
}

TEST_CASE("registering a bad or duplicate key is a programming error", "[config][death]") {
  auto bad_key = testing::RunInChild([] {
    std::string field;
    ConfigParser parser("dfs-test", "");
    parser.Add("Data-Dir", &field, "");
  });
  CHECK(bad_key.Aborted());
  CHECK_THAT(bad_key.output, Catch::Contains("config key 'Data-Dir'"));

  auto duplicate_flag = testing::RunInChild([] {
    std::string a;
    std::string b;
    ConfigParser parser("dfs-test", "");
    parser.Add("raft.heartbeat", &a, "");
    parser.Add("raft_heartbeat", &b, "");
  });
  CHECK(duplicate_flag.Aborted());
  CHECK_THAT(duplicate_flag.output, Catch::Contains("both make flag --raft-heartbeat"));
}

}  // namespace
}  // namespace dfs
