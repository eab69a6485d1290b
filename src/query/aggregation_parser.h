// Parses the Elasticsearch `aggs` object of a search request into index::AggregationRequest.
//
// Supported: bucket aggregations `terms`, `histogram`, `date_histogram`, `range` (with nested
// `aggs` / `aggregations`) and metric aggregations `avg`, `sum`, `min`, `max`, `value_count`,
// `stats`. Durations (`fixed_interval`, date `offset`) are `<integer><unit>` with unit ms, s, m,
// h or d and an optional sign for offsets; date_histogram intervals, offsets and extended bounds
// are converted to milliseconds.
//
// Thread safety: pure functions.
#pragma once

#include "absl/status/statusor.h"

#include "index/aggregation.h"
#include "nlohmann/json.hpp"

namespace shale::query {

// InvalidArgument naming the aggregation and the key for: a non-object, an unknown aggregation
// type, several types in one aggregation, an unknown or ill-typed parameter, a missing required
// parameter (`field`, `interval`, `fixed_interval`, `ranges`), sub-aggregations under a metric.
absl::StatusOr<index::AggregationRequest> ParseAggregations(const nlohmann::json& aggs);

// Parses a duration such as `30d`, `-4d`, `1h`, `10m`, `1s`, `1000ms` into milliseconds.
// InvalidArgument when malformed.
absl::StatusOr<double> ParseDurationMillis(const std::string& text);

}  // namespace shale::query
