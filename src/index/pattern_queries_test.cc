// Term set, wildcard and regex queries on one split, indexed and fast-only fields, against
// answers the test computes from its own documents, and their limits. Their warmup ranges are
// checked with the other shapes of testing/log_corpus.h (warmup_test).

#include <random>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

#include "index/internal/wildcard_pattern.h"
#include "index/split_format.h"
#include "index/testing/field_builder.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using ::shale::index::testing::BuildTestSplit;
using ::shale::index::testing::Field;
using ::testing::HasSubstr;

TEST(WildcardPatternTest, MatchesWholeTerms) {
  struct Case {
    const char* pattern;
    const char* term;
    bool matches;
  };
  const Case cases[] = {
      {"fo*", "foo", true},       {"fo*", "fo", true},          {"fo*", "f", false},
      {"*oo", "foo", true},       {"*oo", "fooo", true},        {"*oo", "foa", false},
      {"f?o", "foo", true},       {"f?o", "fo", false},         {"f?o", "fooo", false},
      {"*", "", true},            {"a*b*c", "abc", true},       {"a*b*c", "aXbYbZc", true},
      {"a*b*c", "aXbYc d", false}, {"?", "\xc3\xa9", true} /* one 2-byte character */,
      {"??", "\xc3\xa9", false},  {R"(a\*b)", "a*b", true},     {R"(a\*b)", "axb", false},
      {R"(a\?)", "a?", true},     {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(internal::WildcardPattern(c.pattern, false).Matches(c.term), c.matches)
        << c.pattern << " " << c.term;
  }
  EXPECT_EQ(internal::WildcardPattern("Fo*?x", true).literal_prefix(), "fo");
  EXPECT_EQ(internal::WildcardPattern(R"(a\*b*)", false).literal_prefix(), "a*b");
  EXPECT_TRUE(internal::WildcardPattern("FOO*", true).Matches("foobar"));
}

DocMapping PatternMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  FieldMapping host = Field("host", FieldType::kText);
  host.tokenizer = "raw";
  mapping.field_mappings.push_back(host);
  FieldMapping fast_host = Field("fast_host", FieldType::kText, true);
  fast_host.tokenizer = "raw";
  fast_host.indexed = false;
  mapping.field_mappings.push_back(fast_host);
  mapping.field_mappings.push_back(Field("body", FieldType::kText));  // default tokenizer
  mapping.field_mappings.push_back(Field("code", FieldType::kI64));
  FieldMapping fast_code = Field("fast_code", FieldType::kI64, true);
  fast_code.indexed = false;
  mapping.field_mappings.push_back(fast_code);
  return mapping;
}

struct PatternDoc {
  std::string host;
  std::vector<std::string> words;  // lowercased tokens of body
  int64_t code = 0;
};

class PatternQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(3);
    const char* const kKinds[] = {"web", "db", "cache", "queue"};
    std::vector<std::string> json_docs;
    for (int i = 0; i < 2000; ++i) {
      PatternDoc doc;
      // 4 kinds x 100 numbers: several term dictionary blocks per field.
      doc.host = fmt::format("{}-{:03}.example.com", kKinds[rng() % 4], rng() % 100);
      std::string body;
      for (int w = 0; w < 3; ++w) {
        const std::string word = fmt::format("w{}x{}", rng() % 40, rng() % 7);
        doc.words.push_back(word);
        body += (w > 0 ? " " : "") + std::string(w == 0 ? "Start" : "") + word;
      }
      doc.words[0] = "start" + doc.words[0];
      doc.code = static_cast<int64_t>(rng() % 600);
      json_docs.push_back(
          fmt::format(R"({{"host":"{}","fast_host":"{}","body":"{}","code":{},"fast_code":{}}})",
                      doc.host, doc.host, body, doc.code, doc.code));
      docs_.push_back(std::move(doc));
    }
    split_ = BuildTestSplit(PatternMapping(), json_docs);
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("patterns", split_.bytes));
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }

  absl::StatusOr<uint64_t> TryCount(QueryPtr query) const {
    SplitSearchRequest request;
    request.top_k = 0;
    auto result = reader_->Search(*query, request);
    if (!result.ok()) return result.status();
    return result->num_hits;
  }

  uint64_t Count(QueryPtr query) const {
    const std::string description = DebugString(*query);
    absl::StatusOr<uint64_t> count = TryCount(std::move(query));
    EXPECT_TRUE(count.ok()) << count.status() << " " << description;
    return count.ok() ? *count : UINT64_MAX;
  }

  template <typename Node>
  static QueryPtr Make(Node node) {
    auto query = std::make_unique<Query>();
    query->node = std::move(node);
    return query;
  }

  // Docs whose host (or one of whose body words, for "body") satisfies `matches`.
  template <typename Matches>
  uint64_t Expected(const std::string& field, Matches&& matches) const {
    uint64_t count = 0;
    for (const PatternDoc& doc : docs_) {
      bool any = false;
      if (field == "body") {
        for (const std::string& word : doc.words) any |= matches(word);
      } else {
        any = matches(doc.host);
      }
      count += any;
    }
    return count;
  }

  std::vector<PatternDoc> docs_;
  SerializedSplit split_;
  std::unique_ptr<SplitReader> reader_;
};

