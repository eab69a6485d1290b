#include "server/http_server.h"

#include <atomic>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/json_util.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shale::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr uint64_t kLargeBodyBytes = 16 * 1024;
constexpr size_t kBodyReadBytes = 256 * 1024;

std::string ErrorBody(const std::string& message) {
  return DumpJson(nlohmann::json{{"message", message}});
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void ParseRequestTarget(std::string_view target, HttpRequest& request) {
  const size_t question = target.find('?');
  request.path = UrlDecode(target.substr(0, question), /*plus_as_space=*/false);
  if (question == std::string_view::npos) return;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string key = UrlDecode(pair.substr(0, eq), true);
      std::string value = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1), true);
      request.query_params.emplace(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
}

namespace {

// Counts the worker tasks that hold a session (a gate): Stop() waits for them, because a
// session released by a worker after the server's io_context is gone would close its socket
// through a destroyed socket service, and a handler must not run once Stop() has returned.
class InFlightTasks {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  void WaitIdle() {
    absl::MutexLock lock(&mu_, absl::Condition(
                                   +[](int64_t* count) { return *count == 0; }, &count_));
  }

 private:
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Bodies of finished requests, kept with their capacity for the next ones. A large body (an
// ingest batch of megabytes) is then read into pages already mapped, where a fresh allocation
// of that size comes straight from the kernel and goes back to it when freed: a page fault and
// a page zeroed for every 4 KiB read. At most kMaxPooledBytes in all; bodies smaller than
// kMinPooledBytes are not kept.
class BodyPool {
 public:
  static constexpr uint64_t kMinPooledBytes = uint64_t{1} << 20;
  static constexpr uint64_t kMaxPooledBytes = uint64_t{64} << 20;

  // An empty string with capacity for `size` bytes from the pool (the smallest that fits), or
  // a new empty string when none fits.
  std::string Acquire(uint64_t size) {
    if (size < kMinPooledBytes) return std::string();
    absl::MutexLock lock(&mu_);
    size_t best = bodies_.size();
    for (size_t i = 0; i < bodies_.size(); ++i) {
      if (bodies_[i].capacity() >= size &&
          (best == bodies_.size() || bodies_[i].capacity() < bodies_[best].capacity())) {
        best = i;
      }
    }
    if (best == bodies_.size()) return std::string();
    std::string body = std::move(bodies_[best]);
    bodies_[best] = std::move(bodies_.back());
    bodies_.pop_back();
    pooled_bytes_ -= body.capacity();
    return body;
  }

  void Release(std::string body) {
    const uint64_t capacity = body.capacity();
    if (capacity < kMinPooledBytes) return;
    body.clear();
    absl::MutexLock lock(&mu_);
    if (pooled_bytes_ + capacity > kMaxPooledBytes) return;  // freed
    pooled_bytes_ += capacity;
    bodies_.push_back(std::move(body));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> bodies_ ABSL_GUARDED_BY(mu_);
  uint64_t pooled_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

class Session;

// A session held by a worker task (run or dropped unrun): drops the session, then counts the
// task done.
class WorkerHold {
 public:
  WorkerHold(std::shared_ptr<Session> session, InFlightTasks* tasks)
      : session_(std::move(session)), tasks_(tasks) {
    tasks_->Add();
  }
  WorkerHold(const WorkerHold&) = delete;
  WorkerHold& operator=(const WorkerHold&) = delete;
  ~WorkerHold() {
    session_.reset();
    tasks_->Done();
  }
  const std::shared_ptr<Session>& session() const { return session_; }

 private:
  std::shared_ptr<Session> session_;
  InFlightTasks* const tasks_;
};

// One client connection: read a request, hand it to a worker, write the response, repeat.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler* handler, ThreadPool* workers, uint64_t body_limit,
          InFlightTasks* tasks, BodyPool* body_pool)
      : stream_(std::move(socket)),
        handler_(handler),
        workers_(workers),
        body_limit_(body_limit),
        tasks_(tasks),
        body_pool_(body_pool) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, size_t) {
                              self->OnHeader(error);
                            });
  }

