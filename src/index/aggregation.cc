#include "index/aggregation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/time/civil_time.h"
#include "fmt/format.h"

namespace shale::index {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMillisPerHour = 3'600'000;
constexpr int64_t kMillisPerDay = 86'400'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t quotient = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}

int CompareNumbers(const AggKey& a, const AggKey& b) {
  // long double holds every i64, u64 and double exactly on x86-64 (64-bit mantissa).
  auto value = [](const AggKey& key) -> long double {
    switch (key.type) {
      case AggKeyType::kI64:
      case AggKeyType::kDatetime:
        return static_cast<long double>(key.i64());
      case AggKeyType::kF64:
        return static_cast<long double>(key.f64());
      default:
        return static_cast<long double>(key.bits);
    }
  };
  const long double va = value(a);
  const long double vb = value(b);
  const bool nan_a = std::isnan(va);
  const bool nan_b = std::isnan(vb);
  if (nan_a || nan_b) return nan_a == nan_b ? 0 : (nan_a ? 1 : -1);
  if (va < vb) return -1;
  if (va > vb) return 1;
  return 0;
}

int TypeRank(const AggKey& key) {
  if (key.is_null()) return 0;
  if (key.is_text()) return 2;
  return 1;
}

// ---- merge ----

void MergeBucket(const std::vector<AggregationSpec>& sub_specs, IntermediateBucket& into,
                 const IntermediateBucket& from);

void MergeOne(const AggregationSpec& spec, IntermediateAgg& into, const IntermediateAgg& from);

// Merges bucket maps keyed by terms: a key missing from one side may have been cut off there, so
// it inherits that side's error bound.
template <typename Map>
void MergeTermMaps(const std::vector<AggregationSpec>& sub_specs, Map& into, uint64_t into_error,
                   const Map& from, uint64_t from_error) {
  if (from_error != 0) {
    for (auto& [key, bucket] : into) {
      if (from.find(key) == from.end()) bucket.doc_count_error += from_error;
    }
  }
  for (const auto& [key, bucket] : from) {
    auto it = into.find(key);
    if (it == into.end()) {
      into.emplace(key, bucket).first->second.doc_count_error += into_error;
    } else {
      MergeBucket(sub_specs, it->second, bucket);
    }
  }
}

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

void MergeTopHits(const AggregationSpec& spec, std::vector<TopHit>& into,
                  const std::vector<TopHit>& from) {
  if (from.empty()) return;
  into.insert(into.end(), from.begin(), from.end());
  std::sort(into.begin(), into.end(),
            [&spec](const TopHit& a, const TopHit& b) { return TopHitLess(spec, a, b); });
  const size_t keep = static_cast<size_t>(spec.from) + spec.size;
  if (into.size() > keep) into.resize(keep);
}

uint64_t TopHitsBytes(const std::vector<TopHit>& hits) {
  uint64_t bytes = 0;
  for (const TopHit& hit : hits) {
    bytes += sizeof(TopHit) + hit.source.capacity();
    for (const AggKey& key : hit.sort_values) bytes += key.MemoryBytes();
    for (const auto& values : hit.docvalues) {
      for (const AggKey& key : values) bytes += key.MemoryBytes();
    }
  }
  return bytes;
}

void MergeOne(const AggregationSpec& spec, IntermediateAgg& into, const IntermediateAgg& from) {
  const std::vector<AggregationSpec>& subs = spec.sub_aggregations;
  switch (spec.kind) {
    case AggregationKind::kTerms:
      MergeTermMaps(subs, into.terms, into.doc_count_error_upper_bound, from.terms,
                    from.doc_count_error_upper_bound);
      break;
    case AggregationKind::kMultiTerms:
      MergeTermMaps(subs, into.keyed, into.doc_count_error_upper_bound, from.keyed,
                    from.doc_count_error_upper_bound);
      break;
    case AggregationKind::kComposite:
      MergeBucketMap(subs, into.keyed, from.keyed);
      break;
    case AggregationKind::kHistogram:
    case AggregationKind::kDateHistogram:
      MergeBucketMap(subs, into.histogram, from.histogram);
      break;
    case AggregationKind::kCardinality:
      into.cardinality.Merge(from.cardinality);
      break;
    case AggregationKind::kPercentiles:
      into.percentiles.Merge(from.percentiles);
      break;
    case AggregationKind::kTopHits:
      MergeTopHits(spec, into.top_hits, from.top_hits);
      into.metric.Merge(from.metric);  // count: the docs the hits were chosen from
      break;
    default:
      into.metric.Merge(from.metric);
      break;
  }
  into.sum_other_doc_count += from.sum_other_doc_count;
  into.doc_count_error_upper_bound += from.doc_count_error_upper_bound;
  if (into.fixed_buckets.size() < from.fixed_buckets.size()) {
    into.fixed_buckets.resize(from.fixed_buckets.size(), MakeEmptyBucket(subs));
  }
  for (size_t i = 0; i < from.fixed_buckets.size(); ++i) {
    MergeBucket(subs, into.fixed_buckets[i], from.fixed_buckets[i]);
  }
}

