// IndexConfig and SourceConfig: Quickwit's index and source config documents (JSON or YAML),
// parsed and validated. Unknown keys are rejected with an error naming the key path
// (e.g. `doc_mapping.field_mappings[2].tokenzer`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "index/doc_mapping.h"
#include "nlohmann/json.hpp"

namespace shale::config {

struct MergePolicyConfig {
  std::string type = "stable_log";  // stable_log | limit_merge | no_merge
  uint32_t merge_factor = 10;
  uint32_t max_merge_factor = 12;
  uint64_t min_level_num_docs = 100'000;
  int64_t maturation_period_secs = int64_t{48} * 3600;
  uint32_t max_merge_ops = 3;  // limit_merge
};

struct IndexingSettings {
  int64_t commit_timeout_secs = 60;
  uint64_t split_num_docs_target = 10'000'000;
  uint64_t heap_size_bytes = 2'000'000'000;  // resources.heap_size
  int docstore_compression_level = 1;        // zstd level; Quickwit defaults to 8 (docs/adr/014)
  uint32_t docstore_blocksize = 1'000'000;
  MergePolicyConfig merge_policy;
};

struct SearchSettings {
  std::vector<std::string> default_search_fields;
};

struct RetentionPolicy {
  std::string period;               // e.g. "90 days"
  std::string schedule = "hourly";  // hourly | daily | weekly | monthly | yearly | cron
};

struct IndexConfig {
  std::string version = "0.8";
  std::string index_id;
  std::optional<std::string> index_uri;  // filled with {default_index_root_uri}/{index_id} if unset
  index::DocMapping doc_mapping;
  IndexingSettings indexing_settings;
  SearchSettings search_settings;
  std::optional<RetentionPolicy> retention;
};

// index_id must match ^[a-zA-Z][a-zA-Z0-9_.-]{2,254}$. InvalidArgument naming the id otherwise.
absl::Status ValidateIndexId(std::string_view index_id);

// Parse + validate. InvalidArgument naming the key and the problem.
absl::StatusOr<IndexConfig> ParseIndexConfigJson(std::string_view json_text);
absl::StatusOr<IndexConfig> ParseIndexConfigYaml(std::string_view yaml_text);
absl::StatusOr<IndexConfig> IndexConfigFromJson(const nlohmann::json& json);
// Quickwit-shaped JSON (the form GET /api/v1/indexes/{id} returns under "index_config");
// IndexConfigFromJson(IndexConfigToJson(c)) == c.
nlohmann::json IndexConfigToJson(const IndexConfig& config);

struct SourceConfig {
  std::string version = "0.8";
  std::string source_id;
  std::string source_type;  // ingest-api | file | kafka | vec | void
  bool enabled = true;
  uint32_t num_pipelines = 1;
  nlohmann::json params = nlohmann::json::object();
  std::string input_format = "json";
};

absl::StatusOr<SourceConfig> SourceConfigFromJson(const nlohmann::json& json);
// Parse + validate a source config document. InvalidArgument naming the key and the problem.
absl::StatusOr<SourceConfig> ParseSourceConfigJson(std::string_view json_text);
absl::StatusOr<SourceConfig> ParseSourceConfigYaml(std::string_view yaml_text);
nlohmann::json SourceConfigToJson(const SourceConfig& config);

}  // namespace shale::config
