// Several memberships in one process, gossiping over loopback UDP with short intervals.
#include "cluster/membership.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

#include "common/time_util.h"

namespace shale::cluster {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kGossipInterval(100);
constexpr auto kConvergeTimeout = std::chrono::seconds(20);

ClusterMembershipOptions Options(const std::string& node_id, std::vector<std::string> seeds,
                                 const std::string& cluster_id = "test-cluster",
                                 milliseconds gossip_interval = kGossipInterval) {
  ClusterMembershipOptions options;
  options.cluster_id = cluster_id;
  options.node_id = node_id;
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  options.peer_seeds = std::move(seeds);
  options.enabled_services = {"searcher"};
  options.rest_advertise_addr = "127.0.0.1:7280";
  options.grpc_advertise_addr = "127.0.0.1:7281";
  options.gossip_interval = gossip_interval;
  return options;
}

std::unique_ptr<ClusterMembership> StartNode(ClusterMembershipOptions options) {
  std::unique_ptr<ClusterMembership> membership = NewGossipMembership(std::move(options));
  absl::Status started = membership->Start();
  EXPECT_TRUE(started.ok()) << started;
  return membership;
}

std::vector<std::string> Ids(const std::vector<ClusterNode>& nodes) {
  std::vector<std::string> ids;
  for (const ClusterNode& node : nodes) ids.push_back(node.node_id);
  return ids;
}

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

bool SeesLive(const ClusterMembership& membership, const std::vector<std::string>& ids) {
  return Ids(membership.LiveNodes()) == ids;
}

// Records every change a membership reports.
class ChangeLog {
 public:
  void Record(const ClusterChange& change) {
    absl::MutexLock lock(&mu_);
    changes_.push_back(change);
  }
  size_t Count(ClusterChange::Kind kind, const std::string& node_id) const {
    absl::MutexLock lock(&mu_);
    size_t count = 0;
    for (const ClusterChange& change : changes_) {
      count += change.kind == kind && change.node.node_id == node_id ? 1 : 0;
    }
    return count;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<ClusterChange> changes_ ABSL_GUARDED_BY(mu_);
};

class ClusterMembershipTest : public ::testing::Test {
 protected:
  // node-1 has no seed; the others seed from node-1's address.
  void StartCluster(int num_nodes, milliseconds gossip_interval = kGossipInterval) {
    nodes_.push_back(StartNode(Options("node-1", {}, "test-cluster", gossip_interval)));
    seed_ = nodes_[0]->gossip_advertise_addr();
    for (int i = 2; i <= num_nodes; ++i) {
      nodes_.push_back(StartNode(
          Options("node-" + std::to_string(i), {seed_}, "test-cluster", gossip_interval)));
    }
    for (int i = 1; i <= num_nodes; ++i) all_ids_.push_back("node-" + std::to_string(i));
  }

  bool AllSeeLive(const std::vector<std::string>& ids) {
    for (const auto& node : nodes_) {
      if (node != nullptr && !SeesLive(*node, ids)) return false;
    }
    return true;
  }

