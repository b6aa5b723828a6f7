// The server side of one Watch RPC (proto/meta.proto), on the gRPC
// callback API: a WatchStream carries a WatchHub subscription's events to
// the mount; a WatchRefusal answers a stream this server cannot serve with
// one event carrying the error (NOT_LEADER and the leader's address, like
// the `error` of a unary reply) and ends it with status OK.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "meta/server/watch_hub.h"
#include "proto/meta.grpc.pb.h"

namespace dfs::meta {

// Deletes itself when the RPC is done.
class WatchStream final : public grpc::ServerWriteReactor<pb::WatchEvent>, private WatchSink {
 public:
  // Subscribes to `hub` (the first event, resync, starts at once); ends the
  // stream with UNAVAILABLE if the hub refuses. REQUIRES: `hub` and `ctx`
  // outlive the RPC.
  WatchStream(grpc::CallbackServerContext* ctx, WatchHub* hub, uint64_t term,
              std::vector<uint64_t> own_sessions);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // WatchSink.
  void SendEvent(pb::WatchEvent event) override;
  void AbortSend() override;
  void EndStream(const Status& status) override;

  grpc::CallbackServerContext* ctx_;
  WatchHub* hub_;
  pb::WatchEvent writing_;  // the event in flight; gRPC reads it until OnWriteDone
  std::shared_ptr<WatchSubscription> subscription_;  // null if refused
};

// Deletes itself when the RPC is done.
class WatchRefusal final : public grpc::ServerWriteReactor<pb::WatchEvent> {
 public:
  explicit WatchRefusal(pb::Error error);
  void OnDone() override;

 private:
  pb::WatchEvent event_;
};

}  // namespace dfs::meta
