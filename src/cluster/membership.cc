#include "cluster/membership.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fmt/format.h"

#include "cluster/failure_detector.h"
#include "cluster/internal/udp_socket.h"
#include "common/check.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace shale::cluster {
namespace {

using internal::SocketAddress;
using internal::UdpSocket;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxIdBytes = 255;
constexpr size_t kMinDatagramBytes = 512;
// Wrong-cluster and malformed datagrams are logged at most this often.
constexpr auto kDropLogInterval = std::chrono::minutes(1);

struct GlobalMetrics {
  Counter& sent;
  Counter& received;
  Counter& dropped_malformed;
  Counter& dropped_wrong_cluster;
  Gauge& live_nodes;
  Gauge& dead_nodes;
};

GlobalMetrics& Metrics() {
  MetricsRegistry& registry = MetricsRegistry::Global();
  static GlobalMetrics metrics{
      registry.GetCounter("shale_gossip_datagrams_sent_total", "gossip datagrams sent"),
      registry.GetCounter("shale_gossip_datagrams_received_total", "gossip datagrams received"),
      registry.GetCounter("shale_gossip_datagrams_dropped_total",
                          "gossip datagrams dropped, by reason", "reason=\"malformed\""),
      registry.GetCounter("shale_gossip_datagrams_dropped_total",
                          "gossip datagrams dropped, by reason", "reason=\"wrong_cluster_id\""),
      registry.GetGauge("shale_cluster_live_nodes", "nodes this node sees alive, itself included"),
      registry.GetGauge("shale_cluster_dead_nodes", "nodes this node sees dead")};
  return metrics;
}

std::string JoinServices(const std::vector<std::string>& services) {
  std::string joined;
  for (const std::string& service : services) {
    if (!joined.empty()) joined.push_back(',');
    joined += service;
  }
  return joined;
}

std::vector<std::string> SplitServices(std::string_view text) {
  std::vector<std::string> services;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    if (comma != 0) services.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return services;
}

// The first IPv4 address, else the first one: `localhost` may resolve to ::1 first, and most
// deployments are IPv4.
const SocketAddress& PreferIpv4(const std::vector<SocketAddress>& addresses) {
  for (const SocketAddress& address : addresses) {
    if (address.family() == AF_INET) return address;
  }
  return addresses.front();
}

bool IsReservedKey(std::string_view key) {
  return key == kGossipAdvertiseAddrKey || key == kReadinessKey;
}

// The liveness of one peer, beside its replicated state in ClusterState.
struct PeerStatus {
  explicit PeerStatus(const FailureDetectorOptions& options) : detector(options) {}

  PhiAccrualFailureDetector detector;
  bool alive = true;
  Clock::time_point dead_since;
  std::optional<SocketAddress> gossip_address;  // parsed from its gossip_advertise_addr key
};

class GossipMembership final : public ClusterMembership {
 public:
  explicit GossipMembership(ClusterMembershipOptions options)
      : options_(std::move(options)),
        generation_(options_.generation != 0 ? options_.generation
                                             : static_cast<uint64_t>(UnixMicrosNow())),
        state_(options_.node_id.empty() ? std::string("unnamed-node") : options_.node_id,
               generation_),
        rng_(std::random_device{}()) {
    const auto interval =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.gossip_interval);
    detector_options_.phi_threshold = options_.phi_threshold;
    detector_options_.initial_interval = interval;
    detector_options_.min_std_deviation = interval / 2;
    detector_options_.max_interval = interval * 10;
    absl::MutexLock lock(&mu_);
    state_.SetSelfKey(kEnabledServicesKey, JoinServices(options_.enabled_services));
    state_.SetSelfKey(kRestAdvertiseAddrKey, options_.rest_advertise_addr);
    state_.SetSelfKey(kGrpcAdvertiseAddrKey, options_.grpc_advertise_addr);
    state_.SetSelfKey(kReadinessKey, kNotReadyValue);
  }

