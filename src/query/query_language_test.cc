#include "query/query_language.h"

#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale::query {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Ast(std::string_view text) {
  absl::StatusOr<QueryAst> ast = ParseQueryLanguage(text);
  EXPECT_TRUE(ast.ok()) << text << ": " << ast.status();
  if (!ast.ok()) {
    return json();
  }
  return QueryAstToJson(*ast);
}

absl::Status ParseError(std::string_view text) {
  absl::StatusOr<QueryAst> ast = ParseQueryLanguage(text);
  EXPECT_FALSE(ast.ok()) << text << " parsed as " << (ast.ok() ? QueryAstToJson(*ast).dump() : "");
  return ast.status();
}

json Term(std::optional<std::string> field, std::string value) {
  return json{{"type", "term"},
              {"field", field.has_value() ? json(*field) : json(nullptr)},
              {"value", value}};
}

TEST(QueryLanguageTest, EmptyAndStarMatchAll) {
  EXPECT_EQ(Ast(""), json({{"type", "match_all"}}));
  EXPECT_EQ(Ast("   "), json({{"type", "match_all"}}));
  EXPECT_EQ(Ast("*"), json({{"type", "match_all"}}));
}

TEST(QueryLanguageTest, FieldTerm) {
  EXPECT_EQ(Ast("app_name:tantivy"), Term("app_name", "tantivy"));
  EXPECT_EQ(Ast("process_id:1234"), Term("process_id", "1234"));
  EXPECT_EQ(Ast("word"), Term(std::nullopt, "word"));
  EXPECT_EQ(Ast("text_raw:indexed-with-raw-tokenizer-dashes"),
            Term("text_raw", "indexed-with-raw-tokenizer-dashes"));
  EXPECT_EQ(Ast("ts:-5"), Term("ts", "-5"));
  EXPECT_EQ(Ast("url:http://x.com/a"), Term("url", "http://x.com/a"));
}

TEST(QueryLanguageTest, DottedFieldsKeepEscapedDots) {
  EXPECT_EQ(Ast("attributes.class:Foo"), Term("attributes.class", "Foo"));
  EXPECT_EQ(Ast(R"(k8s\.io.name:x)"), Term(R"(k8s\.io.name)", "x"));
  EXPECT_EQ(Ast(R"(weird\:field:x)"), Term("weird:field", "x"));
}

TEST(QueryLanguageTest, BackslashEscapes) {
  EXPECT_EQ(Ast(R"(title:foo\*)"), Term("title", "foo*"));
  EXPECT_EQ(Ast(R"(title:a\(b\))"), Term("title", "a(b)"));
  EXPECT_EQ(Ast(R"(\-foo)"), Term(std::nullopt, "-foo"));
  EXPECT_EQ(Ast(R"(\AND)"), Term(std::nullopt, "AND"));
  EXPECT_EQ(Ast(R"(title:fast\ text)"), Term("title", "fast text"));
}

