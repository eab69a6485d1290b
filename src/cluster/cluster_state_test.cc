#include "cluster/cluster_state.h"

#include <random>

#include "gtest/gtest.h"

namespace shale::cluster {
namespace {

constexpr size_t kRoomy = 64 * 1024;

bool ShareAll(const NodeState&) { return true; }

// One Scuttlebutt round from `a` to `b` with `budget` bytes per message: Syn (a's digest),
// SynAck (b's digest and delta), Ack (a's delta).
void Exchange(ClusterState& a, ClusterState& b, size_t budget, std::mt19937_64& rng) {
  const Digest syn = a.MakeDigest(budget, rng);
  const Digest syn_ack_digest = b.MakeDigest(budget / 2, rng);
  const Delta syn_ack_delta = b.MakeDelta(syn, budget - EncodedSize(syn_ack_digest), ShareAll, rng);
  a.ApplyDelta(syn_ack_delta);
  b.ApplyDelta(a.MakeDelta(syn_ack_digest, budget, ShareAll, rng));
}

std::map<std::string, std::string> LiveKeys(const NodeState& node) {
  std::map<std::string, std::string> keys;
  for (const auto& [key, value] : node.key_values) {
    if (!value.deleted) keys[key] = value.value;
  }
  return keys;
}

// Same nodes, generations, heartbeats, versions and live keys.
void ExpectSameView(const ClusterState& a, const ClusterState& b) {
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (const auto& [node_id, node] : a.nodes()) {
    const NodeState* other = b.Find(node_id);
    ASSERT_NE(other, nullptr) << node_id;
    EXPECT_EQ(other->generation, node.generation) << node_id;
    EXPECT_EQ(other->heartbeat, node.heartbeat) << node_id;
    EXPECT_EQ(other->max_version, node.max_version) << node_id;
    EXPECT_EQ(LiveKeys(*other), LiveKeys(node)) << node_id;
  }
}

TEST(ClusterStateTest, SelfKeysTakeTheNextVersion) {
  ClusterState state("node-a", 7);
  EXPECT_TRUE(state.SetSelfKey("grpc_advertise_addr", "10.0.0.1:7281"));
  EXPECT_FALSE(state.SetSelfKey("grpc_advertise_addr", "10.0.0.1:7281"));  // unchanged
  EXPECT_TRUE(state.SetSelfKey("readiness", "READY"));
  EXPECT_TRUE(state.SetSelfKey("grpc_advertise_addr", "10.0.0.2:7281"));
  EXPECT_EQ(state.self().max_version, 3u);
  EXPECT_EQ(state.self().key_values.at("grpc_advertise_addr").version, 3u);
  EXPECT_TRUE(state.DeleteSelfKey("readiness"));
  EXPECT_FALSE(state.DeleteSelfKey("readiness"));
  EXPECT_FALSE(state.DeleteSelfKey("missing"));
  EXPECT_EQ(state.self().Get("readiness"), nullptr);
  EXPECT_EQ(state.self().max_version, 4u);
  EXPECT_TRUE(state.SetSelfKey("readiness", "READY"));  // a tombstone can be written again
  EXPECT_EQ(*state.self().Get("readiness"), "READY");
}

TEST(ClusterStateTest, OneExchangeReconcilesTwoNodesBothWays) {
  std::mt19937_64 rng(1);
  ClusterState a("node-a", 1);
  ClusterState b("node-b", 2);
  a.SetSelfKey("enabled_services", "searcher");
  b.SetSelfKey("enabled_services", "indexer,metastore");
  b.SetSelfKey("temporary", "x");
  b.DeleteSelfKey("temporary");
  a.BumpSelfHeartbeat();
  b.BumpSelfHeartbeat();
  Exchange(a, b, kRoomy, rng);
  ExpectSameView(a, b);
  EXPECT_EQ(*a.Find("node-b")->Get("enabled_services"), "indexer,metastore");
  EXPECT_EQ(a.Find("node-b")->Get("temporary"), nullptr);
  EXPECT_TRUE(a.Find("node-b")->key_values.at("temporary").deleted);  // the tombstone travelled

  // Nothing new: the next deltas are empty.
  const Digest digest = a.MakeDigest(kRoomy, rng);
  EXPECT_TRUE(b.MakeDelta(digest, kRoomy, ShareAll, rng).nodes.empty());

  // A heartbeat alone is news.
  b.BumpSelfHeartbeat();
  const Delta heartbeat_only = b.MakeDelta(a.MakeDigest(kRoomy, rng), kRoomy, ShareAll, rng);
  ASSERT_EQ(heartbeat_only.nodes.size(), 1u);
  EXPECT_TRUE(heartbeat_only.nodes[0].updates.empty());
  const ApplyOutcome outcome = a.ApplyDelta(heartbeat_only);
  EXPECT_EQ(outcome.heartbeat_advanced, std::vector<std::string>{"node-b"});
  EXPECT_TRUE(outcome.keys_changed.empty());
}

// Gossip spreads state transitively: a node learns of nodes it never talked to.
TEST(ClusterStateTest, StateSpreadsThroughIntermediaries) {
  std::mt19937_64 rng(2);
  ClusterState a("node-a", 1);
  ClusterState b("node-b", 1);
  ClusterState c("node-c", 1);
  c.SetSelfKey("rest_advertise_addr", "127.0.0.3:7280");
  Exchange(b, c, kRoomy, rng);
  Exchange(a, b, kRoomy, rng);
  ASSERT_NE(a.Find("node-c"), nullptr);
  EXPECT_EQ(*a.Find("node-c")->Get("rest_advertise_addr"), "127.0.0.3:7280");
}

// A node state far larger than a datagram still converges, a prefix of versions per round, and
// no message exceeds the budget.
TEST(ClusterStateTest, LargeStatesConvergeAcrossRoundsWithinTheBudget) {
  std::mt19937_64 rng(3);
  constexpr size_t kBudget = 300;
  ClusterState a("node-a", 1);
  ClusterState b("node-b", 1);
  for (int i = 0; i < 60; ++i) {
    b.SetSelfKey("indexing_task:" + std::to_string(i), std::string(20 + i % 7, 'v'));
    a.SetSelfKey("split_cache:" + std::to_string(i), std::string(10, 'w'));
  }
  for (int i = 0; i < 60; i += 3) b.DeleteSelfKey("indexing_task:" + std::to_string(i));
  int rounds = 0;
  while (rounds < 100 &&
         (a.Find("node-b") == nullptr || a.Find("node-b")->max_version != b.self().max_version ||
          b.Find("node-a") == nullptr || b.Find("node-a")->max_version != a.self().max_version)) {
    const Digest syn = a.MakeDigest(kBudget, rng);
    ASSERT_LE(EncodedSize(syn), kBudget);
    const Delta delta = b.MakeDelta(syn, kBudget, ShareAll, rng);
    ASSERT_LE(
        EncodeGossipMessage(GossipMessage{GossipMessageType::kAck, "", "b", 1, {}, delta}).size(),
        kBudget + EncodedHeaderSize("", "b", 1));
    a.ApplyDelta(delta);
    Exchange(b, a, kBudget, rng);
    ++rounds;
  }
  EXPECT_GT(rounds, 3);  // it did take several rounds
  ExpectSameView(a, b);
}

// Digests of many nodes that exceed the budget cover a slice of the ids; every node still
// reaches everyone.
TEST(ClusterStateTest, PartialDigestsOfManyNodesStillConverge) {
  std::mt19937_64 rng(4);
  constexpr size_t kBudget = 200;
  constexpr int kNodes = 40;
  std::vector<ClusterState> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back("node-" + std::to_string(100 + i), 1);
    nodes.back().SetSelfKey("enabled_services", "searcher");
  }
  const Digest digest = nodes[0].MakeDigest(kBudget, rng);
  EXPECT_LE(EncodedSize(digest), kBudget);
  int round = 0;
  auto converged = [&] {
    for (const ClusterState& node : nodes) {
      if (node.nodes().size() != kNodes) return false;
    }
    return true;
  };
  while (round < 5000 && !converged()) {
    const size_t from = rng() % kNodes;
    const size_t to = (from + 1 + rng() % (kNodes - 1)) % kNodes;
    Exchange(nodes[from], nodes[to], kBudget, rng);
    ++round;
  }
  ASSERT_TRUE(converged()) << "after " << round << " exchanges";
  // Digest of the full cluster no longer fits: it covered a slice.
  const Digest slice = nodes[0].MakeDigest(kBudget, rng);
  EXPECT_LT(slice.entries.size(), static_cast<size_t>(kNodes));
  EXPECT_FALSE(slice.range_begin.empty() && slice.range_end.empty());
  for (const DigestEntry& entry : slice.entries) EXPECT_TRUE(slice.Covers(entry.node_id));
}

TEST(ClusterStateTest, NewerGenerationReplacesOlderIsIgnored) {
  std::mt19937_64 rng(5);
  ClusterState observer("observer", 1);
  ClusterState old_incarnation("node-x", 100);
  old_incarnation.SetSelfKey("stale_key", "1");
  old_incarnation.SetSelfKey("readiness", "READY");
  Exchange(observer, old_incarnation, kRoomy, rng);
  ASSERT_EQ(observer.Find("node-x")->generation, 100u);

  ClusterState new_incarnation("node-x", 200);
  new_incarnation.SetSelfKey("readiness", "NOT_READY");
  const ApplyOutcome restarted = observer.ApplyDelta(
      new_incarnation.MakeDelta(observer.MakeDigest(kRoomy, rng), kRoomy, ShareAll, rng));
  EXPECT_EQ(restarted.restarted, std::vector<std::string>{"node-x"});
  const NodeState* x = observer.Find("node-x");
  EXPECT_EQ(x->generation, 200u);
  EXPECT_EQ(x->Get("stale_key"), nullptr);  // nothing of generation 100 survives
  EXPECT_EQ(*x->Get("readiness"), "NOT_READY");

  // Gossip still carrying generation 100 changes nothing.
  old_incarnation.SetSelfKey("late", "news");
  Digest knows_nothing;
  const ApplyOutcome ignored =
      observer.ApplyDelta(old_incarnation.MakeDelta(knows_nothing, kRoomy, ShareAll, rng));
  EXPECT_EQ(ignored.num_ignored, 2u);  // node-x of generation 100, and the observer itself
  EXPECT_EQ(observer.Find("node-x")->generation, 200u);
  EXPECT_EQ(observer.Find("node-x")->Get("late"), nullptr);

  // And a node that knows generation 200 does not send it to a peer that knows a newer one.
  Digest newer;
  newer.entries.push_back({"node-x", 300, 0, 0});
  for (const NodeDelta& node : observer.MakeDelta(newer, kRoomy, ShareAll, rng).nodes) {
    EXPECT_NE(node.node_id, "node-x");
  }
}

TEST(ClusterStateTest, ForgottenNodesAreNotResurrectedByStaleGossip) {
  std::mt19937_64 rng(6);
  ClusterState observer("observer", 1);
  ClusterState gone("node-gone", 50);
  gone.BumpSelfHeartbeat();
  Exchange(observer, gone, kRoomy, rng);
  const auto now = ClusterState::Clock::now();
  observer.Forget("node-gone", now);
  EXPECT_EQ(observer.Find("node-gone"), nullptr);

  Digest knows_nothing;
  gone.BumpSelfHeartbeat();
  const ApplyOutcome stale =
      observer.ApplyDelta(gone.MakeDelta(knows_nothing, kRoomy, ShareAll, rng));
  EXPECT_EQ(stale.num_ignored, 2u);  // the forgotten node, and the observer itself
  EXPECT_EQ(observer.Find("node-gone"), nullptr);

  // Once the memory expires, or with a new generation, the node comes back.
  ClusterState reborn("node-gone", 51);
  const ApplyOutcome back =
      observer.ApplyDelta(reborn.MakeDelta(knows_nothing, kRoomy, ShareAll, rng));
  EXPECT_EQ(back.added, std::vector<std::string>{"node-gone"});
  observer.Forget("node-gone", now);
  observer.ExpireForgotten(now + std::chrono::seconds(1));
  EXPECT_EQ(observer.num_forgotten(), 0u);
  EXPECT_EQ(observer.ApplyDelta(gone.MakeDelta(knows_nothing, kRoomy, ShareAll, rng)).added.size(),
            1u);
}

TEST(ClusterStateTest, NodesNotSharedAreLeftOutOfDeltas) {
  std::mt19937_64 rng(7);
  ClusterState a("node-a", 1);
  ClusterState b("node-b", 1);
  ClusterState c("node-c", 1);
  Exchange(a, b, kRoomy, rng);
  Exchange(a, c, kRoomy, rng);
  ClusterState newcomer("node-d", 1);
  const Delta delta = a.MakeDelta(
      newcomer.MakeDigest(kRoomy, rng), kRoomy,
      [](const NodeState& node) { return node.node_id != "node-c"; }, rng);
  std::vector<std::string> sent;
  for (const NodeDelta& node : delta.nodes) sent.push_back(node.node_id);
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<std::string>{"node-a", "node-b"}));
}

