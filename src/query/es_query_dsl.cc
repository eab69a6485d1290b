#include "query/es_query_dsl.h"

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/status_macros.h"

namespace shale::query {
namespace {

constexpr int kMaxDepth = 32;

absl::Status Invalid(const std::string& clause, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("query clause `{}`: {}", clause, what));
}

// Backslash-escapes everything but letters and digits: the value is one literal word.
std::string EscapeValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::string> ValueText(const std::string& clause, const nlohmann::json& value) {
  if (value.is_string()) return EscapeValue(value.get<std::string>());
  if (value.is_number() || value.is_boolean()) return EscapeValue(value.dump());
  return Invalid(clause, "the value must be a string, a number or a boolean");
}

absl::StatusOr<std::string> FieldName(const std::string& clause, const std::string& field) {
  if (field.empty()) return Invalid(clause, "empty field name");
  for (char c : field) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '.' && c != '-' &&
        c != '@') {
      return Invalid(clause, fmt::format("unsupported field name `{}`", field));
    }
  }
  return field;
}

// The single `{"field": body}` member of a term/match/range clause.
absl::StatusOr<std::pair<std::string, const nlohmann::json*>> SingleField(
    const std::string& clause, const nlohmann::json& body) {
  if (!body.is_object() || body.size() != 1) {
    return Invalid(clause, "expected an object with exactly one field");
  }
  ASSIGN_OR_RETURN(std::string field, FieldName(clause, body.begin().key()));
  return std::make_pair(field, &body.begin().value());
}

absl::StatusOr<std::string> Translate(const nlohmann::json& query, int depth);

absl::StatusOr<std::vector<std::string>> TranslateList(const nlohmann::json& clauses, int depth) {
  std::vector<std::string> out;
  if (clauses.is_array()) {
    for (const nlohmann::json& clause : clauses) {
      ASSIGN_OR_RETURN(std::string text, Translate(clause, depth + 1));
      out.push_back(std::move(text));
    }
  } else {
    ASSIGN_OR_RETURN(std::string text, Translate(clauses, depth + 1));
    out.push_back(std::move(text));
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, const char* op) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += op;
    out += "(" + part + ")";
  }
  return out;
}

absl::StatusOr<std::string> TranslateBool(const nlohmann::json& body, int depth) {
  if (!body.is_object()) return Invalid("bool", "expected an object");
  std::vector<std::string> required;
  std::vector<std::string> excluded;
  std::vector<std::string> optional;
  for (const auto& [key, value] : body.items()) {
    if (key == "must" || key == "filter") {
      ASSIGN_OR_RETURN(std::vector<std::string> parts, TranslateList(value, depth));
      required.insert(required.end(), parts.begin(), parts.end());
    } else if (key == "must_not") {
      ASSIGN_OR_RETURN(excluded, TranslateList(value, depth));
    } else if (key == "should") {
      ASSIGN_OR_RETURN(optional, TranslateList(value, depth));
    } else if (key != "boost" && key != "minimum_should_match") {
      return Invalid("bool", fmt::format("unknown key `{}`", key));
    }
  }
  // ES: without must/filter, at least one should clause must match.
  if (!optional.empty()) required.push_back(Join(optional, " OR "));
  for (const std::string& part : excluded) required.push_back("NOT (" + part + ")");
  if (required.empty()) return std::string("*");
  return Join(required, " AND ");
}

absl::StatusOr<std::string> TranslateRange(const nlohmann::json& body) {
  ASSIGN_OR_RETURN(auto field_and_body, SingleField("range", body));
  const auto& [field, bounds] = field_and_body;
  if (!bounds->is_object()) return Invalid("range", "expected an object of bounds");
  std::vector<std::string> parts;
  for (const auto& [key, value] : bounds->items()) {
    const char* op = nullptr;
    if (key == "gt") op = ">";
    if (key == "gte") op = ">=";
    if (key == "lt") op = "<";
    if (key == "lte") op = "<=";
    if (op == nullptr) {
      if (key == "format" || key == "boost") continue;
      return Invalid("range", fmt::format("unknown key `{}`", key));
    }
    ASSIGN_OR_RETURN(std::string text, ValueText("range", value));
    parts.push_back(fmt::format("{}:{}{}", field, op, text));
  }
  if (parts.empty()) return fmt::format("{}:*", field);
  return Join(parts, " AND ");
}

