#include "search/aggregation_result.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <utility>

#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"

namespace shale::search {
namespace {

using index::AggregationKind;
using index::AggregationSpec;
using index::IntermediateAgg;
using index::IntermediateBucket;

absl::Status TooManyBuckets() {
  return absl::InvalidArgumentError(
      fmt::format("aggregation exceeds {} buckets", index::kMaxAggregationBuckets));
}

// `value` as a JSON float text: 50 renders "50.0", as Elasticsearch range keys do.
std::string FloatText(double value) { return DumpJson(nlohmann::json(value)); }

absl::StatusOr<nlohmann::json> FinalizeLevel(const std::vector<AggregationSpec>& specs,
                                             const index::IntermediateAggs& aggs);

// A bucket's JSON: doc_count, then the sub-aggregations by name.
absl::StatusOr<nlohmann::json> BucketJson(const AggregationSpec& spec,
                                          const IntermediateBucket& bucket) {
  nlohmann::json json = nlohmann::json::object();
  json["doc_count"] = bucket.doc_count;
  if (!spec.sub_aggregations.empty()) {
    const index::IntermediateAggs empty = index::MakeEmptyAggs(spec.sub_aggregations);
    const index::IntermediateAggs& subs =
        bucket.sub_aggregations.size() == spec.sub_aggregations.size() ? bucket.sub_aggregations
                                                                       : empty;
    ASSIGN_OR_RETURN(nlohmann::json sub_json, FinalizeLevel(spec.sub_aggregations, subs));
    for (auto& [name, value] : sub_json.items()) json[name] = std::move(value);
  }
  return json;
}

nlohmann::json MetricJson(const AggregationSpec& spec, const index::MetricPartial& metric) {
  const bool empty = metric.count == 0;
  const nlohmann::json null_value;
  nlohmann::json json = nlohmann::json::object();
  switch (spec.kind) {
    case AggregationKind::kAvg:
      json["value"] =
          empty ? null_value : nlohmann::json(metric.sum / static_cast<double>(metric.count));
      break;
    case AggregationKind::kSum:
      json["value"] = metric.sum;
      break;
    case AggregationKind::kMin:
      json["value"] = empty ? null_value : nlohmann::json(metric.min);
      break;
    case AggregationKind::kMax:
      json["value"] = empty ? null_value : nlohmann::json(metric.max);
      break;
    case AggregationKind::kValueCount:
      json["value"] = static_cast<double>(metric.count);
      break;
    default:  // stats
      json["count"] = metric.count;
      json["min"] = empty ? null_value : nlohmann::json(metric.min);
      json["max"] = empty ? null_value : nlohmann::json(metric.max);
      json["avg"] =
          empty ? null_value : nlohmann::json(metric.sum / static_cast<double>(metric.count));
      json["sum"] = metric.sum;
      break;
  }
  return json;
}

struct TermBucket {
  nlohmann::json key;
  bool is_text = false;
  std::string text;
  double number = 0;
  const IntermediateBucket* bucket = nullptr;
};

bool KeyLess(const TermBucket& a, const TermBucket& b) {
  if (a.is_text != b.is_text) return !a.is_text;  // numbers before text
  return a.is_text ? a.text < b.text : a.number < b.number;
}

absl::StatusOr<nlohmann::json> TermsJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  std::vector<TermBucket> buckets;
  uint64_t total_docs = 0;
  for (const auto& [key, bucket] : agg.numeric_terms) {
    total_docs += bucket.doc_count;
    if (bucket.doc_count < spec.min_doc_count) continue;
    buckets.push_back({nlohmann::json(key), false, std::string(), key, &bucket});
  }
  for (const auto& [key, bucket] : agg.text_terms) {
    total_docs += bucket.doc_count;
    if (bucket.doc_count < spec.min_doc_count) continue;
    buckets.push_back({nlohmann::json(key), true, key, 0, &bucket});
  }
  std::sort(buckets.begin(), buckets.end(), [&spec](const TermBucket& a, const TermBucket& b) {
    if (spec.order_key == index::TermsOrderKey::kCount &&
        a.bucket->doc_count != b.bucket->doc_count) {
      return spec.order_ascending ? a.bucket->doc_count < b.bucket->doc_count
                                  : a.bucket->doc_count > b.bucket->doc_count;
    }
    if (spec.order_key == index::TermsOrderKey::kKey && !spec.order_ascending) {
      return KeyLess(b, a);
    }
    return KeyLess(a, b);
  });
  if (buckets.size() > spec.size) buckets.resize(spec.size);
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  uint64_t returned_docs = 0;
  for (const TermBucket& term : buckets) {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, *term.bucket));
    bucket_json["key"] = term.key;
    returned_docs += term.bucket->doc_count;
    json["buckets"].push_back(std::move(bucket_json));
  }
  json["doc_count_error_upper_bound"] = 0;
  json["sum_other_doc_count"] = total_docs - returned_docs;
  return json;
}

std::optional<int64_t> BucketIndex(const AggregationSpec& spec, std::optional<double> value) {
  if (!value.has_value()) return std::nullopt;
  const double index = std::floor((*value - spec.offset) / spec.interval);
  if (!(std::fabs(index) < 9.0e18)) return std::nullopt;
  return static_cast<int64_t>(index);
}

