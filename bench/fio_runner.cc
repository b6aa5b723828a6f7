#include "bench/fio_runner.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dfs::bench {

bool DropCaches() {
  ::sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3\n";
  return static_cast<bool>(f.flush());
}

FioResult RunFio(const FioJob& job) {
  std::ostringstream cmd;
  cmd << "fio --name=job --directory=" << job.directory << " --rw=" << job.rw
      << " --bs=" << job.block_size << " --size=" << job.size << " --ioengine=" << job.engine
      << " --iodepth=" << job.iodepth << " --direct=" << (job.direct ? 1 : 0)
      << " --output-format=json";
  if (job.end_fsync) cmd << " --end_fsync=1";
  if (!job.invalidate) cmd << " --invalidate=0";
  if (job.runtime_seconds > 0) cmd << " --time_based --runtime=" << job.runtime_seconds;
  cmd << " 2>/dev/null";
  FioResult r;
  FILE* p = ::popen(cmd.str().c_str(), "r");
  if (!p) return r;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p))
    out.append(buf, n);
  int status = ::pclose(p);
  // The job's "read" : { ... } or "write" : { ... } object (not the job
  // options' "rw" : "write", which comes first).
  const bool writes = job.rw.find("write") != std::string::npos;
  size_t at = out.find(writes ? "\"write\" : {" : "\"read\" : {");
  if (status != 0 || at == std::string::npos) return r;
  auto number = [&](const std::string& key) {
    size_t k = out.find("\"" + key + "\"", at);
    if (k == std::string::npos) return 0.0;
    return std::strtod(out.c_str() + out.find(':', k) + 1, nullptr);
  };
  r.mb_per_s = number("bw_bytes") / 1e6;
  r.iops = number("iops");
  r.ok = true;
  return r;
}

}  // namespace dfs::bench
