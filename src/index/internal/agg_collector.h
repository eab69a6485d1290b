// Aggregation collection on one split: feeds the fast field values of the matching docs to the
// aggregations of a request and returns their intermediate results (index/aggregation.h).
// Private to index/; SplitReader::Search and SplitReader::Aggregate call it.
//
// The collector reads the split only through AggSplitAccess, so it does not depend on the split
// reader's internals.
//
// Thread safety: CollectAggregations keeps its state on the stack; it may run concurrently for
// different requests on the same split when `split` is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "index/aggregation.h"
#include "index/internal/doc_set.h"
#include "index/internal/fast_column.h"

namespace shale::index::internal {

// What the collector needs of a split.
class AggSplitAccess {
 public:
  virtual ~AggSplitAccess() = default;

  // Number of docs of the split: doc ids are below it.
  virtual uint32_t max_doc() const = 0;
  // The fast field columns at `path` (one per type the field holds in the split). Empty when the
  // split has no field at `path`. InvalidArgument naming the field when it exists but none of its
  // entries is fast; DataLoss when a column is corrupt.
  virtual absl::StatusOr<std::vector<std::shared_ptr<const Column>>> FastColumns(
      const std::string& path) const = 0;
};

// Collects `request` over the docs of `matches`. Returns one IntermediateAgg per requested
// aggregation, in request order. InvalidArgument when an aggregated field is not fast (naming
// field and aggregation) or when the result holds more than kMaxAggregationBuckets buckets.
absl::StatusOr<IntermediateAggs> CollectAggregations(const AggSplitAccess& split,
                                                     const DocSet& matches,
                                                     const AggregationRequest& request);

}  // namespace shale::index::internal
