// dfs-chunkserver: the storage node daemon (DESIGN §4).
//
//   dfs-chunkserver --listen 127.0.0.1:7101 --zone a --data-dir /srv/dfs/d1
//       --meta 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
//
// On start it registers with the meta leader (a new node gets an id, kept
// in the data directories with the cluster id), opens its replica store,
// serves ChunkService and heartbeats every second.
#include <grpcpp/grpcpp.h>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "client/chunk_stub_pool.h"
#include "common/config.h"
#include "common/http_status.h"
#include "common/logging.h"
#include "common/malloc_tuning.h"
#include "proto/tls.h"
#include "server/chunk_request_checks.h"
#include "server/chunk_service.h"
#include "server/chunk_store.h"
#include "server/meta_link.h"
#include "server/node_identity.h"
#include "server/scrubber.h"

namespace dfs::server {
namespace {

std::atomic<bool> g_stop{false};

struct ChunkServerConfig {
  std::string listen;
  std::string advertise;  // empty: the listen address
  std::string zone = "default";
  std::vector<std::string> data_dirs;
  std::vector<std::string> meta;
  Bytes scrub_rate{4 << 20};
  Bytes capacity{0};
  std::string http;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::string log_level = "info";
  tls::Files tls;
};

int Fail(const Status& s) {
  std::fprintf(stderr, "dfs-chunkserver: %s\n", s.ToString().c_str());
  DFS_LOG(ERROR) << s;
  return 1;
}

// Capacity and free bytes of the directories' file systems before the store opens.
void DiskSpace(const std::vector<std::string>& dirs, uint64_t* capacity, uint64_t* free) {
  *capacity = *free = 0;
  struct statvfs st;
  if (!dirs.empty() && ::statvfs(dirs[0].c_str(), &st) == 0) {
    *capacity = uint64_t{st.f_blocks} * st.f_frsize;
    *free = uint64_t{st.f_bavail} * st.f_frsize;
  }
}

// /metrics: disk space, replicas, requests (names: deploy/README.md).
std::string ChunkServerMetrics(ChunkStore* store, const ChunkServiceImpl& service,
                               const MetaLink& link) {
  const uint64_t capacity = store->CapacityBytes(), free = store->FreeBytes();
  const ChunkServiceStats st = service.stats();
  MetricsText m;
  m.Gauge("dfs_disk_capacity_bytes", "space this server offers", static_cast<double>(capacity))
      .Gauge("dfs_disk_free_bytes", "free space", static_cast<double>(free))
      .Gauge("dfs_disk_used_ratio", "used fraction of the space offered",
             capacity == 0 ? 0
                           : 1.0 - static_cast<double>(std::min(free, capacity)) /
                                       static_cast<double>(capacity))
      .Gauge("dfs_replicas", "replicas held", static_cast<double>(store->List().size()))
      .Gauge("dfs_chunk_requests_in_flight", "requests being served",
             static_cast<double>(service.load()))
      .Gauge("dfs_meta_connected", "1 while heartbeats reach the meta leader",
             link.connected() ? 1 : 0)
      .Labeled("dfs_chunk_requests_total", "counter", "reads and chain writes served", "op",
               {{"read", static_cast<double>(st.reads)}, {"write", static_cast<double>(st.writes)}})
      .Labeled("dfs_chunk_request_errors_total", "counter", "reads and writes that failed here",
               "op",
               {{"read", static_cast<double>(st.read_errors)},
                {"write", static_cast<double>(st.write_errors)}})
      .Labeled("dfs_chunk_bytes_total", "counter", "bytes read and written", "op",
               {{"read", static_cast<double>(st.read_bytes)},
                {"write", static_cast<double>(st.write_bytes)}})
      .Counter("dfs_corrupt_found_total", "requests that found a corrupt replica here",
               static_cast<double>(st.corrupt));
  return m.text();
}

// /healthz: every data directory takes a small synced write and reads it
// back, and the store answers.
Status ChunkServerHealth(ChunkStore* store, const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    const std::string probe = dir + "/.healthz";
    const std::string want = "dfs healthz " + std::to_string(::getpid());
    int fd = ::open(probe.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot write in " + dir + ": " + std::strerror(errno));
    bool ok = ::pwrite(fd, want.data(), want.size(), 0) == static_cast<ssize_t>(want.size()) &&
              ::fdatasync(fd) == 0;
    std::string got(want.size(), '\0');
    ok = ok && ::pread(fd, got.data(), got.size(), 0) == static_cast<ssize_t>(got.size()) &&
         got == want;
    ::close(fd);
    ::unlink(probe.c_str());
    if (!ok) return Status::IoError("write and read back failed in " + dir);
  }
  (void)store->Stat(0);  // the index answers (NOT_FOUND is fine)
  return Status::Ok();
}

int Main(int argc, char** argv) {
  ChunkServerConfig cfg;
  ConfigParser parser("dfs-chunkserver", "dfs chunk server (stores chunk replicas)");
  parser.Add("listen", &cfg.listen, "host:port to serve ChunkService on");
  parser.Add("advertise", &cfg.advertise,
             "host:port clients and peers use to reach this server (default: --listen)");
  parser.Add("zone", &cfg.zone, "availability zone; replicas of a chunk go to distinct zones");
  parser.Add("data_dir", &cfg.data_dirs, "data directories, DIR[,DIR...] (one per disk)");
  parser.Add("meta", &cfg.meta, "every dfs-meta address, HOST:PORT[,HOST:PORT...]");
  parser.Add("scrub_rate", &cfg.scrub_rate, "bytes per second the scrubber verifies (0 = off)");
  parser.Add("capacity", &cfg.capacity,
             "space offered at most, e.g. 500GiB (0 = all of the data directories' disks)");
  parser.Add("heartbeat_interval", &cfg.heartbeat_interval, "heartbeat to the meta leader");
  parser.Add("log_level", &cfg.log_level, "trace, debug, info, warn, error");
  parser.Add("http", &cfg.http, "host:port for GET /metrics and /healthz (empty: none)");
  tls::AddConfigKeys(&parser, &cfg.tls);
  Status s = parser.Parse(argc, argv);
  if (parser.help_requested()) return 0;
  if (!s.ok()) {
    std::fprintf(stderr, "dfs-chunkserver: %s\n", s.ToString().c_str());
    return 2;
  }
  if (Status t = tls::Configure(cfg.tls); !t.ok()) {
    std::fprintf(stderr, "dfs-chunkserver: %s\n", t.ToString().c_str());
    return 2;
  }
  if (cfg.listen.empty() || cfg.data_dirs.empty() || cfg.meta.empty()) {
    std::fprintf(stderr,
                 "dfs-chunkserver: --listen, --data-dir and --meta are required (see --help)\n");
    return 2;
  }
  if (cfg.zone.empty()) {
    std::fprintf(stderr, "dfs-chunkserver: --zone must not be empty\n");
    return 2;
  }
  if (cfg.advertise.empty()) cfg.advertise = cfg.listen;
  s = InitLogging(cfg.log_level, "dfs-chunkserver-" + cfg.advertise);
  if (!s.ok()) {
    std::fprintf(stderr, "dfs-chunkserver: %s\n", s.ToString().c_str());
    return 2;
  }
  for (const std::string& dir : cfg.data_dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(Status::IoError("cannot create " + dir + ": " + ec.message()));
  }
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });

