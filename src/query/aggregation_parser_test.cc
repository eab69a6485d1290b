#include "query/aggregation_parser.h"

#include <string>

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
  EXPECT_EQ(hosts.missing_text, "none");
  ASSERT_EQ(hosts.sub_aggregations.size(), 1u);
  EXPECT_EQ(hosts.sub_aggregations[0].kind, AggregationKind::kAvg);
  const auto& histo = find("histo");
  EXPECT_EQ(histo.interval, 50);
  EXPECT_EQ(histo.offset, 5);
  EXPECT_EQ(histo.min_doc_count, 0u);
  EXPECT_EQ(histo.extended_bounds_max, 1000);
  const auto& date_histo = find("date_histo");
  EXPECT_EQ(date_histo.kind, AggregationKind::kDateHistogram);
  EXPECT_EQ(date_histo.interval, 30.0 * 86'400'000);
  EXPECT_EQ(date_histo.offset, -4.0 * 86'400'000);
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

TEST(AggregationParserTest, TermsDefaults) {
  auto parsed = Parse(R"({"t": {"terms": {"field": "f"}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& spec = parsed->aggregations[0];
  EXPECT_EQ(spec.size, 10u);
  EXPECT_EQ(spec.min_doc_count, 1u);
  EXPECT_EQ(spec.order_key, index::TermsOrderKey::kCount);
  EXPECT_FALSE(spec.order_ascending);
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
  EXPECT_THAT(ErrorOf(R"({"a": {"cardinality": {"field": "f"}}})"),
              HasSubstr("aggregation `a`: unknown aggregation type `cardinality`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "colour": 1}}})"),
              HasSubstr("unknown key `colour`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"size": 1}}})"), HasSubstr("requires a `field`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "size": -1}}})"), HasSubstr("`size`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"terms": {"field": "f", "order": {"x": "asc"}}}})"),
              HasSubstr("order key `x`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"histogram": {"field": "f"}}})"), HasSubstr("`interval`"));
  EXPECT_THAT(ErrorOf(R"({"a": {"histogram": {"field": "f", "interval": 0}}})"),
              HasSubstr("positive"));
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "fixed_interval": "3w"}}})"),
              HasSubstr("fixed_interval"));
  EXPECT_THAT(ErrorOf(R"({"a": {"date_histogram": {"field": "f", "calendar_interval": "1M"}}})"),
              HasSubstr("unknown key `calendar_interval`"));
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
