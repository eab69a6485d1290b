// Datetimes at nanosecond precision (docs/adr/016-nanosecond-datetimes.md): parsing and
// formatting round trips at every precision, the i64 nanosecond range, fast_precision
// truncation, and queries, sorting and date histograms at nanosecond boundaries.
#include "index/internal/datetime.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/time_util.h"
#include "index/aggregation.h"
#include "index/internal/encoding.h"
#include "index/internal/fast_column.h"
#include "index/internal/processed_doc.h"
#include "index/split_format.h"
#include "index/testing/aggregation_spec.h"
#include "index/testing/field_builder.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using ::shale::index::testing::BuildTestSplit;
using ::shale::index::testing::Field;
using ::shale::index::testing::Spec;
using ::testing::HasSubstr;

std::optional<int64_t> Rfc3339Nanos(std::string_view text) {
  std::optional<internal::Timestamp> timestamp = internal::ParseRfc3339(text, false);
  if (!timestamp.has_value()) return std::nullopt;
  return internal::ToUnixNanos(*timestamp);
}

// 2015-01-10T14:00:00Z, the instant of the multi_splits conformance scenario.
constexpr int64_t kBaseNanos = int64_t{1'420'898'400} * 1'000'000'000;

TEST(DatetimeTest, Rfc3339RoundTripsEveryDigit) {
  const std::vector<int64_t> values = {
      kBaseNanos,
      kBaseNanos + 1,
      kBaseNanos + 10,
      kBaseNanos + 1'000,
      kBaseNanos + 123'456'789,
      kBaseNanos + 500'000'000,
      -1,
      0,
      internal::kMinDatetimeNanos,
      internal::kMaxDatetimeNanos,
  };
  for (int64_t nanos : values) {
    const std::string text = internal::FormatRfc3339(nanos);
    EXPECT_EQ(Rfc3339Nanos(text), nanos) << text;
  }
  EXPECT_EQ(internal::FormatRfc3339(kBaseNanos + 1), "2015-01-10T14:00:00.000000001Z");
  EXPECT_EQ(internal::FormatRfc3339(kBaseNanos + 120'000), "2015-01-10T14:00:00.00012Z");
  EXPECT_EQ(internal::FormatRfc3339(internal::kMaxDatetimeNanos), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(internal::FormatRfc3339(internal::kMinDatetimeNanos), "1677-09-21T00:12:44Z");
  EXPECT_EQ(internal::FormatRfc3339(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
  // Digits beyond the ninth are ignored; offsets apply to the nanoseconds too.
  EXPECT_EQ(Rfc3339Nanos("2015-01-10T14:00:00.0000000019Z"), kBaseNanos + 1);
  EXPECT_EQ(Rfc3339Nanos("2015-01-10T16:00:00.000000001+02:00"), kBaseNanos + 1);
  EXPECT_EQ(Rfc3339Nanos("2015-01-10T14:00:00.Z"), std::nullopt);
}

TEST(DatetimeTest, OutputFormatsRoundTripThroughUnixTimestamps) {
  const int64_t nanos = kBaseNanos + 123'456'789;
  struct Case {
    DatetimeOutputFormat format;
    int64_t unit_nanos;
  };
  for (const Case& c : {Case{DatetimeOutputFormat::kUnixTimestampSecs, 1'000'000'000},
                        Case{DatetimeOutputFormat::kUnixTimestampMillis, 1'000'000},
                        Case{DatetimeOutputFormat::kUnixTimestampMicros, 1'000},
                        Case{DatetimeOutputFormat::kUnixTimestampNanos, 1}}) {
    const std::string text = internal::FormatDatetimeJson(nanos, c.format);
    const int64_t value = std::stoll(text);
    // Read back with the precision inferred from the digits: the value truncated to the unit.
    EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(value)),
              FloorDiv(nanos, c.unit_nanos) * c.unit_nanos)
        << text;
  }
  EXPECT_EQ(internal::FormatDatetimeJson(-1, DatetimeOutputFormat::kUnixTimestampMicros), "-1");
  EXPECT_EQ(internal::FormatDatetimeJson(-1, DatetimeOutputFormat::kUnixTimestampNanos), "-1");
  EXPECT_EQ(internal::FormatDatetimeJson(kBaseNanos + 1, DatetimeOutputFormat::kRfc3339),
            R"("2015-01-10T14:00:00.000000001Z")");
}

TEST(DatetimeTest, TruncationAtEveryPrecision) {
  const int64_t nanos = kBaseNanos + 123'456'789;
  EXPECT_EQ(internal::TruncateNanos(nanos, DatetimePrecision::kSeconds), kBaseNanos);
  EXPECT_EQ(internal::TruncateNanos(nanos, DatetimePrecision::kMilliseconds),
            kBaseNanos + 123'000'000);
  EXPECT_EQ(internal::TruncateNanos(nanos, DatetimePrecision::kMicroseconds),
            kBaseNanos + 123'456'000);
  EXPECT_EQ(internal::TruncateNanos(nanos, DatetimePrecision::kNanoseconds), nanos);
  // Floor, also before 1970, and without overflow at the ends of the range.
  EXPECT_EQ(internal::TruncateNanos(-1, DatetimePrecision::kSeconds), -1'000'000'000);
  EXPECT_EQ(internal::TruncateNanos(internal::kMinDatetimeNanos, DatetimePrecision::kSeconds),
            internal::kMinDatetimeNanos);
  EXPECT_EQ(internal::TruncateNanos(internal::kMaxDatetimeNanos, DatetimePrecision::kSeconds),
            int64_t{9'223'372'036} * 1'000'000'000);
}

TEST(DatetimeTest, UnixTimestampsKeepTheirUnit) {
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(1'420'898'400)), kBaseNanos);
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(1'420'898'400'001)),
            kBaseNanos + 1'000'000);
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(1'420'898'400'000'001)),
            kBaseNanos + 1'000);
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(1'420'898'400'000'000'001)),
            kBaseNanos + 1);
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(-1'500)),
            int64_t{-1'500} * 1'000'000'000);
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(INT64_MAX)), INT64_MAX);
  // Seconds of year 2286 parse, but do not fit in i64 nanoseconds.
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(9'999'999'999)), std::nullopt);
  // Nanoseconds below the range (down to INT64_MIN) parse too, and are out of range.
  EXPECT_EQ(internal::UnixTimestampToTimestamp(INT64_MIN),
            (internal::Timestamp{-9'223'372'037, 145'224'192}));
  EXPECT_EQ(internal::ToUnixNanos(internal::UnixTimestampToTimestamp(INT64_MIN)), std::nullopt);
  EXPECT_EQ(
      internal::ToUnixNanos(internal::UnixTimestampToTimestamp(internal::kMinDatetimeNanos - 1)),
      std::nullopt);
}

DocMapping NanosMapping(DatetimePrecision precision) {
  DocMapping mapping;
  FieldMapping ts = Field("ts", FieldType::kDatetime, true);
  ts.fast_precision = precision;
  mapping.field_mappings.push_back(ts);
  mapping.field_mappings.push_back(Field("at", FieldType::kDatetime, false));  // indexed only
  FieldMapping nanos_out = Field("nanos_out", FieldType::kDatetime);
  nanos_out.output_format = DatetimeOutputFormat::kUnixTimestampNanos;
  mapping.field_mappings.push_back(nanos_out);
  mapping.timestamp_field = "ts";
  return mapping;
}

TEST(DatetimeTest, DocumentsKeepNanosecondsAndTheFastColumnItsPrecision) {
  for (DatetimePrecision precision :
       {DatetimePrecision::kSeconds, DatetimePrecision::kMilliseconds,
        DatetimePrecision::kMicroseconds, DatetimePrecision::kNanoseconds}) {
    auto processor = DocProcessor::Create(NanosMapping(precision));
    ASSERT_TRUE(processor.ok()) << processor.status();
    const std::string json =
        R"({"ts":"2015-01-10T14:00:00.123456789Z","nanos_out":"2015-01-10T14:00:00.000000001Z"})";
    auto doc = (*processor)->Process(json);
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(doc->impl().stored_json.view(),
              R"({"ts":"2015-01-10T14:00:00.123456789Z","nanos_out":1420898400000000001})");
    EXPECT_EQ(doc->timestamp_nanos(), internal::TruncateNanos(kBaseNanos + 123'456'789, precision));
    int num_ts_leaves = 0;
    for (const internal::LeafValue& leaf : doc->impl().values) {
      if (doc->impl().path(leaf) == "ts") {
        ++num_ts_leaves;
        EXPECT_EQ(internal::DecodeI64(leaf.value), kBaseNanos + 123'456'789);
      }
    }
    EXPECT_EQ(num_ts_leaves, 1);
  }
}

// A microsecond column (v1/v2 split) as the reader loads it: the header's affine map, then
// SetMicrosToNanos. Values inside the nanosecond range are scaled without a per-value pass;
// a column whose header admits a value beyond it is scanned, and saturated only if one is.
std::vector<int64_t> LoadMicrosColumn(const std::vector<int64_t>& micros, bool* saturated) {
  static internal::FieldEntry field;
  field.type = FieldType::kDatetime;
  field.datetime_micros = true;
  const int64_t min = *std::min_element(micros.begin(), micros.end());
  uint64_t max_delta = 0;
  for (int64_t value : micros) {
    max_delta = std::max(max_delta, internal::EncodeI64(value) - internal::EncodeI64(min));
  }
  field.column.num_values = micros.size();
  field.column.value_bit_width = internal::BitWidth(max_delta);
  internal::Column column;
  column.field = &field;
  internal::BitPacker packer(column.data, field.column.value_bit_width);
  for (int64_t value : micros) packer.Add(internal::EncodeI64(value) - internal::EncodeI64(min));
  packer.Finish();
  column.values = column.data.data();
  column.min_value = internal::EncodeI64(min);
  column.SetMicrosToNanos();
  *saturated = column.saturate_micros;
  std::vector<int64_t> nanos;
  for (size_t i = 0; i < micros.size(); ++i)
    nanos.push_back(internal::DecodeI64(column.RawValue(i)));
  return nanos;
}

TEST(DatetimeTest, MicrosecondColumnsScaleAndSaturateOnlyBeyondTheNanosecondRange) {
  constexpr int64_t kMaxMicros = INT64_MAX / 1000;
  bool saturated = true;
  // 2015, a few microseconds apart: scaled through the header.
  const int64_t base = kBaseNanos / 1000;
  EXPECT_EQ(LoadMicrosColumn({base + 3, base, base + 7}, &saturated),
            (std::vector<int64_t>{(base + 3) * 1000, base * 1000, (base + 7) * 1000}));
  EXPECT_FALSE(saturated);
  // The header's bound (min + (2^width - 1)) exceeds the range, the values do not: still exact.
  // (width 3: the bound is kMaxMicros + 3).
  EXPECT_EQ(LoadMicrosColumn({kMaxMicros - 4, kMaxMicros}, &saturated),
            (std::vector<int64_t>{(kMaxMicros - 4) * 1000, kMaxMicros * 1000}));
  EXPECT_FALSE(saturated);
  // Year 9999 (the old parser took it) and year 0001: saturated; the in-range value stays exact.
  const int64_t year_9999 = int64_t{253'402'300'799} * 1'000'000;
  const int64_t year_1 = int64_t{-62'135'596'800} * 1'000'000;
  EXPECT_EQ(LoadMicrosColumn({base, year_9999}, &saturated),
            (std::vector<int64_t>{base * 1000, INT64_MAX}));
  EXPECT_TRUE(saturated);
  EXPECT_EQ(LoadMicrosColumn({year_1, base}, &saturated),
            (std::vector<int64_t>{INT64_MIN, base * 1000}));
  EXPECT_TRUE(saturated);
}

TEST(DatetimeTest, DatetimesOutsideTheNanosecondRangeRejectTheDocument) {
  auto processor = DocProcessor::Create(NanosMapping(DatetimePrecision::kSeconds));
  ASSERT_TRUE(processor.ok()) << processor.status();
  for (const char* json :
       {R"({"ts":"2262-04-11T23:47:16.854775808Z"})", R"({"ts":"2262-04-12T00:00:00Z"})",
        R"({"ts":"1677-09-21T00:12:43.999999999Z"})", R"({"ts":"9999-12-31T23:59:59Z"})",
        R"({"ts":9999999999})", R"({"ts":-9999999999})", R"({"ts":-9223372036854775808})",
        R"({"ts":-9223372036000000001})"}) {
    const absl::Status status = (*processor)->Process(json).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(status.message()), HasSubstr("out of range")) << json;
    EXPECT_THAT(std::string(status.message()), HasSubstr("`ts`")) << json;
  }
  for (const char* json : {R"({"ts":"2262-04-11T23:47:16.854775807Z"})",
                           R"({"ts":"1677-09-21T00:12:44Z"})", R"({"ts":9223372036854775807})"}) {
    EXPECT_TRUE((*processor)->Process(json).ok()) << json;
  }
  // Unparsable text keeps its own reason.
  const absl::Status bad = (*processor)->Process(R"({"ts":"yesterday"})").status();
  EXPECT_THAT(std::string(bad.message()), HasSubstr("could not parse"));
}

QueryPtr Wrap(auto node) {
  auto query = std::make_unique<Query>();
  query->node = std::move(node);
  return query;
}

// Docs one nanosecond apart around kBaseNanos, in `ts` (fast) and `at` (indexed only).
class NanosecondSplitTest : public ::testing::TestWithParam<DatetimePrecision> {
 protected:
  static constexpr int kNumDocs = 10;

  void SetUp() override {
    std::vector<std::string> docs;
    for (int i = 0; i < kNumDocs; ++i) {
      const std::string ts = internal::FormatRfc3339(kBaseNanos + i);
      docs.push_back(fmt::format(R"({{"ts":"{}","at":"{}"}})", ts, ts));
    }
    split_ = BuildTestSplit(NanosMapping(GetParam()), docs);
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("nanos", split_.bytes));
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }

  int64_t Count(const Query& query, SplitSearchRequest request = {}) const {
    request.top_k = 0;
    auto result = reader_->Search(query, request);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? static_cast<int64_t>(result->num_hits) : -1;
  }

  static QueryPtr Between(const std::string& field, int64_t lo, bool lo_inclusive, int64_t hi,
                          bool hi_inclusive) {
    return Wrap(RangeQuery{field, internal::FormatRfc3339(lo), lo_inclusive,
                           internal::FormatRfc3339(hi), hi_inclusive});
  }

  SerializedSplit split_;
  std::unique_ptr<SplitReader> reader_;
};

TEST_P(NanosecondSplitTest, TermsAndIndexedRangesAreExact) {
  for (int i = 0; i < kNumDocs; ++i) {
    const std::string ts = internal::FormatRfc3339(kBaseNanos + i);
    EXPECT_EQ(Count(*MakeTermQuery("at", ts)), 1) << ts;
    EXPECT_EQ(Count(*MakeTermQuery("ts", ts)), 1) << ts;  // the term dictionary keeps every digit
  }
  // `at` is indexed only: ranges scan its terms, at full precision.
  EXPECT_EQ(Count(*Between("at", kBaseNanos + 2, true, kBaseNanos + 5, true)), 4);
  EXPECT_EQ(Count(*Between("at", kBaseNanos + 2, false, kBaseNanos + 5, false)), 2);
  EXPECT_EQ(Count(*Between("at", kBaseNanos - 100, true, kBaseNanos, false)), 0);
  EXPECT_EQ(
      Count(*Wrap(RangeQuery{"at", std::nullopt, true, "2015-01-10T14:00:00.000000003Z", true})),
      4);
  // A unix timestamp in nanoseconds as a query value.
  EXPECT_EQ(Count(*MakeTermQuery("at", kBaseNanos + 7)), 1);
}

TEST_P(NanosecondSplitTest, FastRangesTimeFilterAndSortUseTheTruncatedValue) {
  const int64_t truncated_first = internal::TruncateNanos(kBaseNanos, GetParam());
  // How many docs the fast column holds in [kBaseNanos + 2, kBaseNanos + 5].
  int64_t expected = 0;
  for (int i = 0; i < kNumDocs; ++i) {
    const int64_t value = internal::TruncateNanos(kBaseNanos + i, GetParam());
    expected += value >= kBaseNanos + 2 && value <= kBaseNanos + 5 ? 1 : 0;
  }
  EXPECT_EQ(Count(*Between("ts", kBaseNanos + 2, true, kBaseNanos + 5, true)), expected);
  SplitSearchRequest filtered;
  filtered.start_timestamp_nanos = kBaseNanos + 2;
  filtered.end_timestamp_nanos = kBaseNanos + 6;
  EXPECT_EQ(Count(*MakeAllQuery(), filtered), expected);

  SplitSearchRequest by_ts;
  by_ts.top_k = 1;
  by_ts.sort_by = {SortField{"ts", SortOrder::kDesc}};
  auto top = reader_->Search(*MakeAllQuery(), by_ts);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->hits.size(), 1u);
  EXPECT_EQ(top->hits[0].sort_keys[0],
            internal::EncodeI64(internal::TruncateNanos(kBaseNanos + kNumDocs - 1, GetParam())));
  EXPECT_EQ(split_.time_range_start_nanos, truncated_first);
}

TEST_P(NanosecondSplitTest, DateHistogramKeysAreEpochMilliseconds) {
  AggregationRequest request;
  AggregationSpec per_ms = Spec("per_ms", AggregationKind::kDateHistogram, "ts");
  per_ms.date_interval.fixed_interval_millis = 1;
  request.aggregations.push_back(per_ms);
  auto result = reader_->Aggregate(*MakeAllQuery(), SplitSearchRequest{}, request);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 1u);
  // Every doc is within the same millisecond, whatever the precision.
  const std::map<int64_t, IntermediateBucket>& buckets = (*result)[0].histogram;
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets.begin()->first, kBaseNanos / 1'000'000);
  EXPECT_EQ(buckets.begin()->second.doc_count, static_cast<uint64_t>(kNumDocs));
}

INSTANTIATE_TEST_SUITE_P(EveryPrecision, NanosecondSplitTest,
                         ::testing::Values(DatetimePrecision::kSeconds,
                                           DatetimePrecision::kMilliseconds,
                                           DatetimePrecision::kMicroseconds,
                                           DatetimePrecision::kNanoseconds));

}  // namespace
}  // namespace shale::index
