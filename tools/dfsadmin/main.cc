// dfsadmin: the operator's command line for a dfs cluster (tools/README.md).
//
//   dfsadmin [--meta ADDRS] [--json] [--timeout D] COMMAND
//     status | nodes | drain NODE_ID | repair-limits [...] | repair-rate SIZE
//     file PATH | fsck [PATH] [--fix]
//     meta add ID=ADDR | meta remove ID | meta transfer-leader ID
//     backup create DIR | backup verify DIR | backup restore DIR --id N --peers P --data-dir D
//     trash list | trash restore ID [--to PATH] | trash purge [--older-than D]
//     health --mount DIR [--timeout D]
//
// Exit codes: 0 success (status: healthy); 1 failure (status: degraded,
// fsck: problems remain, health: a step failed); 2 bad usage, or (status,
// fsck) no leader answered or an error.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "client/meta_client.h"
#include "common/units.h"
#include "proto/tls.h"
#include "tools/dfsadmin/admin_client.h"
#include "tools/dfsadmin/admin_report.h"
#include "tools/dfsadmin/backup_dir.h"
#include "tools/dfsadmin/file_info.h"
#include "tools/dfsadmin/health_check.h"
#include "tools/dfsadmin/trash_commands.h"

namespace dfs::admin {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // status: degraded; fsck: problems remain; health: failed
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 2;  // status and fsck only

// Where `backup restore` seeds a new group's member.
struct RestoreTarget {
  uint64_t id = 0;
  std::string peers;
  std::string data_dir;
};

// How long a streaming call (fsck, backup) may run once the leader answers.
constexpr std::chrono::hours kStreamRunTime{1};

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
  std::string timeout;  // empty: the command's default
  std::string tls_ca, tls_cert, tls_key;
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
  std::cout << (flags.json ? ToJson(l) : FormatRepairLimitLines(l));
  return kExitOk;
}

int RunNodes(AdminClient& client, const GlobalFlags& flags) {
  Result<pb::StatusReply> status = client.Status();
  if (!status.ok()) {
    PrintError("nodes", status.status());
    return kExitFailed;
  }
  if (flags.json) {
    std::vector<std::string> nodes;
    for (const pb::NodeInfo& n : status->nodes())
      nodes.push_back(ToJsonValue(n));
    std::cout << JsonObject({{"nodes", JsonArray(nodes)}});
  } else {
    std::cout << FormatNodes(*status);
  }
  return kExitOk;
}

// A MetaClient acting as root (uid 0) on the servers given, giving up
// after `timeout` as the AdminClient does.
client::MetaClient RootMetaClient(const AdminClientOptions& admin) {
  client::MetaClientOptions options;
  options.servers = admin.servers;
  options.timeout = admin.timeout;
  options.rpc_timeout = std::min<std::chrono::milliseconds>(admin.timeout, options.rpc_timeout);
  return client::MetaClient(options);
}

int RunFile(const AdminClientOptions& admin, const GlobalFlags& flags, const std::string& path) {
  client::MetaClient meta = RootMetaClient(admin);
  Result<FileInfo> file = DescribeFile(meta, path);
  if (!file.ok()) {
    PrintError("file " + path, file.status());
    return kExitFailed;
  }
  if (flags.json) {
    std::vector<std::string> chunks;
    for (const pb::ChunkLocation& c : file->chunks)
      chunks.push_back(ToJsonValue(c));
    std::cout << JsonObject({{"path", JsonString(file->path)},
                             {"attr", ToJsonValue(file->attr)},
                             {"chunk_size", JsonString(std::to_string(file->chunk_size))},
                             {"chunks", JsonArray(chunks)}});
  } else {
    std::cout << FormatFile(*file);
  }
  return kExitOk;
}

// `meta add ID=ADDR`, `meta remove ID`, `meta transfer-leader ID`.
int RunMemberChange(const GlobalFlags& flags, const std::string& what,
                    const Result<pb::AdminReply>& reply) {
  if (!reply.ok()) {
    PrintError(what, reply.status());
    return kExitFailed;
  }
  std::cout << (flags.json ? ToJson(*reply) : reply->message() + "\n");
  return kExitOk;
}