void MergeBucket(const std::vector<AggregationSpec>& sub_specs, IntermediateBucket& into,
                 const IntermediateBucket& from) {
  into.doc_count += from.doc_count;
  into.doc_count_error += from.doc_count_error;
  if (into.sub_aggregations.size() < sub_specs.size()) {
    into.sub_aggregations = MakeEmptyAggs(sub_specs);
  }
  for (size_t i = 0; i < sub_specs.size() && i < from.sub_aggregations.size(); ++i) {
    MergeOne(sub_specs[i], into.sub_aggregations[i], from.sub_aggregations[i]);
  }
}

// ---- counting ----

template <typename Map>
uint64_t CountMapBuckets(const Map& buckets) {
  uint64_t count = 0;
  for (const auto& [key, bucket] : buckets) count += 1 + CountBuckets(bucket.sub_aggregations);
  return count;
}

uint64_t KeyBytes(const AggKey& key) { return key.MemoryBytes(); }
uint64_t KeyBytes(const std::vector<AggKey>& key) {
  uint64_t bytes = sizeof(key);
  for (const AggKey& part : key) bytes += part.MemoryBytes();
  return bytes;
}
uint64_t KeyBytes(int64_t) { return sizeof(int64_t); }

// A std::map node: three pointers and a color beside the value.
constexpr uint64_t kMapNodeOverhead = 32;

template <typename Map>
uint64_t MapBytes(const Map& buckets) {
  uint64_t bytes = 0;
  for (const auto& [key, bucket] : buckets) {
    bytes += kMapNodeOverhead + KeyBytes(key) + sizeof(IntermediateBucket) +
             EstimateMemoryBytes(bucket.sub_aggregations);
  }
  return bytes;
}

// ---- cut-off ----

template <typename Map>
void CutOffTermMap(const AggregationSpec& spec, Map& buckets, IntermediateAgg& agg) {
  const size_t keep = spec.EffectiveShardSize();
  if (buckets.size() <= keep) return;
  using Entry = typename Map::value_type;
  std::vector<Entry*> entries;
  entries.reserve(buckets.size());
  for (auto& entry : buckets) entries.push_back(&entry);
  const bool by_count_desc = spec.order_key == TermsOrderKey::kCount && !spec.order_ascending;
  if (by_count_desc) {
    std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(keep),
                     entries.end(), [](const Entry* a, const Entry* b) {
                       if (a->second.doc_count != b->second.doc_count) {
                         return a->second.doc_count > b->second.doc_count;
                       }
                       return a->first < b->first;
                     });
  } else if (spec.order_key == TermsOrderKey::kKey) {
    // The map is in ascending key order already.
    if (!spec.order_ascending) std::reverse(entries.begin(), entries.end());
  } else {
    return;  // ascending counts and sub-aggregation orders have no error bound: keep all
  }
  uint64_t largest_dropped = 0;
  uint64_t dropped_docs = 0;
  std::vector<typename Map::key_type> dropped_keys;
  dropped_keys.reserve(entries.size() - keep);
  for (size_t i = keep; i < entries.size(); ++i) {
    largest_dropped = std::max(largest_dropped, entries[i]->second.doc_count);
    dropped_docs += entries[i]->second.doc_count;
    dropped_keys.push_back(entries[i]->first);
  }
  for (const auto& key : dropped_keys) buckets.erase(key);
  agg.sum_other_doc_count += dropped_docs;
  if (by_count_desc) agg.doc_count_error_upper_bound += largest_dropped;
}

