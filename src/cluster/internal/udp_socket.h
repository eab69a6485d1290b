// Thin POSIX wrappers for the gossip transport: SocketAddress (an IPv4 or IPv6 address and
// port) and UdpSocket (a non-blocking bound UDP socket). Private to the cluster module.
//
// Thread safety: SocketAddress is a value type. A UdpSocket may send from several threads at
// once; only one thread receives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "absl/status/statusor.h"

namespace shale::cluster::internal {

class SocketAddress {
 public:
  SocketAddress() = default;

  // Every address `host` resolves to (DNS names go through getaddrinfo and may block), with
  // `port`. NotFound naming the host when it does not resolve.
  static absl::StatusOr<std::vector<SocketAddress>> Resolve(const std::string& host, uint16_t port);
  // Parses "ip:port" or "[ipv6]:port" without any lookup. InvalidArgument otherwise.
  static absl::StatusOr<SocketAddress> ParseNumeric(std::string_view text);
  static SocketAddress FromSockaddr(const sockaddr* address, socklen_t length);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  // The IP address alone, e.g. "127.0.0.1" or "::1".
  std::string Host() const;
  // "127.0.0.1:7280" or "[::1]:7280".
  std::string ToString() const;
  // 0.0.0.0 or ::.
  bool IsUnspecified() const;

  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// The first IPv4 address of an interface that is up and not loopback, if any.
std::optional<std::string> FindPrivateIpv4Address();

class UdpSocket {
 public:
  struct Datagram {
    std::string bytes;
    SocketAddress from;
  };

  // Binds a non-blocking UDP socket. Unavailable naming the address on failure (e.g. in use).
  static absl::StatusOr<UdpSocket> Bind(const SocketAddress& address);

  UdpSocket() = default;
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  // The bound address (with the port the kernel chose for port 0).
  SocketAddress LocalAddress() const;

  // Sends one datagram. Unavailable with the errno text on failure (a full send buffer too).
  absl::Status SendTo(std::string_view bytes, const SocketAddress& to) const;
  // The next pending datagram, or nullopt when none is pending.
  std::optional<Datagram> Receive() const;

  void Close();

 private:
  explicit UdpSocket(int fd) : fd_(fd) {}

  int fd_ = -1;
};

}  // namespace shale::cluster::internal
