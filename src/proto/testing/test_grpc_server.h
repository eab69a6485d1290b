// Test helper: an in-process gRPC server on 127.0.0.1 serving one service, for the tests of
// the gRPC services and their clients (metastore, indexing, leaf search).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "grpcpp/grpcpp.h"

namespace shale::proto::testing {

// Serves `service` (not owned; it must outlive the server) on `port` (0: any free port), with
// messages up to `max_message_bytes` both ways (0: gRPC's default limits). A port already in use
// fails (ok() is false) rather than being shared.
class TestGrpcServer {
 public:
  explicit TestGrpcServer(grpc::Service* service, int port = 0, int max_message_bytes = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(fmt::format("127.0.0.1:{}", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (max_message_bytes > 0) {
      builder.SetMaxReceiveMessageSize(max_message_bytes);
      builder.SetMaxSendMessageSize(max_message_bytes);
    }
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  TestGrpcServer(const TestGrpcServer&) = delete;
  TestGrpcServer& operator=(const TestGrpcServer&) = delete;
  ~TestGrpcServer() { Stop(); }

  // Stops listening; calls still running are cancelled after a second.
  void Stop() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
  bool ok() const { return server_ != nullptr && port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace shale::proto::testing
