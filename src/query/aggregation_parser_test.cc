#include "query/aggregation_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale::query {
namespace {

using index::AggregationKind;
using ::testing::HasSubstr;

absl::StatusOr<index::AggregationRequest> Parse(const std::string& text) {
  return ParseAggregations(nlohmann::json::parse(text));
}

std::string ErrorOf(const std::string& text) {
  auto parsed = Parse(text);
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

TEST(AggregationParserTest, ParsesBucketAndMetricAggregationsWithSubAggregations) {
  auto parsed = Parse(R"({
    "hosts": {"terms": {"field": "host", "size": 3, "order": {"_key": "asc"},
                        "min_doc_count": 2, "missing": "none"},
              "aggs": {"lat": {"avg": {"field": "latency"}}}},
    "histo": {"histogram": {"field": "status", "interval": 50, "offset": 5,
                            "extended_bounds": {"min": 0, "max": 1000}}},
    "date_histo": {"date_histogram": {"field": "ts", "fixed_interval": "30d", "offset": "-4d"},
                   "aggregations": {"s": {"stats": {"field": "response"}}}},
    "ranges": {"range": {"field": "response", "ranges": [{"to": 50, "key": "fast"},
                                                         {"from": 50, "to": 80}, {"from": 80}]}},
    "total": {"sum": {"field": "response"}},
    "lo": {"min": {"field": "response"}},
    "hi": {"max": {"field": "response"}},
    "n": {"value_count": {"field": "response"}}
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& aggs = parsed->aggregations;
  ASSERT_EQ(aggs.size(), 8u);
  // nlohmann::json objects iterate in key order.
  const auto find = [&](const std::string& name) -> const index::AggregationSpec& {
    for (const auto& spec : aggs) {
      if (spec.name == name) return spec;
    }
    ADD_FAILURE() << name;
    return aggs.front();
  };
  const auto& hosts = find("hosts");
  EXPECT_EQ(hosts.kind, AggregationKind::kTerms);
  EXPECT_EQ(hosts.field, "host");
  EXPECT_EQ(hosts.size, 3u);
  EXPECT_EQ(hosts.order_key, index::TermsOrderKey::kKey);
  EXPECT_TRUE(hosts.order_ascending);
  EXPECT_EQ(hosts.min_doc_count, 2u);
  EXPECT_EQ(hosts.missing, index::AggKey::Text("none"));
  ASSERT_EQ(hosts.sub_aggregations.size(), 1u);
  EXPECT_EQ(hosts.sub_aggregations[0].kind, AggregationKind::kAvg);
  const auto& histo = find("histo");
  EXPECT_EQ(histo.interval, 50);
  EXPECT_EQ(histo.offset, 5);
  EXPECT_EQ(histo.min_doc_count, 0u);
  EXPECT_EQ(histo.extended_bounds_max, 1000);
  const auto& date_histo = find("date_histo");
  EXPECT_EQ(date_histo.kind, AggregationKind::kDateHistogram);
  EXPECT_EQ(date_histo.date_interval.fixed_interval_millis, 30LL * 86'400'000);
  EXPECT_EQ(date_histo.date_interval.offset_millis, -4LL * 86'400'000);
  ASSERT_EQ(date_histo.sub_aggregations.size(), 1u);
  EXPECT_EQ(date_histo.sub_aggregations[0].kind, AggregationKind::kStats);
  const auto& ranges = find("ranges");
  ASSERT_EQ(ranges.ranges.size(), 3u);
  EXPECT_FALSE(ranges.ranges[0].from.has_value());
  EXPECT_EQ(ranges.ranges[0].to, 50);
  EXPECT_EQ(ranges.ranges[0].key, "fast");
  EXPECT_EQ(ranges.ranges[2].from, 80);
  EXPECT_FALSE(ranges.ranges[2].to.has_value());
  EXPECT_EQ(find("n").kind, AggregationKind::kValueCount);
}

// The canonical JSON identifies the request in caches: equal requests written with their keys in
// another order or other spacing give the same text, different requests different texts.
TEST(AggregationParserTest, CanonicalJsonIgnoresKeyOrderAndSpacing) {
  auto a = Parse(R"({"x": {"terms": {"size": 3, "field": "f"}}, "b": {"avg": {"field": "g"}}})");
  auto b = Parse(R"({"b":{"avg":{"field":"g"}},"x":{"terms":{"field":"f","size":3}}})");
  auto c = Parse(R"({"b":{"avg":{"field":"g"}},"x":{"terms":{"field":"f","size":4}}})");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_FALSE(a->canonical_json.empty());
  EXPECT_EQ(a->canonical_json, b->canonical_json);
  EXPECT_NE(a->canonical_json, c->canonical_json);
}

TEST(AggregationParserTest, TermsDefaults) {
  auto parsed = Parse(R"({"t": {"terms": {"field": "f"}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& spec = parsed->aggregations[0];
  EXPECT_EQ(spec.size, 10u);
  EXPECT_EQ(spec.min_doc_count, 1u);
  EXPECT_EQ(spec.order_key, index::TermsOrderKey::kCount);
  EXPECT_FALSE(spec.order_ascending);
}

TEST(AggregationParserTest, ParsesSketchesCompositeMultiTermsAndFilters) {
  auto parsed = Parse(R"({
    "a_card": {"cardinality": {"field": "name", "precision_threshold": 100}},
    "b_pct": {"percentiles": {"field": "response", "percents": [85, 99.9], "keyed": false}},
    "c_ext": {"extended_stats": {"field": "response", "sigma": 3, "missing": 0}},
    "d_comp": {"composite": {"size": 5, "sources": [
                 {"host": {"terms": {"field": "host", "missing_bucket": true}}},
                 {"resp": {"histogram": {"field": "response", "interval": 50, "order": "desc"}}},
                 {"day": {"date_histogram": {"field": "ts", "calendar_interval": "day",
                                             "time_zone": "Europe/Paris"}}}],
               "after": {"host": "str:a", "resp": "f64:100", "day": 1420070400000}}},
    "e_multi": {"multi_terms": {"terms": [{"field": "host"}, {"field": "response", "missing": 0}],
                                "size": 3, "shard_size": 7, "order": {"avg_r": "asc"}},
                "aggs": {"avg_r": {"avg": {"field": "response"}}}},
    "f_filters": {"filters": {"filters": {"errors": {"term": {"level": "error"}},
                                          "all": {"match_all": {}}},
                              "other_bucket_key": "rest"}},
    "g_filter": {"filter": {"range": {"response": {"gte": 100}}}},
    "h_months": {"date_histogram": {"field": "ts", "calendar_interval": "1M", "time_zone": "+01:00",
                                    "hard_bounds": {"min": 0, "max": 10}}},
    "i_terms": {"terms": {"field": "f", "segment_size": 4, "missing": 3}}
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& aggs = parsed->aggregations;
  ASSERT_EQ(aggs.size(), 9u);
  EXPECT_EQ(aggs[0].kind, AggregationKind::kCardinality);
  EXPECT_EQ(aggs[1].percents, (std::vector<double>{85, 99.9}));
  EXPECT_FALSE(aggs[1].keyed);
  EXPECT_EQ(aggs[2].sigma, 3);
  EXPECT_EQ(aggs[2].missing_value, 0);
  const auto& composite = aggs[3];
  ASSERT_EQ(composite.sources.size(), 3u);
  EXPECT_TRUE(composite.sources[0].missing_bucket);
  EXPECT_TRUE(composite.sources[1].descending);
  EXPECT_FALSE(composite.sources[1].missing_first);
  EXPECT_EQ(composite.sources[2].date_interval.calendar, index::CalendarUnit::kDay);
  EXPECT_EQ(composite.sources[2].date_interval.time_zone, "Europe/Paris");
  ASSERT_TRUE(composite.after.has_value());
  EXPECT_EQ((*composite.after)[0], index::AggKey::Text("a"));
  EXPECT_EQ((*composite.after)[1], index::AggKey::F64(100));
  EXPECT_EQ((*composite.after)[2], index::AggKey::I64(1420070400000));
  const auto& multi = aggs[4];
  ASSERT_EQ(multi.sources.size(), 2u);
  EXPECT_EQ(multi.sources[1].missing, index::AggKey::I64(0));
  EXPECT_EQ(multi.EffectiveShardSize(), 7u);
  EXPECT_EQ(multi.order_key, index::TermsOrderKey::kMetric);
  EXPECT_EQ(multi.order_metric, "avg_r");
  const auto& filters = aggs[5];
  ASSERT_EQ(filters.filters.size(), 2u);
  EXPECT_EQ(filters.filters[0].key, "all");
  EXPECT_EQ(filters.filters[1].key, "errors");
  EXPECT_TRUE(filters.other_bucket);
  EXPECT_EQ(filters.other_bucket_key, "rest");
  ASSERT_EQ(aggs[6].filters.size(), 1u);
  EXPECT_FALSE(aggs[6].filters[0].query_text.empty());
  EXPECT_EQ(aggs[7].date_interval.calendar, index::CalendarUnit::kMonth);
  EXPECT_EQ(aggs[7].hard_bounds_max, 10);
  EXPECT_EQ(aggs[8].EffectiveShardSize(), 10u);  // never below size
  EXPECT_EQ(aggs[8].missing, index::AggKey::I64(3));
}

TEST(AggregationParserTest, ParsesTopHits) {
  auto parsed = Parse(R"({"t": {"top_hits": {"size": 2, "from": 1,
                           "sort": [{"ts": {"order": "desc"}}, {"b": "asc"}, "c", "_doc"],
                           "_source": {"includes": ["x.y"]},
                           "docvalue_fields": ["ts", {"field": "b"}]}},
                          "d": {"top_hits": {"_source": false}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& top = parsed->aggregations[1];
  EXPECT_EQ(top.kind, AggregationKind::kTopHits);
  EXPECT_EQ(top.size, 2u);
  EXPECT_EQ(top.from, 1u);
  ASSERT_EQ(top.sort.size(), 3u);
  EXPECT_TRUE(top.sort[0].descending);
  EXPECT_FALSE(top.sort[1].descending);
  EXPECT_EQ(top.sort[2].field, "c");
  EXPECT_EQ(top.source_includes, std::vector<std::string>{"x.y"});
  EXPECT_EQ(top.docvalue_fields, (std::vector<std::string>{"ts", "b"}));
  EXPECT_EQ(parsed->aggregations[0].size, 3u);  // default
  EXPECT_FALSE(parsed->aggregations[0].include_source);
  EXPECT_THAT(ErrorOf(R"({"a": {"top_hits": {"sort": ["_score"]}}})"), HasSubstr("`_score`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"top_hits": {"size": 200}}})"), HasSubstr("at most 100"));
  EXPECT_THAT(ErrorOf(R"({"a": {"top_hits": {"highlight": {}}}})"), HasSubstr("`highlight`"));
}

TEST(AggregationParserTest, TermsShardSizeDefaultsToTenTimesSize) {
  auto parsed = Parse(R"({"t": {"terms": {"field": "f", "size": 3}},
                         "u": {"terms": {"field": "f", "size": 3, "split_size": 5}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->aggregations[0].EffectiveShardSize(), 30u);
  EXPECT_EQ(parsed->aggregations[1].EffectiveShardSize(), 5u);
}

TEST(AggregationParserTest, RejectsBadNewKindParametersNamingTheKey) {
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "calendar_interval": "day",
                                                     "time_zone": "Mars/Base"}}})"),
              HasSubstr("unknown time zone `Mars/Base`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"composite": {"sources": [{"s": {"geotile_grid": {}}}]}}})"),
              HasSubstr("unsupported composite source type `geotile_grid`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"composite": {"sources": [{"s": {"terms": {"field": "f"}}}],
                                               "after": {"t": 1}}}})"),
              HasSubstr("`after` misses the source `s`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"composite": {"sources": [{"s": {"terms": {"field": "f"}}}],
                                               "after": {"s": "f64:x"}}}})"),
              HasSubstr("`after.s`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"composite": {"size": 3}}})"), HasSubstr("requires `sources`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"percentiles": {"field": "f", "percents": [101]}}})"),
              HasSubstr("between 0 and 100"));
  EXPECT_THAT(ErrorOf(R"({"a": {"percentiles": {"field": "f", "tdigest": {}}}})"),
              HasSubstr("unknown key `tdigest`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"multi_terms": {"terms": [{"field": "f"}]}}})"),
              HasSubstr("at least two"));
  EXPECT_THAT(ErrorOf(R"({"a": {"filter": {"geo_shape": {}}}})"), HasSubstr("`filter`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"filters": {"filters": 3}}})"), HasSubstr("`filters.filters`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"extended_stats": {"field": "f", "sigma": -1}}})"),
              HasSubstr("`sigma`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "fixed_interval": "1h",
                                                     "hard_bounds": {"low": 1}}}})"),
              HasSubstr("unknown key `low` in `hard_bounds`"));
}

