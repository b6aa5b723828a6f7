#include "common/http_status.h"

#include <httplib.h>

#include <cmath>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include "common/logging.h"

namespace dfs {

namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

std::string Escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class StatusHttpImpl final : public StatusHttp {
 public:
  explicit StatusHttpImpl(StatusHttpOptions options) : options_(std::move(options)) {}
  ~StatusHttpImpl() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  Status Init() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(options_.metrics ? options_.metrics() : std::string(),
                      "text/plain; version=0.0.4");
    });
    server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      Status s = options_.health ? options_.health() : Status::Ok();
      res.status = s.ok() ? 200 : 503;
      res.set_content(s.ok() ? "ok\n" : s.ToString() + "\n", "text/plain");
    });
    // No mutation through this door.
    auto refuse = [](const httplib::Request&, httplib::Response& res) { res.status = 405; };
    server_.Post(".*", refuse);
    server_.Put(".*", refuse);
    server_.Delete(".*", refuse);
    server_.Patch(".*", refuse);
    size_t colon = options_.listen.rfind(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("http address '" + options_.listen + "' is not HOST:PORT");
    }
    std::string host = options_.listen.substr(0, colon);
    int port = 0;
    try {
      port = std::stoi(options_.listen.substr(colon + 1));
    } catch (const std::exception&) {
      return Status::InvalidArgument("http address '" + options_.listen + "' has no port");
    }
    if (port == 0) {
      port_ = server_.bind_to_any_port(host);
    } else if (server_.bind_to_port(host, port)) {
      port_ = port;
    }
    if (port_ <= 0) return Status::Unavailable("cannot listen for HTTP on " + options_.listen);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return Status::Ok();
  }

  int port() const override { return port_; }

 private:
  StatusHttpOptions options_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<StatusHttp>> StatusHttp::Start(StatusHttpOptions options) {
  auto server = std::make_unique<StatusHttpImpl>(std::move(options));
  RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<StatusHttp>(std::move(server));
}

void MetricsText::Header(const std::string& name, const std::string& type,
                         const std::string& help) {
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

MetricsText& MetricsText::Gauge(const std::string& name, const std::string& help, double value) {
  Header(name, "gauge", help);
  out_ += name + " " + Number(value) + "\n";
  return *this;
}

MetricsText& MetricsText::Counter(const std::string& name, const std::string& help, double value) {
  Header(name, "counter", help);
  out_ += name + " " + Number(value) + "\n";
  return *this;
}

MetricsText& MetricsText::Labeled(const std::string& name, const std::string& type,
                                  const std::string& help, const std::string& label,
                                  const std::vector<std::pair<std::string, double>>& samples) {
  Header(name, type, help);
  for (const auto& [value, x] : samples)
    out_ += name + "{" + label + "=\"" + Escaped(value) + "\"} " + Number(x) + "\n";
  return *this;
}

}  // namespace dfs
