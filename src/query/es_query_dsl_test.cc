#include "query/es_query_dsl.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "query/query_language.h"

namespace shale::query {
namespace {

std::string Translate(const std::string& json) {
  auto text = EsQueryToQueryLanguage(nlohmann::json::parse(json));
  EXPECT_TRUE(text.ok()) << text.status() << " " << json;
  if (!text.ok()) return "";
  // Every translation must be a valid query in the query language.
  auto parsed = ParseUserQuery(*text, {"message"});
  EXPECT_TRUE(parsed.ok()) << parsed.status() << " " << *text;
  return *text;
}

TEST(EsQueryDslTest, TranslatesSupportedClauses) {
  EXPECT_EQ(Translate(R"({"match_all": {}})"), "*");
  EXPECT_EQ(Translate(R"({"exists": {"field": "response"}})"), "response:*");
  EXPECT_EQ(Translate(R"({"bool": {"must": [{"exists": {"field": "response"}}]}})"),
            "(response:*)");
  EXPECT_EQ(Translate(R"({"term": {"host": "192.168.0.1"}})"), R"(host:192\.168\.0\.1)");
  EXPECT_EQ(Translate(R"({"term": {"status": {"value": 200}}})"), "status:200");
  EXPECT_EQ(Translate(R"({"match": {"message": "disk full"}})"),
            "(message:disk) OR (message:full)");
  EXPECT_EQ(Translate(R"({"range": {"status": {"gte": 200, "lt": 300}}})"),
            "(status:>=200) AND (status:<300)");
  EXPECT_EQ(Translate(R"({"bool": {"filter": {"term": {"a": "x"}},
                                   "must_not": [{"term": {"b": "y"}}],
                                   "should": [{"term": {"c": "1"}}, {"term": {"c": "2"}}]}})"),
            "(a:x) AND ((c:1) OR (c:2)) AND (NOT (b:y))");
  EXPECT_EQ(Translate(R"({"query_string": {"query": "level:ERROR"}})"), "level:ERROR");
  EXPECT_EQ(Translate(R"({"terms": {"level": ["ERROR", "a b", 3]}})"),
            R"(level:IN [ERROR a\ b 3 ])");
  EXPECT_EQ(Translate(R"({"wildcard": {"host": {"value": "web-*.example?"}}})"),
            R"(host:web\-*\.example?)");
  EXPECT_EQ(Translate(R"({"regexp": {"path": "/api/v[0-9]+"}})"), R"(path:/\/api\/v[0-9]+/)");
  EXPECT_EQ(Translate(R"({"prefix": {"host": {"value": "web-"}}})"), R"(host:web\-*)");
}

TEST(EsQueryDslTest, TranslationsParseBackToTheSameQuery) {
  auto parse = [](const char* dsl) {
    auto text = EsQueryToQueryLanguage(nlohmann::json::parse(dsl));
    EXPECT_TRUE(text.ok()) << text.status();
    auto ast = ParseQueryLanguage(*text);
    EXPECT_TRUE(ast.ok()) << ast.status() << " " << *text;
    return ast.ok() ? QueryAstToJson(*ast) : nlohmann::json();
  };
  EXPECT_EQ(parse(R"({"terms": {"level": ["ERROR", "a b"]}})")["values"],
            nlohmann::json({"ERROR", "a b"}));
  EXPECT_EQ(parse(R"({"wildcard": {"host": "web-*.x?"}})")["value"], R"(web-*.x?)");
  EXPECT_EQ(parse(R"({"regexp": {"path": "/a/.*"}})")["regex"], "/a/.*");
}

TEST(EsQueryDslTest, RejectsUnsupportedClauses) {
  auto text = EsQueryToQueryLanguage(nlohmann::json::parse(R"({"fuzzy": {"a": "b"}})"));
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(std::string(text.status().message()), ::testing::HasSubstr("fuzzy"));
  EXPECT_FALSE(EsQueryToQueryLanguage(nlohmann::json::parse(R"({"bool": {"nope": []}})")).ok());
  EXPECT_FALSE(EsQueryToQueryLanguage(nlohmann::json::parse(R"({"a": {}, "b": {}})")).ok());
  EXPECT_FALSE(EsQueryToQueryLanguage(nlohmann::json::parse(R"({"term": {"a b": "x"}})")).ok());
}

std::vector<std::string> SortBy(const std::string& json) {
  auto sort_by = EsSortToSortBy(nlohmann::json::parse(json));
  EXPECT_TRUE(sort_by.ok()) << sort_by.status() << " " << json;
  return sort_by.ok() ? *sort_by : std::vector<std::string>{};
}

std::string SortError(const std::string& json) {
  auto sort_by = EsSortToSortBy(nlohmann::json::parse(json));
  EXPECT_FALSE(sort_by.ok()) << json;
  return sort_by.ok() ? "" : std::string(sort_by.status().message());
}

TEST(EsSortTest, TranslatesEveryFormWithElasticsearchDefaultOrders) {
  using ::testing::ElementsAre;
  EXPECT_THAT(SortBy(R"("ts")"), ElementsAre("-ts"));
  EXPECT_THAT(SortBy(R"(["ts"])"), ElementsAre("-ts"));
  EXPECT_THAT(SortBy(R"([{"ts": {"order": "desc"}}, {"id": "asc"}])"), ElementsAre("+ts", "-id"));
  EXPECT_THAT(SortBy(R"({"actor.id": {}})"), ElementsAre("-actor.id"));
  EXPECT_THAT(SortBy(R"({"_doc": {"order": "desc"}})"), ElementsAre("+_doc"));
  EXPECT_THAT(SortBy(R"(["_score"])"), ElementsAre("+_score"));
  EXPECT_THAT(SortBy(R"([{"_score": {"order": "asc"}}])"), ElementsAre("-_score"));
  EXPECT_THAT(
      SortBy(R"([{"ts": {"order": "desc", "unmapped_type": "boolean", "format": "x"}}])"),
      ElementsAre("+ts"));
}

TEST(EsSortTest, RejectsMalformedSortsNamingTheProblem) {
  EXPECT_THAT(SortError(R"([{"ts": {"order": "up"}}])"), ::testing::HasSubstr("`up`"));
  EXPECT_THAT(SortError(R"([{"ts": {"mode": "avg"}}])"), ::testing::HasSubstr("`mode`"));
  EXPECT_THAT(SortError(R"([{"a": "asc", "b": "desc"}])"), ::testing::HasSubstr("exactly one"));
  EXPECT_THAT(SortError(R"([42])"), ::testing::HasSubstr("field name"));
  EXPECT_THAT(SortError(R"([""])"), ::testing::HasSubstr("empty field"));
}

TEST(EsSortTest, TranslatesTheSortParameter) {
  using ::testing::ElementsAre;
  auto sort_by = EsSortParamToSortBy("actor.id:desc, ts ,_doc:asc");
  ASSERT_TRUE(sort_by.ok()) << sort_by.status();
  EXPECT_THAT(*sort_by, ElementsAre("+actor.id", "-ts", "-_doc"));
  EXPECT_FALSE(EsSortParamToSortBy("ts:sideways").ok());
}

}  // namespace
}  // namespace shale::query