void CutOffComposite(const AggregationSpec& spec, IntermediateAgg& agg) {
  if (agg.keyed.size() <= spec.size) return;
  using Entry = std::map<std::vector<AggKey>, IntermediateBucket>::value_type;
  std::vector<const Entry*> entries;
  entries.reserve(agg.keyed.size());
  for (const auto& entry : agg.keyed) entries.push_back(&entry);
  std::nth_element(entries.begin(), entries.begin() + spec.size, entries.end(),
                   [&spec](const Entry* a, const Entry* b) {
                     return CompositeKeyLess(spec, a->first, b->first);
                   });
  std::vector<std::vector<AggKey>> dropped;
  for (size_t i = spec.size; i < entries.size(); ++i) dropped.push_back(entries[i]->first);
  for (const auto& key : dropped) agg.keyed.erase(key);
}

void CutOffLevel(const std::vector<AggregationSpec>& specs, IntermediateAggs& aggs);

template <typename Map>
void CutOffBucketMap(const AggregationSpec& spec, Map& buckets) {
  for (auto& [key, bucket] : buckets) CutOffLevel(spec.sub_aggregations, bucket.sub_aggregations);
}

void CutOffLevel(const std::vector<AggregationSpec>& specs, IntermediateAggs& aggs) {
  for (size_t i = 0; i < specs.size() && i < aggs.size(); ++i) {
    const AggregationSpec& spec = specs[i];
    IntermediateAgg& agg = aggs[i];
    switch (spec.kind) {
      case AggregationKind::kTerms:
        CutOffTermMap(spec, agg.terms, agg);
        break;
      case AggregationKind::kMultiTerms:
        CutOffTermMap(spec, agg.keyed, agg);
        break;
      case AggregationKind::kComposite:
        CutOffComposite(spec, agg);
        break;
      default:
        break;
    }
    if (spec.sub_aggregations.empty()) continue;
    CutOffBucketMap(spec, agg.terms);
    CutOffBucketMap(spec, agg.keyed);
    CutOffBucketMap(spec, agg.histogram);
    for (IntermediateBucket& bucket : agg.fixed_buckets) {
      CutOffLevel(spec.sub_aggregations, bucket.sub_aggregations);
    }
  }
}

// ---- time zones ----

absl::TimeZone Utc() { return absl::UTCTimeZone(); }

// "+01:00", "-0530", "+1", "-10": the offset in seconds, or nullopt.
std::optional<int> ParseFixedOffset(std::string_view text) {
  if (text.empty() || (text[0] != '+' && text[0] != '-')) return std::nullopt;
  const int sign = text[0] == '-' ? -1 : 1;
  std::string digits;
  for (char c : text.substr(1)) {
    if (c == ':') continue;
    if (c < '0' || c > '9') return std::nullopt;
    digits.push_back(c);
  }
  int hours = 0;
  int minutes = 0;
  if (digits.size() == 1 || digits.size() == 2) {
    hours = std::stoi(digits);
  } else if (digits.size() == 4) {
    hours = std::stoi(digits.substr(0, 2));
    minutes = std::stoi(digits.substr(2));
  } else {
    return std::nullopt;
  }
  if (hours > 18 || minutes > 59) return std::nullopt;
  return sign * (hours * 3600 + minutes * 60);
}

