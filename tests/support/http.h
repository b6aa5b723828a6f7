// Talking to a dfs daemon's /metrics and /healthz in tests.
#pragma once

#include <string>

namespace dfs::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

// GET http://127.0.0.1:port/path (5 s timeout).
HttpAnswer HttpGet(int port, const std::string& path);

// The value of one sample ("name" or "name{label=\"x\"}") in a Prometheus
// text exposition; -1 if absent.
double MetricSample(const std::string& metrics, const std::string& name);

}  // namespace dfs::testing
