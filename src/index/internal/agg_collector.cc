#include "index/internal/agg_collector.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "index/internal/binary_values.h"

namespace shale::index::internal {
namespace {

// Collected memory is charged to the shared budget in batches of this many bytes.
constexpr uint64_t kChargeBatchBytes = 64 * 1024;
// Approximate bytes of one hash map slot holding a bucket state.
constexpr uint64_t kBucketBytes = 64;

// ---------------------------------------------------------------------------------------------
// Values.

bool IsText(const Column& column) { return column.field->column.kind == ColumnKind::kTextDict; }

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t quotient = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}

// Datetime column values are nanoseconds (Column::RawValue); aggregations use milliseconds.
constexpr int64_t kNanosPerMilli = 1'000'000;

// The number a raw value of a numeric column stands for (datetimes: epoch milliseconds).
double NumberOf(const Column& column, uint64_t raw) {
  switch (column.field->type) {
    case FieldType::kI64:
      return static_cast<double>(DecodeI64(raw));
    case FieldType::kF64:
      return DecodeF64(raw);
    case FieldType::kDatetime:
      return static_cast<double>(DecodeI64(raw)) / kNanosPerMilli;
    default:
      return static_cast<double>(raw);
  }
}

// The typed key of a raw value. REQUIRES: raw < dict.size() for text columns.
AggKey KeyOf(const Column& column, uint64_t raw) {
  if (IsText(column)) {
    // Terms keys of ip and bytes fields are rendered as text (an address; base64).
    if (column.field->type == FieldType::kIp) return AggKey::Text(FormatIp(column.dict[raw]));
    if (column.field->type == FieldType::kBytes) {
      return AggKey::Text(EncodeBytes(column.dict[raw], BytesFormat::kBase64));
    }
    return AggKey::Text(std::string(column.dict[raw]));
  }
  switch (column.field->type) {
    case FieldType::kI64:
      return AggKey::I64(DecodeI64(raw));
    case FieldType::kF64:
      return AggKey::F64(DecodeF64(raw));
    case FieldType::kBool:
      return AggKey::Bool(raw != 0);
    case FieldType::kDatetime:
      return AggKey::Datetime(FloorDiv(DecodeI64(raw), kNanosPerMilli));
    default:
      return AggKey::U64(raw);
  }
}

// One value of a doc: the column it comes from and its raw encoding.
struct RawValue {
  uint32_t column = 0;
  uint64_t raw = 0;
  bool operator==(const RawValue& other) const {
    return column == other.column && raw == other.raw;
  }
};

using Columns = std::vector<std::shared_ptr<const Column>>;

// Appends the values of `doc` (text values outside the dictionary are skipped).
void DocValues(const Columns& columns, uint32_t doc, std::vector<RawValue>& out) {
  out.clear();
  for (uint32_t c = 0; c < columns.size(); ++c) {
    const Column& column = *columns[c];
    auto [begin, end] = column.Range(doc);
    for (uint64_t i = begin; i < end; ++i) {
      const uint64_t raw = column.RawValue(i);
      if (IsText(column) && raw >= column.dict.size()) continue;
      out.push_back({c, raw});
    }
  }
}

// Removes repeated values (a multi-valued field may hold a value twice; a doc counts once).
void Dedup(std::vector<RawValue>& values) {
  if (values.size() < 2) return;
  std::sort(values.begin(), values.end(), [](const RawValue& a, const RawValue& b) {
    return a.column != b.column ? a.column < b.column : a.raw < b.raw;
  });
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

// ---------------------------------------------------------------------------------------------
// Resolution: specs bound to the split's columns, filter doc sets and date roundings.

struct ResolvedAgg {
  const AggregationSpec* spec = nullptr;
  Columns columns;
  std::vector<Columns> source_columns;  // composite, multi_terms
  std::vector<std::optional<DateRounding>> source_roundings;
  std::optional<DateRounding> rounding;   // date_histogram
  std::vector<DocSet> filter_docs;        // filter, filters
  std::vector<Columns> sort_columns;      // top_hits: one per sort field
  std::vector<Columns> docvalue_columns;  // top_hits: one per docvalue field
  const AggSplitAccess* split = nullptr;  // top_hits: reads the hits' sources
  std::vector<ResolvedAgg> sub_aggregations;
  // cardinality: hashes of text ordinals, computed once per split and column.
  mutable std::vector<std::vector<uint64_t>> ordinal_hashes;
  mutable std::vector<std::vector<bool>> ordinal_hashed;
};

absl::StatusOr<Columns> ResolveColumns(const AggSplitAccess& split, const std::string& field,
                                       const AggregationSpec& spec) {
  absl::StatusOr<Columns> columns = split.FastColumns(field);
  if (!columns.ok() && absl::IsInvalidArgument(columns.status())) {
    return absl::InvalidArgumentError(
        fmt::format("field `{}` of aggregation `{}` is not a fast field", field, spec.name));
  }
  return columns;
}

absl::Status ResolveAggs(const AggSplitAccess& split, const std::vector<AggregationSpec>& specs,
                         std::vector<ResolvedAgg>& out) {
  out.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const AggregationSpec& spec = specs[i];
    ResolvedAgg& resolved = out[i];
    resolved.spec = &spec;
    if (!spec.field.empty()) {
      ASSIGN_OR_RETURN(resolved.columns, ResolveColumns(split, spec.field, spec));
    }
    for (const KeySource& source : spec.sources) {
      ASSIGN_OR_RETURN(Columns columns, ResolveColumns(split, source.field, spec));
      resolved.source_columns.push_back(std::move(columns));
      std::optional<DateRounding> rounding;
      if (source.kind == KeySourceKind::kDateHistogram) {
        ASSIGN_OR_RETURN(rounding, DateRounding::Create(source.date_interval));
      }
      resolved.source_roundings.push_back(std::move(rounding));
    }
    if (spec.kind == AggregationKind::kDateHistogram) {
      ASSIGN_OR_RETURN(resolved.rounding, DateRounding::Create(spec.date_interval));
    }
    for (const AggregationFilter& filter : spec.filters) {
      if (filter.query == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("aggregation `{}`: filter query `{}` is not bound to an index", spec.name,
                        filter.query_text));
      }
      ASSIGN_OR_RETURN(DocSet docs, split.FilterDocs(*filter.query));
      resolved.filter_docs.push_back(std::move(docs));
    }
    if (spec.kind == AggregationKind::kTopHits) {
      resolved.split = &split;
      for (const TopHitsSort& sort : spec.sort) {
        ASSIGN_OR_RETURN(Columns columns, ResolveColumns(split, sort.field, spec));
        resolved.sort_columns.push_back(std::move(columns));
      }
      for (const std::string& field : spec.docvalue_fields) {
        ASSIGN_OR_RETURN(Columns columns, ResolveColumns(split, field, spec));
        resolved.docvalue_columns.push_back(std::move(columns));
      }
    }
    if (spec.kind == AggregationKind::kCardinality) {
      resolved.ordinal_hashes.resize(resolved.columns.size());
      resolved.ordinal_hashed.resize(resolved.columns.size());
    }
    RETURN_IF_ERROR(ResolveAggs(split, spec.sub_aggregations, resolved.sub_aggregations));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Collection state shared by all collectors of a request on one split.

struct CollectContext {
  AggregationMemoryBudget* budget = nullptr;
  uint64_t pending_bytes = 0;
  uint64_t num_buckets = 0;
  absl::Status status;

  void AddBytes(uint64_t bytes) {
    pending_bytes += bytes;
    if (pending_bytes >= kChargeBatchBytes) Flush();
  }
  void Flush() {
    if (pending_bytes == 0) return;
    absl::Status charged = budget->Charge(pending_bytes);
    pending_bytes = 0;
    if (status.ok()) status = std::move(charged);
  }
  void AddBuckets(uint64_t count) {
    num_buckets += count;
    if (num_buckets > kMaxAggregationBuckets && status.ok()) {
      status = absl::InvalidArgumentError(
          fmt::format("aggregation exceeds {} buckets", kMaxAggregationBuckets));
    }
  }
  bool ok() const { return status.ok(); }
};

class Collector;
using Collectors = std::vector<std::unique_ptr<Collector>>;

// The state of one aggregation in one bucket (or at the top level).
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void Collect(uint32_t doc, CollectContext& context) = 0;
  // Moves the state into `out` (the empty intermediate result of the spec); errors (reading
  // top_hits sources) go to `context`.
  virtual void Finish(IntermediateAgg& out, CollectContext& context) = 0;
};

// `top_level`: the request's own aggregations, not those of a bucket.
Collectors MakeCollectors(const std::vector<ResolvedAgg>& aggs, CollectContext& context,
                          bool top_level = false);

IntermediateAggs FinishAll(const std::vector<ResolvedAgg>& aggs, Collectors& collectors,
                           CollectContext& context) {
  IntermediateAggs out(aggs.size());
  for (size_t i = 0; i < aggs.size(); ++i) {
    const size_t fixed = NumFixedBuckets(*aggs[i].spec);
    if (fixed > 0) out[i].fixed_buckets.resize(fixed);
    collectors[i]->Finish(out[i], context);
  }
  return out;
}

// A bucket being collected: its doc count and its sub-aggregations' collectors.
struct BucketState {
  uint64_t doc_count = 0;
  Collectors subs;
};

BucketState NewBucket(const ResolvedAgg& agg, CollectContext& context) {
  BucketState bucket;
  bucket.subs = MakeCollectors(agg.sub_aggregations, context);
  context.AddBytes(kBucketBytes);
  return bucket;
}

void CollectIn(BucketState& bucket, uint32_t doc, CollectContext& context) {
  ++bucket.doc_count;
  for (const std::unique_ptr<Collector>& sub : bucket.subs) sub->Collect(doc, context);
}

IntermediateBucket FinishBucket(const ResolvedAgg& agg, BucketState& state,
                                CollectContext& context) {
  IntermediateBucket bucket;
  bucket.doc_count = state.doc_count;
  bucket.sub_aggregations = FinishAll(agg.sub_aggregations, state.subs, context);
  return bucket;
}

// Adds `bucket` under `key`, merging with a bucket already there (two columns of one field may
// produce the same key).
template <typename Map, typename Key>
void PutBucket(const AggregationSpec& spec, Map& buckets, Key key, IntermediateBucket bucket) {
  auto [it, inserted] = buckets.try_emplace(std::move(key));
  if (inserted) {
    it->second = std::move(bucket);
    return;
  }
  it->second.doc_count += bucket.doc_count;
  (void)MergeAggs(spec.sub_aggregations, it->second.sub_aggregations, bucket.sub_aggregations);
}

// ---------------------------------------------------------------------------------------------
// Metrics.

class MetricCollector final : public Collector {
 public:
  explicit MetricCollector(const ResolvedAgg& agg) : agg_(agg) {}

