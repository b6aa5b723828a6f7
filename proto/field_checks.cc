#include "proto/field_checks.h"

#include <cctype>
#include <cstdint>

#include "common/result.h"

namespace dfs {

namespace {

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

}  // namespace

Status InvalidField(std::string_view field, std::string_view why) {
  std::string message(field);
  message += ": ";
  message += why;
  return Status::InvalidArgument(std::move(message));
}

Status CheckHeader(const pb::RpcHeader& header) {
  if (header.cluster_id().size() > kMaxClusterIdLength) {
    return InvalidField("header.cluster_id", std::to_string(header.cluster_id().size()) +
                                                 " bytes is no cluster id (max " +
                                                 std::to_string(kMaxClusterIdLength) + ")");
  }
  if (header.groups_size() > kMaxGroups) {
    return InvalidField("header.groups", std::to_string(header.groups_size()) + " groups (max " +
                                             std::to_string(kMaxGroups) + ")");
  }
  return Status::Ok();
}

Status CheckAddress(std::string_view field, const std::string& address) {
  if (address.empty()) return InvalidField(field, "empty address");
  if (address.size() > kMaxAddressLength) {
    return InvalidField(field, "address of " + std::to_string(address.size()) + " bytes (max " +
                                   std::to_string(kMaxAddressLength) + ")");
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return InvalidField(field, "not HOST:PORT");
  const std::string_view host(address.data(), colon);
  const std::string_view port(address.data() + colon + 1, address.size() - colon - 1);
  bool host_ok;
  if (host.front() == '[') {
    host_ok = host.size() > 2 && host.back() == ']';
    for (size_t i = 1; host_ok && i + 1 < host.size(); i++)
      host_ok = IsIpv6Char(host[i]);
  } else {
    host_ok = true;
    for (char c : host)
      host_ok = host_ok && IsHostChar(c);
  }
  if (!host_ok) return InvalidField(field, "not HOST:PORT (bad host)");
  uint32_t number = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || number > 65535)
      return InvalidField(field, "not HOST:PORT (bad port)");
    number = number * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port.empty() || number == 0 || number > 65535) {
    return InvalidField(field, "not HOST:PORT (port 1-65535)");
  }
  return Status::Ok();
}

Status CheckZone(std::string_view field, const std::string& zone) {
  if (zone.empty()) return InvalidField(field, "empty zone");
  if (zone.size() > kMaxZoneLength) {
    return InvalidField(field, "zone of " + std::to_string(zone.size()) + " bytes (max " +
                                   std::to_string(kMaxZoneLength) + ")");
  }
  for (char c : zone) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidField(field, "zone holds a control character");
    }
  }
  return Status::Ok();
}

Status CheckReplica(std::string_view field, const pb::ChunkReplica& replica) {
  const std::string f(field);
  if (replica.node_id() == 0) return InvalidField(f + ".node_id", "0 is no node");
  RETURN_IF_ERROR(CheckAddress(f + ".address", replica.address()));
  if (!replica.zone().empty()) RETURN_IF_ERROR(CheckZone(f + ".zone", replica.zone()));
  return Status::Ok();
}

}  // namespace dfs