  ~GossipMembership() override { Stop(); }

  absl::Status Start() override;
  void Stop() override;

  const std::string& cluster_id() const override { return options_.cluster_id; }
  const std::string& self_node_id() const override { return options_.node_id; }
  std::string gossip_advertise_addr() const override {
    absl::MutexLock lock(&mu_);
    const std::string* value = state_.self().Get(kGossipAdvertiseAddrKey);
    return value != nullptr ? *value : "";
  }

  ClusterSnapshot Snapshot() const override;
  std::vector<ClusterNode> LiveNodes() const override { return Filter(true); }
  std::vector<ClusterNode> DeadNodes() const override { return Filter(false); }

  absl::Status SetSelfKey(std::string_view key, std::string_view value) override;
  absl::Status DeleteSelfKey(std::string_view key) override;
  void SetReady(bool ready) override {
    absl::MutexLock lock(&mu_);
    state_.SetSelfKey(kReadinessKey, ready ? kReadyValue : kNotReadyValue);
  }
  bool IsReady() const override {
    absl::MutexLock lock(&mu_);
    const std::string* value = state_.self().Get(kReadinessKey);
    return value != nullptr && *value == kReadyValue;
  }

  SubscriptionId Subscribe(ChangeCallback callback) override {
    absl::MutexLock lock(&subscribers_mu_);
    const SubscriptionId id = next_subscription_id_++;
    subscribers_.emplace(id, std::move(callback));
    return id;
  }

  void Unsubscribe(SubscriptionId id) override {
    // Waiting for the dispatch in progress makes the callback's end certain; from the gossip
    // thread itself (a callback unsubscribing) there is nothing to wait for.
    std::optional<absl::MutexLock> dispatch_lock;
    if (std::this_thread::get_id() != gossip_thread_id_.load())
      dispatch_lock.emplace(&dispatch_mu_);
    absl::MutexLock lock(&subscribers_mu_);
    subscribers_.erase(id);
  }

 private:
  absl::Status ValidateOptions() const;
  absl::StatusOr<std::vector<HostPort>> ParseSeeds(uint16_t bound_port) const;

  void GossipLoop();
  void ResolverLoop(std::vector<HostPort> seeds);
  void GossipRound();
  void HandleDatagram(const UdpSocket::Datagram& datagram);
  void Send(const GossipMessage& message, const SocketAddress& to);
  void Dispatch(const std::vector<ClusterChange>& changes);
  void LogDrop(std::string_view what, const SocketAddress& from, std::string_view detail);

  GossipMessage NewMessage(GossipMessageType type) const {
    GossipMessage message;
    message.type = type;
    message.cluster_id = options_.cluster_id;
    message.sender_node_id = options_.node_id;
    message.sender_generation = generation_;
    return message;
  }
  size_t PayloadBudget() const {
    const size_t header = EncodedHeaderSize(options_.cluster_id, options_.node_id, generation_);
    return options_.max_datagram_bytes > header ? options_.max_datagram_bytes - header : 0;
  }