TEST(QueryLanguageTest, Phrases) {
  EXPECT_EQ(
      Ast(R"(full_name:"john doe")"),
      json({{"type", "phrase"}, {"field", "full_name"}, {"phrase", "john doe"}, {"slop", 0}}));
  EXPECT_EQ(Ast(R"("john doe"~2)"),
            json({{"type", "phrase"}, {"field", nullptr}, {"phrase", "john doe"}, {"slop", 2}}));
  EXPECT_EQ(Ast(R"(f:"say \"hi\"")")["phrase"], R"(say "hi")");
  EXPECT_THAT(ParseError(R"(f:"open)").message(), HasSubstr("position 2: unterminated"));
  EXPECT_THAT(ParseError(R"(f:"a b"*)").message(),
              HasSubstr("phrase prefix queries over several words are not supported yet"));
  EXPECT_EQ(Ast(R"(f:"2024-01-01"*)"),
            json({{"type", "prefix"}, {"field", "f"}, {"prefix", "2024-01-01"}}));
  // Single quotes delimit phrases too.
  EXPECT_EQ(Ast("f:'AB CD'"),
            json({{"type", "phrase"}, {"field", "f"}, {"phrase", "AB CD"}, {"slop", 0}}));
  EXPECT_EQ(Ast(R"(f:'it\'s')")["phrase"], "it's");
  EXPECT_THAT(ParseError(R"(f:"a b"~x)").message(), HasSubstr("slop"));
}

TEST(QueryLanguageTest, Prefix) {
  EXPECT_EQ(Ast("app_name:tant*"),
            json({{"type", "prefix"}, {"field", "app_name"}, {"prefix", "tant"}}));
  EXPECT_EQ(Ast("quick*"), json({{"type", "prefix"}, {"field", nullptr}, {"prefix", "quick"}}));
}

TEST(QueryLanguageTest, WildcardsAndRegexes) {
  EXPECT_EQ(Ast("f:fo*o"), json({{"type", "wildcard"}, {"field", "f"}, {"value", "fo*o"}}));
  EXPECT_EQ(Ast("*foo"), json({{"type", "wildcard"}, {"field", nullptr}, {"value", "*foo"}}));
  EXPECT_EQ(Ast("f:a**")["value"], "a**");
  EXPECT_EQ(Ast("f:a?c")["value"], "a?c");
  // Escaped wildcards stay literal: in a term, and escaped again in a pattern.
  EXPECT_EQ(Ast(R"(f:a\?c)"), json({{"type", "term"}, {"field", "f"}, {"value", "a?c"}}));
  EXPECT_EQ(Ast(R"(f:a\**)"), json({{"type", "prefix"}, {"field", "f"}, {"prefix", "a*"}}));
  EXPECT_EQ(Ast(R"(f:a\*?)")["value"], R"(a\*?)");
  EXPECT_EQ(Ast("f:/fo+/"), json({{"type", "regex"}, {"field", "f"}, {"regex", "fo+"}}));
  EXPECT_EQ(Ast(R"(f:/a\/b\d/)")["regex"], R"(a/b\d)");
  EXPECT_EQ(Ast("/fo+/ AND g:x")["must"][0]["regex"], "fo+");
  EXPECT_THAT(ParseError("f:/fo+").message(), HasSubstr("position 2: unterminated regex"));
  EXPECT_THAT(ParseError("f:/fo(/").message(), HasSubstr("invalid regex"));
  EXPECT_THAT(ParseError("f:/" + std::string(5000, 'a') + "/").message(),
              HasSubstr("exceeds the limit of 4096 bytes"));
}

TEST(QueryLanguageTest, Exists) {
  EXPECT_EQ(Ast("json_fast.field_c:*"),
            json({{"type", "field_presence"}, {"field", "json_fast.field_c"}}));
}

TEST(QueryLanguageTest, Ranges) {
  EXPECT_EQ(Ast("f:[a TO b]"), json({{"type", "range"},
                                     {"field", "f"},
                                     {"lower_bound", {{"included", "a"}}},
                                     {"upper_bound", {{"included", "b"}}}}));
  json exclusive = Ast("f:{1 TO 5}");
  EXPECT_EQ(exclusive["lower_bound"], json({{"excluded", "1"}}));
  EXPECT_EQ(exclusive["upper_bound"], json({{"excluded", "5"}}));
  json mixed = Ast("f:[1 TO 5}");
  EXPECT_EQ(mixed["lower_bound"], json({{"included", "1"}}));
  EXPECT_EQ(mixed["upper_bound"], json({{"excluded", "5"}}));
  json open = Ast("f:[* TO 5]");
  EXPECT_EQ(open["lower_bound"], "unbounded");
  EXPECT_EQ(Ast("f:{10 TO *}")["upper_bound"], "unbounded");
  EXPECT_EQ(Ast("f:[  a   TO   b  ]")["upper_bound"], json({{"included", "b"}}));
  EXPECT_EQ(Ast("text_fast:[fast-text-value-dashes TO fast-text-value-dashes]")["lower_bound"],
            json({{"included", "fast-text-value-dashes"}}));
  EXPECT_EQ(Ast("ts:[2023-05-25T00:00:00Z TO 2023-05-26T00:00:00Z]")["upper_bound"],
            json({{"included", "2023-05-26T00:00:00Z"}}));
}

TEST(QueryLanguageTest, RangesWithSpacesAreErrors) {
  absl::Status status =
      ParseError(R"(text_fast:["fast text value whitespaces" TO "fast text value whitespacesd"])");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("position 11"));
  status = ParseError("text_fast:[fast text value whitespaces TO fast text value whitespaces]");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("position 16: expected `TO`"));
  EXPECT_THAT(ParseError("f:[a TO b").message(), HasSubstr("expected `]`"));
  EXPECT_THAT(ParseError("f:[a b]").message(), HasSubstr("TO"));
  EXPECT_THAT(ParseError("[a TO b]").message(), HasSubstr("needs a field"));
}

