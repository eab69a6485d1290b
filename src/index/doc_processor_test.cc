#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/internal/datetime.h"
#include "index/internal/encoding.h"
#include "index/internal/processed_doc.h"
#include "index/split_format.h"
#include "index/testing/field_builder.h"

namespace shale::index {
namespace {

using ::testing::HasSubstr;

using ::shale::index::testing::Field;

DocMapping LogMapping(DocMappingMode mode) {
  DocMapping mapping;
  mapping.mode = mode;
  FieldMapping ts = Field("ts", FieldType::kDatetime);
  ts.fast = true;
  ts.fast_precision = DatetimePrecision::kMilliseconds;
  mapping.field_mappings.push_back(ts);
  mapping.field_mappings.push_back(Field("body", FieldType::kText));
  mapping.field_mappings.push_back(Field("count", FieldType::kI64));
  mapping.field_mappings.push_back(Field("size", FieldType::kU64));
  mapping.field_mappings.push_back(Field("ratio", FieldType::kF64));
  mapping.field_mappings.push_back(Field("ok", FieldType::kBool));
  FieldMapping service = Field("service", FieldType::kText);
  service.tokenizer = "raw";
  FieldMapping resource = Field("resource", FieldType::kObject);
  resource.field_mappings.push_back(service);
  mapping.field_mappings.push_back(resource);
  mapping.field_mappings.push_back(Field("attrs", FieldType::kJson));
  mapping.timestamp_field = "ts";
  return mapping;
}

std::unique_ptr<DocProcessor> MakeProcessor(const DocMapping& mapping) {
  auto processor = DocProcessor::Create(mapping);
  EXPECT_TRUE(processor.ok()) << processor.status();
  return *std::move(processor);
}

const internal::LeafValue* Find(const ProcessedDoc& doc, const std::string& path, FieldType type) {
  for (const auto& leaf : doc.impl().values) {
    if (doc.impl().path(leaf) == path && leaf.type == type) return &leaf;
  }
  return nullptr;
}

// The text of the leaf Find gives ("<none>" without one).
std::string Text(const ProcessedDoc& doc, const std::string& path, FieldType type) {
  const internal::LeafValue* leaf = Find(doc, path, type);
  return leaf == nullptr ? "<none>" : std::string(doc.impl().text(*leaf));
}

TEST(DocProcessorTest, ConvertsEveryType) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(
      R"({"ts":"2023-05-25T05:36:41.123456+02:00","body":"Hello World","count":-3,"size":7,)"
      R"("ratio":0.5,"ok":true,"resource":{"service":"api"},"attrs":{"a":{"b":1},"c":"x"}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->timestamp_nanos(), 1684985801123000000);  // truncated to millis
  EXPECT_EQ(Text(*doc, "body", FieldType::kText), "Hello World");
  EXPECT_EQ(internal::DecodeI64(Find(*doc, "count", FieldType::kI64)->value), -3);
  EXPECT_EQ(Find(*doc, "size", FieldType::kU64)->value, 7u);
  EXPECT_EQ(internal::DecodeF64(Find(*doc, "ratio", FieldType::kF64)->value), 0.5);
  EXPECT_EQ(Find(*doc, "ok", FieldType::kBool)->value, 1u);
  EXPECT_EQ(Text(*doc, "resource.service", FieldType::kText), "api");
  EXPECT_NE(Find(*doc, "attrs.a.b", FieldType::kI64), nullptr);
  EXPECT_EQ(Text(*doc, "attrs.c", FieldType::kText), "x");
  EXPECT_EQ(doc->impl().stored_json.view(),
            R"({"ts":"2023-05-25T03:36:41.123456Z","body":"Hello World","count":-3,"size":7,)"
            R"("ratio":0.5,"ok":true,"resource":{"service":"api"},"attrs":{"a":{"b":1},"c":"x"}})");
}

TEST(DocProcessorTest, StrictRejectsUnknownField) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(R"({"body":"x","resource":{"host":"h"}})");
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("`resource.host`"));
  EXPECT_THAT(doc.status().message(), HasSubstr("strict"));
}

