#include "indexing/cluster_indexing.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "fmt/format.h"

namespace shale::indexing {
namespace {

constexpr char kIndexerService[] = "indexer";

}  // namespace

ClusterIndexers::ClusterIndexers(const cluster::ClusterMembership* membership,
                                 IndexerServices local, IndexingClientOptions options)
    : membership_(membership), local_(std::move(local)), options_(options) {}

std::shared_ptr<IndexingClient> ClusterIndexers::ClientOf(const cluster::ClusterNode& node) {
  absl::MutexLock lock(&mu_);
  RemoteClient& remote = clients_[node.node_id];
  if (remote.client == nullptr || remote.grpc_address != node.grpc_advertise_addr) {
    remote.grpc_address = node.grpc_advertise_addr;
    remote.client = NewGrpcIndexingClient(node.node_id, node.grpc_advertise_addr, options_);
  }
  return remote.client;
}

std::vector<NodeIndexingState> ClusterIndexers::CollectStates() {
  std::vector<NodeIndexingState> results;
  if (local_.ingest != nullptr) {
    results.push_back({local_.node_id, "", local_.State()});
  }
  if (membership_ == nullptr) return results;

  // Remote indexers to ask: their slot in `results` and their client.
  std::vector<std::pair<size_t, std::shared_ptr<IndexingClient>>> calls;
  for (const cluster::ClusterNode& node : membership_->LiveNodes()) {
    if (node.is_self || !node.HasService(kIndexerService)) continue;
    if (!node.is_ready || node.grpc_advertise_addr.empty()) {
      results.push_back({node.node_id, node.grpc_advertise_addr,
                         absl::UnavailableError(fmt::format(
                             "indexer {} is alive but not ready (starting or stopping)",
                             node.node_id))});
      continue;
    }
    calls.emplace_back(results.size(), ClientOf(node));
    results.push_back({node.node_id, node.grpc_advertise_addr,
                       absl::UnknownError("not asked yet")});
  }
  for (const cluster::ClusterNode& node : membership_->DeadNodes()) {
    if (!node.HasService(kIndexerService)) continue;
    results.push_back({node.node_id, node.grpc_advertise_addr,
                       absl::UnavailableError(fmt::format(
                           "indexer {} is declared dead by the cluster membership",
                           node.node_id))});
  }

  std::vector<std::thread> threads;
  threads.reserve(calls.size());
  for (auto& [slot, client] : calls) {
    threads.emplace_back([&results, slot = slot, client = client] {
      results[slot].state = client->GetIndexingState();
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::sort(results.begin(), results.end(),
            [](const NodeIndexingState& a, const NodeIndexingState& b) {
              return a.node_id < b.node_id;
            });
  return results;
}

}  // namespace shale::indexing
