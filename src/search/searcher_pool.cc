#include "search/searcher_pool.h"

#include <cstdint>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

#include "proto/grpc_client.h"
#include "search/leaf_grpc.h"

namespace shale::search {
namespace {

class SingleSearcherPool final : public SearcherPool {
 public:
  SingleSearcherPool(std::string node_id, LeafSearcher* leaf)
      : node_{std::move(node_id), NewLocalLeafClient(leaf), /*is_local=*/true} {}

  std::vector<SearcherNode> LiveSearchers() override { return {node_}; }

 private:
  const SearcherNode node_;
};

class ClusterSearcherPool final : public SearcherPool {
 public:
  ClusterSearcherPool(cluster::ClusterMembership* membership, LeafSearcher* local_leaf,
                      int64_t max_message_bytes)
      : membership_(membership),
        local_client_(local_leaf != nullptr ? NewLocalLeafClient(local_leaf) : nullptr),
        max_message_bytes_(max_message_bytes) {}

  std::vector<SearcherNode> LiveSearchers() override {
    std::vector<SearcherNode> searchers;
    const std::vector<cluster::ClusterNode> nodes = membership_->LiveNodes();
    absl::MutexLock lock(&mu_);
    for (const cluster::ClusterNode& node : nodes) {
      if (node.is_self) {
        if (local_client_ != nullptr) {
          searchers.push_back({node.node_id, local_client_, /*is_local=*/true});
        }
        continue;
      }
      if (!node.is_alive || !node.is_ready || !node.HasService("searcher") ||
          node.grpc_advertise_addr.empty()) {
        continue;
      }
      RemoteClient& remote = remote_clients_[node.node_id];
      if (remote.client == nullptr || remote.grpc_addr != node.grpc_advertise_addr) {
        // Leaf responses hold up to 10,000 hits and aggregation results (top_hits carry
        // sources): more than gRPC's default 4 MiB limit on received messages.
        remote.grpc_addr = node.grpc_advertise_addr;
        remote.client = NewGrpcLeafClient(
            node.node_id,
            grpc::CreateCustomChannel(node.grpc_advertise_addr, grpc::InsecureChannelCredentials(),
                                      ::shale::proto::MessageSizeArguments(max_message_bytes_)));
      }
      searchers.push_back({node.node_id, remote.client, /*is_local=*/false});
    }
    return searchers;
  }

 private:
  struct RemoteClient {
    std::string grpc_addr;
    std::shared_ptr<LeafClient> client;
  };

  cluster::ClusterMembership* const membership_;
  const std::shared_ptr<LeafClient> local_client_;
  const int64_t max_message_bytes_;
  absl::Mutex mu_;
  // Channels of peers seen so far. A forgotten peer's entry stays (a few bytes and an idle
  // channel) so that a node coming back reuses it.
  std::map<std::string, RemoteClient> remote_clients_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<SearcherPool> NewSingleSearcherPool(std::string node_id, LeafSearcher* leaf) {
  return std::make_unique<SingleSearcherPool>(std::move(node_id), leaf);
}

std::unique_ptr<SearcherPool> NewClusterSearcherPool(cluster::ClusterMembership* membership,
                                                     LeafSearcher* local_leaf,
                                                     int64_t max_message_bytes) {
  return std::make_unique<ClusterSearcherPool>(membership, local_leaf, max_message_bytes);
}

}  // namespace shale::search
