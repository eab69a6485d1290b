// ClusterGrpcService: serves this node's view of the cluster membership over gRPC
// (proto/cluster.proto, ClusterService). Tools and nodes use FetchClusterState to read the
// membership without gossiping, and as a cheap "is this node's gRPC server up" probe.
//
// Thread safety: handlers run concurrently on gRPC threads; ClusterMembership is thread-safe.
#pragma once

#include "grpcpp/grpcpp.h"

#include "cluster/membership.h"
#include "proto/cluster.grpc.pb.h"

namespace shale::cluster {

class ClusterGrpcService final : public proto::ClusterService::Service {
 public:
  // Does not take ownership: `membership` must outlive the gRPC server serving this service.
  explicit ClusterGrpcService(const ClusterMembership* membership) : membership_(membership) {}

  // FAILED_PRECONDITION naming both ids when the request's cluster id is not this node's.
  grpc::Status FetchClusterState(grpc::ServerContext* context,
                                 const proto::FetchClusterStateRequest* request,
                                 proto::FetchClusterStateResponse* response) override;

 private:
  const ClusterMembership* membership_;
};

}  // namespace shale::cluster
