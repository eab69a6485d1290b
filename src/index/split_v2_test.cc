// Format v2 features: positions and phrase queries, field norms and BM25 scoring, the bounded
// top-k collector, and corruption robustness of the new sections (runs under ASan + UBSan).

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "index/split_format.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

QueryPtr Wrap(auto node, float boost = 1.0f) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  query->boost = boost;
  return query;
}

QueryPtr Phrase(std::string field, std::vector<std::string> terms, uint32_t slop = 0) {
  return Wrap(PhraseQuery{std::move(field), std::move(terms), slop});
}

FieldMapping TextField(std::string name, IndexRecordOption record, bool fieldnorms = false) {
  FieldMapping field;
  field.name = std::move(name);
  field.type = FieldType::kText;
  field.record = record;
  field.fieldnorms = fieldnorms;
  return field;
}

DocMapping PhraseMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(TextField("body", IndexRecordOption::kPosition));
  mapping.field_mappings.push_back(TextField("title", IndexRecordOption::kFreq));
  mapping.field_mappings.push_back(TextField("plain", IndexRecordOption::kBasic, true));
  return mapping;
}

std::string BuildSplit(const DocMapping& mapping, const std::vector<std::string>& docs,
                       uint32_t docstore_blocksize = 1'000'000) {
  SplitWriterOptions options;
  options.docstore_blocksize = docstore_blocksize;
  return testing::BuildTestSplit(mapping, docs, options).bytes;
}

std::unique_ptr<SplitReader> Open(std::string bytes) {
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("v2-split", std::move(bytes)));
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

absl::StatusOr<uint64_t> Count(const SplitReader& reader, const Query& query) {
  SplitSearchRequest request;
  request.top_k = 0;
  auto result = reader.Search(query, request);
  if (!result.ok()) return result.status();
  return result->num_hits;
}

std::vector<uint32_t> Matching(const SplitReader& reader, const Query& query) {
  SplitSearchRequest request;
  request.top_k = 1000;
  request.sort_by = {SortField{"_doc", SortOrder::kAsc}};
  auto result = reader.Search(query, request);
  EXPECT_TRUE(result.ok()) << result.status();
  std::vector<uint32_t> docs;
  if (result.ok()) {
    for (const SplitHit& hit : result->hits) docs.push_back(hit.doc_id);
  }
  return docs;
}

const std::vector<std::string> kPhraseDocs = {
    R"({"body":"the quick brown fox","title":"quick brown","plain":"quick brown"})",  // 0
    R"({"body":"quick the brown fox","title":"brown quick","plain":"brown quick"})",  // 1
    R"({"body":"quick red brown fox"})",                                              // 2
    R"({"body":"quick red big brown fox"})",                                          // 3
    R"({"body":["the quick", "brown fox"]})",                                         // 4
    R"({"body":"Quick Brown quick brown QUICK"})",                                    // 5
    R"({"body":"fox fox fox"})",                                                      // 6
};

TEST(PhraseTest, ExactPhrasesNeedConsecutivePositions) {
  auto reader = Open(BuildSplit(PhraseMapping(), kPhraseDocs));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick", "brown"})), (std::vector<uint32_t>{0, 5}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"brown", "fox"})),
            (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"the", "quick", "brown", "fox"})),
            (std::vector<uint32_t>{0}));
  // Terms are tokenized with the field's tokenizer.
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"QUICK", "Brown"})), (std::vector<uint32_t>{0, 5}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick brown"})), (std::vector<uint32_t>{0, 5}));
  // A repeated term needs distinct positions.
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"fox", "fox"})), (std::vector<uint32_t>{6}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"fox", "fox", "fox", "fox"})),
            (std::vector<uint32_t>{}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick", "missing"})), (std::vector<uint32_t>{}));
  EXPECT_EQ(Matching(*reader, *Phrase("no_such_field", {"a", "b"})), (std::vector<uint32_t>{}));
}

