// Aggregation collection on one split: feeds the fast field values of the matching docs to the
// aggregations of a request and returns their intermediate results (index/aggregation.h), cut
// off per split (CutOffAggs). Private to index/; SplitReader::Search and SplitReader::Aggregate
// call it.
//
// The collector reads the split only through AggSplitAccess, so it does not depend on the split
// reader's internals. Each aggregation of each bucket is one collector object holding the state
// of that bucket (counts keyed by raw fast field values, metric partials, sketches); values are
// turned into typed keys (AggKey) once per distinct value, when the split's result is built.
//
// Cost: per matching doc and aggregation, one pass over the doc's values of the field, a hash
// lookup per distinct bucket key; text terms are copied once per distinct term kept.
// Memory is charged to an AggregationMemoryBudget (per request), bucket creation to the 65,000
// bucket limit.
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
#include "index/query.h"

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
  // The docs matching `query` (filter and filters aggregations), without any time filter.
  virtual absl::StatusOr<DocSet> FilterDocs(const Query& query) const = 0;
  // The stored JSON of `doc` (top_hits).
  virtual absl::StatusOr<std::string> FetchSource(uint32_t doc) const = 0;
};

// Collects `request` over the docs of `matches`. Returns one IntermediateAgg per requested
// aggregation, in request order. InvalidArgument when an aggregated field is not fast (naming
// field and aggregation), when a filter aggregation has no bound query, when the result holds
// more than kMaxAggregationBuckets buckets, or when `budget` (a default-sized one when null) is
// exceeded. Does not take ownership of `budget`.
absl::StatusOr<IntermediateAggs> CollectAggregations(const AggSplitAccess& split,
                                                     const DocSet& matches,
                                                     const AggregationRequest& request,
                                                     AggregationMemoryBudget* budget);

}  // namespace shale::index::internal
