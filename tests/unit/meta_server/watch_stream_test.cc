// WatchStream over real gRPC on loopback: the reactor carries the hub's
// events, ends the stream when the hub closes it (also with a send stuck
// behind a mount that does not read), and leaves the hub when done.
#include "meta/server/watch_stream.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace dfs::meta {
namespace {

using namespace std::chrono_literals;

// Only Watch, on a hub the test drives; every stream is in term 1.
class HubService final : public pb::MetaService::CallbackService {
 public:
  explicit HubService(WatchHub* hub) : hub_(hub) {}
  grpc::ServerWriteReactor<pb::WatchEvent>* Watch(grpc::CallbackServerContext* ctx,
                                                  const pb::WatchRequest* req) override {
    return new WatchStream(
        ctx, hub_, 1,
        std::vector<uint64_t>(req->own_sessions().begin(), req->own_sessions().end()));
  }

 private:
  WatchHub* hub_;
};

class Server {
 public:
  explicit Server(WatchHub* hub) : service_(hub) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    stub_ = pb::MetaService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                         grpc::InsecureChannelCredentials()));
  }
  ~Server() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }

  pb::MetaService::Stub* stub() { return stub_.get(); }
  // A client whose receive window stays small (no BDP probing): a large
  // event it does not read stays in flight on the server.
  std::unique_ptr<pb::MetaService::Stub> NarrowStub() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
    return pb::MetaService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials(), args));
  }

 private:
  HubService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::MetaService::Stub> stub_;
};

// Waits until `pred` holds, up to 5 s.
template <class Pred>
bool Eventually(Pred pred) {
  auto end = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

pb::WatchEvent Inode(uint64_t inode) {
  pb::WatchEvent e;
  e.add_inodes(inode);
  return e;
}

TEST_CASE("WatchStream: resync first, then events; leadership loss ends the stream", "[watch]") {
  WatchHub hub;
  Server server(&hub);
  grpc::ClientContext ctx;
  pb::WatchRequest req;
  req.add_own_sessions(5);
  auto reader = server.stub()->Watch(&ctx, req);
  pb::WatchEvent e;
  REQUIRE(reader->Read(&e));
  CHECK(e.resync());
  CHECK(hub.size() == 1);

  hub.Publish(Inode(7), 5);  // the mount's own: not sent
  hub.Publish(Inode(8), 6);
  REQUIRE(reader->Read(&e));
  CHECK_FALSE(e.resync());
  REQUIRE(e.inodes_size() == 1);
  CHECK(e.inodes(0) == 8);

  hub.Observe(false, 1);
  CHECK_FALSE(reader->Read(&e));
  grpc::Status end = reader->Finish();
  CHECK(end.error_code() == grpc::StatusCode::UNAVAILABLE);  // NOT_LEADER on the wire
  CHECK(Eventually([&] { return hub.size() == 0; }));
}

TEST_CASE("WatchStream: a mount that cancels leaves the hub", "[watch]") {
  WatchHub hub;
  Server server(&hub);
  grpc::ClientContext ctx;
  auto reader = server.stub()->Watch(&ctx, pb::WatchRequest());
  pb::WatchEvent e;
  REQUIRE(reader->Read(&e));
  ctx.TryCancel();
  reader->Finish();  // CANCELLED
  CHECK(Eventually([&] { return hub.size() == 0; }));
  hub.Publish(Inode(1), 0);  // nobody left: nothing happens
}

TEST_CASE("WatchStream: a stream stuck behind a mount that does not read still ends", "[watch]") {
  WatchHub hub;
  Server server(&hub);
  auto stub = server.NarrowStub();
  grpc::ClientContext ctx;
  auto reader = stub->Watch(&ctx, pb::WatchRequest());
  pb::WatchEvent e;
  REQUIRE(reader->Read(&e));
  // About 1 MiB per event, far more than the client's window: the client
  // reads nothing, so a send stays in flight.
  pb::WatchEvent big;
  for (int i = 0; i < 4000; i++) {
    pb::WatchEntry* entry = big.add_entries();
    entry->set_parent(1);
    entry->set_name(std::string(250, 'x') + std::to_string(i));
  }
  for (int round = 0; round < 100; round++) {
    big.mutable_entries(0)->set_parent(static_cast<uint64_t>(round));
    hub.Publish(big, 0);
    std::this_thread::sleep_for(1ms);
  }
  // Leadership lost: the stuck send is aborted at the loop's next turn.
  hub.Observe(false, 1);
  hub.Observe(false, 1);
  CHECK(Eventually([&] { return hub.size() == 0; }));
  while (reader->Read(&e)) {
  }
  CHECK_FALSE(reader->Finish().ok());
}

}  // namespace
}  // namespace dfs::meta
