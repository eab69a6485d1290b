#include "cli/http_client.h"

#include <charconv>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include "fmt/format.h"

namespace shale::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::string Endpoint::ToString() const {
  const bool is_ipv6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}{}", is_ipv6 ? "[" : "", host, is_ipv6 ? "]" : "", port,
                     base_path);
}

absl::StatusOr<Endpoint> ParseEndpointUrl(const std::string& url) {
  auto invalid = [&url](const std::string& why) {
    return absl::InvalidArgumentError(fmt::format("invalid endpoint url `{}`: {}", url, why));
  };
  std::string rest = url;
  const std::string::size_type scheme_end = rest.find("://");
  if (scheme_end != std::string::npos) {
    const std::string scheme = rest.substr(0, scheme_end);
    if (scheme == "https") return invalid("https is not supported, use http");
    if (scheme != "http") return invalid(fmt::format("unsupported scheme `{}`", scheme));
    rest = rest.substr(scheme_end + 3);
  }
  Endpoint endpoint;
  const std::string::size_type path_start = rest.find('/');
  std::string authority = rest.substr(0, path_start);
  if (path_start != std::string::npos) {
    std::string path = rest.substr(path_start);
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path.find_first_of("?#") != std::string::npos) {
      return invalid("query strings and fragments are not allowed");
    }
    endpoint.base_path = path;
  }
  if (authority.find('@') != std::string::npos) return invalid("user info is not supported");
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::string::size_type bracket_end = authority.find(']');
    if (bracket_end == std::string::npos) return invalid("unterminated ipv6 address");
    endpoint.host = authority.substr(1, bracket_end - 1);
    const std::string after = authority.substr(bracket_end + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("unexpected characters after ipv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return invalid("empty port");
    }
  } else {
    const std::string::size_type colon = authority.find(':');
    endpoint.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return invalid("empty port");
    }
  }
  if (endpoint.host.empty()) return invalid("missing host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const char* first = port_text.data();
    const char* last = first + port_text.size();
    const auto [ptr, ec] = std::from_chars(first, last, port);
    if (ec != std::errc() || ptr != last || port == 0 || port > 65535) {
      return invalid(fmt::format("invalid port `{}`", port_text));
    }
    endpoint.port = static_cast<uint16_t>(port);
  }
  return endpoint;
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' ||
                            byte == '.' || byte == '~';
    if (unreserved) {
      encoded.push_back(c);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHexDigits[byte >> 4]);
      encoded.push_back(kHexDigits[byte & 0xF]);
    }
  }
  return encoded;
}

std::string BuildTarget(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& params) {
  std::string target = path;
  char separator = '?';
  for (const auto& [key, value] : params) {
    target.push_back(separator);
    target += UrlEncode(key);
    target.push_back('=');
    target += UrlEncode(value);
    separator = '&';
  }
  return target;
}

// The implementation drives Beast's asynchronous operations to completion on a private
// io_context: this is the documented way to get timeouts (`tcp_stream::expires_after`), which
// Beast's blocking calls do not honour.
struct HttpClient::Impl {
  explicit Impl(HttpClientOptions client_options) : options(client_options), stream(io_context) {}

  HttpClientOptions options;
  asio::io_context io_context;
  beast::tcp_stream stream;
  beast::flat_buffer read_buffer;
  bool connected = false;
  int num_connections_opened = 0;

  // Runs the queued asynchronous operations until they complete.
  void RunPending() {
    io_context.restart();
    io_context.run();
  }

