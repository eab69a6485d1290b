#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "index/testing/field_builder.h"
#include "index/internal/datetime.h"
#include "index/internal/encoding.h"
#include "index/internal/processed_doc.h"
#include "index/split_format.h"

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
    if (leaf.path == path && leaf.type == type) return &leaf;
  }
  return nullptr;
}

TEST(DocProcessorTest, ConvertsEveryType) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(
      R"({"ts":"2023-05-25T05:36:41.123456+02:00","body":"Hello World","count":-3,"size":7,)"
      R"("ratio":0.5,"ok":true,"resource":{"service":"api"},"attrs":{"a":{"b":1},"c":"x"}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->timestamp_nanos(), 1684985801123000000);  // truncated to millis
  EXPECT_EQ(Find(*doc, "body", FieldType::kText)->text, "Hello World");
  EXPECT_EQ(internal::DecodeI64(Find(*doc, "count", FieldType::kI64)->value), -3);
  EXPECT_EQ(Find(*doc, "size", FieldType::kU64)->value, 7u);
  EXPECT_EQ(internal::DecodeF64(Find(*doc, "ratio", FieldType::kF64)->value), 0.5);
  EXPECT_EQ(Find(*doc, "ok", FieldType::kBool)->value, 1u);
  EXPECT_EQ(Find(*doc, "resource.service", FieldType::kText)->text, "api");
  EXPECT_NE(Find(*doc, "attrs.a.b", FieldType::kI64), nullptr);
  EXPECT_EQ(Find(*doc, "attrs.c", FieldType::kText)->text, "x");
  EXPECT_EQ(doc->impl().stored_json,
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
  EXPECT_EQ(doc->impl().stored_json, R"({"body":"x"})");
}

TEST(DocProcessorTest, DynamicCapturesUnknownFields) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kDynamic));
  auto doc = processor->Process(
      R"({"body":"x","extra":{"y":1,"z":"Zz","f":1.5,"b":false,"big":18446744073709551615},"n":null})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_NE(Find(*doc, "extra.y", FieldType::kI64), nullptr);
  EXPECT_EQ(Find(*doc, "extra.z", FieldType::kText)->text, "Zz");
  EXPECT_NE(Find(*doc, "extra.f", FieldType::kF64), nullptr);
  EXPECT_NE(Find(*doc, "extra.b", FieldType::kBool), nullptr);
  EXPECT_EQ(Find(*doc, "extra.big", FieldType::kU64)->value, UINT64_MAX);
  EXPECT_EQ(
      doc->impl().stored_json,
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
  EXPECT_EQ(doc->impl().stored_json, R"({"ts":1684993001500})");
  EXPECT_EQ(internal::FormatRfc3339(1684993001000000000), "2023-05-25T05:36:41Z");
  EXPECT_EQ(internal::FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(DocProcessorTest, StoredStringsAreEscapedWhereverTheCharactersFall) {
  // Characters to escape at every offset of the 8-byte words the escaper scans, in a mapped text
  // field and in a dynamic object, next to UTF-8.
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kDynamic));
  // Each one is written back exactly as the document spells it.
  const std::string escapes[] = {R"(\")", R"(\\)", R"(\n)", R"(\t)", R"(\r)", R"(\u0001)"};
  for (size_t offset = 0; offset < 10; ++offset) {
    for (const std::string& escape : escapes) {
      const std::string padding(offset, 'a');
      const std::string text = padding + escape + "é" + padding + "tail-of-text";
      const std::string json =
          R"({"body":")" + text + R"(","dyn":{"k)" + escape + R"(":")" + text + R"("}})";
      auto doc = processor->Process(json);
      ASSERT_TRUE(doc.ok()) << doc.status().message() << " in " << json;
      EXPECT_EQ(doc->impl().stored_json, json);
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
  for (const auto& leaf : doc->impl().values) counts += leaf.path == "count" ? 1 : 0;
  EXPECT_EQ(counts, 3);
  EXPECT_EQ(doc->impl().stored_json, R"({"count":[1,2,3],"body":["a b","c"]})");
}

TEST(DocProcessorTest, NullFieldIsAbsent) {
  auto processor = MakeProcessor(LogMapping(DocMappingMode::kStrict));
  auto doc = processor->Process(R"({"body":null,"count":1})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->impl().stored_json, R"({"count":1})");
  EXPECT_FALSE(doc->timestamp_nanos().has_value());
  EXPECT_EQ(doc->num_bytes(), 23u);
}

}  // namespace
}  // namespace shale::index