absl::Time ToTime(const absl::TimeZone& zone, const absl::CivilSecond& civil) {
  const absl::TimeZone::TimeInfo info = zone.At(civil);
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool IsBucketAggregation(AggregationKind kind) {
  switch (kind) {
    case AggregationKind::kTerms:
    case AggregationKind::kHistogram:
    case AggregationKind::kDateHistogram:
    case AggregationKind::kRange:
    case AggregationKind::kFilter:
    case AggregationKind::kFilters:
    case AggregationKind::kComposite:
    case AggregationKind::kMultiTerms:
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
    case AggregationKind::kFilter:
      return "filter";
    case AggregationKind::kFilters:
      return "filters";
    case AggregationKind::kComposite:
      return "composite";
    case AggregationKind::kMultiTerms:
      return "multi_terms";
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
    case AggregationKind::kExtendedStats:
      return "extended_stats";
    case AggregationKind::kCardinality:
      return "cardinality";
    case AggregationKind::kPercentiles:
      return "percentiles";
    case AggregationKind::kTopHits:
      return "top_hits";
  }
  return "unknown";
}

// ---- AggKey ----

AggKey AggKey::F64(double value) {
  AggKey key;
  key.type = AggKeyType::kF64;
  if (value == 0.0) value = 0.0;  // -0.0 and 0.0 are one key
  std::memcpy(&key.bits, &value, sizeof(value));
  return key;
}

double AggKey::f64() const {
  double value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

double AggKey::AsDouble() const {
  switch (type) {
    case AggKeyType::kI64:
    case AggKeyType::kDatetime:
      return static_cast<double>(i64());
    case AggKeyType::kF64:
      return f64();
    case AggKeyType::kU64:
    case AggKeyType::kBool:
      return static_cast<double>(bits);
    default:
      return 0;
  }
}

int CompareAggKeyValues(const AggKey& a, const AggKey& b) {
  const int rank_a = TypeRank(a);
  const int rank_b = TypeRank(b);
  if (rank_a != rank_b) return rank_a < rank_b ? -1 : 1;
  if (a.is_null()) return 0;
  if (a.is_text()) return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
  return CompareNumbers(a, b);
}

int CompareAggKeys(const AggKey& a, const AggKey& b) {
  const int by_value = CompareAggKeyValues(a, b);
  if (by_value != 0 || !a.is_number()) return by_value;
  if (a.type != b.type) return a.type < b.type ? -1 : 1;
  return 0;
}

// ---- dates ----

const char* CalendarUnitName(CalendarUnit unit) {
  switch (unit) {
    case CalendarUnit::kMinute:
      return "minute";
    case CalendarUnit::kHour:
      return "hour";
    case CalendarUnit::kDay:
      return "day";
    case CalendarUnit::kWeek:
      return "week";
    case CalendarUnit::kMonth:
      return "month";
    case CalendarUnit::kQuarter:
      return "quarter";
    case CalendarUnit::kYear:
      return "year";
    case CalendarUnit::kNone:
      break;
  }
  return "";
}

absl::StatusOr<absl::TimeZone> ParseTimeZone(const std::string& name) {
  if (name.empty() || name == "UTC" || name == "utc" || name == "Z" || name == "GMT" ||
      name == "Etc/UTC") {
    return Utc();
  }
  if (std::optional<int> offset = ParseFixedOffset(name)) return absl::FixedTimeZone(*offset);
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(fmt::format("unknown time zone `{}`", name));
  }
  return zone;
}

absl::StatusOr<DateRounding> DateRounding::Create(const DateInterval& interval) {
  if (interval.calendar == CalendarUnit::kNone && interval.fixed_interval_millis <= 0) {
    return absl::InvalidArgumentError("the date interval must be positive");
  }
  DateRounding rounding;
  rounding.interval_ = interval;
  auto zone = ParseTimeZone(interval.time_zone);
  if (!zone.ok()) return zone.status();
  rounding.zone_ = *zone;
  rounding.utc_ = rounding.zone_ == Utc();
  return rounding;
}

int64_t DateRounding::UtcOffsetSeconds(int64_t millis) const {
  if (utc_) return 0;
  return zone_.At(absl::FromUnixMillis(millis)).offset;
}

int64_t DateRounding::BucketStart(int64_t millis) const {
  const int64_t shifted = millis - interval_.offset_millis;
  if (interval_.calendar == CalendarUnit::kNone) {
    const int64_t width = interval_.fixed_interval_millis;
    if (utc_) return FloorDiv(shifted, width) * width + interval_.offset_millis;
    // Fixed intervals in a zone are aligned on local time.
    const int64_t local = shifted + UtcOffsetSeconds(shifted) * 1000;
    const int64_t local_start = FloorDiv(local, width) * width;
    const absl::CivilSecond civil =
        absl::CivilSecond(1970, 1, 1, 0, 0, 0) + FloorDiv(local_start, 1000);
    return absl::ToUnixMillis(ToTime(zone_, civil)) +
           (local_start - FloorDiv(local_start, 1000) * 1000) + interval_.offset_millis;
  }
  if (utc_) {
    switch (interval_.calendar) {
      case CalendarUnit::kMinute:
        return FloorDiv(shifted, kMillisPerMinute) * kMillisPerMinute + interval_.offset_millis;
      case CalendarUnit::kHour:
        return FloorDiv(shifted, kMillisPerHour) * kMillisPerHour + interval_.offset_millis;
      case CalendarUnit::kDay:
        return FloorDiv(shifted, kMillisPerDay) * kMillisPerDay + interval_.offset_millis;
      case CalendarUnit::kWeek: {
        // 1970-01-05 (day 4) is a Monday.
        const int64_t day = FloorDiv(shifted, kMillisPerDay);
        return (FloorDiv(day - 4, 7) * 7 + 4) * kMillisPerDay + interval_.offset_millis;
      }
      default:
        break;
    }
  }
  const absl::CivilSecond civil = zone_.At(absl::FromUnixMillis(shifted)).cs;
  absl::CivilSecond start;
  switch (interval_.calendar) {
    case CalendarUnit::kMinute:
      start = absl::CivilMinute(civil);
      break;
    case CalendarUnit::kHour:
      start = absl::CivilHour(civil);
      break;
    case CalendarUnit::kDay:
      start = absl::CivilDay(civil);
      break;
    case CalendarUnit::kWeek: {
      const absl::CivilDay day(civil);
      const int since_monday =
          (static_cast<int>(absl::GetWeekday(day)) - static_cast<int>(absl::Weekday::monday) + 7) %
          7;
      start = day - since_monday;
      break;
    }
    case CalendarUnit::kMonth:
      start = absl::CivilMonth(civil);
      break;
    case CalendarUnit::kQuarter: {
      const absl::CivilMonth month(civil);
      start = month - (month.month() - 1) % 3;
      break;
    }
    default:
      start = absl::CivilYear(civil);
      break;
  }
  return absl::ToUnixMillis(ToTime(zone_, start)) + interval_.offset_millis;
}

int64_t DateRounding::NextBucketStart(int64_t bucket_start) const {
  int64_t next = bucket_start;
  if (interval_.calendar == CalendarUnit::kNone) {
    next = utc_ ? bucket_start + interval_.fixed_interval_millis
                : BucketStart(bucket_start + interval_.fixed_interval_millis);
  } else if (utc_ && interval_.calendar <= CalendarUnit::kWeek) {
    static constexpr int64_t kWidths[] = {0, kMillisPerMinute, kMillisPerHour, kMillisPerDay,
                                          7 * kMillisPerDay};
    next = bucket_start + kWidths[static_cast<int>(interval_.calendar)];
  } else {
    const int64_t shifted = bucket_start - interval_.offset_millis;
    const absl::CivilSecond civil = zone_.At(absl::FromUnixMillis(shifted)).cs;
    absl::CivilSecond following;
    switch (interval_.calendar) {
      case CalendarUnit::kMinute:
        following = absl::CivilMinute(civil) + 1;
        break;
      case CalendarUnit::kHour:
        following = absl::CivilHour(civil) + 1;
        break;
      case CalendarUnit::kDay:
        following = absl::CivilDay(civil) + 1;
        break;
      case CalendarUnit::kWeek:
        following = absl::CivilDay(civil) + 7;
        break;
      case CalendarUnit::kMonth:
        following = absl::CivilMonth(civil) + 1;
        break;
      case CalendarUnit::kQuarter:
        following = absl::CivilMonth(civil) + 3;
        break;
      default:
        following = absl::CivilYear(civil) + 1;
        break;
    }
    next = absl::ToUnixMillis(ToTime(zone_, following)) + interval_.offset_millis;
  }
  return next > bucket_start ? next : bucket_start + 1;
}

// ---- specs ----

uint32_t AggregationSpec::EffectiveShardSize() const {
  const uint64_t shard = shard_size == 0 ? uint64_t{size} * 10 : shard_size;
  return static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(shard, size), UINT32_MAX));
}