  void Collect(uint32_t doc, CollectContext&) override {
    const AggregationSpec& spec = *agg_.spec;
    DocValues(agg_.columns, doc, values_);
    if (spec.kind == AggregationKind::kValueCount) {
      metric_.count += values_.size();
      return;
    }
    const bool squares = spec.kind == AggregationKind::kExtendedStats;
    bool any = false;
    for (const RawValue& value : values_) {
      const Column& column = *agg_.columns[value.column];
      if (IsText(column)) continue;
      Add(NumberOf(column, value.raw), squares);
      any = true;
    }
    if (!any && spec.missing_value.has_value()) Add(*spec.missing_value, squares);
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override { out.metric = metric_; }

 private:
  void Add(double value, bool squares) {
    if (squares) {
      metric_.AddWithSquare(value);
    } else {
      metric_.Add(value);
    }
  }

  const ResolvedAgg& agg_;
  MetricPartial metric_;
  std::vector<RawValue> values_;
};

// cardinality and percentiles: one sketch fed the doc's values (by `Feeder::Add`, which also
// handles `missing`), its growth charged to the budget.
template <typename Sketch, typename Feeder, Sketch IntermediateAgg::*kResult>
class SketchCollector final : public Collector {
 public:
  explicit SketchCollector(const ResolvedAgg& agg) : agg_(agg) {}

