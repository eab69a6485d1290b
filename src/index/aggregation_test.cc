// Aggregations on generated splits, checked against counts the test computes itself, and the
// exact merge of two splits' results against one split holding all the docs.

#include "index/aggregation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
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
  mapping.field_mappings.push_back(Field("big", FieldType::kU64, true));
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

std::unique_ptr<SplitReader> BuildSplit(const std::vector<std::string>& jsons,
                                        const DocMapping& mapping = AggMapping()) {
  SerializedSplit split = testing::BuildTestSplit(mapping, jsons);
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("agg-split", std::move(split.bytes)));
  EXPECT_TRUE(reader.ok()) << reader.status();
  return *std::move(reader);
}

std::vector<std::string> ToJsons(const std::vector<Doc>& docs) {
  std::vector<std::string> jsons;
  for (const Doc& doc : docs) jsons.push_back(ToJson(doc));
  return jsons;
}

std::unique_ptr<SplitReader> BuildSplit(const std::vector<Doc>& docs) {
  return BuildSplit(ToJsons(docs));
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
  date_histogram.date_interval.fixed_interval_millis = 3'600'000;
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

// The kinds added on top of TestRequest: sketches (the ts cardinality exceeds the sparse limit),
// extended_stats, composite, multi_terms, filters and a calendar date_histogram in a time zone.
AggregationRequest WideRequest() {
  AggregationRequest request = TestRequest();
  request.aggregations.push_back(Spec("ts_cardinality", AggregationKind::kCardinality, "ts"));
  request.aggregations.push_back(Spec("level_cardinality", AggregationKind::kCardinality, "level"));
  request.aggregations.push_back(Spec("latency_pct", AggregationKind::kPercentiles, "latency"));
  request.aggregations.push_back(Spec("latency_ext", AggregationKind::kExtendedStats, "latency"));
  AggregationSpec composite = Spec("composite", AggregationKind::kComposite, "");
  composite.size = 1000;
  KeySource level_source;
  level_source.name = "level";
  level_source.field = "level";
  KeySource status_source;
  status_source.name = "status";
  status_source.kind = KeySourceKind::kHistogram;
  status_source.field = "status";
  status_source.interval = 100;
  status_source.descending = true;
  composite.sources = {level_source, status_source};
  composite.sub_aggregations.push_back(Spec("max_latency", AggregationKind::kMax, "latency"));
  request.aggregations.push_back(composite);
  AggregationSpec multi_terms = Spec("multi", AggregationKind::kMultiTerms, "");
  multi_terms.size = 50;
  multi_terms.shard_size = 10'000;
  KeySource level_term;
  level_term.field = "level";
  KeySource status_term;
  status_term.field = "status";
  multi_terms.sources = {level_term, status_term};
  request.aggregations.push_back(multi_terms);
  AggregationSpec filters = Spec("filters", AggregationKind::kFilters, "");
  filters.filters.push_back({"warn", "level:warn", MakeTermQuery("level", std::string("warn"))});
  filters.filters.push_back({"error", "level:error", MakeTermQuery("level", std::string("error"))});
  filters.other_bucket = true;
  filters.sub_aggregations.push_back(Spec("n", AggregationKind::kValueCount, "latency"));
  request.aggregations.push_back(filters);
  AggregationSpec per_day = Spec("per_day", AggregationKind::kDateHistogram, "ts");
  per_day.date_interval.calendar = CalendarUnit::kDay;
  per_day.date_interval.time_zone = "America/New_York";
  request.aggregations.push_back(per_day);
  return request;
}

void ExpectSameAggs(const IntermediateAggs& a, const IntermediateAggs& b);

void ExpectSameBucket(const IntermediateBucket& a, const IntermediateBucket& b) {
  EXPECT_EQ(a.doc_count, b.doc_count);
  EXPECT_EQ(a.doc_count_error, b.doc_count_error);
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
    EXPECT_EQ(a[i].metric.sum_of_squares, b[i].metric.sum_of_squares);
    ExpectSameMaps(a[i].terms, b[i].terms);
    ExpectSameMaps(a[i].keyed, b[i].keyed);
    ExpectSameMaps(a[i].histogram, b[i].histogram);
    EXPECT_EQ(a[i].sum_other_doc_count, b[i].sum_other_doc_count);
    EXPECT_EQ(a[i].doc_count_error_upper_bound, b[i].doc_count_error_upper_bound);
    EXPECT_TRUE(a[i].cardinality == b[i].cardinality);
    EXPECT_TRUE(a[i].percentiles == b[i].percentiles);
    ASSERT_EQ(a[i].fixed_buckets.size(), b[i].fixed_buckets.size());
    for (size_t r = 0; r < a[i].fixed_buckets.size(); ++r)
      ExpectSameBucket(a[i].fixed_buckets[r], b[i].fixed_buckets[r]);
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
    ++hour_buckets[doc.ts_seconds * 1000 / 3'600'000 * 3'600'000];
    if (doc.latency.has_value()) {
      level_latency[doc.level].Add(*doc.latency);
      latency.Add(*doc.latency);
      ++ranges[*doc.latency < 100 ? 0 : (*doc.latency < 500 ? 1 : 2)];
    }
  }
  const IntermediateAgg& terms = (*result)[0];
  ASSERT_EQ(terms.terms.size(), level_counts.size());
  for (const auto& [level, count] : level_counts) {
    const IntermediateBucket& bucket = terms.terms.at(AggKey::Text(level));
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
  for (const auto& [start_millis, count] : hour_buckets) {
    EXPECT_EQ(per_hour.histogram.at(start_millis).doc_count, count) << start_millis;
  }
  const IntermediateAgg& range = (*result)[3];
  ASSERT_EQ(range.fixed_buckets.size(), 3u);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(range.fixed_buckets[r].doc_count, ranges[r]) << r;
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
  search.start_timestamp_nanos = (kBaseSeconds + 5'000) * 1'000'000'000;
  search.end_timestamp_nanos = (kBaseSeconds + 15'000) * 1'000'000'000;
  auto result = reader->Aggregate(*MakeTermQuery("level", std::string("warn")), search, request);
  ASSERT_TRUE(result.ok()) << result.status();
  uint64_t expected = 0;
  for (const Doc& doc : docs) {
    expected += doc.level == "warn" && doc.ts_seconds >= kBaseSeconds + 5'000 &&
                doc.ts_seconds < kBaseSeconds + 15'000;
  }
  ASSERT_EQ((*result)[0].terms.size(), 1u);
  EXPECT_EQ((*result)[0].terms.at(AggKey::Text("warn")).doc_count, expected);
}

// The merge of the results of a split of `first` and one of `second`, and the result of one
// split holding both.
struct MergedAndWhole {
  IntermediateAggs merged;
  IntermediateAggs whole;
};

MergedAndWhole AggregateTwoSplitsAndWhole(const std::vector<std::string>& first,
                                          const std::vector<std::string>& second,
                                          const AggregationRequest& request) {
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  auto a = BuildSplit(first)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  auto b = BuildSplit(second)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  auto whole = BuildSplit(all)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  MergedAndWhole out;
  EXPECT_TRUE(a.ok() && b.ok() && whole.ok());
  if (!a.ok() || !b.ok() || !whole.ok()) return out;
  EXPECT_TRUE(MergeAggs(request.aggregations, out.merged, *a).ok());
  EXPECT_TRUE(MergeAggs(request.aggregations, out.merged, *b).ok());
  out.whole = *std::move(whole);
  return out;
}

TEST(AggregationTest, MergeOfTwoSplitsEqualsOneSplitHoldingAllDocs) {
  const MergedAndWhole result = AggregateTwoSplitsAndWhole(
      ToJsons(Generate(700, 1)), ToJsons(Generate(900, 2)), TestRequest());
  ExpectSameAggs(result.merged, result.whole);
}

TEST(AggregationTest, MergeOfSplitsEqualsOneSplitForEveryExactOrSketchKind) {
  // Three splits, merged in two orders: the same result as one split with every doc, sketches
  // included (their merge is exact).
  const std::vector<Doc> first = Generate(900, 21);
  const std::vector<Doc> second = Generate(1300, 22);
  const std::vector<Doc> third = Generate(400, 23);
  std::vector<Doc> all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.insert(all.end(), third.begin(), third.end());
  const AggregationRequest request = WideRequest();
  std::vector<IntermediateAggs> parts;
  for (const auto* docs : {&first, &second, &third}) {
    auto part = BuildSplit(*docs)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
    ASSERT_TRUE(part.ok()) << part.status();
    parts.push_back(*std::move(part));
  }
  auto whole = BuildSplit(all)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(whole.ok()) << whole.status();
  IntermediateAggs forward;
  IntermediateAggs backward;
  for (size_t i = 0; i < parts.size(); ++i) {
    ASSERT_TRUE(MergeAggs(request.aggregations, forward, parts[i]).ok());
    ASSERT_TRUE(MergeAggs(request.aggregations, backward, parts[parts.size() - 1 - i]).ok());
  }
  ExpectSameAggs(forward, *whole);
  ExpectSameAggs(backward, *whole);
  EXPECT_TRUE((*whole)[6].cardinality.dense());
  EXPECT_FALSE((*whole)[7].cardinality.dense());
}

TEST(AggregationTest, WideRequestMatchesCountsComputedByTheTest) {
  const std::vector<Doc> docs = Generate(2000, 31);
  const AggregationRequest request = WideRequest();
  auto result = BuildSplit(docs)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  std::set<int64_t> timestamps;
  std::set<std::string> levels;
  std::map<std::pair<std::string, int64_t>, uint64_t> level_status_counts;
  std::map<std::pair<std::string, int64_t>, double> level_histo_max;
  std::map<std::pair<std::string, int64_t>, uint64_t> level_histo_counts;
  uint64_t warn = 0;
  uint64_t error = 0;
  uint64_t other = 0;
  double sum_of_squares = 0;
  for (const Doc& doc : docs) {
    timestamps.insert(doc.ts_seconds);
    levels.insert(doc.level);
    ++level_status_counts[{doc.level, doc.status}];
    const std::pair<std::string, int64_t> histo_key{doc.level, doc.status / 100};
    ++level_histo_counts[histo_key];
    if (doc.latency.has_value()) {
      sum_of_squares += *doc.latency * *doc.latency;
      auto [it, inserted] = level_histo_max.emplace(histo_key, *doc.latency);
      if (!inserted) it->second = std::max(it->second, *doc.latency);
    }
    (doc.level == "warn" ? warn : (doc.level == "error" ? error : other))++;
  }
  const IntermediateAggs& aggs = *result;
  // Sketches: the ts cardinality is dense (HyperLogLog, within 3 %), the level one exact.
  EXPECT_NEAR(static_cast<double>(aggs[6].cardinality.Estimate()),
              static_cast<double>(timestamps.size()),
              0.03 * static_cast<double>(timestamps.size()));
  EXPECT_EQ(aggs[7].cardinality.Estimate(), levels.size());
  EXPECT_DOUBLE_EQ(aggs[9].metric.sum_of_squares, sum_of_squares);
  // composite: one bucket per (level, status / 100) pair.
  const IntermediateAgg& composite = aggs[10];
  ASSERT_EQ(composite.keyed.size(), level_histo_counts.size());
  for (const auto& [key, count] : level_histo_counts) {
    const std::vector<AggKey> composite_key = {AggKey::Text(key.first),
                                               AggKey::F64(static_cast<double>(key.second * 100))};
    const IntermediateBucket& bucket = composite.keyed.at(composite_key);
    EXPECT_EQ(bucket.doc_count, count);
    auto max_it = level_histo_max.find(key);
    if (max_it != level_histo_max.end()) {
      EXPECT_EQ(bucket.sub_aggregations[0].metric.max, max_it->second);
    } else {
      EXPECT_EQ(bucket.sub_aggregations[0].metric.count, 0u);
    }
  }
  // multi_terms: one bucket per (level, status) pair, nothing cut off with shard_size 10000.
  const IntermediateAgg& multi = aggs[11];
  ASSERT_EQ(multi.keyed.size(), level_status_counts.size());
  for (const auto& [key, count] : level_status_counts) {
    EXPECT_EQ(multi.keyed.at({AggKey::Text(key.first), AggKey::I64(key.second)}).doc_count, count);
  }
  EXPECT_EQ(multi.sum_other_doc_count, 0u);
  // filters: warn, error, other.
  const IntermediateAgg& filters = aggs[12];
  ASSERT_EQ(filters.fixed_buckets.size(), 3u);
  EXPECT_EQ(filters.fixed_buckets[0].doc_count, warn);
  EXPECT_EQ(filters.fixed_buckets[1].doc_count, error);
  EXPECT_EQ(filters.fixed_buckets[2].doc_count, other);
  // Days in New York: every bucket starts at a local midnight (05:00 UTC in November).
  uint64_t days_total = 0;
  for (const auto& [start, bucket] : aggs[13].histogram) {
    EXPECT_EQ((start / 1000) % 86'400, 5 * 3'600) << start;
    days_total += bucket.doc_count;
  }
  EXPECT_EQ(days_total, docs.size());
}

TEST(AggregationTest, TermsCutOffPerSplitAndLeafBoundsTheErrors) {
  // Several splits of skewed names; each split keeps its shard_size most frequent names, the
  // merged leaf result is cut off again. The reported counts never exceed the true ones, and
  // true count <= reported + per-bucket error <= reported + doc_count_error_upper_bound.
  std::mt19937_64 rng(99);
  std::map<std::string, uint64_t> true_counts;
  uint64_t total = 0;
  AggregationRequest request;
  AggregationSpec terms = Spec("names", AggregationKind::kTerms, "level");
  terms.size = 3;
  terms.shard_size = 4;
  request.aggregations.push_back(terms);
  IntermediateAggs merged;
  for (int split = 0; split < 5; ++split) {
    std::vector<std::string> jsons;
    const int num_docs = 50 + static_cast<int>(rng() % 100);
    for (int i = 0; i < num_docs; ++i) {
      // Skewed: name k with probability ~ 1 / (k + 1).
      uint64_t k = rng() % 20;
      k = rng() % (k + 1);
      const std::string name = fmt::format("name{:02d}", k);
      ++true_counts[name];
      ++total;
      jsons.push_back(fmt::format(R"({{"ts":{},"level":"{}"}})", kBaseSeconds + i, name));
    }
    auto part = BuildSplit(jsons)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
    ASSERT_TRUE(part.ok()) << part.status();
    ASSERT_LE((*part)[0].terms.size(), 4u);
    ASSERT_TRUE(MergeAggs(request.aggregations, merged, *part).ok());
  }
  CutOffAggs(request.aggregations, merged);
  const IntermediateAgg& agg = merged[0];
  ASSERT_EQ(agg.terms.size(), 4u);
  uint64_t kept = 0;
  for (const auto& [key, bucket] : agg.terms) {
    const uint64_t truth = true_counts.at(key.text);
    kept += bucket.doc_count;
    EXPECT_LE(bucket.doc_count, truth) << key.text;
    EXPECT_LE(truth, bucket.doc_count + bucket.doc_count_error) << key.text;
    EXPECT_LE(bucket.doc_count_error, agg.doc_count_error_upper_bound) << key.text;
  }
  EXPECT_EQ(kept + agg.sum_other_doc_count, total);
  EXPECT_GT(agg.doc_count_error_upper_bound, 0u);
}

TEST(AggregationTest, TermsCutOffReproducesQuickwitSplitSizeScenario) {
  // Quickwit's scenario: split 1 holds five names once each, split 2 holds Fritz twice and three
  // other names; size 1 and split_size 1 keep Albert (ties by key) in split 1 and Fritz in split
  // 2; the leaf cut-off then drops Albert.
  const std::vector<std::string> first = {"Albert", "Fred", "Manfred", "Horst", "Fritz"};
  const std::vector<std::string> second = {"Fritz", "Fritz", "Holger", "Werner", "Bernhard"};
  AggregationRequest request;
  AggregationSpec terms = Spec("names", AggregationKind::kTerms, "level");
  terms.size = 1;
  terms.shard_size = 1;
  request.aggregations.push_back(terms);
  IntermediateAggs merged;
  for (const auto* names : {&first, &second}) {
    std::vector<std::string> jsons;
    for (const std::string& name : *names) {
      jsons.push_back(fmt::format(R"({{"ts":{},"level":"{}"}})", kBaseSeconds, name));
    }
    auto part = BuildSplit(jsons)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
    ASSERT_TRUE(part.ok()) << part.status();
    ASSERT_TRUE(MergeAggs(request.aggregations, merged, *part).ok());
  }
  CutOffAggs(request.aggregations, merged);
  ASSERT_EQ(merged[0].terms.size(), 1u);
  EXPECT_EQ(merged[0].terms.begin()->first, AggKey::Text("Fritz"));
  EXPECT_EQ(merged[0].terms.begin()->second.doc_count, 2u);
  EXPECT_EQ(merged[0].sum_other_doc_count, first.size() + second.size() - 2);
  EXPECT_EQ(merged[0].doc_count_error_upper_bound, 3u);
}

TEST(AggregationTest, CompositePagesCoverEveryBucketOnce) {
  const std::vector<Doc> docs = Generate(600, 41);
  auto reader = BuildSplit(docs);
  std::map<std::pair<int64_t, std::string>, uint64_t> expected;  // (status / 100, level)
  for (const Doc& doc : docs) ++expected[{doc.status / 100, doc.level}];
  AggregationRequest request;
  AggregationSpec composite = Spec("c", AggregationKind::kComposite, "");
  composite.size = 3;
  KeySource status_source;
  status_source.name = "s";
  status_source.kind = KeySourceKind::kHistogram;
  status_source.field = "status";
  status_source.interval = 100;
  KeySource level_source;
  level_source.name = "l";
  level_source.field = "level";
  composite.sources = {status_source, level_source};
  request.aggregations.push_back(composite);
  std::map<std::pair<int64_t, std::string>, uint64_t> seen;
  for (int page = 0; page < 100; ++page) {
    auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
    ASSERT_TRUE(result.ok()) << result.status();
    const auto& keyed = (*result)[0].keyed;
    ASSERT_LE(keyed.size(), 3u);
    if (keyed.empty()) break;
    for (const auto& [key, bucket] : keyed) {
      const auto pair = std::make_pair(static_cast<int64_t>(key[0].f64()) / 100, key[1].text);
      EXPECT_TRUE(seen.emplace(pair, bucket.doc_count).second) << key[1].text;
    }
    request.aggregations[0].after = keyed.rbegin()->first;
  }
  EXPECT_EQ(seen, expected);
}

TEST(AggregationTest, MemoryBudgetExceededIsInvalidArgumentNamingTheLimit) {
  auto reader = BuildSplit(Generate(3000, 51));
  AggregationRequest request;
  AggregationSpec terms = Spec("ts", AggregationKind::kTerms, "ts");
  terms.sub_aggregations.push_back(Spec("card", AggregationKind::kCardinality, "status"));
  request.aggregations.push_back(terms);
  AggregationMemoryBudget budget(100'000);
  SplitSearchRequest search;
  search.aggregation_budget = &budget;
  auto result = reader->Aggregate(*MakeAllQuery(), search, request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("aggregation memory limit of 100000 bytes exceeded"));
  AggregationMemoryBudget large(kDefaultAggregationMemoryLimitBytes);
  search.aggregation_budget = &large;
  EXPECT_TRUE(reader->Aggregate(*MakeAllQuery(), search, request).ok());
  EXPECT_GT(large.used_bytes(), 100'000u);
}

TEST(AggregationTest, TermsKeysKeepTheirTypeAndU64Precision) {
  std::vector<std::string> jsons = {
      R"({"ts":1700000000,"big":1769070189829214200,"flag":true,"f":1.5})",
      R"({"ts":1700000001,"big":1769070189829214201,"flag":false,"f":2})",
  };
  auto reader = BuildSplit(jsons);
  AggregationRequest request;
  request.aggregations.push_back(Spec("big", AggregationKind::kTerms, "big"));
  request.aggregations.push_back(Spec("flag", AggregationKind::kTerms, "flag"));
  request.aggregations.push_back(Spec("ts", AggregationKind::kTerms, "ts"));
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)[0].terms.count(AggKey::U64(1769070189829214200u)), 1u);
  EXPECT_EQ((*result)[0].terms.count(AggKey::U64(1769070189829214201u)), 1u);
  EXPECT_EQ((*result)[1].terms.count(AggKey::Bool(true)), 1u);
  EXPECT_EQ((*result)[2].terms.count(AggKey::Datetime(1'700'000'001'000)), 1u);
}

TEST(AggregationTest, DocLengthFieldHoldsTheJsonSizeOfEachDoc) {
  DocMapping mapping = AggMapping();
  mapping.store_document_size = true;
  std::vector<std::string> jsons;
  uint64_t total = 0;
  uint64_t longest = 0;
  for (const Doc& doc : Generate(200, 61)) {
    jsons.push_back(ToJson(doc));
    total += jsons.back().size();
    longest = std::max<uint64_t>(longest, jsons.back().size());
  }
  auto reader = BuildSplit(jsons, mapping);
  AggregationRequest request;
  request.aggregations.push_back(
      Spec("len", AggregationKind::kStats, std::string(kDocLengthField)));
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)[0].metric.count, jsons.size());
  EXPECT_EQ((*result)[0].metric.sum, static_cast<double>(total));
  EXPECT_EQ((*result)[0].metric.max, static_cast<double>(longest));
  auto document = reader->FetchDocument(0);
  ASSERT_TRUE(document.ok());
  EXPECT_EQ(document->find("_doc_length"), std::string::npos) << *document;
  // Without the option there is no such field.
  auto plain = BuildSplit(jsons)->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)[0].metric.count, 0u);
}

