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

#include "absl/status/statusor.h"

#include "nlohmann/json.hpp"

namespace shale::query {

// InvalidArgument naming the clause for an unsupported clause type or a malformed clause.
absl::StatusOr<std::string> EsQueryToQueryLanguage(const nlohmann::json& query);

}  // namespace shale::query