  // Merges a delta, updates liveness and appends the resulting changes.
  void ApplyDeltaLocked(const Delta& delta, Clock::time_point now,
                        std::vector<ClusterChange>& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Declares dead the peers whose phi crossed the threshold, forgets the long dead.
  void EvaluateLivenessLocked(Clock::time_point now, std::vector<ClusterChange>& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ClusterNode NodeViewLocked(const NodeState& node, Clock::time_point now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsSharedLocked(const NodeState& node) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<ClusterNode> Filter(bool alive) const;

  const ClusterMembershipOptions options_;
  const uint64_t generation_;
  FailureDetectorOptions detector_options_;

  mutable absl::Mutex mu_;
  ClusterState state_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PeerStatus, std::less<>> peers_ ABSL_GUARDED_BY(mu_);
  std::vector<SocketAddress> seed_addresses_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::optional<Clock::time_point> last_drop_log_ ABSL_GUARDED_BY(mu_);

  // Held while callbacks run, so Unsubscribe can wait for them.
  absl::Mutex dispatch_mu_;
  absl::Mutex subscribers_mu_;
  std::map<SubscriptionId, ChangeCallback> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);
  SubscriptionId next_subscription_id_ ABSL_GUARDED_BY(subscribers_mu_) = 1;

  absl::Mutex stop_mu_;
  bool stop_requested_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool started_ = false;
  bool stopped_ = false;
  UdpSocket socket_;
  int socket_family_ = 0;  // AF_INET or AF_INET6, set by Start
  int wake_fd_ = -1;
  std::thread gossip_thread_;
  std::atomic<std::thread::id> gossip_thread_id_;
  std::thread resolver_thread_;

  std::atomic<uint64_t> datagrams_sent_{0};
  std::atomic<uint64_t> datagrams_received_{0};
  std::atomic<uint64_t> send_errors_{0};
  std::atomic<uint64_t> dropped_malformed_{0};
  std::atomic<uint64_t> dropped_wrong_cluster_{0};
};

absl::Status GossipMembership::ValidateOptions() const {
  if (options_.node_id.empty() || options_.node_id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(fmt::format("node_id must have 1 to {} bytes, got {}",
                                                  kMaxIdBytes, options_.node_id.size()));
  }
  if (options_.cluster_id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        fmt::format("cluster_id must have at most {} bytes", kMaxIdBytes));
  }
  if (options_.max_datagram_bytes < kMinDatagramBytes ||
      options_.max_datagram_bytes > kMaxReceivedDatagramBytes) {
    return absl::InvalidArgumentError(fmt::format("max gossip datagram size {} is not in {}..{}",
                                                  options_.max_datagram_bytes, kMinDatagramBytes,
                                                  kMaxReceivedDatagramBytes));
  }
  if (options_.gossip_interval < std::chrono::milliseconds(1)) {
    return absl::InvalidArgumentError("gossip_interval must be at least 1ms");
  }
  if (!(options_.phi_threshold > 0)) {
    return absl::InvalidArgumentError("phi_threshold must be greater than 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HostPort>> GossipMembership::ParseSeeds(uint16_t bound_port) const {
  const uint16_t default_port =
      options_.default_seed_port != 0 ? options_.default_seed_port : bound_port;
  std::vector<HostPort> seeds;
  for (const std::string& text : options_.peer_seeds) {
    absl::StatusOr<HostPort> seed = ParseHostPort(text);
    if (!seed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("peer_seeds: {}", std::string(seed.status().message())));
    }
    if (!seed->port.has_value()) seed->port = default_port;
    seeds.push_back(*std::move(seed));
  }
  return seeds;
}

absl::Status GossipMembership::Start() {
  SHALE_CHECK(!started_) << "ClusterMembership::Start called twice";
  RETURN_IF_ERROR(ValidateOptions());
  ASSIGN_OR_RETURN(std::vector<SocketAddress> listen_addresses,
                   SocketAddress::Resolve(options_.listen_host, options_.listen_port));
  ASSIGN_OR_RETURN(socket_, UdpSocket::Bind(PreferIpv4(listen_addresses)));
  const SocketAddress bound = socket_.LocalAddress();
  socket_family_ = bound.family();
  ASSIGN_OR_RETURN(std::vector<HostPort> seeds, ParseSeeds(bound.port()));
  ASSIGN_OR_RETURN(std::string advertise_host,
                   ResolveAdvertiseHost(options_.advertise_host.empty() ? options_.listen_host
                                                                        : options_.advertise_host));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError("cannot create an eventfd for the gossip thread");
  {
    absl::MutexLock lock(&mu_);
    state_.SetSelfKey(kGossipAdvertiseAddrKey, FormatHostPort(advertise_host, bound.port()));
  }
  started_ = true;
  SHALE_LOG_INFO("cluster membership started cluster_id={} node_id={} generation={} gossip={}",
                 options_.cluster_id, options_.node_id, generation_, gossip_advertise_addr());
  gossip_thread_ = std::thread([this] { GossipLoop(); });
  resolver_thread_ = std::thread([this, seeds = std::move(seeds)] { ResolverLoop(seeds); });
  return absl::OkStatus();
}

void GossipMembership::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Tell the live peers at once that this node is going away: the readiness change as a delta,
  // applied by every peer up to date with the version before it (others ignore it).
  std::vector<SocketAddress> live_peers;
  GossipMessage farewell = NewMessage(GossipMessageType::kAck);
  {
    absl::MutexLock lock(&mu_);
    const bool changed = state_.SetSelfKey(kReadinessKey, kNotReadyValue);
    const NodeState& self = state_.self();
    Digest peer_view;
    peer_view.range_begin = self.node_id;
    peer_view.range_end = self.node_id + '\0';
    peer_view.entries.push_back(
        DigestEntry{self.node_id, self.generation, self.heartbeat, self.max_version - 1});
    farewell.delta = state_.MakeDelta(
        peer_view, PayloadBudget(),
        [this](const NodeState& node) { return node.node_id == state_.self_node_id(); }, rng_);
    for (const auto& [node_id, peer] : peers_) {
      if (changed && peer.alive && peer.gossip_address.has_value()) {
        live_peers.push_back(*peer.gossip_address);
      }
    }
  }
  for (const SocketAddress& peer : live_peers) Send(farewell, peer);
  {
    absl::MutexLock lock(&stop_mu_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    SHALE_LOG_WARN("cannot wake the gossip thread; it stops at its next round");
  }
  gossip_thread_.join();
  resolver_thread_.join();
  socket_.Close();
  close(wake_fd_);
  wake_fd_ = -1;
  SHALE_LOG_INFO("cluster membership stopped node_id={}", options_.node_id);
}

void GossipMembership::GossipLoop() {
  gossip_thread_id_ = std::this_thread::get_id();
  Clock::time_point next_round = Clock::now();
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stop_requested_) break;
    }
    const Clock::time_point now = Clock::now();
    if (now >= next_round) {
      GossipRound();
      next_round += options_.gossip_interval;
      // After a stall (a suspended process), restart the rhythm instead of bursting rounds.
      if (next_round < now) next_round = now + options_.gossip_interval;
      continue;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_round - now).count() + 1;
    pollfd fds[2] = {{socket_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(wait)) <= 0) continue;
    if ((fds[1].revents & POLLIN) != 0) break;
    if ((fds[0].revents & POLLIN) != 0) {
      // Drains what is pending, a bounded number at a time so rounds keep their rhythm.
      for (int i = 0; i < 64; ++i) {
        std::optional<UdpSocket::Datagram> datagram = socket_.Receive();
        if (!datagram.has_value()) break;
        HandleDatagram(*datagram);
      }
    }
  }
}

