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

using index::AggKey;
using index::AggKeyType;
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

const nlohmann::json kNull;

nlohmann::json OrNull(bool present, double value) {
  return present && std::isfinite(value) ? nlohmann::json(value) : kNull;
}

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

// ---- metrics ----

nlohmann::json ExtendedStatsJson(const AggregationSpec& spec, const index::MetricPartial& m) {
  const bool empty = m.count == 0;
  const double n = static_cast<double>(m.count);
  const double avg = empty ? 0 : m.sum / n;
  const double variance = empty ? 0 : std::max(0.0, m.sum_of_squares / n - avg * avg);
  const bool has_sampling = m.count > 1;
  const double variance_sampling =
      has_sampling ? std::max(0.0, (m.sum_of_squares - n * avg * avg) / (n - 1)) : 0;
  const double std_deviation = std::sqrt(variance);
  const double std_deviation_sampling = std::sqrt(variance_sampling);
  nlohmann::json json = nlohmann::json::object();
  json["count"] = m.count;
  json["min"] = OrNull(!empty, m.min);
  json["max"] = OrNull(!empty, m.max);
  json["avg"] = OrNull(!empty, avg);
  json["sum"] = m.sum;
  json["sum_of_squares"] = OrNull(!empty, m.sum_of_squares);
  json["variance"] = OrNull(!empty, variance);
  json["variance_population"] = OrNull(!empty, variance);
  json["variance_sampling"] = OrNull(has_sampling, variance_sampling);
  json["std_deviation"] = OrNull(!empty, std_deviation);
  json["std_deviation_population"] = OrNull(!empty, std_deviation);
  json["std_deviation_sampling"] = OrNull(has_sampling, std_deviation_sampling);
  json["std_deviation_bounds"] = {
      {"upper", OrNull(!empty, avg + spec.sigma * std_deviation)},
      {"lower", OrNull(!empty, avg - spec.sigma * std_deviation)},
      {"upper_population", OrNull(!empty, avg + spec.sigma * std_deviation)},
      {"lower_population", OrNull(!empty, avg - spec.sigma * std_deviation)},
      {"upper_sampling", OrNull(has_sampling, avg + spec.sigma * std_deviation_sampling)},
      {"lower_sampling", OrNull(has_sampling, avg - spec.sigma * std_deviation_sampling)},
  };
  return json;
}

nlohmann::json PercentilesJson(const AggregationSpec& spec, const index::QuantileSketch& sketch) {
  nlohmann::json values = spec.keyed ? nlohmann::json::object() : nlohmann::json::array();
  for (double percent : spec.percents) {
    const std::optional<double> quantile = sketch.Quantile(percent / 100.0);
    const nlohmann::json value = quantile.has_value() ? nlohmann::json(*quantile) : kNull;
    if (spec.keyed) {
      values[FloatText(percent)] = value;
    } else {
      values.push_back({{"key", percent}, {"value", value}});
    }
  }
  return {{"values", std::move(values)}};
}

nlohmann::json KeyJson(const AggKey& key);
std::optional<std::string> KeyAsString(const AggKey& key);

// The parts of `source` at the dotted `paths` (an object path keeps the whole object).
nlohmann::json FilterSource(const nlohmann::json& source, const std::vector<std::string>& paths) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& path : paths) {
    const nlohmann::json* from = &source;
    nlohmann::json* to = &out;
    size_t start = 0;
    while (from != nullptr) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
      if (!from->is_object() || !from->contains(part)) {
        from = nullptr;
        break;
      }
      from = &(*from)[part];
      if (dot == std::string::npos) {
        (*to)[part] = *from;
        break;
      }
      if (!to->contains(part)) (*to)[part] = nlohmann::json::object();
      to = &(*to)[part];
      start = dot + 1;
    }
  }
  return out;
}

