#include "search/aggregation_result.h"

#include <cmath>
#include <string>
#include <utility>

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
  aggs[0].terms[index::AggKey::Text("a")].doc_count = 5;
  aggs[0].terms[index::AggKey::Text("b")].doc_count = 7;
  aggs[0].terms[index::AggKey::Text("c")].doc_count = 5;
  aggs[0].terms[index::AggKey::Text("d")].doc_count = 1;
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
  histogram.date_interval.fixed_interval_millis = 30LL * 86'400'000;
  histogram.date_interval.offset_millis = -4LL * 86'400'000;
  histogram.min_doc_count = 0;
  histogram.extended_bounds_max = 1425254400000;
  histogram.sub_aggregations.push_back(Spec("s", AggregationKind::kStats));
  std::vector<AggregationSpec> specs = {histogram};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  // Start of the bucket of 2015-01-01 with a 30d interval and a -4d offset.
  const int64_t first =
      (1420070400000 + 4LL * 86'400'000) / (30LL * 86'400'000) * (30LL * 86'400'000) -
      4LL * 86'400'000;
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
  aggs[0].fixed_buckets[0].doc_count = 5;
  aggs[0].fixed_buckets[2].doc_count = 4;
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

TEST(AggregationResultTest, TermsKeysKeepTheirTypesAndErrorBounds) {
  AggregationSpec terms = Spec("t", AggregationKind::kTerms);
  terms.size = 2;
  terms.show_term_doc_count_error = true;
  std::vector<AggregationSpec> specs = {terms, Spec("b", AggregationKind::kTerms),
                                        Spec("d", AggregationKind::kTerms)};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].terms[index::AggKey::U64(1769070189829214200u)].doc_count = 4;
  aggs[0].terms[index::AggKey::I64(-3)].doc_count = 2;
  aggs[0].terms[index::AggKey::I64(-3)].doc_count_error = 1;
  aggs[0].terms[index::AggKey::F64(2.5)].doc_count = 1;
  aggs[0].sum_other_doc_count = 5;
  aggs[0].doc_count_error_upper_bound = 2;
  aggs[1].terms[index::AggKey::Bool(true)].doc_count = 1;
  aggs[2].terms[index::AggKey::Datetime(1420070400000)].doc_count = 1;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["t"].dump(), R"({"buckets":[{"doc_count":4,"doc_count_error_upper_bound":0,)"
                                 R"("key":1769070189829214200},)"
                                 R"({"doc_count":2,"doc_count_error_upper_bound":1,"key":-3}],)"
                                 R"("doc_count_error_upper_bound":2,"sum_other_doc_count":6})");
  EXPECT_EQ((*json)["b"]["buckets"][0].dump(), R"({"doc_count":1,"key":1,"key_as_string":"true"})");
  EXPECT_EQ((*json)["d"]["buckets"][0].dump(),
            R"({"doc_count":1,"key":1420070400000,"key_as_string":"2015-01-01T00:00:00Z"})");
}

TEST(AggregationResultTest, TermsOrderedByAMetricSubAggregation) {
  AggregationSpec terms = Spec("t", AggregationKind::kTerms);
  terms.order_key = index::TermsOrderKey::kMetric;
  terms.order_metric = "s.max";
  terms.sub_aggregations.push_back(Spec("s", AggregationKind::kStats));
  std::vector<AggregationSpec> specs = {terms};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  for (const auto& [key, max] : {std::pair<const char*, double>{"a", 5}, {"b", 9}, {"c", 1}}) {
    index::IntermediateBucket bucket = index::MakeEmptyBucket(terms.sub_aggregations);
    bucket.doc_count = 1;
    bucket.sub_aggregations[0].metric.Add(max);
    aggs[0].terms[index::AggKey::Text(key)] = bucket;
  }
  aggs[0].terms[index::AggKey::Text("none")] = index::MakeEmptyBucket(terms.sub_aggregations);
  aggs[0].terms[index::AggKey::Text("none")].doc_count = 3;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  const nlohmann::json& buckets = (*json)["t"]["buckets"];
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0]["key"], "b");
  EXPECT_EQ(buckets[1]["key"], "a");
  EXPECT_EQ(buckets[2]["key"], "c");
  EXPECT_EQ(buckets[3]["key"], "none");  // no value sorts last
}