TEST(ClusterStateTest, DeltasWithAGapOrOutOfOrderVersionsAreNotMerged) {
  ClusterState observer("observer", 1);
  NodeDelta first{"node-y", 5, 1, 0, {{"k1", "v1", 1, false}, {"k2", "v2", 2, false}}};
  observer.ApplyDelta(Delta{{first}});
  ASSERT_EQ(observer.Find("node-y")->max_version, 2u);

  // From version 4 while we hold 2: versions 3..4 would be missing. Only the heartbeat counts.
  NodeDelta gap{"node-y", 5, 9, 4, {{"k5", "v5", 5, false}}};
  const ApplyOutcome gap_outcome = observer.ApplyDelta(Delta{{gap}});
  EXPECT_EQ(gap_outcome.heartbeat_advanced, std::vector<std::string>{"node-y"});
  EXPECT_TRUE(gap_outcome.keys_changed.empty());
  EXPECT_EQ(observer.Find("node-y")->max_version, 2u);
  EXPECT_EQ(observer.Find("node-y")->Get("k5"), nullptr);

  // Versions going down mid-delta: what follows is dropped.
  NodeDelta unordered{"node-y",
                      5,
                      10,
                      2,
                      {{"k3", "v3", 3, false}, {"k1", "bad", 1, false}, {"k4", "v4", 4, false}}};
  observer.ApplyDelta(Delta{{unordered}});
  EXPECT_EQ(observer.Find("node-y")->max_version, 3u);
  EXPECT_EQ(*observer.Find("node-y")->Get("k1"), "v1");
  EXPECT_EQ(observer.Find("node-y")->Get("k4"), nullptr);

  // A delta about ourselves is never merged.
  const ApplyOutcome about_self =
      observer.ApplyDelta(Delta{{NodeDelta{"observer", 99, 99, 0, {{"evil", "1", 1, false}}}}});
  EXPECT_EQ(about_self.num_ignored, 1u);
  EXPECT_EQ(observer.self().Get("evil"), nullptr);
}

}  // namespace
}  // namespace shale::cluster