TEST_F(PatternQueryTest, TermSets) {
  const std::vector<std::string> hosts = {docs_[0].host, docs_[1].host, docs_[5].host,
                                          "absent.example.com"};
  const std::set<std::string> wanted(hosts.begin(), hosts.end());
  const uint64_t expected = Expected("host", [&](const std::string& h) { return wanted.count(h); });
  for (const char* field : {"host", "fast_host"}) {
    std::vector<TermValue> values(hosts.begin(), hosts.end());
    EXPECT_EQ(Count(Make(TermSetQuery{field, values})), expected) << field;
  }
  // Text values are tokenized like a term query's: "START..." finds the lowercased token.
  std::vector<TermValue> words = {std::string("START") + docs_[0].words[0].substr(5),
                                  docs_[3].words[1]};
  const std::set<std::string> wanted_words = {docs_[0].words[0], docs_[3].words[1]};
  EXPECT_EQ(Count(Make(TermSetQuery{"body", words})),
            Expected("body", [&](const std::string& w) { return wanted_words.count(w); }));
  // Numbers, indexed and fast-only, typed or as text.
  const std::set<int64_t> codes = {docs_[0].code, docs_[7].code, 599};
  uint64_t expected_codes = 0;
  for (const PatternDoc& doc : docs_) expected_codes += codes.count(doc.code);
  for (const char* field : {"code", "fast_code"}) {
    std::vector<TermValue> values = {docs_[0].code, fmt::format("{}", docs_[7].code), int64_t{599}};
    EXPECT_EQ(Count(Make(TermSetQuery{field, values})), expected_codes) << field;
  }
  auto bad = TryCount(Make(TermSetQuery{"code", {std::string("x")}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("`x` is not a valid i64"));
}

TEST_F(PatternQueryTest, TenThousandTermSetIsOneSortedPass) {
  std::vector<TermValue> values;
  std::set<std::string> wanted;
  for (int i = 0; i < 10'000; ++i) {
    const std::string host = i % 2 == 0 ? docs_[i % docs_.size()].host : fmt::format("no-{}", i);
    values.push_back(host);
    wanted.insert(host);
  }
  const uint64_t expected =
      Expected("host", [&](const std::string& h) { return wanted.count(h); });
  for (const char* field : {"host", "fast_host"}) {
    EXPECT_EQ(Count(Make(TermSetQuery{field, values})), expected) << field;
  }
}

TEST_F(PatternQueryTest, Wildcards) {
  for (const char* pattern : {"web-0*", "*.example.com", "db-0?5.*", "*-09?.*", "c*e-01?.ex*",
                              "queue-1*", "nothing*", "*"}) {
    const internal::WildcardPattern oracle(pattern, false);
    const uint64_t expected =
        Expected("host", [&](const std::string& h) { return oracle.Matches(h); });
    for (const char* field : {"host", "fast_host"}) {
      EXPECT_EQ(Count(Make(WildcardQuery{field, pattern})), expected) << field << " " << pattern;
    }
  }
  // On a lowercasing tokenizer the pattern is lowercased: "START*" finds "start..." tokens.
  EXPECT_EQ(Count(Make(WildcardQuery{"body", "START*x1"})),
            Expected("body", [](const std::string& w) {
              return w.starts_with("start") && w.ends_with("x1");
            }));
  // Wildcards on a number field match nothing (they apply to text terms).
  EXPECT_EQ(Count(Make(WildcardQuery{"code", "1*"})), 0u);
}

TEST_F(PatternQueryTest, Regexes) {
  for (const char* pattern : {"web-0[0-4]\\d\\.example\\.com", ".*-09[0-9].*", "(db|cache)-.*",
                              "web", "web-.*com", "[a-c].*", ".*"}) {
    const RE2 oracle(pattern);
    const uint64_t expected =
        Expected("host", [&](const std::string& h) { return RE2::FullMatch(h, oracle); });
    for (const char* field : {"host", "fast_host"}) {
      EXPECT_EQ(Count(Make(RegexQuery{field, pattern})), expected) << field << " " << pattern;
    }
  }
  EXPECT_EQ(Count(Make(RegexQuery{"body", "w1x[0-3]"})), Expected("body", [](const std::string& w) {
              return RE2::FullMatch(w, "w1x[0-3]");
            }));
  auto bad = TryCount(Make(RegexQuery{"host", "a("}));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("invalid regex"));
}

TEST_F(PatternQueryTest, ExpansionLimitIsAClearError) {
  std::vector<std::string> json_docs;
  for (size_t i = 0; i <= kMaxPatternExpansions; ++i) {
    json_docs.push_back(fmt::format(R"({{"host":"h{}"}})", i));
  }
  auto split = BuildTestSplit(PatternMapping(), json_docs);
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("many", split.bytes));
  ASSERT_TRUE(reader.ok());
  SplitSearchRequest request;
  std::vector<QueryPtr> queries;
  queries.push_back(Make(WildcardQuery{"host", "*"}));
  queries.push_back(Make(RegexQuery{"host", "h.*"}));
  for (const QueryPtr& query : queries) {
    auto result = (*reader)->Search(*query, request);
    ASSERT_FALSE(result.ok()) << DebugString(*query);
    EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr("on field `host` matches more than 50000 terms"));
  }
  // A narrower pattern over the same dictionary is fine.
  auto narrow = (*reader)->Search(*Make(WildcardQuery{"host", "h1234?"}), request);
  ASSERT_TRUE(narrow.ok()) << narrow.status();
  EXPECT_EQ(narrow->num_hits, 10u);
}

}  // namespace
}  // namespace shale::index
