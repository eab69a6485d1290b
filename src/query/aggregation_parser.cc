#include "query/aggregation_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/status_macros.h"

namespace shale::query {
namespace {

using index::AggregationKind;
using index::AggregationSpec;

constexpr int kMaxAggregationDepth = 16;

absl::Status Invalid(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("aggregation `{}`: {}", name, what));
}

std::optional<AggregationKind> KindOf(const std::string& type) {
  static const std::pair<const char*, AggregationKind> kKinds[] = {
      {"terms", AggregationKind::kTerms},
      {"histogram", AggregationKind::kHistogram},
      {"date_histogram", AggregationKind::kDateHistogram},
      {"range", AggregationKind::kRange},
      {"avg", AggregationKind::kAvg},
      {"sum", AggregationKind::kSum},
      {"min", AggregationKind::kMin},
      {"max", AggregationKind::kMax},
      {"value_count", AggregationKind::kValueCount},
      {"stats", AggregationKind::kStats},
  };
  for (const auto& [text, kind] : kKinds) {
    if (type == text) return kind;
  }
  return std::nullopt;
}

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

absl::StatusOr<std::string> Text(const std::string& name, const std::string& key,
                                 const nlohmann::json& value) {
  if (!value.is_string()) return Invalid(name, fmt::format("`{}` must be a string", key));
  return value.get<std::string>();
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

absl::Status ParseExtendedBounds(const std::string& name, const nlohmann::json& bounds, bool dates,
                                 AggregationSpec& spec) {
  if (!bounds.is_object()) return Invalid(name, "`extended_bounds` must be an object");
  for (const auto& [key, value] : bounds.items()) {
    if (key != "min" && key != "max") {
      return Invalid(name, fmt::format("unknown key `{}` in `extended_bounds`", key));
    }
    absl::StatusOr<double> bound = dates ? Millis(name, "extended_bounds." + key, value)
                                         : Number(name, "extended_bounds." + key, value);
    if (!bound.ok()) return bound.status();
    (key == "min" ? spec.extended_bounds_min : spec.extended_bounds_max) = *bound;
  }
  return absl::OkStatus();
}

absl::Status ParseTermsOrder(const std::string& name, const nlohmann::json& order,
                             AggregationSpec& spec) {
  if (!order.is_object() || order.size() != 1) {
    return Invalid(name, "`order` must be an object with one key, `_count` or `_key`");
  }
  const auto it = order.begin();
  if (it.key() == "_count") {
    spec.order_key = index::TermsOrderKey::kCount;
  } else if (it.key() == "_key" || it.key() == "_term") {
    spec.order_key = index::TermsOrderKey::kKey;
  } else {
    return Invalid(
        name, fmt::format("unsupported order key `{}` (expected `_count` or `_key`)", it.key()));
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

// Parameters of one aggregation of type `kind`.
absl::Status ParseParams(const std::string& name, const nlohmann::json& params,
                         AggregationSpec& spec) {
  const std::string type = index::AggregationKindName(spec.kind);
  if (!params.is_object()) return Invalid(name, fmt::format("`{}` must be an object", type));
  const bool is_terms = spec.kind == AggregationKind::kTerms;
  const bool is_histogram = spec.kind == AggregationKind::kHistogram;
  const bool is_date = spec.kind == AggregationKind::kDateHistogram;
  bool has_interval = false;
  bool has_ranges = false;
  spec.min_doc_count = is_terms ? 1 : 0;
  for (const auto& [key, value] : params.items()) {
    if (key == "field") {
      ASSIGN_OR_RETURN(spec.field, Text(name, key, value));
    } else if (is_terms && key == "size") {
      ASSIGN_OR_RETURN(uint64_t size, Count(name, key, value));
      spec.size = static_cast<uint32_t>(std::min<uint64_t>(size, index::kMaxAggregationBuckets));
    } else if (is_terms && (key == "shard_size" || key == "segment_size" || key == "split_size")) {
      // Results are exact across splits: per-split cutoffs are accepted and not needed.
      ASSIGN_OR_RETURN(uint64_t ignored, Count(name, key, value));
      (void)ignored;
    } else if (is_terms && key == "show_term_doc_count_error") {
      if (!value.is_boolean()) return Invalid(name, fmt::format("`{}` must be a boolean", key));
    } else if (is_terms && key == "order") {
      RETURN_IF_ERROR(ParseTermsOrder(name, value, spec));
    } else if (is_terms && key == "missing") {
      if (value.is_string()) {
        spec.missing_text = value.get<std::string>();
      } else {
        ASSIGN_OR_RETURN(spec.missing_number, Number(name, key, value));
      }
    } else if ((is_terms || is_histogram || is_date) && key == "min_doc_count") {
      ASSIGN_OR_RETURN(spec.min_doc_count, Count(name, key, value));
    } else if (is_histogram && key == "interval") {
      ASSIGN_OR_RETURN(spec.interval, Number(name, key, value));
      has_interval = true;
    } else if (is_date && key == "fixed_interval") {
      if (!value.is_string()) {
        return Invalid(name, "`fixed_interval` must be a duration such as `1h`");
      }
      ASSIGN_OR_RETURN(spec.interval, Millis(name, key, value));
      has_interval = true;
    } else if (is_histogram && key == "offset") {
      ASSIGN_OR_RETURN(spec.offset, Number(name, key, value));
    } else if (is_date && key == "offset") {
      ASSIGN_OR_RETURN(spec.offset, Millis(name, key, value));
    } else if ((is_histogram || is_date) && key == "extended_bounds") {
      RETURN_IF_ERROR(ParseExtendedBounds(name, value, is_date, spec));
    } else if (spec.kind == AggregationKind::kRange && key == "ranges") {
      RETURN_IF_ERROR(ParseRanges(name, value, spec));
      has_ranges = true;
    } else {
      return Invalid(name, fmt::format("unknown key `{}` for a {} aggregation", key, type));
    }
  }
  if (spec.field.empty()) return Invalid(name, fmt::format("`{}` requires a `field`", type));
  if ((is_histogram || is_date) && !has_interval) {
    return Invalid(
        name, fmt::format("`{}` requires `{}`", type, is_date ? "fixed_interval" : "interval"));
  }
  if ((is_histogram || is_date) && !(spec.interval > 0)) {
    return Invalid(name, "the interval must be positive");
  }
  if (spec.kind == AggregationKind::kRange && !has_ranges) {
    return Invalid(name, "`range` requires `ranges`");
  }
  return absl::OkStatus();
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
  return request;
}

}  // namespace shale::query
