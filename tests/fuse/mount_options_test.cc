// The command line of dfs-mount and mount.dfs: no cluster needed.
#include <catch2/catch.hpp>

#include "client/fuse/mount_options.h"

namespace dfs::client {
namespace {

Result<MountOptions> Parse(std::vector<std::string> args) {
  return ParseMountArgs(args);
}

TEST_CASE("dfs-mount: --meta ADDRS MOUNTPOINT with every dfs option") {
  auto o = Parse({"--meta", "10.0.0.1:7001,10.0.0.2:7001", "/mnt/dfs", "-o",
                  "zone=a,cache_dir=/var/cache/dfs,cache_size=2GiB,attr_timeout=0.5", "-o",
                  "entry_timeout=30,meta_timeout=90,writeback_buffer=128MiB",
                  "-oallow_other,ro,nosuid,_netdev,x-systemd.automount"});
  REQUIRE(o.ok());
  CHECK(o->mountpoint == "/mnt/dfs");
  CHECK(o->fs.meta == std::vector<std::string>{"10.0.0.1:7001", "10.0.0.2:7001"});
  CHECK(o->fs.zone == "a");
  CHECK(o->fs.cache_dir == "/var/cache/dfs");
  CHECK(o->fs.cache_size == (2ull << 30));
  CHECK(o->attr_timeout.count() == 0.5);
  CHECK(o->entry_timeout.count() == 30);
  CHECK(o->fs.meta_timeout == std::chrono::seconds(90));
  CHECK(o->fs.writeback_buffer == (128ull << 20));
  CHECK(o->allow_other);
  CHECK(o->read_only);
  CHECK_FALSE(o->foreground);
  CHECK(o->kernel_options == std::vector<std::string>{"nosuid"});

  std::vector<std::string> fuse = FuseSessionArgs(*o);
  REQUIRE(fuse.size() == 3);
  CHECK(fuse[1] == "-o");
  CHECK(fuse[2] ==
        "fsname=10.0.0.1:7001\\,10.0.0.2:7001,subtype=dfs,max_read=1048576,default_permissions,"
        "allow_other,ro,nosuid");
}

TEST_CASE("dfs-mount: defaults") {
  auto o = Parse({"--meta=127.0.0.1:7001", "mnt"});
  REQUIRE(o.ok());
  CHECK(o->attr_timeout.count() == 1);
  CHECK(o->entry_timeout.count() == 1);
  CHECK(o->fs.meta_timeout == std::chrono::seconds(60));
  CHECK(o->fs.cache_size == (1ull << 30));
  CHECK(o->fs.cache_dir.empty());
  CHECK_FALSE(o->allow_other);
  CHECK_FALSE(o->read_only);
}

TEST_CASE("mount.dfs: the way mount(8) calls a helper") {
  auto o = Parse({"127.0.0.1:7001,127.0.0.1:7002", "/mnt/dfs", "-s", "-n", "-o",
                  "rw,defaults,noauto,allow_other,unknown_thing=1,debug"});
  REQUIRE(o.ok());  // -s: sloppy, the unknown option is ignored
  CHECK(o->fs.meta.size() == 2);
  CHECK(o->mountpoint == "/mnt/dfs");
  CHECK(o->allow_other);
  CHECK(o->debug);
  CHECK(o->foreground);  // debug implies it
  CHECK(FuseSessionArgs(*o).back() == "-d");

  auto fake = Parse({"127.0.0.1:7001", "/mnt/dfs", "-f", "-v", "-t", "dfs"});
  REQUIRE(fake.ok());
  CHECK(fake->fake);
}

TEST_CASE("dfs-mount: mistakes are errors that say what is wrong") {
  auto bad = [](std::vector<std::string> args, const std::string& says) {
    auto o = ParseMountArgs(args);
    INFO(says);
    REQUIRE_FALSE(o.ok());
    CHECK(o.status().code() == ErrorCode::INVALID_ARGUMENT);
    CHECK(o.status().message().find(says) != std::string::npos);
  };
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "frobnicate"}, "frobnicate");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "cache_size=lots"}, "cache_size");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "attr_timeout=-1"}, "attr_timeout");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "meta_timeout=0"}, "meta_timeout");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "zone"}, "zone");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o", "ro=1"}, "ro");
  bad({"--meta", "localhost", "/mnt"}, "localhost");
  bad({"/mnt"}, "dfs-meta addresses");
  bad({"--meta", "127.0.0.1:7001"}, "mount point");
  bad({"--meta", "127.0.0.1:7001", "/a", "/b"}, "too many");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "--frob"}, "--frob");
  bad({"--meta", "127.0.0.1:7001", "/mnt", "-o"}, "-o");

  // Timeouts also take units.
  auto o = ParseMountArgs({"--meta", "127.0.0.1:7001", "/mnt", "-o", "attr_timeout=250ms"});
  REQUIRE(o.ok());
  CHECK(o->attr_timeout.count() == 0.25);
  CHECK(ParseMountArgs({"--help"})->help);
}

}  // namespace
}  // namespace dfs::client
