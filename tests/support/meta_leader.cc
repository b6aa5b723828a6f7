#include "tests/support/meta_leader.h"

#include "client/meta_client.h"

namespace dfs::testing {

uint64_t MetaLeader(const ServerGroup& group) {
  for (const auto& [id, address] : group.addresses()) {
    if (!group.running(id)) continue;
    client::MetaClientOptions o;
    o.servers = {address};
    o.timeout = std::chrono::milliseconds(300);
    client::MetaClient c(o);
    pb::HeartbeatRequest probe;
    probe.set_node_id(~uint64_t{0});  // no chunk server has this id
    if (c.Heartbeat(probe).status().code() == ErrorCode::NOT_FOUND) return id;
  }
  return 0;
}

}  // namespace dfs::testing
