// MergeSplits: a merged split answers every query like the split built from all documents at
// once (property test over random documents), keeps tags, time ranges and counts exact, and
// refuses inputs that do not share a doc mapping.

#include "index/split_merger.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "index/internal/split_layout.h"
#include "index/split_format.h"
#include "index/testing/aggregation_spec.h"
#include "index/testing/field_builder.h"
#include "index/testing/log_corpus.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using testing::BuildTestSplit;
using testing::Field;
using testing::Spec;

QueryPtr Wrap(auto node) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  return query;
}

DocMapping MergeMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  FieldMapping timestamp = Field("ts", FieldType::kDatetime, /*fast=*/true);
  timestamp.fast_precision = DatetimePrecision::kMilliseconds;
  mapping.field_mappings.push_back(timestamp);
  FieldMapping body = Field("body", FieldType::kText);
  body.record = IndexRecordOption::kPosition;
  body.fieldnorms = true;
  mapping.field_mappings.push_back(body);
  FieldMapping title = Field("title", FieldType::kText);
  title.record = IndexRecordOption::kFreq;
  mapping.field_mappings.push_back(title);
  FieldMapping severity = Field("severity", FieldType::kText, /*fast=*/true);
  severity.tokenizer = "raw";
  mapping.field_mappings.push_back(severity);
  mapping.field_mappings.push_back(Field("tenant", FieldType::kU64, /*fast=*/true));
  mapping.field_mappings.push_back(Field("latency", FieldType::kF64, /*fast=*/true));
  mapping.field_mappings.push_back(Field("count", FieldType::kI64, /*fast=*/true));
  mapping.field_mappings.push_back(Field("ok", FieldType::kBool, /*fast=*/true));
  mapping.field_mappings.push_back(Field("code", FieldType::kI64));  // indexed, not fast
  mapping.timestamp_field = "ts";
  mapping.tag_fields = {"severity", "tenant"};
  return mapping;
}

const char* const kWords[] = {"error", "disk",    "full", "quick", "brown", "fox",     "node",
                              "block", "replica", "lost", "slow",  "query", "timeout", "ok"};

std::string RandomText(std::mt19937_64& rng, int max_words) {
  std::uniform_int_distribution<int> length(0, max_words);
  std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
  std::string text;
  const int n = length(rng);
  for (int i = 0; i < n; ++i) {
    if (i > 0) text += ' ';
    text += kWords[word(rng)];
  }
  return text;
}

