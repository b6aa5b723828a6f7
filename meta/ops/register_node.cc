// register_node: a chunk server joins (node_id 0) or re-registers.
#include <optional>
#include <string>

#include "meta/ops/ops.h"

namespace dfs::meta::ops {

Result<pb::MetaReply> RegisterNode(MetaTxn& txn, const OpContext& /*ctx*/,
                                   const pb::RegisterNodeRequest& req) {
  if (req.address().empty()) return Status::InvalidArgument("chunk server without an address");
  pb::NodeRecord node;
  if (req.node_id() == 0) {
    ASSIGN_OR_RETURN(uint64_t id, txn.GetCounter(Counter::kNextNodeId));
    txn.PutCounter(Counter::kNextNodeId, id + 1);
    node.set_node_id(id);
    node.set_state("active");
  } else {
    ASSIGN_OR_RETURN(std::optional<pb::NodeRecord> existing, txn.GetNode(req.node_id()));
    if (!existing) return Status::NotFound("no chunk server " + std::to_string(req.node_id()));
    node = std::move(*existing);
  }
  node.set_address(req.address());
  node.set_zone(req.zone());
  node.set_capacity_bytes(req.capacity_bytes());
  txn.PutNode(node);

  pb::MetaReply reply;
  reply.set_node_id(node.node_id());
  return reply;
}

}  // namespace dfs::meta::ops