TEST(DocProcessorTest, LenientDropsUnknownField) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kLenient));
  auto doc = processor->Process(R"({"body":"x","extra":{"y":1}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(Find(*doc, "extra.y", FieldType::kI64), nullptr);
  EXPECT_EQ(doc->impl().stored_json.view(), R"({"body":"x"})");
}

TEST(DocProcessorTest, DynamicCapturesUnknownFields) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kDynamic));
  auto doc = processor->Process(
      R"({"body":"x","extra":{"y":1,"z":"Zz","f":1.5,"b":false,"big":18446744073709551615},"n":null})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_NE(Find(*doc, "extra.y", FieldType::kI64), nullptr);
  EXPECT_EQ(Text(*doc, "extra.z", FieldType::kText), "Zz");
  EXPECT_NE(Find(*doc, "extra.f", FieldType::kF64), nullptr);
  EXPECT_NE(Find(*doc, "extra.b", FieldType::kBool), nullptr);
  EXPECT_EQ(Find(*doc, "extra.big", FieldType::kU64)->value, UINT64_MAX);
  EXPECT_EQ(
      doc->impl().stored_json.view(),
      R"({"body":"x","extra":{"y":1,"z":"Zz","f":1.5,"b":false,"big":18446744073709551615}})");
}

TEST(DocProcessorTest, WrongTypesNameTheField) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  for (const char* json :
       {R"({"count":"abc"})", R"({"count":1.5})", R"({"size":-1})", R"({"body":12})",
        R"({"ok":"yes"})", R"({"resource":"x"})", R"({"ts":"yesterday"})"}) {
    auto doc = processor->Process(json);
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument) << json;
  }
  EXPECT_THAT(processor->Process(R"({"count":"abc"})").status().message(), HasSubstr("`count`"));
  EXPECT_THAT(processor->Process(R"({"ts":"nope"})").status().message(), HasSubstr("`ts`"));
}

TEST(DocProcessorTest, CoerceAcceptsNumericStrings) {
  DocMapping mapping = LogMapping(DocMappingMode::kStrict);
  auto processor = MakeProcessor(mapping);
  auto doc = processor->Process(R"({"count":"42","ratio":"2.5","size":"9"})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(internal::DecodeI64(Find(*doc, "count", FieldType::kI64)->value), 42);
  mapping.field_mappings[2].coerce = false;
  auto strict_processor = MakeProcessor(mapping);
  EXPECT_FALSE(strict_processor->Process(R"({"count":"42"})").ok());
}

TEST(DocProcessorTest, MalformedJsonAndNonObject) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kDynamic));
  EXPECT_EQ(processor->Process("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(processor->Process("[1,2]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsInvalidJsonError(processor->Process("{").status()));
  EXPECT_TRUE(IsInvalidJsonError(processor->Process("[1,2]").status()));
  // A well-formed document that does not fit the mapping is not a JSON error.
  auto strict = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  const absl::Status mismatch = strict->Process(R"({"unknown":1})").status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsInvalidJsonError(mismatch));
  EXPECT_TRUE(IsUnknownFieldError(mismatch));
  EXPECT_FALSE(IsUnknownFieldError(processor->Process("{").status()));
}

TEST(DocProcessorTest, DatetimeFormats) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  struct Case {
    const char* json;
    int64_t nanos;
  };
  for (const Case& c : {Case{R"({"ts":1684992000})", 1684992000000000000},
                        Case{R"({"ts":1684992000123})", 1684992000123000000},
                        Case{R"({"ts":1684992000123456})", 1684992000123000000},
                        Case{R"({"ts":1684992000123456789})", 1684992000123000000},
                        Case{R"({"ts":1684992000.5})", 1684992000500000000},
                        Case{R"({"ts":"2023-05-25T05:20:00Z"})", 1684992000000000000},
                        Case{R"({"ts":"2023-05-25T07:20:00.1+02:00"})", 1684992000100000000}}) {
    auto doc = processor->Process(c.json);
    ASSERT_TRUE(doc.ok()) << c.json << " " << doc.status();
    EXPECT_EQ(doc->timestamp_nanos(), c.nanos) << c.json;
  }
}

