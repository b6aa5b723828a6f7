#include "tools/dfsadmin/admin_report.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <google/protobuf/struct.pb.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace dfs::admin {

namespace {

// Columns of text, each as wide as its widest cell, two spaces apart;
// numbers right-aligned.
class Table {
 public:
  struct Column {
    std::string title;
    bool right = false;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width(columns_.size());
    for (size_t c = 0; c < columns_.size(); c++) {
      width[c] = columns_[c].title.size();
      for (const auto& row : rows_)
        width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    auto line = [&](auto cell) {
      std::string text;
      for (size_t c = 0; c < columns_.size(); c++) {
        const std::string& s = cell(c);
        std::string pad(width[c] - s.size(), ' ');
        if (c > 0) text += "  ";
        text += columns_[c].right ? pad + s : s + pad;
      }
      text.erase(text.find_last_not_of(' ') + 1);
      out += text + "\n";
    };
    line([&](size_t c) -> const std::string& { return columns_[c].title; });
    for (const auto& row : rows_)
      line([&](size_t c) -> const std::string& { return row[c]; });
    return out;
  }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// A summary line: the label in a fixed column, then `key value` pairs.
std::string Summary(const std::string& label, const std::string& text) {
  return fmt::format("{:<10} {}\n", label, text);
}

std::string UsedPercent(const pb::NodeInfo& n) {
  double used = n.used_fraction();
  if (used <= 0 && n.capacity_bytes() > 0) {
    uint64_t free = std::min(n.free_bytes(), n.capacity_bytes());
    used = static_cast<double>(n.capacity_bytes() - free) / static_cast<double>(n.capacity_bytes());
  }
  if (n.capacity_bytes() == 0 && used <= 0) return "-";
  return fmt::format("{:.1f}", used * 100);
}

// A "name  value" line of a record, names in a fixed column.
std::string Field(const std::string& name, const std::string& value) {
  return fmt::format("{:<13}{}\n", name, value);
}

std::string FileTypeName(pb::FileType type) {
  switch (type) {
    case pb::FILE_TYPE_REGULAR:
      return "regular file";
    case pb::FILE_TYPE_DIRECTORY:
      return "directory";
    case pb::FILE_TYPE_SYMLINK:
      return "symbolic link";
    case pb::FILE_TYPE_FIFO:
      return "fifo";
    case pb::FILE_TYPE_SOCKET:
      return "socket";
    default:
      return "unknown (" + std::to_string(static_cast<int>(type)) + ")";
  }
}

// Chunk ids in hex, as the chunk servers name their files.
std::string ChunkIdHex(uint64_t id) {
  return fmt::format("{:016x}", id);
}

// "2024-05-01 12:00:00.123456789 UTC".
std::string FormatTimespec(const pb::Timespec& t) {
  std::time_t sec = static_cast<std::time_t>(t.sec());
  std::tm tm{};
  gmtime_r(&sec, &tm);
  char day[32];
  std::strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:09d} UTC", day, t.nsec());
}

std::string BandwidthText(const pb::RepairLimits& limits) {
  return limits.bandwidth() == 0 ? "unlimited" : HumanBytes(limits.bandwidth()) + "/s";
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    unit++;
  }
  // One decimal where it tells something: "1.1 GiB", but "80 GiB", "245 GiB".
  double tenths = std::round(value * 10) / 10;
  if (tenths >= 100 || tenths == std::floor(tenths)) {
    return fmt::format("{:.0f} {}", value, kUnits[unit]);
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

Health Judge(const pb::StatusReply& s, std::vector<std::string>* problems) {
  std::vector<std::string> found;
  for (const pb::NodeInfo& n : s.nodes()) {
    if (n.state() == "dead") found.push_back(fmt::format("node {} dead", n.node_id()));
    // A new leader has not heard it yet: not known to be alive.
    if (n.state() == "unknown") {
      found.push_back(fmt::format("node {} not heard from yet", n.node_id()));
    }
  }
  if (s.chunks_lost() > 0) found.push_back(fmt::format("{} chunks lost", s.chunks_lost()));
  if (s.chunks_under_replicated() > 0) {
    found.push_back(fmt::format("{} chunks under-replicated", s.chunks_under_replicated()));
  }
  // Chunks neither lost nor under-replicated can still be unhealthy (on
  // too few zones, or waiting for a version fix): said once, not twice.
  // Chunks just written wait a heartbeat for their reports: not a problem.
  const uint64_t settled = s.chunks_healthy() + s.chunks_pending();
  uint64_t unhealthy = s.chunks_total() - std::min(settled, s.chunks_total());
  uint64_t explained = s.chunks_lost() + s.chunks_under_replicated();
  if (unhealthy > explained) {
    found.push_back(fmt::format("{} {}chunks not healthy", unhealthy - explained,
                                explained > 0 ? "more " : ""));
  }
  Health verdict = found.empty() ? Health::kHealthy : Health::kDegraded;
  if (problems != nullptr) *problems = std::move(found);
  return verdict;
}

std::string FormatRepairLimits(const pb::RepairLimits& limits) {
  return fmt::format("{} jobs, {} per node, bandwidth {}", limits.max_jobs(),
                     limits.per_node_jobs(), BandwidthText(limits));
}

std::string FormatNodes(const pb::StatusReply& s) {
  if (s.nodes().empty()) return "(none registered)\n";
  Table nodes({{"NODE"},
               {"ZONE"},
               {"ADDRESS"},
               {"STATE"},
               {"CAPACITY", true},
               {"FREE", true},
               {"USED%", true},
               {"CHUNKS", true}});
  std::vector<pb::NodeInfo> sorted_nodes(s.nodes().begin(), s.nodes().end());
  std::sort(sorted_nodes.begin(), sorted_nodes.end(),
            [](const auto& a, const auto& b) { return a.node_id() < b.node_id(); });
  for (const pb::NodeInfo& n : sorted_nodes) {
    // Space and replicas are what the server last reported (a dead one's
    // too); a new leader has none from a server it has not heard yet.
    const bool heard = n.state() != "unknown";
    nodes.Add({std::to_string(n.node_id()), n.zone(), n.address(), n.state(),
               HumanBytes(n.capacity_bytes()), heard ? HumanBytes(n.free_bytes()) : "-",
               heard ? UsedPercent(n) : "-", heard ? std::to_string(n.chunks()) : "-"});
  }
  return nodes.Render();
}

std::string FormatRepairLimitLines(const pb::RepairLimits& l) {
  return fmt::format("max jobs       {}\nper-node jobs  {}\nbandwidth      {}\n", l.max_jobs(),
                     l.per_node_jobs(), BandwidthText(l));
}

std::string FormatFile(const FileInfo& f) {
  const pb::InodeAttr& a = f.attr;
  std::string out;
  out += Field("path", f.path);
  out += Field("inode", std::to_string(a.inode()));
  out += Field("type", FileTypeName(a.type()));
  out += Field("size", fmt::format("{} ({} bytes)", HumanBytes(a.size()), a.size()));
  out += Field("mode", fmt::format("{:04o}", a.mode()));
  out += Field("uid/gid", fmt::format("{}/{}", a.uid(), a.gid()));
  out += Field("nlink", std::to_string(a.nlink()));
  out += Field("mtime", FormatTimespec(a.mtime()));
  out += Field("data_version", std::to_string(a.data_version()));
  if (a.type() != pb::FILE_TYPE_REGULAR) return out;
  out += Field("chunk size", HumanBytes(f.chunk_size));
  out += Field("chunks", std::to_string(f.chunks.size()));
  if (f.chunks.empty()) return out;
  out += "\n";
  Table chunks({{"INDEX", true}, {"CHUNK"}, {"VERSION", true}, {"LENGTH", true}, {"REPLICAS"}});
  for (const pb::ChunkLocation& c : f.chunks) {
    std::string replicas;
    for (const pb::ChunkReplica& r : c.replicas()) {
      if (!replicas.empty()) replicas += ", ";
      replicas += fmt::format("{} ({} {})", r.node_id(), r.address(), r.zone());
    }
    chunks.Add({std::to_string(c.index()), ChunkIdHex(c.chunk_id()), std::to_string(c.version()),
                std::to_string(c.length()), replicas.empty() ? "(none)" : replicas});
  }
  return out + chunks.Render();
}

std::string FormatFsckProblem(const pb::FsckProblem& p) {
  std::string out = p.kind() + "  inode " + std::to_string(p.inode());
  if (p.chunk_id() != 0) out += "  chunk " + ChunkIdHex(p.chunk_id());
  if (!p.detail().empty()) out += "  " + p.detail();
  if (p.fixed()) out += "  (fixed)";
  return out + "\n";
}

std::string FormatFsckSummary(const pb::FsckSummary& s) {
  std::string out = fmt::format("checked {} directories, {} files, {} other, {} chunks\n",
                                s.directories(), s.files(), s.other(), s.chunks());
  uint64_t left = s.problems() - std::min(s.fixed(), s.problems());
  if (s.problems() == 0) {
    out += "no problems found\n";
  } else {
    out += fmt::format("{} problems found, {} fixed, {} remain\n", s.problems(), s.fixed(), left);
  }
  return out;
}

std::string FormatStatus(const pb::StatusReply& s) {
  std::string out;
  std::string leader = "unknown";
  if (s.leader_id() != 0) {
    leader = std::to_string(s.leader_id());
    for (const pb::MetaMember& m : s.members()) {
      if (m.id() == s.leader_id() && !m.address().empty()) leader += " (" + m.address() + ")";
    }
  }
  out += fmt::format("cluster {}  leader {}  term {}\n\n", s.cluster_id(), leader, s.term());

  out += "META SERVERS\n";
  Table members({{"ID"}, {"ADDRESS"}, {"ROLE"}, {"MATCH", true}, {"APPLIED", true}});
  std::vector<pb::MetaMember> sorted_members(s.members().begin(), s.members().end());
  std::sort(sorted_members.begin(), sorted_members.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  for (const pb::MetaMember& m : sorted_members) {
    members.Add({std::to_string(m.id()), m.address().empty() ? "-" : m.address(), m.role(),
                 m.match_index() == 0 ? "-" : std::to_string(m.match_index()),
                 m.applied_index() == 0 ? "-" : std::to_string(m.applied_index())});
  }
  out += members.Render() + "\n";

  out += "CHUNK SERVERS\n" + FormatNodes(s) + "\n";

  out += Summary(
      "CHUNKS",
      fmt::format("total {}  healthy {}  under-replicated {}  lost {}  "
                  "zone-degraded {}  over-replicated {}",
                  s.chunks_total(), s.chunks_healthy(), s.chunks_under_replicated(),
                  s.chunks_lost(), s.chunks_zone_degraded(), s.chunks_over_replicated()) +
          (s.chunks_pending() > 0 ? fmt::format("  pending {} (just written)", s.chunks_pending())
                                  : std::string()));
  std::string repair = s.repair_waiting() ? "waiting (new leader)  " : "";
  repair += fmt::format("queued {}  running {}  done {}  failed {}  copied {}  rate {}/s",
                        s.repair_queued(), s.repair_running(), s.repair_done(), s.repair_failed(),
                        HumanBytes(s.repair_bytes()),
                        HumanBytes(static_cast<uint64_t>(std::max(0.0, s.repair_bytes_per_sec()))));
  if (s.has_repair_limits()) repair += "  limits: " + FormatRepairLimits(s.repair_limits());
  out += Summary("REPAIR", repair);
  out += Summary("REBALANCE", fmt::format("balanced {}  queued {}", s.balanced() ? "yes" : "no",
                                          s.rebalance_queued()));
  out +=
      Summary("TRASH", fmt::format("{} file{}  {}", s.trash_entries(),
                                   s.trash_entries() == 1 ? "" : "s", HumanBytes(s.trash_bytes())));
  out += Summary("LOCKS", fmt::format("{} held on {} files  {} mount sessions", s.locks_held(),
                                      s.locked_inodes(), s.lock_sessions()));

  std::vector<std::string> problems;
  if (Judge(s, &problems) == Health::kHealthy) {
    // A new leader reports no chunk counts until its first judgement.
    out += Summary("HEALTH", s.repair_waiting()
                                 ? "healthy so far (chunks not judged yet: the leader is new)"
                                 : "healthy");
  } else {
    std::string text = "degraded:";
    for (size_t i = 0; i < problems.size(); i++)
      text += (i == 0 ? " " : ", ") + problems[i];
    out += Summary("HEALTH", text);
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) out = "{}";
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

std::string ToJsonValue(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) out = "{}";
  return out;
}

std::string JsonString(const std::string& text) {
  google::protobuf::Value value;
  value.set_string_value(text);
  return ToJsonValue(value);
}

std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); i++) {
    out += (i == 0 ? "\n  " : ",\n  ") + JsonString(fields[i].first) + ": " + fields[i].second;
  }
  return out + "\n}\n";
}

std::string JsonArray(const std::vector<std::string>& values) {
  if (values.empty()) return "[]";
  std::string out = "[";
  for (size_t i = 0; i < values.size(); i++)
    out += (i == 0 ? "\n    " : ",\n    ") + values[i];
  return out + "\n  ]";
}

}  // namespace dfs::admin
