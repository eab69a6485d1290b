#include "cli/http_client.h"

#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gtest/gtest.h"

#include "cli/testing/test_http_server.h"

namespace shale::cli {
namespace {

using testing::RecordedRequest;
using testing::TestHttpServer;
using testing::TestResponse;

TEST(ParseEndpointUrlTest, ParsesHostAndPort) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpointUrl("http://127.0.0.1:7280");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 7280);
  EXPECT_EQ(endpoint->base_path, "");
  EXPECT_EQ(endpoint->ToString(), "http://127.0.0.1:7280");
}

TEST(ParseEndpointUrlTest, DefaultsToPort80AndKeepsBasePath) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpointUrl("http://search.example.com/shale/");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "search.example.com");
  EXPECT_EQ(endpoint->port, 80);
  EXPECT_EQ(endpoint->base_path, "/shale");
}

TEST(ParseEndpointUrlTest, AcceptsMissingSchemeAndIpv6) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpointUrl("localhost:9000");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "localhost");
  EXPECT_EQ(endpoint->port, 9000);

  absl::StatusOr<Endpoint> ipv6 = ParseEndpointUrl("http://[::1]:7280");
  ASSERT_TRUE(ipv6.ok()) << ipv6.status();
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 7280);
  EXPECT_EQ(ipv6->ToString(), "http://[::1]:7280");
}

TEST(ParseEndpointUrlTest, RejectsMalformedUrls) {
  for (const char* url :
       {"https://host:7280", "ftp://host", "http://:7280", "http://host:", "http://host:70000",
        "http://host:0", "http://host:12ab", "http://[::1", "http://host:7280/x?y=1", ""}) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpointUrl(url);
    EXPECT_TRUE(absl::IsInvalidArgument(endpoint.status())) << url;
  }
}

TEST(UrlEncodeTest, EncodesReservedCharacters) {
  EXPECT_EQ(UrlEncode("severity_text:ERROR AND body:\"a b\""),
            "severity_text%3AERROR%20AND%20body%3A%22a%20b%22");
  EXPECT_EQ(UrlEncode("abc-XYZ_0.9~"), "abc-XYZ_0.9~");
  EXPECT_EQ(BuildTarget("/p", {{"a", "1"}, {"b", "x y"}}), "/p?a=1&b=x%20y");
  EXPECT_EQ(BuildTarget("/p", {}), "/p");
}

TEST(HttpClientTest, SendsRequestAndReusesConnection) {
  TestHttpServer server([](const RecordedRequest& request) {
    return TestResponse{200, "{\"echo\":\"" + request.body + "\"}"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> response = client.Request(
        "POST", "/api/v1/x/ingest?commit=auto", "doc" + std::to_string(i), "application/json");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "{\"echo\":\"doc" + std::to_string(i) + "\"}");
    EXPECT_EQ(response->content_type, "application/json");
  }
  EXPECT_EQ(client.num_connections_opened(), 1);
  EXPECT_EQ(server.num_connections_accepted(), 1);
  const std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].method, "POST");
  EXPECT_EQ(requests[2].target, "/api/v1/x/ingest?commit=auto");
  EXPECT_EQ(requests[2].content_type, "application/json");
  EXPECT_EQ(requests[2].body, "doc2");
}

TEST(HttpClientTest, PrependsBasePath) {
  TestHttpServer server([](const RecordedRequest&) { return TestResponse{}; });
  HttpClient client(*ParseEndpointUrl(server.url() + "/prefix"), HttpClientOptions{});
  ASSERT_TRUE(client.Request("GET", "/api/v1/indexes").ok());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/prefix/api/v1/indexes");
}

TEST(HttpClientTest, ReturnsNon2xxAsResponse) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{404, R"({"message":"index `x` not found"})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  absl::StatusOr<HttpResponse> response = client.Request("GET", "/api/v1/indexes/x/describe");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  EXPECT_FALSE(response->ok());
}

TEST(HttpClientTest, ReconnectsWhenServerDropsIdleConnection) {
  TestHttpServer server([](const RecordedRequest&) {
    TestResponse response;
    response.drop_connection = true;
    return response;
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> response = client.Request("POST", "/x", "body");
    ASSERT_TRUE(response.ok()) << "request " << i << ": " << response.status();
    EXPECT_EQ(response->status, 200);
    // Lets the server close its side before the next request.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(client.num_connections_opened(), 3);
}

TEST(HttpClientTest, ConnectionRefusedNamesTheEndpoint) {
  uint16_t closed_port = 0;
  {
    boost::asio::io_context io_context;
    boost::asio::ip::tcp::acceptor acceptor(
        io_context, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    closed_port = acceptor.local_endpoint().port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port);
  HttpClient client(*ParseEndpointUrl(url), HttpClientOptions{});
  absl::StatusOr<HttpResponse> response = client.Request("GET", "/api/v1/indexes");
  ASSERT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_NE(response.status().message().find(url), absl::string_view::npos) << response.status();
}

TEST(HttpClientTest, TimesOutOnSlowServer) {
  TestHttpServer server([](const RecordedRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    return TestResponse{};
  });
  HttpClientOptions options;
  options.request_timeout = std::chrono::milliseconds(50);
  HttpClient client(*ParseEndpointUrl(server.url()), options);
  absl::StatusOr<HttpResponse> response = client.Request("GET", "/slow");
  EXPECT_TRUE(absl::IsDeadlineExceeded(response.status())) << response.status();
}

TEST(HttpClientTest, RejectsUnknownMethod) {
  HttpClient client(*ParseEndpointUrl("http://127.0.0.1:1"), HttpClientOptions{});
  EXPECT_TRUE(absl::IsInvalidArgument(client.Request("FROB", "/").status()));
}

}  // namespace
}  // namespace shale::cli
