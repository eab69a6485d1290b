// Writer → reader round trips on generated documents whose expected answers the test computes
// itself, plus corruption robustness (runs under ASan + UBSan in Debug builds).

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/testing/field_builder.h"
#include "index/internal/processed_doc.h"
#include "index/split_format.h"

namespace shale::index {
namespace {

using ::testing::HasSubstr;

constexpr int kNumDocs = 3000;
constexpr int64_t kBaseSeconds = 1'700'000'000;

using ::shale::index::testing::Field;

DocMapping TestMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.field_mappings.push_back(Field("ts", FieldType::kDatetime, true));
  FieldMapping level = Field("level", FieldType::kText, true);
  level.tokenizer = "raw";
  mapping.field_mappings.push_back(level);
  FieldMapping body = Field("body", FieldType::kText);
  body.record = IndexRecordOption::kFreq;
  mapping.field_mappings.push_back(body);
  mapping.field_mappings.push_back(Field("status", FieldType::kI64, true));
  mapping.field_mappings.push_back(Field("latency", FieldType::kF64, true));
  mapping.field_mappings.push_back(Field("user", FieldType::kU64, false));
  mapping.timestamp_field = "ts";
  mapping.tag_fields = {"level"};
  return mapping;
}

// The generated corpus and what the test knows about each document.
struct GeneratedDoc {
  std::string json;
  int64_t ts_seconds = 0;
  std::string level;
  std::vector<std::string> words;
  int64_t status = 0;
  std::optional<double> latency;
  uint64_t user = 0;
  bool has_extra = false;
};

const char* const kLevels[] = {"info", "warn", "error", "debug"};
const char* const kWords[] = {"alpha", "beta", "gamma", "delta", "alphabet", "omega"};

std::vector<GeneratedDoc> Generate() {
  std::mt19937_64 rng(42);
  std::vector<GeneratedDoc> docs;
  docs.reserve(kNumDocs);
  for (int i = 0; i < kNumDocs; ++i) {
    GeneratedDoc doc;
    doc.ts_seconds = kBaseSeconds + static_cast<int64_t>(rng() % 10'000);
    doc.level = kLevels[rng() % 4];
    const int num_words = 1 + static_cast<int>(rng() % 3);
    std::string body;
    for (int w = 0; w < num_words; ++w) {
      doc.words.push_back(kWords[rng() % 6]);
      if (w > 0) body.append(" ");
      if (w == 0) body.append("Start-");
      body.append(doc.words.back());
    }
    doc.words.push_back("start");
    static constexpr int64_t kStatuses[] = {200, 201, 204, 404, 500, 503};
    doc.status = kStatuses[rng() % 6];
    if (rng() % 3 != 0) doc.latency = static_cast<double>(rng() % 3000) / 1000.0;
    doc.user = rng() % 50;
    doc.has_extra = rng() % 5 == 0;
    doc.json = fmt::format(R"({{"ts":{},"level":"{}","body":"{}","status":{},"user":{})",
                           doc.ts_seconds, doc.level, body, doc.status, doc.user);
    if (doc.latency.has_value()) doc.json += fmt::format(R"(,"latency":{})", *doc.latency);
    if (doc.has_extra) doc.json += fmt::format(R"(,"extra":{{"k":"v{}","n":{}}})", i % 7, i);
    doc.json += "}";
    docs.push_back(std::move(doc));
  }
  return docs;
}

bool HasWord(const GeneratedDoc& doc, const std::string& word) {
  return std::find(doc.words.begin(), doc.words.end(), word) != doc.words.end();
}

// A source that counts its reads.
class CountingSource final : public ByteRangeSource {
 public:
  explicit CountingSource(std::shared_ptr<ByteRangeSource> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    ++reads;
    return inner_->Read(offset, length);
  }
  uint64_t size() const override { return inner_->size(); }
  const std::string& name() const override { return inner_->name(); }
  mutable std::atomic<int> reads{0};

 private:
  std::shared_ptr<ByteRangeSource> inner_;
};

class SplitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    docs_ = new std::vector<GeneratedDoc>(Generate());
    auto processor = DocProcessor::Create(TestMapping());
    ASSERT_TRUE(processor.ok()) << processor.status();
    SplitWriterOptions options;
    options.docstore_blocksize = 16 * 1024;  // several doc store blocks
    auto writer = SplitWriter::Create(TestMapping(), options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    stored_ = new std::vector<std::string>();
    uint64_t previous_memory = 0;
    for (const GeneratedDoc& doc : *docs_) {
      auto processed = (*processor)->Process(doc.json);
      ASSERT_TRUE(processed.ok()) << processed.status() << " " << doc.json;
      (*writer)->AddDocument(*std::move(processed));
      if ((*writer)->num_docs() % 500 == 0) {
        EXPECT_GT((*writer)->memory_usage_bytes(), previous_memory);
        previous_memory = (*writer)->memory_usage_bytes();
      }
    }
    auto split = (*writer)->Finish();
    ASSERT_TRUE(split.ok()) << split.status();
    split_ = new SerializedSplit(*std::move(split));
  }
  static void TearDownTestSuite() {
    delete docs_;
    delete stored_;
    delete split_;
  }

  static std::unique_ptr<SplitReader> OpenReader() {
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("test-split", split_->bytes));
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? *std::move(reader) : nullptr;
  }