TEST(AggregationParserTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationMillis("1000ms"), 1000);
  EXPECT_EQ(*ParseDurationMillis("1s"), 1000);
  EXPECT_EQ(*ParseDurationMillis("10m"), 600'000);
  EXPECT_EQ(*ParseDurationMillis("1h"), 3'600'000);
  EXPECT_EQ(*ParseDurationMillis("-4d"), -4.0 * 86'400'000);
  EXPECT_FALSE(ParseDurationMillis("1w").ok());
  EXPECT_FALSE(ParseDurationMillis("h").ok());
  EXPECT_FALSE(ParseDurationMillis("").ok());
}

TEST(AggregationParserTest, RejectsBadRequestsNamingTheAggregationAndKey) {
  EXPECT_THAT(ErrorOf(R"({"a": {"geo_bounds": {"field": "f"}}})"),
              HasSubstr("aggregation `a`: unknown aggregation type `geo_bounds`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "colour": 1}}})"),
              HasSubstr("unknown key `colour`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"size": 1}}})"), HasSubstr("requires a `field`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "size": -1}}})"), HasSubstr("`size`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "order": {"_x": "asc"}}}})"),
              HasSubstr("order key `_x`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "order": {"x": "asc"}}}})"),
              HasSubstr("`order` names `x`, which is not a metric sub-aggregation"));
  EXPECT_THAT(ErrorOf(R"({"a": {"histogram": {"field": "f"}}})"), HasSubstr("`interval`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"histogram": {"field": "f", "interval": 0}}})"),
              HasSubstr("positive"));
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "fixed_interval": "3w"}}})"),
              HasSubstr("fixed_interval"));
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "calendar_interval": "3M"}}})"),
              HasSubstr("`calendar_interval`: invalid calendar interval `3M`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"range": {"field": "f"}}})"), HasSubstr("`ranges`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"range": {"field": "f", "ranges": [{"from": "x"}]}}})"),
              HasSubstr("ranges.from"));
  EXPECT_THAT(ErrorOf(R"({"a": {"avg": {"field": "f"}, "aggs": {"b": {"sum": {"field": "g"}}}}})"),
              HasSubstr("cannot have sub-aggregations"));
  EXPECT_THAT(ErrorOf(R"({"a": {"avg": {"field": "f"}, "sum": {"field": "f"}}})"),
              HasSubstr("more than one aggregation type"));
  EXPECT_THAT(ErrorOf(R"({"a": {}})"), HasSubstr("no aggregation type"));
  EXPECT_THAT(ErrorOf(R"({"a": 3})"), HasSubstr("aggregation `a`"));
  EXPECT_THAT(ErrorOf(R"([1])"), HasSubstr("`aggs` must be a JSON object"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f"}, "aggs": {"b": {"nope": {}}}}})"),
              HasSubstr("aggregation `b`: unknown aggregation type `nope`"));
}

}  // namespace
}  // namespace shale::query
