// Rendezvous (highest random weight) hashing: for a key such as a split id, every node gets a
// pseudo-random score from hash(key, node id), and the nodes sorted by decreasing score are the
// key's preference order. The first node serves the key; on failure the next one does. When a
// node joins or leaves, only the keys it ranks first (about 1/n of them) move, so searcher caches
// stay warm through churn (ARCHITECTURE.md §2, root search).
//
// Scores depend only on the key and the node id (XXH3-64), so every root computes the same order
// without coordination. Cost: one hash per node, O(n log n) for the order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shale::cluster {

// The score of `node_id` for `key`.
uint64_t RendezvousScore(std::string_view key, std::string_view node_id);

// `node_ids` in the key's preference order (decreasing score, ties by node id). Duplicates stay.
std::vector<std::string> RendezvousOrder(std::string_view key, std::vector<std::string> node_ids);

}  // namespace shale::cluster
