#include "common/config.h"

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <variant>

#include "common/check.h"

namespace dfs {
namespace {

using Millis = std::chrono::milliseconds;

// A pointer to the bound field, one alternative per supported type.
using Target = std::variant<std::string*, int32_t*, int64_t*, uint32_t*, uint64_t*, bool*, double*,
                            std::vector<std::string>*, Millis*, Bytes*>;

// Shorthand for the dispatch on a field's type in the visitors below.
template <class Field, class T>
constexpr bool Is = std::is_same_v<std::remove_pointer_t<Field>, T>;

// --- Text (flags, and strings inside TOML for durations and sizes) ---------

std::string Quote(std::string_view text) {
  return "'" + std::string(text) + "'";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

Result<bool> ParseBool(std::string_view text) {
  for (const char* yes : {"true", "1", "yes", "on"}) {
    if (EqualsIgnoreCase(text, yes)) return true;
  }
  for (const char* no : {"false", "0", "no", "off"}) {
    if (EqualsIgnoreCase(text, no)) return false;
  }
  return Status::InvalidArgument(Quote(text) + " is not a boolean (true or false)");
}

// A T in range from a 64-bit value read from text or TOML.
template <class T, class Wide>
Result<T> Narrow(Wide value, std::string_view shown) {
  if (std::is_unsigned_v<T> && std::is_signed_v<Wide> && value < 0) {
    return Status::InvalidArgument(std::string(shown) +
                                   " is negative; expected an unsigned integer");
  }
  if (!std::in_range<T>(value)) {
    return Status::InvalidArgument(std::string(shown) + " is out of range [" +
                                   std::to_string(std::numeric_limits<T>::min()) + ", " +
                                   std::to_string(std::numeric_limits<T>::max()) + "]");
  }
  return static_cast<T>(value);
}

template <class T>
Result<T> ParseInteger(std::string_view text) {
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  Wide value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end) {
    // from_chars refuses a '-' for unsigned types; say why rather than "not an integer".
    if (std::is_unsigned_v<T> && !text.empty() && text[0] == '-') {
      return Status::InvalidArgument(Quote(text) + " is negative; expected an unsigned integer");
    }
    return Status::InvalidArgument(Quote(text) + " is not an integer");
  }
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(Quote(text) + " is out of range");
  }
  return Narrow<T>(value, Quote(text));
}

Result<double> ParseDouble(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end || ec != std::errc() || !std::isfinite(value)) {
    return Status::InvalidArgument(Quote(text) + " is not a number");
  }
  return value;
}

Result<Millis> ToMillis(std::chrono::nanoseconds d, std::string_view shown) {
  if (d % Millis(1) != std::chrono::nanoseconds(0)) {
    return Status::InvalidArgument(std::string(shown) + " is not a whole number of milliseconds");
  }
  return std::chrono::duration_cast<Millis>(d);
}

// A duration from text: a bare integer is milliseconds, as in TOML.
Result<Millis> ParseMillis(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    ASSIGN_OR_RETURN(int64_t ms, ParseInteger<int64_t>(text));
    return Millis(ms);
  }
  ASSIGN_OR_RETURN(std::chrono::nanoseconds d, ParseDuration(text));
  return ToMillis(d, Quote(text));
}

// Sets a scalar field from a flag's text. REQUIRES: not a list field.
Status SetFromText(const Target& target, std::string_view text) {
  return std::visit(
      [&](auto* field) -> Status {
        using F = decltype(field);
        if constexpr (Is<F, std::string>) {
          *field = std::string(text);
        } else if constexpr (Is<F, bool>) {
          ASSIGN_OR_RETURN(*field, ParseBool(text));
        } else if constexpr (Is<F, double>) {
          ASSIGN_OR_RETURN(*field, ParseDouble(text));
        } else if constexpr (Is<F, Millis>) {
          ASSIGN_OR_RETURN(*field, ParseMillis(text));
        } else if constexpr (Is<F, Bytes>) {
          ASSIGN_OR_RETURN(field->value, ParseBytes(text));
        } else if constexpr (Is<F, std::vector<std::string>>) {
          DFS_CHECK(false) << "list options are set from the flag's list";
        } else {
          ASSIGN_OR_RETURN(*field, ParseInteger<std::remove_pointer_t<F>>(text));
        }
        return Status::Ok();
      },
      target);
}

// --- TOML -------------------------------------------------------------------

const char* TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Status WrongType(const toml::node& node, std::string_view expected) {
  return Status::InvalidArgument("expected " + std::string(expected) + ", got " +
                                 TomlTypeName(node));
}