TEST(QueryLanguageTest, Comparisons) {
  json ge = Ast("ts:>=2023/05/25");
  EXPECT_EQ(ge["lower_bound"], json({{"included", "2023/05/25"}}));
  EXPECT_EQ(ge["upper_bound"], "unbounded");
  EXPECT_EQ(Ast("ts:>1684993002")["lower_bound"], json({{"excluded", "1684993002"}}));
  EXPECT_EQ(Ast("ts:<5")["upper_bound"], json({{"excluded", "5"}}));
  EXPECT_EQ(Ast("ts:<=5")["upper_bound"], json({{"included", "5"}}));
  EXPECT_EQ(Ast("auto_date:>=2023-05-25T00:00:00Z")["lower_bound"],
            json({{"included", "2023-05-25T00:00:00Z"}}));
  json both = Ast("ts:>=1684993002 AND ts:<1684993004");
  EXPECT_EQ(both["type"], "bool");
  EXPECT_EQ(both["must"].size(), 2u);
  EXPECT_EQ(Ast("(ts:>5)")["lower_bound"], json({{"excluded", "5"}}));
  EXPECT_THAT(ParseError("ts:>= 5").message(), HasSubstr("position 5: expected a value"));
  EXPECT_THAT(ParseError(">5").message(), HasSubstr("needs a field"));
}

TEST(QueryLanguageTest, TermSets) {
  EXPECT_EQ(Ast("severity:IN [error warn]"),
            json({{"type", "term_set"}, {"field", "severity"}, {"values", {"error", "warn"}}}));
  EXPECT_EQ(Ast(R"(severity:IN ["a b" c])")["values"], json({"a b", "c"}));
  EXPECT_EQ(Ast("IN [a b]")["field"], nullptr);
  EXPECT_EQ(Ast("severity:INFO"), Term("severity", "INFO"));
  EXPECT_THAT(ParseError("f:IN [a b").message(), HasSubstr("unterminated"));
  std::string huge = "f:IN [";
  for (size_t i = 0; i <= kMaxTermSetValues; ++i) huge += fmt::format("v{} ", i);
  EXPECT_THAT(ParseError(huge + "]").message(), HasSubstr("has more than 65536 values"));
}

TEST(QueryLanguageTest, Boosts) {
  json boosted = Ast("title:foo^2");
  EXPECT_EQ(boosted["boost"], 2.0);
  EXPECT_EQ(Ast("(a OR b)^1.5")["boost"], 1.5);
  EXPECT_EQ(Ast(R"("a b"^3)")["boost"], 3.0);
  EXPECT_THAT(ParseError("a^").message(), HasSubstr("position 1"));
}

TEST(QueryLanguageTest, ImplicitConjunctionIsAnd) {
  EXPECT_EQ(Ast("a b"),
            json({{"type", "bool"}, {"must", {Term(std::nullopt, "a"), Term(std::nullopt, "b")}}}));
  EXPECT_EQ(Ast("a b"), Ast("a AND b"));
  EXPECT_EQ(Ast("a && b"), Ast("a AND b"));
  EXPECT_EQ(
      Ast("title:barack obama"),
      json({{"type", "bool"}, {"must", {Term("title", "barack"), Term(std::nullopt, "obama")}}}));
}

