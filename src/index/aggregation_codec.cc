#include "index/aggregation_codec.h"

#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/status_macros.h"
#include "index/internal/encoding.h"

namespace shale::index {
namespace internal {

// Reads and writes the private state of the sketches (they name this struct a friend).
struct SketchCodec {
  static void EncodeCardinality(const CardinalitySketch& sketch, std::string& out) {
    if (sketch.dense()) {
      out.push_back(1);
      out.append(reinterpret_cast<const char*>(sketch.registers_.data()),
                 sketch.registers_.size());
      return;
    }
    out.push_back(0);
    std::vector<uint64_t> hashes(sketch.sparse_.begin(), sketch.sparse_.end());
    std::sort(hashes.begin(), hashes.end());  // deterministic bytes for equal sketches
    PutVarint(out, hashes.size());
    for (uint64_t hash : hashes) PutFixed64(out, hash);
  }

  static bool DecodeCardinality(ByteReader& reader, CardinalitySketch& sketch) {
    const uint8_t form = reader.Byte();
    if (form == 1) {
      std::string_view registers = reader.Bytes(CardinalitySketch::kNumRegisters);
      if (!reader.ok()) return false;
      sketch.registers_.assign(registers.begin(), registers.end());
      // A register holds a rank in [0, 64 - kPrecision + 1].
      return std::all_of(sketch.registers_.begin(), sketch.registers_.end(), [](uint8_t reg) {
        return reg <= 64 - CardinalitySketch::kPrecision + 1;
      });
    }
    if (form != 0) return false;
    const uint64_t count = reader.Varint();
    if (count > CardinalitySketch::kMaxSparseHashes || count * 8 > reader.remaining()) {
      return false;
    }
    sketch.sparse_.reserve(count);
    for (uint64_t i = 0; i < count; ++i) sketch.sparse_.insert(reader.Fixed64());
    return reader.ok();
  }

  static void EncodeStore(const QuantileSketch::Store& store, std::string& out) {
    PutVarint(out, ZigZag(store.min_key));
    PutVarint(out, store.bins.size());
    for (uint64_t bin : store.bins) PutVarint(out, bin);
  }

  static bool DecodeStore(ByteReader& reader, QuantileSketch::Store& store) {
    const int64_t min_key = UnZigZag(reader.Varint());
    const uint64_t num_bins = reader.Varint();
    if (!reader.ok() || num_bins > static_cast<uint64_t>(QuantileSketch::kMaxBins) ||
        num_bins > reader.remaining() || min_key < INT32_MIN || min_key > INT32_MAX ||
        min_key + static_cast<int64_t>(num_bins) > INT32_MAX) {
      return false;
    }
    store.min_key = static_cast<int32_t>(min_key);
    store.bins.resize(num_bins);
    for (uint64_t& bin : store.bins) bin = reader.Varint();
    return reader.ok();
  }

  static void EncodeQuantiles(const QuantileSketch& sketch, std::string& out) {
    EncodeStore(sketch.positive_, out);
    EncodeStore(sketch.negative_, out);
    PutVarint(out, sketch.zero_count_);
    PutVarint(out, sketch.count_);
    PutFixed64(out, std::bit_cast<uint64_t>(sketch.min_));
    PutFixed64(out, std::bit_cast<uint64_t>(sketch.max_));
  }

  static bool DecodeQuantiles(ByteReader& reader, QuantileSketch& sketch) {
    if (!DecodeStore(reader, sketch.positive_) || !DecodeStore(reader, sketch.negative_)) {
      return false;
    }
    sketch.zero_count_ = reader.Varint();
    sketch.count_ = reader.Varint();
    sketch.min_ = std::bit_cast<double>(reader.Fixed64());
    sketch.max_ = std::bit_cast<double>(reader.Fixed64());
    return reader.ok();
  }

