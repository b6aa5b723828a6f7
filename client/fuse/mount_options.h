// MountOptions: the command line of dfs-mount and mount.dfs (docs/mount.md).
//
//   dfs-mount --meta HOST:PORT,... MOUNTPOINT [-o opt[,opt...]]...
//   mount.dfs HOST:PORT,... MOUNTPOINT [-sfnv] [-o opt[,opt...]]   (as mount(8) calls it)
//
// dfs options (zone=, cache_dir=, ...) configure libdfsclient and the FUSE
// layer; generic mount options (ro, nosuid, noatime, ...) go to the kernel
// through libfuse; options that only mean something to mount(8) or fstab
// (defaults, noauto, _netdev, x-*, ...) are accepted and ignored. Anything
// else is an error, unless -s (sloppy) was given.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "client/file_system.h"
#include "common/result.h"

namespace dfs::client {

struct MountOptions {
  std::string mountpoint;
  FileSystemOptions fs;  // fs.meta: the dfs-meta addresses
  std::chrono::duration<double> attr_timeout{1.0};
  std::chrono::duration<double> entry_timeout{1.0};
  bool allow_other = false;
  bool read_only = false;
  bool foreground = false;
  bool debug = false;
  std::string http;  // host:port for /metrics and /healthz; empty: none
  // Mutual TLS (docs/security.md): PEM files, all three or none.
  std::string tls_ca, tls_cert, tls_key;
  bool fake = false;  // mount -f: check the options, mount nothing
  bool help = false;  // --help: print MountUsage() and mount nothing
  // Generic mount options for the kernel, as given (e.g. "nosuid").
  std::vector<std::string> kernel_options;
};

// Parses the arguments after argv[0]. Every mistake is INVALID_ARGUMENT
// saying what was wrong; `--help` sets `help` and nothing else is required.
Result<MountOptions> ParseMountArgs(const std::vector<std::string>& args);

// Applies one comma-separated -o list to `options` (exposed for tests).
// `sloppy`: unknown options are ignored instead of an error.
Status ApplyMountOptionList(const std::string& list, bool sloppy, MountOptions* options);

// The arguments for fuse_session_new: argv[0], then "-o" with fsname (the
// meta addresses), subtype=dfs, max_read, default_permissions (always),
// allow_other, ro and the kernel options, commas inside values escaped;
// "-d" when debugging.
std::vector<std::string> FuseSessionArgs(const MountOptions& options);

// The usage text.
std::string MountUsage();

}  // namespace dfs::client