nlohmann::json TopHitsJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  nlohmann::json hits = nlohmann::json::array();
  const size_t end = std::min<size_t>(agg.top_hits.size(), size_t{spec.from} + spec.size);
  for (size_t i = spec.from; i < end; ++i) {
    const index::TopHit& hit = agg.top_hits[i];
    nlohmann::json entry = {{"_score", kNull}};
    if (spec.include_source && !hit.source.empty()) {
      nlohmann::json source = nlohmann::json::parse(hit.source, nullptr, false);
      if (!source.is_discarded()) {
        entry["_source"] = spec.source_includes.empty()
                               ? std::move(source)
                               : FilterSource(source, spec.source_includes);
      }
    }
    if (!spec.sort.empty()) {
      nlohmann::json sort = nlohmann::json::array();
      for (const AggKey& key : hit.sort_values) sort.push_back(KeyJson(key));
      entry["sort"] = std::move(sort);
    }
    if (!spec.docvalue_fields.empty()) {
      nlohmann::json fields = nlohmann::json::object();
      for (size_t f = 0; f < spec.docvalue_fields.size() && f < hit.docvalues.size(); ++f) {
        if (hit.docvalues[f].empty()) continue;
        nlohmann::json values = nlohmann::json::array();
        for (const AggKey& key : hit.docvalues[f]) {
          std::optional<std::string> text = KeyAsString(key);
          values.push_back(text.has_value() ? nlohmann::json(*text) : KeyJson(key));
        }
        fields[spec.docvalue_fields[f]] = std::move(values);
      }
      entry["fields"] = std::move(fields);
    }
    hits.push_back(std::move(entry));
  }
  return {{"hits",
           {{"total", {{"value", agg.metric.count}, {"relation", "eq"}}},
            {"max_score", kNull},
            {"hits", std::move(hits)}}}};
}

nlohmann::json MetricJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  const index::MetricPartial& metric = agg.metric;
  const bool empty = metric.count == 0;
  nlohmann::json json = nlohmann::json::object();
  switch (spec.kind) {
    case AggregationKind::kAvg:
      json["value"] = OrNull(!empty, metric.sum / static_cast<double>(metric.count));
      break;
    case AggregationKind::kSum:
      json["value"] = metric.sum;
      break;
    case AggregationKind::kMin:
      json["value"] = OrNull(!empty, metric.min);
      break;
    case AggregationKind::kMax:
      json["value"] = OrNull(!empty, metric.max);
      break;
    case AggregationKind::kValueCount:
      json["value"] = static_cast<double>(metric.count);
      break;
    case AggregationKind::kCardinality:
      json["value"] = static_cast<double>(agg.cardinality.Estimate());
      break;
    case AggregationKind::kPercentiles:
      return PercentilesJson(spec, agg.percentiles);
    case AggregationKind::kTopHits:
      return TopHitsJson(spec, agg);
    case AggregationKind::kExtendedStats:
      return ExtendedStatsJson(spec, metric);
    default:  // stats
      json["count"] = metric.count;
      json["min"] = OrNull(!empty, metric.min);
      json["max"] = OrNull(!empty, metric.max);
      json["avg"] = OrNull(!empty, metric.sum / static_cast<double>(metric.count));
      json["sum"] = metric.sum;
      break;
  }
  return json;
}

// The value of metric sub-aggregation `path` ("name" or "name.property") of a bucket, for
// ordering by it; nullopt when absent (such buckets sort last).
std::optional<double> MetricValue(const AggregationSpec& spec, const IntermediateBucket& bucket) {
  const std::string& path = spec.order_metric;
  const size_t dot = path.find('.');
  const std::string name = path.substr(0, dot);
  const std::string property = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (size_t i = 0; i < spec.sub_aggregations.size() && i < bucket.sub_aggregations.size(); ++i) {
    if (spec.sub_aggregations[i].name != name) continue;
    const nlohmann::json json = MetricJson(spec.sub_aggregations[i], bucket.sub_aggregations[i]);
    const nlohmann::json* value = nullptr;
    if (property.empty()) {
      if (json.contains("value")) value = &json["value"];
    } else if (json.contains(property)) {
      value = &json[property];
    } else if (json.contains("values") && json["values"].is_object() &&
               json["values"].contains(property)) {
      value = &json["values"][property];
    }
    if (value == nullptr || !value->is_number()) return std::nullopt;
    return value->get<double>();
  }
  return std::nullopt;
}

// ---- keys ----

nlohmann::json KeyJson(const AggKey& key) {
  switch (key.type) {
    case AggKeyType::kNull:
      return kNull;
    case AggKeyType::kI64:
    case AggKeyType::kDatetime:
      return key.i64();
    case AggKeyType::kU64:
    case AggKeyType::kBool:
      return key.bits;
    case AggKeyType::kF64:
      return OrNull(true, key.f64());
    case AggKeyType::kText:
      return key.text;
  }
  return kNull;
}

// `key_as_string` of keys that render as numbers but read as text (dates, booleans).
std::optional<std::string> KeyAsString(const AggKey& key) {
  if (key.type == AggKeyType::kDatetime) return FormatEpochMillis(key.i64());
  if (key.type == AggKeyType::kBool) return std::string(key.bits != 0 ? "true" : "false");
  return std::nullopt;
}