// A random document: every field optional, some multi-valued, dynamic fields of several types.
std::string RandomDoc(std::mt19937_64& rng, int num_severities) {
  std::uniform_int_distribution<int> coin(0, 3);
  std::vector<std::string> parts;
  parts.push_back(fmt::format("\"ts\": {}", 1'700'000'000 + static_cast<int64_t>(rng() % 100'000)));
  if (coin(rng) != 0) {
    if (coin(rng) == 0) {
      parts.push_back(
          fmt::format("\"body\": [\"{}\", \"{}\"]", RandomText(rng, 6), RandomText(rng, 6)));
    } else {
      parts.push_back(fmt::format("\"body\": \"{}\"", RandomText(rng, 12)));
    }
  }
  if (coin(rng) != 0) parts.push_back(fmt::format("\"title\": \"{}\"", RandomText(rng, 4)));
  if (coin(rng) != 0) {
    parts.push_back(fmt::format("\"severity\": \"sev{}\"", rng() % num_severities));
  }
  if (coin(rng) != 0) parts.push_back(fmt::format("\"tenant\": {}", rng() % 7));
  if (coin(rng) != 0) {
    parts.push_back(fmt::format("\"latency\": {}", static_cast<double>(rng() % 10'000) / 8.0));
  }
  if (coin(rng) == 0) {
    parts.push_back(fmt::format("\"count\": [{}, {}, {}]", static_cast<int64_t>(rng() % 50) - 25,
                                static_cast<int64_t>(rng() % 50) - 25,
                                static_cast<int64_t>(rng() % 50) - 25));
  } else if (coin(rng) != 0) {
    parts.push_back(fmt::format("\"count\": {}", static_cast<int64_t>(rng() % 1000) * 3 - 1500));
  }
  if (coin(rng) != 0) parts.push_back(fmt::format("\"ok\": {}", coin(rng) < 2 ? "true" : "false"));
  if (coin(rng) != 0) parts.push_back(fmt::format("\"code\": {}", rng() % 5));
  if (coin(rng) == 0) parts.push_back(fmt::format("\"dyn_text\": \"v{}\"", rng() % 9));
  if (coin(rng) == 0) parts.push_back(fmt::format("\"dyn_num\": {}", rng() % 9));
  if (coin(rng) == 0) parts.push_back(fmt::format("\"mixed\": {}", rng() % 3));
  if (coin(rng) == 0) parts.push_back(fmt::format("\"mixed\": \"m{}\"", rng() % 3));
  std::string doc = "{";
  for (size_t i = 0; i < parts.size(); ++i) doc += (i > 0 ? ", " : "") + parts[i];
  return doc + "}";
}

std::vector<std::string> RandomDocs(uint64_t seed, int count) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> docs;
  for (int i = 0; i < count; ++i) docs.push_back(RandomDoc(rng, 3));
  return docs;
}

MergeInput InputOf(const SerializedSplit& split, const std::string& name) {
  MergeInput input;
  input.source = NewMemoryByteRangeSource(name, split.bytes);
  input.hotcache = split.bytes.substr(split.footer_start, split.footer_end - split.footer_start);
  input.uncompressed_docs_size_in_bytes = split.uncompressed_docs_size_in_bytes;
  input.time_range_start_nanos = split.time_range_start_nanos;
  input.time_range_end_nanos = split.time_range_end_nanos;
  input.tags = split.tags;
  return input;
}

std::unique_ptr<SplitReader> Open(const SerializedSplit& split, const std::string& name) {
  auto reader = SplitReader::Open(NewMemoryByteRangeSource(name, split.bytes));
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

// The hits of `query` under `sort_by` as "doc:keys:score" lines (scores rounded, so a BM25
// difference beyond float noise shows).
std::string Hits(const SplitReader& reader, const Query& query, std::vector<SortField> sort_by) {
  SplitSearchRequest request;
  request.top_k = static_cast<uint32_t>(reader.num_docs());
  request.sort_by = std::move(sort_by);
  auto result = reader.Search(query, request);
  if (!result.ok()) return result.status().ToString();
  std::string out = fmt::format("num_hits={}\n", result->num_hits);
  for (const SplitHit& hit : result->hits) {
    out += fmt::format("{}:", hit.doc_id);
    for (const auto& key : hit.sort_keys) out += key.has_value() ? fmt::format("{},", *key) : "-,";
    out += fmt::format("{:.4f}\n", hit.score);
  }
  return out;
}

std::string Aggs(const SplitReader& reader, const Query& query) {
  AggregationRequest request;
  AggregationSpec terms = Spec("by_severity", AggregationKind::kTerms, "severity");
  terms.sub_aggregations.push_back(Spec("latency", AggregationKind::kStats, "latency"));
  request.aggregations.push_back(terms);
  AggregationSpec histogram = Spec("per_hour", AggregationKind::kDateHistogram, "ts");
  histogram.date_interval.fixed_interval_millis = 3'600'000;
  request.aggregations.push_back(histogram);
  request.aggregations.push_back(Spec("counts", AggregationKind::kTerms, "count"));
  AggregationSpec range = Spec("tenants", AggregationKind::kRange, "tenant");
  range.ranges = {{std::nullopt, 3.0, std::nullopt}, {3.0, std::nullopt, std::nullopt}};
  request.aggregations.push_back(range);
  request.aggregations.push_back(Spec("dyn", AggregationKind::kTerms, "dyn_text"));
  auto result = reader.Aggregate(query, SplitSearchRequest{}, request);
  if (!result.ok()) return result.status().ToString();
  std::string out;
  testing::AppendAggs(*result, out);
  return out;
}

std::vector<QueryPtr> TestQueries() {
  std::vector<QueryPtr> queries;
  queries.push_back(MakeAllQuery());
  queries.push_back(MakeTermQuery("body", std::string("error")));
  queries.push_back(MakeTermQuery("body", std::string("quick brown")));  // a phrase
  queries.push_back(Wrap(PhraseQuery{"body", {"disk", "full"}, 0}));
  queries.push_back(Wrap(PhraseQuery{"body", {"node", "lost"}, 2}));
  queries.push_back(MakeTermQuery("title", std::string("slow")));
  queries.push_back(MakeTermQuery("severity", std::string("sev1")));
  queries.push_back(MakeTermQuery("tenant", uint64_t{3}));
  queries.push_back(MakeTermQuery("count", int64_t{-3}));
  queries.push_back(MakeTermQuery("ok", true));
  queries.push_back(MakeTermQuery("code", int64_t{2}));
  queries.push_back(MakeTermQuery("dyn_text", std::string("v4")));
  queries.push_back(MakeTermQuery("mixed", std::string("m1")));
  queries.push_back(MakeTermQuery("mixed", int64_t{1}));
  queries.push_back(Wrap(RangeQuery{"latency", 100.0, true, 500.0, false}));
  queries.push_back(Wrap(RangeQuery{"count", int64_t{-10}, true, int64_t{10}, true}));
  queries.push_back(Wrap(RangeQuery{"code", int64_t{1}, false, std::nullopt, true}));
  queries.push_back(Wrap(RangeQuery{"ts", std::string("1700050000"), true, std::nullopt, true}));
  queries.push_back(Wrap(RangeQuery{"severity", std::string("sev2"), true, std::nullopt, true}));
  queries.push_back(Wrap(PrefixQuery{"body", "rep"}));
  queries.push_back(Wrap(ExistsQuery{"title"}));
  queries.push_back(Wrap(ExistsQuery{"count"}));
  queries.push_back(Wrap(ExistsQuery{"dyn_num"}));
  BoolQuery scored;
  scored.must.push_back(MakeTermQuery("body", std::string("error")));
  scored.should.push_back(MakeTermQuery("body", std::string("disk")));
  scored.should.push_back(MakeTermQuery("title", std::string("quick")));
  scored.must_not.push_back(MakeTermQuery("ok", false));
  queries.push_back(Wrap(std::move(scored)));
  BoolQuery filtered;
  filtered.filter.push_back(MakeTermQuery("severity", std::string("sev0")));
  filtered.filter.push_back(MakeTermQuery("body", std::string("node")));
  queries.push_back(Wrap(std::move(filtered)));
  return queries;
}

const std::vector<std::vector<SortField>>& TestSorts() {
  static const std::vector<std::vector<SortField>> sorts = {
      {{"_doc", SortOrder::kAsc}},
      {{"_score", SortOrder::kDesc}},
      {},  // timestamp descending
      {{"latency", SortOrder::kAsc}, {"_doc", SortOrder::kDesc}},
      {{"severity", SortOrder::kDesc}, {"count", SortOrder::kAsc}},
  };
  return sorts;
}

// Compares every query, sort, aggregation and stored doc of `merged` with `single`.
void ExpectSameAnswers(const SplitReader& single, const SplitReader& merged) {
  ASSERT_EQ(single.num_docs(), merged.num_docs());
  for (const QueryPtr& query : TestQueries()) {
    for (const std::vector<SortField>& sort : TestSorts()) {
      EXPECT_EQ(Hits(single, *query, sort), Hits(merged, *query, sort))
          << DebugString(*query) << " sorted by " << (sort.empty() ? "default" : sort[0].field);
    }
    EXPECT_EQ(Aggs(single, *query), Aggs(merged, *query)) << DebugString(*query);
  }
  for (uint32_t doc = 0; doc < single.num_docs(); ++doc) {
    auto expected = single.FetchDocument(doc);
    auto actual = merged.FetchDocument(doc);
    ASSERT_TRUE(expected.ok() && actual.ok()) << doc;
    EXPECT_EQ(*expected, *actual) << doc;
  }
}

// Both splits hold the same sections byte for byte (same names, versions, lengths, checksums)
// except the doc store, whose blocks may be cut elsewhere (ExpectSameAnswers compares the docs),
// and the same hotcache fields.
void ExpectSameSectionsExceptDocStore(const SerializedSplit& merged,
                                      const SerializedSplit& single) {
  auto parse = [](const SerializedSplit& split) {
    std::string_view footer(split.bytes);
    auto parsed = internal::ParseFooter(footer.substr(split.footer_start), split.bytes.size(),
                                        "split", nullptr);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? *std::move(parsed) : internal::Footer{};
  };
  const internal::Footer a = parse(merged);
  const internal::Footer b = parse(single);
  ASSERT_EQ(a.sections.size(), b.sections.size());
  for (size_t i = 0; i < a.sections.size(); ++i) {
    EXPECT_EQ(a.sections[i].name, b.sections[i].name);
    if (a.sections[i].name == "docstore") continue;
    EXPECT_EQ(a.sections[i].version, b.sections[i].version) << a.sections[i].name;
    EXPECT_EQ(a.sections[i].offset, b.sections[i].offset) << a.sections[i].name;
    EXPECT_EQ(a.sections[i].length, b.sections[i].length) << a.sections[i].name;
    EXPECT_EQ(a.sections[i].checksum, b.sections[i].checksum) << a.sections[i].name;
  }
  ASSERT_EQ(a.hotcache.fields.size(), b.hotcache.fields.size());
  for (size_t i = 0; i < a.hotcache.fields.size(); ++i) {
    const internal::FieldEntry& x = a.hotcache.fields[i];
    const internal::FieldEntry& y = b.hotcache.fields[i];
    EXPECT_EQ(std::tie(x.path, x.type, x.indexed, x.fast, x.record_freq, x.record_positions,
                       x.has_fieldnorms, x.tokenizer, x.num_terms, x.field_doc_count,
                       x.total_tokens, x.column.num_values, x.column.min_value, x.column.gcd,
                       x.column.value_bit_width, x.column.single_valued),
              std::tie(y.path, y.type, y.indexed, y.fast, y.record_freq, y.record_positions,
                       y.has_fieldnorms, y.tokenizer, y.num_terms, y.field_doc_count,
                       y.total_tokens, y.column.num_values, y.column.min_value, y.column.gcd,
                       y.column.value_bit_width, y.column.single_valued))
        << x.path;
  }
  EXPECT_EQ(a.hotcache.num_docs, b.hotcache.num_docs);
}

struct PropertyCase {
  uint64_t seed;
  int num_batches;
  int max_batch_docs;
  uint32_t docstore_blocksize;
  int num_severities;
};

class MergePropertyTest : public ::testing::TestWithParam<PropertyCase> {};

TEST_P(MergePropertyTest, MergedSplitAnswersLikeOneSplitOfAllDocs) {
  const PropertyCase& param = GetParam();
  std::mt19937_64 rng(param.seed);
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  options.docstore_blocksize = param.docstore_blocksize;
  std::vector<std::string> all_docs;
  std::vector<SerializedSplit> batches;
  std::vector<MergeInput> inputs;
  std::uniform_int_distribution<int> batch_size(1, param.max_batch_docs);
  for (int b = 0; b < param.num_batches; ++b) {
    std::vector<std::string> docs;
    const int n = batch_size(rng);
    for (int i = 0; i < n; ++i) docs.push_back(RandomDoc(rng, param.num_severities));
    all_docs.insert(all_docs.end(), docs.begin(), docs.end());
    batches.push_back(BuildTestSplit(mapping, docs, options));
    inputs.push_back(InputOf(batches.back(), fmt::format("batch-{}", b)));
  }
  const SerializedSplit single = BuildTestSplit(mapping, all_docs, options);
  absl::StatusOr<SerializedSplit> merged = MergeSplits(mapping, inputs, options);
  ASSERT_TRUE(merged.ok()) << merged.status();

  EXPECT_EQ(merged->num_docs, all_docs.size());
  EXPECT_EQ(merged->num_docs, single.num_docs);
  EXPECT_EQ(merged->uncompressed_docs_size_in_bytes, single.uncompressed_docs_size_in_bytes);
  EXPECT_EQ(merged->time_range_start_nanos, single.time_range_start_nanos);
  EXPECT_EQ(merged->time_range_end_nanos, single.time_range_end_nanos);
  EXPECT_EQ(merged->tags, single.tags);
  // Same mapping and options: the sections SplitWriter builds from all the documents.
  ExpectSameSectionsExceptDocStore(*merged, single);

  auto single_reader = Open(single, "single");
  auto merged_reader = Open(*merged, "merged");
  ASSERT_NE(single_reader, nullptr);
  ASSERT_NE(merged_reader, nullptr);
  ExpectSameAnswers(*single_reader, *merged_reader);
  // Opening with the footer bytes the metastore records works as for written splits.
  auto with_hotcache = SplitReader::Open(
      NewMemoryByteRangeSource("merged", merged->bytes),
      merged->bytes.substr(merged->footer_start, merged->footer_end - merged->footer_start));
  EXPECT_TRUE(with_hotcache.ok()) << with_hotcache.status();
}

INSTANTIATE_TEST_SUITE_P(
    RandomBatches, MergePropertyTest,
    ::testing::Values(PropertyCase{1, 3, 40, 1'000'000, 4},  // one doc store block per split
                      PropertyCase{2, 5, 200, 700, 6},       // many blocks, big ones copied
                      PropertyCase{3, 2, 1, 300, 2},         // one-doc splits
                      PropertyCase{4, 12, 300, 2'000, 30},   // many inputs, 129+ doc postings
                      PropertyCase{5, 4, 400, 50, 3}));      // blocks of one doc

TEST(MergeSplitsTest, MergeOfMergedSplitsEqualsOneMerge) {
  std::mt19937_64 rng(11);
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  options.docstore_blocksize = 900;
  std::vector<MergeInput> inputs;
  std::vector<SerializedSplit> splits;
  std::vector<std::string> all_docs;
  for (int b = 0; b < 6; ++b) {
    std::vector<std::string> docs;
    for (int i = 0; i < 30 + b; ++i) docs.push_back(RandomDoc(rng, 5));
    all_docs.insert(all_docs.end(), docs.begin(), docs.end());
    splits.push_back(BuildTestSplit(mapping, docs, options));
  }
  for (size_t i = 0; i < splits.size(); ++i) {
    inputs.push_back(InputOf(splits[i], fmt::format("s{}", i)));
  }
  auto first = MergeSplits(mapping, {inputs[0], inputs[1], inputs[2]}, options);
  auto second = MergeSplits(mapping, {inputs[3], inputs[4], inputs[5]}, options);
  ASSERT_TRUE(first.ok() && second.ok());
  auto both = MergeSplits(mapping, {InputOf(*first, "m1"), InputOf(*second, "m2")}, options);
  ASSERT_TRUE(both.ok()) << both.status();
  const SerializedSplit single = BuildTestSplit(mapping, all_docs, options);
  ExpectSameSectionsExceptDocStore(*both, single);
  auto both_reader = Open(*both, "both");
  auto single_reader = Open(single, "single");
  ASSERT_NE(both_reader, nullptr);
  ASSERT_NE(single_reader, nullptr);
  ExpectSameAnswers(*single_reader, *both_reader);
  EXPECT_EQ(both->tags, single.tags);
  EXPECT_EQ(both->num_docs, single.num_docs);
}

TEST(MergeSplitsTest, TagFieldWithTooManyValuesAfterMergeIsDropped) {
  DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  std::vector<std::string> first_docs;
  std::vector<std::string> second_docs;
  for (int i = 0; i < 600; ++i) {
    first_docs.push_back(fmt::format(R"({{"ts": 1700000000, "severity": "a{}", "tenant": 1}})", i));
    second_docs.push_back(
        fmt::format(R"({{"ts": 1700000001, "severity": "b{}", "tenant": 2}})", i));
  }
  const SerializedSplit first = BuildTestSplit(mapping, first_docs, options);
  const SerializedSplit second = BuildTestSplit(mapping, second_docs, options);
  ASSERT_TRUE(first.tags.contains("severity!"));
  ASSERT_TRUE(second.tags.contains("severity!"));
  auto merged = MergeSplits(mapping, {InputOf(first, "a"), InputOf(second, "b")}, options);
  ASSERT_TRUE(merged.ok()) << merged.status();
  // 1200 severities: not exhaustive any more, so no severity tag at all; tenants stay.
  EXPECT_FALSE(merged->tags.contains("severity!"));
  EXPECT_EQ(std::count_if(merged->tags.begin(), merged->tags.end(),
                          [](const std::string& tag) { return tag.starts_with("severity"); }),
            0);
  EXPECT_EQ(merged->tags, (std::set<std::string>{"tenant!", "tenant:1", "tenant:2"}));
  EXPECT_EQ(merged->tags, BuildTestSplit(
                              mapping,
                              [&] {
                                std::vector<std::string> all = first_docs;
                                all.insert(all.end(), second_docs.begin(), second_docs.end());
                                return all;
                              }(),
                              options)
                              .tags);
  EXPECT_EQ(*merged->time_range_start_nanos, int64_t{1'700'000'000} * 1'000'000'000);
  EXPECT_EQ(*merged->time_range_end_nanos, int64_t{1'700'000'001} * 1'000'000'000);
}

TEST(MergeSplitsTest, InputWithoutExhaustiveTagListMakesTheMergeNonExhaustive) {
  DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  const SerializedSplit first = BuildTestSplit(mapping, {R"({"ts": 1, "tenant": 1})"}, options);
  SerializedSplit second = BuildTestSplit(mapping, {R"({"ts": 2, "tenant": 2})"}, options);
  second.tags.erase("tenant!");
  second.tags.erase("tenant:2");
  auto merged = MergeSplits(mapping, {InputOf(first, "a"), InputOf(second, "b")}, options);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_FALSE(merged->tags.contains("tenant!"));
  EXPECT_FALSE(merged->tags.contains("tenant:1"));
}

TEST(MergeSplitsTest, RefusesSplitsOfAnotherDocMapping) {
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  const SerializedSplit ours =
      BuildTestSplit(mapping, {R"({"ts": 1, "body": "quick fox"})"}, options);
  DocMapping other = mapping;
  other.field_mappings[1].tokenizer = "raw";  // body
  const SerializedSplit theirs =
      BuildTestSplit(other, {R"({"ts": 2, "body": "quick fox"})"}, options);
  auto merged = MergeSplits(mapping, {InputOf(ours, "ours"), InputOf(theirs, "theirs")}, options);
  ASSERT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(merged.status().message().find("`body`"), std::string_view::npos) << merged.status();

  DocMapping no_timestamp = mapping;
  no_timestamp.timestamp_field.reset();
  const SerializedSplit untimed = BuildTestSplit(no_timestamp, {R"({"ts": 2})"}, options);
  merged = MergeSplits(mapping, {InputOf(ours, "ours"), InputOf(untimed, "untimed")}, options);
  EXPECT_EQ(merged.status().code(), absl::StatusCode::kInvalidArgument) << merged.status();

  EXPECT_EQ(MergeSplits(mapping, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MergeSplitsTest, CorruptInputIsDataLossNamingTheSplit) {
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  const SerializedSplit good = BuildTestSplit(mapping, RandomDocs(5, 50), options);
  // Flip one byte in each region of the sections (terms, postings, columns, doc store, ...).
  for (uint64_t offset = 0; offset < good.footer_start; offset += good.footer_start / 23 + 1) {
    SerializedSplit bad = good;
    bad.bytes[offset] = static_cast<char>(bad.bytes[offset] ^ 0x5a);
    auto merged = MergeSplits(mapping, {InputOf(good, "good"), InputOf(bad, "bad-split")}, options);
    ASSERT_FALSE(merged.ok()) << "corruption at offset " << offset << " went unnoticed";
    EXPECT_EQ(merged.status().code(), absl::StatusCode::kDataLoss) << merged.status();
    EXPECT_NE(merged.status().message().find("bad-split"), std::string_view::npos)
        << merged.status();
  }
}

TEST(MergeSplitsTest, FullDocStoreBlocksAreCopiedCompressed) {
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  options.docstore_blocksize = 600;
  std::vector<SerializedSplit> splits;
  std::vector<MergeInput> inputs;
  for (uint64_t seed = 20; seed < 23; ++seed) {
    splits.push_back(BuildTestSplit(mapping, RandomDocs(seed, 40), options));
  }
  for (const SerializedSplit& split : splits) inputs.push_back(InputOf(split, "input"));
  auto merged = MergeSplits(mapping, inputs, options);
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto footer_of = [](const SerializedSplit& split) {
    auto footer = internal::ParseFooter(std::string_view(split.bytes).substr(split.footer_start),
                                        split.bytes.size(), "split", nullptr);
    EXPECT_TRUE(footer.ok()) << footer.status();
    return *std::move(footer);
  };
  const internal::Footer merged_footer = footer_of(*merged);
  const internal::FileTableEntry& merged_docstore =
      merged_footer.sections[merged_footer.hotcache.docstore_section];
  const std::string_view merged_bytes =
      std::string_view(merged->bytes).substr(merged_docstore.offset, merged_docstore.length);
  size_t num_copied = 0;
  for (const SerializedSplit& split : splits) {
    const internal::Footer footer = footer_of(split);
    const internal::FileTableEntry& docstore = footer.sections[footer.hotcache.docstore_section];
    for (const internal::DocStoreBlockRef& block : footer.hotcache.docstore_blocks) {
      if (block.uncompressed_length < options.docstore_blocksize) continue;
      const std::string_view compressed =
          std::string_view(split.bytes)
              .substr(docstore.offset + block.chunk.offset, block.chunk.length);
      EXPECT_NE(merged_bytes.find(compressed), std::string_view::npos);
      ++num_copied;
    }
  }
  EXPECT_GT(num_copied, 6u);
  auto single_reader = Open(BuildTestSplit(
                                mapping,
                                [] {
                                  std::vector<std::string> all;
                                  for (uint64_t seed = 20; seed < 23; ++seed) {
                                    std::vector<std::string> docs = RandomDocs(seed, 40);
                                    all.insert(all.end(), docs.begin(), docs.end());
                                  }
                                  return all;
                                }(),
                                options),
                            "single");
  auto merged_reader = Open(*merged, "merged");
  ASSERT_NE(single_reader, nullptr);
  ASSERT_NE(merged_reader, nullptr);
  ExpectSameAnswers(*single_reader, *merged_reader);
}

TEST(MergeSplitsTest, SingleInputIsRewrittenUnchanged) {
  const DocMapping mapping = MergeMapping();
  SplitWriterOptions options;
  const SerializedSplit split = BuildTestSplit(mapping, RandomDocs(8, 20), options);
  auto merged = MergeSplits(mapping, {InputOf(split, "only")}, options);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(merged->bytes == split.bytes);
}

}  // namespace
}  // namespace shale::index
