#include "client/fuse/mount_options.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include "common/units.h"

namespace dfs::client {
namespace {

// The largest read and write the mount asks the kernel for (DESIGN §5).
constexpr uint64_t kMaxIo = 1 << 20;

// Generic mount options libfuse hands to the kernel ("ro" is kept apart).
const std::set<std::string, std::less<>> kKernelOptions = {
    "suid", "nosuid",  "dev",     "nodev",      "exec",      "noexec",     "async",
    "sync", "dirsync", "noatime", "nodiratime", "symfollow", "nosymfollow"};

// Options that only mean something to mount(8), fstab or the kernel's
// defaults: accepted so that fstab lines and `mount -t dfs` work, ignored.
// default_permissions is always on (FuseSessionArgs).
const std::set<std::string, std::less<>> kIgnoredOptions = {"default_permissions",
                                                            "defaults",
                                                            "auto",
                                                            "noauto",
                                                            "user",
                                                            "nouser",
                                                            "users",
                                                            "owner",
                                                            "group",
                                                            "nofail",
                                                            "_netdev",
                                                            "relatime",
                                                            "atime",
                                                            "diratime",
                                                            "strictatime",
                                                            "lazytime",
                                                            "nolazytime",
                                                            "loud",
                                                            "silent",
                                                            "norelatime",
                                                            "nostrictatime"};

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "1", "0.5" (seconds) or a duration with a unit ("500ms").
Result<std::chrono::duration<double>> ParseSeconds(const std::string& name,
                                                   const std::string& text) {
  if (!text.empty()) {
    char* end = nullptr;
    double seconds = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size()) {
      if (!std::isfinite(seconds) || seconds < 0)
        return Status::InvalidArgument(name + "=" + text + ": not a number of seconds >= 0");
      return std::chrono::duration<double>(seconds);
    }
  }
  Result<std::chrono::nanoseconds> d = ParseDuration(text);
  if (!d.ok()) return std::move(d).status().WithContext(name);
  return std::chrono::duration<double>(*d);
}

Status ApplyOne(const std::string& option, bool sloppy, MountOptions* o) {
  const size_t eq = option.find('=');
  const std::string key = option.substr(0, eq);
  const bool has_value = eq != std::string::npos;
  const std::string value = has_value ? option.substr(eq + 1) : "";
  auto flag = [&](bool* field, bool v) {
    if (has_value) return Status::InvalidArgument("option " + key + " takes no value");
    *field = v;
    return Status::Ok();
  };
  auto need_value = [&]() {
    return has_value && !value.empty()
               ? Status::Ok()
               : Status::InvalidArgument("option " + key + " needs a value (" + key + "=...)");
  };

  if (key == "zone") {
    RETURN_IF_ERROR(need_value());
    o->fs.zone = value;
  } else if (key == "http") {
    RETURN_IF_ERROR(need_value());
    o->http = value;
  } else if (key == "tls_ca" || key == "tls_cert" || key == "tls_key") {
    RETURN_IF_ERROR(need_value());
    (key == "tls_ca" ? o->tls_ca : key == "tls_cert" ? o->tls_cert : o->tls_key) = value;
  } else if (key == "cache_dir") {
    RETURN_IF_ERROR(need_value());
    o->fs.cache_dir = value;
  } else if (key == "cache_size" || key == "writeback_buffer") {
    RETURN_IF_ERROR(need_value());
    ASSIGN_OR_RETURN(uint64_t bytes, ParseBytes(value), key);
    if (key == "cache_size") {
      o->fs.cache_size = bytes;
    } else {
      if (bytes == 0) return Status::InvalidArgument("writeback_buffer must be > 0");
      o->fs.writeback_buffer = bytes;
    }
  } else if (key == "attr_timeout" || key == "entry_timeout" || key == "meta_timeout") {
    RETURN_IF_ERROR(need_value());
    ASSIGN_OR_RETURN(std::chrono::duration<double> seconds, ParseSeconds(key, value));
    if (key == "attr_timeout") {
      o->attr_timeout = seconds;
    } else if (key == "entry_timeout") {
      o->entry_timeout = seconds;
    } else {
      if (seconds.count() <= 0) return Status::InvalidArgument("meta_timeout must be > 0");
      o->fs.meta_timeout = std::chrono::ceil<std::chrono::milliseconds>(seconds);
    }
  } else if (key == "allow_other") {
    return flag(&o->allow_other, true);
  } else if (key == "ro") {
    return flag(&o->read_only, true);
  } else if (key == "rw") {
    return flag(&o->read_only, false);
  } else if (key == "foreground") {
    return flag(&o->foreground, true);
  } else if (key == "debug") {
    return flag(&o->debug, true);
  } else if (!has_value && kKernelOptions.count(key)) {
    o->kernel_options.push_back(key);
  } else if ((!has_value && kIgnoredOptions.count(key)) || key.rfind("x-", 0) == 0 ||
             key == "comment") {
    // mount(8) and fstab business.
  } else if (!sloppy) {
    return Status::InvalidArgument("unknown mount option '" + option + "' (see docs/mount.md)");
  }
  return Status::Ok();
}

// Escapes what fuse_opt would split on inside one -o value.
std::string EscapeOptionValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Status ApplyMountOptionList(const std::string& list, bool sloppy, MountOptions* options) {
  for (const std::string& option : Split(list, ',')) {
    if (option.empty()) continue;
    RETURN_IF_ERROR(ApplyOne(option, sloppy, options));
  }
  return Status::Ok();
}

Result<MountOptions> ParseMountArgs(const std::vector<std::string>& args) {
  MountOptions o;
  std::vector<std::string> positional, lists;
  std::string meta;
  bool sloppy = false;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    auto next = [&](const std::string& what) -> Result<std::string> {
      if (i + 1 >= args.size()) return Status::InvalidArgument(a + " needs " + what);
      return args[++i];
    };
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      positional.push_back(a);
    } else if (a == "--") {
      options_done = true;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    } else if (a == "--meta") {
      ASSIGN_OR_RETURN(meta, next("the dfs-meta addresses"));
    } else if (a.rfind("--meta=", 0) == 0) {
      meta = a.substr(7);
    } else if (a == "-o") {
      ASSIGN_OR_RETURN(std::string list, next("a list of options"));
      lists.push_back(list);
    } else if (a.rfind("-o", 0) == 0) {
      lists.push_back(a.substr(2));
    } else if (a == "-t") {
      ASSIGN_OR_RETURN(std::string type, next("a file system type"));  // mount(8): dfs
      (void)type;
    } else if (a == "-N") {
      return Status::InvalidArgument("-N (mount namespace) is not supported");
    } else if (a.size() > 1 && a[1] != '-' && a.find_first_not_of("sfnv", 1) == std::string::npos) {
      // The flags mount(8) gives helpers: sloppy, fake, no mtab, verbose.
      if (a.find('s') != std::string::npos) sloppy = true;
      if (a.find('f') != std::string::npos) o.fake = true;
    } else {
      return Status::InvalidArgument("unknown argument '" + a + "'");
    }
  }
  // mount.dfs ADDRS MOUNTPOINT, or dfs-mount --meta ADDRS MOUNTPOINT.
  if (meta.empty() && positional.size() == 2) {
    meta = positional[0];
    positional.erase(positional.begin());
  }
  if (meta.empty()) return Status::InvalidArgument("no dfs-meta addresses (--meta HOST:PORT,...)");
  if (positional.size() != 1)
    return Status::InvalidArgument(positional.empty() ? "no mount point given"
                                                      : "too many arguments");
  o.mountpoint = positional[0];
  for (const std::string& address : Split(meta, ',')) {
    if (address.empty() || address.find(':') == std::string::npos)
      return Status::InvalidArgument("bad dfs-meta address '" + address + "' in '" + meta +
                                     "' (want HOST:PORT,...)");
    o.fs.meta.push_back(address);
  }
  for (const std::string& list : lists)
    RETURN_IF_ERROR(ApplyMountOptionList(list, sloppy, &o));
  if (o.debug) o.foreground = true;  // the debug output goes to the terminal
  return o;
}

