// Snapshots of RocksDB-backed state machines: a RocksDB checkpoint is the
// snapshot (StateMachine::Checkpoint), and installing one replaces the live
// database directory (StateMachine::Restore).
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace dfs::raft {

// Writes a consistent checkpoint of `db` into `dir` (which must not exist).
Status CreateCheckpoint(rocksdb::DB* db, const std::string& dir);

// Replaces the database in `live_dir` with the checkpoint in `from`, leaving
// `from` intact (it is still sent to other nodes). The copy is staged next
// to `live_dir` first, so a bad checkpoint leaves the live state in place;
// `close_live` is called just before the swap and must close the database.
// SST files never change, so they are hard-linked; RocksDB appends to the
// others (MANIFEST, logs) after opening, so those are copied.
Status InstallCheckpoint(const std::string& from, const std::string& live_dir,
                         const std::function<void()>& close_live);

}  // namespace dfs::raft
