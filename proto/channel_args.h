// The gRPC channel settings of every connection to a dfs-meta server (Raft
// peers, clients, watch streams), in one place.
#pragma once

#include <grpcpp/support/channel_arguments.h>

namespace dfs {

// Messages up to 64 MiB (what the meta servers accept: full replica
// reports, large directory pages, snapshot pieces) and fast reconnects:
// servers restart under us and failover is measured in hundreds of
// milliseconds, while gRPC's default backoff grows to two minutes. With
// `keepalive`, a peer whose host died without a reset is noticed by pings
// within about two seconds.
grpc::ChannelArguments MetaChannelArgs(bool keepalive);

}  // namespace dfs
