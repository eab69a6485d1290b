// DocProcessor: JSON text → ProcessedDoc, with simdjson's DOM API used through error codes only
// (our code never throws).

#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "index/internal/binary_values.h"
#include "index/internal/bytes_equal.h"
#include "index/internal/datetime.h"
#include "index/internal/encoding.h"
#include "index/internal/processed_doc.h"
#include "index/split_format.h"
#include "simdjson.h"

namespace shale::index {
namespace {

constexpr char kInvalidJsonPayloadUrl[] = "shale.dev/doc_processor/invalid_json";
constexpr char kUnknownFieldPayloadUrl[] = "shale.dev/doc_processor/unknown_field";

// An InvalidArgument marked so that IsInvalidJsonError() recognises it.
absl::Status InvalidJsonError(const std::string& message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kInvalidJsonPayloadUrl, absl::Cord("1"));
  return status;
}

// An InvalidArgument marked so that IsUnknownFieldError() recognises it.
absl::Status UnknownFieldError(const std::string& message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUnknownFieldPayloadUrl, absl::Cord("1"));
  return status;
}

}  // namespace

bool IsInvalidJsonError(const absl::Status& status) {
  return status.GetPayload(kInvalidJsonPayloadUrl).has_value();
}

bool IsUnknownFieldError(const absl::Status& status) {
  return status.GetPayload(kUnknownFieldPayloadUrl).has_value();
}

ProcessedDocs::ProcessedDocs() : impl_(std::make_unique<ProcessedDocsImpl>()) {}
ProcessedDocs::ProcessedDocs(ProcessedDocs&&) noexcept = default;
ProcessedDocs& ProcessedDocs::operator=(ProcessedDocs&&) noexcept = default;
ProcessedDocs::~ProcessedDocs() = default;

size_t ProcessedDocs::size() const { return impl_ ? impl_->docs.size() : 0; }

std::optional<int64_t> ProcessedDocs::timestamp_nanos(size_t i) const {
  return i < size() ? impl_->docs[i].timestamp_nanos : std::nullopt;
}

uint64_t ProcessedDocs::num_bytes(size_t i) const {
  return i < size() ? impl_->docs[i].num_bytes : 0;
}

void ProcessedDocs::RemoveLast() {
  if (empty()) return;
  impl_->docs.pop_back();
  impl_->CutToLastDoc();
}

void ProcessedDocs::Clear() {
  if (!impl_) return;
  impl_->docs.clear();
  impl_->CutToLastDoc();
}

uint64_t ProcessedDocs::capacity_bytes() const {
  if (!impl_) return 0;
  return impl_->docs.capacity() * sizeof(ProcessedDocsImpl::Doc) +
         impl_->values.capacity() * sizeof(internal::LeafValue) + impl_->bytes.capacity() +
         impl_->stored_json.capacity();
}

absl::StatusOr<ProcessedDoc> DocProcessor::Process(std::string_view json_text) const {
  ProcessedDocs docs;
  RETURN_IF_ERROR(ProcessInto(json_text, docs));
  return ProcessedDoc(std::move(docs));
}

namespace {

using internal::EncodeF64;
using internal::EncodeI64;
using internal::LeafOptions;
using simdjson::dom::element;
using simdjson::dom::element_type;

// True when `c` must be escaped in a JSON string: a control character (< 0x20), '"' or '\\'.
// Bytes >= 0x80 never are, so UTF-8 text takes the fast path too.
inline bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The index of the first byte of `text` from `from` on that needs escaping, or text.size().
// Sixteen bytes at a time (SSE2 is part of x86-64), then byte by byte.
inline size_t FindEscape(std::string_view text, size_t from) {
  size_t i = from;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i last_control = _mm_set1_epi8(0x1f);
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    // bytes <= 0x1f, unsigned: max(bytes, 0x1f) == 0x1f.
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(bytes, last_control), last_control);
    const __m128i special = _mm_or_si128(
        control, _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < text.size(); ++i) {
    if (NeedsEscape(static_cast<unsigned char>(text[i]))) return i;
  }
  return text.size();
}

