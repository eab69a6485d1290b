#include "index/doc_mapping.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"

#include "index/tokenizer.h"

namespace shale::index {

const char* FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kText:
      return "text";
    case FieldType::kI64:
      return "i64";
    case FieldType::kU64:
      return "u64";
    case FieldType::kF64:
      return "f64";
    case FieldType::kBool:
      return "bool";
    case FieldType::kDatetime:
      return "datetime";
    case FieldType::kObject:
      return "object";
    case FieldType::kJson:
      return "json";
    case FieldType::kIp:
      return "ip";
    case FieldType::kBytes:
      return "bytes";
    case FieldType::kConcatenate:
      return "concatenate";
  }
  return "unknown";
}

const char* DocMappingModeName(DocMappingMode mode) {
  switch (mode) {
    case DocMappingMode::kDynamic:
      return "dynamic";
    case DocMappingMode::kLenient:
      return "lenient";
    case DocMappingMode::kStrict:
      return "strict";
  }
  return "unknown";
}

namespace {

// Escapes literal dots of a leaf name so that it can be joined into a path.
std::string EscapeName(const std::string& name) {
  std::string escaped;
  escaped.reserve(name.size());
  for (char c : name) {
    if (c == '.') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return escaped;
}

absl::Status CollectFields(const std::vector<FieldMapping>& mappings, const std::string& prefix,
                           absl::flat_hash_map<std::string, const FieldMapping*>& by_path) {
  absl::flat_hash_set<std::string> names;
  for (const FieldMapping& field : mappings) {
    if (field.name.empty()) {
      return absl::InvalidArgumentError(prefix.empty()
                                            ? std::string("field name must not be empty")
                                            : fmt::format("field name under `{}` must not be empty",
                                                          prefix.substr(0, prefix.size() - 1)));
    }
    const std::string path = prefix + EscapeName(field.name);
    if (!names.insert(field.name).second) {
      return absl::InvalidArgumentError(fmt::format("duplicated field `{}`", path));
    }
    if (field.type == FieldType::kText || field.type == FieldType::kJson ||
        field.type == FieldType::kConcatenate) {
      if (!IsKnownTokenizer(field.tokenizer)) {
        return absl::InvalidArgumentError(
            fmt::format("field `{}` has unknown tokenizer `{}`", path, field.tokenizer));
      }
      if (field.fast_normalizer.has_value() && *field.fast_normalizer != "raw" &&
          *field.fast_normalizer != "lowercase") {
        return absl::InvalidArgumentError(fmt::format("field `{}` has unknown fast normalizer `{}`",
                                                      path, *field.fast_normalizer));
      }
    }
    if (field.type == FieldType::kObject) {
      if (field.field_mappings.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("object field `{}` must declare field mappings", path));
      }
      absl::Status status = CollectFields(field.field_mappings, path + ".", by_path);
      if (!status.ok()) return status;
    }
    by_path[path] = &field;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDocMapping(const DocMapping& mapping) {
  absl::flat_hash_map<std::string, const FieldMapping*> by_path;
  absl::Status status = CollectFields(mapping.field_mappings, "", by_path);
  if (!status.ok()) return status;
  if (!IsKnownTokenizer(mapping.dynamic_mapping.tokenizer)) {
    return absl::InvalidArgumentError(fmt::format("dynamic mapping has unknown tokenizer `{}`",
                                                  mapping.dynamic_mapping.tokenizer));
  }
  for (const auto& [path, field] : by_path) {
    if (field->type != FieldType::kConcatenate) continue;
    if (field->concatenate_fields.empty() && !field->include_dynamic_fields) {
      return absl::InvalidArgumentError(fmt::format(
          "concatenate field `{}` needs concatenate_fields or include_dynamic_fields", path));
    }
    for (const std::string& source : field->concatenate_fields) {
      auto it = by_path.find(source);
      if (it == by_path.end()) {
        return absl::InvalidArgumentError(fmt::format(
            "concatenate field `{}` lists `{}`, which is not declared in the doc mapping", path,
            source));
      }
      if (it->second->type == FieldType::kConcatenate) {
        return absl::InvalidArgumentError(fmt::format(
            "concatenate field `{}` lists `{}`, another concatenate field", path, source));
      }
    }
  }
  if (mapping.timestamp_field.has_value()) {
    const std::string& path = *mapping.timestamp_field;
    auto it = by_path.find(path);
    if (it == by_path.end()) {
      return absl::InvalidArgumentError(
          fmt::format("timestamp field `{}` is not declared in the doc mapping", path));
    }
    if (it->second->type != FieldType::kDatetime) {
      return absl::InvalidArgumentError(
          fmt::format("timestamp field `{}` must be of type datetime, not {}", path,
                      FieldTypeName(it->second->type)));
    }
    if (!it->second->fast) {
      return absl::InvalidArgumentError(
          fmt::format("timestamp field `{}` must be a fast field", path));
    }
  }
  for (const std::string& tag : mapping.tag_fields) {
    auto it = by_path.find(tag);
    if (it == by_path.end()) {
      return absl::InvalidArgumentError(
          fmt::format("tag field `{}` is not declared in the doc mapping", tag));
    }
    const FieldMapping& field = *it->second;
    const bool raw_text = field.type == FieldType::kText && field.tokenizer == "raw";
    if (!raw_text && field.type != FieldType::kI64 && field.type != FieldType::kU64) {
      return absl::InvalidArgumentError(fmt::format(
          "tag field `{}` must be a text field with the raw tokenizer, an i64 or a u64", tag));
    }
  }
  return absl::OkStatus();
}

}  // namespace shale::index
