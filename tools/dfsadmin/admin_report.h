// What dfsadmin prints: the cluster's status as tables for people, or as
// JSON for programs, and the health verdict its exit code reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "proto/admin.pb.h"

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

// "4 jobs, 2 per node, bandwidth unlimited" (or "bandwidth 100 MiB/s").
std::string FormatRepairLimits(const pb::RepairLimits& limits);

// A size for people: "512 B", "1.1 GiB", "80 GiB", "245 GiB" (binary units,
// one decimal below 100 unless whole).
std::string HumanBytes(uint64_t bytes);

// `message` as JSON with the proto field names, every field printed even
// when zero, and a final newline.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace dfs::admin