TEST(DocProcessorTest, Rfc2822AndStrptimeFormatsInMappingOrder) {
  DocMapping mapping;
  FieldMapping ts = Field("ts", FieldType::kDatetime);
  ts.fast = true;
  ts.fast_precision = DatetimePrecision::kMicroseconds;
  ts.input_formats = {DatetimeInputFormat::kRfc2822, DatetimeInputFormat::kStrptime,
                      DatetimeInputFormat::kStrptime, DatetimeInputFormat::kStrptime};
  ts.strptime_patterns = {"%Y-%m-%d %H:%M:%S%.f", "%d/%b/%Y:%H:%M:%S %z", "%s.%6f"};
  mapping.field_mappings.push_back(ts);
  mapping.timestamp_field = "ts";
  auto processor = MakeProcessor(mapping);
  struct Case {
    const char* json;
    int64_t nanos;
  };
  // 1684992000 is 2023-05-25T05:20:00Z.
  for (const Case& c : {Case{R"({"ts":"Thu, 25 May 2023 07:20:00 +0200"})", 1684992000000000000},
                        Case{R"({"ts":"25 May 2023 05:20 GMT"})", 1684992000000000000},
                        Case{R"({"ts":"25 May 23 01:20:00 EDT"})", 1684992000000000000},
                        Case{R"({"ts":"2023-05-25 05:20:00.25"})", 1684992000250000000},
                        Case{R"({"ts":"25/May/2023:07:20:00 +0200"})", 1684992000000000000},
                        Case{R"({"ts":"25/may/2023:05:20:01 -00:00"})", 1684992001000000000},
                        Case{R"({"ts":"1684992000.000042"})", 1684992000000042000}}) {
    auto doc = processor->Process(c.json);
    ASSERT_TRUE(doc.ok()) << c.json << " " << doc.status();
    EXPECT_EQ(doc->timestamp_nanos(), c.nanos) << c.json;
  }
  // Rejected: out-of-range parts, trailing text, names the pattern does not allow, RFC 3339
  // (not among this field's formats).
  for (const char* json :
       {R"({"ts":"2023-02-29 00:00:00.0"})", R"({"ts":"32 May 2023 05:20 GMT"})",
        R"({"ts":"25 May 2023 05:20 GMT trailing"})", R"({"ts":"25/May/2023:25:00:00 +0000"})",
        R"({"ts":"2023-05-25T05:20:00Z"})", R"({"ts":"25 Foo 2023 05:20 GMT"})"}) {
    EXPECT_FALSE(processor->Process(json).ok()) << json;
  }
}

