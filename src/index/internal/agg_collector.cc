#include "index/internal/agg_collector.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "fmt/format.h"

#include "common/status_macros.h"

namespace shale::index::internal {
namespace {

// One fast field value fed to an aggregation: a number (datetimes in epoch milliseconds) or a
// term of a text column.
struct AggValue {
  bool is_text = false;
  double number = 0;
  std::string_view text;
};

// An AggregationSpec with the split's columns of its field (none when the split lacks the field).
struct ResolvedAgg {
  const AggregationSpec* spec = nullptr;
  std::vector<std::shared_ptr<const Column>> columns;
  std::vector<ResolvedAgg> sub_aggregations;
  std::vector<AggValue> scratch;  // values of the current doc
};

struct AggCollectContext {
  uint64_t num_buckets = 0;
};

void CollectAggs(std::vector<ResolvedAgg>& aggs, IntermediateAggs& out, uint32_t doc,
                 AggCollectContext& context);

absl::Status ResolveAggs(const AggSplitAccess& split, const std::vector<AggregationSpec>& specs,
                         std::vector<ResolvedAgg>& out) {
  out.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const AggregationSpec& spec = specs[i];
    ResolvedAgg& resolved = out[i];
    resolved.spec = &spec;
    absl::StatusOr<std::vector<std::shared_ptr<const Column>>> columns =
        split.FastColumns(spec.field);
    if (!columns.ok()) {
      if (!absl::IsInvalidArgument(columns.status())) return columns.status();
      return absl::InvalidArgumentError(
          fmt::format("field `{}` of aggregation `{}` is not a fast field", spec.field, spec.name));
    }
    resolved.columns = *std::move(columns);
    RETURN_IF_ERROR(ResolveAggs(split, spec.sub_aggregations, resolved.sub_aggregations));
  }
  return absl::OkStatus();
}

void DocValues(const std::vector<std::shared_ptr<const Column>>& columns, uint32_t doc,
               std::vector<AggValue>& out) {
  out.clear();
  for (const std::shared_ptr<const Column>& column : columns) {
    auto [begin, end] = column->Range(doc);
    for (uint64_t i = begin; i < end; ++i) {
      const uint64_t raw = column->RawValue(i);
      AggValue value;
      if (column->field->column.kind == ColumnKind::kTextDict) {
        if (raw >= column->dict.size()) continue;
        value.is_text = true;
        value.text = column->dict[raw];
      } else {
        switch (column->field->type) {
          case FieldType::kI64:
            value.number = static_cast<double>(DecodeI64(raw));
            break;
          case FieldType::kF64:
            value.number = DecodeF64(raw);
            break;
          case FieldType::kDatetime:
            value.number = static_cast<double>(DecodeI64(raw)) / 1000.0;
            break;
          default:
            value.number = static_cast<double>(raw);
            break;
        }
      }
      out.push_back(value);
    }
  }
}

template <typename Map, typename Key>
IntermediateBucket& BucketFor(Map& buckets, const Key& key, const AggregationSpec& spec,
                              AggCollectContext& context) {
  auto it = buckets.find(key);
  if (it != buckets.end()) return it->second;
  context.num_buckets += 1 + CountBuckets(MakeEmptyAggs(spec.sub_aggregations));
  return buckets.emplace(key, MakeEmptyBucket(spec.sub_aggregations)).first->second;
}

void CollectInBucket(ResolvedAgg& agg, IntermediateBucket& bucket, uint32_t doc,
                     AggCollectContext& context) {
  ++bucket.doc_count;
  CollectAggs(agg.sub_aggregations, bucket.sub_aggregations, doc, context);
}

void CollectAggs(std::vector<ResolvedAgg>& aggs, IntermediateAggs& out, uint32_t doc,
                 AggCollectContext& context) {
  for (size_t i = 0; i < aggs.size(); ++i) {
    ResolvedAgg& agg = aggs[i];
    const AggregationSpec& spec = *agg.spec;
    IntermediateAgg& state = out[i];
    DocValues(agg.columns, doc, agg.scratch);
    const std::vector<AggValue>& values = agg.scratch;
    switch (spec.kind) {
      case AggregationKind::kAvg:
      case AggregationKind::kSum:
      case AggregationKind::kMin:
      case AggregationKind::kMax:
      case AggregationKind::kStats:
        for (const AggValue& value : values) {
          if (!value.is_text) state.metric.Add(value.number);
        }
        break;
      case AggregationKind::kValueCount:
        state.metric.count += values.size();
        break;
      case AggregationKind::kTerms: {
        if (values.empty()) {
          if (spec.missing_text.has_value()) {
            CollectInBucket(agg, BucketFor(state.text_terms, *spec.missing_text, spec, context),
                            doc, context);
          } else if (spec.missing_number.has_value()) {
            CollectInBucket(agg,
                            BucketFor(state.numeric_terms, *spec.missing_number, spec, context),
                            doc, context);
          }
          break;
        }
        for (size_t v = 0; v < values.size(); ++v) {
          bool seen = false;
          for (size_t w = 0; w < v && !seen; ++w) {
            seen = values[w].is_text == values[v].is_text &&
                   (values[v].is_text ? values[w].text == values[v].text
                                      : values[w].number == values[v].number);
          }
          if (seen) continue;
          if (values[v].is_text) {
            CollectInBucket(agg,
                            BucketFor(state.text_terms, std::string(values[v].text), spec, context),
                            doc, context);
          } else {
            CollectInBucket(agg, BucketFor(state.numeric_terms, values[v].number, spec, context),
                            doc, context);
          }
        }
        break;
      }
      case AggregationKind::kHistogram:
      case AggregationKind::kDateHistogram: {
        std::vector<int64_t> indexes;
        for (const AggValue& value : values) {
          if (value.is_text || !std::isfinite(value.number)) continue;
          const double index = std::floor((value.number - spec.offset) / spec.interval);
          if (!(std::fabs(index) < 9.0e18)) continue;
          indexes.push_back(static_cast<int64_t>(index));
        }
        std::sort(indexes.begin(), indexes.end());
        indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
        for (int64_t index : indexes) {
          CollectInBucket(agg, BucketFor(state.histogram, index, spec, context), doc, context);
        }
        break;
      }
      case AggregationKind::kRange:
        for (size_t r = 0; r < spec.ranges.size() && r < state.ranges.size(); ++r) {
          const AggregationRange& range = spec.ranges[r];
          const bool hit = std::any_of(values.begin(), values.end(), [&](const AggValue& v) {
            return !v.is_text && (!range.from.has_value() || v.number >= *range.from) &&
                   (!range.to.has_value() || v.number < *range.to);
          });
          if (hit) CollectInBucket(agg, state.ranges[r], doc, context);
        }
        break;
    }
  }
}

}  // namespace

absl::StatusOr<IntermediateAggs> CollectAggregations(const AggSplitAccess& split,
                                                     const DocSet& matches,
                                                     const AggregationRequest& aggregation) {
  std::vector<ResolvedAgg> resolved;
  RETURN_IF_ERROR(ResolveAggs(split, aggregation.aggregations, resolved));
  IntermediateAggs result = MakeEmptyAggs(aggregation.aggregations);
  AggCollectContext context;
  context.num_buckets = CountBuckets(result);
  matches.ForEachUntil([&](uint32_t doc) {
    CollectAggs(resolved, result, doc, context);
    return context.num_buckets <= kMaxAggregationBuckets;
  });
  if (context.num_buckets > kMaxAggregationBuckets) {
    return absl::InvalidArgumentError(
        fmt::format("aggregation exceeds {} buckets", kMaxAggregationBuckets));
  }
  return result;
}

}  // namespace shale::index::internal
