// ClusterState: the replicated state of a gossip cluster as one node sees it, and the Scuttlebutt
// reconciliation over it, as pure functions of the state (no sockets, no clocks, no threads).
//
// Each node owns one NodeState: its id, its generation (a number that grows at every restart,
// the start time in microseconds), a heartbeat counter it bumps every gossip round, and a map of
// keys whose every write takes the next version of the node (one counter per node and
// generation). Only the owner writes its NodeState; everyone else copies it through deltas.
//
// Invariants, for every node state N held here (other than self):
//   1. Completeness: N holds, for every key written by the owner with a version <= N.max_version,
//      that key's latest value as of version N.max_version. Deltas keep it true because they
//      carry updates in ascending version order from the receiver's max version (a delta that
//      starts above it has a gap and only its heartbeat is taken).
//   2. A state of generation G is replaced as a whole by any delta of a generation above G and
//      never by one below.
//   3. A forgotten node (garbage-collected after being dead) is not re-created by a delta of the
//      same or an older generation, so stale gossip cannot resurrect it.
// Deleted keys stay as tombstones for as long as the node's generation lives; the number of
// distinct keys a node ever writes bounds its state.
//
// Thread safety: none; the owner (ClusterMembership) serialises access.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/gossip_message.h"

namespace shale::cluster {

struct VersionedValue {
  std::string value;
  uint64_t version = 0;
  bool deleted = false;
};

struct NodeState {
  std::string node_id;
  uint64_t generation = 0;
  uint64_t heartbeat = 0;
  uint64_t max_version = 0;
  std::map<std::string, VersionedValue, std::less<>> key_values;

  // The value of `key`, or null when absent or deleted.
  const std::string* Get(std::string_view key) const;
};

// What ApplyDelta changed, by node id.
struct ApplyOutcome {
  std::vector<std::string> added;               // first seen (or seen again after being forgotten)
  std::vector<std::string> restarted;           // replaced by a newer generation
  std::vector<std::string> heartbeat_advanced;  // heartbeat went up (includes added, restarted)
  std::vector<std::string> keys_changed;        // at least one key changed value or was deleted
  size_t num_ignored = 0;  // node deltas about self, an older generation or a forgotten node
};

class ClusterState {
 public:
  using Clock = std::chrono::steady_clock;

  ClusterState(std::string self_node_id, uint64_t self_generation);

  const std::string& self_node_id() const { return self_node_id_; }
  const NodeState& self() const;
  // Every known node, self included, by id.
  const std::map<std::string, NodeState, std::less<>>& nodes() const { return nodes_; }
  const NodeState* Find(std::string_view node_id) const;

  // Writes a key of self at the next version. Writing the value a live key already has is a
  // no-op and returns false. REQUIRES: `key` is not empty.
  bool SetSelfKey(std::string_view key, std::string_view value);
  // Turns a key of self into a tombstone at the next version. Returns false if it was absent or
  // already deleted.
  bool DeleteSelfKey(std::string_view key);
  void BumpSelfHeartbeat();

  // A digest of every known node (self and dead nodes included) that encodes within
  // `max_bytes`. When every entry does not fit, the digest covers a run of consecutive node ids
  // starting at a random one.
  Digest MakeDigest(size_t max_bytes, std::mt19937_64& rng) const;

  // The delta of what `peer_digest` shows its sender lacks, encoding within `max_bytes`. Nodes
  // for which `is_shared` returns false (dead nodes) are left out. Every stale node's heartbeat
  // comes first; the remaining room takes updates, node by node in random order, each node's in
  // ascending version order.
  Delta MakeDelta(const Digest& peer_digest, size_t max_bytes,
                  const std::function<bool(const NodeState&)>& is_shared,
                  std::mt19937_64& rng) const;

  // Merges a delta received from a peer (see the invariants above).
  ApplyOutcome ApplyDelta(const Delta& delta);

  // Removes a node and remembers its generation until ExpireForgotten drops it.
  // REQUIRES: `node_id` is not self.
  void Forget(std::string_view node_id, Clock::time_point now);
  // Drops the memory of nodes forgotten before `cutoff`.
  void ExpireForgotten(Clock::time_point cutoff);
  size_t num_forgotten() const { return forgotten_.size(); }

 private:
  struct ForgottenNode {
    uint64_t generation = 0;
    Clock::time_point forgotten_at;
  };

  NodeState& mutable_self();

  std::string self_node_id_;
  std::map<std::string, NodeState, std::less<>> nodes_;
  std::map<std::string, ForgottenNode, std::less<>> forgotten_;
};

}  // namespace shale::cluster
