// HostPort: a network address written as text, the way node configs spell them: `host`,
// `host:port`, `10.0.0.1`, `10.0.0.1:7280`, `[::1]`, `[::1]:7280` or a bare IPv6 address `::1`
// (no port). Parsing is purely syntactic: names are not resolved here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shale {

struct HostPort {
  std::string host;  // a DNS name, an IPv4 address or an IPv6 address (without brackets)
  std::optional<uint16_t> port;

  bool operator==(const HostPort& other) const = default;
};

// Parses `text` (surrounding blanks ignored). InvalidArgument naming the text when the host is
// empty or has characters no host name or IP address has, or the port is not in 1..65535.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// "host:port", with brackets around IPv6 hosts ("[::1]:7280").
std::string FormatHostPort(std::string_view host, uint16_t port);

}  // namespace shale