absl::StatusOr<nlohmann::json> HistogramJson(const AggregationSpec& spec,
                                             const IntermediateAgg& agg) {
  const bool dates = spec.kind == AggregationKind::kDateHistogram;
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  std::optional<int64_t> lo;
  std::optional<int64_t> hi;
  if (!agg.histogram.empty()) {
    lo = agg.histogram.begin()->first;
    hi = agg.histogram.rbegin()->first;
  }
  if (spec.min_doc_count == 0) {
    // Empty buckets are filled between the bounds, widened by extended_bounds.
    const std::optional<int64_t> bound_lo = BucketIndex(spec, spec.extended_bounds_min);
    const std::optional<int64_t> bound_hi = BucketIndex(spec, spec.extended_bounds_max);
    if (bound_lo.has_value()) lo = lo.has_value() ? std::min(*lo, *bound_lo) : *bound_lo;
    if (bound_hi.has_value()) hi = hi.has_value() ? std::max(*hi, *bound_hi) : *bound_hi;
    if (!lo.has_value() || !hi.has_value()) return json;
    if (*hi >= *lo && static_cast<__int128>(*hi) - *lo + 1 >
                          static_cast<__int128>(index::kMaxAggregationBuckets)) {
      return TooManyBuckets();
    }
  }
  const IntermediateBucket empty = index::MakeEmptyBucket(spec.sub_aggregations);
  auto emit = [&](int64_t bucket_index, const IntermediateBucket& bucket) -> absl::Status {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, bucket));
    const double key = static_cast<double>(bucket_index) * spec.interval + spec.offset;
    bucket_json["key"] = key;
    if (dates) bucket_json["key_as_string"] = FormatEpochMillis(static_cast<int64_t>(key));
    json["buckets"].push_back(std::move(bucket_json));
    return absl::OkStatus();
  };
  if (spec.min_doc_count == 0) {
    for (int64_t i = *lo; i <= *hi; ++i) {
      auto it = agg.histogram.find(i);
      RETURN_IF_ERROR(emit(i, it == agg.histogram.end() ? empty : it->second));
      if (i == INT64_MAX) break;
    }
  } else {
    for (const auto& [bucket_index, bucket] : agg.histogram) {
      if (bucket.doc_count >= spec.min_doc_count) RETURN_IF_ERROR(emit(bucket_index, bucket));
    }
  }
  return json;
}

absl::StatusOr<nlohmann::json> RangeJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  const IntermediateBucket empty = index::MakeEmptyBucket(spec.sub_aggregations);
  for (size_t i = 0; i < spec.ranges.size(); ++i) {
    const index::AggregationRange& range = spec.ranges[i];
    const IntermediateBucket& bucket = i < agg.ranges.size() ? agg.ranges[i] : empty;
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, bucket));
    if (range.key.has_value()) {
      bucket_json["key"] = *range.key;
    } else {
      bucket_json["key"] = fmt::format("{}-{}", range.from ? FloatText(*range.from) : "*",
                                       range.to ? FloatText(*range.to) : "*");
    }
    if (range.from.has_value()) bucket_json["from"] = *range.from;
    if (range.to.has_value()) bucket_json["to"] = *range.to;
    json["buckets"].push_back(std::move(bucket_json));
  }
  return json;
}

absl::StatusOr<nlohmann::json> FinalizeLevel(const std::vector<AggregationSpec>& specs,
                                             const index::IntermediateAggs& aggs) {
  nlohmann::json json = nlohmann::json::object();
  const index::IntermediateAggs empty = index::MakeEmptyAggs(specs);
  const index::IntermediateAggs& source = aggs.size() == specs.size() ? aggs : empty;
  for (size_t i = 0; i < specs.size(); ++i) {
    const AggregationSpec& spec = specs[i];
    switch (spec.kind) {
      case AggregationKind::kTerms: {
        ASSIGN_OR_RETURN(json[spec.name], TermsJson(spec, source[i]));
        break;
      }
      case AggregationKind::kHistogram:
      case AggregationKind::kDateHistogram: {
        ASSIGN_OR_RETURN(json[spec.name], HistogramJson(spec, source[i]));
        break;
      }
      case AggregationKind::kRange: {
        ASSIGN_OR_RETURN(json[spec.name], RangeJson(spec, source[i]));
        break;
      }
      default:
        json[spec.name] = MetricJson(spec, source[i].metric);
        break;
    }
  }
  return json;
}

// Buckets of a rendered aggregations object, nested ones included.
uint64_t CountRenderedBuckets(const nlohmann::json& level) {
  uint64_t count = 0;
  for (const auto& [name, agg] : level.items()) {
    if (!agg.is_object()) continue;
    auto buckets = agg.find("buckets");
    if (buckets == agg.end() || !buckets->is_array()) continue;
    count += buckets->size();
    for (const nlohmann::json& bucket : *buckets) count += CountRenderedBuckets(bucket);
  }
  return count;
}

}  // namespace

std::string FormatEpochMillis(int64_t millis) {
  int64_t seconds = millis / 1000;
  int64_t remainder = millis % 1000;
  if (remainder < 0) {
    remainder += 1000;
    --seconds;
  }
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  if (gmtime_r(&time, &parts) == nullptr) return std::to_string(millis);
  std::string text =
      fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  if (remainder != 0) text += fmt::format(".{:03d}", remainder);
  return text + "Z";
}

absl::StatusOr<nlohmann::json> FinalizeAggregations(
    const std::vector<index::AggregationSpec>& specs, const index::IntermediateAggs& aggs) {
  ASSIGN_OR_RETURN(nlohmann::json json, FinalizeLevel(specs, aggs));
  // Filling empty histogram buckets under many parent buckets can multiply the bucket count.
  if (CountRenderedBuckets(json) > index::kMaxAggregationBuckets) return TooManyBuckets();
  return json;
}

}  // namespace shale::search
