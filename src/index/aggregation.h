// Aggregations (Elasticsearch / Quickwit semantics) on one split, and the merge of their
// intermediate results across splits.
//
// An AggregationRequest is a list of named AggregationSpec; bucket specs may nest
// sub-aggregations. SplitReader::Aggregate (or Search with an aggregation) returns
// IntermediateAggs: one IntermediateAgg per spec, in request order. Merging the intermediate
// results of several splits gives the result of one split holding all their docs, except where a
// request asks for truncation:
//   * terms and multi_terms keep, per split and again per leaf (CutOffAggs), only the
//     `shard_size` best buckets when ordered by count; the docs of the dropped buckets go to
//     `sum_other_doc_count` and the largest dropped count to `doc_count_error_upper_bound`
//     (Quickwit's per-split and per-leaf cut-offs);
//   * composite keeps the first `size` buckets after `after`, which is exact;
//   * cardinality and percentiles are sketches (HyperLogLog++ and DDSketch) whose merge equals
//     the sketch of all the values; their estimates carry the sketch's error.
// Finalization (sorting, size, empty buckets, rendering) belongs to the caller (search/).
//
// Values: numeric fields aggregate as doubles in metrics; datetime fields in epoch
// milliseconds. Bucket keys keep the field's type (AggKey), so u64 and i64 keys are exact.
//
// Thread safety: plain values, except AggregationMemoryBudget which is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "index/cardinality_sketch.h"
#include "index/quantile_sketch.h"
#include "index/query.h"

namespace shale::index {

// A split's or a merged result's bucket count above this is InvalidArgument.
inline constexpr uint64_t kMaxAggregationBuckets = 65'000;
// Default of `searcher.aggregation_memory_limit` (Quickwit's default).
inline constexpr uint64_t kDefaultAggregationMemoryLimitBytes = 500'000'000;

enum class AggregationKind {
  kTerms,
  kHistogram,
  kDateHistogram,
  kRange,
  kFilter,
  kFilters,
  kComposite,
  kMultiTerms,
  kAvg,
  kSum,
  kMin,
  kMax,
  kValueCount,
  kStats,
  kExtendedStats,
  kCardinality,
  kPercentiles,
  kTopHits,
};

// True for terms, histogram, date_histogram, range, filter, filters, composite, multi_terms.
// (top_hits is a metric: it has no sub-aggregations.)
bool IsBucketAggregation(AggregationKind kind);
// "terms", "histogram", ..., "percentiles".
const char* AggregationKindName(AggregationKind kind);

// ---------------------------------------------------------------------------------------------
// Bucket keys.

// PERSISTED order (intermediate results may cross processes): never renumber.
enum class AggKeyType : uint8_t { kNull = 0, kI64, kU64, kF64, kBool, kDatetime, kText };

// One typed bucket key: a term of a terms / multi_terms bucket or one component of a composite
// key. Datetimes are epoch milliseconds. Numbers of different types order by value (ties by
// type), after null and before text.
struct AggKey {
  AggKeyType type = AggKeyType::kNull;
  // kI64 and kDatetime: the int64 value's bits; kU64 and kBool: the value; kF64: IEEE bits.
  uint64_t bits = 0;
  std::string text;  // kText

  static AggKey Null() { return AggKey(); }
  static AggKey I64(int64_t value) { return {AggKeyType::kI64, static_cast<uint64_t>(value), {}}; }
  static AggKey U64(uint64_t value) { return {AggKeyType::kU64, value, {}}; }
  static AggKey F64(double value);
  static AggKey Bool(bool value) { return {AggKeyType::kBool, value ? 1u : 0u, {}}; }
  static AggKey Datetime(int64_t millis) {
    return {AggKeyType::kDatetime, static_cast<uint64_t>(millis), {}};
  }
  static AggKey Text(std::string value) { return {AggKeyType::kText, 0, std::move(value)}; }