  void Collect(uint32_t doc, CollectContext& context) override {
    DocValues(agg_.columns, doc, values_);
    const uint64_t before = sketch_.MemoryBytes();
    Feeder::Add(agg_, values_, sketch_, context);
    const uint64_t after = sketch_.MemoryBytes();
    if (after > before) context.AddBytes(after - before);
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    out.*kResult = std::move(sketch_);
  }

 private:
  const ResolvedAgg& agg_;
  Sketch sketch_;
  std::vector<RawValue> values_;
};

struct CardinalityFeeder {
  static void Add(const ResolvedAgg& agg, const std::vector<RawValue>& values,
                  CardinalitySketch& sketch, CollectContext& context) {
    for (const RawValue& value : values) sketch.AddHash(Hash(agg, value, context));
    if (values.empty() && agg.spec->missing_value.has_value()) {
      sketch.AddHash(CardinalitySketch::HashDouble(*agg.spec->missing_value));
    }
  }

  static uint64_t Hash(const ResolvedAgg& agg, const RawValue& value, CollectContext& context) {
    const Column& column = *agg.columns[value.column];
    if (IsText(column)) {
      // Text hashes are computed once per ordinal and split.
      std::vector<uint64_t>& hashes = agg.ordinal_hashes[value.column];
      std::vector<bool>& hashed = agg.ordinal_hashed[value.column];
      if (hashes.empty()) {
        hashes.resize(column.dict.size());
        hashed.resize(column.dict.size());
        context.AddBytes(column.dict.size() * 9);
      }
      if (!hashed[value.raw]) {
        hashes[value.raw] = CardinalitySketch::HashText(column.dict[value.raw]);
        hashed[value.raw] = true;
      }
      return hashes[value.raw];
    }
    switch (column.field->type) {
      case FieldType::kI64:
      case FieldType::kDatetime:
        return CardinalitySketch::HashInteger(DecodeI64(value.raw));
      case FieldType::kF64:
        return CardinalitySketch::HashDouble(DecodeF64(value.raw));
      default:
        return CardinalitySketch::HashUnsigned(value.raw);
    }
  }
};

struct PercentilesFeeder {
  static void Add(const ResolvedAgg& agg, const std::vector<RawValue>& values,
                  QuantileSketch& sketch, CollectContext&) {
    bool any = false;
    for (const RawValue& value : values) {
      const Column& column = *agg.columns[value.column];
      if (IsText(column)) continue;
      sketch.Add(NumberOf(column, value.raw));
      any = true;
    }
    if (!any && agg.spec->missing_value.has_value()) sketch.Add(*agg.spec->missing_value);
  }
};

using CardinalityCollector =
    SketchCollector<CardinalitySketch, CardinalityFeeder, &IntermediateAgg::cardinality>;
using PercentilesCollector =
    SketchCollector<QuantileSketch, PercentilesFeeder, &IntermediateAgg::percentiles>;

// top_hits: a bounded heap of the best docs by the sort fields' values; sources and docvalue
// fields are read for the kept docs only, when the split's result is built.

class TopHitsCollector final : public Collector {
 public:
  explicit TopHitsCollector(const ResolvedAgg& agg) : agg_(agg) {}

