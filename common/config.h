// Daemon configuration: a TOML file, and every key also a command-line flag.
//
// A daemon keeps its settings in a plain struct whose initial values are the
// defaults, binds each field to a key, and parses:
//
//   struct MetaConfig {
//     std::string data_dir = "/var/lib/dfs/meta";
//     std::chrono::milliseconds raft_heartbeat{100};
//     Bytes cache_size{64 << 20};
//   };
//
//   MetaConfig cfg;
//   ConfigParser parser("dfs-meta", "dfs metadata server");
//   parser.Add("data_dir", &cfg.data_dir, "where the RocksDB state lives");
//   parser.Add("raft.heartbeat", &cfg.raft_heartbeat, "leader heartbeat interval");
//   parser.Add("cache_size", &cfg.cache_size, "block cache size");
//   Status status = parser.Parse(argc, argv);
//   if (parser.help_requested()) return 0;
//   if (!status.ok()) { ...print status...; return 2; }
//
// Names: key "data_dir" is flag --data-dir; key "raft.heartbeat" is key
// "heartbeat" in TOML table [raft] and flag --raft-heartbeat. One level of
// tables is supported.
//
// Precedence, lowest first: the field's value before Parse (the default),
// the file given by --config FILE (or -c FILE), then flags. Unknown keys in
// the file and unknown flags are errors, so a typo never silently leaves a
// default in place.
//
// Values, in TOML and as flags:
//   std::string, int32_t, int64_t, uint32_t, uint64_t, bool, double:
//       the TOML type (an integer also fills a double); as a flag, its text.
//       A bool flag alone means true; --flag=false sets false.
//   std::vector<std::string>: a TOML array of strings; as a flag, repeat it
//       or separate with commas (--peers a:1,b:1); flags replace the file's
//       list; --peers "" sets it empty.
//   std::chrono::milliseconds: an integer (milliseconds) or a string for
//       ParseDuration ("500ms", "2s", "1m"); must be whole milliseconds.
//   Bytes: an integer (bytes) or a string for ParseBytes ("64MiB").
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/units.h"

namespace dfs {

// Binds config keys to fields and fills them from a TOML file and flags.
// Single-threaded; meant to be used once, at process start.
class ConfigParser {
 public:
  // `program` and `description` head the --help text.
  ConfigParser(std::string program, std::string description);
  ~ConfigParser();
  ConfigParser(const ConfigParser&) = delete;
  ConfigParser& operator=(const ConfigParser&) = delete;

  // Binds `key` to *field; `help` describes it for --help.
  // REQUIRES: key is "name" or "table.name", each part lower-case letters,
  // digits and '_', starting with a letter; key and its flag are not yet
  // registered and are not "config" or "help"; *field outlives the parser.
  // Breaking these is a programming error and fails a DFS_CHECK.
  void Add(std::string_view key, std::string* field, std::string_view help);
  void Add(std::string_view key, int32_t* field, std::string_view help);
  void Add(std::string_view key, int64_t* field, std::string_view help);
  void Add(std::string_view key, uint32_t* field, std::string_view help);
  void Add(std::string_view key, uint64_t* field, std::string_view help);
  void Add(std::string_view key, bool* field, std::string_view help);
  void Add(std::string_view key, double* field, std::string_view help);
  void Add(std::string_view key, std::vector<std::string>* field, std::string_view help);
  void Add(std::string_view key, std::chrono::milliseconds* field, std::string_view help);
  void Add(std::string_view key, Bytes* field, std::string_view help);

  // Reads the command line (argv[0] is the program), then the --config file
  // if given, and fills the bound fields: file values first, flags over them.
  // Errors are INVALID_ARGUMENT with a message naming the flag, or the file,
  // line and key; on error the fields may hold a mix of old and new values.
  // --help (-h) prints Usage() to the help output, sets help_requested() and
  // returns CANCELLED without reading the file or touching any field.
  Status Parse(int argc, const char* const* argv);

  // True after Parse saw --help: the caller should exit with status 0.
  bool help_requested() const { return help_requested_; }

  // Where --help prints; std::cout unless changed. Not owned.
  void set_help_output(std::ostream* out) { help_output_ = out; }

  // The --help text: every flag with its help and default (the field's value
  // when Parse started, or now if Parse has not run), and a footer showing
  // how flags map to TOML keys.
  std::string Usage() const;

  // The current value of every bound field as a TOML document, which Parse
  // accepts back: for logging the effective configuration at startup.
  std::string ToToml() const;

 private:
  struct Option;

  Option& Register(std::string_view key, std::string_view help);
  Option* Find(std::string_view key);
  Status LoadFile(const std::string& path);

  std::string program_;
  std::string description_;
  std::vector<std::unique_ptr<Option>> options_;  // in registration order
  bool parsed_ = false;
  bool help_requested_ = false;
  std::ostream* help_output_;
};

}  // namespace dfs
