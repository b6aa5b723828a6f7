#include "client/watch_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "common/status.h"
#include "proto/channel_args.h"
#include "proto/tls.h"

namespace dfs::client {

namespace {

// A dead leader (a crashed host sends no RST) is noticed by keepalive
// pings within about two seconds; the servers accept pings that often
// (ConfigureRaftServer).
grpc::ChannelArguments WatchChannelArgs() {
  grpc::ChannelArguments args = MetaChannelArgs(/*keepalive=*/true);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // an idle stream keeps pinging
  return args;
}

}  // namespace

WatchClient::WatchClient(WatchClientOptions options, EventHandler on_event)
    : options_(std::move(options)), on_event_(std::move(on_event)) {
  grpc::ChannelArguments args = WatchChannelArgs();
  for (const std::string& address : options_.servers) {
    channels_.push_back(tls::Channel(address, args));
    stubs_.push_back(pb::MetaService::NewStub(channels_.back()));
  }
  thread_ = std::thread([this] { Run(); });
}

WatchClient::~WatchClient() {
  Stop();
}

void WatchClient::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WatchClient::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool WatchClient::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void WatchClient::Run() {
  if (stubs_.empty()) {
    DFS_LOG(ERROR) << "watch: no metadata servers given";
    return;
  }
  size_t server = 0;
  size_t failures = 0;  // attempts in a row that delivered nothing
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (!stopping()) {
    Attempt a = Watch(server);
    if (stopping()) break;
    if (a.delivered) {
      // The stream was up and broke (leader lost, killed, restarted): look
      // for the leader again, from the next server. At once, unless streams
      // keep breaking right after they open: each costs the mount a resync.
      failures = 0;
      server = (server + 1) % stubs_.size();
      if (a.lasted >= options_.max_backoff) {
        backoff = options_.min_backoff;
      } else {
        if (!Sleep(backoff)) break;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
      continue;
    }
    failures++;
    auto hinted = std::find(options_.servers.begin(), options_.servers.end(), a.leader_hint);
    if (!a.leader_hint.empty() && hinted != options_.servers.end() &&
        static_cast<size_t>(hinted - options_.servers.begin()) != server) {
      server = static_cast<size_t>(hinted - options_.servers.begin());
    } else {
      server = (server + 1) % stubs_.size();
    }
    // After a round without a leader (an election, or hints that point at
    // a dead one), pause before the next.
    if (failures % stubs_.size() == 0) {
      if (!Sleep(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

WatchClient::Attempt WatchClient::Watch(size_t server) {
  Attempt attempt;
  // Waiting for the connection makes the channel retry at once after a
  // restart; in slices, so that Stop is prompt.
  auto connect_by = std::chrono::steady_clock::now() + options_.connect_timeout;
  bool connected = false;
  while (!connected && std::chrono::steady_clock::now() < connect_by) {
    if (stopping()) return attempt;
    connected = channels_[server]->WaitForConnected(std::chrono::system_clock::now() +
                                                    std::chrono::milliseconds(50));
  }
  if (!connected) return attempt;

  grpc::ClientContext ctx;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return attempt;
    call_ = &ctx;
  }
  pb::WatchRequest request;
  request.mutable_header()->set_cluster_id(options_.cluster_id);
  for (uint64_t id : options_.own_sessions)
    request.add_own_sessions(id);
  std::unique_ptr<grpc::ClientReader<pb::WatchEvent>> reader = stubs_[server]->Watch(&ctx, request);
  pb::WatchEvent event;
  auto opened = std::chrono::steady_clock::now();
  while (reader->Read(&event)) {
    if (event.error().code() != 0) {
      // A refusal: one event, then the end of the stream.
      Status refused(ErrorCodeFromNumber(event.error().code()), event.error().message());
      attempt.leader_hint = event.error().leader_address();
      DFS_LOG_IF(WARN, refused.code() != ErrorCode::NOT_LEADER)
          << "watch: " << options_.servers[server] << " refused the stream: " << refused;
      continue;
    }
    if (!attempt.delivered) {
      // Whatever happened before this stream was missed.
      event.set_resync(true);
      attempt.delivered = true;
      connected_ = true;
      streams_opened_++;
      DFS_LOG(DEBUG) << "watch: stream open on " << options_.servers[server];
    }
    on_event_(event);
  }
  grpc::Status end = reader->Finish();
  attempt.lasted = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - opened);
  connected_ = false;
  {
    std::lock_guard lock(mu_);
    call_ = nullptr;
  }
  DFS_LOG_IF(INFO, attempt.delivered && !stopping())
      << "watch: stream on " << options_.servers[server] << " ended: " << end.error_message();
  return attempt;
}

}  // namespace dfs::client