  static uint64_t Count(const SplitReader& reader, const Query& query) {
    SplitSearchRequest request;
    request.top_k = 0;
    auto result = reader.Search(query, request);
    EXPECT_TRUE(result.ok()) << result.status() << " " << DebugString(query);
    return result.ok() ? result->num_hits : UINT64_MAX;
  }

  template <typename Pred>
  static uint64_t Expected(Pred pred) {
    return static_cast<uint64_t>(std::count_if(docs_->begin(), docs_->end(), pred));
  }

  static std::vector<GeneratedDoc>* docs_;
  static std::vector<std::string>* stored_;
  static SerializedSplit* split_;
};

std::vector<GeneratedDoc>* SplitTest::docs_ = nullptr;
std::vector<std::string>* SplitTest::stored_ = nullptr;
SerializedSplit* SplitTest::split_ = nullptr;

QueryPtr Wrap(auto node) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  return query;
}

QueryPtr Range(std::string field, std::optional<TermValue> lower, bool lower_inclusive,
               std::optional<TermValue> upper, bool upper_inclusive) {
  return Wrap(RangeQuery{std::move(field), std::move(lower), lower_inclusive, std::move(upper),
                         upper_inclusive});
}

void ExpectTagValuesExactAndAtMost1000PerField(const std::vector<std::string>& tag_fields) {
  DocMapping mapping;
  mapping.field_mappings = {Field("host", FieldType::kText), Field("tenant", FieldType::kU64),
                            Field("delta", FieldType::kI64), Field("request", FieldType::kU64)};
  mapping.field_mappings[0].tokenizer = "raw";
  mapping.tag_fields = tag_fields;
  std::set<std::string> expected = {"host!", "tenant!", "delta!"};
  std::vector<std::string> docs;
  for (int i = 0; i < 1'500; ++i) {
    const std::string host = fmt::format("h{}", i % 3);
    const uint64_t tenant = (i % 5) * 4'000'000'000ull;  // beyond 32 bits
    const int64_t delta = i % 4 == 0 ? INT64_MIN + i % 7 : -(i % 7);
    docs.push_back(fmt::format(R"({{"host":"{}","tenant":{},"delta":{},"request":{}}})", host,
                               tenant, delta, i));
    expected.insert("host:" + host);
    expected.insert(fmt::format("tenant:{}", tenant));
    expected.insert(fmt::format("delta:{}", delta));
  }
  auto processor = DocProcessor::Create(mapping);
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(processor.ok()) << processor.status();
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const std::string& json : docs) {
    auto doc = (*processor)->Process(json);
    ASSERT_TRUE(doc.ok()) << doc.status() << " " << json;
    (*writer)->AddDocument(*std::move(doc));
  }
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->tags, expected);
}

