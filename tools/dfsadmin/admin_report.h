// What dfsadmin prints: the cluster's status as tables for people, or as
// JSON for programs, and the health verdict its exit code reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "proto/admin.pb.h"
#include "tools/dfsadmin/file_info.h"

namespace dfs::admin {

// The verdict `dfsadmin status` reports in its exit code.
enum class Health {
  kHealthy = 0,   // every chunk healthy, none lost or under-replicated, no node dead
  kDegraded = 1,  // the leader answered, and something is not right
};

// The verdict for `status`, and in `problems` (if given) why it is not
// healthy, e.g. "node 3 dead", "4 chunks under-replicated".
Health Judge(const pb::StatusReply& status, std::vector<std::string>* problems = nullptr);

// The human report of `dfsadmin status`: the leader line, the meta
// members, the chunk servers, chunk health, repair and rebalance, and the
// verdict. Ends with a newline.
std::string FormatStatus(const pb::StatusReply& status);

// The chunk servers' table of `status`, alone (`dfsadmin nodes`): node,
// zone, address, state, capacity, free, used %, chunks; sorted by node id.
std::string FormatNodes(const pb::StatusReply& status);

// The limits as `repair-limits` prints them, one per line.
std::string FormatRepairLimitLines(const pb::RepairLimits& limits);

// `dfsadmin file`: the attributes, then one row per chunk (index, chunk id
// in hex, version, length, replicas in chain order).
std::string FormatFile(const FileInfo& file);

// One fsck problem as a line: kind, inode, chunk (hex) if any, the
// server's sentence, and "(fixed)" when it was.
std::string FormatFsckProblem(const pb::FsckProblem& problem);
// The closing lines of fsck: what was checked, problems found and fixed.
std::string FormatFsckSummary(const pb::FsckSummary& summary);

// "4 jobs, 2 per node, bandwidth unlimited" (or "bandwidth 100 MiB/s").
std::string FormatRepairLimits(const pb::RepairLimits& limits);

// A size for people: "512 B", "1.1 GiB", "80 GiB", "245 GiB" (binary units,
// one decimal below 100 unless whole).
std::string HumanBytes(uint64_t bytes);

// `message` as JSON with the proto field names, every field printed even
// when zero, and a final newline.
std::string ToJson(const google::protobuf::Message& message);
// The same on one line, no final newline: a value inside JsonObject.
std::string ToJsonValue(const google::protobuf::Message& message);
// `text` as a JSON string, quoted and escaped.
std::string JsonString(const std::string& text);
// A JSON object of `fields` (name, JSON value) in order, one field a line,
// with a final newline; JsonArray the values as an array inside it, one
// value a line. 64-bit numbers go in as JSON strings, as proto3 JSON has
// them (JsonString(std::to_string(n))).
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields);
std::string JsonArray(const std::vector<std::string>& values);

}  // namespace dfs::admin
