// `dfsadmin trash list | restore | purge` (tools/README.md; the trash itself:
// docs/meta.md, "Trash"). Each Run* prints its result (a table, a line, or
// JSON with `json`) or an error on stderr, and returns the exit code: 0
// done, 1 failed, 2 bad usage.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "client/meta_client.h"
#include "common/result.h"
#include "proto/admin.pb.h"
#include "tools/dfsadmin/admin_client.h"

namespace dfs::admin {

// Every entry, oldest first: ID, deleted (UTC), age, size, owner, inode,
// original path; then the totals. Ends with a newline.
std::string FormatTrashList(const std::vector<pb::TrashEntry>& entries, uint64_t total_entries,
                            uint64_t total_bytes, int64_t now_ns);

// "/dir/new-name" as `restore --to` takes it: the directory's inode
// (looked up from the root as uid 0) and the name. Errors: INVALID_ARGUMENT
// for a relative path or one naming the root, or ResolvePath's.
Result<std::pair<uint64_t, std::string>> ResolveRestoreTarget(client::MetaClient& meta,
                                                              const std::string& path);

int RunTrashList(AdminClient& client, bool json);
// `to` empty: back where it was.
int RunTrashRestore(AdminClient& client, client::MetaClient& meta, bool json, uint64_t id,
                    const std::string& to);
// `older_than` as ParseDuration reads it ("30s", "10m", "2h", "1d"); empty
// or "0": everything.
int RunTrashPurge(AdminClient& client, bool json, const std::string& older_than);

}  // namespace dfs::admin
