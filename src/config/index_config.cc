#include "config/index_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "config/internal/json_reader.h"

namespace shale::config {
namespace {

using index::BytesFormat;
using index::DatetimeInputFormat;
using index::DatetimeOutputFormat;
using index::DatetimePrecision;
using index::DocMapping;
using index::DocMappingMode;
using index::FieldMapping;
using index::FieldType;
using index::IndexRecordOption;
using internal::CheckObject;
using internal::JoinPath;
using internal::KeyError;
using nlohmann::json;

constexpr std::string_view kSupportedIndexConfigVersions[] = {"0.6", "0.7", "0.8", "0.9"};

// Checks ^[a-zA-Z][a-zA-Z0-9_.-]{min_tail,254}$, or with a leading `_` when `allow_underscore`.
bool IsValidIdentifier(std::string_view id, bool allow_leading_underscore) {
  if (id.size() < 3 || id.size() > 255) {
    return false;
  }
  unsigned char first = static_cast<unsigned char>(id[0]);
  if (!std::isalpha(first) && !(allow_leading_underscore && id[0] == '_')) {
    return false;
  }
  for (char c : id.substr(1)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string Describe(const json& value) {
  if (value.is_string()) {
    return fmt::format("\"{}\"", value.get<std::string>());
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool Has(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return false;
  }
  auto it = object.find(std::string(key));
  return it != object.end() && !it->is_null();
}

absl::Status ParseVersion(const json& root, std::string& out) {
  if (!Has(root, "version")) {
    return absl::OkStatus();
  }
  const json& value = root["version"];
  std::string version;
  if (value.is_string()) {
    version = value.get<std::string>();
  } else if (value.is_number_float()) {
    version = fmt::format("{:.1f}", value.get<double>());
  } else {
    return KeyError("version", fmt::format("expected a string, got {}", Describe(value)));
  }
  if (std::find(std::begin(kSupportedIndexConfigVersions), std::end(kSupportedIndexConfigVersions),
                version) == std::end(kSupportedIndexConfigVersions)) {
    return KeyError(
        "version", fmt::format("unsupported config version \"{}\" (expected 0.6 to 0.9)", version));
  }
  out = version;
  return absl::OkStatus();
}

absl::StatusOr<FieldType> ParseFieldType(std::string_view type_name, const std::string& path) {
  std::string_view base = type_name;
  if (base.size() > 7 && base.substr(0, 6) == "array<" && base.back() == '>') {
    // Multi-valuedness is natural in the engine: array<T> is T.
    base = base.substr(6, base.size() - 7);
    if (base == "object" || base == "json") {
      // Quickwit rejects array<object>; array<json> maps to json.
      if (base == "object") {
        return KeyError(path, "type `array<object>` is not supported, use `object`");
      }
    }
  }
  if (base == "text") {
    return FieldType::kText;
  }
  if (base == "i64") {
    return FieldType::kI64;
  }
  if (base == "u64") {
    return FieldType::kU64;
  }
  if (base == "f64") {
    return FieldType::kF64;
  }
  if (base == "bool") {
    return FieldType::kBool;
  }
  if (base == "datetime") {
    return FieldType::kDatetime;
  }
  if (base == "object") {
    return FieldType::kObject;
  }
  if (base == "json") {
    return FieldType::kJson;
  }
  if (base == "ip") {
    return FieldType::kIp;
  }
  if (base == "bytes") {
    return FieldType::kBytes;
  }
  if (base == "concatenate") {
    return FieldType::kConcatenate;
  }
  return KeyError(path, fmt::format("unknown field type `{}`", type_name));
}

absl::Status ParseRecord(const json& object, const std::string& path, IndexRecordOption& out) {
  std::string record;
  RETURN_IF_ERROR(internal::ReadString(object, "record", path, record));
  if (record.empty()) {
    return absl::OkStatus();
  }
  if (record == "basic") {
    out = IndexRecordOption::kBasic;
  } else if (record == "freq") {
    out = IndexRecordOption::kFreq;
  } else if (record == "position") {
    out = IndexRecordOption::kPosition;
  } else {
    return KeyError(
        JoinPath(path, "record"),
        fmt::format("unknown record option \"{}\" (expected basic, freq or position)", record));
  }
  return absl::OkStatus();
}

const char* RecordName(IndexRecordOption record) {
  switch (record) {
    case IndexRecordOption::kBasic:
      return "basic";
    case IndexRecordOption::kFreq:
      return "freq";
    case IndexRecordOption::kPosition:
      return "position";
  }
  return "basic";
}

absl::StatusOr<DatetimeInputFormat> ParseInputFormat(const std::string& name,
                                                     const std::string& path) {
  if (name == "rfc3339") {
    return DatetimeInputFormat::kRfc3339;
  }
  if (name == "unix_timestamp") {
    return DatetimeInputFormat::kUnixTimestamp;
  }
  if (name == "iso8601") {
    return DatetimeInputFormat::kIso8601;
  }
  if (name == "rfc2822") {
    return DatetimeInputFormat::kRfc2822;
  }
  if (name.find('%') != std::string::npos) {
    if (absl::Status status = index::ValidateStrptimePattern(name); !status.ok()) {
      return KeyError(path, std::string(status.message()));
    }
    return DatetimeInputFormat::kStrptime;
  }
  return KeyError(path, fmt::format("unknown datetime input format \"{}\"", name));
}

const char* InputFormatName(DatetimeInputFormat format) {
  switch (format) {
    case DatetimeInputFormat::kRfc3339:
      return "rfc3339";
    case DatetimeInputFormat::kUnixTimestamp:
      return "unix_timestamp";
    case DatetimeInputFormat::kIso8601:
      return "iso8601";
    case DatetimeInputFormat::kRfc2822:
      return "rfc2822";
    case DatetimeInputFormat::kStrptime:
      return "strptime";  // callers print the pattern instead
  }
  return "rfc3339";
}

absl::StatusOr<BytesFormat> ParseBytesFormat(const std::string& name, const std::string& path) {
  if (name == "base64") {
    return BytesFormat::kBase64;
  }
  if (name == "hex") {
    return BytesFormat::kHex;
  }
  return KeyError(path, fmt::format("unknown bytes format `{}`, expected base64 or hex", name));
}

const char* BytesFormatName(BytesFormat format) {
  return format == BytesFormat::kHex ? "hex" : "base64";
}

absl::StatusOr<DatetimeOutputFormat> ParseOutputFormat(const std::string& name,
                                                       const std::string& path) {
  if (name == "rfc3339") {
    return DatetimeOutputFormat::kRfc3339;
  }
  if (name == "unix_timestamp_secs") {
    return DatetimeOutputFormat::kUnixTimestampSecs;
  }
  if (name == "unix_timestamp_millis") {
    return DatetimeOutputFormat::kUnixTimestampMillis;
  }
  if (name == "unix_timestamp_micros") {
    return DatetimeOutputFormat::kUnixTimestampMicros;
  }
  if (name == "unix_timestamp_nanos") {
    return DatetimeOutputFormat::kUnixTimestampNanos;
  }
  return KeyError(path, fmt::format("unknown datetime output format \"{}\"", name));
}

const char* OutputFormatName(DatetimeOutputFormat format) {
  switch (format) {
    case DatetimeOutputFormat::kRfc3339:
      return "rfc3339";
    case DatetimeOutputFormat::kUnixTimestampSecs:
      return "unix_timestamp_secs";
    case DatetimeOutputFormat::kUnixTimestampMillis:
      return "unix_timestamp_millis";
    case DatetimeOutputFormat::kUnixTimestampMicros:
      return "unix_timestamp_micros";
    case DatetimeOutputFormat::kUnixTimestampNanos:
      return "unix_timestamp_nanos";
  }
  return "rfc3339";
}

absl::StatusOr<DatetimePrecision> ParsePrecision(const std::string& name, const std::string& path) {
  if (name == "seconds") {
    return DatetimePrecision::kSeconds;
  }
  if (name == "milliseconds") {
    return DatetimePrecision::kMilliseconds;
  }
  if (name == "microseconds") {
    return DatetimePrecision::kMicroseconds;
  }
  if (name == "nanoseconds") {
    return DatetimePrecision::kNanoseconds;
  }
  return KeyError(path, fmt::format("unknown datetime precision \"{}\"", name));
}

const char* PrecisionName(DatetimePrecision precision) {
  switch (precision) {
    case DatetimePrecision::kSeconds:
      return "seconds";
    case DatetimePrecision::kMilliseconds:
      return "milliseconds";
    case DatetimePrecision::kMicroseconds:
      return "microseconds";
    case DatetimePrecision::kNanoseconds:
      return "nanoseconds";
  }
  return "seconds";
}

// `fast` is a bool, or for text/json an object `{normalizer: raw|lowercase}`.
absl::Status ParseFast(const json& object, const std::string& path, bool allow_normalizer,
                       bool& fast, std::optional<std::string>& normalizer) {
  if (!Has(object, "fast")) {
    return absl::OkStatus();
  }
  const json& value = object["fast"];
  const std::string fast_path = JoinPath(path, "fast");
  if (value.is_object()) {
    if (!allow_normalizer) {
      return KeyError(fast_path, "expected a boolean, fast field options are only for text");
    }
    RETURN_IF_ERROR(CheckObject(value, fast_path, {"normalizer"}));
    std::string name = "raw";
    RETURN_IF_ERROR(internal::ReadString(value, "normalizer", fast_path, name));
    if (name != "raw" && name != "lowercase") {
      return KeyError(JoinPath(fast_path, "normalizer"),
                      fmt::format("unknown normalizer \"{}\" (expected raw or lowercase)", name));
    }
    fast = true;
    normalizer = name;
    return absl::OkStatus();
  }
  return internal::ReadBool(object, "fast", path, fast);
}

absl::Status ParseFieldMappings(const json& value, const std::string& path, int depth,
                                std::vector<FieldMapping>& out);

absl::StatusOr<FieldMapping> ParseFieldMapping(const json& object, const std::string& path,
                                               int depth) {
  if (!object.is_object()) {
    return KeyError(path, fmt::format("expected an object, got {}", Describe(object)));
  }
  FieldMapping mapping;
  std::string type_name;
  RETURN_IF_ERROR(internal::ReadString(object, "type", path, type_name));
  if (type_name.empty()) {
    return KeyError(JoinPath(path, "type"), "missing field type");
  }
  ASSIGN_OR_RETURN(mapping.type, ParseFieldType(type_name, JoinPath(path, "type")));
  switch (mapping.type) {
    case FieldType::kText:
      RETURN_IF_ERROR(CheckObject(object, path,
                                  {"name", "type", "description", "indexed", "stored", "fast",
                                   "tokenizer", "record", "fieldnorms"}));
      break;
    case FieldType::kI64:
    case FieldType::kU64:
    case FieldType::kF64:
      RETURN_IF_ERROR(CheckObject(
          object, path, {"name", "type", "description", "indexed", "stored", "fast", "coerce"}));
      break;
    case FieldType::kBool:
      RETURN_IF_ERROR(
          CheckObject(object, path, {"name", "type", "description", "indexed", "stored", "fast"}));
      break;
    case FieldType::kDatetime:
      RETURN_IF_ERROR(
          CheckObject(object, path,
                      {"name", "type", "description", "indexed", "stored", "fast", "input_formats",
                       "output_format", "fast_precision", "precision"}));
      break;
    case FieldType::kObject:
      RETURN_IF_ERROR(CheckObject(object, path, {"name", "type", "description", "field_mappings"}));
      break;
    case FieldType::kJson:
      RETURN_IF_ERROR(CheckObject(object, path,
                                  {"name", "type", "description", "indexed", "stored", "fast",
                                   "tokenizer", "record", "fieldnorms", "expand_dots"}));
      break;
    case FieldType::kIp:
      RETURN_IF_ERROR(
          CheckObject(object, path, {"name", "type", "description", "indexed", "stored", "fast"}));
      break;
    case FieldType::kBytes:
      RETURN_IF_ERROR(CheckObject(object, path,
                                  {"name", "type", "description", "indexed", "stored", "fast",
                                   "input_format", "output_format"}));
      break;
    case FieldType::kConcatenate:
      RETURN_IF_ERROR(CheckObject(object, path,
                                  {"name", "type", "description", "tokenizer", "record",
                                   "fieldnorms", "concatenate_fields", "include_dynamic_fields"}));
      break;
  }
  RETURN_IF_ERROR(internal::ReadString(object, "name", path, mapping.name));
  if (mapping.name.empty()) {
    return KeyError(JoinPath(path, "name"), "missing field name");
  }
  RETURN_IF_ERROR(internal::ReadString(object, "description", path, mapping.description));
  RETURN_IF_ERROR(internal::ReadBool(object, "indexed", path, mapping.indexed));
  RETURN_IF_ERROR(internal::ReadBool(object, "stored", path, mapping.stored));
  bool allow_normalizer = mapping.type == FieldType::kText || mapping.type == FieldType::kJson;
  RETURN_IF_ERROR(ParseFast(object, path, allow_normalizer, mapping.fast, mapping.fast_normalizer));
  RETURN_IF_ERROR(internal::ReadString(object, "tokenizer", path, mapping.tokenizer));
  if (mapping.tokenizer.empty()) {
    return KeyError(JoinPath(path, "tokenizer"), "must not be empty");
  }
  RETURN_IF_ERROR(ParseRecord(object, path, mapping.record));
  RETURN_IF_ERROR(internal::ReadBool(object, "fieldnorms", path, mapping.fieldnorms));
  RETURN_IF_ERROR(internal::ReadBool(object, "coerce", path, mapping.coerce));
  RETURN_IF_ERROR(internal::ReadBool(object, "expand_dots", path, mapping.expand_dots));
  if (Has(object, "input_formats")) {
    std::vector<std::string> names;
    RETURN_IF_ERROR(internal::ReadStringList(object, "input_formats", path, false, names));
    if (names.empty()) {
      return KeyError(JoinPath(path, "input_formats"), "must not be empty");
    }
    mapping.input_formats.clear();
    mapping.strptime_patterns.clear();
    for (size_t i = 0; i < names.size(); ++i) {
      ASSIGN_OR_RETURN(DatetimeInputFormat format,
                       ParseInputFormat(names[i], fmt::format("{}.input_formats[{}]", path, i)));
      mapping.input_formats.push_back(format);
      if (format == DatetimeInputFormat::kStrptime) mapping.strptime_patterns.push_back(names[i]);
    }
  }
  if (mapping.type == FieldType::kBytes) {
    for (std::string_view key : {"input_format", "output_format"}) {
      if (!Has(object, key)) continue;
      std::string name;
      RETURN_IF_ERROR(internal::ReadString(object, key, path, name));
      ASSIGN_OR_RETURN(BytesFormat format, ParseBytesFormat(name, JoinPath(path, key)));
      (key == "input_format" ? mapping.bytes_input_format : mapping.bytes_output_format) = format;
    }
  } else if (Has(object, "output_format")) {
    std::string name;
    RETURN_IF_ERROR(internal::ReadString(object, "output_format", path, name));
    ASSIGN_OR_RETURN(mapping.output_format,
                     ParseOutputFormat(name, JoinPath(path, "output_format")));
  }
  if (mapping.type == FieldType::kConcatenate) {
    // Never stored nor fast: the values are indexed only.
    mapping.stored = false;
    mapping.fast = false;
    RETURN_IF_ERROR(internal::ReadStringList(object, "concatenate_fields", path, false,
                                             mapping.concatenate_fields));
    RETURN_IF_ERROR(internal::ReadBool(object, "include_dynamic_fields", path,
                                       mapping.include_dynamic_fields));
  }
  for (std::string_view key : {"precision", "fast_precision"}) {  // fast_precision wins
    if (!Has(object, key)) {
      continue;
    }
    std::string name;
    RETURN_IF_ERROR(internal::ReadString(object, key, path, name));
    ASSIGN_OR_RETURN(mapping.fast_precision, ParsePrecision(name, JoinPath(path, key)));
  }
  if (mapping.type == FieldType::kObject) {
    if (!Has(object, "field_mappings")) {
      return KeyError(JoinPath(path, "field_mappings"), "an object field needs field_mappings");
    }
    RETURN_IF_ERROR(ParseFieldMappings(object["field_mappings"], JoinPath(path, "field_mappings"),
                                       depth + 1, mapping.field_mappings));
  }
  return mapping;
}

absl::Status ParseFieldMappings(const json& value, const std::string& path, int depth,
                                std::vector<FieldMapping>& out) {
  constexpr int kMaxObjectDepth = 64;
  if (depth > kMaxObjectDepth) {
    return KeyError(path, fmt::format("object fields are nested deeper than {}", kMaxObjectDepth));
  }
  if (value.is_null()) {
    return absl::OkStatus();
  }
  if (!value.is_array()) {
    return KeyError(path, fmt::format("expected a list, got {}", Describe(value)));
  }
  out.clear();
  for (size_t i = 0; i < value.size(); ++i) {
    ASSIGN_OR_RETURN(FieldMapping mapping,
                     ParseFieldMapping(value[i], fmt::format("{}[{}]", path, i), depth));
    out.push_back(std::move(mapping));
  }
  return absl::OkStatus();
}

absl::Status ParseDynamicMapping(const json& object, const std::string& path,
                                 index::DynamicMapping& out) {
  RETURN_IF_ERROR(CheckObject(object, path,
                              {"indexed", "stored", "fast", "tokenizer", "record", "expand_dots",
                               "description", "fieldnorms"}));
  RETURN_IF_ERROR(internal::ReadBool(object, "indexed", path, out.indexed));
  RETURN_IF_ERROR(internal::ReadBool(object, "stored", path, out.stored));
  std::optional<std::string> unused_normalizer;
  RETURN_IF_ERROR(ParseFast(object, path, true, out.fast, unused_normalizer));
  RETURN_IF_ERROR(internal::ReadString(object, "tokenizer", path, out.tokenizer));
  RETURN_IF_ERROR(ParseRecord(object, path, out.record));
  RETURN_IF_ERROR(internal::ReadBool(object, "expand_dots", path, out.expand_dots));
  bool unused_fieldnorms = false;
  RETURN_IF_ERROR(internal::ReadBool(object, "fieldnorms", path, unused_fieldnorms));
  return absl::OkStatus();
}

absl::Status ParseDocMapping(const json& object, DocMapping& out) {
  const std::string path = "doc_mapping";
  RETURN_IF_ERROR(
      CheckObject(object, path,
                  {"field_mappings", "mode", "dynamic_mapping", "timestamp_field", "tag_fields",
                   "store_source", "index_field_presence", "store_document_size", "partition_key",
                   "max_num_partitions", "tokenizers", "doc_mapping_uid"}));
  if (object.is_null()) {
    return absl::OkStatus();
  }
  if (Has(object, "field_mappings")) {
    RETURN_IF_ERROR(ParseFieldMappings(object["field_mappings"], JoinPath(path, "field_mappings"),
                                       0, out.field_mappings));
  }
  std::string mode;
  RETURN_IF_ERROR(internal::ReadString(object, "mode", path, mode));
  if (mode == "dynamic") {
    out.mode = DocMappingMode::kDynamic;
  } else if (mode == "lenient") {
    out.mode = DocMappingMode::kLenient;
  } else if (mode == "strict") {
    out.mode = DocMappingMode::kStrict;
  } else if (!mode.empty()) {
    return KeyError(JoinPath(path, "mode"),
                    fmt::format("unknown mode \"{}\" (expected dynamic, lenient or strict)", mode));
  }
  if (Has(object, "dynamic_mapping")) {
    RETURN_IF_ERROR(ParseDynamicMapping(object["dynamic_mapping"],
                                        JoinPath(path, "dynamic_mapping"), out.dynamic_mapping));
  }
  RETURN_IF_ERROR(
      internal::ReadOptionalString(object, "timestamp_field", path, out.timestamp_field));
  RETURN_IF_ERROR(internal::ReadStringList(object, "tag_fields", path, false, out.tag_fields));
  RETURN_IF_ERROR(internal::ReadBool(object, "store_source", path, out.store_source));
  RETURN_IF_ERROR(
      internal::ReadBool(object, "index_field_presence", path, out.index_field_presence));
  RETURN_IF_ERROR(internal::ReadBool(object, "store_document_size", path, out.store_document_size));
  RETURN_IF_ERROR(internal::ReadOptionalString(object, "partition_key", path, out.partition_key));
  if (out.partition_key.has_value() && out.partition_key->empty()) {
    out.partition_key.reset();
  }
  uint64_t max_num_partitions = out.max_num_partitions;
  RETURN_IF_ERROR(internal::ReadUint(object, "max_num_partitions", path,
                                     std::numeric_limits<uint32_t>::max(), max_num_partitions));
  if (max_num_partitions == 0) {
    return KeyError(JoinPath(path, "max_num_partitions"), "must be greater than 0");
  }
  out.max_num_partitions = static_cast<uint32_t>(max_num_partitions);
  if (Has(object, "tokenizers")) {
    const json& tokenizers = object["tokenizers"];
    if (!tokenizers.is_array()) {
      return KeyError(JoinPath(path, "tokenizers"),
                      fmt::format("expected a list, got {}", Describe(tokenizers)));
    }
    if (!tokenizers.empty()) {
      return KeyError(JoinPath(path, "tokenizers"), "custom tokenizers are not supported yet");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseMergePolicy(const json& object, MergePolicyConfig& out) {
  const std::string path = "indexing_settings.merge_policy";
  RETURN_IF_ERROR(CheckObject(object, path,
                              {"type", "merge_factor", "max_merge_factor", "min_level_num_docs",
                               "maturation_period", "max_merge_ops"}));
  RETURN_IF_ERROR(internal::ReadString(object, "type", path, out.type));
  if (out.type == "const_write_amplification") out.type = "limit_merge";  // Quickwit's alias
  if (out.type != "stable_log" && out.type != "limit_merge" && out.type != "no_merge") {
    return KeyError(JoinPath(path, "type"),
                    fmt::format("unknown merge policy \"{}\" (expected stable_log, limit_merge or "
                                "no_merge)",
                                out.type));
  }
  uint64_t merge_factor = out.merge_factor;
  uint64_t max_merge_factor = out.max_merge_factor;
  uint64_t max_merge_ops = out.max_merge_ops;
  constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
  RETURN_IF_ERROR(internal::ReadUint(object, "merge_factor", path, kMaxU32, merge_factor));
  RETURN_IF_ERROR(internal::ReadUint(object, "max_merge_factor", path, kMaxU32, max_merge_factor));
  RETURN_IF_ERROR(internal::ReadUint(object, "max_merge_ops", path, kMaxU32, max_merge_ops));
  RETURN_IF_ERROR(internal::ReadUint(object, "min_level_num_docs", path,
                                     std::numeric_limits<uint64_t>::max(), out.min_level_num_docs));
  if (merge_factor < 2) {
    return KeyError(JoinPath(path, "merge_factor"), "must be at least 2");
  }
  if (max_merge_factor < merge_factor) {
    return KeyError(JoinPath(path, "max_merge_factor"), "must be at least merge_factor");
  }
  if (max_merge_ops == 0) {
    return KeyError(JoinPath(path, "max_merge_ops"), "must be at least 1");
  }
  out.merge_factor = static_cast<uint32_t>(merge_factor);
  out.max_merge_factor = static_cast<uint32_t>(max_merge_factor);
  out.max_merge_ops = static_cast<uint32_t>(max_merge_ops);
  if (Has(object, "maturation_period")) {
    std::string period;
    RETURN_IF_ERROR(internal::ReadString(object, "maturation_period", path, period));
    absl::StatusOr<int64_t> secs = internal::ParseDurationSecs(period);
    if (!secs.ok()) {
      return KeyError(JoinPath(path, "maturation_period"), std::string(secs.status().message()));
    }
    out.maturation_period_secs = *secs;
  }
  return absl::OkStatus();
}

absl::Status ParseIndexingSettings(const json& object, IndexingSettings& out) {
  const std::string path = "indexing_settings";
  RETURN_IF_ERROR(CheckObject(object, path,
                              {"commit_timeout_secs", "split_num_docs_target", "merge_policy",
                               "resources", "docstore_compression_level", "docstore_blocksize"}));
  if (object.is_null()) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(internal::ReadInt(object, "commit_timeout_secs", path,
                                    std::numeric_limits<int64_t>::min(),
                                    std::numeric_limits<int64_t>::max(), out.commit_timeout_secs));
  if (out.commit_timeout_secs <= 0) {
    return KeyError(JoinPath(path, "commit_timeout_secs"), "must be greater than 0");
  }
  RETURN_IF_ERROR(internal::ReadUint(object, "split_num_docs_target", path,
                                     std::numeric_limits<uint64_t>::max(),
                                     out.split_num_docs_target));
  if (out.split_num_docs_target == 0) {
    return KeyError(JoinPath(path, "split_num_docs_target"), "must be greater than 0");
  }
  if (Has(object, "merge_policy")) {
    RETURN_IF_ERROR(ParseMergePolicy(object["merge_policy"], out.merge_policy));
  }
  if (Has(object, "resources")) {
    const json& resources = object["resources"];
    const std::string resources_path = JoinPath(path, "resources");
    RETURN_IF_ERROR(CheckObject(resources, resources_path, {"heap_size"}));
    RETURN_IF_ERROR(
        internal::ReadByteSize(resources, "heap_size", resources_path, out.heap_size_bytes));
    if (out.heap_size_bytes == 0) {
      return KeyError(JoinPath(resources_path, "heap_size"), "must be greater than 0");
    }
  }
  int64_t level = out.docstore_compression_level;
  RETURN_IF_ERROR(internal::ReadInt(object, "docstore_compression_level", path, 1, 22, level));
  out.docstore_compression_level = static_cast<int>(level);
  uint64_t blocksize = out.docstore_blocksize;
  RETURN_IF_ERROR(internal::ReadUint(object, "docstore_blocksize", path,
                                     std::numeric_limits<uint32_t>::max(), blocksize));
  if (blocksize == 0) {
    return KeyError(JoinPath(path, "docstore_blocksize"), "must be greater than 0");
  }
  out.docstore_blocksize = static_cast<uint32_t>(blocksize);
  return absl::OkStatus();
}

absl::Status ParseRetention(const json& object, RetentionPolicy& out) {
  const std::string path = "retention";
  RETURN_IF_ERROR(CheckObject(object, path, {"period", "schedule"}));
  RETURN_IF_ERROR(internal::ReadString(object, "period", path, out.period));
  if (out.period.empty()) {
    return KeyError(JoinPath(path, "period"), "missing retention period");
  }
  absl::StatusOr<int64_t> secs = internal::ParseDurationSecs(out.period);
  if (!secs.ok()) {
    return KeyError(JoinPath(path, "period"), std::string(secs.status().message()));
  }
  RETURN_IF_ERROR(internal::ReadString(object, "schedule", path, out.schedule));
  static constexpr std::string_view kNamedSchedules[] = {"hourly", "daily", "weekly", "monthly",
                                                         "yearly"};
  bool named = std::find(std::begin(kNamedSchedules), std::end(kNamedSchedules), out.schedule) !=
               std::end(kNamedSchedules);
  if (!named) {
    // A cron expression: 5 to 7 space-separated fields.
    size_t fields = 0;
    bool in_field = false;
    for (char c : out.schedule) {
      bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (!space && !in_field) {
        ++fields;
      }
      in_field = !space;
    }
    if (fields < 5 || fields > 7) {
      return KeyError(JoinPath(path, "schedule"),
                      fmt::format("invalid schedule \"{}\" (expected hourly, daily, weekly, "
                                  "monthly, yearly or a cron expression)",
                                  out.schedule));
    }
  }
  return absl::OkStatus();
}

// Splits a field path on unescaped dots; `\.` becomes a literal dot in a segment.
std::vector<std::string> SplitFieldPath(std::string_view path) {
  std::vector<std::string> segments(1);
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '\\' && i + 1 < path.size()) {
      segments.back() += path[++i];
    } else if (path[i] == '.') {
      segments.emplace_back();
    } else {
      segments.back() += path[i];
    }
  }
  return segments;
}

absl::Status ValidateDefaultSearchField(const DocMapping& mapping, const std::string& field) {
  const std::string path = "search_settings.default_search_fields";
  std::vector<std::string> segments = SplitFieldPath(field);
  const std::vector<FieldMapping>* level = &mapping.field_mappings;
  for (size_t i = 0; i < segments.size(); ++i) {
    const FieldMapping* found = nullptr;
    for (const FieldMapping& candidate : *level) {
      if (candidate.name == segments[i]) {
        found = &candidate;
        break;
      }
    }
    if (found == nullptr) {
      break;  // not mapped: the dynamic field may catch it
    }
    bool last = i + 1 == segments.size();
    if (found->type == FieldType::kObject) {
      if (last) {
        return KeyError(path,
                        fmt::format("default search field `{}` is an object, name a leaf", field));
      }
      level = &found->field_mappings;
      continue;
    }
    if (found->type != FieldType::kJson && !last) {
      return KeyError(path, fmt::format("unknown default search field `{}`", field));
    }
    if (!found->indexed) {
      return KeyError(path, fmt::format("default search field `{}` is not indexed", field));
    }
    return absl::OkStatus();
  }
  if (mapping.mode != DocMappingMode::kDynamic) {
    return KeyError(path, fmt::format("unknown default search field `{}`", field));
  }
  if (!mapping.dynamic_mapping.indexed) {
    return KeyError(path, fmt::format("default search field `{}` is not indexed", field));
  }
  return absl::OkStatus();
}

json FieldMappingToJson(const FieldMapping& mapping) {
  json out = json::object();
  out["name"] = mapping.name;
  out["type"] = index::FieldTypeName(mapping.type);
  if (!mapping.description.empty()) {
    out["description"] = mapping.description;
  }
  if (mapping.type == FieldType::kObject) {
    json children = json::array();
    for (const FieldMapping& child : mapping.field_mappings) {
      children.push_back(FieldMappingToJson(child));
    }
    out["field_mappings"] = std::move(children);
    return out;
  }
  out["indexed"] = mapping.indexed;
  out["stored"] = mapping.stored;
  if (mapping.fast_normalizer.has_value() && mapping.fast) {
    out["fast"] = json{{"normalizer", *mapping.fast_normalizer}};
  } else {
    out["fast"] = mapping.fast;
  }
  switch (mapping.type) {
    case FieldType::kText:
    case FieldType::kJson:
      out["tokenizer"] = mapping.tokenizer;
      out["record"] = RecordName(mapping.record);
      out["fieldnorms"] = mapping.fieldnorms;
      if (mapping.type == FieldType::kJson) {
        out["expand_dots"] = mapping.expand_dots;
      }
      break;
    case FieldType::kI64:
    case FieldType::kU64:
    case FieldType::kF64:
      out["coerce"] = mapping.coerce;
      break;
    case FieldType::kDatetime: {
      json formats = json::array();
      size_t pattern_index = 0;
      for (DatetimeInputFormat format : mapping.input_formats) {
        if (format == DatetimeInputFormat::kStrptime &&
            pattern_index < mapping.strptime_patterns.size()) {
          formats.push_back(mapping.strptime_patterns[pattern_index++]);
        } else {
          formats.push_back(InputFormatName(format));
        }
      }
      out["input_formats"] = std::move(formats);
      out["output_format"] = OutputFormatName(mapping.output_format);
      out["fast_precision"] = PrecisionName(mapping.fast_precision);
      break;
    }
    case FieldType::kBytes:
      out["input_format"] = BytesFormatName(mapping.bytes_input_format);
      out["output_format"] = BytesFormatName(mapping.bytes_output_format);
      break;
    case FieldType::kConcatenate:
      out.erase("indexed");
      out.erase("stored");
      out.erase("fast");
      out["tokenizer"] = mapping.tokenizer;
      out["record"] = RecordName(mapping.record);
      out["fieldnorms"] = mapping.fieldnorms;
      out["concatenate_fields"] = mapping.concatenate_fields;
      out["include_dynamic_fields"] = mapping.include_dynamic_fields;
      break;
    case FieldType::kBool:
    case FieldType::kObject:
    case FieldType::kIp:
      break;
  }
  return out;
}

json DocMappingToJson(const DocMapping& mapping) {
  json fields = json::array();
  for (const FieldMapping& field : mapping.field_mappings) {
    fields.push_back(FieldMappingToJson(field));
  }
  json out = json::object();
  out["field_mappings"] = std::move(fields);
  out["mode"] = index::DocMappingModeName(mapping.mode);
  out["dynamic_mapping"] = json{{"indexed", mapping.dynamic_mapping.indexed},
                                {"stored", mapping.dynamic_mapping.stored},
                                {"fast", mapping.dynamic_mapping.fast},
                                {"tokenizer", mapping.dynamic_mapping.tokenizer},
                                {"record", RecordName(mapping.dynamic_mapping.record)},
                                {"expand_dots", mapping.dynamic_mapping.expand_dots}};
  out["timestamp_field"] =
      mapping.timestamp_field.has_value() ? json(*mapping.timestamp_field) : json(nullptr);
  out["tag_fields"] = mapping.tag_fields;
  out["store_source"] = mapping.store_source;
  out["index_field_presence"] = mapping.index_field_presence;
  out["store_document_size"] = mapping.store_document_size;
  if (mapping.partition_key.has_value()) {
    out["partition_key"] = *mapping.partition_key;
  }
  out["max_num_partitions"] = mapping.max_num_partitions;
  out["tokenizers"] = json::array();
  return out;
}

std::string FormatDuration(int64_t secs) {
  if (secs > 0 && secs % 86400 == 0) {
    return fmt::format("{}days", secs / 86400);
  }
  if (secs > 0 && secs % 3600 == 0) {
    return fmt::format("{}h", secs / 3600);
  }
  if (secs > 0 && secs % 60 == 0) {
    return fmt::format("{}m", secs / 60);
  }
  return fmt::format("{}s", secs);
}

}  // namespace

absl::Status ValidateIndexId(std::string_view index_id) {
  if (!IsValidIdentifier(index_id, false)) {
    return absl::InvalidArgumentError(fmt::format(
        "index id `{}` is invalid: it must match ^[a-zA-Z][a-zA-Z0-9_.-]{{2,254}}$", index_id));
  }
  return absl::OkStatus();
}

absl::StatusOr<IndexConfig> IndexConfigFromJson(const json& root) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("index config: expected an object, got {}", Describe(root)));
  }
  RETURN_IF_ERROR(CheckObject(root, "",
                              {"version", "index_id", "index_uri", "doc_mapping",
                               "indexing_settings", "search_settings", "retention"}));
  IndexConfig config;
  RETURN_IF_ERROR(ParseVersion(root, config.version));
  if (!Has(root, "index_id")) {
    return KeyError("index_id", "missing index id");
  }
  RETURN_IF_ERROR(internal::ReadString(root, "index_id", "", config.index_id));
  RETURN_IF_ERROR(ValidateIndexId(config.index_id));
  RETURN_IF_ERROR(internal::ReadOptionalString(root, "index_uri", "", config.index_uri));
  if (config.index_uri.has_value() && config.index_uri->empty()) {
    return KeyError("index_uri", "must not be empty");
  }
  if (Has(root, "doc_mapping")) {
    RETURN_IF_ERROR(ParseDocMapping(root["doc_mapping"], config.doc_mapping));
  }
  if (Has(root, "indexing_settings")) {
    RETURN_IF_ERROR(ParseIndexingSettings(root["indexing_settings"], config.indexing_settings));
  }
  if (Has(root, "search_settings")) {
    const json& search_settings = root["search_settings"];
    RETURN_IF_ERROR(CheckObject(search_settings, "search_settings", {"default_search_fields"}));
    RETURN_IF_ERROR(internal::ReadStringList(search_settings, "default_search_fields",
                                             "search_settings", false,
                                             config.search_settings.default_search_fields));
  }
  if (Has(root, "retention")) {
    RetentionPolicy retention;
    RETURN_IF_ERROR(ParseRetention(root["retention"], retention));
    config.retention = std::move(retention);
  }
  absl::Status mapping_status = index::ValidateDocMapping(config.doc_mapping);
  if (!mapping_status.ok()) {
    return absl::Status(mapping_status.code(),
                        fmt::format("doc_mapping: {}", std::string(mapping_status.message())));
  }
  for (const std::string& field : config.search_settings.default_search_fields) {
    RETURN_IF_ERROR(ValidateDefaultSearchField(config.doc_mapping, field));
  }
  return config;
}

absl::StatusOr<IndexConfig> ParseIndexConfigJson(std::string_view json_text) {
  ASSIGN_OR_RETURN(json root, internal::ParseJsonText(json_text));
  return IndexConfigFromJson(root);
}

absl::StatusOr<IndexConfig> ParseIndexConfigYaml(std::string_view yaml_text) {
  ASSIGN_OR_RETURN(json root, internal::YamlToJson(yaml_text));
  return IndexConfigFromJson(root);
}

json IndexConfigToJson(const IndexConfig& config) {
  const IndexingSettings& indexing = config.indexing_settings;
  const MergePolicyConfig& merge = indexing.merge_policy;
  json merge_policy = json{{"type", merge.type}};
  if (merge.type == "stable_log") {
    merge_policy["merge_factor"] = merge.merge_factor;
    merge_policy["max_merge_factor"] = merge.max_merge_factor;
    merge_policy["min_level_num_docs"] = merge.min_level_num_docs;
    merge_policy["maturation_period"] = FormatDuration(merge.maturation_period_secs);
  } else if (merge.type == "limit_merge") {
    merge_policy["merge_factor"] = merge.merge_factor;
    merge_policy["max_merge_factor"] = merge.max_merge_factor;
    merge_policy["max_merge_ops"] = merge.max_merge_ops;
    merge_policy["maturation_period"] = FormatDuration(merge.maturation_period_secs);
  }
  json out = json::object();
  out["version"] = config.version;
  out["index_id"] = config.index_id;
  if (config.index_uri.has_value()) {
    out["index_uri"] = *config.index_uri;
  }
  out["doc_mapping"] = DocMappingToJson(config.doc_mapping);
  out["indexing_settings"] =
      json{{"commit_timeout_secs", indexing.commit_timeout_secs},
           {"split_num_docs_target", indexing.split_num_docs_target},
           {"docstore_compression_level", indexing.docstore_compression_level},
           {"docstore_blocksize", indexing.docstore_blocksize},
           {"merge_policy", std::move(merge_policy)},
           {"resources", {{"heap_size", indexing.heap_size_bytes}}}};
  out["search_settings"] =
      json{{"default_search_fields", config.search_settings.default_search_fields}};
  if (config.retention.has_value()) {
    out["retention"] =
        json{{"period", config.retention->period}, {"schedule", config.retention->schedule}};
  }
  return out;
}

absl::StatusOr<SourceConfig> SourceConfigFromJson(const json& root) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("source config: expected an object, got {}", Describe(root)));
  }
  RETURN_IF_ERROR(CheckObject(
      root, "",
      {"version", "source_id", "source_type", "enabled", "num_pipelines", "desired_num_pipelines",
       "max_num_pipelines_per_indexer", "params", "input_format", "transform"}));
  SourceConfig config;
  RETURN_IF_ERROR(ParseVersion(root, config.version));
  if (!Has(root, "source_id")) {
    return KeyError("source_id", "missing source id");
  }
  RETURN_IF_ERROR(internal::ReadString(root, "source_id", "", config.source_id));
  if (!IsValidIdentifier(config.source_id, true)) {
    return KeyError("source_id", fmt::format("source id `{}` is invalid: it must match "
                                             "^[a-zA-Z_][a-zA-Z0-9_.-]{{2,254}}$",
                                             config.source_id));
  }
  if (!Has(root, "source_type")) {
    return KeyError("source_type", "missing source type");
  }
  RETURN_IF_ERROR(internal::ReadString(root, "source_type", "", config.source_type));
  static constexpr std::string_view kSupportedTypes[] = {"ingest-api", "file", "kafka", "vec",
                                                         "void"};
  if (std::find(std::begin(kSupportedTypes), std::end(kSupportedTypes), config.source_type) ==
      std::end(kSupportedTypes)) {
    return KeyError("source_type",
                    fmt::format("source type `{}` is not supported (expected ingest-api, file, "
                                "kafka, vec or void)",
                                config.source_type));
  }
  RETURN_IF_ERROR(internal::ReadBool(root, "enabled", "", config.enabled));
  uint64_t num_pipelines = config.num_pipelines;
  RETURN_IF_ERROR(internal::ReadUint(root, "desired_num_pipelines", "",
                                     std::numeric_limits<uint32_t>::max(), num_pipelines));
  RETURN_IF_ERROR(internal::ReadUint(root, "num_pipelines", "",
                                     std::numeric_limits<uint32_t>::max(), num_pipelines));
  if (num_pipelines == 0) {
    return KeyError("num_pipelines", "must be greater than 0");
  }
  config.num_pipelines = static_cast<uint32_t>(num_pipelines);
  uint64_t unused_max_per_indexer = 1;
  RETURN_IF_ERROR(internal::ReadUint(root, "max_num_pipelines_per_indexer", "",
                                     std::numeric_limits<uint32_t>::max(), unused_max_per_indexer));
  if (Has(root, "params")) {
    if (!root["params"].is_object()) {
      return KeyError("params",
                      fmt::format("expected an object, got {}", Describe(root["params"])));
    }
    config.params = root["params"];
  }
  RETURN_IF_ERROR(internal::ReadString(root, "input_format", "", config.input_format));
  if (config.input_format != "json" && config.input_format != "plain_text") {
    return KeyError("input_format",
                    fmt::format("input format `{}` is not supported (expected json or plain_text)",
                                config.input_format));
  }
  if (Has(root, "transform")) {
    return KeyError("transform", "transforms are not supported yet");
  }
  return config;
}

absl::StatusOr<SourceConfig> ParseSourceConfigJson(std::string_view json_text) {
  ASSIGN_OR_RETURN(json root, internal::ParseJsonText(json_text));
  return SourceConfigFromJson(root);
}

absl::StatusOr<SourceConfig> ParseSourceConfigYaml(std::string_view yaml_text) {
  ASSIGN_OR_RETURN(json root, internal::YamlToJson(yaml_text));
  return SourceConfigFromJson(root);
}

json SourceConfigToJson(const SourceConfig& config) {
  return json{{"version", config.version},
              {"source_id", config.source_id},
              {"source_type", config.source_type},
              {"enabled", config.enabled},
              {"num_pipelines", config.num_pipelines},
              {"params", config.params},
              {"input_format", config.input_format}};
}

}  // namespace shale::config
