// Merge policies: which published splits of one merge scope to merge together, and when a split
// becomes mature (never merged again). Pure functions of the split metadata and the clock, with
// Quickwit's config keys (`indexing_settings.merge_policy`, docs/merges.md):
//
// - `stable_log` (default): immature splits are grouped in levels of similar doc counts (a
//   level spans from its smallest split to 3 times that, the first level at least
//   `min_level_num_docs`); within a level, splits in time order are merged by groups of
//   `merge_factor` to `max_merge_factor`, or fewer when they reach `split_num_docs_target`.
// - `limit_merge` (alias `const_write_amplification`): the same batching among splits that
//   went through the same number of merges; a split that went through `max_merge_ops` merges
//   is mature, so every document is rewritten at most `max_merge_ops` times.
// - `no_merge`: nothing merges; every split is mature at birth.
//
// A split is mature once `maturation_period` has passed since its creation, or once it holds
// `split_num_docs_target` docs; mature splits are never merged again.
//
// Thread safety: policies are immutable after construction.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "config/index_config.h"
#include "index/split_format.h"
#include "metastore/metastore.h"

namespace shale::indexing {

// Splits merge only with splits of the same scope. (One index has one doc mapping for its
// lifetime here, so the index uid stands for Quickwit's doc mapping uid.)
struct MergeScope {
  std::string index_uid;
  std::string source_id;
  std::string partition_id;
  std::string node_id;

  bool operator<(const MergeScope& other) const {
    return std::tie(index_uid, source_id, partition_id, node_id) <
           std::tie(other.index_uid, other.source_id, other.partition_id, other.node_id);
  }
  bool operator==(const MergeScope& other) const = default;
};

MergeScope ScopeOf(const metastore::SplitMetadata& split);

// One merge: its input splits, in the order their documents go into the merged split.
struct MergeOperation {
  std::vector<metastore::SplitMetadata> splits;

  // max(num_merge_ops of the inputs) + 1: the merged split's num_merge_ops.
  uint32_t MergedNumMergeOps() const;
  uint64_t NumDocs() const;
};

class MergePolicy {
 public:
  virtual ~MergePolicy() = default;

  // The merges to run now among `splits`, the published splits of ONE scope. No split is in
  // two operations and mature splits (IsMature at `now_secs`) are in none. Deterministic.
  virtual std::vector<MergeOperation> Operations(std::vector<metastore::SplitMetadata> splits,
                                                 int64_t now_secs) const = 0;
  // Unix seconds from which a split holding `num_docs` docs after `num_merge_ops` merges,
  // created at `create_timestamp`, is mature.
  virtual int64_t MaturityTimestamp(uint64_t num_docs, uint32_t num_merge_ops,
                                    int64_t create_timestamp) const = 0;
  // True when `split` must not be merged any more at `now_secs`: its recorded maturity has come,
  // or, with the current settings, it would be mature at birth.
  virtual bool IsMature(const metastore::SplitMetadata& split, int64_t now_secs) const = 0;
};

// The policy of `settings.merge_policy` (type already validated by the config parser; an
// unknown type falls back to stable_log).
std::unique_ptr<MergePolicy> NewMergePolicy(const config::IndexingSettings& settings);

// The metastore record of a split just built for `scope` (a fresh ULID split id, its counts, time
// range in seconds, tags, footer range), created at `now_secs` after `num_merge_ops` merges, with
// its maturity under the merge policy of `settings`.
metastore::SplitMetadata NewSplitMetadata(const index::SerializedSplit& split,
                                          const MergeScope& scope,
                                          const config::IndexingSettings& settings,
                                          uint32_t num_merge_ops, int64_t now_secs);

// Published splits grouped by scope. Splits in other states are ignored.
std::map<MergeScope, std::vector<metastore::SplitMetadata>> GroupByScope(
    const std::vector<metastore::Split>& splits);

}  // namespace shale::indexing
