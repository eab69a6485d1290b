#include "search/partial_request_cache.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shale::search {
namespace {

index::QueryPtr Wrap(auto node, float boost = 1.0f) {
  auto query = std::make_unique<index::Query>();
  query->node = std::move(node);
  query->boost = boost;
  return query;
}

index::QueryPtr BaseQuery() {
  index::BoolQuery query;
  query.must.push_back(index::MakeTermQuery("severity", std::string("ERROR")));
  query.filter.push_back(Wrap(index::RangeQuery{"tenant", int64_t{1}, true, int64_t{9}, false}));
  return Wrap(std::move(query));
}

index::SplitSearchRequest BaseRequest() {
  index::SplitSearchRequest request;
  request.top_k = 10;
  request.sort_by = {index::SortField{"ts", index::SortOrder::kDesc}};
  return request;
}

// Every variant differs from the base request by one field; all keys must differ.
TEST(LeafRequestKeyTest, EveryFieldOfTheRequestTakesPartInTheKey) {
  static const index::AggregationRequest kTerms = [] {
    index::AggregationRequest aggregation;
    index::AggregationSpec spec;
    spec.name = "a";
    spec.field = "severity";
    aggregation.aggregations.push_back(spec);
    aggregation.canonical_json = R"({"a":{"terms":{"field":"severity"}}})";
    return aggregation;
  }();
  static const index::AggregationRequest kTermsOtherSize = [] {
    index::AggregationRequest aggregation = kTerms;
    aggregation.aggregations[0].size = 11;
    aggregation.canonical_json = R"({"a":{"terms":{"field":"severity","size":11}}})";
    return aggregation;
  }();
  static const index::AggregationRequest kTermsWithSubAggregation = [] {
    index::AggregationRequest aggregation = kTerms;
    index::AggregationSpec average;
    average.name = "avg";
    average.kind = index::AggregationKind::kAvg;
    average.field = "latency";
    aggregation.aggregations[0].sub_aggregations.push_back(average);
    aggregation.canonical_json =
        R"({"a":{"aggs":{"avg":{"avg":{"field":"latency"}}},"terms":{"field":"severity"}}})";
    return aggregation;
  }();
  struct Variant {
    std::string name;
    std::function<index::QueryPtr()> query;
    std::function<void(index::SplitSearchRequest&)> request;
  };
  const auto keep = [](index::SplitSearchRequest&) {};
  const std::vector<Variant> variants = {
      {"base", BaseQuery, keep},
      {"other split", BaseQuery, keep},  // keyed with another split id below
      {"all", [] { return index::MakeAllQuery(); }, keep},
      {"empty", [] { return index::MakeEmptyQuery(); }, keep},
      {"term string", [] { return index::MakeTermQuery("tenant", std::string("1")); }, keep},
      {"term i64", [] { return index::MakeTermQuery("tenant", int64_t{1}); }, keep},
      {"term u64", [] { return index::MakeTermQuery("tenant", uint64_t{1}); }, keep},
      {"term f64", [] { return index::MakeTermQuery("tenant", 1.0); }, keep},
      {"term bool", [] { return index::MakeTermQuery("tenant", true); }, keep},
      {"term a:bc", [] { return index::MakeTermQuery("a", std::string("bc")); }, keep},
      {"term ab:c", [] { return index::MakeTermQuery("ab", std::string("c")); }, keep},
      {"boost", [] { return Wrap(index::AllQuery{}, 2.0f); }, keep},
      {"phrase",
       [] {
         return Wrap(index::PhraseQuery{"body", {"a", "b"}, 0});
       },
       keep},
      {"phrase slop",
       [] {
         return Wrap(index::PhraseQuery{"body", {"a", "b"}, 1});
       },
       keep},
      {"phrase joined",
       [] {
         return Wrap(index::PhraseQuery{"body", {"ab"}, 0});
       },
       keep},
      {"range open",
       [] {
         return Wrap(index::RangeQuery{"tenant", std::nullopt, true, std::nullopt, true});
       },
       keep},
      {"range lower exclusive",
       [] {
         return Wrap(index::RangeQuery{"tenant", int64_t{1}, false, std::nullopt, true});
       },
       keep},
      {"range lower",
       [] {
         return Wrap(index::RangeQuery{"tenant", int64_t{1}, true, std::nullopt, true});
       },
       keep},
      {"range upper",
       [] {
         return Wrap(index::RangeQuery{"tenant", std::nullopt, true, int64_t{1}, true});
       },
       keep},
      {"exists", [] { return Wrap(index::ExistsQuery{"tenant"}); }, keep},
      {"prefix",
       [] {
         return Wrap(index::PrefixQuery{"tenant", "1"});
       },
       keep},
      {"term set",
       [] {
         return Wrap(index::TermSetQuery{"tenant", {std::string("1"), int64_t{2}}});
       },
       keep},
      {"term set other values",
       [] {
         return Wrap(index::TermSetQuery{"tenant", {std::string("1"), std::string("2")}});
       },
       keep},
      {"wildcard",
       [] {
         return Wrap(index::WildcardQuery{"tenant", "1*"});
       },
       keep},
      {"regex",
       [] {
         return Wrap(index::RegexQuery{"tenant", "1*"});
       },
       keep},
      {"bool must as should",
       [] {
         index::BoolQuery query;
         query.should.push_back(index::MakeTermQuery("severity", std::string("ERROR")));
         query.filter.push_back(
             Wrap(index::RangeQuery{"tenant", int64_t{1}, true, int64_t{9}, false}));
         return Wrap(std::move(query));
       },
       keep},
      {"bool minimum_should_match",
       [] {
         index::QueryPtr query = BaseQuery();
         std::get<index::BoolQuery>(query->node).minimum_should_match = 0;
         return query;
       },
       keep},
      {"start", BaseQuery, [](auto& r) { r.start_timestamp_nanos = 5; }},
      {"end", BaseQuery, [](auto& r) { r.end_timestamp_nanos = 5; }},
      {"top_k", BaseQuery, [](auto& r) { r.top_k = 11; }},
      {"sort order", BaseQuery, [](auto& r) { r.sort_by[0].order = index::SortOrder::kAsc; }},
      {"sort field", BaseQuery, [](auto& r) { r.sort_by[0].field = "tsx"; }},
      {"default sort", BaseQuery, [](auto& r) { r.sort_by.clear(); }},
      {"count_all", BaseQuery, [](auto& r) { r.count_all = false; }},
      {"aggregation", BaseQuery, [](auto& r) { r.aggregation = &kTerms; }},
      {"aggregation size", BaseQuery, [](auto& r) { r.aggregation = &kTermsOtherSize; }},
      {"sub aggregation", BaseQuery, [](auto& r) { r.aggregation = &kTermsWithSubAggregation; }},
  };
  std::set<std::string> keys;
  for (const Variant& variant : variants) {
    index::SplitSearchRequest request = BaseRequest();
    variant.request(request);
    const std::string split_id = variant.name == "other split" ? "split-b" : "split-a";
    const index::QueryPtr query = variant.query();
    const std::optional<std::string> key = LeafRequestKey(split_id, *query, request);
    ASSERT_TRUE(key.has_value()) << variant.name;
    EXPECT_TRUE(keys.insert(*key).second) << variant.name << " collides with another variant";
    // Equal requests built again give the same key.
    EXPECT_EQ(LeafRequestKey(split_id, *variant.query(), request), key) << variant.name;
  }
}

// An aggregation built in code has no canonical JSON to key on: its results are not cached.
TEST(LeafRequestKeyTest, AggregationWithoutCanonicalJsonIsNotCacheable) {
  index::AggregationRequest aggregation;
  aggregation.aggregations.emplace_back();
  aggregation.aggregations[0].name = "a";
  aggregation.aggregations[0].field = "severity";
  index::SplitSearchRequest request = BaseRequest();
  request.aggregation = &aggregation;
  EXPECT_FALSE(LeafRequestKey("split-a", *BaseQuery(), request).has_value());
  aggregation.canonical_json = R"({"a":{"terms":{"field":"severity"}}})";
  EXPECT_TRUE(LeafRequestKey("split-a", *BaseQuery(), request).has_value());
}

TEST(PartialRequestCacheTest, StoresResultsAndBoundsTheirBytes) {
  index::SplitSearchResult result;
  result.num_hits = 42;
  for (uint32_t doc = 0; doc < 10; ++doc) {
    result.hits.push_back(index::SplitHit{doc, {uint64_t{doc} * 3}, 1.0f});
  }
  const uint64_t bytes = EstimateResultBytes(result);
  index::SplitSearchResult bigger = result;
  bigger.hits.resize(20);
  EXPECT_GT(EstimateResultBytes(bigger), bytes);
  index::SplitSearchResult with_aggs = result;
  with_aggs.aggregations.emplace(1);
  (*with_aggs.aggregations)[0].terms[index::AggKey::Text("ERROR")].doc_count = 3;
  EXPECT_GT(EstimateResultBytes(with_aggs), bytes);

  PartialRequestCache cache(1'000'000);
  const index::QueryPtr query = BaseQuery();
  const std::string key = *LeafRequestKey("split-a", *query, BaseRequest());
  EXPECT_EQ(cache.Get(key), nullptr);
  cache.Put(key, std::make_shared<const index::SplitSearchResult>(result));
  std::shared_ptr<const index::SplitSearchResult> cached = cache.Get(key);
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(cached->num_hits, 42u);
  EXPECT_EQ(cached->hits.size(), 10u);
  EXPECT_GE(cache.stats().bytes, bytes);

  PartialRequestCache disabled(0);
  disabled.Put(key, cached);
  EXPECT_EQ(disabled.Get(key), nullptr);
}

}  // namespace
}  // namespace shale::search
