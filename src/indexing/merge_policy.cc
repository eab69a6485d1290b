#include "indexing/merge_policy.h"

#include <algorithm>
#include <utility>

#include "common/time_util.h"
#include "common/ulid.h"

namespace shale::indexing {
namespace {

using metastore::SplitMetadata;

// Time order inside a level or a merge-ops group: splits covering earlier data first (splits
// without a time range before all others), then creation order (split ids are ULIDs).
bool EarlierInTime(const SplitMetadata& a, const SplitMetadata& b) {
  const auto key = [](const SplitMetadata& split) {
    return std::make_tuple(
        split.time_range_start_secs.has_value(), split.time_range_start_secs.value_or(0),
        split.time_range_end_secs.value_or(0), split.create_timestamp, std::cref(split.split_id));
  };
  return key(a) < key(b);
}

// Cuts `candidates` (time-ordered) into merges: each takes the next splits until it holds
// `max_merge_factor` splits or `split_num_docs_target` docs; it runs when it has at least
// `merge_factor` splits, or at least two reaching the target (the result is then mature).
// Leftovers wait for more splits.
void BatchMerges(const std::vector<SplitMetadata>& candidates,
                 const config::MergePolicyConfig& config, uint64_t split_num_docs_target,
                 std::vector<MergeOperation>& out) {
  size_t start = 0;
  while (start < candidates.size()) {
    MergeOperation operation;
    uint64_t num_docs = 0;
    size_t end = start;
    while (end < candidates.size() && operation.splits.size() < config.max_merge_factor &&
           num_docs < split_num_docs_target) {
      num_docs += candidates[end].num_docs;
      operation.splits.push_back(candidates[end]);
      ++end;
    }
    const bool enough_splits = operation.splits.size() >= config.merge_factor;
    const bool reaches_target = operation.splits.size() >= 2 && num_docs >= split_num_docs_target;
    if (!enough_splits && !reaches_target) return;
    out.push_back(std::move(operation));
    start = end;
  }
}

class PolicyBase : public MergePolicy {
 public:
  explicit PolicyBase(const config::IndexingSettings& settings)
      : config_(settings.merge_policy), split_num_docs_target_(settings.split_num_docs_target) {}

  int64_t MaturityTimestamp(uint64_t num_docs, uint32_t num_merge_ops,
                            int64_t create_timestamp) const override {
    if (MatureAtBirth(num_docs, num_merge_ops)) return create_timestamp;
    return create_timestamp + config_.maturation_period_secs;
  }

  bool IsMature(const SplitMetadata& split, int64_t now_secs) const override {
    return split.maturity_timestamp <= now_secs ||
           MatureAtBirth(split.num_docs, split.num_merge_ops);
  }

 protected:
  // True for splits the policy never merges whatever their age.
  virtual bool MatureAtBirth(uint64_t num_docs, uint32_t num_merge_ops) const {
    (void)num_merge_ops;
    return num_docs >= split_num_docs_target_;
  }

  // The immature splits of `splits` at `now_secs`.
  std::vector<SplitMetadata> Immature(std::vector<SplitMetadata> splits, int64_t now_secs) const {
    std::erase_if(splits, [&](const SplitMetadata& split) { return IsMature(split, now_secs); });
    return splits;
  }

  const config::MergePolicyConfig config_;
  const uint64_t split_num_docs_target_;
};

class StableLogMergePolicy final : public PolicyBase {
 public:
  using PolicyBase::PolicyBase;

  std::vector<MergeOperation> Operations(std::vector<SplitMetadata> splits,
                                         int64_t now_secs) const override {
    std::vector<SplitMetadata> candidates = Immature(std::move(splits), now_secs);
    std::vector<MergeOperation> operations;
    if (candidates.size() < 2) return operations;
    std::sort(candidates.begin(), candidates.end(),
              [](const SplitMetadata& a, const SplitMetadata& b) {
                if (a.num_docs != b.num_docs) return a.num_docs < b.num_docs;
                return EarlierInTime(a, b);
              });
    // Levels: a split opens a new level when it holds at least 3 times the docs of the level's
    // first split (the first level reaches at least min_level_num_docs).
    size_t level_start = 0;
    uint64_t level_limit =
        std::max<uint64_t>(config_.min_level_num_docs, 3 * candidates.front().num_docs);
    for (size_t i = 0; i <= candidates.size(); ++i) {
      if (i < candidates.size() && candidates[i].num_docs < level_limit) continue;
      std::vector<SplitMetadata> level(
          candidates.begin() + static_cast<std::ptrdiff_t>(level_start),
          candidates.begin() + static_cast<std::ptrdiff_t>(i));
      std::sort(level.begin(), level.end(), EarlierInTime);
      BatchMerges(level, config_, split_num_docs_target_, operations);
      if (i == candidates.size()) break;
      level_start = i;
      level_limit = 3 * candidates[i].num_docs;
    }
    return operations;
  }
};

class LimitMergePolicy final : public PolicyBase {
 public:
  using PolicyBase::PolicyBase;