// "4=10.0.0.4:7000" as `meta add` takes it.
Result<std::pair<uint64_t, std::string>> ParseMember(const std::string& text) {
  size_t eq = text.find('=');
  std::string id = text.substr(0, eq);
  if (eq == std::string::npos || eq + 1 == text.size() || id.empty() ||
      id.find_first_not_of("0123456789") != std::string::npos || std::stoull(id) == 0) {
    return Status::InvalidArgument("expected ID=HOST:PORT with ID above 0, e.g. 4=10.0.0.4:7000");
  }
  return std::make_pair(std::stoull(id), text.substr(eq + 1));
}

// The progress bar of fsck on a terminal, redrawn in place on stderr.
class ProgressBar {
 public:
  explicit ProgressBar(bool shown) : shown_(shown) {}
  ~ProgressBar() { Clear(); }

  void Draw(const pb::FsckProgress& p) {
    if (!shown_) return;
    constexpr int kWidth = 30;
    double done = p.inodes_total() == 0 ? 0
                                        : std::min(1.0, static_cast<double>(p.inodes_checked()) /
                                                            static_cast<double>(p.inodes_total()));
    int filled = static_cast<int>(done * kWidth);
    std::cerr << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
              << static_cast<int>(done * 100) << "%  " << p.inodes_checked() << "/"
              << p.inodes_total() << " inodes" << std::flush;
    drawn_ = true;
  }
  // Takes the bar off the screen (before a line of output, and at the end).
  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool shown_;
  bool drawn_ = false;
};

int RunFsck(AdminClient& client, const AdminClientOptions& admin, const GlobalFlags& flags,
            const std::string& path, bool fix) {
  pb::FsckRequest req;
  req.set_fix(fix);
  if (!path.empty() && path != "/") {
    client::MetaClient meta = RootMetaClient(admin);
    Result<pb::InodeAttr> attr = ResolvePath(meta, path);
    if (!attr.ok()) {
      PrintError("fsck " + path, attr.status());
      return kExitUnavailable;
    }
    req.set_inode(attr->inode());
  }
  ProgressBar bar(!flags.json && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO));
  std::vector<std::string> problems;  // JSON
  pb::FsckSummary summary;
  Status s = client.Fsck(
      req,
      [&](const pb::FsckEvent& event) {
        if (event.has_progress()) bar.Draw(event.progress());
        if (event.has_problem()) {
          bar.Clear();
          if (flags.json) {
            problems.push_back(ToJsonValue(event.problem()));
          } else {
            std::cout << FormatFsckProblem(event.problem()) << std::flush;
          }
        }
        if (event.has_summary()) summary = event.summary();
      },
      kStreamRunTime);
  bar.Clear();
  if (!s.ok()) {
    PrintError("fsck", s);
    return kExitUnavailable;
  }
  if (flags.json) {
    std::cout << JsonObject({{"problems", JsonArray(problems)}, {"summary", ToJsonValue(summary)}});
  } else {
    std::cout << FormatFsckSummary(summary);
  }
  return summary.problems() > summary.fixed() ? kExitFailed : kExitOk;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int RunBackupCreate(AdminClient& client, const GlobalFlags& flags, const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  BackupWriter writer(dir);
  Status s = writer.Begin();
  Result<pb::BackupManifest> manifest =
      s.ok() ? client.Backup([&](const pb::BackupPiece& piece) { return writer.Write(piece); },
                             kStreamRunTime)
             : Result<pb::BackupManifest>(s);
  Result<BackupTotals> totals =
      manifest.ok() ? writer.Commit(*manifest) : Result<BackupTotals>(manifest.status());
  if (!totals.ok()) {
    PrintError("backup create " + dir + " (any earlier backup there is unchanged)",
               totals.status());
    return kExitFailed;
  }
  const double took = Seconds(std::chrono::steady_clock::now() - start);
  if (flags.json) {
    std::cout << JsonObject(
        {{"dir", JsonString(writer.dir())},
         {"cluster_id", JsonString(manifest->cluster_id())},
         {"applied_index", JsonString(std::to_string(manifest->applied_index()))},
         {"files", JsonString(std::to_string(totals->files))},
         {"bytes", JsonString(std::to_string(totals->bytes))},
         {"seconds", fmt::format("{:.3f}", took)}});
  } else {
    std::cout << fmt::format(
        "backup of cluster {} at index {} in {}: {} files, {} ({} bytes), {} inodes, took "
        "{:.2f}s\n",
        manifest->cluster_id(), manifest->applied_index(), writer.dir(), totals->files,
        HumanBytes(totals->bytes), totals->bytes, manifest->inodes(), took);
  }
  return kExitOk;
}

