// The binary encoding of intermediate aggregations: every member survives a round trip (sketch
// estimates included), and truncated, corrupted or hostile buffers are errors, never crashes.

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"

#include "index/aggregation_codec.h"

namespace shale::index {
namespace {

IntermediateBucket Bucket(uint64_t doc_count, IntermediateAggs sub = {}) {
  IntermediateBucket bucket;
  bucket.doc_count = doc_count;
  bucket.doc_count_error = doc_count / 3;
  bucket.sub_aggregations = std::move(sub);
  return bucket;
}

// One aggregation of every shape, with nested buckets, both sketch forms, NaN and infinities.
IntermediateAggs EveryShape() {
  IntermediateAggs aggs(6);
  std::mt19937_64 rng(7);
  IntermediateAgg metric;
  for (int i = 0; i < 100; ++i) metric.metric.AddWithSquare(static_cast<double>(rng() % 1000) / 7);
  aggs[0] = metric;

  IntermediateAgg& terms = aggs[1];
  terms.terms.emplace(AggKey::Text("error"), Bucket(10, {metric}));
  terms.terms.emplace(AggKey::U64(std::numeric_limits<uint64_t>::max()), Bucket(3));
  terms.terms.emplace(AggKey::I64(-42), Bucket(2));
  terms.terms.emplace(AggKey::F64(std::nan("")), Bucket(1));
  terms.terms.emplace(AggKey::Null(), Bucket(4));
  terms.sum_other_doc_count = 17;
  terms.doc_count_error_upper_bound = 5;

  IntermediateAgg& keyed = aggs[2];
  keyed.keyed.emplace(std::vector<AggKey>{AggKey::Datetime(-1000), AggKey::Bool(true)}, Bucket(8));
  keyed.keyed.emplace(std::vector<AggKey>{AggKey::Text(""), AggKey::Null()}, Bucket(1));

  IntermediateAgg& histogram = aggs[3];
  histogram.histogram.emplace(-5, Bucket(1));
  histogram.histogram.emplace(1'700'000'000'000, Bucket(9, {IntermediateAgg()}));
  histogram.fixed_buckets = {Bucket(0), Bucket(11)};

  IntermediateAgg& sketches = aggs[4];
  for (uint64_t i = 0; i < 50'000; ++i) sketches.cardinality.AddHash(rng());
  for (int i = 0; i < 5'000; ++i) {
    sketches.percentiles.Add(static_cast<double>(static_cast<int64_t>(rng() % 20'000) - 5'000));
  }
  sketches.percentiles.Add(0);

  IntermediateAgg& top = aggs[5];
  for (uint64_t i = 0; i < 20; ++i) top.cardinality.AddHash(i * 31);  // sparse form
  TopHit hit;
  hit.sort_values = {AggKey::F64(-0.0), AggKey::Null()};
  hit.source = R"({"body":"a \"quoted\" text","n":1})";
  hit.docvalues = {{AggKey::U64(1), AggKey::U64(2)}, {}};
  hit.doc_id = 4'000'000'000u;
  top.top_hits = {hit, TopHit()};
  return aggs;
}

TEST(AggregationCodecTest, RoundTripKeepsEveryMember) {
  const IntermediateAggs aggs = EveryShape();
  const std::string bytes = EncodeIntermediateAggs(aggs);
  ASSERT_EQ(static_cast<uint8_t>(bytes[0]), kIntermediateAggsFormatVersion);
  absl::StatusOr<IntermediateAggs> decoded = DecodeIntermediateAggs(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), aggs.size());
  // The encoding is deterministic, so equal bytes mean equal values.
  EXPECT_EQ(EncodeIntermediateAggs(*decoded), bytes);

  EXPECT_EQ((*decoded)[0].metric.count, aggs[0].metric.count);
  EXPECT_EQ((*decoded)[0].metric.sum, aggs[0].metric.sum);
  EXPECT_EQ((*decoded)[0].metric.sum_of_squares, aggs[0].metric.sum_of_squares);
  EXPECT_EQ((*decoded)[1].terms.size(), aggs[1].terms.size());
  EXPECT_EQ((*decoded)[1].terms.at(AggKey::Text("error")).sub_aggregations[0].metric.max,
            aggs[0].metric.max);
  EXPECT_EQ((*decoded)[1].terms.at(AggKey::U64(std::numeric_limits<uint64_t>::max())).doc_count,
            3u);
  EXPECT_EQ((*decoded)[1].sum_other_doc_count, 17u);
  EXPECT_EQ((*decoded)[1].doc_count_error_upper_bound, 5u);
  ASSERT_EQ((*decoded)[2].keyed.size(), 2u);
  EXPECT_EQ((*decoded)[2]
                .keyed.at(std::vector<AggKey>{AggKey::Datetime(-1000), AggKey::Bool(true)})
                .doc_count,
            8u);
  EXPECT_EQ((*decoded)[3].histogram.at(1'700'000'000'000).doc_count, 9u);
  EXPECT_EQ((*decoded)[3].fixed_buckets.size(), 2u);
  EXPECT_TRUE((*decoded)[4].cardinality.dense());
  EXPECT_TRUE((*decoded)[4].cardinality == aggs[4].cardinality);
  EXPECT_EQ((*decoded)[4].cardinality.Estimate(), aggs[4].cardinality.Estimate());
  EXPECT_TRUE((*decoded)[4].percentiles == aggs[4].percentiles);
  for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) {
    EXPECT_EQ((*decoded)[4].percentiles.Quantile(q), aggs[4].percentiles.Quantile(q)) << q;
  }
  EXPECT_FALSE((*decoded)[5].cardinality.dense());
  EXPECT_EQ((*decoded)[5].cardinality.Estimate(), 20u);
  ASSERT_EQ((*decoded)[5].top_hits.size(), 2u);
  EXPECT_EQ((*decoded)[5].top_hits[0].source, aggs[5].top_hits[0].source);
  EXPECT_EQ((*decoded)[5].top_hits[0].doc_id, 4'000'000'000u);
  EXPECT_EQ((*decoded)[5].top_hits[0].docvalues[0][1], AggKey::U64(2));
}

TEST(AggregationCodecTest, EmptyAggregationsRoundTrip) {
  for (const IntermediateAggs& aggs : {IntermediateAggs{}, IntermediateAggs(3)}) {
    absl::StatusOr<IntermediateAggs> decoded =
        DecodeIntermediateAggs(EncodeIntermediateAggs(aggs));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->size(), aggs.size());
  }
}

