// Integration: disaster recovery of the metadata. A backup taken with
// `dfsadmin backup create` while a writer creates files is restored, with
// `dfs-meta --restore-from`, into a brand-new meta group after every meta
// server of the first is gone; the chunk servers (which kept their data)
// join the new group. The restored namespace is exactly the state at one
// moment of the writer's history (a prefix of its creates), every restored
// file reads back its bytes, and fsck finds nothing wrong.
#define CATCH_CONFIG_MAIN
#include <fcntl.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/file_system.h"
#include "tests/support/bytes.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/process.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using testing::Pattern;

constexpr uint64_t kRoot = 1;

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

std::unique_ptr<client::FileSystem> Open(const std::vector<std::string>& meta) {
  client::FileSystemOptions o;
  o.meta = meta;
  o.zone = "z1";
  o.meta_timeout = 30s;
  o.chunk_timeout = 5s;
  auto fs = client::FileSystem::Open(o);
  REQUIRE(fs.ok());
  return std::move(fs).value();
}

std::string Name(size_t i) {
  return "f" + std::to_string(i);
}

std::string Contents(size_t i) {
  return Pattern(20000 + 977 * i, i);
}

TEST_CASE("a backup under write load restores into a new meta group with a consistent namespace") {
  auto meta = std::make_unique<testing::ServerGroup>(
      "dfs-meta", 3, std::vector<std::string>{"--chunk-size", "1MiB", "--node-dead-after", "2s"});
  const std::string dir = meta->dir();
  auto chunks = std::make_unique<testing::ChunkServers>(dir + "/chunk", 3, meta->AddressList());
  for (int i = 1; i <= 3; i++)
    REQUIRE(chunks->WaitRegistered(i));
  auto fs = Open(meta->AddressList());

  // The writer creates f0, f1, ... one after the other, each written and
  // closed before the next is created.
  std::atomic<bool> stop{false};
  std::atomic<size_t> started{0}, done{0};
  std::thread writer([&] {
    client::Caller root;
    for (size_t i = 0; !stop; i++) {
      started = i + 1;
      auto h = fs->CreateFile(root, kRoot, Name(i), 0644, O_WRONLY | O_CREAT | O_EXCL);
      if (!h.ok()) break;
      std::string data = Contents(i);
      bool ok = fs->Write(h->handle, 0, data).ok();
      ok = fs->Release(h->handle).ok() && ok;
      if (!ok) break;
      done = i + 1;
    }
  });
  struct StopWriter {
    std::atomic<bool>* stop;
    std::thread* t;
    ~StopWriter() {
      *stop = true;
      if (t->joinable()) t->join();
    }
  } stop_writer{&stop, &writer};
  while (done < 20)
    std::this_thread::sleep_for(10ms);

  const std::string backup = dir + "/backup";
  const size_t done_before = done;
  testing::ToolRun run = testing::RunTool({testing::BinDir() + "/dfsadmin", "--meta",
                                           Join(meta->AddressList()), "backup", "create", backup},
                                          dir + "/backup.out");
  const size_t started_after = started;
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  std::this_thread::sleep_for(200ms);  // a few more writes after the backup
  stop = true;
  writer.join();
  REQUIRE(done > done_before);
  REQUIRE(std::filesystem::exists(backup + "/MANIFEST.json"));

  // Every meta server is lost at once. A new group starts from the backup;
  // the chunk servers come back pointed at it.
  fs.reset();
  chunks.reset();
  for (uint64_t id = 1; id <= 3; id++)
    meta->Kill(id);
  testing::ServerGroup fresh(
      "dfs-meta", 3, {"--chunk-size", "1MiB", "--node-dead-after", "2s", "--restore-from", backup});
  testing::ChunkServers back(dir + "/chunk", 3, fresh.AddressList());
  for (int i = 1; i <= 3; i++)
    REQUIRE(back.WaitRegistered(i));
  auto restored = Open(fresh.AddressList());

  // The namespace is f0 .. f(K-1) for one K the backup's moment allows.
  client::Caller root;
  std::set<std::string> names;
  std::string cookie;
  while (true) {
    auto page = restored->ReadDir(root, kRoot, cookie, 1000);
    REQUIRE(page.ok());
    for (const auto& e : page->entries())
      names.insert(e.name());
    if (page->eof() || page->entries().empty()) break;
    cookie = page->entries().rbegin()->name();
  }
  const size_t k = names.size();
  INFO("restored " << k << " files; " << done_before << " were done before the backup, "
                   << started_after << " started by its end");
  CHECK(k >= done_before);
  CHECK(k <= started_after);
  for (size_t i = 0; i < k; i++)
    CHECK(names.count(Name(i)) == 1);

  // Every restored file reads back what was written (the last one may
  // have been caught between its create and its commit: empty then).
  for (size_t i = 0; i < k; i++) {
    auto attr = restored->Lookup(root, kRoot, Name(i));
    REQUIRE(attr.ok());
    auto h = restored->OpenFile(root, attr->inode(), O_RDONLY);
    REQUIRE(h.ok());
    auto got = restored->Read(h->handle, 0, 1 << 20);
    REQUIRE(got.ok());
    REQUIRE(restored->Release(h->handle).ok());
    if (i + 1 == k && got->empty()) continue;
    INFO(Name(i));
    CHECK(testing::FirstDifference(*got, Contents(i)) == "");
  }

  // And the restored metadata is consistent.
  testing::ToolRun fsck = testing::RunTool(
      {testing::BinDir() + "/dfsadmin", "--meta", Join(fresh.AddressList()), "fsck"},
      dir + "/fsck.out");
  INFO(fsck.output);
  CHECK(fsck.exit_code == 0);
  CHECK(fsck.output.find(std::to_string(k) + " files") != std::string::npos);

  // `dfsadmin backup restore` seeds a member offline: here a group of one.
  const int port = testing::FreePort();
  const std::string solo = dir + "/solo";
  const std::string peers = "1=127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> seed = {testing::BinDir() + "/dfsadmin",
                                         "backup",
                                         "restore",
                                         backup,
                                         "--id",
                                         "1",
                                         "--peers",
                                         peers,
                                         "--data-dir",
                                         solo};
  testing::ToolRun seeded = testing::RunTool(seed, dir + "/seed.out");
  INFO(seeded.output);
  REQUIRE(seeded.exit_code == 0);
  CHECK(testing::RunTool(seed, dir + "/seed-again.out").exit_code == 1);  // not over a log
  testing::Process server;
  REQUIRE(server.Start({testing::BinDir() + "/dfs-meta", "--id", "1", "--listen",
                        "127.0.0.1:" + std::to_string(port), "--peers", peers, "--data-dir", solo},
                       dir + "/solo.log"));
  testing::ToolRun solo_fsck;
  const auto solo_deadline = std::chrono::steady_clock::now() + 30s;
  do {  // until it listens and leads
    std::this_thread::sleep_for(200ms);
    solo_fsck = testing::RunTool(
        {testing::BinDir() + "/dfsadmin", "--meta", "127.0.0.1:" + std::to_string(port), "fsck"},
        dir + "/solo-fsck.out");
  } while (solo_fsck.exit_code == 2 && std::chrono::steady_clock::now() < solo_deadline);
  INFO(solo_fsck.output);
  CHECK(solo_fsck.exit_code == 0);
  CHECK(solo_fsck.output.find(std::to_string(k) + " files") != std::string::npos);
}

}  // namespace
}  // namespace dfs
