// set_node_state: a chunk server starts draining (dfsadmin drain), or has
// drained and is removed, or is put back to work.
#include <optional>
#include <string>

#include "meta/ops/ops.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> SetNodeState(MetaTxn& txn, const OpContext& /*ctx*/,
                                   const pb::SetNodeStateCommand& req) {
  const std::string& state = req.state();
  if (state != "active" && state != "draining" && state != "removed") {
    return Status::InvalidArgument("no node state '" + state + "' (active, draining or removed)");
  }
  ASSIGN_OR_RETURN(std::optional<pb::NodeRecord> node, txn.GetNode(req.node_id()));
  if (!node) return Status::NotFound("no chunk server " + std::to_string(req.node_id()));
  node->set_state(state);
  txn.PutNode(*node);
  pb::MetaReply reply;
  reply.set_node_id(req.node_id());
  return reply;
}

}  // namespace dfs::meta::ops
