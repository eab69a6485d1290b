// ClusterMembership: which nodes form the cluster, what each one runs and where to reach it, and
// which are alive. The gossip implementation (NewGossipMembership) spreads every node's state by
// Scuttlebutt anti-entropy over UDP (cluster_state.h, docs/cluster.md) and decides liveness with
// a phi-accrual failure detector per peer (failure_detector.h).
//
// Each node publishes, as keys of its own state: its enabled services, REST, gRPC and gossip
// addresses and readiness (the k*Key constants below), plus any key set with SetSelfKey (future
// uses: indexing tasks, split cache contents).
//
// Lifecycle: construct, Start() (binds the UDP socket, starts the gossip and seed-resolver
// threads), Stop() (publishes NOT_READY to live peers, then stops the threads; idempotent, also
// run by the destructor). A node stopped and started again as a new process takes a new
// generation, so peers replace its old state rather than merge with it.
//
// Thread safety: every method may be called from any thread, except that Start and Stop are
// called by the owner, not concurrently with each other, and Stop not from a subscriber.
// Subscribers are called on the gossip thread, one change at a time, and must not block.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "cluster/cluster_state.h"
#include "cluster/gossip_message.h"

namespace shale::cluster {

// Reserved keys of every node's state, and the readiness values.
inline constexpr std::string_view kEnabledServicesKey = "enabled_services";  // "searcher,indexer"
inline constexpr std::string_view kGossipAdvertiseAddrKey = "gossip_advertise_addr";  // ip:port
inline constexpr std::string_view kRestAdvertiseAddrKey = "rest_advertise_addr";      // host:port
inline constexpr std::string_view kGrpcAdvertiseAddrKey = "grpc_advertise_addr";      // host:port
inline constexpr std::string_view kReadinessKey = "readiness";
inline constexpr std::string_view kReadyValue = "READY";
inline constexpr std::string_view kNotReadyValue = "NOT_READY";

struct ClusterMembershipOptions {
  // Nodes only talk to nodes of the same cluster id; other datagrams are dropped and counted.
  std::string cluster_id;
  std::string node_id;
  // 0: the start time in microseconds since the Unix epoch, which grows across restarts.
  uint64_t generation = 0;
  // The UDP socket's address; port 0 takes a free port (tests).
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  // The host peers gossip to ("" = listen_host). A name is resolved once at Start; an
  // unspecified address (0.0.0.0) becomes the host's first private IPv4 address.
  std::string advertise_host;
  // `host`, `host:port`, `ip` or `ip:port` (IPv6 in brackets with a port). Without a port a
  // seed takes `default_seed_port`, or the bound port when that is 0. Names are resolved again
  // every `peer_seeds_refresh_interval`, each to all its addresses.
  std::vector<std::string> peer_seeds;
  uint16_t default_seed_port = 0;
  std::vector<std::string> enabled_services;
  std::string rest_advertise_addr;
  std::string grpc_advertise_addr;

  std::chrono::milliseconds gossip_interval{1000};
  // Live peers gossiped to every round (plus, sometimes, a dead peer and a seed).
  size_t gossip_fanout = 3;
  double phi_threshold = 8.0;
  // A dead node is forgotten this long after it was last seen alive.
  std::chrono::milliseconds dead_node_grace_period = std::chrono::hours(1);
  std::chrono::milliseconds peer_seeds_refresh_interval = std::chrono::minutes(1);
  size_t max_datagram_bytes = kDefaultMaxDatagramBytes;
};

// One node as this node sees it.
struct ClusterNode {
  std::string node_id;
  uint64_t generation = 0;
  bool is_self = false;
  bool is_alive = false;
  bool is_ready = false;  // alive and its readiness key is READY
  std::vector<std::string> enabled_services;
  std::string gossip_advertise_addr;
  std::string rest_advertise_addr;
  std::string grpc_advertise_addr;
  uint64_t heartbeat = 0;
  uint64_t max_version = 0;
  double phi = 0;  // the failure detector's suspicion; 0 for self
  // Every live key, reserved ones included.
  std::map<std::string, VersionedValue> key_values;

  bool HasService(std::string_view service) const;
};

struct ClusterChange {
  enum class Kind {
    kAdded,    // a peer became alive (first seen, back from the dead, or restarted while dead)
    kUpdated,  // a live peer changed keys, or restarted (new generation) while alive
    kRemoved,  // a peer was declared dead
  };
  Kind kind = Kind::kAdded;
  ClusterNode node;
};

struct GossipStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t send_errors = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dropped_wrong_cluster = 0;
};

struct ClusterSnapshot {
  std::string cluster_id;
  std::string self_node_id;
  std::vector<ClusterNode> nodes;       // every known node, alive or dead, by node id
  std::vector<std::string> seed_addrs;  // the seeds' current resolved addresses
  GossipStats stats;
};

class ClusterMembership {
 public:
  using SubscriptionId = uint64_t;
  using ChangeCallback = std::function<void(const ClusterChange&)>;

  virtual ~ClusterMembership() = default;

  // Binds the socket and starts gossiping. InvalidArgument for bad options (naming them),
  // Unavailable when the port cannot be bound. REQUIRES: not started yet.
  virtual absl::Status Start() = 0;
  virtual void Stop() = 0;

  virtual const std::string& cluster_id() const = 0;
  virtual const std::string& self_node_id() const = 0;
  // The address peers gossip to, "ip:port" (known after Start).
  virtual std::string gossip_advertise_addr() const = 0;

  virtual ClusterSnapshot Snapshot() const = 0;
  // Alive nodes (self included, ready or not) and dead ones, by node id.
  virtual std::vector<ClusterNode> LiveNodes() const = 0;
  virtual std::vector<ClusterNode> DeadNodes() const = 0;

  // Publishes a key of this node. InvalidArgument for an empty or reserved key (readiness and
  // gossip address have their own methods) or one too large for a gossip datagram.
  virtual absl::Status SetSelfKey(std::string_view key, std::string_view value) = 0;
  virtual absl::Status DeleteSelfKey(std::string_view key) = 0;
  virtual void SetReady(bool ready) = 0;
  virtual bool IsReady() const = 0;

  // Calls `callback` for every change of a peer's membership (self is never reported). After
  // Unsubscribe returns, the callback is not called again (unless Unsubscribe is called from a
  // callback, which is allowed).
  virtual SubscriptionId Subscribe(ChangeCallback callback) = 0;
  virtual void Unsubscribe(SubscriptionId id) = 0;
};

std::unique_ptr<ClusterMembership> NewGossipMembership(ClusterMembershipOptions options);

// The host to advertise for `advertise_host`: an IP address as is, a name resolved to its first
// address, an unspecified address (0.0.0.0, ::) replaced by the first private IPv4 address of
// the host, or 127.0.0.1 when there is none. NotFound when a name does not resolve.
absl::StatusOr<std::string> ResolveAdvertiseHost(const std::string& advertise_host);

}  // namespace shale::cluster
