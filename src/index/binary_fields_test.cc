// ip, bytes and concatenate fields: doc processing, term / range / sort / aggregation on splits
// (indexed and fast-only), merges. Expected answers are computed from the generated documents.

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/internal/binary_values.h"
#include "index/split_format.h"
#include "index/split_merger.h"
#include "index/testing/aggregation_spec.h"
#include "index/testing/field_builder.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using ::shale::index::testing::BuildTestSplit;
using ::shale::index::testing::Field;
using ::testing::HasSubstr;

TEST(BinaryValuesTest, IpRoundTripsAndOrders) {
  for (const char* text : {"0.0.0.0", "10.0.0.1", "192.168.1.255", "255.255.255.255", "::",
                           "::1", "2001:db8::1", "fe80::1:2:3:4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    std::optional<std::string> bytes = internal::ParseIp(text);
    ASSERT_TRUE(bytes.has_value()) << text;
    EXPECT_EQ(bytes->size(), internal::kIpBytes);
    EXPECT_EQ(internal::FormatIp(*bytes), text);
  }
  EXPECT_EQ(internal::FormatIp(*internal::ParseIp("::ffff:1.2.3.4")), "1.2.3.4");
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "abc", "1::2::3", "1.2.3.4.5", " 1.2.3.4"}) {
    EXPECT_FALSE(internal::ParseIp(bad).has_value()) << bad;
  }
  // Byte order is address order, and sort keys never invert it.
  std::vector<std::string> ordered;
  for (const char* text : {"::", "::1", "0.0.0.1", "10.0.0.1", "10.0.0.2", "255.255.255.255",
                           "::1:0:0:0", "1::", "2001:db8::1", "ffff::"}) {
    ordered.push_back(*internal::ParseIp(text));
  }
  for (size_t i = 1; i < ordered.size(); ++i) {
    EXPECT_LT(ordered[i - 1], ordered[i]) << i;
    EXPECT_LE(internal::IpSortKey(ordered[i - 1]), internal::IpSortKey(ordered[i])) << i;
  }
  // Exact (no ties) for IPv4.
  EXPECT_LT(internal::IpSortKey(*internal::ParseIp("10.0.0.1")),
            internal::IpSortKey(*internal::ParseIp("10.0.0.2")));
}

TEST(BinaryValuesTest, BytesFormats) {
  const std::string all = [] {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
    return bytes;
  }();
  for (size_t length : {0, 1, 2, 3, 4, 5, 256}) {
    const std::string bytes = all.substr(0, length);
    for (BytesFormat format : {BytesFormat::kBase64, BytesFormat::kHex}) {
      const std::string text = internal::EncodeBytes(bytes, format);
      EXPECT_EQ(internal::DecodeBytes(text, format), bytes) << text;
    }
  }
  EXPECT_EQ(internal::EncodeBytes("hello", BytesFormat::kBase64), "aGVsbG8=");
  EXPECT_EQ(internal::EncodeBytes("hello", BytesFormat::kHex), "68656c6c6f");
  EXPECT_EQ(internal::DecodeBytes("aGVsbG8", BytesFormat::kBase64), "hello");  // no padding
  EXPECT_EQ(internal::DecodeBytes("68656C6C6F", BytesFormat::kHex), "hello");
  for (const char* bad : {"a", "a$==", "aGVsbG9=" /* non-zero padding bits */}) {
    EXPECT_FALSE(internal::DecodeBytes(bad, BytesFormat::kBase64).has_value()) << bad;
  }
  for (const char* bad : {"abc", "zz", "0x00"}) {
    EXPECT_FALSE(internal::DecodeBytes(bad, BytesFormat::kHex).has_value()) << bad;
  }
}

DocMapping BinaryMapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  mapping.field_mappings.push_back(Field("id", FieldType::kU64, true));
  mapping.field_mappings.push_back(Field("ip", FieldType::kIp, true));  // indexed + fast
  FieldMapping fast_ip = Field("fast_ip", FieldType::kIp, true);
  fast_ip.indexed = false;
  mapping.field_mappings.push_back(fast_ip);
  FieldMapping hash = Field("hash", FieldType::kBytes, true);
  hash.bytes_input_format = BytesFormat::kHex;
  hash.bytes_output_format = BytesFormat::kHex;
  mapping.field_mappings.push_back(hash);
  mapping.field_mappings.push_back(Field("blob", FieldType::kBytes));  // base64, indexed only
  return mapping;
}