int RunBackupVerify(const GlobalFlags& flags, const std::string& dir) {
  pb::BackupManifest manifest;
  Result<BackupTotals> totals = VerifyBackup(dir, &manifest);
  if (!totals.ok()) {
    PrintError("backup verify " + dir, totals.status());
    return kExitFailed;
  }
  if (flags.json) {
    std::cout << JsonObject(
        {{"dir", JsonString(dir)},
         {"ok", "true"},
         {"cluster_id", JsonString(manifest.cluster_id())},
         {"applied_index", JsonString(std::to_string(manifest.applied_index()))},
         {"files", JsonString(std::to_string(totals->files))},
         {"bytes", JsonString(std::to_string(totals->bytes))}});
  } else {
    std::cout << fmt::format("{}: backup of cluster {} at index {}: {} files, {}, all match\n", dir,
                             manifest.cluster_id(), manifest.applied_index(), totals->files,
                             HumanBytes(totals->bytes));
  }
  return kExitOk;
}

// `backup restore`: dfs-meta does the seeding (it owns the Raft log format);
// dfsadmin runs it from its own directory and passes its answer on.
int RunBackupRestore(const std::string& dir, const RestoreTarget& target) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string meta = ec ? "dfs-meta" : (self.parent_path() / "dfs-meta").string();
  const std::vector<std::string> args = {
      meta,         "--id",          std::to_string(target.id), "--peers", target.peers,
      "--data-dir", target.data_dir, "--restore-from",          dir,       "--restore-only"};
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    PrintError("backup restore " + dir, Status::Internal("cannot fork"));
    return kExitFailed;
  }
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "dfsadmin: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "dfsadmin: backup restore %s into %s failed (see above)\n", dir.c_str(),
                 target.data_dir.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

std::string Millis(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f}", std::chrono::duration<double, std::milli>(d).count());
}

