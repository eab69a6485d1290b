// TestHttpServer: a tiny blocking Boost.Beast HTTP/1.1 server on 127.0.0.1 with an ephemeral
// port, for cli tests only. It serves one connection at a time (the CLI client is synchronous),
// records every request, and answers with a handler supplied by the test.
//
// Thread safety: the handler runs on the server thread; `requests()` may be called from any
// thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace shale::cli::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
};

struct TestResponse {
  int status = 200;
  std::string body = "{}";
  // Closes the connection after the response WITHOUT announcing it (`Connection: close` is not
  // sent), like a server dropping an idle keep-alive connection.
  bool drop_connection = false;
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const RecordedRequest&)>;

  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<RecordedRequest> requests() const;
  int num_connections_accepted() const { return num_connections_accepted_.load(); }

 private:
  void Serve();
  void ServeConnection(boost::asio::ip::tcp::socket& socket);

  Handler handler_;
  boost::asio::io_context io_context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> num_connections_accepted_{0};
  std::atomic<int> active_socket_fd_{-1};
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace shale::cli::testing