  static uint64_t ZigZag(int64_t value) {
    return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  }
  static int64_t UnZigZag(uint64_t value) {
    return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
  }
};

}  // namespace internal

namespace {

using internal::ByteReader;
using internal::PutBytes;
using internal::PutFixed64;
using internal::PutVarint;
using internal::SketchCodec;

// PERSISTED: bits of an aggregation's presence mask, never renumber.
enum PresenceBit : uint64_t {
  kMetricBit = 1u << 0,
  kTermsBit = 1u << 1,
  kKeyedBit = 1u << 2,
  kCutOffCountsBit = 1u << 3,
  kHistogramBit = 1u << 4,
  kFixedBucketsBit = 1u << 5,
  kCardinalityBit = 1u << 6,
  kPercentilesBit = 1u << 7,
  kTopHitsBit = 1u << 8,
};
constexpr uint64_t kAllPresenceBits = (1u << 9) - 1;

void EncodeDouble(double value, std::string& out) {
  PutFixed64(out, std::bit_cast<uint64_t>(value));
}

void EncodeKey(const AggKey& key, std::string& out) {
  out.push_back(static_cast<char>(key.type));
  if (key.type == AggKeyType::kText) {
    PutBytes(out, key.text);
  } else if (key.type != AggKeyType::kNull) {
    PutFixed64(out, key.bits);
  }
}

void EncodeKeys(const std::vector<AggKey>& keys, std::string& out) {
  PutVarint(out, keys.size());
  for (const AggKey& key : keys) EncodeKey(key, out);
}

void EncodeAggs(const IntermediateAggs& aggs, std::string& out);

void EncodeBucket(const IntermediateBucket& bucket, std::string& out) {
  PutVarint(out, bucket.doc_count);
  PutVarint(out, bucket.doc_count_error);
  EncodeAggs(bucket.sub_aggregations, out);
}

bool IsEmptyMetric(const MetricPartial& metric) {
  const MetricPartial empty;
  return metric.count == 0 && std::bit_cast<uint64_t>(metric.sum) == 0 &&
         std::bit_cast<uint64_t>(metric.sum_of_squares) == 0 &&
         std::bit_cast<uint64_t>(metric.min) == std::bit_cast<uint64_t>(empty.min) &&
         std::bit_cast<uint64_t>(metric.max) == std::bit_cast<uint64_t>(empty.max);
}

void EncodeAgg(const IntermediateAgg& agg, std::string& out) {
  uint64_t mask = 0;
  if (!IsEmptyMetric(agg.metric)) mask |= kMetricBit;
  if (!agg.terms.empty()) mask |= kTermsBit;
  if (!agg.keyed.empty()) mask |= kKeyedBit;
  if (agg.sum_other_doc_count != 0 || agg.doc_count_error_upper_bound != 0) {
    mask |= kCutOffCountsBit;
  }
  if (!agg.histogram.empty()) mask |= kHistogramBit;
  if (!agg.fixed_buckets.empty()) mask |= kFixedBucketsBit;
  if (agg.cardinality.dense() || agg.cardinality.Estimate() != 0) mask |= kCardinalityBit;
  if (agg.percentiles.count() != 0) mask |= kPercentilesBit;
  if (!agg.top_hits.empty()) mask |= kTopHitsBit;
  PutVarint(out, mask);
  if ((mask & kMetricBit) != 0) {
    PutVarint(out, agg.metric.count);
    EncodeDouble(agg.metric.sum, out);
    EncodeDouble(agg.metric.sum_of_squares, out);
    EncodeDouble(agg.metric.min, out);
    EncodeDouble(agg.metric.max, out);
  }
  if ((mask & kTermsBit) != 0) {
    PutVarint(out, agg.terms.size());
    for (const auto& [key, bucket] : agg.terms) {
      EncodeKey(key, out);
      EncodeBucket(bucket, out);
    }
  }
  if ((mask & kKeyedBit) != 0) {
    PutVarint(out, agg.keyed.size());
    for (const auto& [keys, bucket] : agg.keyed) {
      EncodeKeys(keys, out);
      EncodeBucket(bucket, out);
    }
  }
  if ((mask & kCutOffCountsBit) != 0) {
    PutVarint(out, agg.sum_other_doc_count);
    PutVarint(out, agg.doc_count_error_upper_bound);
  }
  if ((mask & kHistogramBit) != 0) {
    PutVarint(out, agg.histogram.size());
    for (const auto& [bucket_key, bucket] : agg.histogram) {
      PutVarint(out, SketchCodec::ZigZag(bucket_key));
      EncodeBucket(bucket, out);
    }
  }
  if ((mask & kFixedBucketsBit) != 0) {
    PutVarint(out, agg.fixed_buckets.size());
    for (const IntermediateBucket& bucket : agg.fixed_buckets) EncodeBucket(bucket, out);
  }
  if ((mask & kCardinalityBit) != 0) SketchCodec::EncodeCardinality(agg.cardinality, out);
  if ((mask & kPercentilesBit) != 0) SketchCodec::EncodeQuantiles(agg.percentiles, out);
  if ((mask & kTopHitsBit) != 0) {
    PutVarint(out, agg.top_hits.size());
    for (const TopHit& hit : agg.top_hits) {
      EncodeKeys(hit.sort_values, out);
      PutBytes(out, hit.source);
      PutVarint(out, hit.docvalues.size());
      for (const std::vector<AggKey>& values : hit.docvalues) EncodeKeys(values, out);
      PutVarint(out, hit.doc_id);
    }
  }
}

void EncodeAggs(const IntermediateAggs& aggs, std::string& out) {
  PutVarint(out, aggs.size());
  for (const IntermediateAgg& agg : aggs) EncodeAgg(agg, out);
}

// Decoding. Every element takes at least one byte, so a count above the remaining bytes is
// corrupt: that check bounds every allocation by the input size.
class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : reader_(bytes) {}

