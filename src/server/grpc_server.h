// GrpcServer: the node's one gRPC server (internal RPCs: cluster, metastore, and later search and
// indexing), listening on `listen_address:grpc_listen_port` with insecure credentials (TLS comes
// later, like the REST server's).
//
// Lifecycle: construct, AddService() for every service the node runs, Start(), and Stop() before
// the services are destroyed. Stop() refuses new calls at once, lets in-flight calls finish until
// the deadline and cancels the rest; it is idempotent and also run by the destructor.
//
// Thread safety: AddService, Start and Stop are called by the owner, not concurrently. The
// services' handlers run on gRPC's own threads and must be thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace shale::server {

struct GrpcServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (tests); see port() once started
  // Largest message received or sent. Leaf search results and split lists can be large.
  int64_t max_message_bytes = int64_t{64} * 1024 * 1024;
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Serves `service` once started. Does not take ownership: `service` must outlive Stop().
  // REQUIRES: not started yet; each service (by its proto name) added once.
  void AddService(grpc::Service* service);

  // Binds the port and starts serving. Unavailable naming the address when the port cannot be
  // bound (in use, bad address). REQUIRES: not started yet; at least one service added (gRPC
  // builds no server without one).
  absl::Status Start();

  // The bound port (the chosen one when options.port was 0). 0 before Start.
  uint16_t port() const { return bound_port_; }

  // Stops accepting calls, waits for in-flight calls up to `deadline`, then cancels the rest and
  // waits for the handlers to return.
  void Stop(absl::Duration deadline = absl::Seconds(5));

 private:
  const GrpcServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t bound_port_ = 0;
};

}  // namespace shale::server