TEST(AggregationTest, TopHitsKeepTheBestDocsPerBucketAcrossSplits) {
  // Docs with a unique `seq`; per level, the 3 highest seq (sort desc) with their sources and
  // status docvalues. Merging two splits' hits equals one split's.
  std::vector<std::string> first;
  std::vector<std::string> second;
  std::map<std::string, std::vector<int64_t>> seqs_by_level;
  std::mt19937_64 rng(71);
  for (int64_t seq = 0; seq < 500; ++seq) {
    const std::string level = kLevels[rng() % 5];
    seqs_by_level[level].push_back(seq);
    (rng() % 2 == 0 ? first : second)
        .push_back(fmt::format(R"({{"ts":{},"level":"{}","status":{},"seq":{}}})",
                               kBaseSeconds + seq, level, 100 + seq % 7, seq));
  }
  AggregationRequest request;
  AggregationSpec terms = Spec("levels", AggregationKind::kTerms, "level");
  AggregationSpec top = Spec("top", AggregationKind::kTopHits, "");
  top.size = 3;
  top.sort = {{"seq", /*descending=*/true}};
  top.docvalue_fields = {"status"};
  terms.sub_aggregations.push_back(top);
  request.aggregations.push_back(terms);
  const MergedAndWhole results = AggregateTwoSplitsAndWhole(first, second, request);
  ASSERT_FALSE(results.whole.empty());
  for (const IntermediateAggs* result : {&results.merged, &results.whole}) {
    for (auto& [level, seqs] : seqs_by_level) {
      const IntermediateAgg& hits = (*result)[0].terms.at(AggKey::Text(level)).sub_aggregations[0];
      EXPECT_EQ(hits.metric.count, seqs.size());
      std::sort(seqs.rbegin(), seqs.rend());
      ASSERT_EQ(hits.top_hits.size(), 3u) << level;
      for (size_t i = 0; i < 3; ++i) {
        const TopHit& hit = hits.top_hits[i];
        EXPECT_EQ(hit.sort_values[0], AggKey::I64(seqs[i])) << level;
        EXPECT_NE(hit.source.find(fmt::format("\"seq\":{}", seqs[i])), std::string::npos)
            << hit.source;
        ASSERT_EQ(hit.docvalues.size(), 1u);
        EXPECT_EQ(hit.docvalues[0], std::vector<AggKey>{AggKey::I64(100 + seqs[i] % 7)});
      }
    }
  }
}

TEST(AggregationTest, TermsMissingCountsDocsWithoutValue) {
  const std::vector<Doc> docs = Generate(300, 5);
  auto reader = BuildSplit(docs);
  AggregationRequest request;
  AggregationSpec terms = Spec("lat", AggregationKind::kTerms, "latency");
  terms.missing = AggKey::I64(-1);
  request.aggregations.push_back(terms);
  auto result = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  uint64_t without = 0;
  for (const Doc& doc : docs) without += !doc.latency.has_value();
  EXPECT_EQ((*result)[0].terms.at(AggKey::I64(-1)).doc_count, without);
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
  EXPECT_TRUE((*empty)[0].terms.empty());
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
