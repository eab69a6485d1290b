// The engine's query tree on one split. Built by query/ (from the query language or the
// Elasticsearch DSL) after field names have been resolved against the doc mapping. Terms here are
// already tokenized/normalised: a term query matches exactly one term of the field's index.
//
// Values: a std::string value is *user text* that the engine interprets per split against the
// field's type in that split's schema: text fields tokenize it with the field's tokenizer (one
// token: a term; several: all of them at consecutive positions, or all of them when positions are
// not recorded); numeric, bool and datetime fields parse it (a datetime accepts RFC 3339, unix
// seconds / millis / micros / nanos inferred from the digits, and `YYYY/MM/DD` or `YYYY-MM-DD`).
// Unparsable text for a typed field is InvalidArgument naming field and value. A field absent from
// a split's schema matches nothing in that split. Typed alternatives compare exactly (datetimes as
// i64 microseconds since the Unix epoch, UTC).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace shale::index {

// A typed value a term or range bound compares against.
using TermValue = std::variant<std::string, int64_t, uint64_t, double, bool>;

struct Query;
using QueryPtr = std::unique_ptr<Query>;

struct AllQuery {};    // matches every document
struct EmptyQuery {};  // matches nothing

// Matches documents whose `field` (a full path, e.g. "resource.service") holds `value`.
struct TermQuery {
  std::string field;
  TermValue value;
};

// Documents holding the terms of `terms` at consecutive positions (requires positions; engine v1
// without positions answers FailedPrecondition naming the field).
struct PhraseQuery {
  std::string field;
  std::vector<std::string> terms;
  uint32_t slop = 0;
};

// Documents whose value of `field` lies within the bounds. Unset bounds are open.
struct RangeQuery {
  std::string field;
  std::optional<TermValue> lower;
  bool lower_inclusive = true;
  std::optional<TermValue> upper;
  bool upper_inclusive = true;
};

// Documents with at least one value in `field` (path prefix matches object children).
struct ExistsQuery {
  std::string field;
};

// Documents whose term in `field` starts with `prefix` (text).
struct PrefixQuery {
  std::string field;
  std::string prefix;
};

struct BoolQuery {
  std::vector<QueryPtr> must;
  std::vector<QueryPtr> should;
  std::vector<QueryPtr> must_not;
  std::vector<QueryPtr> filter;  // like must, but not scored
  // When unset: 1 if there are no must/filter clauses and at least one should, else 0.
  std::optional<uint32_t> minimum_should_match;
};

struct Query {
  std::variant<AllQuery, EmptyQuery, TermQuery, PhraseQuery, RangeQuery, ExistsQuery, PrefixQuery,
               BoolQuery>
      node;
  float boost = 1.0f;
};

// Convenience constructors.
QueryPtr MakeAllQuery();
QueryPtr MakeEmptyQuery();
QueryPtr MakeTermQuery(std::string field, TermValue value);

// Renders the tree for debugging and for POST /api/v1/parse-query.
std::string DebugString(const Query& query);

}  // namespace shale::index