TEST(QueryLanguageTest, AndBindsTighterThanOr) {
  json expected = {
      {"type", "bool"},
      {"should",
       {{{"type", "bool"}, {"must", {Term(std::nullopt, "a"), Term(std::nullopt, "b")}}},
        Term(std::nullopt, "c")}}};
  EXPECT_EQ(Ast("a AND b OR c"), expected);
  EXPECT_EQ(Ast("a b OR c"), expected);
  EXPECT_EQ(Ast("a b || c"), expected);
  json right = {
      {"type", "bool"},
      {"should",
       {Term(std::nullopt, "a"),
        {{"type", "bool"}, {"must", {Term(std::nullopt, "b"), Term(std::nullopt, "c")}}}}}};
  EXPECT_EQ(Ast("a OR b AND c"), right);
  json grouped = {
      {"type", "bool"},
      {"must",
       {Term(std::nullopt, "a"),
        {{"type", "bool"}, {"should", {Term(std::nullopt, "b"), Term(std::nullopt, "c")}}}}}};
  EXPECT_EQ(Ast("a AND (b OR c)"), grouped);
  EXPECT_EQ(Ast("a (b || c)"), grouped);
}

TEST(QueryLanguageTest, Negations) {
  json not_b = {{"type", "bool"},
                {"must", {Term(std::nullopt, "a")}},
                {"must_not", {Term(std::nullopt, "b")}}};
  EXPECT_EQ(Ast("a -b"), not_b);
  EXPECT_EQ(Ast("a AND NOT b"), not_b);
  EXPECT_EQ(Ast("a !b"), not_b);
  EXPECT_EQ(Ast("+a -b"), not_b);
  EXPECT_EQ(Ast("NOT NOT a"), Term(std::nullopt, "a"));
  json negative_only = Ast("-ts:1234567890 AND -ts:1234567891");
  EXPECT_EQ(
      negative_only,
      json({{"type", "bool"}, {"must_not", {Term("ts", "1234567890"), Term("ts", "1234567891")}}}));
  EXPECT_EQ(Ast("NOT ts:1234567890 AND NOT ts:1234567891"), negative_only);
  EXPECT_EQ(Ast("NOT ts:1234567890 AND -ts:1234567891"), negative_only);
  EXPECT_EQ(Ast("-ts:1234567890 AND NOT ts:1234567891"), negative_only);
  EXPECT_THAT(ParseError("a - b").message(), HasSubstr("position 2"));
  EXPECT_THAT(ParseError("NOT").message(), HasSubstr("position 0"));
}

TEST(QueryLanguageTest, KeywordsNeedBoundaries) {
  EXPECT_EQ(Ast("ANDROID"), Term(std::nullopt, "ANDROID"));
  EXPECT_EQ(Ast("NOTE"), Term(std::nullopt, "NOTE"));
  EXPECT_EQ(Ast("ORACLE"), Term(std::nullopt, "ORACLE"));
  EXPECT_EQ(Ast("and"), Term(std::nullopt, "and"));  // lowercase is a plain word
}

TEST(QueryLanguageTest, ParseErrorsNamePositions) {
  EXPECT_THAT(ParseError("a AND").message(), HasSubstr("query parse error at position 2"));
  EXPECT_THAT(ParseError("OR a").message(), HasSubstr("position 0: unexpected operator `OR`"));
  EXPECT_THAT(ParseError("(a OR b").message(), HasSubstr("position 7: expected `)`"));
  EXPECT_THAT(ParseError("a OR b)").message(), HasSubstr("position 6: unexpected `)`"));
  EXPECT_THAT(ParseError("()").message(), HasSubstr("position 0: empty parentheses"));
  EXPECT_THAT(ParseError("f:").message(), HasSubstr("position 2: expected a value after `f:`"));
  EXPECT_THAT(ParseError(":x").message(), HasSubstr("position 0"));
  EXPECT_THAT(ParseError("a ]").message(), HasSubstr("position 2"));
  EXPECT_THAT(ParseError("f:(a b)").message(), HasSubstr("not supported yet"));
}