absl::StatusOr<std::string> Translate(const nlohmann::json& query, int depth) {
  if (depth > kMaxDepth) return absl::InvalidArgumentError("query nests too deeply");
  if (!query.is_object() || query.size() != 1) {
    return absl::InvalidArgumentError("a query clause must be an object with exactly one key");
  }
  const std::string& type = query.begin().key();
  const nlohmann::json& body = query.begin().value();
  if (type == "match_all") return std::string("*");
  if (type == "match_none") return std::string("NOT *");
  if (type == "bool") return TranslateBool(body, depth);
  if (type == "range") return TranslateRange(body);
  if (type == "exists") {
    if (!body.is_object() || !body.contains("field") || !body["field"].is_string()) {
      return Invalid(type, "expected {\"field\": name}");
    }
    ASSIGN_OR_RETURN(std::string field, FieldName(type, body["field"].get<std::string>()));
    return fmt::format("{}:*", field);
  }
  if (type == "term" || type == "match") {
    ASSIGN_OR_RETURN(auto field_and_body, SingleField(type, body));
    const auto& [field, value_body] = field_and_body;
    const nlohmann::json* value = value_body;
    if (value->is_object()) {
      const char* key = type == "term" ? "value" : "query";
      if (!value->contains(key)) return Invalid(type, fmt::format("missing `{}`", key));
      value = &(*value)[key];
    }
    if (type == "term" || !value->is_string()) {
      ASSIGN_OR_RETURN(std::string text, ValueText(type, *value));
      return fmt::format("{}:{}", field, text);
    }
    std::vector<std::string> words;
    const std::string text = value->get<std::string>();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find_first_of(" \t\n", start);
      if (end == std::string::npos) end = text.size();
      if (end > start) {
        words.push_back(fmt::format("{}:{}", field, EscapeValue(text.substr(start, end - start))));
      }
      start = end + 1;
    }
    if (words.empty()) return std::string("NOT *");
    return Join(words, " OR ");
  }
  if (type == "terms") {
    // {"terms": {"field": [v1, v2, ...], "boost": b}}
    if (!body.is_object()) return Invalid(type, "expected an object");
    std::optional<std::string> set;
    for (const auto& [key, values] : body.items()) {
      if (key == "boost") continue;
      if (set.has_value()) return Invalid(type, "expected exactly one field");
      ASSIGN_OR_RETURN(std::string field, FieldName(type, key));
      if (!values.is_array()) return Invalid(type, "expected an array of values");
      std::string text = field + ":IN [";
      for (const nlohmann::json& value : values) {
        ASSIGN_OR_RETURN(std::string value_text, ValueText(type, value));
        text += value_text + " ";
      }
      text += "]";
      set = std::move(text);
    }
    if (!set.has_value()) return Invalid(type, "expected exactly one field");
    return *std::move(set);
  }
  if (type == "wildcard" || type == "regexp" || type == "prefix") {
    // {"wildcard": {"field": "fo*"}} or {"wildcard": {"field": {"value": "fo*"}}}, same for
    // regexp and prefix.
    ASSIGN_OR_RETURN(auto field_and_body, SingleField(type, body));
    const auto& [field, value_body] = field_and_body;
    const nlohmann::json* value = value_body;
    if (value->is_object()) {
      if (!value->contains("value")) return Invalid(type, "missing `value`");
      value = &(*value)["value"];
    }
    if (!value->is_string()) return Invalid(type, "the value must be a string");
    const std::string text = value->get<std::string>();
    if (type == "prefix") return fmt::format("{}:{}*", field, EscapeValue(text));
    if (type == "regexp") {
      std::string escaped;
      for (char c : text) {
        if (c == '/') escaped.push_back('\\');
        escaped.push_back(c);
      }
      return fmt::format("{}:/{}/", field, escaped);
    }
    // Wildcards stay wildcards, everything else is literal.
    std::string pattern;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '\\' && i + 1 < text.size()) {
        pattern += '\\';
        pattern += text[++i];
        continue;
      }
      if (c != '*' && c != '?' && std::isalnum(static_cast<unsigned char>(c)) == 0) {
        pattern.push_back('\\');
      }
      pattern.push_back(c);
    }
    return fmt::format("{}:{}", field, pattern);
  }
  if (type == "query_string") {
    if (!body.is_object() || !body.contains("query") || !body["query"].is_string()) {
      return Invalid(type, "expected {\"query\": text}");
    }
    return body["query"].get<std::string>();
  }
  return absl::InvalidArgumentError(fmt::format("unsupported query clause `{}`", type));
}

}  // namespace

