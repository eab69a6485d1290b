// HttpClient: a small synchronous HTTP/1.1 client over Boost.Beast for the `shale` CLI. It talks
// to one endpoint (`http://host:port[/prefix]`), keeps the TCP connection alive between requests
// and reconnects transparently when the server has closed an idle connection.
//
// Thread safety: not thread-safe; one client per thread.
// Errors: never throws. Every failure is an absl::Status whose message names the endpoint:
//   - Unavailable: cannot connect (refused, unreachable, name not resolved) or the connection
//     broke while the request was in flight;
//   - DeadlineExceeded: connect or request timeout;
//   - InvalidArgument: malformed URL.
// Non-2xx HTTP answers are NOT errors at this level: they come back as an HttpResponse.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shale::cli {

// A parsed `http://host:port[/prefix]` URL.
struct Endpoint {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" without trailing slash

  // "http://host:port" (+ base_path), IPv6 hosts in brackets.
  std::string ToString() const;
};

// Parses "http://host[:port][/prefix]" or "host:port". Only plain http is supported.
// InvalidArgument naming the URL on a malformed input or an https URL.
absl::StatusOr<Endpoint> ParseEndpointUrl(const std::string& url);

// Percent-encodes `text` for use in a query string value (RFC 3986 unreserved chars kept).
std::string UrlEncode(const std::string& text);

// Builds "path?k1=v1&k2=v2" with the values percent-encoded; `params` keep their order.
std::string BuildTarget(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& params);

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{10000};
  uint64_t max_response_body_bytes = 1ULL << 30;
};

class HttpClient {
 public:
  HttpClient(Endpoint endpoint, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` (GET, POST, PUT, DELETE) to `target` (a path from the API root with its query
  // string; the endpoint's base path is prepended) and reads the whole response. `timeout` of
  // zero means the client's default request timeout.
  absl::StatusOr<HttpResponse> Request(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::string& content_type = "",
      std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // Number of TCP connections opened so far (tests check keep-alive reuse).
  int num_connections_opened() const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Impl;
  Endpoint endpoint_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shale::cli
