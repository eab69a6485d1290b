#include "cluster/cluster_grpc_service.h"

#include <string>

#include "fmt/format.h"

namespace shale::cluster {

grpc::Status ClusterGrpcService::FetchClusterState(grpc::ServerContext* /*context*/,
                                                   const proto::FetchClusterStateRequest* request,
                                                   proto::FetchClusterStateResponse* response) {
  const ClusterSnapshot snapshot = membership_->Snapshot();
  if (request->cluster_id() != snapshot.cluster_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        fmt::format("cluster id `{}` does not match this node's cluster id `{}`",
                                    request->cluster_id(), snapshot.cluster_id));
  }
  response->set_cluster_id(snapshot.cluster_id);
  response->set_self_node_id(snapshot.self_node_id);
  for (const ClusterNode& node : snapshot.nodes) {
    proto::NodeState* state = response->add_node_states();
    state->set_node_id(node.node_id);
    state->set_generation(node.generation);
    state->set_heartbeat(node.heartbeat);
    state->set_max_version(node.max_version);
    for (const auto& [key, versioned] : node.key_values) {
      if (versioned.deleted) continue;
      proto::VersionedValue& value = (*state->mutable_key_values())[key];
      value.set_value(versioned.value);
      value.set_version(versioned.version);
    }
    if (node.is_alive) {
      response->add_live_node_ids(node.node_id);
    } else {
      response->add_dead_node_ids(node.node_id);
    }
  }
  return grpc::Status::OK;
}

}  // namespace shale::cluster
