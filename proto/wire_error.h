// Status on the wire: the one conversion between dfs::Status and pb::Error
// (proto/common.proto) that every service and client uses.
#pragma once

#include "common/status.h"
#include "proto/common.pb.h"

namespace dfs {

// Fills code and message; leader fields are the caller's.
void StatusToProto(const Status& status, pb::Error* error);
// OK for code 0; an unknown number becomes UNKNOWN with the message kept.
Status StatusFromProto(const pb::Error& error);

}  // namespace dfs
