// Integration: watch streams on three real dfs-meta processes. A
// WatchClient gets, within 200 ms of each mutation's reply, the inodes and
// entries it invalidates; the mutations of its own sessions are not sent
// back; after kill -9 of the leader it reconnects to the new leader, gets
// resync = true, and later events arrive again.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "client/meta_client.h"
#include "client/watch_client.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Entries = std::set<std::pair<uint64_t, std::string>>;

constexpr uint64_t kRoot = 1;
constexpr auto kMaxLatency = 200ms;

class MetaCluster {
 public:
  MetaCluster() : group_("dfs-meta", 3, {}) {}

  void Kill(uint64_t id) { group_.Kill(id); }
  std::vector<std::string> servers() const { return group_.AddressList(); }

  client::MetaClientOptions ClientOptions() const {
    client::MetaClientOptions o;
    o.servers = group_.AddressList();
    o.timeout = 30s;
    o.rpc_timeout = 2s;
    return o;
  }
  // The leader: the one server that serves a watch stream (followers
  // serve reads too, through the leader's ReadIndex, but refuse streams).
  uint64_t Leader() {
    for (const auto& [id, address] : group_.addresses()) {
      if (!group_.running(id)) continue;
      auto stub = pb::MetaService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 1s);
      auto reader = stub->Watch(&ctx, pb::WatchRequest());
      pb::WatchEvent first;
      bool leads = reader->Read(&first) && first.error().code() == 0 && first.resync();
      ctx.TryCancel();
      reader->Finish();  // cancelled: nothing to learn
      if (leads) return id;
    }
    return 0;
  }

 private:
  testing::ServerGroup group_;
};

// Every event the watcher delivered, with its arrival time.
class EventLog {
 public:
  void Add(const pb::WatchEvent& event) {
    {
      std::lock_guard lock(mu_);
      events_.emplace_back(Clock::now(), event);
    }
    cv_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return events_.size();
  }

  // Waits until the events from index `from` on name, together, every inode
  // and entry asked for; returns when the last one needed arrived.
  std::optional<Clock::time_point> WaitFor(size_t from, const std::set<uint64_t>& inodes,
                                           const Entries& entries,
                                           std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<Clock::time_point> done;
    cv_.wait_for(lock, timeout, [&] {
      std::set<uint64_t> missing_inodes = inodes;
      Entries missing_entries = entries;
      for (size_t i = from; i < events_.size(); i++) {
        const pb::WatchEvent& e = events_[i].second;
        for (uint64_t inode : e.inodes())
          missing_inodes.erase(inode);
        for (const pb::WatchEntry& entry : e.entries())
          missing_entries.erase({entry.parent(), entry.name()});
        if (missing_inodes.empty() && missing_entries.empty()) {
          done = events_[i].first;
          return true;
        }
      }
      return false;
    });
    return done;
  }