// Appends `text` as a JSON string. Runs of bytes that need no escaping (nearly all of a log
// line) are appended in one go.
void AppendJsonString(std::string_view text, internal::AppendBuffer& out) {
  out.push_back('"');
  size_t run_start = 0;
  while (true) {
    const size_t i = FindEscape(text, run_start);
    out.append(text.data() + run_start, i - run_start);
    if (i == text.size()) break;
    run_start = i + 1;
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        char escape[8];
        const auto result =
            fmt::format_to_n(escape, sizeof(escape), "\\u{:04x}", static_cast<unsigned>(c));
        out.append(escape, result.size);
      }
    }
  }
  out.push_back('"');
}

// Appends `value` as fmt's "{}" writes it.
template <typename T>
void AppendFormatted(T value, internal::AppendBuffer& out) {
  char digits[64];
  const auto result = fmt::format_to_n(digits, sizeof(digits), "{}", value);
  out.append(digits, std::min(result.size, sizeof(digits)));
}

// Appends the JSON text of `value` to `out` (what simdjson::to_string gives, without building a
// string per value; strings are escaped by AppendJsonString).
void AppendElementJson(element value, internal::AppendBuffer& out) {
  switch (value.type()) {
    case element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      simdjson::dom::object object = value.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair field : object) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(field.key, out);
        out.push_back(':');
        AppendElementJson(field.value, out);
      }
      out.push_back('}');
      return;
    }
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      simdjson::dom::array array = value.get_array().value_unsafe();
      for (element child : array) {
        if (!first) out.push_back(',');
        first = false;
        AppendElementJson(child, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::STRING:
      AppendJsonString(value.get_string().value_unsafe(), out);
      return;
    default:
      out += std::string_view(simdjson::to_string(value));
  }
}

// Appends `key` to `out`, with its dots escaped unless `expand_dots`.
void AppendEscapedKey(std::string_view key, bool expand_dots, std::string& out) {
  if (expand_dots || key.find('.') == std::string_view::npos) {
    out.append(key.data(), key.size());
    return;
  }
  for (char c : key) {
    if (c == '.') out.push_back('\\');
    out.push_back(c);
  }
}

// `prefix.key` (at set-up and in error messages; documents build their paths in a scratch string).
std::string JoinPath(std::string_view prefix, std::string_view key, bool expand_dots) {
  std::string path;
  path.reserve(prefix.size() + 1 + key.size());
  path += prefix;
  if (!prefix.empty()) path.push_back('.');
  AppendEscapedKey(key, expand_dots, path);
  return path;
}

std::string Snippet(element value) {
  std::string text = simdjson::to_string(value);
  if (text.size() > 64) {
    text.resize(64);
    text += "...";
  }
  return text;
}

LeafOptions OptionsOf(const FieldMapping& field) {
  LeafOptions options;
  options.indexed = field.indexed;
  options.fast = field.fast;
  options.record_freq = field.record != IndexRecordOption::kBasic;
  options.record_positions = field.record == IndexRecordOption::kPosition;
  options.fieldnorms = field.fieldnorms || field.record != IndexRecordOption::kBasic;
  options.fast_lowercase =
      field.fast_normalizer.has_value() && *field.fast_normalizer == "lowercase";
  options.tokenizer = TokenizerFromName(field.tokenizer).value_or(TokenizerKind::kDefault);
  options.fast_precision = field.fast_precision;
  return options;
}

bool HasFormat(const FieldMapping& field, DatetimeInputFormat format) {
  for (DatetimeInputFormat f : field.input_formats) {
    if (f == format) return true;
  }
  return false;
}

// A field mapping resolved once for all documents: its joined path, its leaf options, its
// children (objects) and the concatenate fields its values also go to.
struct MappedField {
  const FieldMapping* field = nullptr;
  std::string path;
  LeafOptions options;
  std::vector<MappedField> children;
  std::vector<size_t> concatenate_targets;  // indexes into concatenate_targets_
  bool is_timestamp = false;
};

absl::Status DocumentTooLargeError() {
  return absl::InvalidArgumentError(
      "document too large: its paths and texts pass 4 GiB once flattened");
}

