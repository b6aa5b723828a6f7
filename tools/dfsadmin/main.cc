// dfsadmin: the operator's command line for a dfs cluster (tools/README.md).
//
//   dfsadmin [--meta ADDRS] [--json] [--timeout D] status
//   dfsadmin drain NODE_ID
//   dfsadmin repair-limits [--max-jobs N] [--per-node-jobs N] [--bandwidth SIZE]
//
// Exit codes: 0 success (status: healthy); 1 failure (status: degraded);
// 2 bad usage, or (status) no leader answered.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "common/units.h"
#include "tools/dfsadmin/admin_client.h"
#include "tools/dfsadmin/admin_report.h"

namespace dfs::admin {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // status: degraded
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 2;  // status only

// Counts such as --max-jobs: 1 or more (the leader checks the upper bound).
const CLI::Validator kAtLeastOne(
    [](std::string& text) -> std::string {
      bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || text.find_first_not_of('0') == std::string::npos) {
        return "must be a whole number, 1 or more (got " + text + ")";
      }
      return "";
    },
    "");

struct GlobalFlags {
  std::string meta;
  bool json = false;
  std::string timeout = "5s";
};

void PrintError(const std::string& what, const Status& status) {
  std::cerr << "dfsadmin: " << what << ": " << status.ToString() << "\n";
}

// A duration flag: "5s", "500ms", "1m"; a bare number is seconds.
Result<std::chrono::milliseconds> ParseTimeout(const std::string& text) {
  bool bare = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
  ASSIGN_OR_RETURN(std::chrono::nanoseconds d, ParseDuration(bare ? text + "s" : text));
  if (d <= std::chrono::nanoseconds::zero()) return Status::InvalidArgument("must be above zero");
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

int RunStatus(AdminClient& client, const GlobalFlags& flags) {
  Result<pb::StatusReply> status = client.Status();
  if (!status.ok()) {
    PrintError("status", status.status());
    return kExitUnavailable;
  }
  std::cout << (flags.json ? ToJson(*status) : FormatStatus(*status));
  return Judge(*status) == Health::kHealthy ? kExitOk : kExitFailed;
}

int RunDrain(AdminClient& client, const GlobalFlags& flags, uint64_t node_id) {
  Result<pb::AdminReply> reply = client.Drain(node_id);
  if (!reply.ok()) {
    PrintError("drain node " + std::to_string(node_id), reply.status());
    return kExitFailed;
  }
  if (flags.json) {
    std::cout << ToJson(*reply);
  } else {
    std::cout << (reply->message().empty() ? "draining node " + std::to_string(node_id)
                                           : reply->message())
              << "\n";
  }
  return kExitOk;
}

struct LimitFlags {
  std::optional<uint32_t> max_jobs;
  std::optional<uint32_t> per_node_jobs;
  std::optional<std::string> bandwidth;
};

int RunRepairLimits(AdminClient& client, const GlobalFlags& flags, const LimitFlags& limits) {
  if (limits.max_jobs || limits.per_node_jobs || limits.bandwidth) {
    pb::SetRepairLimitsRequest req;
    if (limits.max_jobs) req.set_max_jobs(*limits.max_jobs);
    if (limits.per_node_jobs) req.set_per_node_jobs(*limits.per_node_jobs);
    if (limits.bandwidth) {
      Result<uint64_t> bytes = ParseBytes(*limits.bandwidth);
      if (!bytes.ok()) {
        PrintError("--bandwidth " + *limits.bandwidth, bytes.status());
        return kExitUsage;
      }
      req.set_bandwidth(*bytes);
    }
    Result<pb::AdminReply> reply = client.SetRepairLimits(req);
    if (!reply.ok()) {
      PrintError("repair-limits", reply.status());
      return kExitFailed;
    }
  }
  // The limits now in force, as the leader reports them.
  Result<pb::StatusReply> status = client.Status();
  if (!status.ok()) {
    PrintError("repair-limits", status.status());
    return kExitFailed;
  }
  if (!status->has_repair_limits()) {
    PrintError("repair-limits",
               Status::NotSupported("the leader does not report repair limits (older dfs-meta)"));
    return kExitFailed;
  }
  const pb::RepairLimits& l = status->repair_limits();
  if (flags.json) {
    std::cout << ToJson(l);
  } else {
    std::cout << "max jobs       " << l.max_jobs() << "\n"
              << "per-node jobs  " << l.per_node_jobs() << "\n"
              << "bandwidth      "
              << (l.bandwidth() == 0 ? "unlimited" : HumanBytes(l.bandwidth()) + "/s") << "\n";
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app("dfsadmin: look at and operate a dfs cluster (tools/README.md)", "dfsadmin");
  app.set_help_flag("-h,--help", "print this help and exit");
  app.require_subcommand(1);
  app.fallthrough();  // global flags after the command too: `dfsadmin status --json`
  GlobalFlags flags;
  app.add_option("--meta", flags.meta, "dfs-meta servers, HOST:PORT,... (default: $DFS_META)")
      ->envname("DFS_META")
      ->type_name("ADDRS");
  app.add_flag("--json", flags.json, "print JSON for programs instead of tables");
  app.add_option("--timeout", flags.timeout, "give up after this long (default: 5s)")
      ->type_name("DURATION");

  CLI::App* status_cmd = app.add_subcommand(
      "status", "the cluster at a glance; exit 0 healthy, 1 degraded, 2 no leader answered");
  uint64_t node_id = 0;
  CLI::App* drain_cmd =
      app.add_subcommand("drain", "move every replica off a chunk server, then mark it removed");
  drain_cmd->add_option("NODE_ID", node_id, "the chunk server's node id (see status)")->required();
  LimitFlags limits;
  CLI::App* limits_cmd =
      app.add_subcommand("repair-limits", "print the repair limits, or change those given");
  limits_cmd->add_option("--max-jobs", limits.max_jobs, "repair steps at once")
      ->type_name("N")
      ->check(kAtLeastOne);
  limits_cmd
      ->add_option("--per-node-jobs", limits.per_node_jobs,
                   "repair steps touching one chunk server at once")
      ->type_name("N")
      ->check(kAtLeastOne);
  limits_cmd
      ->add_option("--bandwidth", limits.bandwidth,
                   "bytes/s repair may copy, e.g. 100MiB; 0 = unlimited")
      ->type_name("SIZE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  AdminClientOptions options;
  options.servers = SplitServerList(flags.meta);
  if (options.servers.empty()) {
    std::cerr << "dfsadmin: no dfs-meta servers given: use --meta HOST:PORT,... or set DFS_META "
                 "(deploy/local/cluster env prints it)\n";
    return kExitUsage;
  }
  Result<std::chrono::milliseconds> timeout = ParseTimeout(flags.timeout);
  if (!timeout.ok()) {
    PrintError("--timeout " + flags.timeout, timeout.status());
    return kExitUsage;
  }
  options.timeout = *timeout;
  AdminClient client(std::move(options));

  if (status_cmd->parsed()) return RunStatus(client, flags);
  if (drain_cmd->parsed()) return RunDrain(client, flags, node_id);
  if (limits_cmd->parsed()) return RunRepairLimits(client, flags, limits);
  return kExitUsage;
}

}  // namespace
}  // namespace dfs::admin

int main(int argc, char** argv) {
  return dfs::admin::Main(argc, argv);
}