  std::optional<Clock::time_point> WaitForResync(size_t from, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<Clock::time_point> done;
    cv_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < events_.size(); i++) {
        if (events_[i].second.resync()) {
          done = events_[i].first;
          return true;
        }
      }
      return false;
    });
    return done;
  }

  // True if an event from index `from` on names `entry`.
  bool Names(size_t from, const std::pair<uint64_t, std::string>& entry) const {
    std::lock_guard lock(mu_);
    for (size_t i = from; i < events_.size(); i++) {
      for (const pb::WatchEntry& e : events_[i].second.entries()) {
        if (e.parent() == entry.first && e.name() == entry.second) return true;
      }
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Clock::time_point, pb::WatchEvent>> events_;
};

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

pb::Timespec WallNow() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  pb::Timespec t;
  t.set_sec(ns / 1'000'000'000);
  t.set_nsec(static_cast<uint32_t>(ns % 1'000'000'000));
  return t;
}

// Runs one mutation and checks that the watcher hears of it in time.
class Stepper {
 public:
  explicit Stepper(EventLog* log) : log_(log) {}

  template <class Op>
  void Step(const std::string& what, Op op, const std::set<uint64_t>& inodes,
            const Entries& entries) {
    size_t mark = log_->size();
    Clock::time_point issued = Clock::now();
    op();
    Clock::time_point returned = Clock::now();
    std::optional<Clock::time_point> arrived = log_->WaitFor(mark, inodes, entries, 5s);
    INFO(what);
    REQUIRE(arrived.has_value());
    // The leader publishes before it replies: the event may come first
    // (a negative delay).
    Clock::duration after_reply = *arrived - returned;
    std::printf(
        "watch: %-24s call took %5.2f ms; event %5.2f ms after the call began, %+6.2f ms "
        "after its reply\n",
        what.c_str(), Millis(returned - issued), Millis(*arrived - issued), Millis(after_reply));
    CHECK(after_reply <= kMaxLatency);
    worst_after_reply_ = std::max(worst_after_reply_, after_reply);
    worst_after_call_ = std::max(worst_after_call_, *arrived - issued);
  }

  Clock::duration worst_after_reply() const { return worst_after_reply_; }
  Clock::duration worst_after_call() const { return worst_after_call_; }

 private:
  EventLog* log_;
  Clock::duration worst_after_reply_ = Clock::duration::min();
  Clock::duration worst_after_call_ = Clock::duration::zero();
};

TEST_CASE("watchers hear of every mutation, not of their own, and follow the leader") {
  MetaCluster cluster;
  client::MetaClient writer(cluster.ClientOptions());
  REQUIRE(writer.GetAttr(kRoot).ok());  // the first leader has formatted the cluster
  auto statfs = writer.StatFs();
  REQUIRE(statfs.ok());
  const std::string cluster_id = statfs->cluster_id();
  REQUIRE_FALSE(cluster_id.empty());
  writer.SetClusterId(cluster_id);
  client::MetaClient own(cluster.ClientOptions());  // the watching mount's own session
  own.SetClusterId(cluster_id);

  EventLog log;
  client::WatchClientOptions wo;
  wo.servers = cluster.servers();
  wo.cluster_id = cluster_id;
  wo.own_sessions = {own.session_id()};
  client::WatchClient watch(wo, [&log](const pb::WatchEvent& e) { log.Add(e); });
  REQUIRE(log.WaitForResync(0, 10s).has_value());
  CHECK(watch.connected());

  Stepper s(&log);
  uint64_t dir = 0, a = 0, c = 0;
  s.Step("mkdir d",
         [&] {
           auto r = writer.Create(kRoot, "d", pb::FILE_TYPE_DIRECTORY, 0755, true);
           REQUIRE(r.ok());
           dir = r->inode();
         },
         {kRoot}, {{kRoot, "d"}});
  s.Step("create a",
         [&] {
           auto r = writer.Create(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644, true);
           REQUIRE(r.ok());
           a = r->inode();
         },
         {kRoot}, {{kRoot, "a"}});
  s.Step("chmod a",
         [&] {
           pb::SetAttrRequest req;
           req.set_inode(a);
           req.set_valid(pb::SETATTR_MODE);
           req.set_mode(0600);
           REQUIRE(writer.SetAttr(req).ok());
         },
         {a}, {});
  s.Step("truncate a",
         [&] {
           pb::SetAttrRequest req;
           req.set_inode(a);
           req.set_valid(pb::SETATTR_SIZE);
           req.set_size(10);
           REQUIRE(writer.SetAttr(req).ok());
         },
         {a}, {});
  s.Step("commit_write a", [&] { REQUIRE(writer.CommitWrite(a, 4096, WallNow()).ok()); }, {a}, {});
  s.Step("setxattr a", [&] { REQUIRE(writer.SetXattr(a, "user.k", "v", 0).ok()); }, {a}, {});
  s.Step("rename a -> d/b", [&] { REQUIRE(writer.Rename(kRoot, "a", dir, "b").ok()); },
         {kRoot, dir, a}, {{kRoot, "a"}, {dir, "b"}});
  s.Step("link a -> hard", [&] { REQUIRE(writer.Link(a, kRoot, "hard").ok()); }, {a, kRoot},
         {{kRoot, "hard"}});
  s.Step("create c",
         [&] {
           auto r = writer.Create(kRoot, "c", pb::FILE_TYPE_REGULAR, 0644, true);
           REQUIRE(r.ok());
           c = r->inode();
         },
         {kRoot}, {{kRoot, "c"}});
  s.Step("exchange c <-> d/b",
         [&] { REQUIRE(writer.Rename(kRoot, "c", dir, "b", /*RENAME_EXCHANGE=*/2).ok()); },
         {kRoot, dir, a, c}, {{kRoot, "c"}, {dir, "b"}});
  s.Step("unlink d/b", [&] { REQUIRE(writer.Unlink(dir, "b").ok()); }, {dir, c}, {{dir, "b"}});
  s.Step("removexattr a", [&] { REQUIRE(writer.RemoveXattr(a, "user.k").ok()); }, {a}, {});
  s.Step("rmdir d", [&] { REQUIRE(writer.Rmdir(kRoot, "d").ok()); }, {kRoot, dir}, {{kRoot, "d"}});

  // The watching mount's own mutation is not sent back to it; the
  // writer's next one is, and nothing about "mine" comes before it.
  size_t mark = log.size();
  REQUIRE(own.Create(kRoot, "mine", pb::FILE_TYPE_REGULAR, 0644, true).ok());
  s.Step("create marker1",
         [&] { REQUIRE(writer.Create(kRoot, "marker1", pb::FILE_TYPE_REGULAR, 0644, true).ok()); },
         {kRoot}, {{kRoot, "marker1"}});
  CHECK_FALSE(log.Names(mark, {kRoot, "mine"}));

  // O_CREAT without O_EXCL on an existing file changes nothing.
  mark = log.size();
  REQUIRE(writer.Create(kRoot, "c", pb::FILE_TYPE_REGULAR, 0644, false).ok());
  s.Step("create marker2",
         [&] { REQUIRE(writer.Create(kRoot, "marker2", pb::FILE_TYPE_REGULAR, 0644, true).ok()); },
         {kRoot}, {{kRoot, "marker2"}});
  CHECK_FALSE(log.Names(mark, {kRoot, "c"}));

  // kill -9 of the leader: the watcher finds the new one and resyncs.
  uint64_t leader = cluster.Leader();
  REQUIRE(leader != 0);
  uint64_t streams = watch.streams_opened();
  mark = log.size();
  Clock::time_point killed = Clock::now();
  cluster.Kill(leader);
  std::optional<Clock::time_point> resync = log.WaitForResync(mark, 20s);
  REQUIRE(resync.has_value());
  CHECK(watch.streams_opened() > streams);
  CHECK(watch.connected());
  std::printf("watch: resync from the new leader %.0f ms after kill -9 of leader %llu\n",
              Millis(*resync - killed), static_cast<unsigned long long>(leader));

  s.Step("create after failover",
         [&] { REQUIRE(writer.Create(kRoot, "after", pb::FILE_TYPE_REGULAR, 0644, true).ok()); },
         {kRoot}, {{kRoot, "after"}});
  s.Step("unlink after failover", [&] { REQUIRE(writer.Unlink(kRoot, "after").ok()); }, {kRoot},
         {{kRoot, "after"}});
  std::printf("watch: worst: event %.2f ms after the call began, %+.2f ms after its reply\n",
              Millis(s.worst_after_call()), Millis(s.worst_after_reply()));
  watch.Stop();
  CHECK_FALSE(watch.connected());
}

}  // namespace
}  // namespace dfs
