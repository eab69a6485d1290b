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
// i64 nanoseconds since the Unix epoch, UTC; a number given for a datetime is a unix timestamp of
// inferred precision, like digits in text).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"

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

// Documents whose term in `field` starts with `prefix` (text; more than kMaxPatternExpansions
// matching terms is InvalidArgument).
struct PrefixQuery {
  std::string field;
  std::string prefix;
};

// Documents whose `field` holds any of `values` (each one interpreted like TermQuery's value).
// Cheaper than a BoolQuery of TermQuery: the terms are looked up in sorted order, each term
// dictionary block read once, and the matches OR-ed into one set. Scores a constant.
struct TermSetQuery {
  std::string field;
  std::vector<TermValue> values;
};

// Documents with a term of `field` (text: a token of its term dictionary) matching `pattern`,
// where `*` matches any run of bytes, `?` one character and `\` escapes the next character.
// The literal prefix before the first wildcard bounds the scan of the term dictionary; more
// than kMaxPatternExpansions matching terms is InvalidArgument. On fields whose tokenizer
// lowercases, the pattern is lowercased first.
struct WildcardQuery {
  std::string field;
  std::string pattern;
};

// Documents with a term of `field` fully matching the RE2 regular expression `pattern` (anchored
// at both ends of the term, like Lucene and tantivy). See ValidateRegexPattern for the bounds.
struct RegexQuery {
  std::string field;
  std::string pattern;
};

// Bounds of pattern queries: matching terms per field and split, regex length and the RE2
// program memory.
inline constexpr size_t kMaxPatternExpansions = 50'000;
inline constexpr size_t kMaxRegexLength = 4096;
inline constexpr int64_t kMaxRegexMemoryBytes = 8 << 20;

// Ok when `pattern` is a valid RE2 expression within kMaxRegexLength and kMaxRegexMemoryBytes;
// else InvalidArgument naming the problem.
absl::Status ValidateRegexPattern(std::string_view pattern);

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
               BoolQuery, TermSetQuery, WildcardQuery, RegexQuery>
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
