#include "server/grpc_server.h"

#include <chrono>
#include <climits>
#include <utility>

#include "fmt/format.h"
#include "grpcpp/grpcpp.h"

#include "common/check.h"
#include "common/host_port.h"
#include "common/logging.h"

namespace shale::server {

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Stop(); }

void GrpcServer::AddService(grpc::Service* service) {
  SHALE_CHECK(server_ == nullptr) << "GrpcServer::AddService called after Start";
  SHALE_CHECK(service != nullptr) << "GrpcServer::AddService given a null service";
  services_.push_back(service);
}

absl::Status GrpcServer::Start() {
  SHALE_CHECK(server_ == nullptr) << "GrpcServer::Start called twice";
  SHALE_CHECK(!services_.empty()) << "GrpcServer::Start called before any AddService";
  const std::string address = FormatHostPort(options_.listen_address, options_.port);
  const int max_message_bytes =
      static_cast<int>(std::min<int64_t>(options_.max_message_bytes, INT_MAX));
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second node bind the same port and
  // steal half of its connections: a port in use must fail start-up instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  for (grpc::Service* service : services_) {
    builder.RegisterService(service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port <= 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(fmt::format(
        "cannot start the gRPC server on {} (grpc_listen_port in use or address not local)",
        address));
  }
  server_ = std::move(server);
  bound_port_ = static_cast<uint16_t>(selected_port);
  SHALE_LOG_INFO("grpc server started address={} port={} services={}", options_.listen_address,
                 bound_port_, services_.size());
  return absl::OkStatus();
}

void GrpcServer::Stop(absl::Duration deadline) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  server_->Wait();
  server_.reset();
  SHALE_LOG_INFO("grpc server stopped port={}", bound_port_);
}

}  // namespace shale::server
