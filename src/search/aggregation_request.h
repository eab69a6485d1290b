// Per-index preparation of an aggregation request before its leaf searches: the queries of
// `filter` / `filters` aggregations are kept as query language text by the parser
// (query/aggregation_parser.h) and parsed here with the target index's default search fields,
// as the search query itself is.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "index/aggregation.h"

namespace shale::search {

// True when some aggregation of `request`, nested ones included, is a filter or filters.
bool HasAggregationFilters(const index::AggregationRequest& request);

// A copy of `request` whose filter queries are parsed for an index with `default_search_fields`.
// InvalidArgument naming the aggregation when a filter query does not parse.
absl::StatusOr<index::AggregationRequest> BindAggregationFilters(
    const index::AggregationRequest& request,
    const std::vector<std::string>& default_search_fields);

}  // namespace shale::search