TEST(PhraseTest, SlopAllowsExtraDistanceInOrder) {
  auto reader = Open(BuildSplit(PhraseMapping(), kPhraseDocs));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick", "brown"}, 1)),
            (std::vector<uint32_t>{0, 1, 2, 5}));
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick", "brown"}, 2)),
            (std::vector<uint32_t>{0, 1, 2, 3, 5}));
  // In order only: "brown quick" does not match "quick brown" with a small slop.
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"brown", "quick"}, 0)), (std::vector<uint32_t>{5}));
  // The slop is a total over the phrase: quick _ brown _ ... needs 1 + 0.
  EXPECT_EQ(Matching(*reader, *Phrase("body", {"quick", "brown", "fox"}, 1)),
            (std::vector<uint32_t>{0, 1, 2}));
}

TEST(PhraseTest, ValuesOfAMultiValuedFieldAreApart) {
  auto reader = Open(BuildSplit(PhraseMapping(), kPhraseDocs));
  ASSERT_NE(reader, nullptr);
  auto docs = Matching(*reader, *Phrase("body", {"quick", "brown"}, 5));
  EXPECT_EQ(std::count(docs.begin(), docs.end(), 4u), 0);
}

TEST(PhraseTest, MultiTokenTermQueryIsAPhraseOnPositionsFields) {
  auto reader = Open(BuildSplit(PhraseMapping(), kPhraseDocs));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("body", std::string("quick brown"))),
            (std::vector<uint32_t>{0, 5}));
  // Without positions: all tokens (v1 behaviour), and phrase queries are refused.
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("title", std::string("quick brown"))),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Count(*reader, *Phrase("title", {"quick", "brown"})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(*reader, *Phrase("plain", {"quick", "brown"})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A one-term phrase is a term query, with or without positions.
  EXPECT_EQ(*Count(*reader, *Phrase("title", {"quick"})), 2u);
}

// ---- Tokenizers end to end: the reader tokenizes query text like the writer did ----

TEST(TokenizerSplitTest, StemmedCodeAndCjkFieldsMatchTheirQueries) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  FieldMapping stem = TextField("stem", IndexRecordOption::kPosition);
  stem.tokenizer = "en_stem";
  FieldMapping code = TextField("code", IndexRecordOption::kPosition);
  code.tokenizer = "source_code_default";
  FieldMapping zh = TextField("zh", IndexRecordOption::kPosition);
  zh.tokenizer = "chinese_compatible";
  mapping.field_mappings = {stem, code, zh};
  const std::vector<std::string> docs = {
      R"({"stem":"Connection refused while running","code":"NullPointerException at fooBar","zh":"数据库连接失败"})",
      R"({"stem":"connected nodes","code":"null pointer","zh":"连接成功"})",
      R"json({"stem":"the runner","code":"HTTPServer.start()","zh":"失败 retry"})json",
  };
  auto reader = Open(BuildSplit(mapping, docs));
  ASSERT_NE(reader, nullptr);
  // en_stem: "connections" / "connect" / "connected" share the stem "connect"; "runner" does not.
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("stem", std::string("connections"))),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("stem", std::string("runs"))),
            (std::vector<uint32_t>{0}));
  // source_code_default: identifiers split at case changes, so a phrase of parts matches.
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("code", std::string("pointer"))),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("code", std::string("null pointer exception"))),
            (std::vector<uint32_t>{0}));
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("code", std::string("http server"))),
            (std::vector<uint32_t>{2}));
  // chinese_compatible: every ideograph is a position, so a word is a phrase of characters.
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("zh", std::string("连接"))),
            (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("zh", std::string("失败"))),
            (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(Matching(*reader, *MakeTermQuery("zh", std::string("接连"))),
            (std::vector<uint32_t>{}));
}

// ---- BM25 ----

