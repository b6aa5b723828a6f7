// Raft messages on the wire: the one conversion between the core's Message
// (meta/raft/types.h) and pb::RaftMessage (proto/raft.proto), field by
// field. The transport converts once per hop; tests/fuzz/fuzz_raft.cc feeds
// the core through the same FromProto a peer's bytes go through.
#pragma once

#include "meta/raft/types.h"
#include "proto/raft.pb.h"

namespace dfs::raft {

// Fills `out` (assumed empty) from `m`. A kSnap's snapshot travels as its
// metadata only: the data streams separately.
void ToProto(const Message& m, pb::RaftMessage* out);

// Moves `in` into `m` (assumed default-constructed); `in` is left in an
// unspecified state. Returns false for a message no honest peer sends: an
// unknown message or entry type, a kSnap without snapshot metadata, no
// sender. What needs the receiver's state to judge is the core's to check
// (Raft::Step).
bool FromProto(pb::RaftMessage* in, Message* m);

}  // namespace dfs::raft
