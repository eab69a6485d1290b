#include "cli/testing/test_http_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

namespace shale::cli::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

TestHttpServer::TestHttpServer(Handler handler)
    : handler_(std::move(handler)),
      acceptor_(io_context_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { Serve(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  const int fd = active_socket_fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  // Unblocks accept() with a throwaway connection.
  beast::error_code ignored;
  asio::io_context wake_context;
  tcp::socket wake(wake_context);
  wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
  thread_.join();
}

std::vector<RecordedRequest> TestHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void TestHttpServer::Serve() {
  while (!stopping_) {
    beast::error_code ec;
    tcp::socket socket(io_context_);
    acceptor_.accept(socket, ec);
    if (ec || stopping_) break;
    ++num_connections_accepted_;
    active_socket_fd_ = socket.native_handle();
    ServeConnection(socket);
    active_socket_fd_ = -1;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }
}

void TestHttpServer::ServeConnection(tcp::socket& socket) {
  beast::flat_buffer buffer;
  while (!stopping_) {
    beast::error_code ec;
    http::request_parser<http::string_body> parser;
    parser.body_limit(1ULL << 30);
    http::read(socket, buffer, parser, ec);
    if (ec) return;
    const http::request<http::string_body>& request = parser.get();
    RecordedRequest recorded{std::string(request.method_string()), std::string(request.target()),
                             std::string(request[http::field::content_type]), request.body()};
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(recorded);
    }
    const TestResponse answer = handler_(recorded);
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               request.version()};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = answer.body;
    response.prepare_payload();
    http::write(socket, response, ec);
    if (ec || answer.drop_connection || !request.keep_alive()) return;
  }
}

}  // namespace shale::cli::testing
