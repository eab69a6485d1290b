#include "cluster/rendezvous.h"

#include <algorithm>

#include "xxhash.h"

namespace shale::cluster {

uint64_t RendezvousScore(std::string_view key, std::string_view node_id) {
  // The node id's hash seeds the key's hash: no concatenation, and ("ab", "c") and ("a", "bc")
  // score differently.
  const uint64_t node_seed = XXH3_64bits(node_id.data(), node_id.size());
  return XXH3_64bits_withSeed(key.data(), key.size(), node_seed);
}

std::vector<std::string> RendezvousOrder(std::string_view key, std::vector<std::string> node_ids) {
  std::vector<std::pair<uint64_t, std::string>> scored;
  scored.reserve(node_ids.size());
  for (std::string& node_id : node_ids) {
    const uint64_t score = RendezvousScore(key, node_id);
    scored.emplace_back(score, std::move(node_id));
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> ordered;
  ordered.reserve(scored.size());
  for (auto& [score, node_id] : scored) ordered.push_back(std::move(node_id));
  return ordered;
}

}  // namespace shale::cluster