  void Collect(uint32_t doc, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    ++count_;
    const size_t keep = static_cast<size_t>(spec.from) + spec.size;
    if (keep == 0) return;
    TopHit hit;
    hit.doc_id = doc;
    hit.sort_values.reserve(spec.sort.size());
    for (size_t i = 0; i < spec.sort.size(); ++i) {
      hit.sort_values.push_back(SortValue(agg_.sort_columns[i], doc, spec.sort[i].descending));
    }
    auto worse = [&spec](const TopHit& a, const TopHit& b) { return TopHitLess(spec, a, b); };
    if (heap_.size() < keep) {
      context.AddBytes(sizeof(TopHit) + hit.sort_values.size() * sizeof(AggKey));
      heap_.push_back(std::move(hit));
      std::push_heap(heap_.begin(), heap_.end(), worse);
    } else if (TopHitLess(spec, hit, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse);
      heap_.back() = std::move(hit);
      std::push_heap(heap_.begin(), heap_.end(), worse);
    }
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    std::sort_heap(heap_.begin(), heap_.end(),
                   [&spec](const TopHit& a, const TopHit& b) { return TopHitLess(spec, a, b); });
    for (TopHit& hit : heap_) {
      if (spec.include_source && context.ok()) {
        absl::StatusOr<std::string> source = agg_.split->FetchSource(hit.doc_id);
        if (!source.ok()) {
          context.status = source.status();
        } else {
          hit.source = *std::move(source);
          context.AddBytes(hit.source.size());
        }
      }
      for (const Columns& columns : agg_.docvalue_columns) {
        DocValues(columns, hit.doc_id, values_);
        std::vector<AggKey> keys;
        for (const RawValue& value : values_) {
          keys.push_back(KeyOf(*columns[value.column], value.raw));
        }
        hit.docvalues.push_back(std::move(keys));
      }
    }
    out.top_hits = std::move(heap_);
    out.metric.count = count_;
  }

 private:
  // The doc's smallest value of a field for an ascending sort, its largest for a descending one
  // (Elasticsearch's default sort mode); null when it has none.
  AggKey SortValue(const Columns& columns, uint32_t doc, bool descending) {
    DocValues(columns, doc, values_);
    std::optional<AggKey> best;
    for (const RawValue& value : values_) {
      AggKey key = KeyOf(*columns[value.column], value.raw);
      if (!best.has_value() || (descending ? *best < key : key < *best)) best = std::move(key);
    }
    return best.has_value() ? *std::move(best) : AggKey::Null();
  }