std::vector<std::string> FuseSessionArgs(const MountOptions& options) {
  std::string meta;
  for (const std::string& address : options.fs.meta)
    meta += (meta.empty() ? "" : ",") + address;
  // default_permissions: the kernel checks mode bits too, on every path
  // walk. Without it a name the kernel has cached is reached without the
  // search permission of its directory ever being asked for, since only
  // lookups go to the meta service.
  std::string list = "fsname=" + EscapeOptionValue(meta) +
                     ",subtype=dfs,max_read=" + std::to_string(kMaxIo) + ",default_permissions";
  if (options.allow_other) list += ",allow_other";
  if (options.read_only) list += ",ro";
  for (const std::string& option : options.kernel_options)
    list += "," + option;
  std::vector<std::string> args = {"dfs-mount", "-o", list};
  if (options.debug) args.push_back("-d");
  return args;
}

std::string MountUsage() {
  return "usage: dfs-mount --meta HOST:PORT[,HOST:PORT...] MOUNTPOINT [-o OPTION[,OPTION...]]\n"
         "       mount.dfs HOST:PORT[,HOST:PORT...] MOUNTPOINT [-sfnv] [-o OPTION[,...]]\n"
         "\n"
         "options:\n"
         "  zone=ZONE              read from replicas in this zone first\n"
         "  http=HOST:PORT         serve GET /metrics and /healthz (a load balancer's check)\n"
         "  cache_dir=DIR          local disk block cache (default: none, RAM only)\n"
         "  cache_size=BYTES       bound of the disk cache, e.g. 1GiB (default 1GiB)\n"
         "  attr_timeout=SECONDS   kernel attribute cache (default 1)\n"
         "  entry_timeout=SECONDS  kernel name cache (default 1)\n"
         "  meta_timeout=SECONDS   how long metadata calls retry (default 60)\n"
         "  writeback_buffer=BYTES buffered writes, all files together (default 64MiB)\n"
         "  tls_ca=FILE            cluster CA certificate (mutual TLS, with the next two)\n"
         "  tls_cert=FILE          this mount's certificate (role mount.dfs)\n"
         "  tls_key=FILE           its key\n"
         "  allow_other            let every user use the mount (permissions still apply)\n"
         "  ro                     read-only mount\n"
         "  foreground             stay in the foreground, log to stderr\n"
         "  debug                  log every request (implies foreground)\n"
         "  generic: nosuid, nodev, noexec, noatime, nodiratime, sync, dirsync (to the kernel);\n"
         "           defaults, noauto, _netdev, nofail, x-* (ignored)\n";
}

}  // namespace dfs::client
