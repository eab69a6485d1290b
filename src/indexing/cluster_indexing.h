// ClusterIndexers: the indexer nodes of the cluster and a client of each, to list the pipelines
// of the whole cluster from any node (`GET /api/v1/indexing`). This node's own pipelines are
// read in process; every other indexer is asked over gRPC (indexing_grpc.h), all in parallel,
// each call bounded by IndexingClientOptions::state_timeout.
//
// Thread safety: thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "cluster/membership.h"
#include "indexing/indexing_grpc.h"

namespace shale::indexing {

// What one indexer answered, or why it could not.
struct NodeIndexingState {
  std::string node_id;
  std::string grpc_address;  // "" for this node
  absl::StatusOr<IndexingState> state;
};

class ClusterIndexers {
 public:
  // `membership` may be null (a node outside any cluster: only `local` is listed); `local` is
  // this node's indexer, or has a null `ingest` when the node does not run the indexer. Does not
  // take ownership; `membership` and the services of `local` must outlive this object.
  ClusterIndexers(const cluster::ClusterMembership* membership, IndexerServices local,
                  IndexingClientOptions options);

  ClusterIndexers(const ClusterIndexers&) = delete;
  ClusterIndexers& operator=(const ClusterIndexers&) = delete;

  // One entry per indexer, by node id: this node when it runs the indexer, every other alive
  // node publishing `indexer` in its enabled services, and the indexers gossip declared dead
  // but still remembers (an Unavailable entry: a crashed indexer is reported, not dropped). A
  // peer that is not ready yet, unreachable or too slow is an entry with its error. Cost: one
  // gRPC call per remote indexer, in parallel; at most about state_timeout.
  std::vector<NodeIndexingState> CollectStates();

 private:
  struct RemoteClient {
    std::string grpc_address;
    std::shared_ptr<IndexingClient> client;
  };

  // The client of `node`, created or replaced when its address changed.
  std::shared_ptr<IndexingClient> ClientOf(const cluster::ClusterNode& node);

  const cluster::ClusterMembership* const membership_;
  const IndexerServices local_;
  const IndexingClientOptions options_;
  absl::Mutex mu_;
  // Clients of the peers seen so far, by node id (a forgotten peer's idle channel stays, to be
  // reused when it comes back).
  std::map<std::string, RemoteClient> clients_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shale::indexing