// Tag values of text, u64 and i64 fields are their exact text and decimal forms, each listed
// once; a tag field with more than 1000 distinct values in the split lists none. A field listed
// twice in tag_fields is one tag field: the same tags (and still none past 1000 values).
TEST(SplitTagsTest, TagValuesAreExactAndAtMost1000PerField) {
  for (const std::vector<std::string>& tag_fields :
       {std::vector<std::string>{"host", "tenant", "delta", "request"},
        std::vector<std::string>{"request", "host", "tenant", "delta", "request", "host"}}) {
    SCOPED_TRACE(::testing::PrintToString(tag_fields));
    ExpectTagValuesExactAndAtMost1000PerField(tag_fields);
  }
}

TEST_F(SplitTest, Metadata) {
  EXPECT_EQ(split_->num_docs, static_cast<uint64_t>(kNumDocs));
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  uint64_t total = 0;
  for (const auto& doc : *docs_) {
    min_ts = std::min(min_ts, doc.ts_seconds);
    max_ts = std::max(max_ts, doc.ts_seconds);
    total += doc.json.size();
  }
  EXPECT_EQ(split_->time_range_start_nanos, min_ts * 1'000'000'000);
  EXPECT_EQ(split_->time_range_end_nanos, max_ts * 1'000'000'000);
  EXPECT_EQ(split_->uncompressed_docs_size_in_bytes, total);
  EXPECT_TRUE(split_->tags.contains("level!"));
  EXPECT_TRUE(split_->tags.contains("level:error"));
  EXPECT_FALSE(split_->tags.contains("level:fatal"));
  EXPECT_EQ(split_->footer_end, split_->bytes.size());
}

TEST_F(SplitTest, TermQueries) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->num_docs(), static_cast<uint64_t>(kNumDocs));
  EXPECT_EQ(Count(*reader, *MakeAllQuery()), static_cast<uint64_t>(kNumDocs));
  EXPECT_EQ(Count(*reader, *MakeEmptyQuery()), 0u);
  for (const char* level : kLevels) {
    EXPECT_EQ(Count(*reader, *MakeTermQuery("level", std::string(level))),
              Expected([&](const auto& d) { return d.level == level; }))
        << level;
  }
  for (const char* word : kWords) {
    EXPECT_EQ(Count(*reader, *MakeTermQuery("body", std::string(word))),
              Expected([&](const auto& d) { return HasWord(d, word); }));
  }
  // Multi-token user text: all tokens (no positions in v1).
  EXPECT_EQ(Count(*reader, *MakeTermQuery("body", std::string("Alpha BETA"))),
            Expected([](const auto& d) { return HasWord(d, "alpha") && HasWord(d, "beta"); }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("status", int64_t{500})),
            Expected([](const auto& d) { return d.status == 500; }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("status", std::string("404"))),
            Expected([](const auto& d) { return d.status == 404; }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("user", uint64_t{7})),
            Expected([](const auto& d) { return d.user == 7; }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("latency", 1.5)),
            Expected([](const auto& d) { return d.latency == 1.5; }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("extra.k", std::string("v3"))),
            Expected([](const auto& d) { return d.has_extra && (&d - docs_->data()) % 7 == 3; }));
  EXPECT_EQ(Count(*reader, *MakeTermQuery("no_such_field", std::string("x"))), 0u);
  const int64_t ts = (*docs_)[10].ts_seconds;
  EXPECT_EQ(Count(*reader, *MakeTermQuery("ts", ts * 1'000'000)),
            Expected([&](const auto& d) { return d.ts_seconds == ts; }));
}

TEST_F(SplitTest, InvalidValuesAndPhrases) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  SplitSearchRequest request;
  auto bad = reader->Search(*MakeTermQuery("status", std::string("abc")), request);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("`status`"));
  auto phrase = reader->Search(*Wrap(PhraseQuery{"body", {"alpha", "beta"}, 0}), request);
  EXPECT_EQ(phrase.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(phrase.status().message(), HasSubstr("field `body` has no positions indexed"));
}

