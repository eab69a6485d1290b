// Parses the Elasticsearch `aggs` object of a search request into index::AggregationRequest.
//
// Supported: bucket aggregations `terms`, `multi_terms`, `histogram`, `date_histogram`, `range`,
// `filter`, `filters`, `composite` (with nested `aggs` / `aggregations`) and metric aggregations
// `avg`, `sum`, `min`, `max`, `value_count`, `stats`, `extended_stats`, `cardinality`,
// `percentiles`, `top_hits`. docs/aggregations.md lists every parameter.
//
// Durations (`fixed_interval`, date `offset`) are `<integer><unit>` with unit ms, s, m, h or d
// and an optional sign for offsets; `calendar_interval` is minute, hour, day, week, month,
// quarter or year (or 1m, 1h, 1d, 1w, 1M, 1q, 1y); date_histogram intervals, offsets and bounds
// are in milliseconds. `time_zone` is UTC, a fixed offset (+01:00) or an IANA name. The queries
// of `filter` / `filters` use the query DSL of EsQueryToQueryLanguage and are kept as query
// language text: the caller parses them per index (BindAggregationFilters in search/).
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"

#include "index/aggregation.h"
#include "nlohmann/json.hpp"

namespace shale::query {

// InvalidArgument naming the aggregation and the key for: a non-object, an unknown aggregation
// type, several types in one aggregation, an unknown or ill-typed parameter, a missing required
// parameter (`field`, `interval`, `fixed_interval` / `calendar_interval`, `ranges`, `sources`,
// `terms`), an unknown time zone, an unsupported filter query, an `order` naming no metric
// sub-aggregation, sub-aggregations under a metric.
absl::StatusOr<index::AggregationRequest> ParseAggregations(const nlohmann::json& aggs);

// Parses a duration such as `30d`, `-4d`, `1h`, `10m`, `1s`, `1000ms` into milliseconds.
// InvalidArgument when malformed.
absl::StatusOr<double> ParseDurationMillis(const std::string& text);

}  // namespace shale::query