SplitSearchResult ByScore(const SplitReader& reader, const Query& query, uint32_t top_k = 100) {
  SplitSearchRequest request;
  request.top_k = top_k;
  request.sort_by = {SortField{"_score", SortOrder::kDesc}};
  auto result = reader.Search(query, request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : SplitSearchResult{};
}

const std::vector<std::string> kScoreDocs = {
    R"({"body":"error disk full"})",                                         // 0: short, tf 1
    R"({"body":"error error disk full"})",                                   // 1: tf 2
    R"({"body":"error in a very long message about nothing much at all"})",  // 2: long, tf 1
    R"({"body":"all good"})",                                                // 3
    R"({"body":"disk"})",                                                    // 4
};

TEST(Bm25Test, RanksByTermFrequencyAndFieldLength) {
  auto reader = Open(BuildSplit(PhraseMapping(), kScoreDocs));
  ASSERT_NE(reader, nullptr);
  SplitSearchResult result = ByScore(*reader, *MakeTermQuery("body", std::string("error")));
  ASSERT_EQ(result.num_hits, 3u);
  ASSERT_EQ(result.hits.size(), 3u);
  EXPECT_EQ(result.hits[0].doc_id, 1u);
  EXPECT_EQ(result.hits[1].doc_id, 0u);
  EXPECT_EQ(result.hits[2].doc_id, 2u);
  EXPECT_GT(result.hits[0].score, result.hits[1].score);
  EXPECT_GT(result.hits[1].score, result.hits[2].score);
  // The sort key is the order-preserving encoding of the score.
  EXPECT_GT(*result.hits[0].sort_keys[0], *result.hits[1].sort_keys[0]);

  // Doc 0 by hand: N=5, df=3, tf=1, |d|=3, avgdl=(3+4+11+2+1)/5.
  const double idf = std::log(1 + (5 - 3 + 0.5) / (3 + 0.5));
  const double avgdl = 21.0 / 5;
  const double expected = idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * 3 / avgdl));
  EXPECT_NEAR(result.hits[1].score, expected, 1e-4);
}

TEST(Bm25Test, BoolSumsScoredClausesAndBoostMultiplies) {
  auto reader = Open(BuildSplit(PhraseMapping(), kScoreDocs));
  ASSERT_NE(reader, nullptr);
  const float error0 = ByScore(*reader, *MakeTermQuery("body", std::string("error"))).hits[1].score;
  SplitSearchResult disk = ByScore(*reader, *MakeTermQuery("body", std::string("disk")));
  float disk0 = 0;
  for (const SplitHit& hit : disk.hits) {
    if (hit.doc_id == 0) disk0 = hit.score;
  }
  ASSERT_GT(disk0, 0);

  BoolQuery must_should;
  must_should.must.push_back(MakeTermQuery("body", std::string("error")));
  must_should.should.push_back(MakeTermQuery("body", std::string("disk")));
  SplitSearchResult both = ByScore(*reader, *Wrap(std::move(must_should)));
  EXPECT_EQ(both.num_hits, 3u);
  for (const SplitHit& hit : both.hits) {
    if (hit.doc_id == 0) {
      EXPECT_NEAR(hit.score, error0 + disk0, 1e-5);
    }
  }

  BoolQuery filtered;
  filtered.must.push_back(MakeTermQuery("body", std::string("error")));
  filtered.filter.push_back(MakeTermQuery("body", std::string("disk")));
  filtered.must_not.push_back(MakeTermQuery("body", std::string("nothing")));
  SplitSearchResult only_must = ByScore(*reader, *Wrap(std::move(filtered)));
  ASSERT_EQ(only_must.num_hits, 2u);
  for (const SplitHit& hit : only_must.hits) {
    if (hit.doc_id == 0) {
      EXPECT_NEAR(hit.score, error0, 1e-5);
    }
  }

  auto boosted = Wrap(TermQuery{"body", std::string("error")}, 3.0f);
  SplitSearchResult tripled = ByScore(*reader, *boosted);
  EXPECT_NEAR(tripled.hits[1].score, 3 * error0, 1e-5);
}