int RunHealth(const GlobalFlags& flags, const std::string& mount,
              std::chrono::milliseconds step_timeout) {
  HealthReport report = CheckMount(mount, step_timeout);
  std::chrono::nanoseconds total{0};
  if (flags.json) {
    std::vector<std::string> steps;
    for (const HealthStep& step : report.steps) {
      steps.push_back(fmt::format("{{\"step\": {}, \"ok\": {}, \"ms\": {}, \"error\": {}}}",
                                  JsonString(step.name), step.status.ok() ? "true" : "false",
                                  Millis(step.latency),
                                  JsonString(step.status.ok() ? "" : step.status.ToString())));
    }
    std::cout << JsonObject({{"mount", JsonString(report.mount)},
                             {"on", JsonString(report.detail)},
                             {"healthy", report.healthy() ? "true" : "false"},
                             {"steps", JsonArray(steps)}});
  } else {
    for (const HealthStep& step : report.steps) {
      total += step.latency;
      std::cout << fmt::format("{:<8}{:>9} ms  {}\n", step.name, Millis(step.latency),
                               step.status.ok() ? "ok" : step.status.ToString());
    }
    if (report.healthy()) {
      std::cout << fmt::format("healthy: {} on {}; {} steps in {} ms\n", report.mount,
                               report.detail, report.steps.size(), Millis(total));
    }
  }
  if (report.healthy()) return kExitOk;
  const HealthStep& failed = report.steps.back();
  std::cerr << "dfsadmin: health " << report.mount << ": step " << failed.name
            << " failed: " << failed.status.ToString() << "\n";
  // A step may hang in the kernel for good: leave without joining it.
  std::cout.flush();
  std::cerr.flush();
  _exit(kExitFailed);
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
  app.add_option("--timeout", flags.timeout,
                 "give up after this long (default: 5s; health: 10s per step)")
      ->type_name("DURATION");
  app.add_option("--tls-ca", flags.tls_ca, "cluster CA certificate (default: $DFS_TLS_CA)")
      ->envname("DFS_TLS_CA")
      ->type_name("FILE");
  app.add_option("--tls-cert", flags.tls_cert,
                 "an admin certificate of the cluster CA (default: $DFS_TLS_CERT)")
      ->envname("DFS_TLS_CERT")
      ->type_name("FILE");
  app.add_option("--tls-key", flags.tls_key, "its key (default: $DFS_TLS_KEY)")
      ->envname("DFS_TLS_KEY")
      ->type_name("FILE");

  CLI::App* status_cmd = app.add_subcommand(
      "status", "the cluster at a glance; exit 0 healthy, 1 degraded, 2 no leader answered");
  CLI::App* nodes_cmd =
      app.add_subcommand("nodes", "the chunk servers: state, capacity, used %, chunks");

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
  std::string rate;
  CLI::App* rate_cmd = app.add_subcommand(
      "repair-rate", "set the bytes/s repair may copy (repair-limits --bandwidth SIZE)");
  rate_cmd->add_option("SIZE", rate, "e.g. 100MiB; 0 = unlimited")->required();

  std::string path;
  CLI::App* file_cmd =
      app.add_subcommand("file", "a file's inode, attributes and chunks with their replicas");
  file_cmd
      ->add_option("PATH", path, "the path inside the file system, from its root: /photos/a.jpg")
      ->required();

  bool fix = false;
  CLI::App* fsck_cmd = app.add_subcommand(
      "fsck", "check the namespace and chunk map; exit 0 clean, 1 problems remain, 2 error");
  fsck_cmd->add_option("PATH", path, "check only this subtree (default: /)");
  fsck_cmd->add_flag("--fix", fix, "repair what can be repaired");

  CLI::App* meta_cmd = app.add_subcommand("meta", "change the dfs-meta (Raft) group");
  meta_cmd->require_subcommand(1);
  std::string member;
  uint64_t member_id = 0;
  CLI::App* add_cmd = meta_cmd->add_subcommand(
      "add", "add a started, empty dfs-meta; it joins once it has caught up");
  add_cmd->add_option("ID=ADDR", member, "its id and address, e.g. 4=10.0.0.4:7000")->required();
  CLI::App* remove_cmd = meta_cmd->add_subcommand("remove", "take a dfs-meta out of the group");
  remove_cmd->add_option("ID", member_id, "its id (see status)")->required();
  CLI::App* transfer_cmd =
      meta_cmd->add_subcommand("transfer-leader", "hand the leadership to another member");
  transfer_cmd->add_option("ID", member_id, "the member to lead (see status)")->required();

  std::string dir;
  CLI::App* backup_cmd = app.add_subcommand(
      "backup", "metadata backups: create, verify, restore (docs: tools/README.md)");
  backup_cmd->require_subcommand(1);
  CLI::App* create_cmd = backup_cmd->add_subcommand(
      "create", "back the metadata up into DIR, replacing the backup there only when complete");
  create_cmd->add_option("DIR", dir, "local directory")->required();
  CLI::App* verify_cmd = backup_cmd->add_subcommand(
      "verify", "check the files in DIR against its MANIFEST.json (needs no cluster)");
  verify_cmd->add_option("DIR", dir, "a backup directory")->required();
  RestoreTarget restore;
  CLI::App* restore_cmd = backup_cmd->add_subcommand(
      "restore",
      "seed a fresh dfs-meta data directory from the backup in DIR (run it for every member of "
      "the new group, with the same --peers; then start them; needs no cluster)");
  restore_cmd->add_option("DIR", dir, "a backup directory")->required();
  restore_cmd->add_option("--id", restore.id, "this member's id in the new group")->required();
  restore_cmd->add_option("--peers", restore.peers, "the new group, ID=HOST:PORT,...")->required();
  restore_cmd->add_option("--data-dir", restore.data_dir, "the member's (empty) data directory")
      ->required();

  CLI::App* trash_cmd = app.add_subcommand(
      "trash", "files unlinked or replaced, kept for trash_days: list, restore, purge");
  trash_cmd->require_subcommand(1);
  CLI::App* trash_list_cmd =
      trash_cmd->add_subcommand("list", "every file in the trash, oldest first");
  uint64_t trash_id = 0;
  std::string trash_to;
  CLI::App* trash_restore_cmd = trash_cmd->add_subcommand(
      "restore", "put a file back where it was (an error if that name exists), or at --to PATH");
  trash_restore_cmd->add_option("ID", trash_id, "the entry's id (see trash list)")->required();
  trash_restore_cmd->add_option("--to", trash_to, "its new path inside the file system: /dir/name")
      ->type_name("PATH");
  std::string older_than;
  CLI::App* trash_purge_cmd = trash_cmd->add_subcommand(
      "purge", "free the files in the trash now (their chunks are deleted)");
  trash_purge_cmd
      ->add_option("--older-than", older_than,
                   "only those deleted longer ago than this: 30s, 10m, 2h, 1d (default: all)")
      ->type_name("D");

  std::string mount;
  CLI::App* health_cmd =
      app.add_subcommand("health",
                         "self-test of a dfs mount for load balancers; exit 0 passed, 1 failed "
                         "(needs no --meta)");
  health_cmd->add_option("--mount", mount, "a directory on the dfs mount to test")
      ->type_name("DIR")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  const bool is_health = health_cmd->parsed();
  if (flags.timeout.empty()) flags.timeout = is_health ? "10s" : "5s";
  Result<std::chrono::milliseconds> timeout = ParseTimeout(flags.timeout);
  if (!timeout.ok()) {
    PrintError("--timeout " + flags.timeout, timeout.status());
    return kExitUsage;
  }
  if (Status s = tls::Configure({flags.tls_ca, flags.tls_cert, flags.tls_key}); !s.ok()) {
    PrintError("TLS", s);
    return kExitUsage;
  }
  // Commands that need no cluster.
  if (is_health) return RunHealth(flags, mount, *timeout);
  if (verify_cmd->parsed()) return RunBackupVerify(flags, dir);
  if (restore_cmd->parsed()) return RunBackupRestore(dir, restore);

  AdminClientOptions options;
  options.servers = SplitServerList(flags.meta);
  if (options.servers.empty()) {
    std::cerr << "dfsadmin: no dfs-meta servers given: use --meta HOST:PORT,... or set DFS_META "
                 "(deploy/local/cluster env prints it)\n";
    return kExitUsage;
  }
  options.timeout = *timeout;
  AdminClient client(options);

  if (status_cmd->parsed()) return RunStatus(client, flags);
  if (nodes_cmd->parsed()) return RunNodes(client, flags);
  if (drain_cmd->parsed()) return RunDrain(client, flags, node_id);
  if (limits_cmd->parsed()) return RunRepairLimits(client, flags, limits);
  if (rate_cmd->parsed()) {
    LimitFlags bandwidth;
    bandwidth.bandwidth = rate;
    return RunRepairLimits(client, flags, bandwidth);
  }
  if (file_cmd->parsed()) return RunFile(options, flags, path);
  if (fsck_cmd->parsed()) return RunFsck(client, options, flags, path, fix);
  if (add_cmd->parsed()) {
    Result<std::pair<uint64_t, std::string>> m = ParseMember(member);
    if (!m.ok()) {
      PrintError("meta add " + member, m.status());
      return kExitUsage;
    }
    return RunMemberChange(flags, "meta add " + member, client.AddMember(m->first, m->second));
  }
  if (remove_cmd->parsed()) {
    return RunMemberChange(flags, "meta remove " + std::to_string(member_id),
                           client.RemoveMember(member_id));
  }
  if (transfer_cmd->parsed()) {
    return RunMemberChange(flags, "meta transfer-leader " + std::to_string(member_id),
                           client.TransferLeader(member_id));
  }
  if (create_cmd->parsed()) return RunBackupCreate(client, flags, dir);
  if (trash_list_cmd->parsed()) return RunTrashList(client, flags.json);
  if (trash_restore_cmd->parsed()) {
    client::MetaClient meta = RootMetaClient(options);
    return RunTrashRestore(client, meta, flags.json, trash_id, trash_to);
  }
  if (trash_purge_cmd->parsed()) return RunTrashPurge(client, flags.json, older_than);
  return kExitUsage;
}

}  // namespace
}  // namespace dfs::admin

int main(int argc, char** argv) {
  return dfs::admin::Main(argc, argv);
}