  bool is_null() const { return type == AggKeyType::kNull; }
  bool is_text() const { return type == AggKeyType::kText; }
  bool is_number() const { return !is_null() && !is_text(); }
  int64_t i64() const { return static_cast<int64_t>(bits); }
  double f64() const;
  // The numeric value as a double (0 for null and text).
  double AsDouble() const;
  // Heap and inline bytes, for the memory budget.
  uint64_t MemoryBytes() const { return sizeof(AggKey) + text.capacity(); }
};

// Total order: null < numbers (by value, NaN last, ties by type) < text (bytewise).
int CompareAggKeys(const AggKey& a, const AggKey& b);
// Same, but numbers of different types with the same value compare equal (composite `after`).
int CompareAggKeyValues(const AggKey& a, const AggKey& b);
inline bool operator<(const AggKey& a, const AggKey& b) { return CompareAggKeys(a, b) < 0; }
inline bool operator==(const AggKey& a, const AggKey& b) { return CompareAggKeys(a, b) == 0; }
inline bool operator!=(const AggKey& a, const AggKey& b) { return !(a == b); }

// ---------------------------------------------------------------------------------------------
// Date rounding (date_histogram and composite date_histogram sources).

enum class CalendarUnit { kNone, kMinute, kHour, kDay, kWeek, kMonth, kQuarter, kYear };

// "minute", "hour", ..., "year"; "" for kNone.
const char* CalendarUnitName(CalendarUnit unit);

// Buckets of a date histogram. With a calendar unit, buckets start at the unit's boundaries in
// the time zone (weeks on Mondays, quarters in January, April, July and October), shifted by
// `offset`; otherwise every `fixed_interval` from the epoch in the zone's local time, shifted by
// `offset`. All values are epoch milliseconds.
struct DateInterval {
  CalendarUnit calendar = CalendarUnit::kNone;
  int64_t fixed_interval_millis = 0;  // > 0 when calendar == kNone
  int64_t offset_millis = 0;
  std::string time_zone;  // "" (UTC), a fixed offset "+01:00" / "-0530", or an IANA name
};

// A DateInterval resolved for computing bucket bounds.
class DateRounding {
 public:
  // InvalidArgument "unknown time zone `X`" for a time zone absl cannot load, and for a fixed
  // interval that is not positive.
  static absl::StatusOr<DateRounding> Create(const DateInterval& interval);

  // Start of the bucket holding `millis`.
  int64_t BucketStart(int64_t millis) const;
  // Start of the bucket after the one starting at `bucket_start`. Always > bucket_start.
  int64_t NextBucketStart(int64_t bucket_start) const;
  // The zone's UTC offset at `millis`, in seconds.
  int64_t UtcOffsetSeconds(int64_t millis) const;
  bool utc() const { return utc_; }

 private:
  DateInterval interval_;
  absl::TimeZone zone_;
  bool utc_ = true;
};

// Parses a time zone as Elasticsearch accepts it: "UTC", "Z", "+01:00", "-0530", "+1", or an
// IANA name ("Europe/Paris"). InvalidArgument "unknown time zone `X`".
absl::StatusOr<absl::TimeZone> ParseTimeZone(const std::string& name);

// ---------------------------------------------------------------------------------------------
// Specs.

enum class TermsOrderKey { kCount, kKey, kMetric };

struct AggregationRange {
  std::optional<double> from;  // inclusive
  std::optional<double> to;    // exclusive
  std::optional<std::string> key;
};

// One filter of a filter / filters aggregation: the query in Quickwit's query language (from
// the Elasticsearch DSL) and, once bound to an index, the parsed query.
struct AggregationFilter {
  std::string key;                     // filters: the bucket key (empty for anonymous filters)
  std::string query_text;              // query language
  std::shared_ptr<const Query> query;  // set by the caller before collection
};

enum class KeySourceKind { kTerms, kHistogram, kDateHistogram };

// One key component of a composite or multi_terms aggregation.
struct KeySource {
  std::string name;  // composite: the source's name in keys; multi_terms: unused
  KeySourceKind kind = KeySourceKind::kTerms;
  std::string field;
  bool descending = false;        // composite
  bool missing_bucket = false;    // composite: docs without a value get a null component
  bool missing_first = true;      // composite: where null sorts (ES: first when ascending)
  std::optional<AggKey> missing;  // multi_terms: the key of docs without a value
  double interval = 1;            // histogram
  double offset = 0;              // histogram
  DateInterval date_interval;     // date_histogram
};

// One sort field of top_hits: missing values sort last whatever the order.
struct TopHitsSort {
  std::string field;
  bool descending = false;
};

struct AggregationSpec {
  std::string name;
  AggregationKind kind = AggregationKind::kTerms;
  std::string field;

