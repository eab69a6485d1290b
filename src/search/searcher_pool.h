// SearcherPool: the searchers a root may send leaf requests to, each with the client that
// reaches it. The root assigns splits to them by rendezvous hashing of (split id, node id), so
// node ids must be stable and unique in the cluster.
//
// Thread safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "search/leaf_search.h"

namespace shale::search {

struct SearcherNode {
  std::string node_id;
  std::shared_ptr<LeafClient> client;
  bool is_local = false;  // reached in process
};

class SearcherPool {
 public:
  virtual ~SearcherPool() = default;
  // The searchers that may take leaf requests now, by node id. Empty when there is none.
  virtual std::vector<SearcherNode> LiveSearchers() = 0;
};

// One searcher: `leaf` in process, named `node_id`. Does not take ownership of `leaf`.
std::unique_ptr<SearcherPool> NewSingleSearcherPool(std::string node_id, LeafSearcher* leaf);

// The searchers of `membership`: this node through `local_leaf` in process (when not null, i.e.
// when it runs the searcher service), and every live, ready peer whose enabled services include
// `searcher` over gRPC at its advertised gRPC address (one channel per peer, replaced when the
// address changes). The channels send and receive messages up to `max_message_bytes`, the
// node's `grpc.max_message_size`, which also bounds what the peers' gRPC servers send: a leaf
// reply over it fails that leaf with ResourceExhausted naming the setting. Does not take
// ownership; both must outlive the pool.
std::unique_ptr<SearcherPool> NewClusterSearcherPool(cluster::ClusterMembership* membership,
                                                     LeafSearcher* local_leaf,
                                                     int64_t max_message_bytes);

}  // namespace shale::search
