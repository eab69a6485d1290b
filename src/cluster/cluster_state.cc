#include "cluster/cluster_state.h"

#include <algorithm>

#include "common/check.h"

namespace shale::cluster {
namespace {

// What a peer's digest says it knows of one of our nodes.
struct PeerKnowledge {
  uint64_t from_version = 0;
  uint64_t heartbeat = 0;
};

// A node the peer lacks something of, while a delta is being filled.
struct StaleNode {
  const NodeState* node = nullptr;
  PeerKnowledge peer;
};

// The updates of `node` above `from_version`, in ascending version order.
std::vector<KeyValueUpdate> UpdatesAbove(const NodeState& node, uint64_t from_version) {
  std::vector<KeyValueUpdate> updates;
  for (const auto& [key, value] : node.key_values) {
    if (value.version > from_version) {
      updates.push_back(KeyValueUpdate{key, value.value, value.version, value.deleted});
    }
  }
  std::sort(updates.begin(), updates.end(),
            [](const KeyValueUpdate& a, const KeyValueUpdate& b) { return a.version < b.version; });
  return updates;
}

}  // namespace

const std::string* NodeState::Get(std::string_view key) const {
  auto it = key_values.find(key);
  if (it == key_values.end() || it->second.deleted) return nullptr;
  return &it->second.value;
}

ClusterState::ClusterState(std::string self_node_id, uint64_t self_generation)
    : self_node_id_(std::move(self_node_id)) {
  SHALE_CHECK(!self_node_id_.empty()) << "the node id of a cluster state must not be empty";
  NodeState self;
  self.node_id = self_node_id_;
  self.generation = self_generation;
  nodes_.emplace(self_node_id_, std::move(self));
}

const NodeState& ClusterState::self() const { return nodes_.find(self_node_id_)->second; }

NodeState& ClusterState::mutable_self() { return nodes_.find(self_node_id_)->second; }

const NodeState* ClusterState::Find(std::string_view node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : &it->second;
}

bool ClusterState::SetSelfKey(std::string_view key, std::string_view value) {
  SHALE_CHECK(!key.empty()) << "gossip keys must not be empty";
  NodeState& self = mutable_self();
  auto it = self.key_values.find(key);
  if (it != self.key_values.end() && !it->second.deleted && it->second.value == value) {
    return false;
  }
  self.max_version += 1;
  self.key_values[std::string(key)] = VersionedValue{std::string(value), self.max_version, false};
  return true;
}

bool ClusterState::DeleteSelfKey(std::string_view key) {
  NodeState& self = mutable_self();
  auto it = self.key_values.find(key);
  if (it == self.key_values.end() || it->second.deleted) return false;
  self.max_version += 1;
  it->second = VersionedValue{"", self.max_version, true};
  return true;
}

void ClusterState::BumpSelfHeartbeat() { mutable_self().heartbeat += 1; }

Digest ClusterState::MakeDigest(size_t max_bytes, std::mt19937_64& rng) const {
  std::vector<DigestEntry> all;
  all.reserve(nodes_.size());
  size_t total = EncodedDigestOverhead("", "");
  for (const auto& [node_id, node] : nodes_) {
    all.push_back(DigestEntry{node_id, node.generation, node.heartbeat, node.max_version});
    total += EncodedSize(all.back());
  }
  Digest digest;
  if (total <= max_bytes) {
    digest.entries = std::move(all);
    return digest;
  }
  // A run of consecutive ids from a random start; each entry is taken only if the bound that
  // would close the run after it still fits.
  const size_t start = std::uniform_int_distribution<size_t>(0, all.size() - 1)(rng);
  if (start > 0) digest.range_begin = all[start].node_id;
  size_t used = EncodedDigestOverhead(digest.range_begin, "");
  size_t end = start;
  while (end < all.size()) {
    const std::string_view next_bound = end + 1 < all.size() ? all[end + 1].node_id : "";
    if (used + EncodedSize(all[end]) + EncodedStringSize(next_bound) > max_bytes) break;
    used += EncodedSize(all[end]);
    ++end;
  }
  if (end < all.size()) digest.range_end = all[end].node_id;
  digest.entries.assign(std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(start)),
                        std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(end)));
  return digest;
}

