// WatchHub: fan-out of invalidations to watch streams, one send in flight
// per stream, coalescing, overflow into resync, own-session filtering, and
// the end of streams on leadership loss and shutdown.
#include "meta/server/watch_hub.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dfs::meta {
namespace {

// Records what the hub makes it do; the test completes sends by hand.
class RecordingSink final : public WatchSink {
 public:
  void SendEvent(pb::WatchEvent event) override {
    CHECK_FALSE(in_flight);  // one send at a time
    CHECK_FALSE(ended.has_value());
    in_flight = true;
    sent.push_back(std::move(event));
  }
  void AbortSend() override { aborts++; }
  void EndStream(const Status& status) override {
    CHECK_FALSE(in_flight);
    CHECK_FALSE(ended.has_value());
    ended = status;
  }

  std::vector<pb::WatchEvent> sent;
  bool in_flight = false;
  int aborts = 0;
  std::optional<Status> ended;
};

// A subscription with its sink; completes sends like gRPC would.
struct Watcher {
  RecordingSink sink;
  std::shared_ptr<WatchSubscription> sub;

  // The send in flight completed; the next one may start.
  void Complete(bool ok = true) {
    REQUIRE(sink.in_flight);
    sink.in_flight = false;
    sub->SendDone(ok);
  }
  const pb::WatchEvent& last() const { return sink.sent.back(); }
};

std::unique_ptr<Watcher> Subscribe(WatchHub& hub, uint64_t term = 1,
                                   std::vector<uint64_t> own_sessions = {}) {
  auto w = std::make_unique<Watcher>();
  w->sub = hub.Subscribe(&w->sink, term, std::move(own_sessions));
  REQUIRE(w->sub != nullptr);
  return w;
}

pb::WatchEvent Event(std::vector<uint64_t> inodes,
                     std::vector<std::pair<uint64_t, std::string>> entries = {}) {
  pb::WatchEvent e;
  for (uint64_t i : inodes)
    e.add_inodes(i);
  for (auto& [parent, name] : entries) {
    pb::WatchEntry* entry = e.add_entries();
    entry->set_parent(parent);
    entry->set_name(name);
  }
  return e;
}

std::set<uint64_t> Inodes(const pb::WatchEvent& e) {
  return {e.inodes().begin(), e.inodes().end()};
}

std::set<std::pair<uint64_t, std::string>> Entries(const pb::WatchEvent& e) {
  std::set<std::pair<uint64_t, std::string>> out;
  for (const pb::WatchEntry& entry : e.entries())
    out.emplace(entry.parent(), entry.name());
  return out;
}

TEST_CASE("WatchHub: a new stream starts with resync, then events in order", "[watch]") {
  WatchHub hub;
  auto w = Subscribe(hub);
  REQUIRE(w->sink.sent.size() == 1);
  CHECK(w->last().resync());
  CHECK(w->last().inodes().empty());
  w->Complete();

  hub.Publish(Event({7}, {{1, "a"}}), 0);
  REQUIRE(w->sink.sent.size() == 2);
  CHECK_FALSE(w->last().resync());
  CHECK(Inodes(w->last()) == std::set<uint64_t>{7});
  CHECK(Entries(w->last()) == std::set<std::pair<uint64_t, std::string>>{{1, "a"}});
  w->Complete();

  // Nothing pending: nothing sent.
  CHECK(w->sink.sent.size() == 2);
  CHECK_FALSE(w->sink.in_flight);
}

TEST_CASE("WatchHub: what is published during a send is coalesced into one event", "[watch]") {
  WatchHub hub;
  auto w = Subscribe(hub);
  // The resync is in flight: these wait, merged and deduplicated.
  hub.Publish(Event({1, 5}, {{1, "x"}}), 0);
  hub.Publish(Event({5, 6}, {{1, "x"}, {5, "y"}}), 0);
  hub.Publish(Event({1}), 0);
  CHECK(w->sink.sent.size() == 1);
  w->Complete();
  REQUIRE(w->sink.sent.size() == 2);
  CHECK_FALSE(w->last().resync());
  CHECK(w->last().inodes_size() == 3);
  CHECK(Inodes(w->last()) == std::set<uint64_t>{1, 5, 6});
  CHECK(Entries(w->last()) == std::set<std::pair<uint64_t, std::string>>{{1, "x"}, {5, "y"}});
}

TEST_CASE("WatchHub: a backlog past its bound becomes one resync event", "[watch]") {
  WatchHub hub(WatchHubOptions{.max_backlog = 8});
  auto w = Subscribe(hub);
  auto other = Subscribe(hub);
  other->Complete();
  w->Complete();
  hub.Publish(Event({100}), 0);  // in flight to both
  other->Complete();
  for (uint64_t i = 0; i < 20; i++) {
    hub.Publish(Event({i}, {{1, "n" + std::to_string(i)}}), 0);
    if (other->sink.in_flight) other->Complete();  // keeps up
  }
  // The slow one: its backlog overflowed; later events add nothing to it.
  w->Complete();
  REQUIRE(w->sink.sent.size() == 3);
  CHECK(w->last().resync());
  CHECK(w->last().inodes().empty());
  CHECK(w->last().entries().empty());
  // The one that kept up got every event, and no resync.
  std::set<uint64_t> seen;
  for (size_t i = 1; i < other->sink.sent.size(); i++) {
    CHECK_FALSE(other->sink.sent[i].resync());
    for (uint64_t inode : other->sink.sent[i].inodes())
      seen.insert(inode);
  }
  CHECK(seen.size() == 21);

  // After the resync, events flow normally again.
  w->Complete();
  hub.Publish(Event({42}), 0);
  REQUIRE(w->sink.sent.size() == 4);
  CHECK_FALSE(w->last().resync());
  CHECK(Inodes(w->last()) == std::set<uint64_t>{42});
}

TEST_CASE("WatchHub: a mount does not get the events of its own sessions", "[watch]") {
  WatchHub hub;
  auto mine = Subscribe(hub, 1, {11, 12});
  auto theirs = Subscribe(hub, 1, {21});
  mine->Complete();
  theirs->Complete();

  hub.Publish(Event({3}), 12);  // made by `mine`
  CHECK(mine->sink.sent.size() == 1);
  REQUIRE(theirs->sink.sent.size() == 2);
  theirs->Complete();

  hub.Publish(Event({4}), 21);  // made by `theirs`
  REQUIRE(mine->sink.sent.size() == 2);
  CHECK(Inodes(mine->last()) == std::set<uint64_t>{4});
  CHECK(theirs->sink.sent.size() == 2);
  mine->Complete();

  hub.Publish(Event({5}), 0);  // no session (internal): everybody
  CHECK(mine->sink.sent.size() == 3);
  CHECK(theirs->sink.sent.size() == 3);
}

TEST_CASE("WatchHub: leadership loss ends every stream", "[watch]") {
  WatchHub hub;
  hub.Observe(true, 3);
  auto idle = Subscribe(hub, 3);
  idle->Complete();
  auto busy = Subscribe(hub, 3);  // its resync still in flight
  CHECK(hub.size() == 2);

  hub.Observe(false, 3);  // stepped down in its own term (check-quorum)
  REQUIRE(idle->sink.ended.has_value());
  CHECK(idle->sink.ended->code() == ErrorCode::NOT_LEADER);
  // The busy one ends after its send; if that send is still in flight at
  // the next turn of the leader loop, it is aborted.
  CHECK(busy->sink.aborts == 0);
  CHECK_FALSE(busy->sink.ended.has_value());
  hub.Observe(false, 3);
  CHECK(busy->sink.aborts == 1);
  hub.Observe(false, 3);
  CHECK(busy->sink.aborts == 1);
  busy->Complete(/*ok=*/false);
  REQUIRE(busy->sink.ended.has_value());
  CHECK(busy->sink.ended->code() == ErrorCode::NOT_LEADER);
  // Nothing is sent to ended streams.
  hub.Publish(Event({9}), 0);
  CHECK(idle->sink.sent.size() == 1);
  CHECK(busy->sink.sent.size() == 1);

  // A subscriber with a view older than the hub's is refused; one of the
  // same term (a candidate that won) or a newer one is not.
  hub.Observe(false, 4);
  RecordingSink late;
  CHECK(hub.Subscribe(&late, 3, {}) == nullptr);
  auto won = Subscribe(hub, 4);
  CHECK(won->sink.sent.size() == 1);
  won->Complete();
  hub.Observe(true, 4);
  CHECK_FALSE(won->sink.ended.has_value());
  auto next = Subscribe(hub, 5);
  CHECK(next->sink.sent.size() == 1);

  // gRPC reports the ends; the hub forgets the streams.
  for (Watcher* w : {idle.get(), busy.get()}) {
    w->sub->Detach();
    hub.Unsubscribe(w->sub.get());
  }
  CHECK(hub.size() == 2);
}

TEST_CASE("WatchHub: a new term ends the streams of older ones", "[watch]") {
  WatchHub hub;
  hub.Observe(true, 2);
  auto old_term = Subscribe(hub, 2);
  old_term->Complete();
  // Led again later (follower in between): events of other leaders missed.
  auto newer = Subscribe(hub, 4);  // opened with a newer view than the loop's
  newer->Complete();
  hub.Observe(true, 4);
  CHECK(old_term->sink.ended.has_value());
  CHECK_FALSE(newer->sink.ended.has_value());
  // An older view changes nothing.
  hub.Observe(false, 3);
  CHECK_FALSE(newer->sink.ended.has_value());
}

TEST_CASE("WatchHub: shutdown ends streams and refuses new ones", "[watch]") {
  WatchHub hub;
  auto w = Subscribe(hub);
  w->Complete();
  auto busy = Subscribe(hub);
  CHECK(hub.watched());
  hub.Shutdown();
  REQUIRE(w->sink.ended.has_value());
  CHECK(w->sink.ended->code() == ErrorCode::UNAVAILABLE);
  CHECK(busy->sink.aborts == 1);  // no waiting at shutdown
  busy->Complete(/*ok=*/false);
  REQUIRE(busy->sink.ended.has_value());
  CHECK(busy->sink.ended->code() == ErrorCode::UNAVAILABLE);
  RecordingSink late;
  CHECK(hub.Subscribe(&late, 1, {}) == nullptr);
}

TEST_CASE("WatchHub: a cancelled or broken stream ends, a detached one is left alone", "[watch]") {
  WatchHub hub;
  auto cancelled = Subscribe(hub);
  cancelled->Complete();
  cancelled->sub->Cancelled();
  REQUIRE(cancelled->sink.ended.has_value());
  CHECK(cancelled->sink.ended->code() == ErrorCode::CANCELLED);

  auto broken = Subscribe(hub);
  broken->Complete(/*ok=*/false);  // the write failed: the mount is gone
  REQUIRE(broken->sink.ended.has_value());

  auto detached = Subscribe(hub);
  detached->sink.in_flight = false;
  detached->sub->Detach();  // gRPC is done with it; the hub still lists it
  hub.Publish(Event({1}), 0);
  hub.Observe(false, 1);
  CHECK(detached->sink.sent.size() == 1);
  CHECK_FALSE(detached->sink.ended.has_value());
  CHECK(detached->sink.aborts == 0);
}

}  // namespace
}  // namespace dfs::meta
