// Aggregations on generated splits, checked against counts the test computes itself, and the
// exact merge of two splits' results against one split holding all the docs.

#include "index/aggregation.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/split_format.h"
#include "index/testing/aggregation_spec.h"
#include "index/testing/field_builder.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kBaseSeconds = 1'700'000'000;

using ::shale::index::testing::Field;
using ::shale::index::testing::Spec;

DocMapping AggMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(Field("ts", FieldType::kDatetime, true));
  FieldMapping level = Field("level", FieldType::kText, true);
  level.tokenizer = "raw";
  mapping.field_mappings.push_back(level);
  mapping.field_mappings.push_back(Field("body", FieldType::kText, false));
  mapping.field_mappings.push_back(Field("status", FieldType::kI64, true));
  mapping.field_mappings.push_back(Field("latency", FieldType::kF64, true));
  mapping.field_mappings.push_back(Field("values", FieldType::kI64, true));
  mapping.timestamp_field = "ts";
  return mapping;
}

struct Doc {
  int64_t ts_seconds = 0;
  std::string level;
  int64_t status = 0;
  std::optional<double> latency;  // multiples of 0.5: sums are exact in any order
};

const char* const kLevels[] = {"info", "warn", "error", "debug", "trace"};

std::vector<Doc> Generate(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Doc> docs;
  for (int i = 0; i < count; ++i) {
    Doc doc;
    doc.ts_seconds = kBaseSeconds + static_cast<int64_t>(rng() % 20'000);
    doc.level = kLevels[rng() % 5];
    doc.status = 100 + static_cast<int64_t>(rng() % 450);
    if (rng() % 4 != 0) doc.latency = static_cast<double>(rng() % 2000) * 0.5;
    docs.push_back(doc);
  }
  return docs;
}

std::string ToJson(const Doc& doc) {
  std::string json = fmt::format(R"({{"ts":{},"level":"{}","body":"hello","status":{})",
                                 doc.ts_seconds, doc.level, doc.status);
  if (doc.latency.has_value()) json += fmt::format(R"(,"latency":{})", *doc.latency);
  return json + "}";
}

std::unique_ptr<SplitReader> BuildSplit(const std::vector<std::string>& jsons) {
  SerializedSplit split = testing::BuildTestSplit(AggMapping(), jsons);
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("agg-split", std::move(split.bytes)));
  EXPECT_TRUE(reader.ok()) << reader.status();
  return *std::move(reader);
}

std::unique_ptr<SplitReader> BuildSplit(const std::vector<Doc>& docs) {
  std::vector<std::string> jsons;
  for (const Doc& doc : docs) jsons.push_back(ToJson(doc));
  return BuildSplit(jsons);
}

// terms(level) { avg(latency) }, histogram(status, 100), date_histogram(ts, 1h),
// range(latency), stats(latency), value_count(status).
AggregationRequest TestRequest() {
  AggregationRequest request;
  AggregationSpec terms = Spec("levels", AggregationKind::kTerms, "level");
  terms.sub_aggregations.push_back(Spec("avg_latency", AggregationKind::kAvg, "latency"));
  request.aggregations.push_back(terms);
  AggregationSpec histogram = Spec("status_histo", AggregationKind::kHistogram, "status");
  histogram.interval = 100;
  histogram.min_doc_count = 0;
  request.aggregations.push_back(histogram);
  AggregationSpec date_histogram = Spec("per_hour", AggregationKind::kDateHistogram, "ts");
  date_histogram.interval = 3'600'000;
  date_histogram.min_doc_count = 0;
  request.aggregations.push_back(date_histogram);
  AggregationSpec range = Spec("latency_ranges", AggregationKind::kRange, "latency");
  range.ranges = {{std::nullopt, 100.0, std::nullopt},
                  {100.0, 500.0, std::string("mid")},
                  {500.0, std::nullopt, std::nullopt}};
  request.aggregations.push_back(range);
  request.aggregations.push_back(Spec("latency_stats", AggregationKind::kStats, "latency"));
  request.aggregations.push_back(Spec("status_count", AggregationKind::kValueCount, "status"));
  return request;
}

void ExpectSameAggs(const IntermediateAggs& a, const IntermediateAggs& b);

void ExpectSameBucket(const IntermediateBucket& a, const IntermediateBucket& b) {
  EXPECT_EQ(a.doc_count, b.doc_count);
  ExpectSameAggs(a.sub_aggregations, b.sub_aggregations);
}