  absl::StatusOr<IntermediateAggs> Decode() {
    const uint8_t version = reader_.Byte();
    if (reader_.ok() && version != kIntermediateAggsFormatVersion) {
      return absl::DataLossError(
          fmt::format("intermediate aggregations: unknown format version {} (expected {})",
                      version, kIntermediateAggsFormatVersion));
    }
    IntermediateAggs aggs;
    if (!DecodeAggs(aggs, 0) || !reader_.AtEnd()) {
      return absl::DataLossError(
          fmt::format("intermediate aggregations: {} at offset {}",
                      error_.empty() ? "malformed or trailing bytes" : error_, reader_.position()));
    }
    return aggs;
  }

 private:
  bool Fail(const char* error) {
    if (error_.empty()) error_ = error;
    return false;
  }

  // A count of elements that each take at least one byte.
  bool Count(uint64_t& count) {
    count = reader_.Varint();
    if (!reader_.ok()) return Fail("truncated");
    if (count > reader_.remaining()) return Fail("count larger than the remaining bytes");
    return true;
  }

  bool DecodeKey(AggKey& key) {
    const uint8_t type = reader_.Byte();
    if (type > static_cast<uint8_t>(AggKeyType::kText)) return Fail("unknown key type");
    key.type = static_cast<AggKeyType>(type);
    if (key.type == AggKeyType::kText) {
      key.text = std::string(reader_.LengthPrefixed());
    } else if (key.type != AggKeyType::kNull) {
      key.bits = reader_.Fixed64();
    }
    return reader_.ok() || Fail("truncated key");
  }

  bool DecodeKeys(std::vector<AggKey>& keys) {
    uint64_t count = 0;
    if (!Count(count)) return false;
    keys.resize(count);
    for (AggKey& key : keys) {
      if (!DecodeKey(key)) return false;
    }
    return true;
  }

  bool DecodeBucket(IntermediateBucket& bucket, int depth) {
    bucket.doc_count = reader_.Varint();
    bucket.doc_count_error = reader_.Varint();
    if (!reader_.ok()) return Fail("truncated bucket");
    return DecodeAggs(bucket.sub_aggregations, depth + 1);
  }

  bool DecodeAggs(IntermediateAggs& aggs, int depth) {
    if (depth > kMaxEncodedAggregationDepth) return Fail("aggregations nested too deeply");
    uint64_t count = 0;
    if (!Count(count)) return false;
    aggs.resize(count);
    for (IntermediateAgg& agg : aggs) {
      if (!DecodeAgg(agg, depth)) return false;
    }
    return true;
  }

