// DocMapping: how JSON documents map onto indexed, stored and fast fields. It mirrors Quickwit's
// `doc_mapping` section of an index config. This header only holds the data model; parsing from
// JSON/YAML lives in config/ and validation of the model lives in ValidateDocMapping().
//
// Field paths: an object field `resource` with a child `service` is addressed as
// "resource.service". A literal dot inside a field name is escaped as "\." in paths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace shale::index {

// PERSISTED (as strings in index configs; as u8 in split field tables): never rename the strings,
// never renumber, append new types at the end. Splits hold text, i64, u64, f64, bool, datetime,
// ip and bytes fields only (object and json are flattened into their leaves; a concatenate field
// is indexed as text and typed leaves under its own path).
enum class FieldType { kText, kI64, kU64, kF64, kBool, kDatetime, kObject, kJson, kIp, kBytes,
                       kConcatenate };

// Returns "text", "i64", "u64", "f64", "bool", "datetime", "object", "json", "ip", "bytes",
// "concatenate".
const char* FieldTypeName(FieldType type);

enum class DocMappingMode { kDynamic, kLenient, kStrict };
const char* DocMappingModeName(DocMappingMode mode);

// Accepted datetime input formats. Strptime patterns are for a later engine version.
// kStrptime: a pattern of FieldMapping::strptime_patterns (the n-th kStrptime entry of
// input_formats is the n-th pattern).
enum class DatetimeInputFormat { kRfc3339, kUnixTimestamp, kIso8601, kRfc2822, kStrptime };

// Checks a strptime pattern of `input_formats`: at least one directive, all of them among
// %Y %y %C %m %d %e %j %H %I %p %M %S %f %3f %6f %9f (any width 1-9) %.f (optional '.' + digits) %z %Z (UTC / GMT / UT / Z
// only) %b %B %h %a %A %s %T %R %D %F %n %t %%. InvalidArgument naming the problem.
absl::Status ValidateStrptimePattern(std::string_view pattern);

// Datetime output formats for hits.
enum class DatetimeOutputFormat {
  kRfc3339,
  kUnixTimestampSecs,
  kUnixTimestampMillis,
  kUnixTimestampMicros,
  kUnixTimestampNanos
};

// Precision kept in fast fields (datetimes are i64 nanoseconds; fast columns truncate them to
// this, the term dictionary and the stored document keep every digit).
enum class DatetimePrecision { kSeconds, kMilliseconds, kMicroseconds, kNanoseconds };

enum class IndexRecordOption { kBasic, kFreq, kPosition };

// Text encodings of a bytes field's values, in documents (input_format) and hits (output_format).
enum class BytesFormat { kBase64, kHex };

struct FieldMapping {
  std::string name;  // leaf name, non-empty
  FieldType type = FieldType::kText;
  std::string description;
  bool indexed = true;
  bool stored = true;
  bool fast = false;
  // Text (and json) only.
  std::string tokenizer = "default";  // "raw" or "default" in engine v1
  IndexRecordOption record = IndexRecordOption::kBasic;
  bool fieldnorms = false;
  std::optional<std::string> fast_normalizer;  // "raw" or "lowercase" when fast on text
  // Numbers only.
  bool coerce = true;
  // Datetime only.
  std::vector<DatetimeInputFormat> input_formats = {DatetimeInputFormat::kRfc3339,
                                                     DatetimeInputFormat::kUnixTimestamp};
  std::vector<std::string> strptime_patterns;  // in input_formats order
  DatetimeOutputFormat output_format = DatetimeOutputFormat::kRfc3339;
  DatetimePrecision fast_precision = DatetimePrecision::kSeconds;
  // Object only.
  std::vector<FieldMapping> field_mappings;
  // Json only.
  bool expand_dots = true;
  // Bytes only.
  BytesFormat bytes_input_format = BytesFormat::kBase64;
  BytesFormat bytes_output_format = BytesFormat::kBase64;
  // Concatenate only (also uses tokenizer and record): full paths of the fields whose values are
  // indexed under this field (an object or json path takes all its leaves), and whether the
  // values of fields captured by the dynamic mapping are added too. Never stored nor fast.
  std::vector<std::string> concatenate_fields;
  bool include_dynamic_fields = false;
};

// How fields absent from `field_mappings` are handled in dynamic mode.
struct DynamicMapping {
  bool indexed = true;
  bool stored = true;
  bool fast = true;
  std::string tokenizer = "raw";
  IndexRecordOption record = IndexRecordOption::kBasic;
  bool expand_dots = true;
};

// With `store_document_size`, every doc gets this u64 fast field (not indexed, not stored): the
// byte length of its JSON source as ingested. Aggregations read it like any fast field.
inline constexpr std::string_view kDocLengthField = "_doc_length";

struct DocMapping {
  std::vector<FieldMapping> field_mappings;
  DocMappingMode mode = DocMappingMode::kDynamic;
  DynamicMapping dynamic_mapping;
  std::optional<std::string> timestamp_field;  // a path to a datetime field
  std::vector<std::string> tag_fields;         // paths to text(raw)/i64/u64 fields
  bool store_source = false;
  bool index_field_presence = false;
  bool store_document_size = false;
  std::optional<std::string> partition_key;
  uint32_t max_num_partitions = 200;
};

// Checks names, types, the timestamp field (must exist, be a datetime, fast) and tag fields
// (must exist and be raw text, i64 or u64). InvalidArgument names the offending field.
absl::Status ValidateDocMapping(const DocMapping& mapping);

}  // namespace shale::index