TEST(AggregationCodecTest, EveryTruncationIsDataLoss) {
  const std::string bytes = EncodeIntermediateAggs(EveryShape());
  for (size_t length = 0; length < bytes.size(); ++length) {
    absl::StatusOr<IntermediateAggs> decoded = DecodeIntermediateAggs(bytes.substr(0, length));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << length << " bytes decoded";
    ASSERT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_FALSE(DecodeIntermediateAggs(bytes + "x").ok());  // trailing bytes
}

TEST(AggregationCodecTest, UnknownVersionIsNamed) {
  std::string bytes = EncodeIntermediateAggs(EveryShape());
  bytes[0] = 9;
  absl::StatusOr<IntermediateAggs> decoded = DecodeIntermediateAggs(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("unknown format version 9"), std::string::npos)
      << decoded.status();
}

TEST(AggregationCodecTest, CorruptedBytesNeverCrash) {
  const std::string bytes = EncodeIntermediateAggs(EveryShape());
  std::mt19937_64 rng(3);
  for (int round = 0; round < 3'000; ++round) {
    std::string corrupt = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      corrupt[1 + rng() % (corrupt.size() - 1)] = static_cast<char>(rng());
    }
    // Either an error or some value: what matters is no crash and no huge allocation (ASan).
    (void)DecodeIntermediateAggs(corrupt).ok();
  }
}

TEST(AggregationCodecTest, HostileCountsAndNestingAreRejected) {
  // version, 1 agg, mask = terms, count = 2^62.
  std::string huge_count("\x01\x01\x02\x80\x80\x80\x80\x80\x80\x80\x80\x40", 12);
  EXPECT_EQ(DecodeIntermediateAggs(huge_count).status().code(), absl::StatusCode::kDataLoss);
  // A fixed bucket nested in a fixed bucket, deeper than the limit.
  std::string deep(1, static_cast<char>(kIntermediateAggsFormatVersion));
  const std::string level("\x01\x20\x01\x00\x00", 5);  // 1 agg, fixed buckets, 1 bucket
  for (int i = 0; i <= kMaxEncodedAggregationDepth + 1; ++i) deep += level;
  absl::StatusOr<IntermediateAggs> decoded = DecodeIntermediateAggs(deep);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("nested too deeply"), std::string::npos)
      << decoded.status();
}

// CheckAggsShape accepts results shaped like their specs and names the first mismatch: result
// count, fixed bucket count, key length, and the same nested in sub-aggregations.
TEST(AggregationCodecTest, CheckAggsShapeNamesTheMismatch) {
  AggregationSpec avg;
  avg.name = "avg_latency";
  avg.kind = AggregationKind::kAvg;
  AggregationSpec ranges;
  ranges.name = "by_range";
  ranges.kind = AggregationKind::kRange;
  ranges.ranges.resize(2);
  ranges.sub_aggregations = {avg};
  AggregationSpec composite;
  composite.name = "by_host_level";
  composite.kind = AggregationKind::kComposite;
  composite.sources.resize(2);
  const std::vector<AggregationSpec> specs = {ranges, composite};

  auto shaped = [] {
    IntermediateAggs aggs(2);
    aggs[0].fixed_buckets = {Bucket(1, IntermediateAggs(1)), Bucket(2, IntermediateAggs(1))};
    aggs[1].keyed.emplace(std::vector<AggKey>{AggKey::Text("web"), AggKey::Text("error")},
                          Bucket(3));
    return aggs;
  };
  EXPECT_TRUE(CheckAggsShape(specs, shaped()).ok());

  auto expect_mismatch = [&specs](const IntermediateAggs& aggs, const std::string& what) {
    const absl::Status status = CheckAggsShape(specs, aggs);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_NE(status.message().find(what), std::string::npos) << status;
  };
  IntermediateAggs one_result = shaped();
  one_result.pop_back();
  expect_mismatch(one_result, "1 results for 2 aggregations");
  IntermediateAggs missing_bucket = shaped();
  missing_bucket[0].fixed_buckets.pop_back();
  expect_mismatch(missing_bucket, "`by_range` has the wrong number of fixed buckets");
  IntermediateAggs short_key = shaped();
  short_key[1].keyed.emplace(std::vector<AggKey>{AggKey::Text("db")}, Bucket(1));
  expect_mismatch(short_key, "`by_host_level` has a key of the wrong length");
  IntermediateAggs no_sub_result = shaped();
  no_sub_result[0].fixed_buckets[1].sub_aggregations.clear();
  expect_mismatch(no_sub_result, "0 results for 1 aggregations");
}

}  // namespace
}  // namespace shale::index
