// Final, Elasticsearch-shaped rendering of merged aggregation results (Quickwit's shapes where
// the two differ: metric values and date histogram keys are floats).
//
// terms / multi_terms: buckets with doc_count >= min_doc_count, ordered by `order` (count
// descending, ties by key ascending, by default; or key; or a metric sub-aggregation), the first
// `size` kept. `sum_other_doc_count` counts the docs of every bucket not returned (cut off per
// split or leaf, or here), `doc_count_error_upper_bound` is the sum of the per-split / per-leaf
// cut-off errors (0 when nothing was cut off or when ordered by key); with
// `show_term_doc_count_error` each bucket carries its own bound. Keys keep their type: integers
// render as JSON integers, floats as floats, booleans and dates as numbers with `key_as_string`.
// multi_terms keys are arrays with `key_as_string` "a|b".
// composite: the first `size` buckets in the sources' order, keys as objects, `after_key` the
// last bucket's key.
// Histograms: with min_doc_count 0, empty buckets are filled between the lowest and highest
// bucket, widened by extended_bounds and clamped by hard_bounds; date_histogram keys are epoch
// millis with `key_as_string` (RFC 3339, in the request's time zone).
// Range: one bucket per requested range, in request order, keyed "from-to" ("*" when open)
// unless a key is given. filter: doc_count and sub-aggregations; filters: buckets by filter key
// (an array for anonymous filters or `keyed: false`).
// Metrics: `value` (null when no value was seen, except sum and value_count); stats: count, min,
// max, avg, sum; extended_stats adds sum_of_squares, variances, standard deviations and their
// bounds; cardinality: the sketch's estimate; percentiles: `values` keyed by percent ("99.0") or
// a list of {key, value}.
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

// The same in a zone `utc_offset_seconds` east of UTC: `2015-01-01T00:00:00+01:00` (`Z` when the
// offset is 0).
std::string FormatEpochMillis(int64_t millis, int64_t utc_offset_seconds);

}  // namespace shale::search