  void Close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    read_buffer.clear();
    connected = false;
  }

  absl::Status Connect(const Endpoint& endpoint) {
    Close();
    tcp::resolver resolver(io_context);
    beast::error_code resolve_error;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                           [&](beast::error_code ec, tcp::resolver::results_type results) {
                             resolve_error = ec;
                             endpoints = std::move(results);
                           });
    RunPending();
    if (resolve_error) {
      return absl::UnavailableError(fmt::format("cannot resolve shale node {}: {}",
                                                endpoint.ToString(), resolve_error.message()));
    }
    beast::error_code connect_error;
    stream.expires_after(options.connect_timeout);
    stream.async_connect(endpoints,
                         [&](beast::error_code ec, const tcp::endpoint&) { connect_error = ec; });
    RunPending();
    if (connect_error == beast::error::timeout) {
      return absl::DeadlineExceededError(
          fmt::format("timed out connecting to shale node {} after {}ms", endpoint.ToString(),
                      options.connect_timeout.count()));
    }
    if (connect_error) {
      return absl::UnavailableError(
          fmt::format("cannot connect to shale node {}: {} (is `shale run` started?)",
                      endpoint.ToString(), connect_error.message()));
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    connected = true;
    ++num_connections_opened;
    return absl::OkStatus();
  }

  // One attempt on the current connection. `broken_idle_connection` is set when the failure
  // looks like the server closed a kept-alive connection before reading the request.
  absl::StatusOr<HttpResponse> Exchange(const Endpoint& endpoint,
                                        http::request<http::span_body<const char>>& request,
                                        std::chrono::milliseconds timeout,
                                        bool& broken_idle_connection) {
    broken_idle_connection = false;
    beast::error_code write_error;
    stream.expires_after(timeout);
    http::async_write(stream, request,
                      [&](beast::error_code ec, std::size_t) { write_error = ec; });
    RunPending();
    if (!write_error) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.max_response_body_bytes);
      beast::error_code read_error;
      stream.expires_after(timeout);
      http::async_read(stream, read_buffer, parser,
                       [&](beast::error_code ec, std::size_t) { read_error = ec; });
      RunPending();
      if (!read_error) {
        stream.expires_never();
        http::response<http::string_body> response = parser.release();
        HttpResponse result;
        result.status = static_cast<int>(response.result_int());
        result.content_type = std::string(response[http::field::content_type]);
        result.body = std::move(response.body());
        if (!response.keep_alive()) Close();
        return result;
      }
      write_error = read_error;
      broken_idle_connection = !parser.got_some() && IsConnectionDropped(read_error);
    } else {
      broken_idle_connection = IsConnectionDropped(write_error);
    }
    Close();
    if (write_error == beast::error::timeout) {
      return absl::DeadlineExceededError(
          fmt::format("request {} {} to shale node {} timed out after {}ms",
                      std::string(request.method_string()), std::string(request.target()),
                      endpoint.ToString(), timeout.count()));
    }
    return absl::UnavailableError(fmt::format(
        "request {} {} to shale node {} failed: {}", std::string(request.method_string()),
        std::string(request.target()), endpoint.ToString(), write_error.message()));
  }

  static bool IsConnectionDropped(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted;
  }
};

HttpClient::HttpClient(Endpoint endpoint, HttpClientOptions options)
    : endpoint_(std::move(endpoint)), impl_(std::make_unique<Impl>(options)) {}

HttpClient::~HttpClient() {
  if (impl_ != nullptr) impl_->Close();
}

int HttpClient::num_connections_opened() const { return impl_->num_connections_opened; }

absl::StatusOr<HttpResponse> HttpClient::Request(const std::string& method,
                                                 const std::string& target, const std::string& body,
                                                 const std::string& content_type,
                                                 std::chrono::milliseconds timeout) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return absl::InvalidArgumentError(fmt::format("unknown http method `{}`", method));
  }
  if (timeout.count() <= 0) timeout = impl_->options.request_timeout;
  try {
    // The body is sent from the caller's buffer (an ingest batch is megabytes): no copy.
    http::request<http::span_body<const char>> request{verb, endpoint_.base_path + target, 11};
    const bool is_ipv6 = endpoint_.host.find(':') != std::string::npos;
    request.set(http::field::host, is_ipv6 ? fmt::format("[{}]:{}", endpoint_.host, endpoint_.port)
                                           : fmt::format("{}:{}", endpoint_.host, endpoint_.port));
    request.set(http::field::user_agent, "shale-cli/0.1.0");
    request.set(http::field::accept, "application/json");
    request.keep_alive(true);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put) {
      request.body() = beast::span<const char>(body.data(), body.size());
      request.prepare_payload();
    }
    // A kept-alive connection may have been closed by the server while idle: in that case the
    // request never reached it and is resent once on a fresh connection.
    const bool reused_connection = impl_->connected;
    if (!impl_->connected) {
      if (absl::Status status = impl_->Connect(endpoint_); !status.ok()) return status;
    }
    bool broken_idle_connection = false;
    absl::StatusOr<HttpResponse> response =
        impl_->Exchange(endpoint_, request, timeout, broken_idle_connection);
    if (response.ok() || !reused_connection || !broken_idle_connection) return response;
    if (absl::Status status = impl_->Connect(endpoint_); !status.ok()) return status;
    return impl_->Exchange(endpoint_, request, timeout, broken_idle_connection);
  } catch (const boost::system::system_error& error) {
    impl_->Close();
    return absl::UnavailableError(fmt::format("request {} {} to shale node {} failed: {}", method,
                                              target, endpoint_.ToString(), error.what()));
  } catch (const std::exception& error) {
    impl_->Close();
    return absl::InternalError(fmt::format("request {} {} to shale node {} failed: {}", method,
                                           target, endpoint_.ToString(), error.what()));
  }
}

}  // namespace shale::cli