TEST(QueryLanguageTest, DeepNestingIsRejected) {
  std::string ok = std::string(100, '(') + "a" + std::string(100, ')');
  EXPECT_TRUE(ParseQueryLanguage(ok).ok());
  std::string deep = std::string(101, '(') + "a" + std::string(101, ')');
  absl::StatusOr<QueryAst> ast = ParseQueryLanguage(deep);
  ASSERT_EQ(ast.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ast.status().message(), HasSubstr("deeper than 100"));
  std::string nots;
  for (int i = 0; i < 5000; ++i) {
    nots += "NOT ";
  }
  EXPECT_EQ(ParseQueryLanguage(nots + "a").status().code(), absl::StatusCode::kInvalidArgument);
  std::string opens(100000, '(');
  EXPECT_EQ(ParseQueryLanguage(opens).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(QueryLanguageTest, ArbitraryInputNeverCrashes) {
  // Deterministic pseudo-random strings over the grammar's alphabet: every input either parses
  // and builds, or fails with InvalidArgument.
  const std::string alphabet = "ab:*\"\\()[]{}^~<>=-+! TOINAD/.|&0";
  uint64_t state = 42;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    int length = static_cast<int>(state % 24);
    for (int j = 0; j < length; ++j) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      text += alphabet[(state >> 33) % alphabet.size()];
    }
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    absl::StatusOr<QueryAst> ast = ParseQueryLanguage(text);
    if (!ast.ok()) {
      EXPECT_EQ(ast.status().code(), absl::StatusCode::kInvalidArgument) << text;
      EXPECT_THAT(ast.status().message(), HasSubstr("query parse error at position")) << text;
      continue;
    }
    (void)QueryAstToJson(*ast);
    absl::StatusOr<index::QueryPtr> query = BuildQuery(*ast, {"f"});
    EXPECT_TRUE(query.ok()) << text << ": " << query.status();
  }
}

// --- BuildQuery ---

const index::BoolQuery& AsBool(const index::Query& query) {
  return std::get<index::BoolQuery>(query.node);
}

TEST(BuildQueryTest, MatchAll) {
  for (const char* text : {"", "*", "  "}) {
    absl::StatusOr<index::QueryPtr> query = ParseUserQuery(text, {});
    ASSERT_TRUE(query.ok()) << query.status();
    EXPECT_TRUE(std::holds_alternative<index::AllQuery>((*query)->node));
  }
}

TEST(BuildQueryTest, TermUsesStringValue) {
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("ts:1234", {});
  ASSERT_TRUE(query.ok()) << query.status();
  const auto& term = std::get<index::TermQuery>((*query)->node);
  EXPECT_EQ(term.field, "ts");
  EXPECT_EQ(std::get<std::string>(term.value), "1234");
}

TEST(BuildQueryTest, DefaultSearchFields) {
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("hello", {"title", "body"});
  ASSERT_TRUE(query.ok()) << query.status();
  const index::BoolQuery& any = AsBool(**query);
  ASSERT_EQ(any.should.size(), 2u);
  EXPECT_EQ(std::get<index::TermQuery>(any.should[1]->node).field, "body");

  query = ParseUserQuery("hello", {"title"});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::TermQuery>((*query)->node).field, "title");

  query = ParseUserQuery("hello", {});
  ASSERT_EQ(query.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(query.status().message(),
              HasSubstr("query `hello` has no field and the index has no default search fields"));

  EXPECT_TRUE(ParseUserQuery("title:hello", {}).ok());
}