TEST(Bm25Test, PhraseAndConstantScoreQueries) {
  auto reader = Open(BuildSplit(PhraseMapping(), kScoreDocs));
  ASSERT_NE(reader, nullptr);
  SplitSearchResult phrase = ByScore(*reader, *Phrase("body", {"disk", "full"}));
  ASSERT_EQ(phrase.num_hits, 2u);
  EXPECT_EQ(phrase.hits[0].doc_id, 0u);  // shorter than doc 1
  EXPECT_GT(phrase.hits[0].score, phrase.hits[1].score);
  SplitSearchResult all = ByScore(*reader, *MakeAllQuery());
  ASSERT_EQ(all.hits.size(), 5u);
  for (const SplitHit& hit : all.hits) EXPECT_EQ(hit.score, 1.0f);
  EXPECT_EQ(all.hits[0].doc_id, 0u);  // ties by doc id
}

// ---- collector ----

TEST(CollectorTest, BoundedHeapMatchesFullSortAndStopsEarlyByDocId) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  std::vector<std::string> docs;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    docs.push_back(fmt::format(R"({{"n":{},"k":"w{}"}})", rng() % 500, rng() % 3));
  }
  auto reader = Open(BuildSplit(mapping, docs, 8 * 1024));
  ASSERT_NE(reader, nullptr);
  auto query = MakeTermQuery("k", std::string("w1"));
  SplitSearchRequest all_hits;
  all_hits.top_k = 3000;
  all_hits.sort_by = {SortField{"n", SortOrder::kDesc}, SortField{"_doc", SortOrder::kAsc}};
  auto everything = reader->Search(*query, all_hits);
  ASSERT_TRUE(everything.ok()) << everything.status();
  for (uint32_t top_k : {1u, 7u, 100u}) {
    SplitSearchRequest request = all_hits;
    request.top_k = top_k;
    auto top = reader->Search(*query, request);
    ASSERT_TRUE(top.ok());
    EXPECT_EQ(top->num_hits, everything->num_hits);
    ASSERT_EQ(top->hits.size(), top_k);
    for (uint32_t i = 0; i < top_k; ++i) {
      EXPECT_EQ(top->hits[i].doc_id, everything->hits[i].doc_id) << i;
    }
  }
  SplitSearchRequest by_doc;
  by_doc.top_k = 10;
  by_doc.sort_by = {SortField{"_doc", SortOrder::kAsc}};
  by_doc.count_all = false;
  auto early = reader->Search(*query, by_doc);
  ASSERT_TRUE(early.ok());
  EXPECT_GE(early->num_hits, 10u);
  EXPECT_LE(early->num_hits, everything->num_hits);
  ASSERT_EQ(early->hits.size(), 10u);
  by_doc.count_all = true;
  auto counted = reader->Search(*query, by_doc);
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(counted->num_hits, everything->num_hits);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(early->hits[i].doc_id, counted->hits[i].doc_id);

  by_doc.count_all = false;
  by_doc.sort_by = {SortField{"_doc", SortOrder::kDesc}};
  auto early_desc = reader->Search(*query, by_doc);
  by_doc.count_all = true;
  auto counted_desc = reader->Search(*query, by_doc);
  ASSERT_TRUE(early_desc.ok() && counted_desc.ok());
  EXPECT_GE(early_desc->num_hits, 10u);
  EXPECT_EQ(counted_desc->num_hits, everything->num_hits);
  ASSERT_EQ(early_desc->hits.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(early_desc->hits[i].doc_id, counted_desc->hits[i].doc_id);
    if (i > 0) {
      EXPECT_LT(early_desc->hits[i].doc_id, early_desc->hits[i - 1].doc_id);
    }
  }

  SplitSearchRequest three_keys = all_hits;
  three_keys.sort_by.push_back(SortField{"_score", SortOrder::kDesc});
  EXPECT_EQ(reader->Search(*query, three_keys).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- block postings and leapfrog intersection ----

TEST(IntersectionTest, RequiredTermClausesMatchBruteForce) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  std::vector<std::string> docs;
  std::vector<std::array<uint32_t, 3>> values;
  std::mt19937 rng(3);
  for (int i = 0; i < 20'000; ++i) {
    // a: dense (2 values), b: medium (10), c: sparse (400).
    std::array<uint32_t, 3> v = {static_cast<uint32_t>(rng() % 2),
                                 static_cast<uint32_t>(rng() % 10),
                                 static_cast<uint32_t>(rng() % 400)};
    values.push_back(v);
    docs.push_back(fmt::format(R"({{"a":{},"b":"b{}","c":{}}})", v[0], v[1], v[2]));
  }
  auto reader = Open(BuildSplit(mapping, docs, 64 * 1024));
  ASSERT_NE(reader, nullptr);
  for (uint32_t a = 0; a < 2; ++a) {
    for (uint32_t b : {0u, 3u}) {
      for (uint32_t c : {7u, 399u, 1000u}) {
        BoolQuery query;
        query.must.push_back(MakeTermQuery("a", uint64_t{a}));
        query.filter.push_back(MakeTermQuery("b", fmt::format("b{}", b)));
        query.must.push_back(MakeTermQuery("c", uint64_t{c}));
        auto expected =
            static_cast<uint64_t>(std::count_if(values.begin(), values.end(), [&](const auto& v) {
              return v[0] == a && v[1] == b && v[2] == c;
            }));
        auto count = Count(*reader, *Wrap(std::move(query)));
        ASSERT_TRUE(count.ok()) << count.status();
        EXPECT_EQ(*count, expected) << a << " " << b << " " << c;
      }
    }
  }
  BoolQuery dense;
  dense.filter.push_back(MakeTermQuery("a", uint64_t{1}));
  dense.filter.push_back(MakeTermQuery("b", std::string("b4")));
  auto expected = static_cast<uint64_t>(std::count_if(
      values.begin(), values.end(), [](const auto& v) { return v[0] == 1 && v[1] == 4; }));
  EXPECT_EQ(*Count(*reader, *Wrap(std::move(dense))), expected);
}