// Sets a field from a TOML value of the matching type.
Status SetFromToml(const Target& target, const toml::node& node) {
  return std::visit(
      [&](auto* field) -> Status {
        using F = decltype(field);
        if constexpr (Is<F, std::string>) {
          if (!node.is_string()) return WrongType(node, "a string");
          *field = node.as_string()->get();
        } else if constexpr (Is<F, bool>) {
          if (!node.is_boolean()) return WrongType(node, "a boolean");
          *field = node.as_boolean()->get();
        } else if constexpr (Is<F, double>) {
          if (node.is_floating_point()) {
            *field = node.as_floating_point()->get();
          } else if (node.is_integer()) {
            *field = static_cast<double>(node.as_integer()->get());
          } else {
            return WrongType(node, "a number");
          }
        } else if constexpr (Is<F, std::vector<std::string>>) {
          if (!node.is_array()) return WrongType(node, "an array of strings");
          std::vector<std::string> values;
          for (const toml::node& element : *node.as_array()) {
            if (!element.is_string()) {
              return WrongType(element, "a string")
                  .WithContext("element " + std::to_string(values.size()));
            }
            values.push_back(element.as_string()->get());
          }
          *field = std::move(values);
        } else if constexpr (Is<F, Millis>) {
          if (node.is_integer()) {
            const int64_t ms = node.as_integer()->get();
            if (ms < 0) return Status::InvalidArgument("a duration cannot be negative");
            *field = Millis(ms);
          } else if (node.is_string()) {
            ASSIGN_OR_RETURN(*field, ParseMillis(node.as_string()->get()));
          } else {
            return WrongType(node, "a duration (integer milliseconds or a string like \"500ms\")");
          }
        } else if constexpr (Is<F, Bytes>) {
          if (node.is_integer()) {
            ASSIGN_OR_RETURN(field->value,
                             Narrow<uint64_t>(node.as_integer()->get(), "a byte size"));
          } else if (node.is_string()) {
            ASSIGN_OR_RETURN(field->value, ParseBytes(node.as_string()->get()));
          } else {
            return WrongType(node, "a byte size (integer bytes or a string like \"64MiB\")");
          }
        } else {
          using T = std::remove_pointer_t<F>;
          if (node.is_integer()) {
            const int64_t value = node.as_integer()->get();
            ASSIGN_OR_RETURN(*field, Narrow<T>(value, std::to_string(value)));
          } else if (std::is_same_v<T, uint64_t> && node.is_string()) {
            // TOML integers stop at 2^63 - 1; larger uint64 values are strings.
            ASSIGN_OR_RETURN(*field, ParseInteger<T>(node.as_string()->get()));
          } else {
            return WrongType(node, "an integer");
          }
        }
        return Status::Ok();
      },
      target);
}

// "file:line:column" of a TOML element, for messages.
std::string Where(const std::string& path, const toml::source_region& source) {
  return path + ":" + std::to_string(source.begin.line) + ":" + std::to_string(source.begin.column);
}

// --- Rendering ----------------------------------------------------------------