  bool DecodeAgg(IntermediateAgg& agg, int depth) {
    const uint64_t mask = reader_.Varint();
    if (!reader_.ok()) return Fail("truncated aggregation");
    if ((mask & ~kAllPresenceBits) != 0) return Fail("unknown presence bits");
    uint64_t count = 0;
    if ((mask & kMetricBit) != 0) {
      agg.metric.count = reader_.Varint();
      agg.metric.sum = std::bit_cast<double>(reader_.Fixed64());
      agg.metric.sum_of_squares = std::bit_cast<double>(reader_.Fixed64());
      agg.metric.min = std::bit_cast<double>(reader_.Fixed64());
      agg.metric.max = std::bit_cast<double>(reader_.Fixed64());
      if (!reader_.ok()) return Fail("truncated metric");
    }
    if ((mask & kTermsBit) != 0) {
      if (!Count(count)) return false;
      for (uint64_t i = 0; i < count; ++i) {
        AggKey key;
        IntermediateBucket bucket;
        if (!DecodeKey(key) || !DecodeBucket(bucket, depth)) return false;
        agg.terms.emplace(std::move(key), std::move(bucket));
      }
    }
    if ((mask & kKeyedBit) != 0) {
      if (!Count(count)) return false;
      for (uint64_t i = 0; i < count; ++i) {
        std::vector<AggKey> keys;
        IntermediateBucket bucket;
        if (!DecodeKeys(keys) || !DecodeBucket(bucket, depth)) return false;
        agg.keyed.emplace(std::move(keys), std::move(bucket));
      }
    }
    if ((mask & kCutOffCountsBit) != 0) {
      agg.sum_other_doc_count = reader_.Varint();
      agg.doc_count_error_upper_bound = reader_.Varint();
      if (!reader_.ok()) return Fail("truncated cut-off counts");
    }
    if ((mask & kHistogramBit) != 0) {
      if (!Count(count)) return false;
      for (uint64_t i = 0; i < count; ++i) {
        const int64_t bucket_key = SketchCodec::UnZigZag(reader_.Varint());
        IntermediateBucket bucket;
        if (!reader_.ok() || !DecodeBucket(bucket, depth)) return Fail("truncated histogram");
        agg.histogram.emplace(bucket_key, std::move(bucket));
      }
    }
    if ((mask & kFixedBucketsBit) != 0) {
      if (!Count(count)) return false;
      agg.fixed_buckets.resize(count);
      for (IntermediateBucket& bucket : agg.fixed_buckets) {
        if (!DecodeBucket(bucket, depth)) return false;
      }
    }
    if ((mask & kCardinalityBit) != 0 && !SketchCodec::DecodeCardinality(reader_, agg.cardinality)) {
      return Fail("malformed cardinality sketch");
    }
    if ((mask & kPercentilesBit) != 0 && !SketchCodec::DecodeQuantiles(reader_, agg.percentiles)) {
      return Fail("malformed percentiles sketch");
    }
    if ((mask & kTopHitsBit) != 0) {
      if (!Count(count)) return false;
      agg.top_hits.resize(count);
      for (TopHit& hit : agg.top_hits) {
        if (!DecodeKeys(hit.sort_values)) return false;
        hit.source = std::string(reader_.LengthPrefixed());
        uint64_t num_docvalue_fields = 0;
        if (!reader_.ok() || !Count(num_docvalue_fields)) return Fail("truncated top hit");
        hit.docvalues.resize(num_docvalue_fields);
        for (std::vector<AggKey>& values : hit.docvalues) {
          if (!DecodeKeys(values)) return false;
        }
        hit.doc_id = reader_.Varint32();
        if (!reader_.ok()) return Fail("truncated top hit");
      }
    }
    return true;
  }

  ByteReader reader_;
  std::string error_;
};

}  // namespace

absl::Status CheckAggsShape(const std::vector<AggregationSpec>& specs,
                            const IntermediateAggs& aggs) {
  if (aggs.size() != specs.size()) {
    return absl::DataLossError(fmt::format("intermediate aggregations: {} results for {} "
                                           "aggregations",
                                           aggs.size(), specs.size()));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    const AggregationSpec& spec = specs[i];
    const IntermediateAgg& agg = aggs[i];
    auto mismatch = [&spec](const char* what) {
      return absl::DataLossError(
          fmt::format("intermediate aggregations: aggregation `{}` has {}", spec.name, what));
    };
    if (agg.fixed_buckets.size() != NumFixedBuckets(spec)) {
      return mismatch("the wrong number of fixed buckets");
    }
    auto check_bucket = [&spec](const IntermediateBucket& bucket) {
      return CheckAggsShape(spec.sub_aggregations, bucket.sub_aggregations);
    };
    for (const IntermediateBucket& bucket : agg.fixed_buckets) {
      RETURN_IF_ERROR(check_bucket(bucket));
    }
    for (const auto& [key, bucket] : agg.terms) RETURN_IF_ERROR(check_bucket(bucket));
    for (const auto& [key, bucket] : agg.histogram) RETURN_IF_ERROR(check_bucket(bucket));
    for (const auto& [keys, bucket] : agg.keyed) {
      if (keys.size() != spec.sources.size()) return mismatch("a key of the wrong length");
      RETURN_IF_ERROR(check_bucket(bucket));
    }
  }
  return absl::OkStatus();
}

std::string EncodeIntermediateAggs(const IntermediateAggs& aggs) {
  std::string out;
  out.push_back(static_cast<char>(kIntermediateAggsFormatVersion));
  EncodeAggs(aggs, out);
  return out;
}

absl::StatusOr<IntermediateAggs> DecodeIntermediateAggs(std::string_view bytes) {
  return Decoder(bytes).Decode();
}

}  // namespace shale::index
