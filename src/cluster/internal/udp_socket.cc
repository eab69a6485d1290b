#include "cluster/internal/udp_socket.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/host_port.h"

namespace shale::cluster::internal {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe)

}  // namespace

absl::StatusOr<std::vector<SocketAddress>> SocketAddress::Resolve(const std::string& host,
                                                                  uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* results = nullptr;
  const std::string service = std::to_string(port);
  const int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &results);
  if (error != 0) {
    return absl::NotFoundError(
        fmt::format("cannot resolve host `{}`: {}", host, gai_strerror(error)));
  }
  std::vector<SocketAddress> addresses;
  for (const addrinfo* result = results; result != nullptr; result = result->ai_next) {
    if (result->ai_family != AF_INET && result->ai_family != AF_INET6) continue;
    SocketAddress address = FromSockaddr(result->ai_addr, result->ai_addrlen);
    bool seen = false;
    for (const SocketAddress& other : addresses) seen = seen || other == address;
    if (!seen) addresses.push_back(address);
  }
  freeaddrinfo(results);
  if (addresses.empty()) {
    return absl::NotFoundError(fmt::format("host `{}` has no IP address", host));
  }
  return addresses;
}

absl::StatusOr<SocketAddress> SocketAddress::ParseNumeric(std::string_view text) {
  absl::StatusOr<HostPort> host_port = ParseHostPort(text);
  if (!host_port.ok()) return host_port.status();
  if (!host_port->port.has_value()) {
    return absl::InvalidArgumentError(fmt::format("address `{}` has no port", text));
  }
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  if (inet_pton(AF_INET, host_port->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(*host_port->port);
    address.length_ = sizeof(sockaddr_in);
    return address;
  }
  address = SocketAddress();
  if (inet_pton(AF_INET6, host_port->host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*host_port->port);
    address.length_ = sizeof(sockaddr_in6);
    return address;
  }
  return absl::InvalidArgumentError(fmt::format("`{}` is not an IP address and port", text));
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  const size_t copied = std::min<size_t>(length, sizeof(result.storage_));
  std::memcpy(&result.storage_, address, copied);
  result.length_ = static_cast<socklen_t>(copied);
  return result;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::Host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

std::string SocketAddress::ToString() const { return FormatHostPort(Host(), port()); }

bool SocketAddress::IsUnspecified() const {
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (family() == AF_INET6) {
    const in6_addr& address = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    return std::memcmp(&address, &in6addr_any, sizeof(in6_addr)) == 0;
  }
  return false;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  if (family() != other.family() || port() != other.port()) return false;
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&other.storage_)->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&other.storage_)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return length_ == other.length_;
}

std::optional<std::string> FindPrivateIpv4Address() {
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (const ifaddrs* entry = interfaces; entry != nullptr && !found; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_UP) == 0 || (entry->ifa_flags & IFF_LOOPBACK) != 0) continue;
    found = SocketAddress::FromSockaddr(entry->ifa_addr, sizeof(sockaddr_in)).Host();
  }
  freeifaddrs(interfaces);
  return found;
}

absl::StatusOr<UdpSocket> UdpSocket::Bind(const SocketAddress& address) {
  const int fd = socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(fmt::format("cannot create a UDP socket: {}", ErrnoText(errno)));
  }
  UdpSocket udp_socket(fd);
  if (bind(fd, address.sockaddr_ptr(), address.length()) != 0) {
    return absl::UnavailableError(
        fmt::format("cannot bind UDP socket to {}: {}", address.ToString(), ErrnoText(errno)));
  }
  return udp_socket;
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

UdpSocket::~UdpSocket() { Close(); }

void UdpSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

SocketAddress UdpSocket::LocalAddress() const {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
}

absl::Status UdpSocket::SendTo(std::string_view bytes, const SocketAddress& to) const {
  const ssize_t sent =
      sendto(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL, to.sockaddr_ptr(), to.length());
  if (sent < 0) {
    return absl::UnavailableError(
        fmt::format("cannot send a datagram to {}: {}", to.ToString(), ErrnoText(errno)));
  }
  return absl::OkStatus();
}

std::optional<UdpSocket::Datagram> UdpSocket::Receive() const {
  // One byte more than the UDP maximum, so nothing is ever silently truncated.
  std::string buffer(65536, '\0');
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  while (true) {
    const ssize_t received = recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                      reinterpret_cast<sockaddr*>(&storage), &length);
    if (received >= 0) {
      buffer.resize(static_cast<size_t>(received));
      return Datagram{std::move(buffer), SocketAddress::FromSockaddr(
                                             reinterpret_cast<const sockaddr*>(&storage), length)};
    }
    // ICMP port-unreachable errors from earlier sends surface here; they are not datagrams.
    if (errno == EINTR || errno == ECONNREFUSED) continue;
    return std::nullopt;
  }
}

}  // namespace shale::cluster::internal
