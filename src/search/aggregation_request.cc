#include "search/aggregation_request.h"

#include <utility>

#include "fmt/format.h"

#include "query/query_language.h"

namespace shale::search {

bool HasAggregationFilters(const index::AggregationRequest& request) {
  bool found = false;
  index::ForEachSpec(request.aggregations, [&found](const index::AggregationSpec& spec) {
    found |= !spec.filters.empty();
  });
  return found;
}

absl::StatusOr<index::AggregationRequest> BindAggregationFilters(
    const index::AggregationRequest& request,
    const std::vector<std::string>& default_search_fields) {
  index::AggregationRequest bound = request;
  absl::Status status;
  index::ForEachSpec(bound.aggregations, [&](index::AggregationSpec& spec) {
    for (index::AggregationFilter& filter : spec.filters) {
      if (!status.ok()) return;
      absl::StatusOr<index::QueryPtr> query =
          query::ParseUserQuery(filter.query_text, default_search_fields);
      if (!query.ok()) {
        status = absl::InvalidArgumentError(
            fmt::format("aggregation `{}`: {}", spec.name, std::string(query.status().message())));
        return;
      }
      filter.query = std::shared_ptr<const index::Query>(std::move(query).value());
    }
  });
  if (!status.ok()) return status;
  return bound;
}

}  // namespace shale::search
