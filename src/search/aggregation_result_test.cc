#include "search/aggregation_result.h"

#include <string>

#include "gtest/gtest.h"

namespace shale::search {
namespace {

using index::AggregationKind;
using index::AggregationSpec;

AggregationSpec Spec(std::string name, AggregationKind kind) {
  AggregationSpec spec;
  spec.name = std::move(name);
  spec.kind = kind;
  spec.field = "f";
  return spec;
}

TEST(AggregationResultTest, FormatsEpochMillis) {
  EXPECT_EQ(FormatEpochMillis(1420070400000), "2015-01-01T00:00:00Z");
  EXPECT_EQ(FormatEpochMillis(1422662400500), "2015-01-31T00:00:00.500Z");
  EXPECT_EQ(FormatEpochMillis(-1), "1969-12-31T23:59:59.999Z");
}

TEST(AggregationResultTest, TermsOrderSizeMinDocCountAndOtherDocs) {
  AggregationSpec terms = Spec("t", AggregationKind::kTerms);
  terms.size = 2;
  std::vector<AggregationSpec> specs = {terms};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].text_terms["a"].doc_count = 5;
  aggs[0].text_terms["b"].doc_count = 7;
  aggs[0].text_terms["c"].doc_count = 5;
  aggs[0].text_terms["d"].doc_count = 1;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["t"].dump(),
            R"({"buckets":[{"doc_count":7,"key":"b"},{"doc_count":5,"key":"a"}],)"
            R"("doc_count_error_upper_bound":0,"sum_other_doc_count":6})");

  specs[0].order_key = index::TermsOrderKey::kKey;
  specs[0].order_ascending = false;
  specs[0].min_doc_count = 2;
  specs[0].size = 10;
  json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ((*json)["t"]["buckets"].size(), 3u);
  EXPECT_EQ((*json)["t"]["buckets"][0]["key"], "c");
  EXPECT_EQ((*json)["t"]["sum_other_doc_count"], 1);
}

TEST(AggregationResultTest, HistogramFillsEmptyBucketsWithinExtendedBounds) {
  AggregationSpec histogram = Spec("h", AggregationKind::kDateHistogram);
  histogram.interval = 30.0 * 86'400'000;
  histogram.offset = -4.0 * 86'400'000;
  histogram.min_doc_count = 0;
  histogram.extended_bounds_max = 1425254400000;
  histogram.sub_aggregations.push_back(Spec("s", AggregationKind::kStats));
  std::vector<AggregationSpec> specs = {histogram};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  // Bucket index of 2015-01-01 with a 30d interval and a -4d offset.
  const int64_t first = (1420070400000 + 4LL * 86'400'000) / (30LL * 86'400'000);
  index::IntermediateBucket bucket = index::MakeEmptyBucket(histogram.sub_aggregations);
  bucket.doc_count = 5;
  bucket.sub_aggregations[0].metric.Add(20);
  bucket.sub_aggregations[0].metric.Add(120);
  aggs[0].histogram[first] = bucket;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  const nlohmann::json& buckets = (*json)["h"]["buckets"];
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0].dump(),
            R"({"doc_count":5,"key":1420070400000.0,"key_as_string":"2015-01-01T00:00:00Z",)"
            R"("s":{"avg":70.0,"count":2,"max":120.0,"min":20.0,"sum":140.0}})");
  EXPECT_EQ(buckets[1]["doc_count"], 0);
  EXPECT_TRUE(buckets[1]["s"]["min"].is_null());
  EXPECT_EQ(buckets[2]["key_as_string"], "2015-03-02T00:00:00Z");
}

TEST(AggregationResultTest, RangeKeysAndMetrics) {
  AggregationSpec range = Spec("r", AggregationKind::kRange);
  range.ranges = {{std::nullopt, 50.0, std::nullopt},
                  {50.0, 80.0, std::string("medium")},
                  {80.0, std::nullopt, std::nullopt}};
  std::vector<AggregationSpec> specs = {range, Spec("avg", AggregationKind::kAvg),
                                        Spec("sum", AggregationKind::kSum),
                                        Spec("n", AggregationKind::kValueCount)};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].ranges[0].doc_count = 5;
  aggs[0].ranges[2].doc_count = 4;
  aggs[3].metric.count = 3;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["r"]["buckets"].dump(),
            R"([{"doc_count":5,"key":"*-50.0","to":50.0},)"
            R"({"doc_count":0,"from":50.0,"key":"medium","to":80.0},)"
            R"({"doc_count":4,"from":80.0,"key":"80.0-*"}])");
  EXPECT_TRUE((*json)["avg"]["value"].is_null());
  EXPECT_EQ((*json)["sum"]["value"].dump(), "0.0");
  EXPECT_EQ((*json)["n"]["value"].dump(), "3.0");
}

TEST(AggregationResultTest, TooManyFilledBucketsIsInvalidArgument) {
  AggregationSpec histogram = Spec("h", AggregationKind::kHistogram);
  histogram.interval = 1;
  histogram.min_doc_count = 0;
  std::vector<AggregationSpec> specs = {histogram};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].histogram[0].doc_count = 1;
  aggs[0].histogram[1'000'000].doc_count = 1;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shale::search