void GossipMembership::ResolverLoop(std::vector<HostPort> seeds) {
  // Per seed, its last good addresses: a failed lookup keeps them.
  std::vector<std::vector<SocketAddress>> resolved(seeds.size());
  while (true) {
    for (size_t i = 0; i < seeds.size(); ++i) {
      absl::StatusOr<std::vector<SocketAddress>> addresses =
          SocketAddress::Resolve(seeds[i].host, *seeds[i].port);
      if (addresses.ok()) {
        // Only addresses the socket can reach: `localhost` gives ::1 too, useless from IPv4.
        std::erase_if(*addresses, [this](const SocketAddress& address) {
          return address.family() != socket_family_;
        });
        resolved[i] = *std::move(addresses);
      } else {
        SHALE_LOG_WARN("cannot resolve peer seed seed={} error={}",
                       FormatHostPort(seeds[i].host, *seeds[i].port),
                       std::string(addresses.status().message()));
      }
    }
    std::vector<SocketAddress> all;
    for (const std::vector<SocketAddress>& addresses : resolved) {
      for (const SocketAddress& address : addresses) {
        if (std::find(all.begin(), all.end(), address) == all.end()) all.push_back(address);
      }
    }
    {
      absl::MutexLock lock(&mu_);
      seed_addresses_ = std::move(all);
    }
    absl::MutexLock lock(&stop_mu_);
    const absl::Duration refresh = absl::FromChrono(options_.peer_seeds_refresh_interval);
    if (stop_mu_.AwaitWithTimeout(absl::Condition(&stop_requested_), refresh)) return;
  }
}