  const ResolvedAgg& agg_;
  uint64_t count_ = 0;
  std::vector<TopHit> heap_;  // front: the worst kept hit
  std::vector<RawValue> values_;
};

// ---------------------------------------------------------------------------------------------
// terms

class TermsCollector final : public Collector {
 public:
  // `top_level`: not inside a bucket, so one dense count array per text column is affordable.
  TermsCollector(const ResolvedAgg& agg, bool top_level, CollectContext& context)
      : agg_(agg), buckets_(agg.columns.size()), dense_counts_(agg.columns.size()) {
    if (!top_level || !agg.sub_aggregations.empty()) return;
    for (size_t c = 0; c < agg.columns.size(); ++c) {
      const Column& column = *agg.columns[c];
      if (!IsText(column) || column.dict.size() > kMaxDenseTerms) continue;
      dense_counts_[c].assign(column.dict.size(), 0);
      context.AddBytes(column.dict.size() * sizeof(uint64_t));
    }
  }

  void Collect(uint32_t doc, CollectContext& context) override {
    bool any = false;
    for (uint32_t c = 0; c < agg_.columns.size(); ++c) {
      const Column& column = *agg_.columns[c];
      const bool text = IsText(column);
      std::vector<uint64_t>& dense = dense_counts_[c];
      auto [begin, end] = column.Range(doc);
      uint64_t previous = 0;
      for (uint64_t i = begin; i < end; ++i) {
        const uint64_t raw = column.RawValue(i);
        if (text && raw >= column.dict.size()) continue;
        // A doc's values are sorted and distinct within a column; a repeat still counts once.
        if (i > begin && raw == previous) continue;
        previous = raw;
        any = true;
        if (!dense.empty()) {
          ++dense[raw];
          continue;
        }
        auto& buckets = buckets_[c];
        auto it = buckets.find(raw);
        if (it == buckets.end()) it = buckets.emplace(raw, NewBucket(agg_, context)).first;
        CollectIn(it->second, doc, context);
      }
    }
    if (any || !agg_.spec->missing.has_value()) return;
    if (!missing_.has_value()) missing_ = NewBucket(agg_, context);
    CollectIn(*missing_, doc, context);
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    for (size_t c = 0; c < buckets_.size(); ++c) {
      const Column& column = *agg_.columns[c];
      std::vector<std::pair<uint64_t, BucketState*>> entries;
      std::vector<BucketState> dense_states;
      if (!dense_counts_[c].empty()) {
        const std::vector<uint64_t>& counts = dense_counts_[c];
        size_t non_zero = 0;
        for (uint64_t count : counts) non_zero += count != 0;
        dense_states.resize(non_zero);
        size_t next = 0;
        for (uint64_t raw = 0; raw < counts.size(); ++raw) {
          if (counts[raw] == 0) continue;
          dense_states[next].doc_count = counts[raw];
          entries.emplace_back(raw, &dense_states[next++]);
        }
      } else {
        entries.reserve(buckets_[c].size());
        for (auto& [raw, state] : buckets_[c]) entries.emplace_back(raw, &state);
      }
      // With one column, raw values order like their keys (ordinals of a sorted dictionary,
      // order-preserving number encodings): cut off before building keys.
      if (buckets_.size() == 1 && !missing_.has_value()) CutOffRaw(spec, entries, out);
      for (auto& [raw, state] : entries) {
        PutBucket(spec, out.terms, KeyOf(column, raw), FinishBucket(agg_, *state, context));
      }
    }
    if (missing_.has_value()) {
      PutBucket(spec, out.terms, *spec.missing, FinishBucket(agg_, *missing_, context));
    }
  }

 private:
  // The cut-off of CutOffAggs, applied to raw values. REQUIRES: raw order == key order.
  static void CutOffRaw(const AggregationSpec& spec,
                        std::vector<std::pair<uint64_t, BucketState*>>& entries,
                        IntermediateAgg& out) {
    const size_t keep = spec.EffectiveShardSize();
    if (entries.size() <= keep) return;
    using Entry = std::pair<uint64_t, BucketState*>;
    const bool by_count_desc = spec.order_key == TermsOrderKey::kCount && !spec.order_ascending;
    if (by_count_desc) {
      std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(keep),
                       entries.end(), [](const Entry& a, const Entry& b) {
                         if (a.second->doc_count != b.second->doc_count) {
                           return a.second->doc_count > b.second->doc_count;
                         }
                         return a.first < b.first;
                       });
    } else if (spec.order_key == TermsOrderKey::kKey) {
      std::nth_element(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(keep),
                       entries.end(), [&spec](const Entry& a, const Entry& b) {
                         return spec.order_ascending ? a.first < b.first : a.first > b.first;
                       });
    } else {
      return;
    }
    uint64_t largest_dropped = 0;
    for (size_t i = keep; i < entries.size(); ++i) {
      largest_dropped = std::max(largest_dropped, entries[i].second->doc_count);
      out.sum_other_doc_count += entries[i].second->doc_count;
    }
    if (by_count_desc) out.doc_count_error_upper_bound += largest_dropped;
    entries.resize(keep);
  }

