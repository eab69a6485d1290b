// Document-at-a-time matching and scoring (internal/doc_scorers.h) against a brute force over
// random small splits: phrase queries with slop, term / phrase / bool trees with boosts, counts
// and top-k by `_score`. Posting lists span several 128-doc blocks and the rare terms lead, so a
// wrong skip (doc ids, or the position index of a skipped block) changes the answers.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "index/split_format.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

// Word i occurs with probability about kWordWeights[i] / total at each position: "w0" is in
// nearly every doc, several times, the last words in a few docs only.
constexpr int kWordWeights[] = {40, 20, 12, 8, 5, 3, 2, 1, 1};
constexpr int kNumWords = sizeof(kWordWeights) / sizeof(kWordWeights[0]);

std::string Word(int i) { return fmt::format("w{}", i); }

struct Corpus {
  std::vector<std::vector<std::string>> body;   // tokens per doc (positions are indexes)
  std::vector<std::vector<std::string>> title;  // tokens per doc
};

Corpus RandomCorpus(std::mt19937& rng, int num_docs) {
  std::discrete_distribution<int> word(std::begin(kWordWeights), std::end(kWordWeights));
  std::uniform_int_distribution<int> body_length(0, 24);
  std::uniform_int_distribution<int> title_length(0, 3);
  Corpus corpus;
  for (int d = 0; d < num_docs; ++d) {
    std::vector<std::string> body(static_cast<size_t>(body_length(rng)));
    for (std::string& token : body) token = Word(word(rng));
    std::vector<std::string> title(static_cast<size_t>(title_length(rng)));
    for (std::string& token : title) token = Word(word(rng));
    corpus.body.push_back(std::move(body));
    corpus.title.push_back(std::move(title));
  }
  return corpus;
}

std::string Join(const std::vector<std::string>& tokens) {
  std::string text;
  for (const std::string& token : tokens) {
    if (!text.empty()) text += ' ';
    text += token;
  }
  return text;
}

std::unique_ptr<SplitReader> BuildReader(const Corpus& corpus) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  FieldMapping body;
  body.name = "body";
  body.type = FieldType::kText;
  body.record = IndexRecordOption::kPosition;
  body.fieldnorms = true;
  FieldMapping title = body;
  title.name = "title";
  title.record = IndexRecordOption::kFreq;
  title.fieldnorms = false;
  mapping.field_mappings = {body, title};
  std::vector<std::string> docs;
  for (size_t d = 0; d < corpus.body.size(); ++d) {
    docs.push_back(fmt::format(R"({{"body": "{}", "title": "{}"}})", Join(corpus.body[d]),
                               Join(corpus.title[d])));
  }
  auto reader = SplitReader::Open(
      NewMemoryByteRangeSource("daat", testing::BuildTestSplit(mapping, docs).bytes));
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

// ---- brute force ----

// Whether `terms` occur in order in `tokens` with at most `slop` extra positions in total.
bool PhraseMatches(const std::vector<std::string>& tokens, const std::vector<std::string>& terms,
                   uint32_t slop) {
  // Smallest total gap of a chain of terms[i..] starting after position `previous`, or -1.
  auto best = [&](auto& self, size_t i, int previous, int budget) -> bool {
    if (i == terms.size()) return true;
    for (int p = previous + 1; p < static_cast<int>(tokens.size()); ++p) {
      const int gap = i == 0 ? 0 : p - previous - 1;
      if (gap > budget) break;
      if (tokens[static_cast<size_t>(p)] == terms[i] && self(self, i + 1, p, budget - gap)) {
        return true;
      }
    }
    return false;
  };
  return best(best, 0, -1, static_cast<int>(slop));
}

bool BruteMatches(const Query& query, const Corpus& corpus, size_t doc) {
  if (const auto* term = std::get_if<TermQuery>(&query.node)) {
    const auto& tokens = term->field == "body" ? corpus.body[doc] : corpus.title[doc];
    return std::find(tokens.begin(), tokens.end(), std::get<std::string>(term->value)) !=
           tokens.end();
  }
  if (const auto* phrase = std::get_if<PhraseQuery>(&query.node)) {
    return PhraseMatches(corpus.body[doc], phrase->terms, phrase->slop);
  }
  const auto& bool_query = std::get<BoolQuery>(query.node);
  for (const auto* clauses : {&bool_query.must, &bool_query.filter}) {
    for (const QueryPtr& clause : *clauses) {
      if (!BruteMatches(*clause, corpus, doc)) return false;
    }
  }
  for (const QueryPtr& clause : bool_query.must_not) {
    if (BruteMatches(*clause, corpus, doc)) return false;
  }
  const bool has_required = !bool_query.must.empty() || !bool_query.filter.empty();
  if (has_required) return true;
  for (const QueryPtr& clause : bool_query.should) {
    if (BruteMatches(*clause, corpus, doc)) return true;
  }
  return false;
}

// ---- random queries ----

QueryPtr RandomLeaf(std::mt19937& rng) {
  std::uniform_int_distribution<int> word(0, kNumWords - 1);
  auto query = std::make_unique<Query>();
  const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
  if (kind < 4) {
    query->node = TermQuery{kind == 0 ? "title" : "body", Word(word(rng))};
  } else {
    PhraseQuery phrase;
    phrase.field = "body";
    const int length = std::uniform_int_distribution<int>(2, 4)(rng);
    for (int i = 0; i < length; ++i) phrase.terms.push_back(Word(word(rng)));
    phrase.slop = static_cast<uint32_t>(std::uniform_int_distribution<int>(0, 3)(rng));
    query->node = std::move(phrase);
  }
  return query;
}