  std::vector<std::unique_ptr<ClusterMembership>> nodes_;
  std::string seed_;
  std::vector<std::string> all_ids_;
};

TEST_F(ClusterMembershipTest, NodesConvergeAndPublishTheirState) {
  StartCluster(4);
  ASSERT_TRUE(WaitFor([&] { return AllSeeLive(all_ids_); }, kConvergeTimeout));

  nodes_[2]->SetReady(true);
  ASSERT_TRUE(nodes_[2]->SetSelfKey("indexing_task:logs", "2").ok());
  auto sees_node3_state = [&](const ClusterMembership& observer) {
    for (const ClusterNode& node : observer.LiveNodes()) {
      if (node.node_id != "node-3") continue;
      auto task = node.key_values.find("indexing_task:logs");
      return node.is_ready && task != node.key_values.end() && task->second.value == "2";
    }
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return sees_node3_state(*nodes_[0]) && sees_node3_state(*nodes_[3]); },
                      kConvergeTimeout));
  // Published state does not depend on liveness (which may flap on a loaded machine).
  const std::vector<ClusterNode> known = nodes_[0]->Snapshot().nodes;
  ASSERT_EQ(Ids(known), all_ids_);
  for (const ClusterNode& node : known) {
    EXPECT_EQ(node.enabled_services, std::vector<std::string>{"searcher"}) << node.node_id;
    EXPECT_EQ(node.grpc_advertise_addr, "127.0.0.1:7281") << node.node_id;
    EXPECT_EQ(node.key_values.at(std::string(kReadinessKey)).value,
              node.node_id == "node-3" ? kReadyValue : kNotReadyValue)
        << node.node_id;
    EXPECT_EQ(node.is_self, node.node_id == "node-1") << node.node_id;
    EXPECT_FALSE(node.gossip_advertise_addr.empty()) << node.node_id;
  }
  // Deleting a key propagates too.
  ASSERT_TRUE(nodes_[2]->DeleteSelfKey("indexing_task:logs").ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const ClusterNode& node : nodes_[1]->LiveNodes()) {
          if (node.node_id == "node-3") return node.key_values.count("indexing_task:logs") == 0;
        }
        return false;
      },
      kConvergeTimeout));
  EXPECT_TRUE(WaitFor([&] { return nodes_[0]->DeadNodes().empty(); }, kConvergeTimeout));
  EXPECT_EQ(nodes_[0]->Snapshot().stats.dropped_malformed, 0u);
}

TEST_F(ClusterMembershipTest, StoppedNodeIsSeenDeadAndRestartedNodeRejoins) {
  StartCluster(3);
  ASSERT_TRUE(WaitFor([&] { return AllSeeLive(all_ids_); }, kConvergeTimeout));
  ChangeLog changes;
  nodes_[0]->Subscribe([&changes](const ClusterChange& change) { changes.Record(change); });
  uint64_t first_generation = 0;
  for (const ClusterNode& node : nodes_[2]->LiveNodes()) {
    if (node.is_self) first_generation = node.generation;
  }
  ASSERT_GT(first_generation, 0u);

  // A stopped node: dead for the others within a few gossip intervals.
  nodes_[2]->Stop();
  nodes_[2].reset();
  const Stopwatch stopwatch;
  const std::vector<std::string> survivors = {"node-1", "node-2"};
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i : {0, 1}) {
          if (Ids(nodes_[i]->DeadNodes()) != std::vector<std::string>{"node-3"} ||
              Ids(nodes_[i]->LiveNodes()) != survivors) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(10)));
  const double detection_secs = static_cast<double>(stopwatch.ElapsedMicros()) / 1e6;
  std::printf("stopped node seen dead by both peers after %.2f s (gossip interval %lld ms)\n",
              detection_secs, static_cast<long long>(kGossipInterval.count()));
  // Subscribers hear of it on the gossip thread, just after the state changed.
  EXPECT_TRUE(WaitFor([&] { return changes.Count(ClusterChange::Kind::kRemoved, "node-3") >= 1; },
                      kConvergeTimeout));

  // The same node id restarted (a new process: a new generation and port) rejoins.
  nodes_[2] = StartNode(Options("node-3", {seed_}));
  ASSERT_TRUE(WaitFor([&] { return AllSeeLive(all_ids_) && nodes_[0]->DeadNodes().empty(); },
                      kConvergeTimeout));
  for (const ClusterNode& node : nodes_[0]->Snapshot().nodes) {
    if (node.node_id == "node-3") {
      EXPECT_GT(node.generation, first_generation);
    }
  }
  EXPECT_TRUE(WaitFor([&] { return changes.Count(ClusterChange::Kind::kAdded, "node-3") >= 1; },
                      kConvergeTimeout));
}

