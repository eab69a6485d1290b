// A subset of the Elasticsearch query DSL (the `query` of `_elastic/{index}/_search`), translated
// into Quickwit's query language so the search path stays the same.
//
// Supported: match_all, match_none, bool (must, filter, should, must_not: an object or an
// array), exists, term (`{"f": v}` or `{"f": {"value": v}}`), terms (`{"f": [v1, v2]}`), match
// (whitespace-separated words, OR-ed), range (gt, gte, lt, lte), prefix, wildcard (`*` and `?`),
// regexp (RE2 syntax), query_string (`query`, passed through). Values are escaped, so they are
// taken literally.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "nlohmann/json.hpp"

namespace shale::query {

// InvalidArgument naming the clause for an unsupported clause type or a malformed clause.
absl::StatusOr<std::string> EsQueryToQueryLanguage(const nlohmann::json& query);

// The `sort` of a `_search` body as `sort_by` specs of the search service ("-f" ascending, "+f"
// descending): a field name, `{"f": "asc"}`, `{"f": {"order": "desc"}}`, or an array of those.
// Elasticsearch's default orders: descending for `_score`, ascending otherwise (`_doc` too).
// `unmapped_type`, `format` and `numeric_type` are accepted and ignored. InvalidArgument naming
// the problem for anything else.
absl::StatusOr<std::vector<std::string>> EsSortToSortBy(const nlohmann::json& sort);

// The `sort` query parameter: a comma list of `field` or `field:asc|desc`.
absl::StatusOr<std::vector<std::string>> EsSortParamToSortBy(std::string_view sort);

}  // namespace shale::query