// The in-memory postings of the writer (chains of arena blocks of 4 to 256 values) hold every
// doc, term frequency and position: counts of terms and phrases over 3,000 random docs of a
// six-word vocabulary (posting lists of thousands of docs, many positions per doc, multi-valued
// fields) match a brute force, and equal-length titles score by their term frequency alone.
TEST(WriterPostingsTest, DocsFreqsAndPositionsMatchBruteForce) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(TextField("body", IndexRecordOption::kPosition));
  mapping.field_mappings.push_back(TextField("title", IndexRecordOption::kFreq, true));
  const std::vector<std::string> words = {"alpha", "beta", "gamma", "delta", "eps", "zeta"};
  std::mt19937 rng(11);
  std::vector<std::vector<std::vector<int>>> bodies;  // doc → values → word indexes
  std::vector<std::vector<int>> titles;
  std::vector<std::string> docs;
  for (int doc = 0; doc < 3'000; ++doc) {
    std::vector<std::vector<int>> values(1 + rng() % 2);
    std::string body_json;
    for (auto& value : values) {
      value.resize(1 + rng() % (doc % 7 == 0 ? 300 : 12));
      std::string text;
      // Skewed: word 0 is frequent, word 5 rare.
      for (int& word : value) {
        word = static_cast<int>(std::min<uint32_t>(rng() % 8, rng() % 8) * 6 / 8);
        text += (text.empty() ? "" : " ") + words[word];
      }
      body_json += (body_json.empty() ? "\"" : ",\"") + text + "\"";
    }
    std::vector<int> title(8);
    std::string title_text;
    for (int& word : title) {
      word = static_cast<int>(rng() % 3);
      title_text += (title_text.empty() ? "" : " ") + words[word];
    }
    docs.push_back(fmt::format(R"({{"body":[{}],"title":"{}"}})", body_json, title_text));
    bodies.push_back(std::move(values));
    titles.push_back(std::move(title));
  }
  auto reader = Open(BuildSplit(mapping, docs, 64 * 1024));
  ASSERT_NE(reader, nullptr);

  // Does `value` hold words a then b, at most `slop` positions apart (in order)?
  auto has_pair = [](const std::vector<int>& value, int a, int b, uint32_t slop) {
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] != a) continue;
      for (size_t j = i + 1; j < value.size() && j <= i + 1 + slop; ++j) {
        if (value[j] == b) return true;
      }
    }
    return false;
  };
  for (int a = 0; a < 6; ++a) {
    uint64_t expected = 0;
    for (const auto& values : bodies) {
      expected += std::any_of(values.begin(), values.end(), [&](const std::vector<int>& value) {
        return std::find(value.begin(), value.end(), a) != value.end();
      });
    }
    auto count = Count(*reader, *MakeTermQuery("body", words[a]));
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, expected) << words[a];
    for (int b = 0; b < 6; ++b) {
      for (uint32_t slop : {0u, 2u}) {
        expected = 0;
        for (const auto& values : bodies) {
          expected += std::any_of(values.begin(), values.end(), [&](const std::vector<int>& v) {
            return has_pair(v, a, b, slop);
          });
        }
        auto phrase = Count(*reader, *Phrase("body", {words[a], words[b]}, slop));
        ASSERT_TRUE(phrase.ok()) << phrase.status();
        EXPECT_EQ(*phrase, expected) << words[a] << " " << words[b] << " ~" << slop;
      }
    }
  }

  // Titles all hold 8 tokens: a doc's BM25 score for a word depends on its frequency only.
  for (int word = 0; word < 3; ++word) {
    SplitSearchResult result = ByScore(*reader, *MakeTermQuery("title", words[word]), 3'000);
    std::map<int, float> score_of_tf;
    uint64_t expected_hits = 0;
    for (const SplitHit& hit : result.hits) {
      const auto tf = static_cast<int>(
          std::count(titles[hit.doc_id].begin(), titles[hit.doc_id].end(), word));
      ASSERT_GT(tf, 0) << hit.doc_id;
      auto [it, inserted] = score_of_tf.emplace(tf, hit.score);
      if (!inserted) {
        EXPECT_FLOAT_EQ(it->second, hit.score) << "doc " << hit.doc_id << " tf " << tf;
      }
    }
    for (const auto& title : titles) {
      expected_hits += std::find(title.begin(), title.end(), word) != title.end();
    }
    EXPECT_EQ(result.hits.size(), expected_hits);
    ASSERT_GE(score_of_tf.size(), 4u);
    float previous = 0;
    for (const auto& [tf, score] : score_of_tf) {
      EXPECT_GT(score, previous) << "tf " << tf;
      previous = score;
    }
  }
}

