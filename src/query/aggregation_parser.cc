#include "query/aggregation_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"
#include "query/es_query_dsl.h"

namespace shale::query {
namespace {

using index::AggKey;
using index::AggregationKind;
using index::AggregationSpec;
using index::CalendarUnit;
using index::KeySource;
using index::KeySourceKind;

constexpr int kMaxAggregationDepth = 16;
constexpr size_t kMaxPercents = 1000;
// top_hits: from + size per bucket (Elasticsearch's index.max_inner_result_window).
constexpr uint64_t kMaxTopHits = 100;

absl::Status Invalid(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("aggregation `{}`: {}", name, what));
}

std::optional<AggregationKind> KindOf(const std::string& type) {
  static const std::pair<const char*, AggregationKind> kKinds[] = {
      {"terms", AggregationKind::kTerms},
      {"histogram", AggregationKind::kHistogram},
      {"date_histogram", AggregationKind::kDateHistogram},
      {"range", AggregationKind::kRange},
      {"filter", AggregationKind::kFilter},
      {"filters", AggregationKind::kFilters},
      {"composite", AggregationKind::kComposite},
      {"multi_terms", AggregationKind::kMultiTerms},
      {"avg", AggregationKind::kAvg},
      {"sum", AggregationKind::kSum},
      {"min", AggregationKind::kMin},
      {"max", AggregationKind::kMax},
      {"value_count", AggregationKind::kValueCount},
      {"stats", AggregationKind::kStats},
      {"extended_stats", AggregationKind::kExtendedStats},
      {"cardinality", AggregationKind::kCardinality},
      {"percentiles", AggregationKind::kPercentiles},
      {"top_hits", AggregationKind::kTopHits},
  };
  for (const auto& [text, kind] : kKinds) {
    if (type == text) return kind;
  }
  return std::nullopt;
}

// ---- scalar parameters ----

absl::StatusOr<double> Number(const std::string& name, const std::string& key,
                              const nlohmann::json& value) {
  if (!value.is_number()) return Invalid(name, fmt::format("`{}` must be a number", key));
  const double number = value.get<double>();
  if (!std::isfinite(number)) return Invalid(name, fmt::format("`{}` must be finite", key));
  return number;
}

absl::StatusOr<uint64_t> Count(const std::string& name, const std::string& key,
                               const nlohmann::json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return Invalid(name, fmt::format("`{}` must be a non-negative integer", key));
}

absl::StatusOr<uint32_t> Size(const std::string& name, const std::string& key,
                              const nlohmann::json& value) {
  ASSIGN_OR_RETURN(uint64_t size, Count(name, key, value));
  return static_cast<uint32_t>(std::min<uint64_t>(size, index::kMaxAggregationBuckets));
}

absl::StatusOr<std::string> Text(const std::string& name, const std::string& key,
                                 const nlohmann::json& value) {
  if (!value.is_string()) return Invalid(name, fmt::format("`{}` must be a string", key));
  return value.get<std::string>();
}

absl::StatusOr<bool> Bool(const std::string& name, const std::string& key,
                          const nlohmann::json& value) {
  if (!value.is_boolean()) return Invalid(name, fmt::format("`{}` must be a boolean", key));
  return value.get<bool>();
}

// Milliseconds from a duration string, or a number taken as milliseconds.
absl::StatusOr<double> Millis(const std::string& name, const std::string& key,
                              const nlohmann::json& value) {
  if (value.is_number()) return Number(name, key, value);
  if (!value.is_string()) {
    return Invalid(name, fmt::format("`{}` must be a duration such as `1h`", key));
  }
  absl::StatusOr<double> millis = ParseDurationMillis(value.get<std::string>());
  if (!millis.ok()) {
    return Invalid(name, fmt::format("`{}`: {}", key, std::string(millis.status().message())));
  }
  return *millis;
}

absl::StatusOr<int64_t> IntegerMillis(const std::string& name, const std::string& key,
                                      const nlohmann::json& value) {
  ASSIGN_OR_RETURN(double millis, Millis(name, key, value));
  if (std::fabs(millis) > 9.0e15 || std::trunc(millis) != millis) {
    return Invalid(name, fmt::format("`{}` must be a whole number of milliseconds", key));
  }
  return static_cast<int64_t>(millis);
}

// A bucket key given in a request (`missing`, composite `after`): typed like the JSON value.
// With `typed_strings`, strings may carry Quickwit's type prefixes ("str:a", "f64:100",
// "i64:-3", "u64:7").
absl::StatusOr<AggKey> KeyValue(const std::string& name, const std::string& key,
                                const nlohmann::json& value, bool typed_strings) {
  if (value.is_null()) return AggKey::Null();
  if (value.is_boolean()) return AggKey::Bool(value.get<bool>());
  if (value.is_number_unsigned()) {
    // JSON has one integer type: those i64 can hold are i64, like dynamic fields' values.
    const auto number = value.get<uint64_t>();
    if (number <= static_cast<uint64_t>(INT64_MAX))
      return AggKey::I64(static_cast<int64_t>(number));
    return AggKey::U64(number);
  }
  if (value.is_number_integer()) return AggKey::I64(value.get<int64_t>());
  if (value.is_number_float()) return AggKey::F64(value.get<double>());
  if (!value.is_string()) {
    return Invalid(name, fmt::format("`{}` must be a string, a number, a boolean or null", key));
  }
  const std::string text = value.get<std::string>();
  if (!typed_strings || text.size() < 4 || text[3] != ':') return AggKey::Text(text);
  const std::string prefix = text.substr(0, 3);
  const std::string rest = text.substr(4);
  if (prefix == "str") return AggKey::Text(rest);
  if (prefix != "f64" && prefix != "i64" && prefix != "u64") return AggKey::Text(text);
  const char* begin = rest.data();
  const char* end = rest.data() + rest.size();
  if (prefix == "f64") {
    double number = 0;
    const auto [ptr, error] = std::from_chars(begin, end, number);
    if (error == std::errc() && ptr == end) return AggKey::F64(number);
  } else if (prefix == "i64") {
    int64_t number = 0;
    const auto [ptr, error] = std::from_chars(begin, end, number);
    if (error == std::errc() && ptr == end) return AggKey::I64(number);
  } else {
    uint64_t number = 0;
    const auto [ptr, error] = std::from_chars(begin, end, number);
    if (error == std::errc() && ptr == end) return AggKey::U64(number);
  }
  return Invalid(name, fmt::format("`{}`: `{}` is not a valid {} value", key, text, prefix));
}

// ---- structured parameters ----

absl::Status ParseBounds(const std::string& name, const std::string& which,
                         const nlohmann::json& bounds, bool dates, std::optional<double>& min,
                         std::optional<double>& max) {
  if (!bounds.is_object()) return Invalid(name, fmt::format("`{}` must be an object", which));
  for (const auto& [key, value] : bounds.items()) {
    if (key != "min" && key != "max") {
      return Invalid(name, fmt::format("unknown key `{}` in `{}`", key, which));
    }
    const std::string path = which + "." + key;
    absl::StatusOr<double> bound = dates ? Millis(name, path, value) : Number(name, path, value);
    if (!bound.ok()) return bound.status();
    (key == "min" ? min : max) = *bound;
  }
  return absl::OkStatus();
}

absl::Status ParseOrder(const std::string& name, const nlohmann::json& order,
                        AggregationSpec& spec) {
  const nlohmann::json* single = &order;
  if (order.is_array() && order.size() == 1) single = &order[0];
  if (!single->is_object() || single->size() != 1) {
    return Invalid(name,
                   "`order` must be an object with one key: `_count`, `_key` or a metric "
                   "sub-aggregation");
  }
  const auto it = single->begin();
  if (it.key() == "_count") {
    spec.order_key = index::TermsOrderKey::kCount;
  } else if (it.key() == "_key" || it.key() == "_term") {
    spec.order_key = index::TermsOrderKey::kKey;
  } else if (!it.key().empty() && it.key()[0] != '_') {
    spec.order_key = index::TermsOrderKey::kMetric;
    spec.order_metric = it.key();
  } else {
    return Invalid(name, fmt::format("unsupported order key `{}` (expected `_count`, `_key` or a "
                                     "metric sub-aggregation)",
                                     it.key()));
  }
  if (!it.value().is_string() ||
      (it.value().get<std::string>() != "asc" && it.value().get<std::string>() != "desc")) {
    return Invalid(name, "`order` direction must be `asc` or `desc`");
  }
  spec.order_ascending = it.value().get<std::string>() == "asc";
  return absl::OkStatus();
}

absl::Status ParseRanges(const std::string& name, const nlohmann::json& ranges,
                         AggregationSpec& spec) {
  if (!ranges.is_array()) return Invalid(name, "`ranges` must be an array");
  for (const nlohmann::json& item : ranges) {
    if (!item.is_object()) return Invalid(name, "each of `ranges` must be an object");
    index::AggregationRange range;
    for (const auto& [key, value] : item.items()) {
      if (key == "from" || key == "to") {
        if (value.is_null()) continue;
        ASSIGN_OR_RETURN(double bound, Number(name, "ranges." + key, value));
        (key == "from" ? range.from : range.to) = bound;
      } else if (key == "key") {
        ASSIGN_OR_RETURN(range.key, Text(name, "ranges.key", value));
      } else {
        return Invalid(name, fmt::format("unknown key `{}` in `ranges`", key));
      }
    }
    spec.ranges.push_back(std::move(range));
  }
  return absl::OkStatus();
}

std::optional<CalendarUnit> CalendarUnitOf(const std::string& text) {
  static const std::pair<const char*, CalendarUnit> kUnits[] = {
      {"minute", CalendarUnit::kMinute},   {"1m", CalendarUnit::kMinute},
      {"hour", CalendarUnit::kHour},       {"1h", CalendarUnit::kHour},
      {"day", CalendarUnit::kDay},         {"1d", CalendarUnit::kDay},
      {"week", CalendarUnit::kWeek},       {"1w", CalendarUnit::kWeek},
      {"month", CalendarUnit::kMonth},     {"1M", CalendarUnit::kMonth},
      {"quarter", CalendarUnit::kQuarter}, {"1q", CalendarUnit::kQuarter},
      {"year", CalendarUnit::kYear},       {"1y", CalendarUnit::kYear},
  };
  for (const auto& [name, unit] : kUnits) {
    if (text == name) return unit;
  }
  return std::nullopt;
}

// The date interval keys shared by date_histogram and composite date_histogram sources.
// Returns true when `key` was one of them.
absl::StatusOr<bool> ParseDateIntervalKey(const std::string& name, const std::string& key,
                                          const nlohmann::json& value,
                                          index::DateInterval& interval) {
  if (key == "fixed_interval") {
    if (!value.is_string()) {
      return Invalid(name, "`fixed_interval` must be a duration such as `1h`");
    }
    ASSIGN_OR_RETURN(interval.fixed_interval_millis, IntegerMillis(name, key, value));
    if (interval.fixed_interval_millis <= 0) {
      return Invalid(name, "the interval must be positive");
    }
    interval.calendar = CalendarUnit::kNone;
  } else if (key == "calendar_interval") {
    ASSIGN_OR_RETURN(std::string text, Text(name, key, value));
    std::optional<CalendarUnit> unit = CalendarUnitOf(text);
    if (!unit.has_value()) {
      return Invalid(name, fmt::format("`calendar_interval`: invalid calendar interval `{}` "
                                       "(expected minute, hour, day, week, month, quarter, year "
                                       "or 1m, 1h, 1d, 1w, 1M, 1q, 1y)",
                                       text));
    }
    interval.calendar = *unit;
  } else if (key == "interval") {
    // Elasticsearch 7's deprecated spelling: a calendar unit, or else a fixed duration.
    if (value.is_string()) {
      if (std::optional<CalendarUnit> unit = CalendarUnitOf(value.get<std::string>())) {
        interval.calendar = *unit;
        return true;
      }
    }
    ASSIGN_OR_RETURN(interval.fixed_interval_millis, IntegerMillis(name, key, value));
    if (interval.fixed_interval_millis <= 0) {
      return Invalid(name, "the interval must be positive");
    }
  } else if (key == "offset") {
    ASSIGN_OR_RETURN(interval.offset_millis, IntegerMillis(name, key, value));
  } else if (key == "time_zone") {
    ASSIGN_OR_RETURN(interval.time_zone, Text(name, key, value));
    absl::StatusOr<absl::TimeZone> zone = index::ParseTimeZone(interval.time_zone);
    if (!zone.ok()) return Invalid(name, std::string(zone.status().message()));
  } else {
    return false;
  }
  return true;
}

bool HasDateInterval(const index::DateInterval& interval) {
  return interval.calendar != CalendarUnit::kNone || interval.fixed_interval_millis > 0;
}

absl::Status ParseFilterQuery(const std::string& name, const std::string& key,
                              const nlohmann::json& query, const std::string& filter_key,
                              AggregationSpec& spec) {
  if (!query.is_object()) return Invalid(name, fmt::format("`{}` must be a query object", key));
  absl::StatusOr<std::string> text = EsQueryToQueryLanguage(query);
  if (!text.ok()) {
    return Invalid(name, fmt::format("`{}`: {}", key, std::string(text.status().message())));
  }
  index::AggregationFilter filter;
  filter.key = filter_key;
  filter.query_text = *std::move(text);
  spec.filters.push_back(std::move(filter));
  return absl::OkStatus();
}

absl::Status ParseFilters(const std::string& name, const nlohmann::json& params,
                          AggregationSpec& spec) {
  if (!params.is_object()) return Invalid(name, "`filters` must be an object");
  bool has_filters = false;
  for (const auto& [key, value] : params.items()) {
    if (key == "filters") {
      has_filters = true;
      if (value.is_object()) {
        for (const auto& [filter_key, query] : value.items()) {
          RETURN_IF_ERROR(ParseFilterQuery(name, "filters." + filter_key, query, filter_key, spec));
        }
      } else if (value.is_array()) {
        for (const nlohmann::json& query : value) {
          RETURN_IF_ERROR(ParseFilterQuery(name, "filters", query, "", spec));
        }
      } else {
        return Invalid(name, "`filters.filters` must be an object or an array of queries");
      }
    } else if (key == "other_bucket") {
      ASSIGN_OR_RETURN(spec.other_bucket, Bool(name, key, value));
    } else if (key == "other_bucket_key") {
      ASSIGN_OR_RETURN(spec.other_bucket_key, Text(name, key, value));
      spec.other_bucket = true;
    } else if (key == "keyed") {
      ASSIGN_OR_RETURN(spec.keyed, Bool(name, key, value));
    } else {
      return Invalid(name, fmt::format("unknown key `{}` for a filters aggregation", key));
    }
  }
  if (!has_filters) return Invalid(name, "`filters` requires `filters`");
  return absl::OkStatus();
}

// One composite source: {"<source name>": {"terms" | "histogram" | "date_histogram": {...}}}.
absl::Status ParseCompositeSource(const std::string& name, const nlohmann::json& item,
                                  AggregationSpec& spec) {
  if (!item.is_object() || item.size() != 1 || !item.begin().value().is_object() ||
      item.begin().value().size() != 1) {
    return Invalid(name,
                   "each of `sources` must be {\"<name>\": {\"terms\" | \"histogram\" | "
                   "\"date_histogram\": {...}}}");
  }
  KeySource source;
  source.name = item.begin().key();
  const auto& typed = item.begin().value();
  const std::string type = typed.begin().key();
  const nlohmann::json& params = typed.begin().value();
  const std::string where = fmt::format("sources.{}.{}", source.name, type);
  if (type == "terms") {
    source.kind = KeySourceKind::kTerms;
  } else if (type == "histogram") {
    source.kind = KeySourceKind::kHistogram;
  } else if (type == "date_histogram") {
    source.kind = KeySourceKind::kDateHistogram;
  } else {
    return Invalid(name, fmt::format("unsupported composite source type `{}` (expected terms, "
                                     "histogram or date_histogram)",
                                     type));
  }
  if (!params.is_object()) return Invalid(name, fmt::format("`{}` must be an object", where));
  bool has_interval = false;
  for (const auto& [key, value] : params.items()) {
    const std::string path = where + "." + key;
    if (key == "field") {
      ASSIGN_OR_RETURN(source.field, Text(name, path, value));
    } else if (key == "order") {
      ASSIGN_OR_RETURN(std::string order, Text(name, path, value));
      if (order != "asc" && order != "desc") {
        return Invalid(name, fmt::format("`{}` must be `asc` or `desc`", path));
      }
      source.descending = order == "desc";
    } else if (key == "missing_bucket") {
      ASSIGN_OR_RETURN(source.missing_bucket, Bool(name, path, value));
    } else if (key == "missing_order") {
      ASSIGN_OR_RETURN(std::string order, Text(name, path, value));
      if (order != "first" && order != "last" && order != "default") {
        return Invalid(name, fmt::format("`{}` must be `first`, `last` or `default`", path));
      }
      source.missing_first = order == "first" || order == "default";
    } else if (source.kind == KeySourceKind::kHistogram && key == "interval") {
      ASSIGN_OR_RETURN(source.interval, Number(name, path, value));
      if (!(source.interval > 0)) return Invalid(name, "the interval must be positive");
      has_interval = true;
    } else if (source.kind == KeySourceKind::kHistogram && key == "offset") {
      ASSIGN_OR_RETURN(source.offset, Number(name, path, value));
    } else if (source.kind == KeySourceKind::kDateHistogram) {
      ASSIGN_OR_RETURN(bool known, ParseDateIntervalKey(name, key, value, source.date_interval));
      if (!known) return Invalid(name, fmt::format("unknown key `{}` in `{}`", key, where));
    } else {
      return Invalid(name, fmt::format("unknown key `{}` in `{}`", key, where));
    }
  }
  if (source.field.empty()) return Invalid(name, fmt::format("`{}` requires a `field`", where));
  if (source.kind == KeySourceKind::kHistogram && !has_interval) {
    return Invalid(name, fmt::format("`{}` requires `interval`", where));
  }
  if (source.kind == KeySourceKind::kDateHistogram && !HasDateInterval(source.date_interval)) {
    return Invalid(name,
                   fmt::format("`{}` requires `fixed_interval` or `calendar_interval`", where));
  }
  // Elasticsearch puts null keys first in ascending order and last in descending order unless
  // told otherwise.
  if (!params.contains("missing_order") && source.descending) source.missing_first = false;
  for (const KeySource& other : spec.sources) {
    if (other.name == source.name) {
      return Invalid(name, fmt::format("two composite sources are named `{}`", source.name));
    }
  }
  spec.sources.push_back(std::move(source));
  return absl::OkStatus();
}

absl::Status ParseCompositeAfter(const std::string& name, const nlohmann::json& after,
                                 AggregationSpec& spec) {
  if (!after.is_object()) return Invalid(name, "`after` must be an object");
  std::vector<AggKey> key;
  for (const KeySource& source : spec.sources) {
    auto it = after.find(source.name);
    if (it == after.end()) {
      return Invalid(name, fmt::format("`after` misses the source `{}`", source.name));
    }
    ASSIGN_OR_RETURN(AggKey part, KeyValue(name, "after." + source.name, *it, true));
    key.push_back(std::move(part));
  }
  if (after.size() != spec.sources.size()) {
    return Invalid(name, "`after` names a source that is not in `sources`");
  }
  spec.after = std::move(key);
  return absl::OkStatus();
}

absl::Status ParseComposite(const std::string& name, const nlohmann::json& params,
                            AggregationSpec& spec) {
  if (!params.is_object()) return Invalid(name, "`composite` must be an object");
  const nlohmann::json* after = nullptr;
  bool has_sources = false;
  for (const auto& [key, value] : params.items()) {
    if (key == "size") {
      ASSIGN_OR_RETURN(spec.size, Size(name, key, value));
    } else if (key == "sources") {
      if (!value.is_array() || value.empty()) {
        return Invalid(name, "`sources` must be a non-empty array");
      }
      for (const nlohmann::json& item : value) {
        RETURN_IF_ERROR(ParseCompositeSource(name, item, spec));
      }
      has_sources = true;
    } else if (key == "after") {
      after = &value;
    } else {
      return Invalid(name, fmt::format("unknown key `{}` for a composite aggregation", key));
    }
  }
  if (!has_sources) return Invalid(name, "`composite` requires `sources`");
  if (after != nullptr) RETURN_IF_ERROR(ParseCompositeAfter(name, *after, spec));
  return absl::OkStatus();
}

absl::Status ParseMultiTermsSources(const std::string& name, const nlohmann::json& terms,
                                    AggregationSpec& spec) {
  if (!terms.is_array() || terms.size() < 2) {
    return Invalid(name, "`terms` must be an array of at least two {\"field\": ...} objects");
  }
  for (const nlohmann::json& item : terms) {
    if (!item.is_object()) return Invalid(name, "each of `terms` must be an object");
    KeySource source;
    for (const auto& [key, value] : item.items()) {
      if (key == "field") {
        ASSIGN_OR_RETURN(source.field, Text(name, "terms.field", value));
      } else if (key == "missing") {
        ASSIGN_OR_RETURN(source.missing, KeyValue(name, "terms.missing", value, false));
      } else {
        return Invalid(name, fmt::format("unknown key `{}` in `terms`", key));
      }
    }
    if (source.field.empty()) return Invalid(name, "each of `terms` requires a `field`");
    source.name = source.field;
    spec.sources.push_back(std::move(source));
  }
  return absl::OkStatus();
}

absl::Status ParsePercents(const std::string& name, const nlohmann::json& value,
                           AggregationSpec& spec) {
  if (!value.is_array() || value.empty() || value.size() > kMaxPercents) {
    return Invalid(name,
                   fmt::format("`percents` must be an array of 1 to {} numbers", kMaxPercents));
  }
  spec.percents.clear();
  for (const nlohmann::json& item : value) {
    ASSIGN_OR_RETURN(double percent, Number(name, "percents", item));
    if (percent < 0 || percent > 100) {
      return Invalid(name, "each of `percents` must be between 0 and 100");
    }
    spec.percents.push_back(percent);
  }
  return absl::OkStatus();
}

// top_hits `sort`: "field", {"field": "desc"}, {"field": {"order": "desc"}}, or an array of them.
absl::Status ParseTopHitsSort(const std::string& name, const nlohmann::json& value,
                              AggregationSpec& spec) {
  if (value.is_array()) {
    for (const nlohmann::json& item : value) RETURN_IF_ERROR(ParseTopHitsSort(name, item, spec));
    return absl::OkStatus();
  }
  index::TopHitsSort sort;
  if (value.is_string()) {
    sort.field = value.get<std::string>();
  } else if (value.is_object() && value.size() == 1) {
    sort.field = value.begin().key();
    const nlohmann::json& order = value.begin().value();
    const nlohmann::json* direction = &order;
    if (order.is_object()) {
      for (const auto& [key, item] : order.items()) {
        if (key != "order") {
          return Invalid(name, fmt::format("unknown key `{}` in `sort.{}`", key, sort.field));
        }
      }
      auto it = order.find("order");
      if (it == order.end())
        return Invalid(name, fmt::format("`sort.{}` needs `order`", sort.field));
      direction = &*it;
    }
    if (!direction->is_string() ||
        (direction->get<std::string>() != "asc" && direction->get<std::string>() != "desc")) {
      return Invalid(name, fmt::format("`sort.{}` order must be `asc` or `desc`", sort.field));
    }
    sort.descending = direction->get<std::string>() == "desc";
  } else {
    return Invalid(name,
                   "`sort` must be a field name, {\"field\": \"asc\" | \"desc\"} or an array");
  }
  if (sort.field == "_doc") return absl::OkStatus();  // doc order is the default
  if (sort.field == "_score") {
    return Invalid(name, "`sort` by `_score` is not supported (aggregations have no scores)");
  }
  spec.sort.push_back(std::move(sort));
  return absl::OkStatus();
}

absl::Status ParseTopHits(const std::string& name, const nlohmann::json& params,
                          AggregationSpec& spec) {
  if (!params.is_object()) return Invalid(name, "`top_hits` must be an object");
  spec.size = 3;
  for (const auto& [key, value] : params.items()) {
    if (key == "size") {
      ASSIGN_OR_RETURN(spec.size, Size(name, key, value));
    } else if (key == "from") {
      ASSIGN_OR_RETURN(spec.from, Size(name, key, value));
    } else if (key == "sort") {
      RETURN_IF_ERROR(ParseTopHitsSort(name, value, spec));
    } else if (key == "_source") {
      if (value.is_boolean()) {
        spec.include_source = value.get<bool>();
      } else if (value.is_string()) {
        spec.source_includes.push_back(value.get<std::string>());
      } else if (value.is_array()) {
        for (const nlohmann::json& item : value) {
          ASSIGN_OR_RETURN(std::string path, Text(name, "_source", item));
          spec.source_includes.push_back(std::move(path));
        }
      } else if (value.is_object()) {
        for (const auto& [source_key, includes] : value.items()) {
          if (source_key != "includes" || !includes.is_array()) {
            return Invalid(name, "`_source` supports only {\"includes\": [...]}");
          }
          for (const nlohmann::json& item : includes) {
            ASSIGN_OR_RETURN(std::string path, Text(name, "_source.includes", item));
            spec.source_includes.push_back(std::move(path));
          }
        }
      } else {
        return Invalid(name, "`_source` must be a boolean, a path or an array of paths");
      }
    } else if (key == "docvalue_fields") {
      if (!value.is_array()) return Invalid(name, "`docvalue_fields` must be an array");
      for (const nlohmann::json& item : value) {
        if (item.is_object() && item.contains("field") && item.size() == 1) {
          ASSIGN_OR_RETURN(std::string field, Text(name, "docvalue_fields.field", item["field"]));
          spec.docvalue_fields.push_back(std::move(field));
        } else {
          ASSIGN_OR_RETURN(std::string field, Text(name, "docvalue_fields", item));
          spec.docvalue_fields.push_back(std::move(field));
        }
      }
    } else {
      return Invalid(name, fmt::format("unknown key `{}` for a top_hits aggregation", key));
    }
  }
  if (static_cast<uint64_t>(spec.from) + spec.size > kMaxTopHits) {
    return Invalid(name, fmt::format("`from` + `size` must be at most {}", kMaxTopHits));
  }
  return absl::OkStatus();
}

bool IsTermsLike(AggregationKind kind) {
  return kind == AggregationKind::kTerms || kind == AggregationKind::kMultiTerms;
}

bool IsMetric(AggregationKind kind) { return !index::IsBucketAggregation(kind); }

// Parameters of one aggregation of type `kind`.
absl::Status ParseParams(const std::string& name, const nlohmann::json& params,
                         AggregationSpec& spec) {
  const std::string type = index::AggregationKindName(spec.kind);
  switch (spec.kind) {
    case AggregationKind::kFilter:
      return ParseFilterQuery(name, "filter", params, "", spec);
    case AggregationKind::kFilters:
      return ParseFilters(name, params, spec);
    case AggregationKind::kComposite:
      return ParseComposite(name, params, spec);
    case AggregationKind::kTopHits:
      return ParseTopHits(name, params, spec);
    default:
      break;
  }
  if (!params.is_object()) return Invalid(name, fmt::format("`{}` must be an object", type));
  const bool terms_like = IsTermsLike(spec.kind);
  const bool is_histogram = spec.kind == AggregationKind::kHistogram;
  const bool is_date = spec.kind == AggregationKind::kDateHistogram;
  const bool metric = IsMetric(spec.kind);
  bool has_interval = false;
  bool has_ranges = false;
  spec.min_doc_count = terms_like ? 1 : 0;
  for (const auto& [key, value] : params.items()) {
    if (key == "field" && spec.kind != AggregationKind::kMultiTerms) {
      ASSIGN_OR_RETURN(spec.field, Text(name, key, value));
    } else if (spec.kind == AggregationKind::kMultiTerms && key == "terms") {
      RETURN_IF_ERROR(ParseMultiTermsSources(name, value, spec));
    } else if (terms_like && key == "size") {
      ASSIGN_OR_RETURN(spec.size, Size(name, key, value));
    } else if (terms_like &&
               (key == "shard_size" || key == "segment_size" || key == "split_size")) {
      ASSIGN_OR_RETURN(spec.shard_size, Size(name, key, value));
    } else if (terms_like && key == "show_term_doc_count_error") {
      ASSIGN_OR_RETURN(spec.show_term_doc_count_error, Bool(name, key, value));
    } else if (terms_like && key == "order") {
      RETURN_IF_ERROR(ParseOrder(name, value, spec));
    } else if (spec.kind == AggregationKind::kTerms && key == "missing") {
      ASSIGN_OR_RETURN(AggKey missing, KeyValue(name, key, value, false));
      if (missing.is_null()) return Invalid(name, "`missing` must not be null");
      spec.missing = std::move(missing);
    } else if (metric && key == "missing") {
      ASSIGN_OR_RETURN(spec.missing_value, Number(name, key, value));
    } else if ((terms_like || is_histogram || is_date) && key == "min_doc_count") {
      ASSIGN_OR_RETURN(spec.min_doc_count, Count(name, key, value));
    } else if (is_histogram && key == "interval") {
      ASSIGN_OR_RETURN(spec.interval, Number(name, key, value));
      has_interval = true;
    } else if (is_histogram && key == "offset") {
      ASSIGN_OR_RETURN(spec.offset, Number(name, key, value));
    } else if ((is_histogram || is_date) && key == "extended_bounds") {
      RETURN_IF_ERROR(ParseBounds(name, key, value, is_date, spec.extended_bounds_min,
                                  spec.extended_bounds_max));
    } else if ((is_histogram || is_date) && key == "hard_bounds") {
      RETURN_IF_ERROR(
          ParseBounds(name, key, value, is_date, spec.hard_bounds_min, spec.hard_bounds_max));
    } else if (spec.kind == AggregationKind::kRange && key == "ranges") {
      RETURN_IF_ERROR(ParseRanges(name, value, spec));
      has_ranges = true;
    } else if (spec.kind == AggregationKind::kExtendedStats && key == "sigma") {
      ASSIGN_OR_RETURN(spec.sigma, Number(name, key, value));
      if (spec.sigma < 0) return Invalid(name, "`sigma` must not be negative");
    } else if (spec.kind == AggregationKind::kCardinality && key == "precision_threshold") {
      // The sketch's precision is fixed (about 0.8 % error beyond 2048 distinct values).
      ASSIGN_OR_RETURN(uint64_t threshold, Count(name, key, value));
      (void)threshold;
    } else if (spec.kind == AggregationKind::kPercentiles && key == "percents") {
      RETURN_IF_ERROR(ParsePercents(name, value, spec));
    } else if (spec.kind == AggregationKind::kPercentiles && key == "keyed") {
      ASSIGN_OR_RETURN(spec.keyed, Bool(name, key, value));
    } else if (is_date) {
      ASSIGN_OR_RETURN(bool known, ParseDateIntervalKey(name, key, value, spec.date_interval));
      if (!known) {
        return Invalid(name, fmt::format("unknown key `{}` for a {} aggregation", key, type));
      }
      has_interval |= key != "offset" && key != "time_zone";
    } else {
      return Invalid(name, fmt::format("unknown key `{}` for a {} aggregation", key, type));
    }
  }
  if (spec.kind == AggregationKind::kMultiTerms) {
    if (spec.sources.empty()) return Invalid(name, "`multi_terms` requires `terms`");
  } else if (spec.field.empty()) {
    return Invalid(name, fmt::format("`{}` requires a `field`", type));
  }
  if (is_histogram && !has_interval) {
    return Invalid(name, "`histogram` requires `interval`");
  }
  if (is_date && !has_interval) {
    return Invalid(name, "`date_histogram` requires `fixed_interval` or `calendar_interval`");
  }
  if (is_histogram && !(spec.interval > 0)) return Invalid(name, "the interval must be positive");
  if (spec.kind == AggregationKind::kRange && !has_ranges) {
    return Invalid(name, "`range` requires `ranges`");
  }
  return absl::OkStatus();
}

// An `order` on a sub-aggregation must name a metric sub-aggregation.
absl::Status CheckOrderTarget(const std::string& name, const AggregationSpec& spec) {
  if (spec.order_key != index::TermsOrderKey::kMetric) return absl::OkStatus();
  const std::string target = spec.order_metric.substr(0, spec.order_metric.find('.'));
  for (const AggregationSpec& sub : spec.sub_aggregations) {
    if (sub.name == target && IsMetric(sub.kind)) return absl::OkStatus();
  }
  return Invalid(name, fmt::format("`order` names `{}`, which is not a metric sub-aggregation",
                                   spec.order_metric));
}

absl::StatusOr<std::vector<AggregationSpec>> ParseLevel(const nlohmann::json& aggs, int depth) {
  if (!aggs.is_object()) return absl::InvalidArgumentError("`aggs` must be a JSON object");
  if (depth > kMaxAggregationDepth) {
    return absl::InvalidArgumentError(
        fmt::format("aggregations nest deeper than {} levels", kMaxAggregationDepth));
  }
  std::vector<AggregationSpec> specs;
  for (const auto& [name, body] : aggs.items()) {
    if (!body.is_object()) return Invalid(name, "must be a JSON object");
    AggregationSpec spec;
    spec.name = name;
    bool has_type = false;
    const nlohmann::json* params = nullptr;
    const nlohmann::json* sub_aggs = nullptr;
    for (const auto& [key, value] : body.items()) {
      if (key == "aggs" || key == "aggregations") {
        if (sub_aggs != nullptr) return Invalid(name, "both `aggs` and `aggregations` are given");
        sub_aggs = &value;
        continue;
      }
      if (key == "meta") continue;
      std::optional<AggregationKind> kind = KindOf(key);
      if (!kind.has_value()) {
        return Invalid(name, fmt::format("unknown aggregation type `{}`", key));
      }
      if (has_type) return Invalid(name, fmt::format("more than one aggregation type (`{}`)", key));
      has_type = true;
      spec.kind = *kind;
      params = &value;
    }
    if (!has_type) return Invalid(name, "no aggregation type is given");
    RETURN_IF_ERROR(ParseParams(name, *params, spec));
    if (sub_aggs != nullptr) {
      if (!index::IsBucketAggregation(spec.kind)) {
        return Invalid(name, fmt::format("a {} aggregation cannot have sub-aggregations",
                                         index::AggregationKindName(spec.kind)));
      }
      ASSIGN_OR_RETURN(spec.sub_aggregations, ParseLevel(*sub_aggs, depth + 1));
    }
    RETURN_IF_ERROR(CheckOrderTarget(name, spec));
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

absl::StatusOr<double> ParseDurationMillis(const std::string& text) {
  std::string_view rest = text;
  double sign = 1;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    if (rest.front() == '-') sign = -1;
    rest.remove_prefix(1);
  }
  int64_t amount = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), amount);
  if (error != std::errc() || end == rest.data() || amount < 0) {
    return absl::InvalidArgumentError(fmt::format("invalid duration `{}`", text));
  }
  const std::string_view unit = rest.substr(static_cast<size_t>(end - rest.data()));
  double unit_millis = 0;
  if (unit == "ms") {
    unit_millis = 1;
  } else if (unit == "s") {
    unit_millis = 1'000;
  } else if (unit == "m") {
    unit_millis = 60'000;
  } else if (unit == "h") {
    unit_millis = 3'600'000;
  } else if (unit == "d") {
    unit_millis = 86'400'000;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("invalid duration `{}`: the unit must be one of ms, s, m, h, d", text));
  }
  return sign * static_cast<double>(amount) * unit_millis;
}

absl::StatusOr<index::AggregationRequest> ParseAggregations(const nlohmann::json& aggs) {
  index::AggregationRequest request;
  ASSIGN_OR_RETURN(request.aggregations, ParseLevel(aggs, 0));
  request.canonical_json = DumpJson(aggs);  // nlohmann::json objects keep their keys sorted
  return request;
}

}  // namespace shale::query
