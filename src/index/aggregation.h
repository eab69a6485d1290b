// Aggregations (Elasticsearch semantics) on one split, and their exact merge across splits.
//
// An AggregationRequest is a list of named AggregationSpec; bucket specs may nest sub-aggregations.
// SplitReader::Aggregate returns IntermediateAggs: one IntermediateAgg per spec, in request order,
// holding exact per-bucket doc counts and metric partials (count, sum, min, max), so merging the
// intermediate results of several splits gives the same result as one split holding all docs.
// Finalization (sorting, size, empty buckets, rendering) belongs to the caller (search/).
//
// Values: numeric fields aggregate as doubles; datetime fields in epoch milliseconds; text fields
// by term (terms aggregation only; metrics and histograms skip text values).
//
// Thread safety: plain values; no shared state.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace shale::index {

// A split's or a merged result's bucket count above this is InvalidArgument.
inline constexpr uint64_t kMaxAggregationBuckets = 65'000;

enum class AggregationKind {
  kTerms,
  kHistogram,
  kDateHistogram,
  kRange,
  kAvg,
  kSum,
  kMin,
  kMax,
  kValueCount,
  kStats,
};

// True for terms, histogram, date_histogram and range.
bool IsBucketAggregation(AggregationKind kind);
// "terms", "histogram", ..., "stats".
const char* AggregationKindName(AggregationKind kind);

enum class TermsOrderKey { kCount, kKey };

struct AggregationRange {
  std::optional<double> from;  // inclusive
  std::optional<double> to;    // exclusive
  std::optional<std::string> key;
};

struct AggregationSpec {
  std::string name;
  AggregationKind kind = AggregationKind::kTerms;
  std::string field;

  // terms
  uint32_t size = 10;
  TermsOrderKey order_key = TermsOrderKey::kCount;
  bool order_ascending = false;
  // terms: default 1; histograms: default 0 (empty buckets are filled).
  uint64_t min_doc_count = 1;
  // terms: the key under which docs without a value are counted.
  std::optional<std::string> missing_text;
  std::optional<double> missing_number;

  // histogram and date_histogram (date_histogram: milliseconds). Bucket of value v:
  // floor((v - offset) / interval); its key is index * interval + offset.
  double interval = 1;
  double offset = 0;
  std::optional<double> extended_bounds_min;
  std::optional<double> extended_bounds_max;

  // range
  std::vector<AggregationRange> ranges;

  std::vector<AggregationSpec> sub_aggregations;
};

struct AggregationRequest {
  std::vector<AggregationSpec> aggregations;
};

// Partial state of a metric: exact under merge (sum is a double sum, merged by addition).
struct MetricPartial {
  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Add(double value) {
    ++count;
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  void Merge(const MetricPartial& other) {
    count += other.count;
    sum += other.sum;
    if (other.min < min) min = other.min;
    if (other.max > max) max = other.max;
  }
};

struct IntermediateAgg;

struct IntermediateBucket {
  uint64_t doc_count = 0;
  std::vector<IntermediateAgg> sub_aggregations;  // one per sub spec, in spec order
};

// The intermediate result of one AggregationSpec. Only the members of its kind are used.
struct IntermediateAgg {
  MetricPartial metric;                                  // metric kinds
  std::map<std::string, IntermediateBucket> text_terms;  // terms on text values
  std::map<double, IntermediateBucket> numeric_terms;    // terms on numeric values
  std::map<int64_t, IntermediateBucket> histogram;       // bucket index -> bucket
  std::vector<IntermediateBucket> ranges;                // one per range, in spec order
};

using IntermediateAggs = std::vector<IntermediateAgg>;

// The empty intermediate result of `specs` (range buckets allocated, maps empty).
IntermediateAggs MakeEmptyAggs(const std::vector<AggregationSpec>& specs);

// A bucket with zero docs and empty sub-aggregations for `sub_specs`.
IntermediateBucket MakeEmptyBucket(const std::vector<AggregationSpec>& sub_specs);

// Total number of buckets of `aggs`, nested ones included.
uint64_t CountBuckets(const IntermediateAggs& aggs);

// Merges `from` into `into`; both must have the shape of `specs`. InvalidArgument
// "aggregation exceeds 65000 buckets" when the merged result holds more than
// kMaxAggregationBuckets buckets.
absl::Status MergeAggs(const std::vector<AggregationSpec>& specs, IntermediateAggs& into,
                       const IntermediateAggs& from);

}  // namespace shale::index
