#include "common/host_port.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace shale {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Letters, digits, '-', '.' and '_' make DNS names, IPv4 addresses and IPv6 zone indexes.
bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  const std::string_view trimmed = Trim(text);
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("invalid address `{}`: {}", trimmed, why));
  };
  HostPort result;
  std::string_view port_text;
  bool has_port = false;
  if (!trimmed.empty() && trimmed.front() == '[') {
    const size_t close = trimmed.find(']');
    if (close == std::string_view::npos) return invalid("missing `]` after the IPv6 address");
    result.host = std::string(trimmed.substr(1, close - 1));
    const std::string_view rest = trimmed.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid("expected `:port` after `]`");
      port_text = rest.substr(1);
      has_port = true;
    }
    if (result.host.find(':') == std::string::npos) {
      return invalid("brackets are only for IPv6 addresses");
    }
  } else if (std::count(trimmed.begin(), trimmed.end(), ':') > 1) {
    result.host = std::string(trimmed);  // a bare IPv6 address: no port
  } else {
    const size_t colon = trimmed.find(':');
    result.host = std::string(trimmed.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = trimmed.substr(colon + 1);
      has_port = true;
    }
  }
  if (result.host.empty()) return invalid("the host is empty");
  const bool is_ipv6 = result.host.find(':') != std::string::npos;
  // An IPv6 address may end with a zone index naming an interface: `fe80::1%eth0`.
  const size_t zone = is_ipv6 ? result.host.find('%') : std::string::npos;
  for (size_t i = 0; i < result.host.size(); ++i) {
    const char c = result.host[i];
    const bool valid = is_ipv6 && i < zone ? IsIpv6Char(c) : IsHostNameChar(c) || i == zone;
    if (!valid) return invalid(fmt::format("unexpected character `{}` in the host", c));
  }
  if (has_port) {
    uint32_t port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      return invalid(fmt::format("invalid port `{}` (expected 1 to 65535)", port_text));
    }
    result.port = static_cast<uint16_t>(port);
  }
  return result;
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace shale
