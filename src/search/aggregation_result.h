// Final, Elasticsearch-shaped rendering of merged aggregation results.
//
// Terms: buckets with doc_count >= min_doc_count, ordered by `order` (count descending, ties by
// key ascending, by default), the first `size` kept; `sum_other_doc_count` counts the docs of the
// dropped buckets and `doc_count_error_upper_bound` is 0 (intermediate results are exact).
// Histograms: with min_doc_count 0, empty buckets are filled between the lowest and highest
// bucket, widened by extended_bounds; date_histogram keys are epoch millis with `key_as_string`.
// Range: one bucket per requested range, in request order, keyed "from-to" ("*" when open)
// unless a key is given. Metrics: `value` (null when no value was seen, except sum and
// value_count); stats: count, min, max, avg, sum.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "index/aggregation.h"
#include "nlohmann/json.hpp"

namespace shale::search {

// InvalidArgument "aggregation exceeds 65000 buckets" when the rendered result (empty histogram
// buckets filled, nested buckets included) holds more than index::kMaxAggregationBuckets buckets.
absl::StatusOr<nlohmann::json> FinalizeAggregations(
    const std::vector<index::AggregationSpec>& specs, const index::IntermediateAggs& aggs);

// RFC 3339 UTC rendering of epoch milliseconds: `2015-01-01T00:00:00Z`, with `.mmm` when the
// milliseconds are not zero.
std::string FormatEpochMillis(int64_t millis);

}  // namespace shale::search