void GossipMembership::GossipRound() {
  std::vector<ClusterChange> changes;
  std::vector<SocketAddress> targets;
  GossipMessage syn = NewMessage(GossipMessageType::kSyn);
  {
    absl::MutexLock lock(&mu_);
    const Clock::time_point now = Clock::now();
    state_.BumpSelfHeartbeat();
    EvaluateLivenessLocked(now, changes);
    state_.ExpireForgotten(now - options_.dead_node_grace_period);

    std::vector<SocketAddress> live;
    std::vector<SocketAddress> dead;
    for (const auto& [node_id, peer] : peers_) {
      if (!peer.gossip_address.has_value()) continue;
      (peer.alive ? live : dead).push_back(*peer.gossip_address);
    }
    std::shuffle(live.begin(), live.end(), rng_);
    const size_t num_live = live.size();
    live.resize(std::min(live.size(), options_.gossip_fanout));
    targets = live;
    // A dead peer now and then, so a node back from a partition is noticed.
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (!dead.empty() &&
        coin(rng_) < static_cast<double>(dead.size()) / static_cast<double>(num_live + 1)) {
      targets.push_back(dead[std::uniform_int_distribution<size_t>(0, dead.size() - 1)(rng_)]);
    }
    // Seeds: all of them while alone (bootstrap), else one now and then (partition healing).
    auto add_target = [&](const SocketAddress& address) {
      if (std::find(targets.begin(), targets.end(), address) == targets.end()) {
        targets.push_back(address);
      }
    };
    if (num_live == 0) {
      for (const SocketAddress& seed : seed_addresses_) add_target(seed);
    } else if (!seed_addresses_.empty() && coin(rng_) < 1.0 / static_cast<double>(num_live + 1)) {
      add_target(seed_addresses_[std::uniform_int_distribution<size_t>(
          0, seed_addresses_.size() - 1)(rng_)]);
    }
    syn.digest = state_.MakeDigest(PayloadBudget(), rng_);

    size_t num_alive = 1;
    for (const auto& [node_id, peer] : peers_) num_alive += peer.alive ? 1 : 0;
    Metrics().live_nodes.Set(static_cast<int64_t>(num_alive));
    Metrics().dead_nodes.Set(static_cast<int64_t>(peers_.size() + 1 - num_alive));
  }
  for (const SocketAddress& target : targets) Send(syn, target);
  Dispatch(changes);
}