Delta ClusterState::MakeDelta(const Digest& peer_digest, size_t max_bytes,
                              const std::function<bool(const NodeState&)>& is_shared,
                              std::mt19937_64& rng) const {
  std::map<std::string_view, const DigestEntry*> peer_entries;
  for (const DigestEntry& entry : peer_digest.entries) peer_entries[entry.node_id] = &entry;

  std::vector<StaleNode> stale;
  for (const auto& [node_id, node] : nodes_) {
    if (!peer_digest.Covers(node_id) || !is_shared(node)) continue;
    PeerKnowledge peer;
    auto it = peer_entries.find(node_id);
    if (it != peer_entries.end() && it->second->generation > node.generation) continue;
    // A peer that does not know this generation lacks everything, even an empty state.
    if (it != peer_entries.end() && it->second->generation == node.generation) {
      peer.from_version = it->second->max_version;
      peer.heartbeat = it->second->heartbeat;
      if (peer.from_version >= node.max_version && peer.heartbeat >= node.heartbeat) continue;
    }
    stale.push_back(StaleNode{&node, peer});
  }
  std::shuffle(stale.begin(), stale.end(), rng);

  // First every stale node's heartbeat (what failure detection runs on), then updates.
  Delta delta;
  size_t budget = max_bytes > kCountSizeBudget ? max_bytes - kCountSizeBudget : 0;
  std::vector<const StaleNode*> included;
  for (const StaleNode& candidate : stale) {
    NodeDelta node_delta;
    node_delta.node_id = candidate.node->node_id;
    node_delta.generation = candidate.node->generation;
    node_delta.heartbeat = candidate.node->heartbeat;
    node_delta.from_version = candidate.peer.from_version;
    const size_t header_size = EncodedNodeDeltaHeaderSize(node_delta);
    if (header_size > budget) continue;
    budget -= header_size;
    delta.nodes.push_back(std::move(node_delta));
    included.push_back(&candidate);
  }
  for (size_t i = 0; i < delta.nodes.size(); ++i) {
    const StaleNode& candidate = *included[i];
    for (KeyValueUpdate& update : UpdatesAbove(*candidate.node, candidate.peer.from_version)) {
      const size_t update_size = EncodedSize(update);
      if (update_size > budget) break;  // a later update cannot go before this one
      budget -= update_size;
      delta.nodes[i].updates.push_back(std::move(update));
    }
  }
  // Nodes whose only news were updates that did not fit carry nothing.
  std::erase_if(delta.nodes, [&](const NodeDelta& node_delta) {
    const NodeState* node = Find(node_delta.node_id);
    auto it = peer_entries.find(node_delta.node_id);
    const bool heartbeat_news = it == peer_entries.end() ||
                                it->second->generation != node->generation ||
                                it->second->heartbeat < node->heartbeat;
    return node_delta.updates.empty() && !heartbeat_news;
  });
  return delta;
}

ApplyOutcome ClusterState::ApplyDelta(const Delta& delta) {
  ApplyOutcome outcome;
  for (const NodeDelta& node_delta : delta.nodes) {
    if (node_delta.node_id == self_node_id_) {
      ++outcome.num_ignored;
      continue;
    }
    if (auto forgotten = forgotten_.find(node_delta.node_id); forgotten != forgotten_.end()) {
      if (node_delta.generation <= forgotten->second.generation) {
        ++outcome.num_ignored;
        continue;
      }
      forgotten_.erase(forgotten);
    }
    auto it = nodes_.find(node_delta.node_id);
    if (it == nodes_.end()) {
      NodeState fresh;
      fresh.node_id = node_delta.node_id;
      fresh.generation = node_delta.generation;
      it = nodes_.emplace(node_delta.node_id, std::move(fresh)).first;
      outcome.added.push_back(node_delta.node_id);
    } else if (node_delta.generation < it->second.generation) {
      ++outcome.num_ignored;
      continue;
    } else if (node_delta.generation > it->second.generation) {
      it->second = NodeState{};
      it->second.node_id = node_delta.node_id;
      it->second.generation = node_delta.generation;
      outcome.restarted.push_back(node_delta.node_id);
    }
    NodeState& node = it->second;
    if (node_delta.heartbeat > node.heartbeat) {
      node.heartbeat = node_delta.heartbeat;
      outcome.heartbeat_advanced.push_back(node.node_id);
    }
    // A delta starting above what we hold has a gap (invariant 1): keep only its heartbeat.
    if (node_delta.from_version > node.max_version) continue;
    bool changed = false;
    uint64_t previous_version = node_delta.from_version;
    for (const KeyValueUpdate& update : node_delta.updates) {
      // Versions must ascend and keys be named; the rest of a malformed delta is dropped.
      if (update.version <= previous_version || update.key.empty()) break;
      previous_version = update.version;
      if (update.version <= node.max_version) continue;
      auto [slot, inserted] = node.key_values.try_emplace(update.key);
      changed = changed || inserted || slot->second.deleted != update.deleted ||
                slot->second.value != update.value;
      slot->second = VersionedValue{update.value, update.version, update.deleted};
      node.max_version = update.version;
    }
    if (changed) outcome.keys_changed.push_back(node.node_id);
  }
  return outcome;
}

void ClusterState::Forget(std::string_view node_id, Clock::time_point now) {
  SHALE_CHECK(node_id != self_node_id_) << "a node cannot forget itself";
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return;
  forgotten_[it->first] = ForgottenNode{it->second.generation, now};
  nodes_.erase(it);
}

void ClusterState::ExpireForgotten(Clock::time_point cutoff) {
  std::erase_if(forgotten_, [&](const auto& entry) { return entry.second.forgotten_at < cutoff; });
}

}  // namespace shale::cluster
