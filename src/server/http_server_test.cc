#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace shale::server {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(uint64_t body_limit = 1024) {
    HttpServerOptions options;
    options.port = 0;
    options.body_limit_bytes = body_limit;
    server_ = std::make_unique<HttpServer>(
        options,
        [this](HttpRequest& request) {
          ++handled_;
          HttpResponse response;
          const std::string* name = request.QueryParam("name");
          response.body = "{\"path\":\"" + request.path + "\",\"name\":\"" +
                          (name ? *name : "") + "\",\"body_size\":" +
                          std::to_string(request.body.size()) + "}";
          if (request.path == "/checksum") response.body = std::to_string(Checksum(request.body));
          if (request.path == "/slow") {
            in_slow_handler_ = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            slow_handler_done_ = true;
          }
          return response;
        },
        &workers_);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  static uint64_t Checksum(std::string_view bytes) {
    uint64_t sum = 1469598103934665603ULL;  // FNV-1a: any lost, repeated or moved byte shows
    for (const char c : bytes) sum = (sum ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return sum;
  }

  // Sends `count` requests over one connection and returns the responses.
  std::vector<http::response<http::string_body>> SendOnOneConnection(
      int count, const std::string& target, const std::string& body = "", bool chunked = false) {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
    std::vector<http::response<http::string_body>> responses;
    for (int i = 0; i < count; ++i) {
      http::request<http::string_body> request(body.empty() ? http::verb::get : http::verb::post,
                                               target, 11);
      request.set(http::field::host, "127.0.0.1");
      request.keep_alive(true);
      request.body() = body;
      request.prepare_payload();
      if (chunked) request.chunked(true);
      http::write(stream, request);
      beast::flat_buffer buffer;
      http::response<http::string_body> response;
      beast::error_code error;
      http::read(stream, buffer, response, error);
      if (error) break;
      responses.push_back(std::move(response));
    }
    return responses;
  }

  ThreadPool workers_{"test-workers", 4};
  std::atomic<int> handled_{0};
  std::atomic<bool> in_slow_handler_{false};
  std::atomic<bool> slow_handler_done_{false};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesKeepAliveRequestsOnOneConnection) {
  StartServer();
  auto responses = SendOnOneConnection(3, "/a%20b?name=x%2By+z");
  ASSERT_EQ(responses.size(), 3u);
  for (const auto& response : responses) {
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response.body(), R"({"path":"/a b","name":"x+y z","body_size":0})");
    EXPECT_EQ(response[http::field::content_type], "application/json");
  }
  EXPECT_EQ(handled_.load(), 3);
}

TEST_F(HttpServerTest, OversizedBodyGets413WithJsonMessage) {
  StartServer(/*body_limit=*/100);
  auto responses = SendOnOneConnection(1, "/ingest", std::string(1000, 'x'));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].result_int(), 413);
  EXPECT_NE(responses[0].body().find("\"message\""), std::string::npos);
  EXPECT_NE(responses[0].body().find("limit"), std::string::npos);
  EXPECT_EQ(handled_.load(), 0);
}

// Large bodies are read with a large buffer (not 512 bytes per read), which shrinks back between
// requests: bodies of every size, with a length or chunked, arrive byte for byte on one
// keep-alive connection, before and after small requests. Bodies of a megabyte and more are
// read into the buffers of earlier bodies (a pool): smaller bodies after larger ones keep
// nothing of them.
TEST_F(HttpServerTest, ReceivesLargeAndSmallBodiesByteForByte) {
  StartServer(/*body_limit=*/8 << 20);
  for (const size_t size :
       {size_t{10}, size_t{16 * 1024 + 1}, size_t{3 << 20}, size_t{100}, size_t{(5 << 20) + 7},
        size_t{(2 << 20) + 3}, size_t{(1 << 20) + 1}, size_t{(1 << 20) - 1}}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      body[i] = static_cast<char>('a' + (i * 7919 + i / 4096 + size) % 26);  // differs by size
    }
    for (const bool chunked : {false, true}) {
      auto responses = SendOnOneConnection(2, "/checksum", body, chunked);
      ASSERT_EQ(responses.size(), 2u) << size << (chunked ? " chunked" : "");
      for (const auto& response : responses) {
        EXPECT_EQ(response.result_int(), 200);
        EXPECT_EQ(response.body(), std::to_string(Checksum(body))) << size;
      }
    }
  }
}

// The server is destroyed while a worker still runs a request's handler: Stop() waits for the
// handler to return and the worker to let go of the session (under ASan, a session released
// after the server's io_context would be a use after free).
TEST_F(HttpServerTest, DestroyedWhileAWorkerHandlesARequest) {
  StartServer();
  std::thread client([this] { SendOnOneConnection(1, "/slow"); });
  for (int i = 0; i < 500 && !in_slow_handler_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(in_slow_handler_.load());
  server_.reset();
  EXPECT_TRUE(slow_handler_done_.load()) << "Stop() returned while a handler still ran";
  EXPECT_EQ(handled_.load(), 1);
  client.join();
}

TEST_F(HttpServerTest, ServesManyConcurrentConnections) {
  StartServer();
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&] {
      auto responses = SendOnOneConnection(5, "/x", "payload");
      for (const auto& response : responses) ok += response.result_int() == 200 ? 1 : 0;
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(ok.load(), 64 * 5);
}

TEST_F(HttpServerTest, SecondServerOnSamePortFailsClearly) {
  StartServer();
  HttpServerOptions options;
  options.port = server_->port();
  HttpServer other(options, [](HttpRequest&) { return HttpResponse{}; }, &workers_);
  const absl::Status status = other.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(std::to_string(server_->port())), std::string::npos);
}

TEST(UrlDecodeTest, DecodesPercentAndPlus) {
  EXPECT_EQ(UrlDecode("a%3Ab+c", true), "a:b c");
  EXPECT_EQ(UrlDecode("a+b", false), "a+b");
  EXPECT_EQ(UrlDecode("bad%zz%", true), "bad%zz%");
}

}  // namespace
}  // namespace shale::server