// Thousands of distinct terms per field, of lengths on both sides of the writer's inline key
// limit (28 bytes), some differing only in their last letter: each term keeps its own postings
// (every doc list matches a brute force, so a term id mapped to another term's postings fails)
// and each value of a fast text field its own dictionary entry (a terms aggregation matches).
TEST(WriterPostingsTest, ManyDistinctTermsKeepTheirOwnPostings) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(TextField("body", IndexRecordOption::kBasic));
  FieldMapping key;
  key.name = "key";
  key.type = FieldType::kText;
  key.tokenizer = "raw";
  key.fast = true;
  mapping.field_mappings.push_back(key);
  std::mt19937 rng(17);
  auto random_word = [&](size_t length) {
    std::string word(length, 'a');
    for (char& letter : word) letter = static_cast<char>('a' + rng() % 26);
    return word;
  };
  std::vector<std::string> words;
  for (int i = 0; i < 12'000; ++i) {
    words.push_back(random_word(1 + rng() % 40));
    if (i % 50 == 0) {
      std::string sibling = words.back();
      sibling.back() = sibling.back() == 'z' ? 'a' : static_cast<char>(sibling.back() + 1);
      words.push_back(std::move(sibling));
    }
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 3'000; ++i) keys.push_back(fmt::format("{}-{}", random_word(rng() % 40), i));

  std::map<std::string, std::vector<uint32_t>> docs_of_word;
  std::map<std::string, uint64_t> docs_of_key;
  std::vector<std::string> docs;
  for (uint32_t doc = 0; doc < 6'000; ++doc) {
    std::string body;
    for (int token = 0; token < 12; ++token) {
      const std::string& word = words[rng() % words.size()];
      body += (body.empty() ? "" : " ") + word;
      auto& doc_ids = docs_of_word[word];
      if (doc_ids.empty() || doc_ids.back() != doc) doc_ids.push_back(doc);
    }
    const std::string& doc_key = keys[rng() % keys.size()];
    ++docs_of_key[doc_key];
    docs.push_back(fmt::format(R"({{"body":"{}","key":"{}"}})", body, doc_key));
  }
  auto reader = Open(BuildSplit(mapping, docs, 64 * 1024));
  ASSERT_NE(reader, nullptr);

  size_t checked = 0;
  for (const auto& [word, doc_ids] : docs_of_word) {
    if (checked++ % 5 != 0) continue;
    EXPECT_EQ(Matching(*reader, *MakeTermQuery("body", word)), doc_ids) << word;
  }
  for (size_t i = 0; i < words.size(); i += 97) {
    if (docs_of_word.contains(words[i])) continue;
    EXPECT_EQ(*Count(*reader, *MakeTermQuery("body", words[i])), 0u) << words[i];
  }
  for (size_t i = 0; i < keys.size(); i += 13) {
    auto it = docs_of_key.find(keys[i]);
    EXPECT_EQ(*Count(*reader, *MakeTermQuery("key", keys[i])),
              it == docs_of_key.end() ? 0 : it->second)
        << keys[i];
  }

  AggregationRequest request;
  AggregationSpec terms;
  terms.name = "keys";
  terms.kind = AggregationKind::kTerms;
  terms.field = "key";
  terms.size = 5'000;
  terms.shard_size = 5'000;
  request.aggregations.push_back(terms);
  auto aggs = reader->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(aggs.ok()) << aggs.status();
  ASSERT_EQ(aggs->size(), 1u);
  std::map<std::string, uint64_t> counted;
  for (const auto& [agg_key, bucket] : (*aggs)[0].terms) counted[agg_key.text] = bucket.doc_count;
  EXPECT_EQ(counted, docs_of_key);
}

