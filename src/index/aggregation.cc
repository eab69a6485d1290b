#include "index/aggregation.h"

#include "fmt/format.h"

namespace shale::index {
namespace {

void MergeBucket(const std::vector<AggregationSpec>& sub_specs, IntermediateBucket& into,
                 const IntermediateBucket& from);

template <typename Map>
void MergeBucketMap(const std::vector<AggregationSpec>& sub_specs, Map& into, const Map& from) {
  for (const auto& [key, bucket] : from) {
    auto it = into.find(key);
    if (it == into.end()) {
      into.emplace(key, bucket);
    } else {
      MergeBucket(sub_specs, it->second, bucket);
    }
  }
}

void MergeOne(const AggregationSpec& spec, IntermediateAgg& into, const IntermediateAgg& from) {
  into.metric.Merge(from.metric);
  MergeBucketMap(spec.sub_aggregations, into.text_terms, from.text_terms);
  MergeBucketMap(spec.sub_aggregations, into.numeric_terms, from.numeric_terms);
  MergeBucketMap(spec.sub_aggregations, into.histogram, from.histogram);
  if (into.ranges.size() < from.ranges.size()) {
    into.ranges.resize(from.ranges.size(), MakeEmptyBucket(spec.sub_aggregations));
  }
  for (size_t i = 0; i < from.ranges.size(); ++i) {
    MergeBucket(spec.sub_aggregations, into.ranges[i], from.ranges[i]);
  }
}

void MergeBucket(const std::vector<AggregationSpec>& sub_specs, IntermediateBucket& into,
                 const IntermediateBucket& from) {
  into.doc_count += from.doc_count;
  if (into.sub_aggregations.size() < sub_specs.size()) {
    into.sub_aggregations = MakeEmptyAggs(sub_specs);
  }
  for (size_t i = 0; i < sub_specs.size() && i < from.sub_aggregations.size(); ++i) {
    MergeOne(sub_specs[i], into.sub_aggregations[i], from.sub_aggregations[i]);
  }
}

template <typename Map>
uint64_t CountMapBuckets(const Map& buckets) {
  uint64_t count = 0;
  for (const auto& [key, bucket] : buckets) count += 1 + CountBuckets(bucket.sub_aggregations);
  return count;
}

}  // namespace

bool IsBucketAggregation(AggregationKind kind) {
  switch (kind) {
    case AggregationKind::kTerms:
    case AggregationKind::kHistogram:
    case AggregationKind::kDateHistogram:
    case AggregationKind::kRange:
      return true;
    default:
      return false;
  }
}

const char* AggregationKindName(AggregationKind kind) {
  switch (kind) {
    case AggregationKind::kTerms:
      return "terms";
    case AggregationKind::kHistogram:
      return "histogram";
    case AggregationKind::kDateHistogram:
      return "date_histogram";
    case AggregationKind::kRange:
      return "range";
    case AggregationKind::kAvg:
      return "avg";
    case AggregationKind::kSum:
      return "sum";
    case AggregationKind::kMin:
      return "min";
    case AggregationKind::kMax:
      return "max";
    case AggregationKind::kValueCount:
      return "value_count";
    case AggregationKind::kStats:
      return "stats";
  }
  return "unknown";
}

IntermediateBucket MakeEmptyBucket(const std::vector<AggregationSpec>& sub_specs) {
  IntermediateBucket bucket;
  bucket.sub_aggregations = MakeEmptyAggs(sub_specs);
  return bucket;
}

IntermediateAggs MakeEmptyAggs(const std::vector<AggregationSpec>& specs) {
  IntermediateAggs aggs(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].kind == AggregationKind::kRange) {
      aggs[i].ranges.assign(specs[i].ranges.size(), MakeEmptyBucket(specs[i].sub_aggregations));
    }
  }
  return aggs;
}

uint64_t CountBuckets(const IntermediateAggs& aggs) {
  uint64_t count = 0;
  for (const IntermediateAgg& agg : aggs) {
    count += CountMapBuckets(agg.text_terms) + CountMapBuckets(agg.numeric_terms) +
             CountMapBuckets(agg.histogram);
    for (const IntermediateBucket& bucket : agg.ranges) {
      count += 1 + CountBuckets(bucket.sub_aggregations);
    }
  }
  return count;
}

absl::Status MergeAggs(const std::vector<AggregationSpec>& specs, IntermediateAggs& into,
                       const IntermediateAggs& from) {
  if (into.size() < specs.size()) into = MakeEmptyAggs(specs);
  for (size_t i = 0; i < specs.size() && i < from.size(); ++i) {
    MergeOne(specs[i], into[i], from[i]);
  }
  if (CountBuckets(into) > kMaxAggregationBuckets) {
    return absl::InvalidArgumentError(
        fmt::format("aggregation exceeds {} buckets", kMaxAggregationBuckets));
  }
  return absl::OkStatus();
}

}  // namespace shale::index