template <typename Map>
void ExpectSameMaps(const Map& a, const Map& b) {
  ASSERT_EQ(a.size(), b.size());
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    ExpectSameBucket(ia->second, ib->second);
  }
}

void ExpectSameAggs(const IntermediateAggs& a, const IntermediateAggs& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].metric.count, b[i].metric.count);
    EXPECT_EQ(a[i].metric.sum, b[i].metric.sum);
    EXPECT_EQ(a[i].metric.min, b[i].metric.min);
    EXPECT_EQ(a[i].metric.max, b[i].metric.max);
    ExpectSameMaps(a[i].text_terms, b[i].text_terms);
    ExpectSameMaps(a[i].numeric_terms, b[i].numeric_terms);
    ExpectSameMaps(a[i].histogram, b[i].histogram);
    ASSERT_EQ(a[i].ranges.size(), b[i].ranges.size());
    for (size_t r = 0; r < a[i].ranges.size(); ++r)
      ExpectSameBucket(a[i].ranges[r], b[i].ranges[r]);
  }
}

TEST(AggregationTest, PerSplitResultsMatchCountsComputedByTheTest) {
  const std::vector<Doc> docs = Generate(1500, 7);
  auto reader = BuildSplit(docs);
  const AggregationRequest request = TestRequest();
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 6u);

  std::map<std::string, uint64_t> level_counts;
  std::map<std::string, MetricPartial> level_latency;
  std::map<int64_t, uint64_t> status_buckets;
  std::map<int64_t, uint64_t> hour_buckets;
  uint64_t ranges[3] = {0, 0, 0};
  MetricPartial latency;
  for (const Doc& doc : docs) {
    ++level_counts[doc.level];
    ++status_buckets[doc.status / 100];
    ++hour_buckets[doc.ts_seconds * 1000 / 3'600'000];
    if (doc.latency.has_value()) {
      level_latency[doc.level].Add(*doc.latency);
      latency.Add(*doc.latency);
      ++ranges[*doc.latency < 100 ? 0 : (*doc.latency < 500 ? 1 : 2)];
    }
  }
  const IntermediateAgg& terms = (*result)[0];
  ASSERT_EQ(terms.text_terms.size(), level_counts.size());
  for (const auto& [level, count] : level_counts) {
    const IntermediateBucket& bucket = terms.text_terms.at(level);
    EXPECT_EQ(bucket.doc_count, count) << level;
    ASSERT_EQ(bucket.sub_aggregations.size(), 1u);
    EXPECT_EQ(bucket.sub_aggregations[0].metric.count, level_latency[level].count);
    EXPECT_EQ(bucket.sub_aggregations[0].metric.sum, level_latency[level].sum);
  }
  const IntermediateAgg& histogram = (*result)[1];
  ASSERT_EQ(histogram.histogram.size(), status_buckets.size());
  for (const auto& [index, count] : status_buckets) {
    EXPECT_EQ(histogram.histogram.at(index).doc_count, count) << index;
  }
  const IntermediateAgg& per_hour = (*result)[2];
  ASSERT_EQ(per_hour.histogram.size(), hour_buckets.size());
  for (const auto& [index, count] : hour_buckets) {
    EXPECT_EQ(per_hour.histogram.at(index).doc_count, count) << index;
  }
  const IntermediateAgg& range = (*result)[3];
  ASSERT_EQ(range.ranges.size(), 3u);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(range.ranges[r].doc_count, ranges[r]) << r;
  const IntermediateAgg& stats = (*result)[4];
  EXPECT_EQ(stats.metric.count, latency.count);
  EXPECT_EQ(stats.metric.sum, latency.sum);
  EXPECT_EQ(stats.metric.min, latency.min);
  EXPECT_EQ(stats.metric.max, latency.max);
  EXPECT_EQ((*result)[5].metric.count, docs.size());
}