TEST(DocProcessorTest, StrptimeDirectives) {
  auto ParseStrptimeNanos = [](std::string_view text,
                               std::string_view pattern) -> std::optional<int64_t> {
    std::optional<internal::Timestamp> timestamp = internal::ParseStrptime(text, pattern);
    if (!timestamp.has_value()) return std::nullopt;
    return internal::ToUnixNanos(*timestamp);
  };
  EXPECT_EQ(ParseStrptimeNanos("2023-05-25T05:20:00", "%FT%T"), 1684992000000000000);
  EXPECT_EQ(ParseStrptimeNanos("05/25/23 05:20", "%D %R"), 1684992000000000000);
  EXPECT_EQ(ParseStrptimeNanos("2023 145 5:20:00 AM", "%Y %j %I:%M:%S %p"), 1684992000000000000);
  EXPECT_EQ(ParseStrptimeNanos("2023 145 12:20:00 pm", "%Y %j %I:%M:%S %p"), 1685017200000000000);
  EXPECT_EQ(ParseStrptimeNanos("Thursday May 25 2023 05:20:00.123456789 UTC",
                                "%A %B %e %Y %H:%M:%S.%f %Z"),
            1684992000123456789);
  EXPECT_EQ(ParseStrptimeNanos("100% 2023-05-25", "100%% %Y-%m-%d"), 1684972800000000000);
  EXPECT_EQ(ParseStrptimeNanos("2023-05-25 05:20:00.12", "%Y-%m-%d %H:%M:%S.%3f"), std::nullopt);
  EXPECT_EQ(ParseStrptimeNanos("2023-13-01", "%Y-%m-%d"), std::nullopt);
  EXPECT_EQ(ParseStrptimeNanos("", "%Y"), std::nullopt);
  EXPECT_TRUE(ValidateStrptimePattern("%Y-%m-%dT%H:%M:%S%.f%z").ok());
  EXPECT_EQ(ParseStrptimeNanos("2023-05-25 05:20:00", "%Y-%m-%d %H:%M:%S%.f"), 1684992000000000000);
  EXPECT_FALSE(ValidateStrptimePattern("%.d").ok());
  EXPECT_TRUE(ValidateStrptimePattern("%Y-%m-%dT%H:%M:%S.%9f%z").ok());
  EXPECT_THAT(std::string(ValidateStrptimePattern("%Y %Q").message()), HasSubstr("%Q"));
  EXPECT_THAT(std::string(ValidateStrptimePattern("%Y %").message()), HasSubstr("lone"));
  EXPECT_FALSE(ValidateStrptimePattern("YYYY-MM-DD").ok());
}