  // terms, multi_terms: buckets returned. composite: buckets per page.
  uint32_t size = 10;
  // terms, multi_terms: buckets kept per split and per leaf when ordered by count (Quickwit's
  // split_size / shard_size / segment_size). 0: 10 * size. Never below size.
  uint32_t shard_size = 0;
  TermsOrderKey order_key = TermsOrderKey::kCount;
  bool order_ascending = false;
  // kMetric: the sub-aggregation ordering the buckets: "name" or "name.property" (stats).
  std::string order_metric;
  bool show_term_doc_count_error = false;
  // terms: default 1; histograms: default 0 (empty buckets are filled).
  uint64_t min_doc_count = 1;
  // terms: the key under which docs without a value are counted.
  std::optional<AggKey> missing;
  // metrics: the value of docs without one.
  std::optional<double> missing_value;

  // histogram and date_histogram. histogram: bucket of value v is floor((v - offset) / interval);
  // its key is index * interval + offset. date_histogram: `date_interval` (interval and offset
  // unused), keys are bucket starts in epoch milliseconds.
  double interval = 1;
  double offset = 0;
  DateInterval date_interval;
  std::optional<double> extended_bounds_min;
  std::optional<double> extended_bounds_max;
  // Values outside [hard_bounds_min, hard_bounds_max] are ignored.
  std::optional<double> hard_bounds_min;
  std::optional<double> hard_bounds_max;

  // range
  std::vector<AggregationRange> ranges;

  // filter (one entry) and filters.
  std::vector<AggregationFilter> filters;
  bool other_bucket = false;                 // filters: a bucket for docs matching no filter
  std::string other_bucket_key = "_other_";  // filters
  bool keyed = true;  // filters with named filters, percentiles: an object rather than an array

  // composite (sources) and multi_terms (terms).
  std::vector<KeySource> sources;
  std::optional<std::vector<AggKey>> after;  // composite: one component per source

  // extended_stats: std_deviation_bounds are avg -/+ sigma * std_deviation.
  double sigma = 2;
  // percentiles, in [0, 100].
  std::vector<double> percents = {1, 5, 25, 50, 75, 95, 99};

  // top_hits: hits [from, from + size) (size defaults to 3 for top_hits) in `sort` order (by doc
  // when empty), with their stored source (limited to `source_includes` paths when not empty)
  // and the fast field values of `docvalue_fields`.
  uint32_t from = 0;
  std::vector<TopHitsSort> sort;
  bool include_source = true;
  std::vector<std::string> source_includes;
  std::vector<std::string> docvalue_fields;

  std::vector<AggregationSpec> sub_aggregations;