QueryPtr RandomQuery(std::mt19937& rng, int depth) {
  if (depth == 0 || std::uniform_int_distribution<int>(0, 2)(rng) == 0) return RandomLeaf(rng);
  std::uniform_int_distribution<int> count(0, 3);
  BoolQuery bool_query;
  auto add = [&](std::vector<QueryPtr>& clauses, int n) {
    for (int i = 0; i < n; ++i) clauses.push_back(RandomQuery(rng, depth - 1));
  };
  add(bool_query.must, count(rng) % 3);
  add(bool_query.filter, count(rng) % 2);
  add(bool_query.should, count(rng));
  add(bool_query.must_not, count(rng) % 2);
  if (bool_query.must.empty() && bool_query.filter.empty() && bool_query.should.empty()) {
    bool_query.should.push_back(RandomLeaf(rng));
  }
  auto query = std::make_unique<Query>();
  query->node = std::move(bool_query);
  const float boosts[] = {1.0f, 1.0f, 2.5f, 0.5f};
  query->boost = boosts[std::uniform_int_distribution<int>(0, 3)(rng)];
  return query;
}

SplitSearchResult TopByScore(const SplitReader& reader, const Query& query, uint32_t top_k,
                             bool count_all) {
  SplitSearchRequest request;
  request.top_k = top_k;
  request.count_all = count_all;
  request.sort_by = {SortField{"_score", SortOrder::kDesc}};
  auto result = reader.Search(query, request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : SplitSearchResult{};
}

TEST(DocAtATimeTest, RandomQueriesMatchBruteForceAndExhaustiveScoring) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    const Corpus corpus = RandomCorpus(rng, 300 + static_cast<int>(seed) * 250);
    std::unique_ptr<SplitReader> reader = BuildReader(corpus);
    ASSERT_NE(reader, nullptr);
    for (int q = 0; q < 150; ++q) {
      QueryPtr query = RandomQuery(rng, 2);
      SCOPED_TRACE(fmt::format("seed {} query {}", seed, q));
      uint64_t expected_count = 0;
      for (size_t doc = 0; doc < corpus.body.size(); ++doc) {
        expected_count += BruteMatches(*query, corpus, doc) ? 1 : 0;
      }
      SplitSearchRequest count;
      count.top_k = 0;
      auto counted = reader->Search(*query, count);
      ASSERT_TRUE(counted.ok()) << counted.status();
      ASSERT_EQ(counted->num_hits, expected_count);

      const uint32_t top_k = std::uniform_int_distribution<uint32_t>(1, 15)(rng);
      // count_all evaluates bitsets with a dense score per doc: the reference.
      const SplitSearchResult exhaustive = TopByScore(*reader, *query, top_k, true);
      const SplitSearchResult pruned = TopByScore(*reader, *query, top_k, false);
      ASSERT_EQ(exhaustive.num_hits, expected_count);
      ASSERT_LE(pruned.num_hits, expected_count);
      ASSERT_EQ(pruned.hits.size(), exhaustive.hits.size());
      ASSERT_EQ(exhaustive.hits.size(), std::min<uint64_t>(top_k, expected_count));
      for (size_t i = 0; i < pruned.hits.size(); ++i) {
        EXPECT_EQ(pruned.hits[i].doc_id, exhaustive.hits[i].doc_id) << "hit " << i;
        EXPECT_EQ(pruned.hits[i].score, exhaustive.hits[i].score) << "hit " << i;
        EXPECT_EQ(pruned.hits[i].sort_keys, exhaustive.hits[i].sort_keys) << "hit " << i;
        EXPECT_TRUE(BruteMatches(*query, corpus, pruned.hits[i].doc_id));
      }
    }
  }
}

// Unions prune with MaxScore once the heap is full: the best hits of a union of a frequent and
// a rare term, found without visiting every doc of the frequent one, are those of the
// exhaustive evaluation.
TEST(DocAtATimeTest, UnionOfFrequentAndRareTermsKeepsTheBestHits) {
  std::mt19937 rng(42);
  const Corpus corpus = RandomCorpus(rng, 3000);
  std::unique_ptr<SplitReader> reader = BuildReader(corpus);
  ASSERT_NE(reader, nullptr);
  BoolQuery bool_query;
  for (int word : {0, kNumWords - 1, kNumWords - 2}) {
    auto term = std::make_unique<Query>();
    term->node = TermQuery{"body", Word(word)};
    bool_query.should.push_back(std::move(term));
  }
  Query query;
  query.node = std::move(bool_query);
  uint64_t expected_count = 0;
  for (size_t doc = 0; doc < corpus.body.size(); ++doc) {
    expected_count += BruteMatches(query, corpus, doc) ? 1 : 0;
  }
  const SplitSearchResult exhaustive = TopByScore(*reader, query, 10, true);
  const SplitSearchResult pruned = TopByScore(*reader, query, 10, false);
  ASSERT_EQ(exhaustive.num_hits, expected_count);
  ASSERT_EQ(pruned.hits.size(), 10u);
  // The frequent term's clause stopped leading: fewer docs visited than match.
  EXPECT_LT(pruned.num_hits, expected_count);
  for (size_t i = 0; i < pruned.hits.size(); ++i) {
    EXPECT_EQ(pruned.hits[i].doc_id, exhaustive.hits[i].doc_id) << "hit " << i;
    EXPECT_EQ(pruned.hits[i].score, exhaustive.hits[i].score) << "hit " << i;
  }
}

}  // namespace
}  // namespace shale::index