TEST(DocProcessorTest, DatetimeOutputFormats) {
  DocMapping mapping;
  FieldMapping ts = Field("ts", FieldType::kDatetime);
  ts.output_format = DatetimeOutputFormat::kUnixTimestampMillis;
  mapping.field_mappings.push_back(ts);
  auto processor = MakeProcessor(mapping);
  auto doc = processor->Process(R"({"ts":"2023-05-25T05:36:41.5Z"})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->impl().stored_json.view(), R"({"ts":1684993001500})");
  EXPECT_EQ(internal::FormatRfc3339(1684993001000000000), "2023-05-25T05:36:41Z");
  EXPECT_EQ(internal::FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(DocProcessorTest, StoredStringsAreEscapedWhereverTheCharactersFall) {
  // Characters to escape at every offset of the 16-byte blocks the escaper scans (and in the
  // bytes after the last block), in a mapped text field and in a dynamic object, next to UTF-8.
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kDynamic));
  // Each one is written back exactly as the document spells it.
  const std::string escapes[] = {R"(\")", R"(\\)",     R"(\n)",    R"(\t)",
                                 R"(\r)", R"(\u0001)", R"(\u001f)"};
  for (size_t offset = 0; offset < 40; ++offset) {
    for (const std::string& escape : escapes) {
      const std::string padding(offset, 'a');
      const std::string text = padding + escape + "é" + padding + "tail-of-text";
      const std::string json =
          R"({"body":")" + text + R"(","dyn":{"k)" + escape + R"(":")" + text + R"("}})";
      auto doc = processor->Process(json);
      ASSERT_TRUE(doc.ok()) << doc.status().message() << " in " << json;
      EXPECT_EQ(doc->impl().stored_json.view(), json);
    }
  }
}

TEST(DocProcessorTest, DatetimesAreFormattedForEveryOutputFormat) {
  EXPECT_EQ(internal::FormatDatetimeJson(1684993001123400000, DatetimeOutputFormat::kRfc3339),
            R"("2023-05-25T05:36:41.1234Z")");
  EXPECT_EQ(internal::FormatDatetimeJson(0, DatetimeOutputFormat::kRfc3339),
            R"("1970-01-01T00:00:00Z")");
  EXPECT_EQ(internal::FormatDatetimeJson(-1, DatetimeOutputFormat::kUnixTimestampSecs), "-1");
  EXPECT_EQ(internal::FormatDatetimeJson(1684993001123400000,
                                         DatetimeOutputFormat::kUnixTimestampMillis),
            "1684993001123");
  EXPECT_EQ(internal::FormatDatetimeJson(1684993001123400000,
                                         DatetimeOutputFormat::kUnixTimestampMicros),
            "1684993001123400");
  EXPECT_EQ(internal::FormatDatetimeJson(1684993001123400000,
                                         DatetimeOutputFormat::kUnixTimestampNanos),
            "1684993001123400000");
  // The extremes of the nanosecond range.
  EXPECT_EQ(internal::FormatRfc3339(int64_t{9223372036} * 1000000000), "2262-04-11T23:47:16Z");
  EXPECT_EQ(internal::FormatRfc3339(int64_t{-9223372036} * 1000000000), "1677-09-21T00:12:44Z");
}

TEST(DocProcessorTest, ArraysAreMultiValued) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(R"({"count":[1,2,null,3],"body":["a b","c"]})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  int counts = 0;
  for (const auto& leaf : doc->impl().values) counts += doc->impl().path(leaf) == "count" ? 1 : 0;
  EXPECT_EQ(counts, 3);
  EXPECT_EQ(doc->impl().stored_json.view(), R"({"count":[1,2,3],"body":["a b","c"]})");
}

// The stored JSON is written as the document is walked, and what turns out to store nothing
// (fields not stored, nulls, arrays of nulls, objects left empty) is taken back with its key and
// comma.
TEST(DocProcessorTest, WhatStoresNothingLeavesNoTraceInTheStoredJson) {
  DocMapping mapping = LogMapping(DocMappingMode::kDynamic);
  for (FieldMapping& field : mapping.field_mappings) {
    if (field.name == "count") field.stored = false;
  }
  auto processor = MakeProcessor(mapping);
  auto doc = processor->Process(
      R"({"count":1,"body":"a","count":2,"size":[null,null],"resource":{},"ok":[],)"
      R"("ratio":[null,0.5,null],"resource":{"service":null},"dyn":null,"count":[3,4],)"
      R"("nested":{"x":{"y":[1,"two"]},"z":true}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->impl().stored_json.view(),
            R"({"body":"a","ratio":[0.5],"nested":{"x":{"y":[1,"two"]},"z":true}})");
  // Not stored, still indexed: count 1, 2, 3, 4; the array items share one path in the bytes.
  std::vector<int64_t> counts;
  for (const internal::LeafValue& leaf : doc->impl().values) {
    if (doc->impl().path(leaf) == "count") counts.push_back(internal::DecodeI64(leaf.value));
  }
  EXPECT_THAT(counts, ::testing::ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(internal::DecodeI64(Find(*doc, "nested.x.y", FieldType::kI64)->value), 1);
  EXPECT_EQ(Text(*doc, "nested.x.y", FieldType::kText), "two");
  EXPECT_EQ(Find(*doc, "nested.z", FieldType::kBool)->value, 1u);
  EXPECT_EQ(Find(*doc, "nested.x", FieldType::kText), nullptr);
  // A document whose fields all store nothing stores `{}`.
  auto empty = processor->Process(R"({"count":7,"size":null})");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->impl().stored_json.view(), "{}");
  EXPECT_EQ(internal::DecodeI64(Find(*empty, "count", FieldType::kI64)->value), 7);
}

// Many documents in one batch: a rejected one leaves the batch as it was; a cleared batch is
// refilled; a split written from batches (in ranges, across batches) is the split written one
// document at a time, byte for byte.
TEST(DocProcessorTest, BatchesHoldManyDocumentsAndBuildTheSameSplit) {
  DocMapping mapping = LogMapping(DocMappingMode::kDynamic);
  mapping.tag_fields = {"resource.service"};
  auto processor = MakeProcessor(mapping);
  std::vector<std::string> lines;
  for (int i = 0; i < 300; ++i) {
    lines.push_back(fmt::format(
        R"({{"ts":{},"body":"line {} of {}","count":[{},{}],"resource":{{"service":"s{}"}},)"
        R"("attrs":{{"k":"v{}"}},"extra":{{"n":{},"tags":["a","b{}"]}}}})",
        1684993001 + i, i, i % 7, i, -i, i % 3, i % 5, i * 1.5, i % 2));
  }
  const std::vector<std::string> rejected = {
      "{not json", R"({"body":"x","extra":{"y":1,"z":[true]},"count":"seven"})",
      R"({"body":"x","ts":"never"})", "[1,2]"};

  ProcessedDocs batch;
  std::vector<ProcessedDocs> batches;
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(processor->ProcessInto(lines[i], batch).ok()) << lines[i];
    // A rejected document, after a few leaves were added, leaves no trace.
    const size_t docs_before = batch.size();
    const size_t values_before = batch.impl().values.size();
    const std::string bytes_before(batch.impl().bytes.view());
    const std::string stored_before(batch.impl().stored_json.view());
    const absl::Status status = processor->ProcessInto(rejected[i % rejected.size()], batch);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(batch.size(), docs_before);
    EXPECT_EQ(batch.impl().values.size(), values_before);
    EXPECT_EQ(batch.impl().bytes.view(), bytes_before);
    EXPECT_EQ(batch.impl().stored_json.view(), stored_before);
    if (batch.size() == 128) batches.push_back(std::exchange(batch, ProcessedDocs()));
  }
  batches.push_back(std::move(batch));

  ProcessedDocs one_by_one;
  auto expected_writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(expected_writer.ok());
  for (const std::string& line : lines) {
    auto doc = processor->Process(line);
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(doc->docs().size(), 1u);
    (*expected_writer)->AddDocument(*std::move(doc));
  }
  auto expected = (*expected_writer)->Finish();
  ASSERT_TRUE(expected.ok()) << expected.status();

  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  ASSERT_TRUE(writer.ok());
  ASSERT_EQ(batches.size(), 3u);
  (*writer)->AddDocuments(batches[0], 0, 100);
  (*writer)->AddDocuments(batches[0], 100, 128);
  (*writer)->AddDocuments(batches[1], 0, batches[1].size());
  (*writer)->AddDocuments(batches[2], 0, batches[2].size() + 10);  // past the end: clamped
  auto split = (*writer)->Finish();
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->num_docs, lines.size());
  EXPECT_EQ(split->tags, expected->tags);
  EXPECT_EQ(split->time_range_start_nanos, expected->time_range_start_nanos);
  EXPECT_EQ(split->time_range_end_nanos, expected->time_range_end_nanos);
  EXPECT_TRUE(split->bytes == expected->bytes);

  // Per-document accessors, RemoveLast, and a cleared batch refilled to the same content.
  ProcessedDocs& last = batches[2];
  EXPECT_EQ(last.timestamp_nanos(0), int64_t{1684993001 + 256} * 1'000'000'000);
  EXPECT_EQ(last.num_bytes(1), lines[257].size());
  const std::string stored_before(last.impl().stored_json.view());
  const size_t size_before = last.size();
  ASSERT_TRUE(processor->ProcessInto(lines[0], last).ok());
  last.RemoveLast();
  EXPECT_EQ(last.size(), size_before);
  EXPECT_EQ(last.impl().stored_json.view(), stored_before);
  const uint64_t capacity = last.capacity_bytes();
  last.Clear();
  EXPECT_TRUE(last.empty());
  EXPECT_EQ(last.capacity_bytes(), capacity);
  for (size_t i = 256; i < lines.size(); ++i)
    ASSERT_TRUE(processor->ProcessInto(lines[i], last).ok());
  EXPECT_EQ(last.impl().stored_json.view(), stored_before);
  EXPECT_EQ(last.capacity_bytes(), capacity);
}

TEST(DocProcessorTest, NullFieldIsAbsent) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(R"({"body":null,"count":1})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->impl().stored_json.view(), R"({"count":1})");
  EXPECT_FALSE(doc->timestamp_nanos().has_value());
  EXPECT_EQ(doc->num_bytes(), 23u);
}

}  // namespace
}  // namespace shale::index