std::string FormatDouble(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

// The field's value as --help shows it.
std::string Describe(const Target& target) {
  return std::visit(
      [](auto* field) -> std::string {
        using F = decltype(field);
        if constexpr (Is<F, std::string>) {
          return "\"" + *field + "\"";
        } else if constexpr (Is<F, bool>) {
          return *field ? "true" : "false";
        } else if constexpr (Is<F, double>) {
          return FormatDouble(*field);
        } else if constexpr (Is<F, std::vector<std::string>>) {
          std::string text;
          for (const std::string& value : *field)
            text += (text.empty() ? "" : ",") + value;
          return text.empty() ? "none" : text;
        } else if constexpr (Is<F, Millis>) {
          return FormatDuration(*field);
        } else if constexpr (Is<F, Bytes>) {
          return FormatBytes(field->value);
        } else {
          return std::to_string(*field);
        }
      },
      target);
}

// The placeholder --help shows after a flag.
const char* FlagTypeName(const Target& target) {
  return std::visit(
      [](auto* field) -> const char* {
        using F = decltype(field);
        if constexpr (Is<F, std::string>) return "TEXT";
        if constexpr (Is<F, bool>) return "";
        if constexpr (Is<F, double>) return "NUMBER";
        if constexpr (Is<F, std::vector<std::string>>) return "LIST";
        if constexpr (Is<F, Millis>) return "DURATION";
        if constexpr (Is<F, Bytes>) return "BYTES";
        if constexpr (Is<F, int32_t> || Is<F, int64_t>) return "INT";
        return "UINT";
      },
      target);
}

// Inserts the field's value into `table` under `name`, in a form that
// SetFromToml reads back.
void InsertToml(toml::table& table, const std::string& name, const Target& target) {
  std::visit(
      [&](auto* field) {
        using F = decltype(field);
        if constexpr (Is<F, std::vector<std::string>>) {
          toml::array values;
          for (const std::string& value : *field)
            values.push_back(value);
          table.insert_or_assign(name, std::move(values));
        } else if constexpr (Is<F, Millis>) {
          table.insert_or_assign(name, FormatDuration(*field));
        } else if constexpr (Is<F, Bytes>) {
          table.insert_or_assign(name, FormatBytes(field->value));
        } else if constexpr (Is<F, uint64_t>) {
          if (std::in_range<int64_t>(*field)) {
            table.insert_or_assign(name, static_cast<int64_t>(*field));
          } else {
            table.insert_or_assign(name, std::to_string(*field));
          }
        } else if constexpr (Is<F, int32_t> || Is<F, uint32_t>) {
          table.insert_or_assign(name, static_cast<int64_t>(*field));
        } else {
          table.insert_or_assign(name, *field);
        }
      },
      target);
}

bool IsValidKeyPart(std::string_view part) {
  if (part.empty() || part[0] < 'a' || part[0] > 'z') return false;
  for (char c : part) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

// One bound key.
struct ConfigParser::Option {
  std::string key;    // "raft.heartbeat"
  std::string table;  // "raft", or empty for a top-level key
  std::string name;   // "heartbeat"
  std::string flag;   // "--raft-heartbeat"
  std::string help;
  Target target;
  std::optional<std::string> default_text;  // the value when Parse started

  // Filled from the command line by CLI11 during Parse.
  std::string flag_text;
  std::vector<std::string> flag_list;
};

ConfigParser::ConfigParser(std::string program, std::string description)
    : program_(std::move(program)),
      description_(std::move(description)),
      help_output_(&std::cout) {}

ConfigParser::~ConfigParser() = default;

ConfigParser::Option& ConfigParser::Register(std::string_view key, std::string_view help) {
  const size_t dot = key.find('.');
  const std::string_view table = dot == std::string_view::npos ? "" : key.substr(0, dot);
  const std::string_view name = dot == std::string_view::npos ? key : key.substr(dot + 1);
  DFS_CHECK((table.empty() || IsValidKeyPart(table)) && IsValidKeyPart(name))
      << "config key '" << key << "' must be name or table.name in lower_snake_case";

  auto option = std::make_unique<Option>();
  option->key = std::string(key);
  option->table = std::string(table);
  option->name = std::string(name);
  option->flag = "--" + option->key;
  for (char& c : option->flag) {
    if (c == '_' || c == '.') c = '-';
  }
  option->help = std::string(help);

  DFS_CHECK(key != "config" && key != "help") << "config key '" << key << "' is reserved";
  for (const auto& other : options_) {
    DFS_CHECK(other->key != key) << "config key '" << key << "' registered twice";
    DFS_CHECK(other->flag != option->flag)
        << "config keys '" << other->key << "' and '" << key << "' both make flag " << option->flag;
    DFS_CHECK(other->key != option->table && other->table != option->key)
        << "config key '" << (table.empty() ? other->key : option->key)
        << "' would need a TOML table and a value of the same name";
  }
  options_.push_back(std::move(option));
  return *options_.back();
}

#define DFS_CONFIG_ADD_(Type)                                                        \
  void ConfigParser::Add(std::string_view key, Type* field, std::string_view help) { \
    DFS_CHECK(field != nullptr);                                                     \
    Register(key, help).target = field;                                              \
  }
DFS_CONFIG_ADD_(std::string)
DFS_CONFIG_ADD_(int32_t)
DFS_CONFIG_ADD_(int64_t)
DFS_CONFIG_ADD_(uint32_t)
DFS_CONFIG_ADD_(uint64_t)
DFS_CONFIG_ADD_(bool)
DFS_CONFIG_ADD_(double)
DFS_CONFIG_ADD_(std::vector<std::string>)
DFS_CONFIG_ADD_(Millis)
DFS_CONFIG_ADD_(Bytes)
#undef DFS_CONFIG_ADD_

ConfigParser::Option* ConfigParser::Find(std::string_view key) {
  for (const auto& option : options_) {
    if (option->key == key) return option.get();
  }
  return nullptr;
}

namespace {

// The footer of --help: how flags map to TOML, with examples from `options`.
template <class Options>
std::string TomlFooter(const Options& options) {
  std::string text =
      "Every option can also be set in the TOML file given with --config; flags override "
      "the file.";
  const char* first = " For example ";
  bool plain_done = false;
  bool table_done = false;
  for (const auto& option : options) {
    if (option->table.empty() && !plain_done) {
      text += first + option->flag + " is key " + option->name;
      plain_done = true;
    } else if (!option->table.empty() && !table_done) {
      text +=
          first + option->flag + " is key " + option->name + " in table [" + option->table + "]";
      table_done = true;
    } else {
      continue;
    }
    first = ", and ";
  }
  return text + (plain_done || table_done ? ".\n" : "\n");
}

}  // namespace

std::string ConfigParser::Usage() const {
  CLI::App app(description_, program_);
  app.set_help_flag("-h,--help", "print this help and exit");
  app.get_formatter()->column_width(36);
  std::string unused;
  app.add_option("-c,--config", unused, "TOML file with any of the options below")
      ->type_name("FILE");
  for (const auto& option : options_) {
    const std::string help =
        option->help + " (default: " + option->default_text.value_or(Describe(option->target)) +
        ")";
    if (std::holds_alternative<bool*>(option->target)) {
      app.add_flag(option->flag, option->flag_text, help);
    } else {
      app.add_option(option->flag, option->flag_text, help)
          ->type_name(FlagTypeName(option->target));
    }
  }
  app.footer(TomlFooter(options_));
  return app.help();
}

Status ConfigParser::Parse(int argc, const char* const* argv) {
  DFS_CHECK(!parsed_) << "ConfigParser::Parse called twice";
  DFS_CHECK_GE(argc, 1) << "argv[0] must be the program";
  parsed_ = true;
  for (const auto& option : options_)
    option->default_text = Describe(option->target);

  CLI::App app(description_, program_);
  app.set_help_flag("-h,--help");
  // Unknown arguments are collected rather than thrown, for a clearer message.
  app.allow_extras(true);
  std::string config_path;
  app.add_option("-c,--config", config_path);
  std::vector<const CLI::Option*> flags;  // parallel to options_
  for (const auto& option : options_) {
    if (std::holds_alternative<bool*>(option->target)) {
      flags.push_back(app.add_flag(option->flag, option->flag_text));
    } else if (std::holds_alternative<std::vector<std::string>*>(option->target)) {
      flags.push_back(
          app.add_option(option->flag, option->flag_list)->delimiter(',')->allow_extra_args(false));
    } else {
      flags.push_back(app.add_option(option->flag, option->flag_text)
                          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast));
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    help_requested_ = true;
    *help_output_ << Usage();
    return Status::Cancelled("help requested");
  } catch (const CLI::Error& e) {
    return Status::InvalidArgument(std::string("command line: ") + e.what());
  }
  const std::vector<std::string> extras = app.remaining();
  if (!extras.empty()) {
    const std::string& first = extras.front();
    return Status::InvalidArgument((first.size() > 1 && first[0] == '-'
                                        ? "unknown flag " + first
                                        : "unexpected argument " + Quote(first)) +
                                   " (see --help)");
  }

  if (!config_path.empty()) RETURN_IF_ERROR(LoadFile(config_path));

  for (size_t i = 0; i < options_.size(); ++i) {
    Option* option = options_[i].get();
    if (flags[i]->count() == 0) continue;
    if (auto* list = std::get_if<std::vector<std::string>*>(&option->target)) {
      (*list)->clear();
      for (std::string& value : option->flag_list) {
        if (!value.empty()) (*list)->push_back(std::move(value));
      }
      continue;
    }
    RETURN_IF_ERROR(SetFromText(option->target, option->flag_text), "flag " << option->flag);
  }
  return Status::Ok();
}

Status ConfigParser::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(ErrorCode::INVALID_ARGUMENT,
                  Status::FromErrno(errno, "cannot read config file " + path).message());
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read config file " + path);

  // toml++ reports syntax errors by exception; they stop here.
  toml::table root;
  try {
    root = toml::parse(content.str(), path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(Where(path, e.source()) + ": " + std::string(e.description()));
  }

  for (const auto& [top_key, top_value] : root) {
    const std::string key(top_key.str());
    Option* option = Find(key);
    if (option == nullptr && top_value.is_table()) {
      for (const auto& [sub_key, sub_value] : *top_value.as_table()) {
        const std::string full_key = key + "." + std::string(sub_key.str());
        Option* sub_option = Find(full_key);
        if (sub_option == nullptr) {
          return Status::InvalidArgument(Where(path, sub_key.source()) + ": unknown key " +
                                         Quote(full_key));
        }
        RETURN_IF_ERROR(SetFromToml(sub_option->target, sub_value),
                        Where(path, sub_value.source()) << ": key " << Quote(full_key));
      }
      continue;
    }
    if (option == nullptr) {
      return Status::InvalidArgument(Where(path, top_key.source()) + ": unknown key " + Quote(key));
    }
    RETURN_IF_ERROR(SetFromToml(option->target, top_value), Where(path, top_value.source())
                                                                << ": key " << Quote(key));
  }
  return Status::Ok();
}

std::string ConfigParser::ToToml() const {
  toml::table root;
  for (const auto& option : options_) {
    if (option->table.empty()) {
      InsertToml(root, option->name, option->target);
    } else {
      auto [it, inserted] = root.insert(option->table, toml::table());
      InsertToml(*it->second.as_table(), option->name, option->target);
    }
  }
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace dfs