std::string KeyText(const AggKey& key) {
  if (std::optional<std::string> text = KeyAsString(key)) return *text;
  if (key.is_text()) return key.text;
  if (key.is_null()) return "null";
  return DumpJson(KeyJson(key));
}

// ---- terms and multi_terms ----

template <typename Key>
struct TermBucket {
  const Key* key = nullptr;
  const IntermediateBucket* bucket = nullptr;
  std::optional<double> metric;  // order by a metric sub-aggregation
};

template <typename Key>
void SortTermBuckets(const AggregationSpec& spec, std::vector<TermBucket<Key>>& buckets) {
  std::sort(buckets.begin(), buckets.end(),
            [&spec](const TermBucket<Key>& a, const TermBucket<Key>& b) {
              switch (spec.order_key) {
                case index::TermsOrderKey::kCount:
                  if (a.bucket->doc_count != b.bucket->doc_count) {
                    return spec.order_ascending ? a.bucket->doc_count < b.bucket->doc_count
                                                : a.bucket->doc_count > b.bucket->doc_count;
                  }
                  break;
                case index::TermsOrderKey::kKey:
                  if (*a.key != *b.key) {
                    return spec.order_ascending ? *a.key < *b.key : *b.key < *a.key;
                  }
                  break;
                case index::TermsOrderKey::kMetric:
                  if (a.metric.has_value() != b.metric.has_value()) return a.metric.has_value();
                  if (a.metric.has_value() && *a.metric != *b.metric) {
                    const double value_a = *a.metric;
                    const double value_b = *b.metric;
                    return spec.order_ascending ? value_a < value_b : value_a > value_b;
                  }
                  break;
              }
              return *a.key < *b.key;
            });
}

template <typename Map, typename RenderKey>
absl::StatusOr<nlohmann::json> TermsLikeJson(const AggregationSpec& spec,
                                             const IntermediateAgg& agg, const Map& map,
                                             RenderKey&& render_key) {
  using Key = typename Map::key_type;
  std::vector<TermBucket<Key>> buckets;
  uint64_t total_docs = agg.sum_other_doc_count;
  for (const auto& [key, bucket] : map) {
    total_docs += bucket.doc_count;
    if (bucket.doc_count < spec.min_doc_count) continue;
    TermBucket<Key> term{&key, &bucket, std::nullopt};
    if (spec.order_key == index::TermsOrderKey::kMetric) term.metric = MetricValue(spec, bucket);
    buckets.push_back(term);
  }
  SortTermBuckets(spec, buckets);
  if (buckets.size() > spec.size) buckets.resize(spec.size);
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  uint64_t returned_docs = 0;
  for (const TermBucket<Key>& term : buckets) {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, *term.bucket));
    render_key(*term.key, bucket_json);
    if (spec.show_term_doc_count_error) {
      bucket_json["doc_count_error_upper_bound"] = term.bucket->doc_count_error;
    }
    returned_docs += term.bucket->doc_count;
    json["buckets"].push_back(std::move(bucket_json));
  }
  json["doc_count_error_upper_bound"] = agg.doc_count_error_upper_bound;
  json["sum_other_doc_count"] = total_docs - returned_docs;
  return json;
}

absl::StatusOr<nlohmann::json> TermsJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  return TermsLikeJson(spec, agg, agg.terms, [](const AggKey& key, nlohmann::json& bucket) {
    bucket["key"] = KeyJson(key);
    if (std::optional<std::string> text = KeyAsString(key)) bucket["key_as_string"] = *text;
  });
}

absl::StatusOr<nlohmann::json> MultiTermsJson(const AggregationSpec& spec,
                                              const IntermediateAgg& agg) {
  return TermsLikeJson(spec, agg, agg.keyed,
                       [](const std::vector<AggKey>& key, nlohmann::json& bucket) {
                         nlohmann::json parts = nlohmann::json::array();
                         std::string text;
                         for (size_t i = 0; i < key.size(); ++i) {
                           parts.push_back(KeyJson(key[i]));
                           if (i > 0) text += '|';
                           text += KeyText(key[i]);
                         }
                         bucket["key"] = std::move(parts);
                         bucket["key_as_string"] = std::move(text);
                       });
}

// ---- composite ----

nlohmann::json CompositeKeyJson(const AggregationSpec& spec, const std::vector<AggKey>& key) {
  nlohmann::json json = nlohmann::json::object();
  for (size_t i = 0; i < key.size() && i < spec.sources.size(); ++i) {
    json[spec.sources[i].name] = KeyJson(key[i]);
  }
  return json;
}

