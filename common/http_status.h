// StatusHttp: the small HTTP face every dfs daemon offers operators and
// monitoring (DESIGN §6): `GET /metrics` in the Prometheus text format and
// `GET /healthz`, a real self-test (200 "ok", or 503 and the reason). It
// exposes no data and accepts no mutation: every other path or method is
// 404 / 405.
//
// The handlers run on the server's own threads; they must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dfs {

struct StatusHttpOptions {
  std::string listen;                    // host:port; port 0 picks a free one
  std::function<std::string()> metrics;  // the /metrics body
  std::function<Status()> health;        // the /healthz verdict
};

class StatusHttp {
 public:
  // Binds and starts serving; fails if the address cannot be bound.
  static Result<std::unique_ptr<StatusHttp>> Start(StatusHttpOptions options);
  virtual ~StatusHttp() = default;  // stops serving
  virtual int port() const = 0;
};

// Builds a Prometheus text exposition, one metric family at a time.
class MetricsText {
 public:
  // A gauge or counter with no labels.
  MetricsText& Gauge(const std::string& name, const std::string& help, double value);
  MetricsText& Counter(const std::string& name, const std::string& help, double value);
  // One family with one sample per label value: name{label="value"} x.
  MetricsText& Labeled(const std::string& name, const std::string& type, const std::string& help,
                       const std::string& label,
                       const std::vector<std::pair<std::string, double>>& samples);
  const std::string& text() const { return out_; }

 private:
  void Header(const std::string& name, const std::string& type, const std::string& help);
  std::string out_;
};

}  // namespace dfs