TEST_F(SplitTest, RangeExistsPrefix) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Count(*reader, *Range("status", int64_t{200}, true, int64_t{299}, true)),
            Expected([](const auto& d) { return d.status >= 200 && d.status <= 299; }));
  EXPECT_EQ(Count(*reader, *Range("status", std::string("204"), false, std::nullopt, true)),
            Expected([](const auto& d) { return d.status > 204; }));
  EXPECT_EQ(Count(*reader, *Range("latency", 0.5, false, 1.5, true)), Expected([](const auto& d) {
              return d.latency && *d.latency > 0.5 && *d.latency <= 1.5;
            }));
  // `user` is not fast: the range runs on the term dictionary.
  EXPECT_EQ(Count(*reader, *Range("user", uint64_t{10}, true, int64_t{20}, false)),
            Expected([](const auto& d) { return d.user >= 10 && d.user < 20; }));
  EXPECT_EQ(Count(*reader, *Range("user", 9.5, true, std::nullopt, true)),
            Expected([](const auto& d) { return d.user >= 10; }));
  // Text range on the term dictionary.
  EXPECT_EQ(Count(*reader, *Range("level", std::string("error"), true, std::string("info"), false)),
            Expected([](const auto& d) { return d.level >= "error" && d.level < "info"; }));
  const int64_t mid = kBaseSeconds + 5000;
  EXPECT_EQ(
      Count(*reader, *Range("ts", std::string("2023-11-14T22:13:20Z"), true, std::nullopt, true)),
      Expected([](const auto& d) { return d.ts_seconds >= kBaseSeconds; }));
  EXPECT_EQ(Count(*reader, *Range("ts", mid * 1'000'000, true, std::nullopt, true)),
            Expected([&](const auto& d) { return d.ts_seconds >= mid; }));
  EXPECT_EQ(Count(*reader, *Wrap(ExistsQuery{"latency"})),
            Expected([](const auto& d) { return d.latency.has_value(); }));
  EXPECT_EQ(Count(*reader, *Wrap(ExistsQuery{"extra"})),
            Expected([](const auto& d) { return d.has_extra; }));
  EXPECT_EQ(Count(*reader, *Wrap(PrefixQuery{"body", "alph"})),
            Expected([](const auto& d) { return HasWord(d, "alpha") || HasWord(d, "alphabet"); }));
  EXPECT_EQ(Count(*reader, *Wrap(PrefixQuery{"body", "zz"})), 0u);
}

TEST_F(SplitTest, BoolQueries) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  BoolQuery query;
  query.must.push_back(MakeTermQuery("level", std::string("error")));
  query.must_not.push_back(MakeTermQuery("status", int64_t{500}));
  query.should.push_back(MakeTermQuery("body", std::string("alpha")));
  EXPECT_EQ(Count(*reader, *Wrap(std::move(query))),
            Expected([](const auto& d) { return d.level == "error" && d.status != 500; }));

  BoolQuery should_only;
  should_only.should.push_back(MakeTermQuery("body", std::string("alpha")));
  should_only.should.push_back(MakeTermQuery("body", std::string("beta")));
  should_only.should.push_back(MakeTermQuery("level", std::string("warn")));
  should_only.minimum_should_match = 2;
  EXPECT_EQ(Count(*reader, *Wrap(std::move(should_only))), Expected([](const auto& d) {
              return (HasWord(d, "alpha") ? 1 : 0) + (HasWord(d, "beta") ? 1 : 0) +
                         (d.level == "warn" ? 1 : 0) >=
                     2;
            }));

  BoolQuery or_query;
  or_query.should.push_back(MakeTermQuery("level", std::string("info")));
  or_query.should.push_back(MakeTermQuery("level", std::string("debug")));
  or_query.filter.push_back(Range("status", int64_t{400}, true, std::nullopt, true));
  or_query.minimum_should_match = 1;
  EXPECT_EQ(Count(*reader, *Wrap(std::move(or_query))), Expected([](const auto& d) {
              return (d.level == "info" || d.level == "debug") && d.status >= 400;
            }));

  BoolQuery not_only;
  not_only.must_not.push_back(MakeTermQuery("level", std::string("info")));
  EXPECT_EQ(Count(*reader, *Wrap(std::move(not_only))),
            Expected([](const auto& d) { return d.level != "info"; }));
}