// The postings arena is shared by every field: a dynamic mapping capturing many fields does
// not cost (nor count towards resources.heap_size) a page of postings per field.
TEST(WriterPostingsTest, ManyFieldsShareThePostingsPages) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  auto processor = DocProcessor::Create(mapping);
  ASSERT_TRUE(processor.ok()) << processor.status();
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(writer.ok()) << writer.status();
  constexpr int kNumFields = 1'000;
  std::string json = "{";
  for (int i = 0; i < kNumFields; ++i) {
    json += fmt::format(R"({}"f{}":{},"t{}":"word{}")", i == 0 ? "" : ",", i, i, i, i);
  }
  json += "}";
  auto doc = (*processor)->Process(json);
  ASSERT_TRUE(doc.ok()) << doc.status();
  (*writer)->AddDocument(*std::move(doc));
  // 2,000 indexed fields of one term each: a few KiB per field, not 256 KiB.
  EXPECT_LT((*writer)->memory_usage_bytes(), uint64_t{2 * kNumFields} * 8 * 1024);
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok()) << split.status();
  auto reader = Open(std::move(split->bytes));
  ASSERT_NE(reader, nullptr);
  for (int i : {0, kNumFields / 2, kNumFields - 1}) {
    EXPECT_EQ(*Count(*reader, *MakeTermQuery(fmt::format("f{}", i), int64_t{i})), 1u) << i;
    EXPECT_EQ(*Count(*reader, *MakeTermQuery(fmt::format("t{}", i), fmt::format("word{}", i))), 1u)
        << i;
  }
}