  // Beast sizes each socket read by the buffer's free capacity, 512 bytes at least: an empty
  // buffer would take a large body 512 bytes per read, each read one syscall, one timer re-arm
  // and often one thread wake-up (480,000 of them for 247 MB of ingest). A body larger than
  // kLargeBodyBytes (or of unknown length) is read with a buffer of kBodyReadBytes; the buffer
  // shrinks back once the request is parsed, so idle connections keep no large buffer.
  void OnHeader(beast::error_code error) {
    if (error || parser_->is_done()) {
      OnRead(error);
      return;
    }
    const boost::optional<uint64_t> length = parser_->content_length();
    if (!length || *length > kLargeBodyBytes) buffer_.reserve(kBodyReadBytes);
    if (length && *length <= body_limit_) parser_->get().body() = body_pool_->Acquire(*length);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       self->OnRead(error);
                     });
  }

  void OnRead(beast::error_code error) {
    if (error == http::error::end_of_stream || error == beast::error::timeout ||
        error == asio::error::connection_reset || error == asio::error::operation_aborted) {
      Close();
      return;
    }
    if (error == http::error::body_limit) {
      SendError(413, fmt::format("request body exceeds the limit of {} bytes "
                                 "(ingest_api.content_length_limit)",
                                 body_limit_),
                /*keep_alive=*/false);
      return;
    }
    if (error) {
      SendError(400, fmt::format("malformed http request: {}", error.message()), false);
      return;
    }
    http::request<http::string_body> beast_request = parser_->release();
    if (buffer_.size() == 0 && buffer_.capacity() > kLargeBodyBytes) buffer_.shrink_to_fit();
    auto request = std::make_shared<HttpRequest>();
    request->method = std::string(beast_request.method_string());
    ParseRequestTarget(
        std::string_view(beast_request.target().data(), beast_request.target().size()), *request);
    for (const auto& field : beast_request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request->headers[name] = std::string(field.value());
    }
    request->body = std::move(beast_request.body());
    const bool keep_alive = beast_request.keep_alive();
    const unsigned version = beast_request.version();
    auto hold = std::make_shared<WorkerHold>(shared_from_this(), tasks_);
    const bool submitted = workers_->Submit([hold, request, keep_alive, version] {
      const std::shared_ptr<Session>& self = hold->session();
      HttpResponse response;
      response = (*self->handler_)(*request);
      self->body_pool_->Release(std::move(request->body));
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response), keep_alive, version]() mutable {
                   self->Write(std::move(response), keep_alive, version);
                 });
    });
    if (!submitted) SendError(503, "node is shutting down", false);
  }

  void SendError(int status, const std::string& message, bool keep_alive) {
    HttpResponse response;
    response.status = status;
    response.body = ErrorBody(message);
    Write(std::move(response), keep_alive, 11);
  }

  void Write(HttpResponse response, bool keep_alive, unsigned version) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    message->set(http::field::server, "shale");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code error, size_t) {
                        if (error || !message->keep_alive()) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpHandler* handler_;
  ThreadPool* workers_;
  const uint64_t body_limit_;
  InFlightTasks* const tasks_;
  BodyPool* const body_pool_;
};

}  // namespace

const std::string* HttpRequest::QueryParam(const std::string& name) const {
  auto it = query_params.find(name);
  return it == query_params.end() ? nullptr : &it->second;
}

std::string HttpRequest::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string UrlDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  ThreadPool* workers;
  BodyPool body_pool;  // declared first: outlives the io_context and the sessions it holds
  asio::io_context io_context;
  tcp::acceptor acceptor{io_context};
  std::vector<std::thread> io_threads;
  std::atomic<uint16_t> bound_port{0};
  std::atomic<bool> stopped{false};
  InFlightTasks worker_tasks;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io_context),
                          [this](beast::error_code error, tcp::socket socket) {
                            if (error == asio::error::operation_aborted || stopped) return;
                            if (!error) {
                              std::make_shared<Session>(std::move(socket), &handler, workers,
                                                        options.body_limit_bytes, &worker_tasks,
                                                        &body_pool)
                                  ->Run();
                            }
                            Accept();
                          });
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, ThreadPool* workers)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->workers = workers;
}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  beast::error_code error;
  const auto address = asio::ip::make_address(impl_->options.listen_address, error);
  if (error) {
    return absl::InvalidArgumentError(
        fmt::format("invalid listen_address `{}`: {}", impl_->options.listen_address,
                    error.message()));
  }
  const tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), error);
  if (!error) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) impl_->acceptor.bind(endpoint, error);
  if (!error) impl_->acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return absl::UnavailableError(fmt::format("cannot listen on {}:{}: {}",
                                              impl_->options.listen_address, impl_->options.port,
                                              error.message()));
  }
  impl_->bound_port = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  const int num_threads = std::max(1, impl_->options.num_io_threads);
  for (int i = 0; i < num_threads; ++i) {
    impl_->io_threads.emplace_back([this] { impl_->io_context.run(); });
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->io_context, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io_context.stop();
  for (std::thread& thread : impl_->io_threads) {
    if (thread.joinable()) thread.join();
  }
  // Requests handed to the workers before the stop still use their session and the handler.
  impl_->worker_tasks.WaitIdle();
}

uint16_t HttpServer::port() const { return impl_->bound_port.load(); }

}  // namespace shale::server
