#include "cluster/rendezvous.h"

#include <map>

#include "gtest/gtest.h"

namespace shale::cluster {
namespace {

std::vector<std::string> Nodes(int count) {
  std::vector<std::string> nodes;
  for (int i = 0; i < count; ++i) nodes.push_back("searcher-" + std::to_string(i));
  return nodes;
}

std::string SplitId(int i) { return "01HZYB6Q1M1T8W0V9J3K2N" + std::to_string(10000 + i); }

TEST(RendezvousTest, OrderIsAPermutationIndependentOfInputOrder) {
  std::vector<std::string> nodes = Nodes(5);
  const std::vector<std::string> order = RendezvousOrder("split-a", nodes);
  std::vector<std::string> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, nodes);
  std::reverse(nodes.begin(), nodes.end());
  EXPECT_EQ(RendezvousOrder("split-a", nodes), order);
  EXPECT_TRUE(RendezvousOrder("split-a", {}).empty());
}

TEST(RendezvousTest, KeysSpreadEvenlyOverNodes) {
  constexpr int kSplits = 10'000;
  constexpr int kNodes = 5;
  std::map<std::string, int> load;
  for (int i = 0; i < kSplits; ++i) load[RendezvousOrder(SplitId(i), Nodes(kNodes)).front()]++;
  ASSERT_EQ(load.size(), static_cast<size_t>(kNodes));
  for (const auto& [node, count] : load) {
    EXPECT_NEAR(count, kSplits / kNodes, kSplits / kNodes / 10) << node;  // within 10%
  }
}

// A node leaving moves only the keys it served (about 1/n), each to the next node in its order;
// read backwards, a node joining takes about 1/n of the keys and moves no others.
TEST(RendezvousTest, ChurnMovesOnlyTheKeysOfTheChangedNode) {
  constexpr int kSplits = 5'000;
  const std::vector<std::string> five = Nodes(5);
  std::vector<std::string> four = five;
  four.erase(four.begin() + 2);  // searcher-2 leaves
  int moved = 0;
  for (int i = 0; i < kSplits; ++i) {
    const std::vector<std::string> before = RendezvousOrder(SplitId(i), five);
    const std::vector<std::string> after = RendezvousOrder(SplitId(i), four);
    if (before.front() == "searcher-2") {
      EXPECT_EQ(after.front(), before[1]) << SplitId(i);  // the retry target takes over
    } else {
      EXPECT_EQ(after.front(), before.front()) << SplitId(i);
    }
    moved += before.front() != after.front() ? 1 : 0;
  }
  EXPECT_NEAR(moved, kSplits / 5, kSplits / 5 / 5);
}

TEST(RendezvousTest, ScoresSeparateKeyAndNodeBoundaries) {
  EXPECT_NE(RendezvousScore("ab", "c"), RendezvousScore("a", "bc"));
  EXPECT_EQ(RendezvousScore("split", "node"), RendezvousScore("split", "node"));
}

}  // namespace
}  // namespace shale::cluster