size_t NumFixedBuckets(const AggregationSpec& spec) {
  switch (spec.kind) {
    case AggregationKind::kRange:
      return spec.ranges.size();
    case AggregationKind::kFilter:
      return 1;
    case AggregationKind::kFilters:
      return spec.filters.size() + (spec.other_bucket ? 1 : 0);
    default:
      return 0;
  }
}

IntermediateBucket MakeEmptyBucket(const std::vector<AggregationSpec>& sub_specs) {
  IntermediateBucket bucket;
  bucket.sub_aggregations = MakeEmptyAggs(sub_specs);
  return bucket;
}

IntermediateAggs MakeEmptyAggs(const std::vector<AggregationSpec>& specs) {
  IntermediateAggs aggs(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const size_t fixed = NumFixedBuckets(specs[i]);
    if (fixed > 0) {
      aggs[i].fixed_buckets.assign(fixed, MakeEmptyBucket(specs[i].sub_aggregations));
    }
  }
  return aggs;
}

uint64_t CountBuckets(const IntermediateAggs& aggs) {
  uint64_t count = 0;
  for (const IntermediateAgg& agg : aggs) {
    count +=
        CountMapBuckets(agg.terms) + CountMapBuckets(agg.keyed) + CountMapBuckets(agg.histogram);
    for (const IntermediateBucket& bucket : agg.fixed_buckets) {
      count += 1 + CountBuckets(bucket.sub_aggregations);
    }
  }
  return count;
}

