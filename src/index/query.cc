#include "index/query.h"

#include <string>
#include <type_traits>
#include <utility>

#include "fmt/format.h"
#include "re2/re2.h"

namespace shale::index {

QueryPtr MakeAllQuery() {
  auto query = std::make_unique<Query>();
  query->node = AllQuery{};
  return query;
}

QueryPtr MakeEmptyQuery() {
  auto query = std::make_unique<Query>();
  query->node = EmptyQuery{};
  return query;
}

QueryPtr MakeTermQuery(std::string field, TermValue value) {
  auto query = std::make_unique<Query>();
  query->node = TermQuery{std::move(field), std::move(value)};
  return query;
}

namespace {

std::string QuoteString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string ValueString(const TermValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return QuoteString(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}f64", v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return fmt::format("{}i64", v);
        } else {
          return fmt::format("{}u64", v);
        }
      },
      value);
}

void AppendClauses(const char* name, const std::vector<QueryPtr>& clauses, std::string& out,
                   bool& first);

void Append(const Query& query, std::string& out) {
  std::visit(
      [&out](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, AllQuery>) {
          out += "All";
        } else if constexpr (std::is_same_v<T, EmptyQuery>) {
          out += "Empty";
        } else if constexpr (std::is_same_v<T, TermQuery>) {
          out += fmt::format("Term({}:{})", node.field, ValueString(node.value));
        } else if constexpr (std::is_same_v<T, PhraseQuery>) {
          out += fmt::format("Phrase({}:[", node.field);
          for (size_t i = 0; i < node.terms.size(); ++i) {
            if (i > 0) out += ", ";
            out += QuoteString(node.terms[i]);
          }
          out += fmt::format("] slop={})", node.slop);
        } else if constexpr (std::is_same_v<T, RangeQuery>) {
          out += fmt::format("Range({}:{}{} TO {}{})", node.field, node.lower_inclusive ? "[" : "{",
                             node.lower ? ValueString(*node.lower) : std::string("*"),
                             node.upper ? ValueString(*node.upper) : std::string("*"),
                             node.upper_inclusive ? "]" : "}");
        } else if constexpr (std::is_same_v<T, ExistsQuery>) {
          out += fmt::format("Exists({})", node.field);
        } else if constexpr (std::is_same_v<T, PrefixQuery>) {
          out += fmt::format("Prefix({}:{})", node.field, QuoteString(node.prefix));
        } else if constexpr (std::is_same_v<T, TermSetQuery>) {
          out += fmt::format("TermSet({}:[", node.field);
          for (size_t i = 0; i < node.values.size(); ++i) {
            if (i > 0) out += ", ";
            out += ValueString(node.values[i]);
          }
          out += "])";
        } else if constexpr (std::is_same_v<T, WildcardQuery>) {
          out += fmt::format("Wildcard({}:{})", node.field, QuoteString(node.pattern));
        } else if constexpr (std::is_same_v<T, RegexQuery>) {
          out += fmt::format("Regex({}:{})", node.field, QuoteString(node.pattern));
        } else {
          static_assert(std::is_same_v<T, BoolQuery>, "render the new query node");
          out += "Bool(";
          bool first = true;
          AppendClauses("must", node.must, out, first);
          AppendClauses("should", node.should, out, first);
          AppendClauses("must_not", node.must_not, out, first);
          AppendClauses("filter", node.filter, out, first);
          if (node.minimum_should_match.has_value()) {
            if (!first) out += " ";
            out += fmt::format("minimum_should_match={}", *node.minimum_should_match);
          }
          out += ")";
        }
      },
      query.node);
  if (query.boost != 1.0f) out += fmt::format("^{}", query.boost);
}

void AppendClauses(const char* name, const std::vector<QueryPtr>& clauses, std::string& out,
                   bool& first) {
  if (clauses.empty()) return;
  if (!first) out += " ";
  first = false;
  out += name;
  out += "=[";
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (i > 0) out += ", ";
    if (clauses[i] == nullptr) {
      out += "null";
    } else {
      Append(*clauses[i], out);
    }
  }
  out += "]";
}

}  // namespace

absl::Status ValidateRegexPattern(std::string_view pattern) {
  if (pattern.size() > kMaxRegexLength) {
    return absl::InvalidArgumentError(fmt::format(
        "regex of {} bytes exceeds the limit of {} bytes", pattern.size(), kMaxRegexLength));
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxRegexMemoryBytes);
  const RE2 regex(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!regex.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid regex `{}`: {}", pattern.substr(0, 100), regex.error()));
  }
  return absl::OkStatus();
}

std::string DebugString(const Query& query) {
  std::string out;
  Append(query, out);
  return out;
}

}  // namespace shale::index