TEST(BuildQueryTest, NegativeOnlyMatchesAllButNegated) {
  for (const char* text :
       {"-ts:1234567890 AND -ts:1234567891", "NOT ts:1234567890 AND NOT ts:1234567891", "-a"}) {
    absl::StatusOr<index::QueryPtr> query = ParseUserQuery(text, {"f"});
    ASSERT_TRUE(query.ok()) << query.status();
    const index::BoolQuery& bool_query = AsBool(**query);
    ASSERT_EQ(bool_query.must.size(), 1u) << text;
    EXPECT_TRUE(std::holds_alternative<index::AllQuery>(bool_query.must[0]->node));
    EXPECT_FALSE(bool_query.must_not.empty());
  }
  // With a positive clause, no AllQuery is added.
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("a -b", {"f"});
  ASSERT_TRUE(query.ok());
  EXPECT_TRUE(std::holds_alternative<index::TermQuery>(AsBool(**query).must[0]->node));
}

TEST(BuildQueryTest, PhraseAndSlop) {
  absl::StatusOr<index::QueryPtr> query =
      ParseUserQuery(R"(text_raw:"indexed with raw tokenizer dashes")", {});
  ASSERT_TRUE(query.ok()) << query.status();
  const auto& term = std::get<index::TermQuery>((*query)->node);
  EXPECT_EQ(std::get<std::string>(term.value), "indexed with raw tokenizer dashes");

  query = ParseUserQuery(R"(body:"a b c"~2)", {});
  ASSERT_TRUE(query.ok());
  const auto& phrase = std::get<index::PhraseQuery>((*query)->node);
  EXPECT_EQ(phrase.terms, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(phrase.slop, 2u);

  query = ParseUserQuery(R"(body:"single"~2)", {});
  ASSERT_TRUE(query.ok());
  EXPECT_TRUE(std::holds_alternative<index::TermQuery>((*query)->node));
}

TEST(BuildQueryTest, RangesPrefixExistsSets) {
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("ts:>=2023/05/25", {});
  ASSERT_TRUE(query.ok()) << query.status();
  const auto& range = std::get<index::RangeQuery>((*query)->node);
  EXPECT_EQ(std::get<std::string>(*range.lower), "2023/05/25");
  EXPECT_TRUE(range.lower_inclusive);
  EXPECT_FALSE(range.upper.has_value());

  query = ParseUserQuery("f:{a TO b]", {});
  ASSERT_TRUE(query.ok());
  const auto& half = std::get<index::RangeQuery>((*query)->node);
  EXPECT_FALSE(half.lower_inclusive);
  EXPECT_TRUE(half.upper_inclusive);

  query = ParseUserQuery("f:pre*", {});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::PrefixQuery>((*query)->node).prefix, "pre");

  query = ParseUserQuery("f:*", {});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::ExistsQuery>((*query)->node).field, "f");

  query = ParseUserQuery("f:IN [a b c]", {});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::TermSetQuery>((*query)->node).values.size(), 3u);

  query = ParseUserQuery("IN [a b c]", {"f", "g"});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(AsBool(**query).should.size(), 2u);  // one term set per default field

  query = ParseUserQuery("f:ab*c?", {});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::WildcardQuery>((*query)->node).pattern, "ab*c?");

  query = ParseUserQuery("f:/ab.*/", {});
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(std::get<index::RegexQuery>((*query)->node).pattern, "ab.*");

  query = ParseUserQuery("f:IN []", {});
  ASSERT_TRUE(query.ok());
  EXPECT_TRUE(std::holds_alternative<index::EmptyQuery>((*query)->node));
}

TEST(BuildQueryTest, BoostIsCarried) {
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("f:a^2.5 g:b", {});
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_FLOAT_EQ(AsBool(**query).must[0]->boost, 2.5f);
  EXPECT_FLOAT_EQ(AsBool(**query).must[1]->boost, 1.0f);
}

TEST(BuildQueryTest, OrWithNegationKeepsItsMeaning) {
  absl::StatusOr<index::QueryPtr> query = ParseUserQuery("a OR -b", {"f"});
  ASSERT_TRUE(query.ok()) << query.status();
  const index::BoolQuery& any = AsBool(**query);
  ASSERT_EQ(any.should.size(), 2u);
  const index::BoolQuery& not_b = AsBool(*any.should[1]);
  ASSERT_EQ(not_b.must.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<index::AllQuery>(not_b.must[0]->node));
}

}  // namespace
}  // namespace shale::query