void GossipMembership::HandleDatagram(const UdpSocket::Datagram& datagram) {
  datagrams_received_.fetch_add(1, std::memory_order_relaxed);
  Metrics().received.Increment();
  absl::StatusOr<GossipMessage> message = DecodeGossipMessage(datagram.bytes);
  if (!message.ok()) {
    dropped_malformed_.fetch_add(1, std::memory_order_relaxed);
    Metrics().dropped_malformed.Increment();
    LogDrop("malformed gossip datagram", datagram.from, std::string(message.status().message()));
    return;
  }
  if (message->cluster_id != options_.cluster_id) {
    dropped_wrong_cluster_.fetch_add(1, std::memory_order_relaxed);
    Metrics().dropped_wrong_cluster.Increment();
    LogDrop("gossip datagram of another cluster", datagram.from,
            fmt::format("cluster_id={} sender={}", message->cluster_id, message->sender_node_id));
    return;
  }
  if (message->sender_node_id == options_.node_id && message->sender_generation == generation_) {
    return;  // our own Syn, sent to a seed address that is this node
  }
  std::vector<ClusterChange> changes;
  std::optional<GossipMessage> reply;
  {
    absl::MutexLock lock(&mu_);
    const Clock::time_point now = Clock::now();
    auto is_shared = [this](const NodeState& node) { return IsSharedLocked(node); };
    switch (message->type) {
      case GossipMessageType::kSyn: {
        reply = NewMessage(GossipMessageType::kSynAck);
        // The digest takes at most half the datagram; the delta the rest.
        reply->digest = state_.MakeDigest(PayloadBudget() / 2, rng_);
        reply->delta = state_.MakeDelta(
            message->digest, PayloadBudget() - EncodedSize(reply->digest), is_shared, rng_);
        break;
      }
      case GossipMessageType::kSynAck: {
        ApplyDeltaLocked(message->delta, now, changes);
        reply = NewMessage(GossipMessageType::kAck);
        reply->delta = state_.MakeDelta(message->digest, PayloadBudget(), is_shared, rng_);
        break;
      }
      case GossipMessageType::kAck:
        ApplyDeltaLocked(message->delta, now, changes);
        break;
    }
  }
  if (reply.has_value()) Send(*reply, datagram.from);
  Dispatch(changes);
}

void GossipMembership::Send(const GossipMessage& message, const SocketAddress& to) {
  const std::string bytes = EncodeGossipMessage(message);
  SHALE_DCHECK(bytes.size() <= options_.max_datagram_bytes)
      << "gossip message of " << bytes.size() << " bytes exceeds the datagram budget";
  absl::Status sent = socket_.SendTo(bytes, to);
  if (!sent.ok()) {
    send_errors_.fetch_add(1, std::memory_order_relaxed);
    SHALE_LOG_DEBUG("gossip send failed error={}", std::string(sent.message()));
    return;
  }
  datagrams_sent_.fetch_add(1, std::memory_order_relaxed);
  Metrics().sent.Increment();
}

void GossipMembership::Dispatch(const std::vector<ClusterChange>& changes) {
  if (changes.empty()) return;
  absl::MutexLock dispatch_lock(&dispatch_mu_);
  std::vector<ChangeCallback> callbacks;
  {
    absl::MutexLock lock(&subscribers_mu_);
    for (const auto& [id, callback] : subscribers_) callbacks.push_back(callback);
  }
  for (const ClusterChange& change : changes) {
    for (const ChangeCallback& callback : callbacks) callback(change);
  }
}

void GossipMembership::LogDrop(std::string_view what, const SocketAddress& from,
                               std::string_view detail) {
  absl::MutexLock lock(&mu_);
  const Clock::time_point now = Clock::now();
  if (last_drop_log_.has_value() && now - *last_drop_log_ < kDropLogInterval) return;
  last_drop_log_ = now;
  SHALE_LOG_WARN("{} dropped from={} {} (logged at most once a minute)", what, from.ToString(),
                 detail);
}

bool GossipMembership::IsSharedLocked(const NodeState& node) const {
  if (node.node_id == state_.self_node_id()) return true;
  auto it = peers_.find(node.node_id);
  return it != peers_.end() && it->second.alive;
}