  static constexpr size_t kMaxDenseTerms = size_t{1} << 22;

  const ResolvedAgg& agg_;
  std::vector<absl::flat_hash_map<uint64_t, BucketState>> buckets_;  // one map per column
  // Per text column of a top-level terms without sub-aggregations: counts by ordinal.
  std::vector<std::vector<uint64_t>> dense_counts_;
  std::optional<BucketState> missing_;
};

// ---------------------------------------------------------------------------------------------
// histogram, date_histogram

class HistogramCollector final : public Collector {
 public:
  explicit HistogramCollector(const ResolvedAgg& agg) : agg_(agg) {}

  void Collect(uint32_t doc, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    DocValues(agg_.columns, doc, values_);
    keys_.clear();
    for (const RawValue& value : values_) {
      const Column& column = *agg_.columns[value.column];
      if (IsText(column)) continue;
      const double number = NumberOf(column, value.raw);
      if (!std::isfinite(number)) continue;
      if ((spec.hard_bounds_min.has_value() && number < *spec.hard_bounds_min) ||
          (spec.hard_bounds_max.has_value() && number > *spec.hard_bounds_max)) {
        continue;
      }
      if (agg_.rounding.has_value()) {
        if (!(std::fabs(number) < 9.0e15)) continue;
        const int64_t millis = column.field->type == FieldType::kDatetime
                                   ? FloorDiv(DecodeI64(value.raw), kNanosPerMilli)
                                   : static_cast<int64_t>(std::floor(number));
        keys_.push_back(DateBucketStart(millis));
      } else {
        const double index = std::floor((number - spec.offset) / spec.interval);
        if (!(std::fabs(index) < 9.0e18)) continue;
        keys_.push_back(static_cast<int64_t>(index));
      }
    }
    if (keys_.size() > 1) {
      std::sort(keys_.begin(), keys_.end());
      keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
    }
    for (int64_t key : keys_) {
      auto it = buckets_.find(key);
      if (it == buckets_.end()) {
        context.AddBuckets(1);
        it = buckets_.emplace(key, NewBucket(agg_, context)).first;
      }
      CollectIn(it->second, doc, context);
    }
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    for (auto& [key, state] : buckets_)
      out.histogram.emplace(key, FinishBucket(agg_, state, context));
  }

 private:
  // Buckets are contiguous intervals and docs come roughly in time order: the last bucket's
  // bounds answer most values without a time zone conversion.
  int64_t DateBucketStart(int64_t millis) {
    if (millis >= cached_start_ && millis < cached_end_) return cached_start_;
    cached_start_ = agg_.rounding->BucketStart(millis);
    cached_end_ = agg_.rounding->NextBucketStart(cached_start_);
    if (millis < cached_start_ || millis >= cached_end_) cached_end_ = cached_start_;  // no reuse
    return cached_start_;
  }

  const ResolvedAgg& agg_;
  int64_t cached_start_ = 0;
  int64_t cached_end_ = 0;  // empty: [0, 0)
  absl::flat_hash_map<int64_t, BucketState> buckets_;
  std::vector<RawValue> values_;
  std::vector<int64_t> keys_;
};

// ---------------------------------------------------------------------------------------------
// range, filter, filters: a fixed list of buckets.

class FixedBucketsCollector final : public Collector {
 public:
  FixedBucketsCollector(const ResolvedAgg& agg, CollectContext& context) : agg_(agg) {
    const size_t count = NumFixedBuckets(*agg.spec);
    context.AddBuckets(count);
    for (size_t i = 0; i < count; ++i) buckets_.push_back(NewBucket(agg, context));
  }

