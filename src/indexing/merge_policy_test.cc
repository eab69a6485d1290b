#include "indexing/merge_policy.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace shale::indexing {
namespace {

using metastore::SplitMetadata;

constexpr int64_t kNow = 1'700'000'000;

config::IndexingSettings Settings(std::string type, uint32_t merge_factor,
                                  uint32_t max_merge_factor, uint64_t split_num_docs_target) {
  config::IndexingSettings settings;
  settings.split_num_docs_target = split_num_docs_target;
  settings.merge_policy.type = std::move(type);
  settings.merge_policy.merge_factor = merge_factor;
  settings.merge_policy.max_merge_factor = max_merge_factor;
  settings.merge_policy.min_level_num_docs = 100;
  settings.merge_policy.maturation_period_secs = 3600;
  settings.merge_policy.max_merge_ops = 2;
  return settings;
}

// An immature published split `id` holding `num_docs` docs of hour `hour`.
SplitMetadata Split(std::string id, uint64_t num_docs, int64_t hour = 0,
                    uint32_t num_merge_ops = 0) {
  SplitMetadata split;
  split.split_id = std::move(id);
  split.index_uid = "logs:01";
  split.source_id = "_ingest-api-source";
  split.node_id = "node-1";
  split.num_docs = num_docs;
  split.num_merge_ops = num_merge_ops;
  split.time_range_start_secs = kNow + hour * 3600;
  split.time_range_end_secs = kNow + hour * 3600 + 3599;
  split.create_timestamp = kNow - 10;
  split.maturity_timestamp = kNow + 1000;
  return split;
}

std::vector<std::vector<std::string>> Ids(const std::vector<MergeOperation>& operations) {
  std::vector<std::vector<std::string>> ids;
  for (const MergeOperation& operation : operations) {
    ids.emplace_back();
    for (const SplitMetadata& split : operation.splits) ids.back().push_back(split.split_id);
  }
  return ids;
}

using IdLists = std::vector<std::vector<std::string>>;

TEST(StableLogMergePolicyTest, WaitsForMergeFactorSplits) {
  auto policy = NewMergePolicy(Settings("stable_log", 3, 5, 10'000));
  EXPECT_TRUE(policy->Operations({}, kNow).empty());
  EXPECT_TRUE(policy->Operations({Split("a", 10)}, kNow).empty());
  EXPECT_TRUE(policy->Operations({Split("a", 10), Split("b", 10)}, kNow).empty());
  EXPECT_EQ(Ids(policy->Operations({Split("a", 10), Split("b", 10), Split("c", 10)}, kNow)),
            (IdLists{{"a", "b", "c"}}));
}

TEST(StableLogMergePolicyTest, MergesAtMostMaxMergeFactorSplitsInTimeOrder) {
  auto policy = NewMergePolicy(Settings("stable_log", 3, 5, 10'000));
  std::vector<SplitMetadata> splits;
  // Given out of time order: hour h is split "s<h>".
  for (int hour : {6, 2, 0, 5, 1, 3, 4})
    splits.push_back(Split(fmt::format("s{}", hour), 10, hour));
  EXPECT_EQ(Ids(policy->Operations(splits, kNow)), (IdLists{{"s0", "s1", "s2", "s3", "s4"}}));
  for (int hour : {7, 8, 9}) splits.push_back(Split(fmt::format("s{}", hour), 10, hour));
  EXPECT_EQ(Ids(policy->Operations(splits, kNow)),
            (IdLists{{"s0", "s1", "s2", "s3", "s4"}, {"s5", "s6", "s7", "s8", "s9"}}));
}

TEST(StableLogMergePolicyTest, MergesOnlyWithinALevel) {
  auto policy = NewMergePolicy(Settings("stable_log", 3, 10, 1'000'000));
  // min_level_num_docs 100: the first level is [0, 100); then [150, 450), then [1000, 3000).
  std::vector<SplitMetadata> splits = {
      Split("small1", 10), Split("small2", 99), Split("mid1", 150),  Split("mid2", 300),
      Split("mid3", 449),  Split("big1", 1000), Split("big2", 1500), Split("small3", 50)};
  EXPECT_EQ(Ids(policy->Operations(splits, kNow)),
            (IdLists{{"small1", "small2", "small3"}, {"mid1", "mid2", "mid3"}}));
  // A level holds the splits below 3x its first one: 2999 joins the level of 1000.
  splits.push_back(Split("big3", 2999));
  EXPECT_EQ(Ids(policy->Operations(splits, kNow)), (IdLists{{"small1", "small2", "small3"},
                                                            {"mid1", "mid2", "mid3"},
                                                            {"big1", "big2", "big3"}}));
}

TEST(StableLogMergePolicyTest, MergesFewerSplitsWhenTheyReachTheTarget) {
  auto policy = NewMergePolicy(Settings("stable_log", 10, 12, 1000));
  // Two splits reaching the target merge even below merge_factor (the result is mature).
  EXPECT_EQ(Ids(policy->Operations({Split("a", 600), Split("b", 600)}, kNow)),
            (IdLists{{"a", "b"}}));
  // The batch stops once it reaches the target; the rest waits.
  EXPECT_EQ(
      Ids(policy->Operations(
          {Split("a", 400, 0), Split("b", 400, 1), Split("c", 400, 2), Split("d", 400, 3)}, kNow)),
      (IdLists{{"a", "b", "c"}}));
}

TEST(StableLogMergePolicyTest, MatureSplitsNeverMerge) {
  auto policy = NewMergePolicy(Settings("stable_log", 2, 5, 1000));
  SplitMetadata old = Split("old", 10);
  old.maturity_timestamp = kNow;             // matured right now
  SplitMetadata full = Split("full", 1000);  // reached split_num_docs_target
  EXPECT_TRUE(policy->IsMature(old, kNow));
  EXPECT_TRUE(policy->IsMature(full, kNow));
  EXPECT_FALSE(policy->IsMature(Split("young", 10), kNow));
  EXPECT_TRUE(policy->Operations({old, full, Split("young", 10)}, kNow).empty());
  EXPECT_EQ(Ids(policy->Operations({old, full, Split("y1", 10), Split("y2", 10)}, kNow)),
            (IdLists{{"y1", "y2"}}));
  // Later the young splits mature too.
  EXPECT_TRUE(policy->Operations({Split("y1", 10), Split("y2", 10)}, kNow + 1000).empty());
}

TEST(StableLogMergePolicyTest, MaturityTimestamp) {
  auto policy = NewMergePolicy(Settings("stable_log", 3, 5, 1000));
  EXPECT_EQ(policy->MaturityTimestamp(999, 0, kNow), kNow + 3600);
  EXPECT_EQ(policy->MaturityTimestamp(999, 7, kNow), kNow + 3600);
  EXPECT_EQ(policy->MaturityTimestamp(1000, 0, kNow), kNow);
}

TEST(LimitMergePolicyTest, MergesSplitsOfTheSameMergeCountUpToMaxMergeOps) {
  auto policy = NewMergePolicy(Settings("limit_merge", 3, 4, 1'000'000));
  std::vector<SplitMetadata> splits = {
      Split("a0", 10, 0, 0), Split("b0", 5000, 1, 0), Split("c0", 10, 2, 0), Split("a1", 30, 0, 1),
      Split("b1", 30, 1, 1), Split("c1", 30, 2, 1),   Split("d1", 30, 3, 1), Split("e1", 30, 4, 1),
      Split("a2", 90, 0, 2), Split("b2", 90, 1, 2),   Split("c2", 90, 2, 2)};
  // Sizes do not matter, merge counts do; max_merge_ops 2 makes the *2 splits mature.
  EXPECT_EQ(Ids(policy->Operations(splits, kNow)),
            (IdLists{{"a0", "b0", "c0"}, {"a1", "b1", "c1", "d1"}}));
  EXPECT_TRUE(policy->IsMature(Split("x", 10, 0, 2), kNow));
  EXPECT_FALSE(policy->IsMature(Split("x", 10, 0, 1), kNow));
  EXPECT_EQ(policy->MaturityTimestamp(10, 2, kNow), kNow);
  EXPECT_EQ(policy->MaturityTimestamp(10, 1, kNow), kNow + 3600);
  EXPECT_EQ(policy->MaturityTimestamp(1'000'000, 0, kNow), kNow);
}

TEST(NoMergePolicyTest, NeverMergesAndSplitsAreMatureAtBirth) {
  auto policy = NewMergePolicy(Settings("no_merge", 2, 2, 1000));
  EXPECT_TRUE(policy->Operations({Split("a", 1), Split("b", 1), Split("c", 1)}, kNow).empty());
  EXPECT_EQ(policy->MaturityTimestamp(1, 0, kNow), kNow);
  EXPECT_TRUE(policy->IsMature(Split("a", 1), kNow));
}

TEST(MergeOperationTest, MergedNumMergeOpsAndDocs) {
  MergeOperation operation{{Split("a", 10, 0, 0), Split("b", 20, 0, 3), Split("c", 5, 0, 1)}};
  EXPECT_EQ(operation.MergedNumMergeOps(), 4u);
  EXPECT_EQ(operation.NumDocs(), 35u);
}

TEST(GroupByScopeTest, SeparatesSourcesPartitionsAndNodesAndKeepsPublishedOnly) {
  std::vector<metastore::Split> splits;
  auto add = [&](std::string id, std::string source, std::string partition, std::string node,
                 metastore::SplitState state) {
    metastore::Split split;
    split.metadata = Split(std::move(id), 10);
    split.metadata.source_id = std::move(source);
    split.metadata.partition_id = std::move(partition);
    split.metadata.node_id = std::move(node);
    split.state = state;
    splits.push_back(split);
  };
  add("a", "s1", "0", "n1", metastore::SplitState::kPublished);
  add("b", "s1", "0", "n1", metastore::SplitState::kPublished);
  add("c", "s2", "0", "n1", metastore::SplitState::kPublished);
  add("d", "s1", "1", "n1", metastore::SplitState::kPublished);
  add("e", "s1", "0", "n2", metastore::SplitState::kPublished);
  add("f", "s1", "0", "n1", metastore::SplitState::kStaged);
  add("g", "s1", "0", "n1", metastore::SplitState::kMarkedForDeletion);
  auto groups = GroupByScope(splits);
  ASSERT_EQ(groups.size(), 4u);
  const MergeScope first{"logs:01", "s1", "0", "n1"};
  ASSERT_TRUE(groups.contains(first));
  ASSERT_EQ(groups[first].size(), 2u);
  EXPECT_EQ(groups[first][0].split_id, "a");
  EXPECT_EQ(groups[first][1].split_id, "b");
}

// Random split lists: every operation respects the policy's invariants.
TEST(MergePolicyPropertyTest, OperationsRespectInvariants) {
  std::mt19937_64 rng(42);
  for (const char* type : {"stable_log", "limit_merge"}) {
    for (int round = 0; round < 200; ++round) {
      const uint32_t merge_factor = 2 + static_cast<uint32_t>(rng() % 5);
      const uint32_t max_merge_factor = merge_factor + static_cast<uint32_t>(rng() % 4);
      const uint64_t target = 100 + rng() % 5000;
      const config::IndexingSettings settings =
          Settings(type, merge_factor, max_merge_factor, target);
      auto policy = NewMergePolicy(settings);
      std::vector<SplitMetadata> splits;
      const int num_splits = static_cast<int>(rng() % 40);
      for (int i = 0; i < num_splits; ++i) {
        SplitMetadata split =
            Split(fmt::format("s{:03}", i), 1 + rng() % (target + 200),
                  static_cast<int64_t>(rng() % 24), static_cast<uint32_t>(rng() % 4));
        if (rng() % 5 == 0) split.maturity_timestamp = kNow - 1;
        splits.push_back(split);
      }
      const std::vector<MergeOperation> operations = policy->Operations(splits, kNow);
      EXPECT_EQ(Ids(operations), Ids(policy->Operations(splits, kNow))) << "not deterministic";
      std::set<std::string> seen;
      for (const MergeOperation& operation : operations) {
        ASSERT_GE(operation.splits.size(), 2u);
        EXPECT_LE(operation.splits.size(), max_merge_factor);
        EXPECT_TRUE(operation.splits.size() >= merge_factor || operation.NumDocs() >= target);
        uint64_t smallest = UINT64_MAX;
        uint64_t largest = 0;
        for (const SplitMetadata& split : operation.splits) {
          EXPECT_TRUE(seen.insert(split.split_id).second) << split.split_id << " merged twice";
          EXPECT_FALSE(policy->IsMature(split, kNow)) << split.split_id << " is mature";
          EXPECT_EQ(split.num_merge_ops == operation.splits[0].num_merge_ops ||
                        std::string(type) == "stable_log",
                    true);
          smallest = std::min(smallest, split.num_docs);
          largest = std::max(largest, split.num_docs);
        }
        if (std::string(type) == "stable_log") {
          EXPECT_LT(largest, std::max<uint64_t>(3 * smallest, 100)) << "splits of two levels";
        }
      }
    }
  }
}

}  // namespace
}  // namespace shale::indexing