absl::StatusOr<std::string> EsQueryToQueryLanguage(const nlohmann::json& query) {
  return Translate(query, 0);
}

namespace {

// The default order of `field` in Elasticsearch: `_score` descending, everything else ascending.
bool DescendingByDefault(std::string_view field) { return field == "_score"; }

absl::StatusOr<std::string> SortSpec(const std::string& field, std::optional<bool> descending) {
  if (field.empty()) return absl::InvalidArgumentError("sort: empty field name");
  return (descending.value_or(DescendingByDefault(field)) ? "+" : "-") + field;
}

absl::StatusOr<bool> ParseOrder(const std::string& field, std::string_view order) {
  if (order == "asc") return false;
  if (order == "desc") return true;
  return absl::InvalidArgumentError(
      fmt::format("sort on `{}`: order must be `asc` or `desc`, got `{}`", field, order));
}

// One element of a sort array: "field" or {"field": "desc" | {"order": "desc", ...}}.
absl::Status AppendSortElement(const nlohmann::json& element, std::vector<std::string>& out) {
  if (element.is_string()) {
    ASSIGN_OR_RETURN(std::string spec, SortSpec(element.get<std::string>(), std::nullopt));
    out.push_back(std::move(spec));
    return absl::OkStatus();
  }
  if (!element.is_object() || element.size() != 1) {
    return absl::InvalidArgumentError(
        "sort: each sort must be a field name or an object with exactly one field");
  }
  const auto entry = element.begin();
  const std::string& field = entry.key();
  const nlohmann::json& options = entry.value();
  std::optional<bool> descending;
  if (options.is_string()) {
    ASSIGN_OR_RETURN(descending, ParseOrder(field, options.get<std::string>()));
  } else if (options.is_object()) {
    for (const auto& [key, value] : options.items()) {
      if (key == "order") {
        if (!value.is_string()) {
          return absl::InvalidArgumentError(
              fmt::format("sort on `{}`: order must be `asc` or `desc`", field));
        }
        ASSIGN_OR_RETURN(descending, ParseOrder(field, value.get<std::string>()));
      } else if (key != "unmapped_type" && key != "format" && key != "numeric_type") {
        return absl::InvalidArgumentError(
            fmt::format("sort on `{}`: unsupported option `{}`", field, key));
      }
    }
  } else {
    return absl::InvalidArgumentError(
        fmt::format("sort on `{}`: expected `asc`, `desc` or an object of options", field));
  }
  ASSIGN_OR_RETURN(std::string spec, SortSpec(field, descending));
  out.push_back(std::move(spec));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> EsSortToSortBy(const nlohmann::json& sort) {
  std::vector<std::string> sort_by;
  if (sort.is_array()) {
    for (const nlohmann::json& element : sort) RETURN_IF_ERROR(AppendSortElement(element, sort_by));
  } else {
    RETURN_IF_ERROR(AppendSortElement(sort, sort_by));
  }
  return sort_by;
}

absl::StatusOr<std::vector<std::string>> EsSortParamToSortBy(std::string_view sort) {
  std::vector<std::string> sort_by;
  while (!sort.empty()) {
    const size_t comma = sort.find(',');
    std::string_view item = sort.substr(0, comma);
    sort = comma == std::string_view::npos ? std::string_view() : sort.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const size_t colon = item.rfind(':');
    const std::string field(item.substr(0, colon));
    std::optional<bool> descending;
    if (colon != std::string_view::npos) {
      ASSIGN_OR_RETURN(descending, ParseOrder(field, item.substr(colon + 1)));
    }
    ASSIGN_OR_RETURN(std::string spec, SortSpec(field, descending));
    sort_by.push_back(std::move(spec));
  }
  return sort_by;
}

}  // namespace shale::query