TEST(AggregationResultTest, MultiTermsAndCompositeKeys) {
  AggregationSpec multi = Spec("m", AggregationKind::kMultiTerms);
  multi.order_key = index::TermsOrderKey::kKey;
  multi.order_ascending = true;
  AggregationSpec composite = Spec("c", AggregationKind::kComposite);
  composite.size = 2;
  index::KeySource host;
  host.name = "host";
  host.missing_bucket = true;
  index::KeySource response;
  response.name = "response";
  response.kind = index::KeySourceKind::kHistogram;
  response.descending = true;
  composite.sources = {host, response};
  std::vector<AggregationSpec> specs = {multi, composite};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].keyed[{index::AggKey::Text("h1"), index::AggKey::I64(100)}].doc_count = 1;
  aggs[0].keyed[{index::AggKey::Text("h1"), index::AggKey::I64(30)}].doc_count = 2;
  aggs[1].keyed[{index::AggKey::Text("h1"), index::AggKey::F64(0)}].doc_count = 1;
  aggs[1].keyed[{index::AggKey::Text("h1"), index::AggKey::F64(100)}].doc_count = 1;
  aggs[1].keyed[{index::AggKey::Null(), index::AggKey::F64(0)}].doc_count = 3;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["m"]["buckets"].dump(),
            R"([{"doc_count":2,"key":["h1",30],"key_as_string":"h1|30"},)"
            R"({"doc_count":1,"key":["h1",100],"key_as_string":"h1|100"}])");
  // Null first, then the descending histogram source.
  EXPECT_EQ((*json)["c"].dump(), R"({"after_key":{"host":"h1","response":100.0},"buckets":[)"
                                 R"({"doc_count":3,"key":{"host":null,"response":0.0}},)"
                                 R"({"doc_count":1,"key":{"host":"h1","response":100.0}}]})");
}

TEST(AggregationResultTest, SketchAndExtendedStatsMetrics) {
  AggregationSpec percentiles = Spec("p", AggregationKind::kPercentiles);
  percentiles.percents = {50, 99.9};
  AggregationSpec listed = percentiles;
  listed.name = "pl";
  listed.keyed = false;
  std::vector<AggregationSpec> specs = {
      percentiles, listed, Spec("c", AggregationKind::kCardinality),
      Spec("e", AggregationKind::kExtendedStats), Spec("empty", AggregationKind::kExtendedStats)};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  for (double value : {1.0, 2.0, 3.0, 4.0, 100.0}) {
    aggs[0].percentiles.Add(value);
    aggs[1].percentiles.Add(value);
    aggs[3].metric.AddWithSquare(value);
  }
  for (int i = 0; i < 7; ++i) aggs[2].cardinality.AddHash(index::CardinalitySketch::HashInteger(i));
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  const nlohmann::json& keyed = (*json)["p"]["values"];
  EXPECT_NEAR(keyed["50.0"].get<double>(), 3.0, 0.03);
  EXPECT_NEAR(keyed["99.9"].get<double>(), 4.0, 0.04);  // rank floor(0.999 * 4) = 3
  EXPECT_EQ((*json)["pl"]["values"][1]["key"].dump(), "99.9");
  EXPECT_EQ((*json)["c"]["value"].dump(), "7.0");
  const nlohmann::json& e = (*json)["e"];
  // Values 1, 2, 3, 4, 100: mean 22, population variance 1522, sample variance 1902.5.
  EXPECT_EQ(e["count"], 5);
  EXPECT_DOUBLE_EQ(e["sum_of_squares"].get<double>(), 10'030.0);
  EXPECT_DOUBLE_EQ(e["variance"].get<double>(), 1522.0);
  EXPECT_DOUBLE_EQ(e["variance_sampling"].get<double>(), 1902.5);
  EXPECT_DOUBLE_EQ(e["std_deviation_bounds"]["upper"].get<double>(), 22 + 2 * std::sqrt(1522.0));
  EXPECT_TRUE((*json)["empty"]["variance"].is_null());
  EXPECT_TRUE((*json)["empty"]["std_deviation_bounds"]["lower"].is_null());
  EXPECT_EQ((*json)["empty"]["count"], 0);
}

TEST(AggregationResultTest, FilterAndFiltersBuckets) {
  AggregationSpec filter = Spec("f", AggregationKind::kFilter);
  filter.filters.push_back({"", "level:warn", nullptr});
  filter.sub_aggregations.push_back(Spec("n", AggregationKind::kValueCount));
  AggregationSpec named = Spec("named", AggregationKind::kFilters);
  named.filters.push_back({"warn", "level:warn", nullptr});
  named.filters.push_back({"error", "level:error", nullptr});
  named.other_bucket = true;
  AggregationSpec anonymous = Spec("anon", AggregationKind::kFilters);
  anonymous.filters.push_back({"", "level:warn", nullptr});
  std::vector<AggregationSpec> specs = {filter, named, anonymous};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  aggs[0].fixed_buckets[0].doc_count = 4;
  aggs[0].fixed_buckets[0].sub_aggregations[0].metric.count = 3;
  aggs[1].fixed_buckets[0].doc_count = 4;
  aggs[1].fixed_buckets[1].doc_count = 2;
  aggs[1].fixed_buckets[2].doc_count = 9;
  aggs[2].fixed_buckets[0].doc_count = 4;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["f"].dump(), R"({"doc_count":4,"n":{"value":3.0}})");
  EXPECT_EQ((*json)["named"].dump(),
            R"({"buckets":{"_other_":{"doc_count":9},"error":{"doc_count":2},)"
            R"("warn":{"doc_count":4}}})");
  EXPECT_EQ((*json)["anon"].dump(), R"({"buckets":[{"doc_count":4}]})");
}