  std::vector<MergeOperation> Operations(std::vector<SplitMetadata> splits,
                                         int64_t now_secs) const override {
    std::map<uint32_t, std::vector<SplitMetadata>> by_merge_ops;
    for (SplitMetadata& split : Immature(std::move(splits), now_secs)) {
      by_merge_ops[split.num_merge_ops].push_back(std::move(split));
    }
    std::vector<MergeOperation> operations;
    for (auto& [num_merge_ops, group] : by_merge_ops) {
      std::sort(group.begin(), group.end(), EarlierInTime);
      BatchMerges(group, config_, split_num_docs_target_, operations);
    }
    return operations;
  }

 protected:
  bool MatureAtBirth(uint64_t num_docs, uint32_t num_merge_ops) const override {
    return num_docs >= split_num_docs_target_ || num_merge_ops >= config_.max_merge_ops;
  }
};

class NoMergePolicy final : public PolicyBase {
 public:
  using PolicyBase::PolicyBase;

  std::vector<MergeOperation> Operations(std::vector<SplitMetadata>, int64_t) const override {
    return {};
  }

 protected:
  bool MatureAtBirth(uint64_t, uint32_t) const override { return true; }
};

}  // namespace

MergeScope ScopeOf(const metastore::SplitMetadata& split) {
  return MergeScope{split.index_uid, split.source_id, split.partition_id, split.node_id};
}

uint32_t MergeOperation::MergedNumMergeOps() const {
  uint32_t max_ops = 0;
  for (const SplitMetadata& split : splits) max_ops = std::max(max_ops, split.num_merge_ops);
  return max_ops + 1;
}

uint64_t MergeOperation::NumDocs() const {
  uint64_t num_docs = 0;
  for (const SplitMetadata& split : splits) num_docs += split.num_docs;
  return num_docs;
}

std::unique_ptr<MergePolicy> NewMergePolicy(const config::IndexingSettings& settings) {
  const std::string& type = settings.merge_policy.type;
  if (type == "no_merge") return std::make_unique<NoMergePolicy>(settings);
  if (type == "limit_merge") return std::make_unique<LimitMergePolicy>(settings);
  return std::make_unique<StableLogMergePolicy>(settings);
}

metastore::SplitMetadata NewSplitMetadata(const index::SerializedSplit& split,
                                          const MergeScope& scope,
                                          const config::IndexingSettings& settings,
                                          uint32_t num_merge_ops, int64_t now_secs) {
  metastore::SplitMetadata metadata;
  metadata.split_id = NewUlid();
  metadata.index_uid = scope.index_uid;
  metadata.source_id = scope.source_id;
  metadata.partition_id = scope.partition_id;
  metadata.node_id = scope.node_id;
  metadata.num_docs = split.num_docs;
  metadata.uncompressed_docs_size_in_bytes = split.uncompressed_docs_size_in_bytes;
  metadata.split_size_bytes = split.bytes.size();
  if (split.time_range_start_nanos.has_value()) {
    metadata.time_range_start_secs = FloorDiv(*split.time_range_start_nanos, kNanosPerSecond);
  }
  if (split.time_range_end_nanos.has_value()) {
    metadata.time_range_end_secs = FloorDiv(*split.time_range_end_nanos, kNanosPerSecond);
  }
  metadata.tags = split.tags;
  metadata.footer_start = split.footer_start;
  metadata.footer_end = split.footer_end;
  metadata.create_timestamp = now_secs;
  metadata.num_merge_ops = num_merge_ops;
  metadata.maturity_timestamp =
      NewMergePolicy(settings)->MaturityTimestamp(split.num_docs, num_merge_ops, now_secs);
  return metadata;
}

std::map<MergeScope, std::vector<metastore::SplitMetadata>> GroupByScope(
    const std::vector<metastore::Split>& splits) {
  std::map<MergeScope, std::vector<metastore::SplitMetadata>> groups;
  for (const metastore::Split& split : splits) {
    if (split.state != metastore::SplitState::kPublished) continue;
    groups[ScopeOf(split.metadata)].push_back(split.metadata);
  }
  return groups;
}

}  // namespace shale::indexing