void GossipMembership::ApplyDeltaLocked(const Delta& delta, Clock::time_point now,
                                        std::vector<ClusterChange>& changes) {
  const ApplyOutcome outcome = state_.ApplyDelta(delta);
  std::map<std::string, ClusterChange::Kind> kinds;
  auto note = [&](const std::string& node_id, ClusterChange::Kind kind) {
    // kAdded and kRemoved win over kUpdated for the same node.
    auto [it, inserted] = kinds.emplace(node_id, kind);
    if (!inserted && it->second == ClusterChange::Kind::kUpdated) it->second = kind;
  };
  for (const std::string& node_id : outcome.added) {
    peers_.insert_or_assign(node_id, PeerStatus(detector_options_));
    peers_.at(node_id).detector.Heartbeat(now);
    note(node_id, ClusterChange::Kind::kAdded);
  }
  for (const std::string& node_id : outcome.restarted) {
    auto it = peers_.find(node_id);
    const bool was_alive = it != peers_.end() && it->second.alive;
    peers_.insert_or_assign(node_id, PeerStatus(detector_options_));
    peers_.at(node_id).detector.Heartbeat(now);
    note(node_id, was_alive ? ClusterChange::Kind::kUpdated : ClusterChange::Kind::kAdded);
  }
  for (const std::string& node_id : outcome.heartbeat_advanced) {
    if (kinds.count(node_id) != 0) continue;  // added or restarted: already counted
    PeerStatus& peer = peers_.at(node_id);
    peer.detector.Heartbeat(now);
    if (!peer.alive) {
      peer.alive = true;
      note(node_id, ClusterChange::Kind::kAdded);
    }
  }
  for (const std::string& node_id : outcome.keys_changed) {
    PeerStatus& peer = peers_.at(node_id);
    const NodeState* node = state_.Find(node_id);
    const std::string* address = node->Get(kGossipAdvertiseAddrKey);
    peer.gossip_address.reset();
    if (address != nullptr) {
      absl::StatusOr<SocketAddress> parsed = SocketAddress::ParseNumeric(*address);
      if (parsed.ok()) peer.gossip_address = *parsed;
    }
    if (peer.alive) note(node_id, ClusterChange::Kind::kUpdated);
  }
  for (const auto& [node_id, kind] : kinds) {
    const NodeState* node = state_.Find(node_id);
    ClusterChange change{kind, NodeViewLocked(*node, now)};
    if (kind == ClusterChange::Kind::kAdded) {
      SHALE_LOG_INFO("cluster node alive node_id={} generation={} gossip={}", node_id,
                     node->generation, change.node.gossip_advertise_addr);
    }
    changes.push_back(std::move(change));
  }
}

void GossipMembership::EvaluateLivenessLocked(Clock::time_point now,
                                              std::vector<ClusterChange>& changes) {
  std::vector<std::string> forget;
  for (auto& [node_id, peer] : peers_) {
    if (peer.alive && !peer.detector.IsAlive(now)) {
      peer.alive = false;
      peer.dead_since = now;
      const NodeState* node = state_.Find(node_id);
      SHALE_LOG_INFO("cluster node dead node_id={} generation={} phi={:.1f}", node_id,
                     node->generation, peer.detector.Phi(now));
      changes.push_back(ClusterChange{ClusterChange::Kind::kRemoved, NodeViewLocked(*node, now)});
    } else if (!peer.alive && now - peer.dead_since > options_.dead_node_grace_period) {
      forget.push_back(node_id);
    }
  }
  for (const std::string& node_id : forget) {
    SHALE_LOG_INFO("cluster node forgotten node_id={}", node_id);
    state_.Forget(node_id, now);
    peers_.erase(node_id);
  }
}

ClusterNode GossipMembership::NodeViewLocked(const NodeState& node, Clock::time_point now) const {
  ClusterNode view;
  view.node_id = node.node_id;
  view.generation = node.generation;
  view.is_self = node.node_id == state_.self_node_id();
  view.heartbeat = node.heartbeat;
  view.max_version = node.max_version;
  if (view.is_self) {
    view.is_alive = true;
  } else if (auto it = peers_.find(node.node_id); it != peers_.end()) {
    view.is_alive = it->second.alive;
    view.phi = it->second.detector.Phi(now);
  }
  for (const auto& [key, value] : node.key_values) {
    if (!value.deleted) view.key_values.emplace(key, value);
  }
  auto get = [&](std::string_view key) {
    const std::string* value = node.Get(key);
    return value != nullptr ? *value : std::string();
  };
  view.enabled_services = SplitServices(get(kEnabledServicesKey));
  view.gossip_advertise_addr = get(kGossipAdvertiseAddrKey);
  view.rest_advertise_addr = get(kRestAdvertiseAddrKey);
  view.grpc_advertise_addr = get(kGrpcAdvertiseAddrKey);
  view.is_ready = view.is_alive && get(kReadinessKey) == kReadyValue;
  return view;
}

