// expire_sessions: forgets the exactly-once records of clients that have
// been silent for a long time (the session TTL, far longer than any
// client's retry window), so the sessions column family does not grow
// with every client that ever connected.
#include "meta/ops/ops.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> ExpireSessions(MetaTxn& txn, const OpContext& /*ctx*/,
                                     const pb::ExpireSessionsCommand& req) {
  const size_t max = req.max_sessions() == 0 ? 10000 : req.max_sessions();
  ASSIGN_OR_RETURN(std::vector<uint64_t> idle, txn.ListIdleSessions(req.idle_before_ns(), max));
  for (uint64_t id : idle)
    txn.DeleteSession(id);
  pb::MetaReply reply;
  reply.set_expired_sessions(idle.size());
  return reply;
}

}  // namespace dfs::meta::ops