  // Who we are: the data directories say, the meta leader confirms.
  Result<NodeIdentity> known = LoadNodeIdentity(cfg.data_dirs);
  if (!known.ok()) return Fail(known.status());
  MetaLink link(MetaLinkOptions{cfg.meta, cfg.advertise, cfg.zone, cfg.heartbeat_interval});
  uint64_t capacity = 0, free = 0;
  DiskSpace(cfg.data_dirs, &capacity, &free);
  if (cfg.capacity.value > 0) {
    capacity = std::min(capacity, cfg.capacity.value);
    free = std::min(free, capacity);  // the store's first heartbeat knows better
  }
  Result<NodeIdentity> identity = link.Register(*known, capacity, free, g_stop);
  if (!identity.ok()) return Fail(identity.status());
  if (!known->registered()) {
    s = SaveNodeIdentity(cfg.data_dirs, *identity);
    if (!s.ok()) return Fail(s);
  }
  DFS_LOG(INFO) << "node " << identity->node_id << " of cluster " << identity->cluster_id
                << " (zone " << cfg.zone << ")";

  const ChunkStoreOptions store_options{cfg.data_dirs, identity->chunk_size, cfg.capacity.value};
  Result<std::unique_ptr<ChunkStore>> store = ChunkStore::Open(store_options);
  // A data directory too full to open its metadata store in: wait for space
  // rather than open RocksDB into a full disk (docs/chunk_store.md, "Full disks").
  for (int tries = 0; !store.ok() && store.status().code() == ErrorCode::NO_SPACE && !g_stop;
       ++tries) {
    DFS_LOG_IF(WARN, tries % 10 == 0)
        << store.status() << "; waiting for space, trying every second";
    std::this_thread::sleep_for(std::chrono::seconds(1));
    store = ChunkStore::Open(store_options);
  }
  if (!store.ok()) return Fail(store.status());

  client::ChunkStubPool peers;
  ChunkServiceOptions service_options;
  service_options.on_corrupt = [&link] { link.Wake(); };
  ChunkServiceImpl service(service_options, store->get(), &peers);
  service.SetIdentity(identity->node_id, identity->cluster_id);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg.listen, tls::ServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(client::kMaxChunkMessageBytes);
  builder.SetMaxSendMessageSize(client::kMaxChunkMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Fail(Status::Unavailable("cannot listen on " + cfg.listen));

  link.Start(store->get(), [&service] { return service.load(); });
  Scrubber scrubber(ScrubberOptions{cfg.scrub_rate.value, [&link] { link.Wake(); }}, store->get());
  scrubber.Start();
  std::unique_ptr<StatusHttp> http;
  if (!cfg.http.empty()) {
    auto started = StatusHttp::Start(
        StatusHttpOptions{cfg.http, [&] { return ChunkServerMetrics(store->get(), service, link); },
                          [&] { return ChunkServerHealth(store->get(), cfg.data_dirs); }});
    if (!started.ok()) return Fail(started.status());
    http = std::move(started).value();
    if (http) DFS_LOG(INFO) << "serving /metrics and /healthz on http port " << http->port();
  }
  DFS_LOG(INFO) << "dfs-chunkserver serving on " << cfg.listen;

  while (!g_stop)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  DFS_LOG(INFO) << "dfs-chunkserver shutting down";
  scrubber.Stop();
  link.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace
}  // namespace dfs::server

int main(int argc, char** argv) {
  dfs::KeepLargeBuffersInHeap();
  return dfs::server::Main(argc, argv);
}