TEST_F(ClusterMembershipTest, GracefulStopPublishesNotReadyAtOnce) {
  // Slow gossip: the failure detector needs about 3.6 intervals (1.8 s) to declare a death.
  StartCluster(2, milliseconds(500));
  nodes_[1]->SetReady(true);
  auto node2_ready = [&] {
    for (const ClusterNode& node : nodes_[0]->LiveNodes()) {
      if (node.node_id == "node-2") return node.is_ready;
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(node2_ready, kConvergeTimeout));
  nodes_[1]->Stop();
  // Well before the failure detector could tell (node-2 still alive), node-2 is no longer ready.
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const ClusterNode& node : nodes_[0]->LiveNodes()) {
          if (node.node_id == "node-2") return !node.is_ready;
        }
        return false;
      },
      milliseconds(1000)));
}

TEST_F(ClusterMembershipTest, ClustersWithDifferentIdsNeverMix) {
  StartCluster(2);
  std::unique_ptr<ClusterMembership> stranger =
      StartNode(Options("stranger", {seed_}, "another-cluster"));
  ASSERT_TRUE(WaitFor([&] { return AllSeeLive(all_ids_); }, kConvergeTimeout));
  ASSERT_TRUE(WaitFor([&] { return nodes_[0]->Snapshot().stats.dropped_wrong_cluster >= 5; },
                      kConvergeTimeout));
  // Neither side ever learnt of the other, alive or dead.
  EXPECT_EQ(Ids(nodes_[0]->Snapshot().nodes), all_ids_);
  EXPECT_EQ(Ids(nodes_[1]->Snapshot().nodes), all_ids_);
  EXPECT_EQ(Ids(stranger->Snapshot().nodes), std::vector<std::string>{"stranger"});
}

TEST_F(ClusterMembershipTest, SeedsMayBeHostNames) {
  nodes_.push_back(StartNode(Options("node-1", {})));
  const std::string address = nodes_[0]->gossip_advertise_addr();
  const std::string port = address.substr(address.rfind(':') + 1);
  // `localhost` may also resolve to ::1, which an IPv4 socket cannot reach: it is skipped.
  nodes_.push_back(StartNode(Options("node-2", {"localhost:" + port})));
  all_ids_ = {"node-1", "node-2"};
  ASSERT_TRUE(WaitFor([&] { return AllSeeLive(all_ids_); }, kConvergeTimeout));
  EXPECT_EQ(nodes_[1]->Snapshot().seed_addrs, std::vector<std::string>{"127.0.0.1:" + port});
  EXPECT_EQ(nodes_[1]->Snapshot().stats.send_errors, 0u);
}

TEST_F(ClusterMembershipTest, RejectsBadOptionsAndKeys) {
  ClusterMembershipOptions bad_seed = Options("node-x", {"127.0.0.1:99999"});
  absl::Status status = NewGossipMembership(bad_seed)->Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("peer_seeds"), std::string_view::npos) << status;

  ClusterMembershipOptions no_id = Options("", {});
  EXPECT_EQ(NewGossipMembership(no_id)->Start().code(), absl::StatusCode::kInvalidArgument);

  std::unique_ptr<ClusterMembership> node = StartNode(Options("node-x", {}));
  // The same port twice: the second cannot bind.
  ClusterMembershipOptions same_port = Options("node-y", {});
  same_port.listen_port = static_cast<uint16_t>(std::stoi(
      node->gossip_advertise_addr().substr(node->gossip_advertise_addr().rfind(':') + 1)));
  status = NewGossipMembership(same_port)->Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;

  EXPECT_EQ(node->SetSelfKey("", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(node->SetSelfKey(kReadinessKey, "READY").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(node->SetSelfKey("big", std::string(2000, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(node->SetSelfKey("fits", std::string(1000, 'x')).ok());
  EXPECT_FALSE(node->IsReady());
  node->SetReady(true);
  EXPECT_TRUE(node->IsReady());
}

}  // namespace
}  // namespace shale::cluster