ClusterSnapshot GossipMembership::Snapshot() const {
  ClusterSnapshot snapshot;
  snapshot.cluster_id = options_.cluster_id;
  snapshot.self_node_id = options_.node_id;
  {
    absl::MutexLock lock(&mu_);
    const Clock::time_point now = Clock::now();
    for (const auto& [node_id, node] : state_.nodes()) {
      snapshot.nodes.push_back(NodeViewLocked(node, now));
    }
    for (const SocketAddress& seed : seed_addresses_)
      snapshot.seed_addrs.push_back(seed.ToString());
  }
  snapshot.stats.datagrams_sent = datagrams_sent_.load();
  snapshot.stats.datagrams_received = datagrams_received_.load();
  snapshot.stats.send_errors = send_errors_.load();
  snapshot.stats.dropped_malformed = dropped_malformed_.load();
  snapshot.stats.dropped_wrong_cluster = dropped_wrong_cluster_.load();
  return snapshot;
}

std::vector<ClusterNode> GossipMembership::Filter(bool alive) const {
  std::vector<ClusterNode> nodes = Snapshot().nodes;
  std::erase_if(nodes, [&](const ClusterNode& node) { return node.is_alive != alive; });
  return nodes;
}

absl::Status GossipMembership::SetSelfKey(std::string_view key, std::string_view value) {
  if (key.empty()) return absl::InvalidArgumentError("gossip keys must not be empty");
  if (IsReservedKey(key)) {
    return absl::InvalidArgumentError(fmt::format("gossip key `{}` is reserved", key));
  }
  // The key must fit one datagram beside the header and its node's entry.
  const size_t needed =
      EncodedSize(KeyValueUpdate{std::string(key), std::string(value), UINT64_MAX, false}) +
      EncodedNodeDeltaHeaderSize(
          NodeDelta{options_.node_id, UINT64_MAX, UINT64_MAX, UINT64_MAX, {}}) +
      kCountSizeBudget;
  if (needed > PayloadBudget()) {
    return absl::InvalidArgumentError(fmt::format(
        "gossip key `{}`: key and value take {} bytes, more than the {} bytes a gossip datagram "
        "has room for",
        key, needed, PayloadBudget()));
  }
  absl::MutexLock lock(&mu_);
  state_.SetSelfKey(key, value);
  return absl::OkStatus();
}

absl::Status GossipMembership::DeleteSelfKey(std::string_view key) {
  if (key.empty() || IsReservedKey(key)) {
    return absl::InvalidArgumentError(fmt::format("gossip key `{}` cannot be deleted", key));
  }
  absl::MutexLock lock(&mu_);
  state_.DeleteSelfKey(key);
  return absl::OkStatus();
}

}  // namespace

bool ClusterNode::HasService(std::string_view service) const {
  return std::find(enabled_services.begin(), enabled_services.end(), service) !=
         enabled_services.end();
}

std::unique_ptr<ClusterMembership> NewGossipMembership(ClusterMembershipOptions options) {
  return std::make_unique<GossipMembership>(std::move(options));
}

absl::StatusOr<std::string> ResolveAdvertiseHost(const std::string& advertise_host) {
  ASSIGN_OR_RETURN(std::vector<SocketAddress> addresses, SocketAddress::Resolve(advertise_host, 0));
  const SocketAddress& address = PreferIpv4(addresses);
  if (!address.IsUnspecified()) return address.Host();
  std::optional<std::string> private_ip = internal::FindPrivateIpv4Address();
  const std::string chosen = private_ip.value_or("127.0.0.1");
  SHALE_LOG_WARN("advertise address {} is unspecified; advertising {} instead", advertise_host,
                 chosen);
  return chosen;
}

}  // namespace shale::cluster