TEST_F(SplitTest, TimeFilter) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  SplitSearchRequest request;
  request.start_timestamp_nanos = (kBaseSeconds + 2000) * 1'000'000'000;
  request.end_timestamp_nanos = (kBaseSeconds + 4000) * 1'000'000'000;
  auto result = reader->Search(*MakeTermQuery("level", std::string("warn")), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_hits, Expected([](const auto& d) {
              return d.level == "warn" && d.ts_seconds >= kBaseSeconds + 2000 &&
                     d.ts_seconds < kBaseSeconds + 4000;
            }));
}

TEST_F(SplitTest, DefaultSortIsTimestampDescending) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  SplitSearchRequest request;
  request.top_k = 50;
  auto result = reader->Search(*MakeAllQuery(), request);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->hits.size(), 50u);
  std::vector<std::pair<int64_t, uint32_t>> expected;
  for (uint32_t i = 0; i < docs_->size(); ++i) expected.emplace_back(-(*docs_)[i].ts_seconds, i);
  std::sort(expected.begin(), expected.end());
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(result->hits[i].doc_id, expected[i].second) << i;
}

TEST_F(SplitTest, SortByFastFieldWithMissingValuesLast) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
    SplitSearchRequest request;
    request.top_k = kNumDocs;
    request.sort_by = {SortField{"latency", order}, SortField{"_doc", SortOrder::kAsc}};
    auto result = reader->Search(*MakeAllQuery(), request);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->hits.size(), static_cast<size_t>(kNumDocs));
    std::vector<uint32_t> expected(kNumDocs);
    for (uint32_t i = 0; i < expected.size(); ++i) expected[i] = i;
    std::stable_sort(expected.begin(), expected.end(), [&](uint32_t a, uint32_t b) {
      const auto& la = (*docs_)[a].latency;
      const auto& lb = (*docs_)[b].latency;
      if (la.has_value() != lb.has_value()) return la.has_value();
      if (!la.has_value() || *la == *lb) return false;
      return order == SortOrder::kAsc ? *la < *lb : *la > *lb;
    });
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(result->hits[i].doc_id, expected[i]) << i;
    }
    EXPECT_FALSE(result->hits.back().sort_keys[0].has_value());
  }
  SplitSearchRequest by_doc;
  by_doc.top_k = 3;
  by_doc.sort_by = {SortField{"_doc", SortOrder::kDesc}};
  auto result = reader->Search(*MakeAllQuery(), by_doc);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->hits[0].doc_id, static_cast<uint32_t>(kNumDocs - 1));
}

