// What a committed mutation invalidates in the mounts' caches: the
// WatchEvent the leader publishes for it (docs/meta.md, "Watches").
// Deterministic, from the command and its reply, so it is testable without
// a server.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proto/meta.pb.h"

namespace dfs::meta {

// A directory entry: (parent inode, name).
struct EntryName {
  uint64_t parent = 0;
  std::string name;
};

// The entries whose inode the command changes or removes without naming it
// in its reply (unlink, rmdir: the entry; rename: source and target). The
// leader reads them just before proposing, so that the event can name
// those inodes too. Empty for other commands.
std::vector<EntryName> EntriesToResolve(const pb::MetaCommand& cmd);

// The invalidation caused by `cmd`, applied with `reply`; nullopt when it
// changed nothing a mount caches (a failed command, chunk allocation,
// internal commands, a create that returned an existing file).
// `resolved[i]` is the inode that was at EntriesToResolve(cmd)[i] before
// the command, 0 if none was found.
std::optional<pb::WatchEvent> WatchEventFor(const pb::MetaCommand& cmd, const pb::MetaReply& reply,
                                            std::span<const uint64_t> resolved);

}  // namespace dfs::meta