class DocProcessorImpl final : public DocProcessor {
 public:
  explicit DocProcessorImpl(const DocMapping& mapping) : mapping_(mapping) {
    dynamic_options_.indexed = mapping_.dynamic_mapping.indexed;
    dynamic_options_.fast = mapping_.dynamic_mapping.fast;
    dynamic_options_.record_freq = mapping_.dynamic_mapping.record != IndexRecordOption::kBasic;
    dynamic_options_.record_positions =
        mapping_.dynamic_mapping.record == IndexRecordOption::kPosition;
    dynamic_options_.fieldnorms = dynamic_options_.record_freq;
    dynamic_options_.tokenizer =
        TokenizerFromName(mapping_.dynamic_mapping.tokenizer).value_or(TokenizerKind::kRaw);
    dynamic_options_.fast_precision = DatetimePrecision::kMicroseconds;
    CollectConcatenateFields(mapping_.field_mappings, "");
    fields_ = ResolveFields(mapping_.field_mappings, "");
  }

  absl::Status ProcessInto(std::string_view json_text, ProcessedDocs& docs) const override {
    thread_local simdjson::dom::parser parser;
    element root;
    simdjson::error_code error = parser.parse(json_text.data(), json_text.size()).get(root);
    if (error != simdjson::SUCCESS) {
      return InvalidJsonError(
          fmt::format("malformed json document: {}", simdjson::error_message(error)));
    }
    simdjson::dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS) {
      return InvalidJsonError("json document is not an object");
    }
    ProcessedDocsImpl& batch = docs.impl();
    // The document is built after the last one; on failure the batch is cut back to it.
    ProcessedDocsImpl::Doc doc;
    doc.num_bytes = json_text.size();
    absl::Status status = BuildDocument(object, json_text, batch, doc);
    if (!status.ok()) {
      batch.CutToLastDoc();
      return status;
    }
    doc.values_end = batch.values.size();
    doc.bytes_end = batch.bytes.size();
    doc.stored_end = batch.stored_json.size();
    batch.docs.push_back(doc);
    return absl::OkStatus();
  }

 private:
  // Appends the leaves and the stored JSON of the document `object` to `batch`; sets its
  // timestamp in `doc`.
  absl::Status BuildDocument(simdjson::dom::object object, std::string_view json_text,
                             ProcessedDocsImpl& batch, ProcessedDocsImpl::Doc& doc) const {
    thread_local std::string path_scratch;
    RETURN_IF_ERROR(
        ProcessMappedObject(object, fields_, "", batch, doc, batch.stored_json, path_scratch));
    if (mapping_.store_document_size) {
      LeafOptions options;
      options.indexed = false;
      options.fast = true;
      if (!batch.AddLeaf(kDocLengthField, FieldType::kU64, options, {}, json_text.size())) {
        return DocumentTooLargeError();
      }
    }
    return absl::OkStatus();
  }

  // A concatenate field: its path and the options of the values indexed under it.
  struct ConcatenateTarget {
    std::string path;
    LeafOptions options;
  };

  void CollectConcatenateFields(const std::vector<FieldMapping>& mappings,
                                const std::string& prefix) {
    for (const FieldMapping& field : mappings) {
      const std::string path = JoinPath(prefix, field.name, false);
      if (field.type == FieldType::kObject) CollectConcatenateFields(field.field_mappings, path);
      if (field.type != FieldType::kConcatenate) continue;
      const size_t target = concatenate_targets_.size();
      ConcatenateTarget concatenate{path, OptionsOf(field)};
      concatenate.options.indexed = true;
      concatenate.options.fast = false;
      concatenate_targets_.push_back(std::move(concatenate));
      for (const std::string& source : field.concatenate_fields) {
        concatenate_by_source_[source].push_back(target);
      }
      if (field.include_dynamic_fields) dynamic_concatenate_targets_.push_back(target);
    }
  }

  // The MappedField tree of `mappings` (after CollectConcatenateFields).
  std::vector<MappedField> ResolveFields(const std::vector<FieldMapping>& mappings,
                                         const std::string& prefix) const {
    std::vector<MappedField> fields;
    fields.reserve(mappings.size());
    for (const FieldMapping& mapping : mappings) {
      MappedField field;
      field.field = &mapping;
      field.path = JoinPath(prefix, mapping.name, false);
      field.options = OptionsOf(mapping);
      if (mapping.type == FieldType::kObject) {
        field.children = ResolveFields(mapping.field_mappings, field.path);
      }
      auto targets = concatenate_by_source_.find(field.path);
      if (targets != concatenate_by_source_.end()) field.concatenate_targets = targets->second;
      field.is_timestamp = mapping.type == FieldType::kDatetime &&
                           mapping_.timestamp_field.has_value() &&
                           *mapping_.timestamp_field == field.path;
      fields.push_back(std::move(field));
    }
    return fields;
  }

  // Indexes every leaf of `value` under each concatenate field of `targets`: strings as text
  // (with the concatenate field's tokenizer), numbers and booleans as typed values.
  absl::Status AddToConcatenateFields(element value, const std::vector<size_t>& targets,
                                      ProcessedDocsImpl& doc, std::string& path) const {
    for (size_t target : targets) {
      const ConcatenateTarget& concatenate = concatenate_targets_[target];
      path.assign(concatenate.path);
      if (!FlattenDynamic(value, path, concatenate.options, false, doc, /*extend_path=*/false)) {
        return DocumentTooLargeError();
      }
    }
    return absl::OkStatus();
  }

  // Appends `{...}` of the mapped object to `stored` (stored fields only) and its leaves to
  // `doc`; sets the timestamp in `entry`. `path` is scratch.
  absl::Status ProcessMappedObject(simdjson::dom::object object,
                                   const std::vector<MappedField>& fields, std::string_view prefix,
                                   ProcessedDocsImpl& doc, ProcessedDocsImpl::Doc& entry,
                                   internal::AppendBuffer& stored, std::string& path) const {
    stored.push_back('{');
    bool first = true;
    // Documents mostly list their keys in the mapping's order: the fields are tried from the
    // one after the last found, round the list.
    size_t next_field = 0;
    for (simdjson::dom::key_value_pair member : object) {
      const MappedField* mapped = nullptr;
      for (size_t tried = 0; tried < fields.size(); ++tried) {
        size_t i = next_field + tried;  // < 2 * fields.size(): next_field <= fields.size()
        if (i >= fields.size()) i -= fields.size();
        if (internal::ShortBytesEqual(fields[i].field->name, member.key)) {
          mapped = &fields[i];
          next_field = i + 1;
          break;
        }
      }
      // `"key":` goes first; taken back below when the value stores nothing.
      const size_t member_start = stored.size();
      if (!first) stored.push_back(',');
      AppendJsonString(member.key, stored);
      stored.push_back(':');
      const size_t value_start = stored.size();
      if (mapped != nullptr) {
        RETURN_IF_ERROR(ProcessMapped(*mapped, member.value, doc, entry, stored, path));
        if (!mapped->concatenate_targets.empty()) {
          RETURN_IF_ERROR(
              AddToConcatenateFields(member.value, mapped->concatenate_targets, doc, path));
        }
      } else if (mapping_.mode == DocMappingMode::kStrict) {
        return UnknownFieldError(
            fmt::format("field `{}` is not declared in the doc mapping (strict mode)",
                        JoinPath(prefix, member.key, false)));
      } else if (mapping_.mode == DocMappingMode::kDynamic) {
        const bool expand_dots = mapping_.dynamic_mapping.expand_dots;
        path.assign(prefix.data(), prefix.size());
        if (!prefix.empty()) path.push_back('.');
        AppendEscapedKey(member.key, expand_dots, path);
        if (!FlattenDynamic(member.value, path, dynamic_options_, expand_dots, doc)) {
          return DocumentTooLargeError();
        }
        if (!dynamic_concatenate_targets_.empty()) {
          RETURN_IF_ERROR(
              AddToConcatenateFields(member.value, dynamic_concatenate_targets_, doc, path));
        }
        if (mapping_.dynamic_mapping.stored && !member.value.is_null()) {
          AppendElementJson(member.value, stored);
        }
      }
      if (stored.size() == value_start) {
        stored.Truncate(member_start);
      } else {
        first = false;
      }
    }
    stored.push_back('}');
    return absl::OkStatus();
  }

  // Converts the value of a mapped field; appends its stored JSON to `stored` (nothing when
  // nothing is stored). `path` is scratch.
  absl::Status ProcessMapped(const MappedField& mapped, element value, ProcessedDocsImpl& doc,
                             ProcessedDocsImpl::Doc& entry, internal::AppendBuffer& stored,
                             std::string& path) const {
    const FieldMapping& field = *mapped.field;
    if (value.is_null()) return absl::OkStatus();
    if (value.is_array()) {
      const size_t array_start = stored.size();
      stored.push_back('[');
      bool first = true;
      simdjson::dom::array array = value.get_array().value_unsafe();
      for (element child : array) {
        const size_t item_start = stored.size();
        if (!first) stored.push_back(',');
        const size_t value_start = stored.size();
        RETURN_IF_ERROR(ProcessMapped(mapped, child, doc, entry, stored, path));
        if (stored.size() == value_start) {
          stored.Truncate(item_start);
        } else {
          first = false;
        }
      }
      if (first) {
        stored.Truncate(array_start);
      } else {
        stored.push_back(']');
      }
      return absl::OkStatus();
    }
    switch (field.type) {
      case FieldType::kObject: {
        simdjson::dom::object object;
        if (value.get_object().get(object) != simdjson::SUCCESS) {
          return TypeError(field, mapped.path, value);
        }
        const size_t object_start = stored.size();
        RETURN_IF_ERROR(
            ProcessMappedObject(object, mapped.children, mapped.path, doc, entry, stored, path));
        if (stored.size() == object_start + 2) stored.Truncate(object_start);  // "{}"
        return absl::OkStatus();
      }
      case FieldType::kConcatenate:
        // Its values come from other fields; a document cannot set it.
        return absl::OkStatus();
      case FieldType::kJson: {
        if (!value.is_object()) return TypeError(field, mapped.path, value);
        path.assign(mapped.path);
        if (!FlattenDynamic(value, path, mapped.options, field.expand_dots, doc)) {
          return DocumentTooLargeError();
        }
        if (field.stored) AppendElementJson(value, stored);
        return absl::OkStatus();
      }
      default:
        break;
    }
    uint64_t leaf_value = 0;
    std::string_view text;
    std::string owned_text;  // ip, bytes: the converted bytes
    RETURN_IF_ERROR(ConvertLeaf(field, mapped.path, value, leaf_value, text, owned_text));
    if (field.stored) {
      switch (field.type) {
        case FieldType::kText:
          AppendJsonString(text, stored);
          break;
        case FieldType::kI64:
          AppendFormatted(internal::DecodeI64(leaf_value), stored);
          break;
        case FieldType::kU64:
          AppendFormatted(leaf_value, stored);
          break;
        case FieldType::kF64:
          AppendFormatted(internal::DecodeF64(leaf_value), stored);
          break;
        case FieldType::kBool:
          stored += leaf_value != 0 ? "true" : "false";
          break;
        case FieldType::kDatetime: {
          thread_local std::string datetime;
          datetime.clear();
          internal::AppendDatetimeJson(internal::DecodeI64(leaf_value), field.output_format,
                                       datetime);
          stored += datetime;
          break;
        }
        case FieldType::kIp:
          AppendJsonString(internal::FormatIp(text), stored);
          break;
        case FieldType::kBytes:
          AppendJsonString(internal::EncodeBytes(text, field.bytes_output_format), stored);
          break;
        default:
          break;
      }
    }
    if (mapped.is_timestamp && !entry.timestamp_nanos.has_value()) {
      entry.timestamp_nanos =
          internal::TruncateNanos(internal::DecodeI64(leaf_value), field.fast_precision);
    }
    if (field.indexed || field.fast) {
      if (!doc.AddLeaf(mapped.path, field.type, mapped.options, text, leaf_value)) {
        return DocumentTooLargeError();
      }
    }
    return absl::OkStatus();
  }

  static absl::Status TypeError(const FieldMapping& field, std::string_view path, element value) {
    return absl::InvalidArgumentError(fmt::format("field `{}` expects a value of type {}, got `{}`",
                                                  path, FieldTypeName(field.type), Snippet(value)));
  }

  // The value of a leaf of `field`: `leaf_value` for numbers, booleans and datetimes; `text` for
  // text (a view of the parsed document), ip and bytes (a view of `owned_text`).
  static absl::Status ConvertLeaf(const FieldMapping& field, std::string_view path, element value,
                                  uint64_t& leaf_value, std::string_view& leaf_text,
                                  std::string& owned_text) {
    const element_type type = value.type();
    const bool is_string = type == element_type::STRING;
    std::string_view text;
    if (is_string) text = value.get_string().value_unsafe();
    switch (field.type) {
      case FieldType::kText:
        if (!is_string) return TypeError(field, path, value);
        leaf_text = text;
        return absl::OkStatus();
      case FieldType::kI64: {
        int64_t result = 0;
        if (type == element_type::INT64) {
          result = value.get_int64().value_unsafe();
        } else if (type == element_type::UINT64) {
          return TypeError(field, path, value);
        } else if (type == element_type::DOUBLE) {
          const double d = value.get_double().value_unsafe();
          if (std::trunc(d) != d || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) {
            return TypeError(field, path, value);
          }
          result = static_cast<int64_t>(d);
        } else if (is_string && field.coerce) {
          auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
          if (ec != std::errc() || ptr != text.data() + text.size()) {
            return TypeError(field, path, value);
          }
        } else {
          return TypeError(field, path, value);
        }
        leaf_value = EncodeI64(result);
        return absl::OkStatus();
      }
      case FieldType::kU64: {
        uint64_t result = 0;
        if (type == element_type::UINT64) {
          result = value.get_uint64().value_unsafe();
        } else if (type == element_type::INT64) {
          const int64_t i = value.get_int64().value_unsafe();
          if (i < 0) return TypeError(field, path, value);
          result = static_cast<uint64_t>(i);
        } else if (type == element_type::DOUBLE) {
          const double d = value.get_double().value_unsafe();
          if (std::trunc(d) != d || d < 0 || d >= 1.8446744073709552e19) {
            return TypeError(field, path, value);
          }
          result = static_cast<uint64_t>(d);
        } else if (is_string && field.coerce) {
          auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
          if (ec != std::errc() || ptr != text.data() + text.size()) {
            return TypeError(field, path, value);
          }
        } else {
          return TypeError(field, path, value);
        }
        leaf_value = result;
        return absl::OkStatus();
      }
      case FieldType::kF64: {
        double result = 0;
        if (type == element_type::DOUBLE || type == element_type::INT64 ||
            type == element_type::UINT64) {
          result = value.get_double().value_unsafe();
        } else if (is_string && field.coerce) {
          auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
          if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(result)) {
            return TypeError(field, path, value);
          }
        } else {
          return TypeError(field, path, value);
        }
        leaf_value = EncodeF64(result);
        return absl::OkStatus();
      }
      case FieldType::kBool: {
        bool result = false;
        if (type == element_type::BOOL) {
          result = value.get_bool().value_unsafe();
        } else if (is_string && field.coerce && (text == "true" || text == "false")) {
          result = text == "true";
        } else {
          return TypeError(field, path, value);
        }
        leaf_value = result ? 1 : 0;
        return absl::OkStatus();
      }
      case FieldType::kDatetime: {
        std::optional<internal::Timestamp> timestamp;
        if (is_string) {
          // Formats are tried in the mapping's order; the first that parses wins.
          size_t pattern_index = 0;
          for (DatetimeInputFormat format : field.input_formats) {
            switch (format) {
              case DatetimeInputFormat::kRfc3339:
                timestamp = internal::ParseRfc3339(text, false);
                break;
              case DatetimeInputFormat::kIso8601:
                timestamp = internal::ParseRfc3339(text, true);
                break;
              case DatetimeInputFormat::kRfc2822:
                timestamp = internal::ParseRfc2822(text);
                break;
              case DatetimeInputFormat::kStrptime:
                if (pattern_index < field.strptime_patterns.size()) {
                  timestamp =
                      internal::ParseStrptime(text, field.strptime_patterns[pattern_index++]);
                }
                break;
              case DatetimeInputFormat::kUnixTimestamp:
                break;
            }
            if (timestamp.has_value()) break;
          }
        } else if (HasFormat(field, DatetimeInputFormat::kUnixTimestamp)) {
          if (type == element_type::INT64) {
            timestamp = internal::UnixTimestampToTimestamp(value.get_int64().value_unsafe());
          } else if (type == element_type::UINT64) {
            const uint64_t u = value.get_uint64().value_unsafe();
            if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
              timestamp = internal::UnixTimestampToTimestamp(static_cast<int64_t>(u));
            }
          } else if (type == element_type::DOUBLE) {
            timestamp = internal::UnixSecondsF64ToTimestamp(value.get_double().value_unsafe());
          }
        }
        if (!timestamp.has_value()) {
          return absl::InvalidArgumentError(fmt::format(
              "field `{}` expects a datetime, could not parse `{}`", path, Snippet(value)));
        }
        const std::optional<int64_t> nanos = internal::ToUnixNanos(*timestamp);
        if (!nanos.has_value()) {
          return absl::InvalidArgumentError(fmt::format(
              "field `{}`: datetime `{}` is out of range (datetimes are nanoseconds since the "
              "epoch, from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16.854775807Z)",
              path, Snippet(value)));
        }
        leaf_value = EncodeI64(*nanos);
        return absl::OkStatus();
      }
      case FieldType::kIp: {
        std::optional<std::string> address =
            is_string ? internal::ParseIp(text) : std::nullopt;
        if (!address.has_value()) {
          return absl::InvalidArgumentError(fmt::format(
              "field `{}` expects an IPv4 or IPv6 address, got `{}`", path, Snippet(value)));
        }
        owned_text = *std::move(address);
        leaf_text = owned_text;
        return absl::OkStatus();
      }
      case FieldType::kBytes: {
        std::optional<std::string> bytes =
            is_string ? internal::DecodeBytes(text, field.bytes_input_format) : std::nullopt;
        if (!bytes.has_value()) {
          return absl::InvalidArgumentError(
              fmt::format("field `{}` expects {} bytes, got `{}`", path,
                          field.bytes_input_format == BytesFormat::kHex ? "hex" : "base64",
                          Snippet(value)));
        }
        owned_text = *std::move(bytes);
        leaf_text = owned_text;
        return absl::OkStatus();
      }
      default:
        return TypeError(field, path, value);
    }
  }

  // Captures every leaf of `value` under `path` with the dynamic (or json field) options. With
  // `extend_path` false, the leaves of nested objects keep `path` (concatenate fields). `path`
  // is extended in place for nested objects and is as given on return. False when the document
  // grows too large (ProcessedDocsImpl::AddLeaf).
  static bool FlattenDynamic(element value, std::string& path, const LeafOptions& options,
                             bool expand_dots, ProcessedDocsImpl& doc, bool extend_path = true) {
    if (!options.indexed && !options.fast) return true;
    FieldType type = FieldType::kText;
    uint64_t leaf_value = 0;
    std::string_view text;
    switch (value.type()) {
      case element_type::NULL_VALUE:
        return true;
      case element_type::ARRAY: {
        simdjson::dom::array array = value.get_array().value_unsafe();
        for (element child : array) {
          if (!FlattenDynamic(child, path, options, expand_dots, doc, extend_path)) return false;
        }
        return true;
      }
      case element_type::OBJECT: {
        simdjson::dom::object object = value.get_object().value_unsafe();
        const size_t path_size = path.size();
        for (simdjson::dom::key_value_pair member : object) {
          if (extend_path) {
            if (path_size != 0) path.push_back('.');
            AppendEscapedKey(member.key, expand_dots, path);
          }
          const bool added =
              FlattenDynamic(member.value, path, options, expand_dots, doc, extend_path);
          path.resize(path_size);
          if (!added) return false;
        }
        return true;
      }
      case element_type::STRING:
        type = FieldType::kText;
        text = value.get_string().value_unsafe();
        break;
      case element_type::INT64:
        type = FieldType::kI64;
        leaf_value = EncodeI64(value.get_int64().value_unsafe());
        break;
      case element_type::UINT64:
        type = FieldType::kU64;
        leaf_value = value.get_uint64().value_unsafe();
        break;
      case element_type::DOUBLE:
        type = FieldType::kF64;
        leaf_value = EncodeF64(value.get_double().value_unsafe());
        break;
      case element_type::BOOL:
        type = FieldType::kBool;
        leaf_value = value.get_bool().value_unsafe() ? 1 : 0;
        break;
    }
    return doc.AddLeaf(path, type, options, text, leaf_value);
  }

  DocMapping mapping_;
  LeafOptions dynamic_options_;
  std::vector<ConcatenateTarget> concatenate_targets_;
  // Source path -> indexes into concatenate_targets_.
  absl::flat_hash_map<std::string, std::vector<size_t>> concatenate_by_source_;
  std::vector<size_t> dynamic_concatenate_targets_;
  // The resolved tree of mapping_.field_mappings (points into mapping_).
  std::vector<MappedField> fields_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DocProcessor>> DocProcessor::Create(const DocMapping& mapping) {
  absl::Status status = ValidateDocMapping(mapping);
  if (!status.ok()) return status;
  return std::unique_ptr<DocProcessor>(std::make_unique<DocProcessorImpl>(mapping));
}

}  // namespace shale::index