TEST_F(SplitTest, FetchDocument) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  auto processor = DocProcessor::Create(TestMapping());
  ASSERT_TRUE(processor.ok());
  for (uint32_t doc_id : {0u, 1u, 777u, 1500u, static_cast<uint32_t>(kNumDocs - 1)}) {
    auto processed = (*processor)->Process((*docs_)[doc_id].json);
    ASSERT_TRUE(processed.ok());
    auto fetched = reader->FetchDocument(doc_id);
    ASSERT_TRUE(fetched.ok()) << fetched.status();
    EXPECT_EQ(*fetched, processed->impl().stored_json.view());
    EXPECT_THAT(*fetched, HasSubstr(R"("ts":")"));
  }
  EXPECT_EQ(reader->FetchDocument(kNumDocs).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SplitTest, OpenWithHotcacheReadsNothing) {
  auto source =
      std::make_shared<CountingSource>(NewMemoryByteRangeSource("test-split", split_->bytes));
  std::string hotcache =
      split_->bytes.substr(split_->footer_start, split_->footer_end - split_->footer_start);
  auto reader = SplitReader::Open(source, hotcache);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(source->reads.load(), 0);
  EXPECT_EQ(Count(**reader, *MakeTermQuery("level", std::string("info"))),
            Expected([](const auto& d) { return d.level == "info"; }));

  auto tail_source =
      std::make_shared<CountingSource>(NewMemoryByteRangeSource("test-split", split_->bytes));
  auto tail_reader = SplitReader::Open(tail_source);
  ASSERT_TRUE(tail_reader.ok()) << tail_reader.status();
  EXPECT_EQ(tail_source->reads.load(), 1);
}

TEST(SplitEdgeTest, EmptySplitAndNoTimestamp) {
  DocMapping mapping;
  mapping.field_mappings.push_back(Field("n", FieldType::kI64, true));
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(writer.ok());
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok()) << split.status();
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("empty", split->bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto result = (*reader)->Search(*MakeAllQuery(), SplitSearchRequest{});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->num_hits, 0u);
  EXPECT_FALSE(split->time_range_start_nanos.has_value());
}

// Every run must end in a correct answer or DataLoss: never a crash.
void CheckCorrupted(const std::string& bytes, std::optional<std::string> hotcache,
                    const std::map<std::string, uint64_t>& expected_counts, int& opened) {
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("corrupt", bytes), std::move(hotcache));
  if (!reader.ok()) {
    ASSERT_EQ(reader.status().code(), absl::StatusCode::kDataLoss) << reader.status();
    ASSERT_THAT(reader.status().message(), HasSubstr("split corrupt: "));
    return;
  }
  ++opened;
  std::vector<std::pair<std::string, QueryPtr>> queries;
  queries.emplace_back("level", MakeTermQuery("level", std::string("error")));
  queries.emplace_back("body", MakeTermQuery("body", std::string("gamma")));
  queries.emplace_back("status", Range("status", int64_t{300}, true, std::nullopt, true));
  queries.emplace_back("user", Range("user", uint64_t{25}, true, std::nullopt, true));
  queries.emplace_back("exists", Wrap(ExistsQuery{"latency"}));
  queries.emplace_back("prefix", Wrap(PrefixQuery{"body", "del"}));
  for (const auto& [name, query] : queries) {
    SplitSearchRequest request;
    request.top_k = 5;
    auto result = (*reader)->Search(*query, request);
    if (result.ok()) {
      ASSERT_EQ(result->num_hits, expected_counts.at(name)) << name;
    } else {
      ASSERT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
    }
  }
  for (uint32_t doc : {0u, 1234u, 2999u}) {
    auto fetched = (*reader)->FetchDocument(doc);
    if (!fetched.ok()) {
      ASSERT_EQ(fetched.status().code(), absl::StatusCode::kDataLoss) << fetched.status();
    }
  }
}