uint64_t EstimateMemoryBytes(const IntermediateAggs& aggs) {
  uint64_t bytes = 0;
  for (const IntermediateAgg& agg : aggs) {
    bytes += sizeof(IntermediateAgg) + MapBytes(agg.terms) + MapBytes(agg.keyed) +
             MapBytes(agg.histogram) + agg.cardinality.MemoryBytes() +
             agg.percentiles.MemoryBytes() + TopHitsBytes(agg.top_hits);
    for (const IntermediateBucket& bucket : agg.fixed_buckets) {
      bytes += sizeof(IntermediateBucket) + EstimateMemoryBytes(bucket.sub_aggregations);
    }
  }
  return bytes;
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

void CutOffAggs(const std::vector<AggregationSpec>& specs, IntermediateAggs& aggs) {
  CutOffLevel(specs, aggs);
}

bool CompositeKeyLess(const AggregationSpec& spec, const std::vector<AggKey>& a,
                      const std::vector<AggKey>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const KeySource* source = i < spec.sources.size() ? &spec.sources[i] : nullptr;
    const bool descending = source != nullptr && source->descending;
    const bool missing_first = source == nullptr || source->missing_first;
    if (a[i].is_null() != b[i].is_null()) return a[i].is_null() == missing_first;
    const int order = CompareAggKeys(a[i], b[i]);
    if (order != 0) return descending ? order > 0 : order < 0;
  }
  return a.size() < b.size();
}

bool TopHitLess(const AggregationSpec& spec, const TopHit& a, const TopHit& b) {
  for (size_t i = 0; i < spec.sort.size() && i < a.sort_values.size() && i < b.sort_values.size();
       ++i) {
    const AggKey& x = a.sort_values[i];
    const AggKey& y = b.sort_values[i];
    if (x.is_null() != y.is_null()) return !x.is_null();  // missing values last
    const int order = CompareAggKeys(x, y);
    if (order != 0) return spec.sort[i].descending ? order > 0 : order < 0;
  }
  if (a.doc_id != b.doc_id) return a.doc_id < b.doc_id;
  return a.source < b.source;
}

// ---- memory budget ----

absl::Status AggregationMemoryExceeded(uint64_t limit_bytes) {
  return absl::InvalidArgumentError(
      fmt::format("aggregation memory limit of {} bytes exceeded "
                  "(searcher.aggregation_memory_limit)",
                  limit_bytes));
}

absl::Status AggregationMemoryBudget::Charge(uint64_t bytes) {
  const uint64_t used = used_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (used > limit_bytes_) return AggregationMemoryExceeded(limit_bytes_);
  return absl::OkStatus();
}

}  // namespace shale::index