TEST(BinaryFieldsTest, DocProcessorConvertsAndRejects) {
  auto processor = DocProcessor::Create(BinaryMapping());
  ASSERT_TRUE(processor.ok()) << processor.status();
  auto doc = (*processor)->Process(
      R"({"ip":"::ffff:10.1.2.3","fast_ip":"2001:DB8::1","hash":"00FF","blob":"aGk="})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto split = BuildTestSplit(
      BinaryMapping(),
      {R"({"ip":["10.1.2.3","::1"],"fast_ip":"2001:DB8::1","hash":"00FF","blob":"aGk"})"});
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("one", split.bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto stored = (*reader)->FetchDocument(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored,
            R"({"ip":["10.1.2.3","::1"],"fast_ip":"2001:db8::1","hash":"00ff","blob":"aGk="})");
  for (const char* bad : {R"({"ip":"10.1.2"})", R"({"ip":12})", R"({"hash":"0g"})",
                          R"({"blob":"!!"})", R"({"blob":true})"}) {
    auto result = (*processor)->Process(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(result.status()));
  }
  EXPECT_THAT(std::string((*processor)->Process(R"({"ip":"x"})").status().message()),
              HasSubstr("field `ip` expects an IPv4 or IPv6 address"));
  EXPECT_THAT(std::string((*processor)->Process(R"({"hash":"x"})").status().message()),
              HasSubstr("field `hash` expects hex bytes"));
}

struct BinaryCorpus {
  std::vector<std::string> docs;
  std::vector<std::string> ips;     // text of each doc's ip
  std::vector<std::string> hashes;  // raw bytes of each doc's hash
};

const char* const kIps[] = {"10.0.0.1", "10.0.0.2",  "10.0.1.7",   "192.168.0.1",
                            "::1",      "2001:db8::1", "2001:db8::ff", "fe80::1"};

BinaryCorpus GenerateBinaryCorpus(int num_docs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  BinaryCorpus corpus;
  for (int i = 0; i < num_docs; ++i) {
    const std::string ip = kIps[rng() % std::size(kIps)];
    std::string hash(1 + rng() % 3, '\0');
    for (char& c : hash) c = static_cast<char>(rng() % 4);
    corpus.ips.push_back(ip);
    corpus.hashes.push_back(hash);
    corpus.docs.push_back(
        fmt::format(R"({{"id":{},"ip":"{}","fast_ip":"{}","hash":"{}","blob":"{}"}})", i, ip, ip,
                    internal::EncodeBytes(hash, BytesFormat::kHex),
                    internal::EncodeBytes(hash, BytesFormat::kBase64)));
  }
  return corpus;
}

uint64_t CountHits(const SplitReader& reader, const Query& query) {
  SplitSearchRequest request;
  request.top_k = 0;
  auto result = reader.Search(query, request);
  EXPECT_TRUE(result.ok()) << result.status() << " " << DebugString(query);
  return result.ok() ? result->num_hits : UINT64_MAX;
}

QueryPtr Range(const std::string& field, std::optional<std::string> lower,
               std::optional<std::string> upper, bool upper_inclusive = true) {
  auto query = std::make_unique<Query>();
  RangeQuery range;
  range.field = field;
  if (lower.has_value()) range.lower = *lower;
  if (upper.has_value()) range.upper = *upper;
  range.upper_inclusive = upper_inclusive;
  query->node = std::move(range);
  return query;
}

// Runs the same checks on a split built from `corpus` and on the merge of two halves of it.
void CheckBinaryQueries(const SplitReader& reader, const BinaryCorpus& corpus) {
  auto ip_value = [](const std::string& text) { return *internal::ParseIp(text); };
  for (const char* field : {"ip", "fast_ip"}) {
    for (const char* ip : kIps) {
      const auto expected = static_cast<uint64_t>(std::count(corpus.ips.begin(), corpus.ips.end(),
                                                              std::string(ip)));
      EXPECT_EQ(CountHits(reader, *MakeTermQuery(field, std::string(ip))), expected)
          << field << " " << ip;
    }
    // The IPv4-mapped spelling finds the IPv4 docs.
    EXPECT_EQ(CountHits(reader, *MakeTermQuery(field, std::string("::ffff:10.0.0.1"))),
              CountHits(reader, *MakeTermQuery(field, std::string("10.0.0.1"))));
    // Ranges: 10.0.0.0 - 10.0.0.255 and all IPv6 above 2001:db8::.
    uint64_t in_ten = 0;
    uint64_t above = 0;
    for (const std::string& ip : corpus.ips) {
      in_ten += ip_value(ip) >= ip_value("10.0.0.0") && ip_value(ip) <= ip_value("10.0.0.255");
      above += ip_value(ip) >= ip_value("2001:db8::");
    }
    EXPECT_EQ(CountHits(reader, *Range(field, "10.0.0.0", "10.0.0.255")), in_ten) << field;
    EXPECT_EQ(CountHits(reader, *Range(field, "2001:db8::", std::nullopt)), above) << field;
    // A term set: any spelling of an address, absent addresses match nothing.
    const std::vector<std::string> wanted = {"10.0.0.1", "2001:db8::1", "10.0.0.2"};
    uint64_t in_set = 0;
    for (const std::string& ip : corpus.ips) {
      in_set += std::find(wanted.begin(), wanted.end(), ip) != wanted.end();
    }
    auto set = std::make_unique<Query>();
    set->node = TermSetQuery{field, {std::string("10.0.0.1"), std::string("2001:DB8::1"),
                                     std::string("::ffff:10.0.0.2"), std::string("1.2.3.4")}};
    EXPECT_EQ(CountHits(reader, *set), in_set) << field;
    SplitSearchRequest request;
    request.top_k = 1;
    auto bad = reader.Search(*MakeTermQuery(field, std::string("10.0.0.300")), request);
    ASSERT_FALSE(bad.ok());
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr("not a valid ip for field"));
  }
  for (const auto& [field, format] :
       {std::pair{"hash", BytesFormat::kBase64}, std::pair{"blob", BytesFormat::kBase64}}) {
    const std::string value = corpus.hashes[0];
    const auto expected =
        static_cast<uint64_t>(std::count(corpus.hashes.begin(), corpus.hashes.end(), value));
    // Queries on bytes fields take base64, whatever the field's input_format.
    EXPECT_EQ(CountHits(reader, *MakeTermQuery(field, internal::EncodeBytes(value, format))),
              expected)
        << field;
  }
  // Sort by ip ascending: hits come in address order, exactly for IPv4 (IPv6 addresses with the
  // same first 63 bits tie, and ties go by doc id).
  SplitSearchRequest request;
  request.top_k = static_cast<uint32_t>(corpus.docs.size());
  request.sort_by = {SortField{"ip", SortOrder::kAsc}};
  auto sorted = reader.Search(*MakeAllQuery(), request);
  ASSERT_TRUE(sorted.ok()) << sorted.status();
  ASSERT_EQ(sorted->hits.size(), corpus.docs.size());
  std::vector<uint64_t> keys;
  std::vector<std::string> ipv4_seen;
  for (const SplitHit& hit : sorted->hits) {
    const std::string& ip = corpus.ips[hit.doc_id];
    keys.push_back(internal::IpSortKey(ip_value(ip)));
    if (ip.find(':') == std::string::npos) ipv4_seen.push_back(ip_value(ip));
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_TRUE(std::is_sorted(ipv4_seen.begin(), ipv4_seen.end()));
  EXPECT_GT(ipv4_seen.size(), 0u);
  // terms aggregation keys render as addresses.
  AggregationRequest aggregation;
  aggregation.aggregations.push_back(
      testing::Spec("ips", AggregationKind::kTerms, "fast_ip"));
  auto aggs = reader.Aggregate(*MakeAllQuery(), SplitSearchRequest{}, aggregation);
  ASSERT_TRUE(aggs.ok()) << aggs.status();
  std::map<std::string, uint64_t> expected_counts;
  for (const std::string& ip : corpus.ips) ++expected_counts[internal::FormatIp(ip_value(ip))];
  std::map<std::string, uint64_t> counts;
  for (const auto& [key, bucket] : (*aggs)[0].terms) counts[key.text] = bucket.doc_count;
  EXPECT_EQ(counts, expected_counts);
}

TEST(BinaryFieldsTest, TermRangeSortAggregateOnOneSplit) {
  const BinaryCorpus corpus = GenerateBinaryCorpus(600, 7);
  auto split = BuildTestSplit(BinaryMapping(), corpus.docs);
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("binary", split.bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  CheckBinaryQueries(**reader, corpus);
}

TEST(BinaryFieldsTest, MergedSplitAnswersTheSame) {
  const BinaryCorpus corpus = GenerateBinaryCorpus(400, 11);
  const std::vector<std::string> first(corpus.docs.begin(), corpus.docs.begin() + 150);
  const std::vector<std::string> second(corpus.docs.begin() + 150, corpus.docs.end());
  std::vector<MergeInput> inputs(2);
  inputs[0].source = NewMemoryByteRangeSource("a", BuildTestSplit(BinaryMapping(), first).bytes);
  inputs[1].source = NewMemoryByteRangeSource("b", BuildTestSplit(BinaryMapping(), second).bytes);
  auto merged = MergeSplits(BinaryMapping(), inputs, SplitWriterOptions{});
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("merged", merged->bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  CheckBinaryQueries(**reader, corpus);
}

// The concatenate scenario of Quickwit's REST API tests, on one split.
TEST(ConcatenateFieldTest, IndexesListedAndDynamicValuesWithItsOwnTokenizer) {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  mapping.dynamic_mapping.tokenizer = "default";
  FieldMapping text1 = Field("text1", FieldType::kText);
  FieldMapping text2 = Field("text2", FieldType::kText);
  text2.tokenizer = "raw";
  mapping.field_mappings = {text1, text2, Field("boolean", FieldType::kBool),
                            Field("int", FieldType::kU64), Field("json", FieldType::kJson)};
  FieldMapping concat_raw = Field("concat_raw", FieldType::kConcatenate);
  concat_raw.concatenate_fields = {"text1", "text2", "boolean", "int", "json"};
  concat_raw.tokenizer = "raw";
  concat_raw.include_dynamic_fields = true;
  FieldMapping concat_default = concat_raw;
  concat_default.name = "concat_default";
  concat_default.tokenizer = "default";
  concat_default.include_dynamic_fields = false;
  mapping.field_mappings.push_back(concat_raw);
  mapping.field_mappings.push_back(concat_default);
  const std::vector<std::string> docs = {
      R"({"text1": "AB-CD", "text2": "EF-GH"})",
      R"({"text1": "true"})",
      R"({"boolean": true})",
      R"({"text2": "i like 42"})",
      R"({"int": 42})",
      R"({"other": "otherfieldvalue", "other_number": 9, "other_bool": false})",
      R"({"json": {"some_bool": false, "nested": {"some_string": "nestedstring"}}})",
      R"({"concat_raw": "ignored"})",
  };
  auto split = BuildTestSplit(mapping, docs);
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("concat", split.bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto hits = [&](const char* field, const char* value) {
    return CountHits(**reader, *MakeTermQuery(field, std::string(value)));
  };
  EXPECT_EQ(hits("concat_raw", "AB-CD"), 1u);
  EXPECT_EQ(hits("concat_raw", "AB"), 0u);
  EXPECT_EQ(hits("concat_default", "ab"), 1u);
  EXPECT_EQ(hits("concat_default", "GH"), 1u);
  EXPECT_EQ(hits("concat_raw", "true"), 2u);      // text "true" and the bool
  EXPECT_EQ(hits("concat_raw", "42"), 1u);        // the number only: raw text is "i like 42"
  EXPECT_EQ(hits("concat_default", "42"), 2u);    // and the token of "i like 42"
  EXPECT_EQ(hits("concat_raw", "otherfieldvalue"), 1u);
  EXPECT_EQ(hits("concat_raw", "9"), 1u);
  EXPECT_EQ(hits("concat_default", "otherfieldvalue"), 0u);  // no dynamic fields
  EXPECT_EQ(hits("concat_raw", "false"), 2u);
  EXPECT_EQ(hits("concat_default", "false"), 1u);
  EXPECT_EQ(hits("concat_default", "nestedstring"), 1u);
  EXPECT_EQ(hits("concat_raw", "ignored"), 0u);  // documents cannot set a concatenate field
  // Not stored: the documents come back as ingested, without the concatenate fields.
  auto stored = (*reader)->FetchDocument(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, R"({"text1":"AB-CD","text2":"EF-GH"})");
}

TEST(ConcatenateFieldTest, ValidationNamesTheProblem) {
  DocMapping mapping;
  FieldMapping concat = Field("all", FieldType::kConcatenate);
  concat.concatenate_fields = {"missing"};
  mapping.field_mappings.push_back(concat);
  EXPECT_THAT(std::string(ValidateDocMapping(mapping).message()),
              HasSubstr("concatenate field `all` lists `missing`"));
  mapping.field_mappings[0].concatenate_fields.clear();
  EXPECT_THAT(std::string(ValidateDocMapping(mapping).message()),
              HasSubstr("needs concatenate_fields or include_dynamic_fields"));
  mapping.field_mappings[0].include_dynamic_fields = true;
  EXPECT_TRUE(ValidateDocMapping(mapping).ok());
}

}  // namespace
}  // namespace shale::index