TEST_F(SplitTest, CorruptionNeverCrashes) {
  std::map<std::string, uint64_t> expected;
  expected["level"] = Expected([](const auto& d) { return d.level == "error"; });
  expected["body"] = Expected([](const auto& d) { return HasWord(d, "gamma"); });
  expected["status"] = Expected([](const auto& d) { return d.status >= 300; });
  expected["user"] = Expected([](const auto& d) { return d.user >= 25; });
  expected["exists"] = Expected([](const auto& d) { return d.latency.has_value(); });
  expected["prefix"] = Expected([](const auto& d) { return HasWord(d, "delta"); });
  const std::string& bytes = split_->bytes;
  const std::string hotcache =
      bytes.substr(split_->footer_start, split_->footer_end - split_->footer_start);
  std::mt19937_64 rng(7);
  int opened = 0;
  // Random flips anywhere, and more in the footer.
  for (int i = 0; i < 300; ++i) {
    std::string corrupted = bytes;
    const uint64_t position =
        i % 2 == 0 ? rng() % bytes.size() : split_->footer_start + rng() % hotcache.size();
    corrupted[position] = static_cast<char>(corrupted[position] ^ (1 + rng() % 255));
    CheckCorrupted(corrupted, std::nullopt, expected, opened);
    if (HasFailure()) return;
    // The same file opened with the good hotcache: section corruption is still detected.
    CheckCorrupted(corrupted, hotcache, expected, opened);
    if (HasFailure()) return;
  }
  // Truncations.
  for (int i = 0; i < 100; ++i) {
    const uint64_t length = i < 40 ? static_cast<uint64_t>(i) : rng() % bytes.size();
    CheckCorrupted(bytes.substr(0, length), std::nullopt, expected, opened);
    if (HasFailure()) return;
    CheckCorrupted(bytes.substr(0, length), hotcache, expected, opened);
    if (HasFailure()) return;
  }
  // Random garbage, and a corrupted hotcache.
  for (int i = 0; i < 50; ++i) {
    std::string garbage(static_cast<size_t>(rng() % 5000), '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    CheckCorrupted(garbage, std::nullopt, expected, opened);
    std::string bad_hotcache = hotcache;
    bad_hotcache[rng() % bad_hotcache.size()] ^= 0x40;
    CheckCorrupted(bytes, bad_hotcache, expected, opened);
    if (HasFailure()) return;
  }
  EXPECT_GT(opened, 100);
}

}  // namespace
}  // namespace shale::index

namespace shale::index {
namespace {

TEST(SplitEdgeTest, LargeFooterNeedsSecondTailRead) {
  DocMapping mapping;  // dynamic, no declared fields
  auto processor = DocProcessor::Create(mapping);
  ASSERT_TRUE(processor.ok());
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 2000; ++i) {
    auto doc = (*processor)
                   ->Process(fmt::format(
                       R"({{"field_with_a_long_name_{}":"value {}","shared":{}}})", i, i, i % 10));
    ASSERT_TRUE(doc.ok()) << doc.status();
    (*writer)->AddDocument(*std::move(doc));
  }
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok());
  ASSERT_GT(split->footer_end - split->footer_start, 64u * 1024u);
  auto source =
      std::make_shared<CountingSource>(NewMemoryByteRangeSource("big-footer", split->bytes));
  auto reader = SplitReader::Open(source);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(source->reads.load(), 2);
  SplitSearchRequest request;
  auto result = (*reader)->Search(
      *MakeTermQuery("field_with_a_long_name_1234", std::string("value 1234")), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_hits, 1u);
  ASSERT_EQ(result->hits.size(), 1u);
  EXPECT_EQ(result->hits[0].doc_id, 1234u);
  result = (*reader)->Search(*MakeTermQuery("shared", int64_t{3}), request);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->num_hits, 200u);
  auto fetched = (*reader)->FetchDocument(1234);
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(*fetched, R"({"field_with_a_long_name_1234":"value 1234","shared":4})");
}

TEST(SplitEdgeTest, PathWithSeveralTypes) {
  DocMapping mapping;
  auto processor = DocProcessor::Create(mapping);
  ASSERT_TRUE(processor.ok());
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(writer.ok());
  for (const char* json : {R"({"v":"abc"})", R"({"v":12})", R"({"v":"12"})", R"({"v":true})"}) {
    auto doc = (*processor)->Process(json);
    ASSERT_TRUE(doc.ok());
    (*writer)->AddDocument(*std::move(doc));
  }
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok());
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("multi", split->bytes));
  ASSERT_TRUE(reader.ok());
  SplitSearchRequest request;
  auto result = (*reader)->Search(*MakeTermQuery("v", std::string("12")), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_hits, 2u);  // the i64 12 and the text "12"
  result = (*reader)->Search(*MakeTermQuery("v", std::string("abc")), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_hits, 1u);
  result = (*reader)->Search(*MakeTermQuery("v", true), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_hits, 1u);
}

}  // namespace
}  // namespace shale::index
