// Shared by the fuzz targets: a doc mapping that uses every field type and option family, and a
// small split built with it.
#pragma once

#include <string>
#include <vector>

#include "index/doc_mapping.h"
#include "index/split_format.h"

namespace shale::fuzz {

inline index::FieldMapping FuzzField(const std::string& name, index::FieldType type,
                                     bool fast = false) {
  index::FieldMapping field;
  field.name = name;
  field.type = type;
  field.fast = fast;
  return field;
}

inline index::DocMapping EveryTypeMapping() {
  using index::FieldType;
  index::DocMapping mapping;
  mapping.mode = index::DocMappingMode::kDynamic;
  mapping.store_document_size = true;
  index::FieldMapping ts = FuzzField("ts", FieldType::kDatetime, true);
  ts.input_formats = {index::DatetimeInputFormat::kRfc3339, index::DatetimeInputFormat::kStrptime,
                      index::DatetimeInputFormat::kUnixTimestamp,
                      index::DatetimeInputFormat::kRfc2822};
  ts.strptime_patterns = {"%d/%b/%Y:%H:%M:%S %z"};
  mapping.field_mappings.push_back(ts);
  index::FieldMapping level = FuzzField("level", FieldType::kText, true);
  level.tokenizer = "raw";
  mapping.field_mappings.push_back(level);
  index::FieldMapping body = FuzzField("body", FieldType::kText);
  body.record = index::IndexRecordOption::kPosition;
  mapping.field_mappings.push_back(body);
  index::FieldMapping code = FuzzField("code", FieldType::kText, true);
  code.tokenizer = "source_code_default";
  code.fast_normalizer = "lowercase";
  mapping.field_mappings.push_back(code);
  mapping.field_mappings.push_back(FuzzField("i", FieldType::kI64, true));
  mapping.field_mappings.push_back(FuzzField("u", FieldType::kU64));
  mapping.field_mappings.push_back(FuzzField("f", FieldType::kF64, true));
  mapping.field_mappings.push_back(FuzzField("b", FieldType::kBool, true));
  mapping.field_mappings.push_back(FuzzField("ip", FieldType::kIp, true));
  index::FieldMapping hash = FuzzField("hash", FieldType::kBytes, true);
  hash.bytes_input_format = index::BytesFormat::kHex;
  mapping.field_mappings.push_back(hash);
  index::FieldMapping attributes = FuzzField("attributes", FieldType::kJson);
  attributes.tokenizer = "raw";
  mapping.field_mappings.push_back(attributes);
  index::FieldMapping resource = FuzzField("resource", FieldType::kObject);
  resource.field_mappings.push_back(FuzzField("service", FieldType::kText, true));
  mapping.field_mappings.push_back(resource);
  index::FieldMapping all = FuzzField("all", FieldType::kConcatenate);
  all.concatenate_fields = {"level", "body", "attributes", "resource.service"};
  all.include_dynamic_fields = true;
  mapping.field_mappings.push_back(all);
  mapping.timestamp_field = "ts";
  mapping.tag_fields = {"level"};
  return mapping;
}

inline std::vector<std::string> SeedDocuments() {
  return {
      R"({"ts":"2024-01-01T00:00:00Z","level":"ERROR","body":"disk full on web-01","i":-5,)"
      R"("u":7,"f":1.5,"b":true,"ip":"10.0.0.1","hash":"00ff","code":"getValueOf",)"
      R"("attributes":{"k":"v","n":3},"resource":{"service":"api"},"extra":"dyn"})",
      R"({"ts":1704067201,"level":"INFO","body":"served request in 12 ms","i":12,"u":3,)"
      R"("f":-2.25,"b":false,"ip":"2001:db8::1","hash":"0a0b0c","resource":{"service":"db"}})",
      R"({"ts":"01/Jan/2024:00:00:02 +0000","level":["WARN","INFO"],"body":"retry retry",)"
      R"("ip":["192.168.1.2","::1"],"tags":["a","b"],"nested":{"x":{"y":1}}})",
  };
}

// A split of SeedDocuments; empty when building fails.
inline std::string BuildSeedSplit() {
  const index::DocMapping mapping = EveryTypeMapping();
  auto processor = index::DocProcessor::Create(mapping);
  auto writer = index::SplitWriter::Create(mapping, index::SplitWriterOptions{});
  if (!processor.ok() || !writer.ok()) return "";
  for (const std::string& doc : SeedDocuments()) {
    auto processed = (*processor)->Process(doc);
    if (processed.ok()) (*writer)->AddDocument(*std::move(processed));
  }
  auto split = (*writer)->Finish();
  return split.ok() ? split->bytes : "";
}

}  // namespace shale::fuzz