TEST(AggregationTest, QueryAndTimeFilterRestrictTheDocs) {
  const std::vector<Doc> docs = Generate(800, 11);
  auto reader = BuildSplit(docs);
  AggregationRequest request;
  request.aggregations.push_back(Spec("levels", AggregationKind::kTerms, "level"));
  SplitSearchRequest search;
  search.start_timestamp_micros = (kBaseSeconds + 5'000) * 1'000'000;
  search.end_timestamp_micros = (kBaseSeconds + 15'000) * 1'000'000;
  auto result = reader->Aggregate(*MakeTermQuery("level", std::string("warn")), search, request);
  ASSERT_TRUE(result.ok()) << result.status();
  uint64_t expected = 0;
  for (const Doc& doc : docs) {
    expected += doc.level == "warn" && doc.ts_seconds >= kBaseSeconds + 5'000 &&
                doc.ts_seconds < kBaseSeconds + 15'000;
  }
  ASSERT_EQ((*result)[0].text_terms.size(), 1u);
  EXPECT_EQ((*result)[0].text_terms.at("warn").doc_count, expected);
}

TEST(AggregationTest, MergeOfTwoSplitsEqualsOneSplitHoldingAllDocs) {
  const std::vector<Doc> first = Generate(700, 1);
  const std::vector<Doc> second = Generate(900, 2);
  std::vector<Doc> all = first;
  all.insert(all.end(), second.begin(), second.end());
  const AggregationRequest request = TestRequest();
  auto a = BuildSplit(first)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  auto b = BuildSplit(second)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  auto whole = BuildSplit(all)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(a.ok() && b.ok() && whole.ok());
  IntermediateAggs merged;
  ASSERT_TRUE(MergeAggs(request.aggregations, merged, *a).ok());
  ASSERT_TRUE(MergeAggs(request.aggregations, merged, *b).ok());
  ExpectSameAggs(merged, *whole);
}

TEST(AggregationTest, TermsMissingCountsDocsWithoutValue) {
  const std::vector<Doc> docs = Generate(300, 5);
  auto reader = BuildSplit(docs);
  AggregationRequest request;
  AggregationSpec terms = Spec("lat", AggregationKind::kTerms, "latency");
  terms.missing_number = -1;
  request.aggregations.push_back(terms);
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  uint64_t without = 0;
  for (const Doc& doc : docs) without += !doc.latency.has_value();
  EXPECT_EQ((*result)[0].numeric_terms.at(-1).doc_count, without);
}

TEST(AggregationTest, NonFastFieldIsInvalidArgumentAndAbsentFieldContributesNothing) {
  auto reader = BuildSplit(Generate(50, 3));
  AggregationRequest request;
  request.aggregations.push_back(Spec("bodies", AggregationKind::kTerms, "body"));
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("body"));

  AggregationRequest absent;
  absent.aggregations.push_back(Spec("nothing", AggregationKind::kTerms, "no_such_field"));
  absent.aggregations.push_back(Spec("nothing_avg", AggregationKind::kAvg, "no_such_field"));
  auto empty = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, absent);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE((*empty)[0].text_terms.empty());
  EXPECT_EQ((*empty)[1].metric.count, 0u);
}

TEST(AggregationTest, TooManyBucketsInASplitIsInvalidArgument) {
  // 70 docs holding 1000 distinct values each: 70,000 histogram buckets of width 1.
  std::vector<std::string> jsons;
  for (int d = 0; d < 70; ++d) {
    std::string values;
    for (int v = 0; v < 1000; ++v) {
      if (v > 0) values += ",";
      values += std::to_string(d * 1000 + v);
    }
    jsons.push_back(fmt::format(R"({{"ts":{},"values":[{}]}})", kBaseSeconds + d, values));
  }
  auto reader = BuildSplit(jsons);
  AggregationRequest request;
  AggregationSpec histogram = Spec("h", AggregationKind::kHistogram, "values");
  histogram.interval = 1;
  request.aggregations.push_back(histogram);
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("65000 buckets"));
}

TEST(AggregationTest, TooManyBucketsAfterMergeIsInvalidArgument) {
  AggregationRequest request;
  request.aggregations.push_back(Spec("h", AggregationKind::kHistogram, "values"));
  IntermediateAggs first = MakeEmptyAggs(request.aggregations);
  IntermediateAggs second = MakeEmptyAggs(request.aggregations);
  for (int64_t i = 0; i < 40'000; ++i) {
    first[0].histogram[i].doc_count = 1;
    second[0].histogram[i + 40'000].doc_count = 1;
  }
  IntermediateAggs merged;
  ASSERT_TRUE(MergeAggs(request.aggregations, merged, first).ok());
  absl::Status status = MergeAggs(request.aggregations, merged, second);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shale::index