TEST(AggregationResultTest, CalendarDateHistogramFillsMonthsInTheTimeZone) {
  AggregationSpec histogram = Spec("h", AggregationKind::kDateHistogram);
  histogram.date_interval.calendar = index::CalendarUnit::kMonth;
  histogram.date_interval.time_zone = "Europe/Paris";
  histogram.min_doc_count = 0;
  std::vector<AggregationSpec> specs = {histogram};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  auto rounding = index::DateRounding::Create(histogram.date_interval);
  ASSERT_TRUE(rounding.ok());
  // 2015-01-15 and 2015-04-02 (UTC): January and April buckets, February and March filled.
  aggs[0].histogram[rounding->BucketStart(1421280000000)].doc_count = 1;
  aggs[0].histogram[rounding->BucketStart(1427932800000)].doc_count = 2;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  const nlohmann::json& buckets = (*json)["h"]["buckets"];
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0]["key_as_string"], "2015-01-01T00:00:00+01:00");
  EXPECT_EQ(buckets[0]["key"].dump(), "1420066800000.0");
  EXPECT_EQ(buckets[1]["key_as_string"], "2015-02-01T00:00:00+01:00");
  EXPECT_EQ(buckets[2]["key_as_string"], "2015-03-01T00:00:00+01:00");
  EXPECT_EQ(buckets[3]["key_as_string"], "2015-04-01T00:00:00+02:00");  // summer time
  EXPECT_EQ(buckets[3]["doc_count"], 2);
}

TEST(AggregationResultTest, DateRoundingUnits) {
  auto round = [](index::CalendarUnit unit, const std::string& zone, int64_t millis) {
    index::DateInterval interval;
    interval.calendar = unit;
    interval.time_zone = zone;
    auto rounding = index::DateRounding::Create(interval);
    EXPECT_TRUE(rounding.ok());
    const int64_t start = rounding->BucketStart(millis);
    return FormatEpochMillis(start, rounding->UtcOffsetSeconds(start));
  };
  const int64_t t = 1431700245123;  // 2015-05-15T14:30:45.123Z, a Friday
  EXPECT_EQ(round(index::CalendarUnit::kMinute, "", t), "2015-05-15T14:30:00Z");
  EXPECT_EQ(round(index::CalendarUnit::kHour, "+05:30", t), "2015-05-15T20:00:00+05:30");
  EXPECT_EQ(round(index::CalendarUnit::kDay, "-08:00", t), "2015-05-15T00:00:00-08:00");
  EXPECT_EQ(round(index::CalendarUnit::kWeek, "", t), "2015-05-11T00:00:00Z");
  EXPECT_EQ(round(index::CalendarUnit::kWeek, "Asia/Tokyo", t), "2015-05-11T00:00:00+09:00");
  EXPECT_EQ(round(index::CalendarUnit::kQuarter, "", t), "2015-04-01T00:00:00Z");
  EXPECT_EQ(round(index::CalendarUnit::kYear, "America/New_York", t), "2015-01-01T00:00:00-05:00");
  index::DateInterval fixed;
  fixed.fixed_interval_millis = 3 * 3'600'000;
  fixed.time_zone = "+01:00";
  auto rounding = index::DateRounding::Create(fixed);
  ASSERT_TRUE(rounding.ok());
  // Fixed intervals align on local time: 15:30 local falls in [15:00, 18:00).
  EXPECT_EQ(FormatEpochMillis(rounding->BucketStart(t), 3600), "2015-05-15T15:00:00+01:00");
  EXPECT_EQ(rounding->NextBucketStart(rounding->BucketStart(t)) - rounding->BucketStart(t),
            3 * 3'600'000);
  index::DateInterval bad;
  bad.calendar = index::CalendarUnit::kDay;
  bad.time_zone = "Mars/Olympus";
  EXPECT_EQ(index::DateRounding::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AggregationResultTest, TopHitsPageSourceIncludesSortAndFields) {
  AggregationSpec top = Spec("top", AggregationKind::kTopHits);
  top.from = 1;
  top.size = 1;
  top.sort = {{"ts", true}};
  top.source_includes = {"a.b", "c"};
  top.docvalue_fields = {"ts"};
  std::vector<AggregationSpec> specs = {top};
  index::IntermediateAggs aggs = index::MakeEmptyAggs(specs);
  for (int64_t millis : {2000, 1000}) {
    index::TopHit hit;
    hit.sort_values = {index::AggKey::Datetime(millis)};
    hit.source = R"({"a":{"b":1,"x":2},"c":"y","d":3})";
    hit.docvalues = {{index::AggKey::Datetime(millis)}};
    aggs[0].top_hits.push_back(hit);
  }
  aggs[0].metric.count = 7;
  auto json = FinalizeAggregations(specs, aggs);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["top"].dump(),
            R"({"hits":{"hits":[{"_score":null,"_source":{"a":{"b":1},"c":"y"},)"
            R"("fields":{"ts":["1970-01-01T00:00:01Z"]},"sort":[1000]}],"max_score":null,)"
            R"("total":{"relation":"eq","value":7}}})");
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
