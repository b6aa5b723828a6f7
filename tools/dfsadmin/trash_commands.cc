#include "tools/dfsadmin/trash_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <tuple>

#include "common/units.h"
#include "tools/dfsadmin/admin_report.h"
#include "tools/dfsadmin/file_info.h"

namespace dfs::admin {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kListPage = 1000;

void PrintError(const std::string& what, const Status& status) {
  std::cerr << "dfsadmin: " << what << ": " << status.ToString() << "\n";
}

// "2025-01-31T12:00:03Z".
std::string UtcTime(int64_t ns) {
  std::time_t sec = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&sec, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// "42s", "17m", "5h", "3d": the largest whole unit.
std::string Age(int64_t ns) {
  const int64_t sec = std::max<int64_t>(0, ns / 1000000000);
  if (sec < 60) return std::to_string(sec) + "s";
  if (sec < 3600) return std::to_string(sec / 60) + "m";
  if (sec < 86400) return std::to_string(sec / 3600) + "h";
  return std::to_string(sec / 86400) + "d";
}

std::string Plural(uint64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string EntryJson(const pb::TrashEntry& e) {
  return fmt::format(
      "{{\"id\": {}, \"inode\": {}, \"path\": {}, \"size\": {}, \"deleted_ns\": {}, "
      "\"deleted\": {}, \"uid\": {}, \"parent\": {}, \"name\": {}, \"trash_name\": {}}}",
      JsonString(std::to_string(e.id())), JsonString(std::to_string(e.inode())),
      JsonString(e.path()), JsonString(std::to_string(e.size())),
      JsonString(std::to_string(e.deleted_ns())), JsonString(UtcTime(e.deleted_ns())), e.uid(),
      JsonString(std::to_string(e.parent())), JsonString(e.name()), JsonString(e.trash_name()));
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string FormatTrashList(const std::vector<pb::TrashEntry>& entries, uint64_t total_entries,
                            uint64_t total_bytes, int64_t now_ns) {
  if (entries.empty()) return "the trash is empty\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "DELETED", "AGE", "SIZE", "UID", "INODE", "PATH"}};
  for (const pb::TrashEntry& e : entries) {
    rows.push_back({std::to_string(e.id()), UtcTime(e.deleted_ns()), Age(now_ns - e.deleted_ns()),
                    HumanBytes(e.size()), std::to_string(e.uid()), std::to_string(e.inode()),
                    e.path()});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); c++)
      width[c] = std::max(width[c], row[c].size());
  }
  const std::vector<bool> right = {true, false, true, true, true, true, false};
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); c++) {
      std::string pad(width[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += right[c] ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : "");
    }
    out += line + "\n";
  }
  out += fmt::format("{}, {}\n", Plural(total_entries, "file", "files"), HumanBytes(total_bytes));
  return out;
}

Result<std::pair<uint64_t, std::string>> ResolveRestoreTarget(client::MetaClient& meta,
                                                              const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/')
    trimmed.pop_back();
  if (trimmed.empty() || trimmed[0] != '/' || trimmed == "/") {
    return Status::InvalidArgument("--to \"" + path +
                                   "\": give the file's new path inside the file system, e.g. "
                                   "/dir/name");
  }
  const size_t slash = trimmed.rfind('/');
  const std::string dir = slash == 0 ? "/" : trimmed.substr(0, slash);
  std::string name = trimmed.substr(slash + 1);
  ASSIGN_OR_RETURN(pb::InodeAttr attr, ResolvePath(meta, dir));
  if (attr.type() != pb::FILE_TYPE_DIRECTORY) {
    return Status::NotADirectory(dir + " is not a directory");
  }
  return std::make_pair(attr.inode(), std::move(name));
}

int RunTrashList(AdminClient& client, bool json) {
  std::vector<pb::TrashEntry> entries;
  uint64_t total_entries = 0, total_bytes = 0;
  uint64_t after = 0;
  while (true) {
    Result<pb::TrashListReply> page = client.TrashList(after, kListPage);
    if (!page.ok()) {
      PrintError("trash list", page.status());
      return kExitFailed;
    }
    entries.insert(entries.end(), page->entries().begin(), page->entries().end());
    total_entries = page->total_entries();
    total_bytes = page->total_bytes();
    if (page->eof() || page->entries().empty()) break;
    after = page->entries().rbegin()->id();
  }
  if (json) {
    std::vector<std::string> values;
    for (const pb::TrashEntry& e : entries)
      values.push_back(EntryJson(e));
    std::cout << JsonObject({{"entries", JsonArray(values)},
                             {"total_entries", JsonString(std::to_string(total_entries))},
                             {"total_bytes", JsonString(std::to_string(total_bytes))}});
  } else {
    std::cout << FormatTrashList(entries, total_entries, total_bytes, NowNs());
  }
  return kExitOk;
}

int RunTrashRestore(AdminClient& client, client::MetaClient& meta, bool json, uint64_t id,
                    const std::string& to) {
  const std::string what = "trash restore " + std::to_string(id);
  uint64_t parent = 0;
  std::string name;
  if (!to.empty()) {
    Result<std::pair<uint64_t, std::string>> target = ResolveRestoreTarget(meta, to);
    if (!target.ok()) {
      PrintError(what, target.status());
      return target.status().code() == ErrorCode::INVALID_ARGUMENT ? kExitUsage : kExitFailed;
    }
    std::tie(parent, name) = *target;
  }
  Result<pb::TrashRestoreReply> reply = client.TrashRestore(id, parent, name);
  if (!reply.ok()) {
    PrintError(what, reply.status());
    return kExitFailed;
  }
  if (json) {
    std::cout << JsonObject({{"id", JsonString(std::to_string(id))},
                             {"inode", JsonString(std::to_string(reply->inode()))},
                             {"path", JsonString(reply->path())}});
  } else {
    std::cout << fmt::format("restored trash entry {} to {} (inode {})\n", id, reply->path(),
                             reply->inode());
  }
  return kExitOk;
}

int RunTrashPurge(AdminClient& client, bool json, const std::string& older_than) {
  double seconds = 0;
  if (!older_than.empty()) {
    Result<std::chrono::nanoseconds> age = ParseDuration(older_than);
    if (!age.ok()) {
      PrintError("trash purge --older-than " + older_than, age.status());
      return kExitUsage;
    }
    seconds = std::chrono::duration<double>(*age).count();
  }
  // The leader purges in batches until the call's deadline, then says
  // whether more is left: call again until it is done.
  Result<pb::TrashPurgeReply> reply = client.TrashPurge(seconds);
  while (reply.ok() && reply->more()) {
    Result<pb::TrashPurgeReply> next = client.TrashPurge(seconds);
    if (!next.ok()) {
      reply = next.status();
      break;
    }
    next->set_purged(next->purged() + reply->purged());
    next->set_freed_chunks(next->freed_chunks() + reply->freed_chunks());
    reply = std::move(next);
  }
  if (!reply.ok()) {
    PrintError("trash purge", reply.status());
    return kExitFailed;
  }
  if (json) {
    std::cout << JsonObject({{"purged", JsonString(std::to_string(reply->purged()))},
                             {"freed_chunks", JsonString(std::to_string(reply->freed_chunks()))}});
  } else {
    std::cout << fmt::format("purged {} ({} freed)\n",
                             Plural(reply->purged(), "trash entry", "trash entries"),
                             Plural(reply->freed_chunks(), "chunk", "chunks"));
  }
  return kExitOk;
}

}  // namespace dfs::admin