// The ingest pipelines add documents in batches, and the writer looks their tokens up in
// batches that run across values and documents: a split built from batches of 5 or 1,000
// documents is byte for byte the one built a document at a time, with the same tags. The
// corpus has positions, frequencies, field norms, values of 1 to 300 tokens (longer than a
// token batch), multi-valued and dynamic fields, a tag field, and words with a capital (the
// tokenizer lowercases them into its scratch, which the next word overwrites: the batch must
// hold a copy), whose counts match a brute force.
TEST(WriterPostingsTest, BatchesOfDocumentsBuildTheSameSplitAsOneByOne) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(TextField("body", IndexRecordOption::kPosition));
  mapping.field_mappings.push_back(TextField("title", IndexRecordOption::kFreq, true));
  FieldMapping level = TextField("level", IndexRecordOption::kBasic);
  level.tokenizer = "raw";
  mapping.field_mappings.push_back(level);
  FieldMapping tenant;
  tenant.name = "tenant";
  tenant.type = FieldType::kU64;
  mapping.field_mappings.push_back(tenant);
  mapping.tag_fields = {"level", "tenant"};
  std::mt19937 rng(5);
  std::vector<std::string> docs;
  std::vector<uint64_t> body_docs_of_word(7);  // docs whose body holds w<n> or W<n>, n < 7
  for (int doc = 0; doc < 2'000; ++doc) {
    std::vector<bool> in_body(7);
    const auto text = [&](size_t num_tokens, bool body_value = false) {
      std::string value;
      for (size_t i = 0; i < num_tokens; ++i) {
        const uint32_t word = rng() % (i % 3 == 0 ? 7 : 5'000);
        if (body_value && word < 7) in_body[word] = true;
        value += fmt::format("{}{}{}", value.empty() ? "" : " ", rng() % 3 == 0 ? "W" : "w", word);
      }
      return value;
    };
    std::string body = fmt::format("\"{}\"", text(1 + rng() % (doc % 11 == 0 ? 300 : 20), true));
    if (doc % 3 == 0) body = fmt::format("[{},\"{}\"]", body, text(1 + rng() % 40, true));
    for (size_t word = 0; word < 7; ++word) body_docs_of_word[word] += in_body[word];
    docs.push_back(
        fmt::format(R"({{"body":{},"title":"{} id{}","level":"L{}","tenant":{},"extra":"{}"}})",
                    body, text(1 + rng() % 9), doc, rng() % 4, doc % 150, text(rng() % 6)));
  }
  const SerializedSplit one_by_one = testing::BuildTestSplit(mapping, docs);
  ASSERT_EQ(one_by_one.num_docs, docs.size());
  EXPECT_EQ(one_by_one.tags.size(), 4u + 150u + 2u);  // the values, and "level!", "tenant!"
  // Every document's tokens are in, the last one's too.
  auto reader = Open(one_by_one.bytes);
  ASSERT_NE(reader, nullptr);
  for (int doc : {0, 1, 1'000, 1'999}) {
    EXPECT_EQ(*Count(*reader, *MakeTermQuery("title", fmt::format("id{}", doc))), 1u) << doc;
  }
  for (size_t word = 0; word < 7; ++word) {
    EXPECT_EQ(*Count(*reader, *MakeTermQuery("body", fmt::format("w{}", word))),
              body_docs_of_word[word])
        << word;
  }
  for (size_t docs_per_call : {5, 1'000}) {
    const SerializedSplit batched = testing::BuildTestSplit(mapping, docs, {}, docs_per_call);
    EXPECT_EQ(batched.num_docs, one_by_one.num_docs) << docs_per_call;
    EXPECT_EQ(batched.tags, one_by_one.tags) << docs_per_call;
    EXPECT_TRUE(batched.bytes == one_by_one.bytes) << docs_per_call << " documents per call";
  }
}

// ---- corruption ----

TEST(V2CorruptionTest, FlippedBytesNeverCrash) {
  std::string bytes = BuildSplit(PhraseMapping(), kPhraseDocs);
  ASSERT_FALSE(bytes.empty());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("corrupt", corrupt));
    if (!reader.ok()) {
      EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss) << reader.status();
      continue;
    }
    for (const QueryPtr& query :
         {Phrase("body", {"quick", "brown"}, 1), MakeTermQuery("body", std::string("fox"))}) {
      SplitSearchRequest request;
      request.sort_by = {SortField{"_score", SortOrder::kDesc}};
      auto result = (*reader)->Search(*query, request);
      if (!result.ok()) {
        EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
            << "byte " << i << ": " << result.status();
      }
    }
  }
}

}  // namespace
}  // namespace shale::index