absl::StatusOr<nlohmann::json> CompositeJson(const AggregationSpec& spec,
                                             const IntermediateAgg& agg) {
  std::vector<std::pair<const std::vector<AggKey>*, const IntermediateBucket*>> buckets;
  for (const auto& [key, bucket] : agg.keyed) {
    if (spec.after.has_value() && !index::CompositeKeyLess(spec, *spec.after, key)) continue;
    buckets.emplace_back(&key, &bucket);
  }
  std::sort(buckets.begin(), buckets.end(), [&spec](const auto& a, const auto& b) {
    return index::CompositeKeyLess(spec, *a.first, *b.first);
  });
  if (buckets.size() > spec.size) buckets.resize(spec.size);
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  for (const auto& [key, bucket] : buckets) {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, *bucket));
    bucket_json["key"] = CompositeKeyJson(spec, *key);
    json["buckets"].push_back(std::move(bucket_json));
  }
  if (!buckets.empty()) json["after_key"] = CompositeKeyJson(spec, *buckets.back().first);
  return json;
}

// ---- histograms ----

std::optional<int64_t> BucketIndex(const AggregationSpec& spec, std::optional<double> value) {
  if (!value.has_value()) return std::nullopt;
  const double index = std::floor((*value - spec.offset) / spec.interval);
  if (!(std::fabs(index) < 9.0e18)) return std::nullopt;
  return static_cast<int64_t>(index);
}

std::optional<int64_t> DateBucket(const index::DateRounding& rounding,
                                  std::optional<double> millis) {
  if (!millis.has_value() || !(std::fabs(*millis) < 9.0e15)) return std::nullopt;
  return rounding.BucketStart(static_cast<int64_t>(std::floor(*millis)));
}

absl::StatusOr<nlohmann::json> HistogramJson(const AggregationSpec& spec,
                                             const IntermediateAgg& agg) {
  const bool dates = spec.kind == AggregationKind::kDateHistogram;
  std::optional<index::DateRounding> rounding;
  if (dates) {
    ASSIGN_OR_RETURN(rounding, index::DateRounding::Create(spec.date_interval));
  }
  auto bucket_of = [&](std::optional<double> value) {
    return dates ? DateBucket(*rounding, value) : BucketIndex(spec, value);
  };
  auto next = [&](int64_t key) -> std::optional<int64_t> {
    if (dates) return rounding->NextBucketStart(key);
    if (key == INT64_MAX) return std::nullopt;
    return key + 1;
  };
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  std::optional<int64_t> lo;
  std::optional<int64_t> hi;
  if (!agg.histogram.empty()) {
    lo = agg.histogram.begin()->first;
    hi = agg.histogram.rbegin()->first;
  }
  if (spec.min_doc_count == 0) {
    // Empty buckets are filled between the bounds, widened by extended_bounds, clamped by
    // hard_bounds.
    const std::optional<int64_t> bound_lo = bucket_of(spec.extended_bounds_min);
    const std::optional<int64_t> bound_hi = bucket_of(spec.extended_bounds_max);
    if (bound_lo.has_value()) lo = lo.has_value() ? std::min(*lo, *bound_lo) : *bound_lo;
    if (bound_hi.has_value()) hi = hi.has_value() ? std::max(*hi, *bound_hi) : *bound_hi;
    const std::optional<int64_t> hard_lo = bucket_of(spec.hard_bounds_min);
    const std::optional<int64_t> hard_hi = bucket_of(spec.hard_bounds_max);
    if (lo.has_value() && hard_lo.has_value()) lo = std::max(*lo, *hard_lo);
    if (hi.has_value() && hard_hi.has_value()) hi = std::min(*hi, *hard_hi);
    if (!lo.has_value() || !hi.has_value()) return json;
    if (!dates && *hi >= *lo &&
        static_cast<__int128>(*hi) - *lo + 1 >
            static_cast<__int128>(index::kMaxAggregationBuckets)) {
      return TooManyBuckets();
    }
  }
  const IntermediateBucket empty = index::MakeEmptyBucket(spec.sub_aggregations);
  auto emit = [&](int64_t key, const IntermediateBucket& bucket) -> absl::Status {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, bucket));
    if (dates) {
      bucket_json["key"] = static_cast<double>(key);
      bucket_json["key_as_string"] = FormatEpochMillis(key, rounding->UtcOffsetSeconds(key));
    } else {
      bucket_json["key"] = static_cast<double>(key) * spec.interval + spec.offset;
    }
    json["buckets"].push_back(std::move(bucket_json));
    return absl::OkStatus();
  };
  if (spec.min_doc_count == 0) {
    uint64_t emitted = 0;
    for (std::optional<int64_t> key = lo; key.has_value() && *key <= *hi; key = next(*key)) {
      if (++emitted > index::kMaxAggregationBuckets) return TooManyBuckets();
      auto it = agg.histogram.find(*key);
      RETURN_IF_ERROR(emit(*key, it == agg.histogram.end() ? empty : it->second));
    }
  } else {
    for (const auto& [key, bucket] : agg.histogram) {
      if (bucket.doc_count >= spec.min_doc_count) RETURN_IF_ERROR(emit(key, bucket));
    }
  }
  return json;
}