  void Collect(uint32_t doc, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    if (spec.kind == AggregationKind::kRange) {
      DocValues(agg_.columns, doc, values_);
      for (size_t r = 0; r < spec.ranges.size(); ++r) {
        const AggregationRange& range = spec.ranges[r];
        const bool hit = std::any_of(values_.begin(), values_.end(), [&](const RawValue& v) {
          const Column& column = *agg_.columns[v.column];
          if (IsText(column)) return false;
          const double number = NumberOf(column, v.raw);
          return (!range.from.has_value() || number >= *range.from) &&
                 (!range.to.has_value() || number < *range.to);
        });
        if (hit) CollectIn(buckets_[r], doc, context);
      }
      return;
    }
    bool matched_any = false;
    for (size_t f = 0; f < agg_.filter_docs.size(); ++f) {
      if (!agg_.filter_docs[f].Test(doc)) continue;
      matched_any = true;
      CollectIn(buckets_[f], doc, context);
    }
    if (!matched_any && spec.kind == AggregationKind::kFilters && spec.other_bucket) {
      CollectIn(buckets_.back(), doc, context);
    }
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    for (size_t i = 0; i < buckets_.size() && i < out.fixed_buckets.size(); ++i) {
      out.fixed_buckets[i] = FinishBucket(agg_, buckets_[i], context);
    }
  }

 private:
  const ResolvedAgg& agg_;
  std::vector<BucketState> buckets_;
  std::vector<RawValue> values_;
};

// ---------------------------------------------------------------------------------------------
// composite, multi_terms: keys of one component per source.

// One key component while collecting: a raw column value, a histogram index or date bucket
// start, or null.
struct RawComponent {
  static constexpr uint32_t kNull = 0xffff'ffff;
  static constexpr uint32_t kBucket = 0xffff'fffe;   // histogram index / date bucket start
  static constexpr uint32_t kMissing = 0xffff'fffd;  // multi_terms: the source's `missing`
  uint32_t column = kNull;
  uint64_t value = 0;
  bool operator==(const RawComponent& other) const {
    return column == other.column && value == other.value;
  }
  template <typename H>
  friend H AbslHashValue(H state, const RawComponent& component) {
    return H::combine(std::move(state), component.column, component.value);
  }
};

class KeyedCollector final : public Collector {
 public:
  explicit KeyedCollector(const ResolvedAgg& agg)
      : agg_(agg), per_source_(agg.spec->sources.size()) {}

  void Collect(uint32_t doc, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    const bool composite = spec.kind == AggregationKind::kComposite;
    for (size_t s = 0; s < spec.sources.size(); ++s) {
      const KeySource& source = spec.sources[s];
      std::vector<RawComponent>& components = per_source_[s];
      components.clear();
      DocValues(agg_.source_columns[s], doc, values_);
      Dedup(values_);
      for (const RawValue& value : values_) {
        const Column& column = *agg_.source_columns[s][value.column];
        if (source.kind == KeySourceKind::kTerms) {
          components.push_back({value.column, value.raw});
          continue;
        }
        if (IsText(column)) continue;
        const double number = NumberOf(column, value.raw);
        if (!std::isfinite(number)) continue;
        int64_t bucket = 0;
        if (source.kind == KeySourceKind::kDateHistogram) {
          if (!(std::fabs(number) < 9.0e15)) continue;
          const int64_t millis = column.field->type == FieldType::kDatetime
                                     ? FloorDiv(DecodeI64(value.raw), kNanosPerMilli)
                                     : static_cast<int64_t>(std::floor(number));
          bucket = agg_.source_roundings[s]->BucketStart(millis);
        } else {
          const double index = std::floor((number - source.offset) / source.interval);
          if (!(std::fabs(index) < 9.0e18)) continue;
          bucket = static_cast<int64_t>(index);
        }
        components.push_back({RawComponent::kBucket, static_cast<uint64_t>(bucket)});
      }
      if (components.size() > 1) {
        std::sort(components.begin(), components.end(),
                  [](const RawComponent& a, const RawComponent& b) {
                    return a.column != b.column ? a.column < b.column : a.value < b.value;
                  });
        components.erase(std::unique(components.begin(), components.end()), components.end());
      }
      if (components.empty()) {
        if (composite && source.missing_bucket) {
          components.push_back({RawComponent::kNull, 0});
        } else if (!composite && source.missing.has_value()) {
          components.push_back({RawComponent::kMissing, 0});
        } else {
          return;  // the doc has no key
        }
      }
    }
    // Every combination of the sources' components (multi-valued fields).
    key_.assign(spec.sources.size(), RawComponent());
    CollectCombinations(0, doc, context);
  }

  void Finish(IntermediateAgg& out, CollectContext& context) override {
    const AggregationSpec& spec = *agg_.spec;
    for (auto& [raw_key, state] : buckets_) {
      std::vector<AggKey> key;
      key.reserve(raw_key.size());
      for (size_t s = 0; s < raw_key.size(); ++s) key.push_back(ToKey(s, raw_key[s]));
      if (spec.after.has_value() && !CompositeKeyLess(spec, *spec.after, key)) continue;
      PutBucket(spec, out.keyed, std::move(key), FinishBucket(agg_, state, context));
    }
  }

