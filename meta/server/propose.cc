#include "meta/server/propose.h"

#include <string>
#include <utility>

#include "meta/meta_store.h"

namespace dfs::meta {

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<pb::MetaReply> ProposeCommand(raft::RaftNode* node, pb::MetaCommand cmd,
                                     std::chrono::milliseconds timeout) {
  cmd.set_now_ns(WallNanos());
  ASSIGN_OR_RETURN(std::string data, node->ProposeAndWait(cmd.SerializeAsString(), timeout));
  pb::MetaReply reply;
  if (!reply.ParseFromString(data)) return Status::Internal("undecodable reply");
  RETURN_IF_ERROR(ReplyStatus(reply));
  return reply;
}

}  // namespace dfs::meta