  // terms, multi_terms: the effective per-split / per-leaf cut-off.
  uint32_t EffectiveShardSize() const;
};

struct AggregationRequest {
  std::vector<AggregationSpec> aggregations;
  // The request's aggregations as canonical JSON (object keys sorted), set by the parser: with
  // the split (and so the index and its doc mapping) it identifies `aggregations`, so caches key
  // on it. Empty for a request built in code, whose leaf results are never cached.
  std::string canonical_json;
};

// Calls `f(spec)` for every spec of `specs`, nested ones included (parents first).
template <typename Specs, typename F>
void ForEachSpec(Specs& specs, F&& f) {
  for (auto& spec : specs) {
    f(spec);
    ForEachSpec(spec.sub_aggregations, f);
  }
}

// ---------------------------------------------------------------------------------------------
// Intermediate results.

// Partial state of a metric: exact under merge (sums are double sums, merged by addition).
struct MetricPartial {
  uint64_t count = 0;
  double sum = 0;
  double sum_of_squares = 0;  // extended_stats only
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Add(double value) {
    ++count;
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  void AddWithSquare(double value) {
    Add(value);
    sum_of_squares += value * value;
  }
  void Merge(const MetricPartial& other) {
    count += other.count;
    sum += other.sum;
    sum_of_squares += other.sum_of_squares;
    if (other.min < min) min = other.min;
    if (other.max > max) max = other.max;
  }
};

struct IntermediateAgg;
using IntermediateAggs = std::vector<IntermediateAgg>;

// One hit of a top_hits aggregation.
struct TopHit {
  std::vector<AggKey> sort_values;             // one per sort field (null when the doc has none)
  std::string source;                          // stored JSON (empty when not requested)
  std::vector<std::vector<AggKey>> docvalues;  // one list per docvalue field
  // Tie-break of equal sort values: the doc's position within its split and the source text,
  // so merges are deterministic.
  uint32_t doc_id = 0;
};

// Order of top_hits: true when `a` comes before `b` under `spec.sort`.
bool TopHitLess(const AggregationSpec& spec, const TopHit& a, const TopHit& b);

struct IntermediateBucket {
  uint64_t doc_count = 0;
  // terms, multi_terms: upper bound of the docs of this key that cut-offs dropped (the error
  // bounds of the splits and leaves whose kept buckets miss this key).
  uint64_t doc_count_error = 0;
  IntermediateAggs sub_aggregations;  // one per sub spec, in spec order
};

// The intermediate result of one AggregationSpec. Only the members of its kind are used.
struct IntermediateAgg {
  MetricPartial metric;                        // avg ... extended_stats
  std::map<AggKey, IntermediateBucket> terms;  // terms
  // composite and multi_terms: one key component per source.
  std::map<std::vector<AggKey>, IntermediateBucket> keyed;
  // terms and multi_terms: docs of the buckets cut off so far, and the sum over cut-offs of the
  // largest count each dropped.
  uint64_t sum_other_doc_count = 0;
  uint64_t doc_count_error_upper_bound = 0;
  // histogram: bucket index -> bucket; date_histogram: bucket start (epoch millis) -> bucket.
  std::map<int64_t, IntermediateBucket> histogram;
  // range: one per range; filter: one; filters: one per filter, then the other bucket if asked.
  std::vector<IntermediateBucket> fixed_buckets;
  CardinalitySketch cardinality;  // cardinality
  QuantileSketch percentiles;     // percentiles
  std::vector<TopHit> top_hits;   // top_hits: the best from + size, in order
};

// The empty intermediate result of `specs` (fixed buckets allocated, maps empty).
IntermediateAggs MakeEmptyAggs(const std::vector<AggregationSpec>& specs);

// A bucket with zero docs and empty sub-aggregations for `sub_specs`.
IntermediateBucket MakeEmptyBucket(const std::vector<AggregationSpec>& sub_specs);

// Number of fixed buckets of `spec` (range, filter, filters), 0 for other kinds.
size_t NumFixedBuckets(const AggregationSpec& spec);

// Total number of buckets of `aggs`, nested ones included.
uint64_t CountBuckets(const IntermediateAggs& aggs);

// Approximate heap bytes held by `aggs`, for the memory budget.
uint64_t EstimateMemoryBytes(const IntermediateAggs& aggs);

// Merges `from` into `into`; both must have the shape of `specs`. InvalidArgument
// "aggregation exceeds 65000 buckets" when the merged result holds more than
// kMaxAggregationBuckets buckets.
absl::Status MergeAggs(const std::vector<AggregationSpec>& specs, IntermediateAggs& into,
                       const IntermediateAggs& from);

// Applies the per-split / per-leaf truncation of `specs` to `aggs`, nested ones included:
// terms and multi_terms ordered by count keep their EffectiveShardSize() best buckets (ties by
// key ascending), adding the dropped docs to sum_other_doc_count and, when ordered by count
// descending, the largest dropped count to doc_count_error_upper_bound; ordered by key they keep
// the first EffectiveShardSize() keys (exact). composite keeps its first `size` buckets.
void CutOffAggs(const std::vector<AggregationSpec>& specs, IntermediateAggs& aggs);

// Orders of composite keys and terms buckets, shared by the cut-off and the final rendering.
// composite: true when `a` comes before `b` under the sources' orders.
bool CompositeKeyLess(const AggregationSpec& spec, const std::vector<AggKey>& a,
                      const std::vector<AggKey>& b);

// The memory budget of one request's aggregations, shared by all its splits. Thread-safe.
class AggregationMemoryBudget {
 public:
  explicit AggregationMemoryBudget(uint64_t limit_bytes) : limit_bytes_(limit_bytes) {}
  AggregationMemoryBudget(const AggregationMemoryBudget&) = delete;
  AggregationMemoryBudget& operator=(const AggregationMemoryBudget&) = delete;

  // Adds `bytes` to the request's usage. InvalidArgument naming the limit once the usage is
  // above it ("aggregation memory limit of N bytes exceeded
  // (searcher.aggregation_memory_limit)").
  absl::Status Charge(uint64_t bytes);
  uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
  uint64_t limit_bytes() const { return limit_bytes_; }

 private:
  const uint64_t limit_bytes_;
  std::atomic<uint64_t> used_bytes_{0};
};

// The error returned when the memory budget is exceeded.
absl::Status AggregationMemoryExceeded(uint64_t limit_bytes);

}  // namespace shale::index
