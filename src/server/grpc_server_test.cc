// The node's gRPC server on loopback: serves the cluster service, refuses a port in use, and
// honours the message size limit.
#include "server/grpc_server.h"

#include <chrono>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "cluster/cluster_grpc_service.h"
#include "cluster/membership.h"
#include "common/host_port.h"
#include "proto/cluster.grpc.pb.h"

namespace shale::server {
namespace {

std::unique_ptr<cluster::ClusterMembership> StartMembership(const std::string& node_id) {
  cluster::ClusterMembershipOptions options;
  options.cluster_id = "grpc-test-cluster";
  options.node_id = node_id;
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  options.enabled_services = {"searcher", "metastore"};
  options.grpc_advertise_addr = "127.0.0.1:1";
  std::unique_ptr<cluster::ClusterMembership> membership =
      cluster::NewGossipMembership(std::move(options));
  const absl::Status started = membership->Start();
  EXPECT_TRUE(started.ok()) << started;
  return membership;
}

// One FetchClusterState call to 127.0.0.1:`port` with a 10 s deadline.
grpc::Status FetchClusterState(uint16_t port, const std::string& cluster_id,
                               cluster::proto::FetchClusterStateResponse* response) {
  std::unique_ptr<cluster::proto::ClusterService::Stub> stub =
      cluster::proto::ClusterService::NewStub(grpc::CreateChannel(
          FormatHostPort("127.0.0.1", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  cluster::proto::FetchClusterStateRequest request;
  request.set_cluster_id(cluster_id);
  return stub->FetchClusterState(&context, request, response);
}

TEST(GrpcServerTest, ServesTheClusterState) {
  std::unique_ptr<cluster::ClusterMembership> membership = StartMembership("node-a");
  cluster::ClusterGrpcService service(membership.get());
  GrpcServer server(GrpcServerOptions{});
  server.AddService(&service);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);

  cluster::proto::FetchClusterStateResponse response;
  const grpc::Status status = FetchClusterState(server.port(), "grpc-test-cluster", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.cluster_id(), "grpc-test-cluster");
  EXPECT_EQ(response.self_node_id(), "node-a");
  ASSERT_EQ(response.node_states_size(), 1);
  EXPECT_EQ(response.node_states(0).node_id(), "node-a");
  const auto& key_values = response.node_states(0).key_values();
  ASSERT_TRUE(key_values.contains(std::string(cluster::kEnabledServicesKey)));
  EXPECT_EQ(key_values.at(std::string(cluster::kEnabledServicesKey)).value(),
            "searcher,metastore");
  ASSERT_EQ(response.live_node_ids_size(), 1);
  EXPECT_EQ(response.live_node_ids(0), "node-a");

  const grpc::Status wrong_cluster =
      FetchClusterState(server.port(), "another-cluster", &response);
  EXPECT_EQ(wrong_cluster.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(wrong_cluster.error_message().find("another-cluster"), std::string::npos)
      << wrong_cluster.error_message();

  server.Stop();
  membership->Stop();
}

TEST(GrpcServerTest, RefusesAPortInUse) {
  std::unique_ptr<cluster::ClusterMembership> membership = StartMembership("node-c");
  cluster::ClusterGrpcService service(membership.get());
  GrpcServer first(GrpcServerOptions{});
  first.AddService(&service);
  ASSERT_TRUE(first.Start().ok());
  GrpcServerOptions options;
  options.port = first.port();
  GrpcServer second(options);
  second.AddService(&service);
  const absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find(std::to_string(first.port())), std::string::npos) << status;
  first.Stop();
  membership->Stop();
}

TEST(GrpcServerTest, StopIsIdempotentAndRefusesLaterCalls) {
  std::unique_ptr<cluster::ClusterMembership> membership = StartMembership("node-b");
  cluster::ClusterGrpcService service(membership.get());
  GrpcServer server(GrpcServerOptions{});
  server.AddService(&service);
  ASSERT_TRUE(server.Start().ok());
  const uint16_t port = server.port();
  server.Stop(absl::Seconds(1));
  server.Stop();

  cluster::proto::FetchClusterStateResponse response;
  const grpc::Status status = FetchClusterState(port, "grpc-test-cluster", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  membership->Stop();
}

}  // namespace
}  // namespace shale::server
