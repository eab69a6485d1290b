// HttpServer: HTTP/1.1 over Boost.Beast with keep-alive. Network I/O runs on a few io threads;
// every request is handed to a worker ThreadPool, so no blocking work ever runs on the network
// threads. Requests whose body exceeds `body_limit_bytes` get a 413 JSON error without being
// buffered.
//
// Thread safety: Start/Stop from one thread; the handler is called concurrently from workers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/thread_pool.h"

namespace shale::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query string
  std::multimap<std::string, std::string> query_params;  // decoded
  std::map<std::string, std::string> headers;            // lowercase names
  std::string body;

  // First value of a query parameter, or nullptr.
  const std::string* QueryParam(const std::string& name) const;
  // Header value or "".
  std::string Header(const std::string& lowercase_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

struct HttpServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 7280;  // 0 picks a free port
  int num_io_threads = 2;
  uint64_t body_limit_bytes = 10 * 1024 * 1024;
};

class HttpServer {
 public:
  // Does not take ownership of `workers`, which must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler handler, ThreadPool* workers);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // Binds and starts serving. Unavailable naming the address when the port is taken.
  absl::Status Start();
  // Stops accepting, closes connections, joins the io threads, then waits for the requests
  // already handed to the workers to finish. Idempotent.
  void Stop();
  // The bound port (useful with port 0).
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fills `request.path` and `request.query_params` from a request target ("/a%20b?x=1&y").
void ParseRequestTarget(std::string_view target, HttpRequest& request);

// Decodes %XX and '+' in a query-string component.
std::string UrlDecode(std::string_view text, bool plus_as_space);

}  // namespace shale::server