// ---- fixed buckets ----

absl::StatusOr<nlohmann::json> RangeJson(const AggregationSpec& spec, const IntermediateAgg& agg) {
  nlohmann::json json = nlohmann::json::object();
  json["buckets"] = nlohmann::json::array();
  const IntermediateBucket empty = index::MakeEmptyBucket(spec.sub_aggregations);
  for (size_t i = 0; i < spec.ranges.size(); ++i) {
    const index::AggregationRange& range = spec.ranges[i];
    const IntermediateBucket& bucket = i < agg.fixed_buckets.size() ? agg.fixed_buckets[i] : empty;
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

absl::StatusOr<nlohmann::json> FiltersJson(const AggregationSpec& spec,
                                           const IntermediateAgg& agg) {
  const IntermediateBucket empty = index::MakeEmptyBucket(spec.sub_aggregations);
  auto bucket_at = [&](size_t i) -> const IntermediateBucket& {
    return i < agg.fixed_buckets.size() ? agg.fixed_buckets[i] : empty;
  };
  if (spec.kind == AggregationKind::kFilter) return BucketJson(spec, bucket_at(0));
  const bool anonymous = !spec.filters.empty() && spec.filters[0].key.empty();
  const bool as_object = spec.keyed && !anonymous;
  nlohmann::json buckets = as_object ? nlohmann::json::object() : nlohmann::json::array();
  const size_t count = spec.filters.size() + (spec.other_bucket ? 1 : 0);
  for (size_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(nlohmann::json bucket_json, BucketJson(spec, bucket_at(i)));
    const std::string& key = i < spec.filters.size() ? spec.filters[i].key : spec.other_bucket_key;
    if (as_object) {
      buckets[key] = std::move(bucket_json);
    } else {
      if (!anonymous) bucket_json["key"] = key;
      buckets.push_back(std::move(bucket_json));
    }
  }
  return nlohmann::json{{"buckets", std::move(buckets)}};
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
      case AggregationKind::kMultiTerms: {
        ASSIGN_OR_RETURN(json[spec.name], MultiTermsJson(spec, source[i]));
        break;
      }
      case AggregationKind::kComposite: {
        ASSIGN_OR_RETURN(json[spec.name], CompositeJson(spec, source[i]));
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
      case AggregationKind::kFilter:
      case AggregationKind::kFilters: {
        ASSIGN_OR_RETURN(json[spec.name], FiltersJson(spec, source[i]));
        break;
      }
      default:
        json[spec.name] = MetricJson(spec, source[i]);
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
    if (buckets == agg.end() || !(buckets->is_array() || buckets->is_object())) {
      if (agg.contains("doc_count")) count += CountRenderedBuckets(agg);  // filter
      continue;
    }
    count += buckets->size();
    for (const auto& [key, bucket] : buckets->items()) count += CountRenderedBuckets(bucket);
  }
  return count;
}

}  // namespace

std::string FormatEpochMillis(int64_t millis) { return FormatEpochMillis(millis, 0); }

std::string FormatEpochMillis(int64_t millis, int64_t utc_offset_seconds) {
  const int64_t local = millis + utc_offset_seconds * 1000;
  int64_t seconds = local / 1000;
  int64_t remainder = local % 1000;
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
  if (utc_offset_seconds == 0) return text + "Z";
  const int64_t offset_minutes = std::abs(utc_offset_seconds) / 60;
  return text + fmt::format("{}{:02d}:{:02d}", utc_offset_seconds < 0 ? '-' : '+',
                            offset_minutes / 60, offset_minutes % 60);
}

absl::StatusOr<nlohmann::json> FinalizeAggregations(
    const std::vector<index::AggregationSpec>& specs, const index::IntermediateAggs& aggs) {
  ASSIGN_OR_RETURN(nlohmann::json json, FinalizeLevel(specs, aggs));
  // Filling empty histogram buckets under many parent buckets can multiply the bucket count.
  if (CountRenderedBuckets(json) > index::kMaxAggregationBuckets) return TooManyBuckets();
  return json;
}

}  // namespace shale::search
