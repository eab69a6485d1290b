// Quickwit's query language (the `query` parameter of the search endpoints): parsing into a
// syntax tree (QueryAst), rendering that tree as JSON (POST /api/v1/parse-query) and building the
// engine's index::Query from it.
//
// Grammar (see docs/query-language.md):
//   query   := or_expr
//   or_expr := and_expr ( ("OR" | "||") and_expr )*
//   and_expr:= unary ( ["AND" | "&&"] unary )*          // whitespace is an implicit AND
//   unary   := ("NOT" | "!" | "-") unary | "+" unary | primary
//   primary := "(" or_expr ")" boost? | clause boost?
//   clause  := [field ":"] ( term | term* | wild*card? | * | "phrase"[~slop] | 'phrase'
//                           | "word"* | /regex/ | [a TO b] | >x | >=x | <x | <=x | IN [a b c] )
// AND binds tighter than OR; NOT/-/! bind tightest. Negative-only conjunctions match every
// document except the negated ones.
//
// Thread safety: all functions are pure and thread-safe. QueryAst is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

#include "index/query.h"
#include "nlohmann/json.hpp"

namespace shale::query {

struct QueryAst;

// Matches every document (`*`, or an empty query).
struct MatchAllAst {};

// `field:value` or an unqualified `value` (no field: resolved against the default search fields).
// `value` is the unescaped user text; the engine interprets it per field type.
struct TermAst {
  std::optional<std::string> field;
  std::string value;
};

// `field:"a b c"~slop`. `phrase` is the unescaped text between the quotes.
struct PhraseAst {
  std::optional<std::string> field;
  std::string phrase;
  uint32_t slop = 0;
};

// `field:prefix*`.
struct PrefixAst {
  std::optional<std::string> field;
  std::string prefix;
};

// `field:[a TO b]`, `field:{a TO b}`, `field:>=a`... Unset bounds are open (`*`).
struct RangeAst {
  std::string field;
  std::optional<std::string> lower;
  bool lower_inclusive = true;
  std::optional<std::string> upper;
  bool upper_inclusive = true;
};

// `field:IN [a b c]`: any of the values.
struct TermSetAst {
  std::optional<std::string> field;
  std::vector<std::string> values;
};

// `field:fo*o?`: terms matching a wildcard pattern (index::WildcardQuery syntax: `*`, `?`, and
// `\\` before a literal `*`, `?` or `\\`).
struct WildcardAst {
  std::optional<std::string> field;
  std::string pattern;
};

// `field:/regex/`: terms fully matching an RE2 regular expression.
struct RegexAst {
  std::optional<std::string> field;
  std::string pattern;
};

// `field:*`: documents holding a value in the field.
struct ExistsAst {
  std::string field;
};

// Boolean combination. A bool with only must_not clauses matches all documents but those.
struct BoolAst {
  std::vector<QueryAst> must;
  std::vector<QueryAst> should;
  std::vector<QueryAst> must_not;
};

struct QueryAst {
  std::variant<MatchAllAst, TermAst, PhraseAst, PrefixAst, RangeAst, TermSetAst, ExistsAst, BoolAst,
               WildcardAst, RegexAst>
      node;
  float boost = 1.0f;
};

// Maximum nesting depth (parentheses and unary operators) the parser accepts.
inline constexpr int kMaxQueryNestingDepth = 100;
// Maximum number of values of one `IN [...]` set (Elasticsearch's default max_terms_count).
inline constexpr size_t kMaxTermSetValues = 65'536;

// Parses `text`. "" (or only whitespace) and "*" give MatchAllAst. On a syntax error returns
// InvalidArgument "query parse error at position N: ..." (N is a 0-based byte offset). A regex
// that RE2 rejects or that exceeds index::ValidateRegexPattern's bounds, an `IN` set of more than
// kMaxTermSetValues values and nesting deeper than kMaxQueryNestingDepth are InvalidArgument.
absl::StatusOr<QueryAst> ParseQueryLanguage(std::string_view text);

// The tree as JSON, e.g. {"type": "term", "field": "body", "value": "error"}.
nlohmann::json QueryAstToJson(const QueryAst& ast);

// Builds the engine query. Clauses without a field become an OR over `default_search_fields`;
// if that list is empty, InvalidArgument "query `x` has no field and the index has no default
// search fields".
absl::StatusOr<index::QueryPtr> BuildQuery(const QueryAst& ast,
                                           const std::vector<std::string>& default_search_fields);

// ParseQueryLanguage then BuildQuery. "" and "*" match all documents.
absl::StatusOr<index::QueryPtr> ParseUserQuery(
    std::string_view text, const std::vector<std::string>& default_search_fields);

}  // namespace shale::query
