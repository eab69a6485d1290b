// Golden split compatibility (tantivy `compat_tests`): every split under
// tests/compat/split_vN/ was written by the engine of format version N from a fixed doc set, next
// to a JSON file of the answers that engine gave. The current reader must open every golden split
// of every version and give the same answers.
//
// Regenerating: `SHALE_COMPAT_GENERATE=1 ./compat_test --gtest_filter=*Generate*` writes the
// splits of the CURRENT format version into tests/compat/split_v<current>/ (never overwrite an
// older version's directory: those files are the compatibility contract).

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "index/testing/field_builder.h"
#include "index/internal/datetime.h"
#include "index/internal/encoding.h"
#include "index/internal/split_layout.h"
#include "index/split_format.h"
#include "nlohmann/json.hpp"

namespace shale::index {
namespace {

namespace fs = std::filesystem;

QueryPtr Wrap(auto node, float boost = 1.0f) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  query->boost = boost;
  return query;
}

QueryPtr Range(std::string field, std::optional<TermValue> lower, std::optional<TermValue> upper,
               bool upper_inclusive = true) {
  return Wrap(
      RangeQuery{std::move(field), std::move(lower), true, std::move(upper), upper_inclusive});
}

// The `ts` of doc `i` of the fixed doc set, in nanoseconds: whole seconds, plus `i` nanoseconds
// in the docs of the nanosecond spec (format v3).
int64_t DocSeconds(int i) { return 1'700'000'000 + int64_t{i} * 17; }
int64_t DocNanos(int i, bool with_nanos) {
  return DocSeconds(i) * 1'000'000'000 + (with_nanos ? i : 0);
}
std::string DocTs(int i, bool with_nanos) {
  return internal::FormatRfc3339(DocNanos(i, with_nanos));
}

// The named queries asked of every golden split. Append only: names are keys in the JSON files.
std::vector<std::pair<std::string, std::function<QueryPtr()>>> CompatQueries() {
  std::vector<std::pair<std::string, std::function<QueryPtr()>>> queries;
  auto add = [&queries](std::string name, std::function<QueryPtr()> make) {
    queries.emplace_back(std::move(name), std::move(make));
  };
  add("all", [] { return MakeAllQuery(); });
  add("body_alpha", [] { return MakeTermQuery("body", std::string("alpha")); });
  add("body_alpha_beta", [] { return MakeTermQuery("body", std::string("Alpha beta")); });
  add("body_prefix_alph", [] { return Wrap(PrefixQuery{"body", "alph"}); });
  add("level_error", [] { return MakeTermQuery("level", std::string("error")); });
  add("status_500", [] { return MakeTermQuery("status", int64_t{500}); });
  add("status_400_500", [] { return Range("status", int64_t{400}, int64_t{500}, false); });
  add("latency_gt_1_5", [] { return Wrap(RangeQuery{"latency", 1.5, false, std::nullopt, true}); });
  add("user_7", [] { return MakeTermQuery("user", uint64_t{7}); });
  add("ok_true", [] { return MakeTermQuery("ok", true); });
  add("service_api", [] { return MakeTermQuery("resource.service", std::string("api")); });
  add("host_node", [] { return MakeTermQuery("resource.host", std::string("node")); });
  add("exists_resource", [] { return Wrap(ExistsQuery{"resource"}); });
  add("exists_extra_num", [] { return Wrap(ExistsQuery{"extra_num"}); });
  add("extra_tag_x", [] { return MakeTermQuery("extra_tag", std::string("x")); });
  add("extra_num_range", [] { return Range("extra_num", int64_t{10}, int64_t{30}); });
  add("ts_range", [] {
    return Range("ts", std::string("2023-11-14T22:13:40Z"), std::string("2023-11-14T22:20:00Z"));
  });
  add("bool_alpha_not_error", [] {
    BoolQuery query;
    query.must.push_back(MakeTermQuery("body", std::string("alpha")));
    query.must_not.push_back(MakeTermQuery("level", std::string("error")));
    return Wrap(std::move(query));
  });
  add("bool_should_2", [] {
    BoolQuery query;
    query.should.push_back(MakeTermQuery("body", std::string("alpha")));
    query.should.push_back(MakeTermQuery("body", std::string("gamma")));
    query.should.push_back(MakeTermQuery("level", std::string("warn")));
    query.minimum_should_match = 2;
    return Wrap(std::move(query));
  });
  // Added with format v2 (answers of older versions do not have them).
  add("phrase_body_request", [] {
    return Wrap(PhraseQuery{"phrase_body", {"alpha", "request"}, 0});
  });
  add("phrase_body_slop_2", [] {
    return Wrap(PhraseQuery{"phrase_body", {"beta", "request"}, 2});
  });
  add("phrase_body_term_text",
      [] { return MakeTermQuery("phrase_body", std::string("gamma alpha")); });
  // Added with format v3 (nanosecond datetimes); docs 410..420 belong to the `nanos` split.
  add("ts_term_nanos", [] { return MakeTermQuery("ts", DocTs(410, true)); });
  add("ts_range_nanos", [] {
    return Wrap(RangeQuery{"ts", internal::FormatRfc3339(DocNanos(410, true) + 1), true,
                           DocTs(420, true), true});
  });
  return queries;
}

// ---- the fixed doc set ----

using ::shale::index::testing::Field;

DocMapping MappingWithTimestamp() {
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
  mapping.field_mappings.push_back(Field("ok", FieldType::kBool, true));
  FieldMapping resource = Field("resource", FieldType::kObject);
  FieldMapping service = Field("service", FieldType::kText, true);
  service.tokenizer = "raw";
  resource.field_mappings.push_back(service);
  resource.field_mappings.push_back(Field("host", FieldType::kText));
  mapping.field_mappings.push_back(resource);
  mapping.timestamp_field = "ts";
  mapping.tag_fields = {"level"};
  return mapping;
}

// Format v2 features: a copy of the body with positions (and so field norms).
DocMapping MappingWithPositions() {
  DocMapping mapping = MappingWithTimestamp();
  FieldMapping phrase_body = Field("phrase_body", FieldType::kText);
  phrase_body.record = IndexRecordOption::kPosition;
  mapping.field_mappings.push_back(phrase_body);
  FieldMapping title = Field("title", FieldType::kText);
  title.fieldnorms = true;
  mapping.field_mappings.push_back(title);
  return mapping;
}

// No timestamp, basic records, no fast fields except dynamic ones.
DocMapping MappingWithoutTimestamp() {
  DocMapping mapping = MappingWithTimestamp();
  mapping.timestamp_field.reset();
  mapping.tag_fields.clear();
  for (FieldMapping& field : mapping.field_mappings) {
    if (field.name == "body") field.record = IndexRecordOption::kBasic;
    if (field.name == "status") field.fast = false;
  }
  return mapping;
}

std::vector<std::string> Docs(int first, int count, bool with_phrase_body = false,
                              bool with_nanos = false) {
  static const char* const kLevels[] = {"info", "warn", "error", "debug"};
  static const char* const kWords[] = {"alpha", "beta", "gamma", "delta", "alphabet", "omega"};
  static const char* const kServices[] = {"api", "db", "web"};
  static const int kStatuses[] = {200, 201, 404, 500, 503};
  std::vector<std::string> docs;
  uint64_t state = 0x5eed + static_cast<uint64_t>(first);
  auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  for (int i = first; i < first + count; ++i) {
    std::string body;
    const uint64_t num_words = 1 + next(5);
    for (uint64_t w = 0; w < num_words; ++w) {
      if (w > 0) body += ' ';
      body += kWords[next(6)];
    }
    std::string doc = fmt::format(
        R"({{"ts":{},"level":"{}","body":"{} request {}","status":{},"user":{},"ok":{})",
        with_nanos ? fmt::format("\"{}\"", DocTs(i, true)) : std::to_string(DocSeconds(i)),
        kLevels[next(4)], body, i, kStatuses[next(5)], next(10),
        next(2) == 0 ? "true" : "false");
    if (next(3) != 0)
      doc += fmt::format(R"(,"latency":{})", static_cast<double>(next(3000)) / 1000);
    if (next(2) == 0) {
      doc += fmt::format(R"(,"resource":{{"service":"{}","host":"Node-{} eu"}})",
                         kServices[next(3)], next(4));
    }
    if (next(4) == 0) doc += fmt::format(R"(,"extra_num":{})", i);
    if (next(5) == 0) doc += fmt::format(R"(,"extra_tag":"{}")", next(2) == 0 ? "x" : "y");
    if (with_phrase_body) {
      doc += fmt::format(R"(,"phrase_body":"{} request {}","title":"{}")", body, i, body);
    }
    doc += "}";
    docs.push_back(std::move(doc));
  }
  return docs;
}

struct GoldenSpec {
  std::string name;
  DocMapping mapping;
  int first_doc;
  int num_docs;
  uint32_t docstore_blocksize;
  bool with_phrase_body = false;
  bool with_nanos = false;
};

// Format v3: timestamps with nanoseconds, kept whole in the fast column.
DocMapping MappingWithNanosecondTimestamps() {
  DocMapping mapping = MappingWithPositions();
  for (FieldMapping& field : mapping.field_mappings) {
    if (field.name == "ts") field.fast_precision = DatetimePrecision::kNanoseconds;
  }
  return mapping;
}

// The splits written for the current version (v1 had the first three only, v2 the first four).
std::vector<GoldenSpec> GoldenSpecs() {
  return {
      {"ts_freq", MappingWithTimestamp(), 0, 60, 1024},
      {"no_ts_basic", MappingWithoutTimestamp(), 100, 40, 700},
      {"single_block", MappingWithTimestamp(), 200, 12, 1'000'000},
      {"positions", MappingWithPositions(), 300, 50, 2048, true},
      {"nanos", MappingWithNanosecondTimestamps(), 400, 50, 2048, true, true},
  };
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The answers of `reader` to every compat query, as the JSON recorded next to a golden split.
nlohmann::json Answers(const SplitReader& reader) {
  nlohmann::json answers;
  answers["num_docs"] = reader.num_docs();
  SplitSearchRequest count_request;
  count_request.top_k = 0;
  for (const auto& [name, make] : CompatQueries()) {
    auto result = reader.Search(*make(), count_request);
    answers["counts"][name] = result.ok() ? static_cast<int64_t>(result->num_hits) : -1;
  }
  SplitSearchRequest top_request;
  top_request.top_k = 3;
  auto top = reader.Search(*MakeAllQuery(), top_request);
  nlohmann::json top_docs = nlohmann::json::array();
  if (top.ok()) {
    for (const SplitHit& hit : top->hits) top_docs.push_back(hit.doc_id);
  }
  answers["top3_default_sort"] = top_docs;
  SplitSearchRequest filtered;
  filtered.top_k = 0;
  filtered.start_timestamp_nanos = int64_t{1'700'000'100} * 1'000'000'000;
  filtered.end_timestamp_nanos = int64_t{1'700'000'500} * 1'000'000'000;
  auto in_range = reader.Search(*MakeAllQuery(), filtered);
  answers["time_filtered_count"] = in_range.ok() ? static_cast<int64_t>(in_range->num_hits) : -1;
  auto phrase = reader.Search(*Wrap(PhraseQuery{"body", {"alpha", "beta"}, 0}), count_request);
  answers["body_phrase_status"] =
      phrase.ok() ? "ok" : absl::StatusCodeToString(phrase.status().code());
  const uint32_t fetched = static_cast<uint32_t>(reader.num_docs() / 2);
  auto doc = reader.FetchDocument(fetched);
  answers["fetched_doc_id"] = fetched;
  answers["fetched_doc"] = doc.ok() ? *doc : std::string("<error>");
  // Added with format v2.
  SplitSearchRequest by_score;
  by_score.top_k = 3;
  by_score.sort_by = {SortField{"_score", SortOrder::kDesc}};
  BoolQuery scored;
  scored.should.push_back(MakeTermQuery("body", std::string("alpha")));
  scored.should.push_back(MakeTermQuery("title", std::string("beta")));
  scored.should.push_back(Wrap(PhraseQuery{"phrase_body", {"alpha", "request"}, 0}, 2.0f));
  auto top_scored = reader.Search(*Wrap(std::move(scored)), by_score);
  nlohmann::json scored_docs = nlohmann::json::array();
  if (top_scored.ok()) {
    for (const SplitHit& hit : top_scored->hits) {
      scored_docs.push_back({hit.doc_id, static_cast<int64_t>(std::lround(hit.score * 1000))});
    }
  }
  answers["top3_by_score_milli"] = scored_docs;
  // Added with format v3: datetime sort keys are nanoseconds.
  SplitSearchRequest by_ts;
  by_ts.top_k = 3;
  by_ts.sort_by = {SortField{"ts", SortOrder::kDesc}};
  auto top_by_ts = reader.Search(*MakeAllQuery(), by_ts);
  nlohmann::json ts_docs = nlohmann::json::array();
  if (top_by_ts.ok()) {
    for (const SplitHit& hit : top_by_ts->hits) {
      const std::optional<uint64_t> key = hit.sort_keys.empty() ? std::nullopt : hit.sort_keys[0];
      ts_docs.push_back({hit.doc_id, key.has_value() ? internal::DecodeI64(*key) : -1});
    }
  }
  answers["top3_by_ts_desc_nanos"] = ts_docs;
  return answers;
}

TEST(CompatTest, GenerateGoldenSplits) {
  if (std::getenv("SHALE_COMPAT_GENERATE") == nullptr) {
    GTEST_SKIP() << "set SHALE_COMPAT_GENERATE=1 to write golden splits";
  }
  const fs::path dir =
      fs::path(SHALE_COMPAT_DIR) / fmt::format("split_v{}", internal::kSplitFormatVersion);
  fs::create_directories(dir);
  for (const GoldenSpec& spec : GoldenSpecs()) {
    auto processor = DocProcessor::Create(spec.mapping);
    ASSERT_TRUE(processor.ok()) << processor.status();
    SplitWriterOptions options;
    options.docstore_blocksize = spec.docstore_blocksize;
    auto writer = SplitWriter::Create(spec.mapping, options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const std::string& json :
         Docs(spec.first_doc, spec.num_docs, spec.with_phrase_body, spec.with_nanos)) {
      auto processed = (*processor)->Process(json);
      ASSERT_TRUE(processed.ok()) << processed.status() << " " << json;
      (*writer)->AddDocument(*std::move(processed));
    }
    auto split = (*writer)->Finish();
    ASSERT_TRUE(split.ok()) << split.status();
    auto reader = SplitReader::Open(NewMemoryByteRangeSource(spec.name, split->bytes));
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::ofstream(dir / (spec.name + ".split"), std::ios::binary) << split->bytes;
    nlohmann::json expected = Answers(**reader);
    expected["footer_start"] = split->footer_start;
    expected["footer_end"] = split->footer_end;
    std::ofstream(dir / (spec.name + ".json")) << expected.dump(2) << "\n";
  }
}

TEST(CompatTest, EveryGoldenSplitOpensAndAnswersAsRecorded) {
  const fs::path root(SHALE_COMPAT_DIR);
  ASSERT_TRUE(fs::is_directory(root)) << root;
  int num_checked = 0;
  for (const auto& version_dir : fs::directory_iterator(root)) {
    if (!version_dir.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(version_dir.path())) {
      if (file.path().extension() != ".split") continue;
      SCOPED_TRACE(file.path().string());
      fs::path json_path = file.path();
      json_path.replace_extension(".json");
      nlohmann::json expected = nlohmann::json::parse(ReadFile(json_path), nullptr, false);
      ASSERT_FALSE(expected.is_discarded()) << json_path;
      std::string bytes = ReadFile(file.path());
      const auto footer_start = expected["footer_start"].get<uint64_t>();
      const auto footer_end = expected["footer_end"].get<uint64_t>();
      ASSERT_EQ(footer_end, bytes.size());
      // Both ways of opening: reading the tail, and from the metastore's hotcache bytes.
      auto reader = SplitReader::Open(NewMemoryByteRangeSource(file.path().stem().string(), bytes));
      ASSERT_TRUE(reader.ok()) << reader.status();
      auto from_hotcache =
          SplitReader::Open(NewMemoryByteRangeSource(file.path().stem().string(), bytes),
                            bytes.substr(footer_start, footer_end - footer_start));
      ASSERT_TRUE(from_hotcache.ok()) << from_hotcache.status();
      nlohmann::json actual = Answers(**reader);
      // Answers added after a version was written are absent from its file.
      for (const auto& [key, value] : actual.items()) {
        if (!expected.contains(key)) continue;
        if (key == "counts") {
          for (const auto& [name, count] : expected["counts"].items()) {
            EXPECT_EQ(value[name], count) << "count of `" << name << "` changed";
          }
          continue;
        }
        EXPECT_EQ(value, expected[key]) << "answer `" << key << "` changed";
      }
      EXPECT_EQ(Answers(**from_hotcache), actual);
      ++num_checked;
    }
  }
  EXPECT_GE(num_checked, 3);
}

// Golden splits of format v1 and v2 hold datetimes in microseconds: the reader answers in
// nanoseconds (sort keys, time filter, ranges and terms at nanosecond boundaries), and a value
// that is not a whole microsecond matches nothing in their term dictionaries.
TEST(CompatTest, MicrosecondDatetimeSplitsAnswerInNanoseconds) {
  int num_checked = 0;
  for (const GoldenSpec& spec : GoldenSpecs()) {
    if (!spec.mapping.timestamp_field.has_value() || spec.with_nanos) continue;
    for (uint32_t version = 1; version < internal::kNanosecondDatetimesVersion; ++version) {
      const fs::path path = fs::path(SHALE_COMPAT_DIR) / fmt::format("split_v{}", version) /
                            (spec.name + ".split");
      if (!fs::exists(path)) continue;
      SCOPED_TRACE(path.string());
      auto reader = SplitReader::Open(NewMemoryByteRangeSource(spec.name, ReadFile(path)));
      ASSERT_TRUE(reader.ok()) << reader.status();
      auto count_of = [&reader](const Query& query, SplitSearchRequest request = {}) -> int64_t {
        request.top_k = 0;
        auto result = (*reader)->Search(query, request);
        return result.ok() ? static_cast<int64_t>(result->num_hits) : -1;
      };
      auto ts = [](int64_t nanos) { return internal::FormatRfc3339(nanos); };
      const int doc = spec.first_doc + spec.num_docs / 2;
      const int last_doc = spec.first_doc + spec.num_docs - 1;
      const int64_t nanos = DocNanos(doc, false);
      // Terms (the term dictionary of `ts`).
      EXPECT_EQ(count_of(*MakeTermQuery("ts", DocTs(doc, false))), 1);
      EXPECT_EQ(count_of(*MakeTermQuery("ts", DocSeconds(doc))), 1);  // unix seconds
      EXPECT_EQ(count_of(*MakeTermQuery("ts", ts(nanos + 1))), 0);
      EXPECT_EQ(count_of(*MakeTermQuery("ts", ts(nanos - 1000))), 0);
      TermSetQuery set{"ts", {TermValue(ts(nanos + 1)), TermValue(DocTs(doc, false))}};
      EXPECT_EQ(count_of(*Wrap(std::move(set))), 1);
      // Ranges (the fast column) at nanosecond boundaries.
      EXPECT_EQ(count_of(*Range("ts", ts(nanos), ts(nanos))), 1);
      EXPECT_EQ(count_of(*Wrap(RangeQuery{"ts", ts(nanos - 1), false, ts(nanos + 1), false})), 1);
      EXPECT_EQ(count_of(*Wrap(RangeQuery{"ts", ts(nanos), false, std::nullopt, true})),
                last_doc - doc);
      EXPECT_EQ(count_of(*Range("ts", ts(nanos + 1), ts(DocNanos(doc + 1, false) - 1))), 0);
      // The time filter.
      SplitSearchRequest filtered;
      filtered.start_timestamp_nanos = nanos;
      filtered.end_timestamp_nanos = nanos + 1;
      EXPECT_EQ(count_of(*MakeAllQuery(), filtered), 1);
      filtered.start_timestamp_nanos = nanos + 1;
      filtered.end_timestamp_nanos = DocNanos(doc + 1, false);
      EXPECT_EQ(count_of(*MakeAllQuery(), filtered), 0);
      // Sort keys.
      SplitSearchRequest by_ts;
      by_ts.top_k = 1;
      by_ts.sort_by = {SortField{"ts", SortOrder::kDesc}};
      auto top = (*reader)->Search(*MakeAllQuery(), by_ts);
      ASSERT_TRUE(top.ok()) << top.status();
      ASSERT_EQ(top->hits.size(), 1u);
      ASSERT_FALSE(top->hits[0].sort_keys.empty());
      EXPECT_EQ(top->hits[0].sort_keys[0], internal::EncodeI64(DocNanos(last_doc, false)));
      ++num_checked;
    }
  }
  EXPECT_GE(num_checked, 5);  // v1: ts_freq, single_block; v2: the same and positions
}

}  // namespace
}  // namespace shale::index