 private:
  void CollectCombinations(size_t source, uint32_t doc, CollectContext& context) {
    if (!context.ok()) return;
    if (source == per_source_.size()) {
      auto it = buckets_.find(key_);
      if (it == buckets_.end()) {
        context.AddBytes(key_.size() * sizeof(RawComponent) + sizeof(key_));
        it = buckets_.emplace(key_, NewBucket(agg_, context)).first;
      }
      CollectIn(it->second, doc, context);
      return;
    }
    for (const RawComponent& component : per_source_[source]) {
      key_[source] = component;
      CollectCombinations(source + 1, doc, context);
    }
  }

  AggKey ToKey(size_t source_index, const RawComponent& component) const {
    const KeySource& source = agg_.spec->sources[source_index];
    switch (component.column) {
      case RawComponent::kNull:
        return AggKey::Null();
      case RawComponent::kMissing:
        return *source.missing;
      case RawComponent::kBucket: {
        const auto bucket = static_cast<int64_t>(component.value);
        if (source.kind == KeySourceKind::kDateHistogram) return AggKey::Datetime(bucket);
        return AggKey::F64(static_cast<double>(bucket) * source.interval + source.offset);
      }
      default:
        return KeyOf(*agg_.source_columns[source_index][component.column], component.value);
    }
  }

  const ResolvedAgg& agg_;
  std::vector<std::vector<RawComponent>> per_source_;  // components of the current doc
  std::vector<RawComponent> key_;
  absl::flat_hash_map<std::vector<RawComponent>, BucketState> buckets_;
  std::vector<RawValue> values_;
};

// ---------------------------------------------------------------------------------------------

Collectors MakeCollectors(const std::vector<ResolvedAgg>& aggs, CollectContext& context,
                          bool top_level) {
  Collectors collectors;
  collectors.reserve(aggs.size());
  for (const ResolvedAgg& agg : aggs) {
    switch (agg.spec->kind) {
      case AggregationKind::kTerms:
        collectors.push_back(std::make_unique<TermsCollector>(agg, top_level, context));
        break;
      case AggregationKind::kHistogram:
      case AggregationKind::kDateHistogram:
        collectors.push_back(std::make_unique<HistogramCollector>(agg));
        break;
      case AggregationKind::kRange:
      case AggregationKind::kFilter:
      case AggregationKind::kFilters:
        collectors.push_back(std::make_unique<FixedBucketsCollector>(agg, context));
        break;
      case AggregationKind::kComposite:
      case AggregationKind::kMultiTerms:
        collectors.push_back(std::make_unique<KeyedCollector>(agg));
        break;
      case AggregationKind::kCardinality:
        collectors.push_back(std::make_unique<CardinalityCollector>(agg));
        break;
      case AggregationKind::kPercentiles:
        collectors.push_back(std::make_unique<PercentilesCollector>(agg));
        break;
      case AggregationKind::kTopHits:
        collectors.push_back(std::make_unique<TopHitsCollector>(agg));
        break;
      default:
        collectors.push_back(std::make_unique<MetricCollector>(agg));
        break;
    }
    context.AddBytes(sizeof(MetricCollector));
  }
  return collectors;
}

}  // namespace

absl::StatusOr<IntermediateAggs> CollectAggregations(const AggSplitAccess& split,
                                                     const DocSet& matches,
                                                     const AggregationRequest& request,
                                                     AggregationMemoryBudget* budget) {
  AggregationMemoryBudget default_budget(kDefaultAggregationMemoryLimitBytes);
  std::vector<ResolvedAgg> resolved;
  RETURN_IF_ERROR(ResolveAggs(split, request.aggregations, resolved));
  CollectContext context;
  context.budget = budget != nullptr ? budget : &default_budget;
  Collectors collectors = MakeCollectors(resolved, context, /*top_level=*/true);
  matches.ForEachUntil([&](uint32_t doc) {
    for (const std::unique_ptr<Collector>& collector : collectors) collector->Collect(doc, context);
    return context.ok();
  });
  context.Flush();
  RETURN_IF_ERROR(context.status);
  IntermediateAggs result = FinishAll(resolved, collectors, context);
  context.Flush();
  RETURN_IF_ERROR(context.status);
  CutOffAggs(request.aggregations, result);
  if (CountBuckets(result) > kMaxAggregationBuckets) {
    return absl::InvalidArgumentError(
        fmt::format("aggregation exceeds {} buckets", kMaxAggregationBuckets));
  }
  return result;
}

}  // namespace shale::index::internal
