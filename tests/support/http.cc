#include "tests/support/http.h"

#include <httplib.h>

#include <sstream>

namespace dfs::testing {

HttpAnswer HttpGet(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(5, 0);
  auto res = http.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

double MetricSample(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace dfs::testing
