// JSON forms of splits and index metadata, in Quickwit's shapes (version "0.8"). These are both
// the REST API's split/index bodies and the file-backed metastore's persisted format, so every
// change here must stay readable by the previous version: see docs/format/metastore.md.
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "config/index_config.h"
#include "metastore/metastore.h"
#include "nlohmann/json.hpp"

namespace shale::metastore {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kJsonVersion = "0.8";

absl::Status FieldError(std::string_view object, std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("invalid {}: `{}` {}", object, key, problem));
}

absl::Status RequireObject(const Json& json, std::string_view object) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(fmt::format("invalid {}: expected a json object", object));
  }
  return absl::OkStatus();
}

// Returns the member `key`, or nullptr when absent or null.
const Json* FindMember(const Json& json, std::string_view key) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

absl::StatusOr<std::string> ReadString(const Json& json, std::string_view key,
                                       std::string_view object) {
  const Json* member = FindMember(json, key);
  if (member == nullptr) {
    return FieldError(object, key, "is missing");
  }
  if (!member->is_string()) {
    return FieldError(object, key, "must be a string");
  }
  return member->get<std::string>();
}

absl::StatusOr<std::string> ReadOptionalString(const Json& json, std::string_view key,
                                               std::string_view object) {
  if (FindMember(json, key) == nullptr) {
    return std::string();
  }
  return ReadString(json, key, object);
}

absl::StatusOr<uint64_t> ReadU64(const Json& json, std::string_view key, std::string_view object,
                                 std::optional<uint64_t> default_value = std::nullopt) {
  const Json* member = FindMember(json, key);
  if (member == nullptr) {
    if (default_value.has_value()) {
      return *default_value;
    }
    return FieldError(object, key, "is missing");
  }
  if (!member->is_number_unsigned()) {
    return FieldError(object, key, "must be a non-negative integer");
  }
  return member->get<uint64_t>();
}

absl::StatusOr<int64_t> ReadI64(const Json& json, std::string_view key, std::string_view object,
                                std::optional<int64_t> default_value = std::nullopt) {
  const Json* member = FindMember(json, key);
  if (member == nullptr) {
    if (default_value.has_value()) {
      return *default_value;
    }
    return FieldError(object, key, "is missing");
  }
  if (member->is_number_unsigned()) {
    const auto value = member->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return FieldError(object, key, "is too large");
    }
    return static_cast<int64_t>(value);
  }
  if (!member->is_number_integer()) {
    return FieldError(object, key, "must be an integer");
  }
  return member->get<int64_t>();
}

absl::StatusOr<std::optional<int64_t>> ReadOptionalI64(const Json& json, std::string_view key,
                                                       std::string_view object) {
  if (FindMember(json, key) == nullptr) {
    return std::optional<int64_t>();
  }
  ASSIGN_OR_RETURN(const int64_t value, ReadI64(json, key, object));
  return std::optional<int64_t>(value);
}

// Quickwit's partition_id is a u64; ours is a string so that non-numeric ids survive. Numeric
// ids are written as numbers, others as strings.
Json PartitionIdToJson(const std::string& partition_id) {
  uint64_t value = 0;
  const char* end = partition_id.data() + partition_id.size();
  const auto [ptr, error] = std::from_chars(partition_id.data(), end, value);
  if (!partition_id.empty() && error == std::errc() && ptr == end &&
      std::to_string(value) == partition_id) {
    return value;
  }
  return partition_id;
}

absl::StatusOr<std::string> ReadPartitionId(const Json& json, std::string_view object) {
  const Json* member = FindMember(json, "partition_id");
  if (member == nullptr) {
    return std::string("0");
  }
  if (member->is_number_unsigned()) {
    return std::to_string(member->get<uint64_t>());
  }
  if (member->is_string()) {
    return member->get<std::string>();
  }
  return FieldError(object, "partition_id", "must be a non-negative integer or a string");
}

absl::StatusOr<SplitState> SplitStateFromName(std::string_view name) {
  for (const SplitState state :
       {SplitState::kStaged, SplitState::kPublished, SplitState::kMarkedForDeletion}) {
    if (name == SplitStateName(state)) {
      return state;
    }
  }
  return absl::InvalidArgumentError(fmt::format("invalid split: unknown split_state `{}`", name));
}

absl::StatusOr<SplitMetadata> SplitMetadataFromJsonImpl(const Json& json) {
  constexpr std::string_view kObject = "split metadata";
  RETURN_IF_ERROR(RequireObject(json, kObject));
  SplitMetadata split;
  ASSIGN_OR_RETURN(split.split_id, ReadString(json, "split_id", kObject));
  ASSIGN_OR_RETURN(split.index_uid, ReadString(json, "index_uid", kObject));
  ASSIGN_OR_RETURN(split.source_id, ReadOptionalString(json, "source_id", kObject));
  ASSIGN_OR_RETURN(split.node_id, ReadOptionalString(json, "node_id", kObject));
  ASSIGN_OR_RETURN(split.partition_id, ReadPartitionId(json, kObject));
  ASSIGN_OR_RETURN(split.num_docs, ReadU64(json, "num_docs", kObject));
  ASSIGN_OR_RETURN(split.uncompressed_docs_size_in_bytes,
                   ReadU64(json, "uncompressed_docs_size_in_bytes", kObject, 0));
  ASSIGN_OR_RETURN(split.split_size_bytes, ReadU64(json, "split_size_bytes", kObject, 0));
  if (const Json* time_range = FindMember(json, "time_range"); time_range != nullptr) {
    RETURN_IF_ERROR(RequireObject(*time_range, "split time_range"));
    ASSIGN_OR_RETURN(split.time_range_start_secs, ReadI64(*time_range, "start", "time_range"));
    ASSIGN_OR_RETURN(split.time_range_end_secs, ReadI64(*time_range, "end", "time_range"));
  }
  ASSIGN_OR_RETURN(split.create_timestamp, ReadI64(json, "create_timestamp", kObject, 0));
  // Maturity is stored relative to create_timestamp, like Quickwit. "Mature" reads back as
  // maturity_timestamp 0 (always mature).
  if (const Json* maturity = FindMember(json, "maturity"); maturity != nullptr) {
    RETURN_IF_ERROR(RequireObject(*maturity, "split maturity"));
    ASSIGN_OR_RETURN(const std::string type, ReadString(*maturity, "type", "maturity"));
    if (type == "Immature") {
      ASSIGN_OR_RETURN(const uint64_t period_millis,
                       ReadU64(*maturity, "maturation_period_millis", "maturity"));
      split.maturity_timestamp =
          split.create_timestamp + static_cast<int64_t>(period_millis / 1000);
    } else if (type != "Mature") {
      return FieldError(kObject, "maturity.type", "must be `Mature` or `Immature`");
    }
  }
  if (const Json* tags = FindMember(json, "tags"); tags != nullptr) {
    if (!tags->is_array()) {
      return FieldError(kObject, "tags", "must be an array of strings");
    }
    for (const Json& tag : *tags) {
      if (!tag.is_string()) {
        return FieldError(kObject, "tags", "must be an array of strings");
      }
      split.tags.insert(tag.get<std::string>());
    }
  }
  if (const Json* footer = FindMember(json, "footer_offsets"); footer != nullptr) {
    RETURN_IF_ERROR(RequireObject(*footer, "split footer_offsets"));
    ASSIGN_OR_RETURN(split.footer_start, ReadU64(*footer, "start", "footer_offsets"));
    ASSIGN_OR_RETURN(split.footer_end, ReadU64(*footer, "end", "footer_offsets"));
  }
  ASSIGN_OR_RETURN(split.delete_opstamp, ReadU64(json, "delete_opstamp", kObject, 0));
  ASSIGN_OR_RETURN(const uint64_t num_merge_ops, ReadU64(json, "num_merge_ops", kObject, 0));
  if (num_merge_ops > std::numeric_limits<uint32_t>::max()) {
    return FieldError(kObject, "num_merge_ops", "is too large");
  }
  split.num_merge_ops = static_cast<uint32_t>(num_merge_ops);
  return split;
}

absl::StatusOr<IndexMetadata> IndexMetadataFromJsonImpl(const Json& json) {
  constexpr std::string_view kObject = "index metadata";
  RETURN_IF_ERROR(RequireObject(json, kObject));
  IndexMetadata metadata;
  ASSIGN_OR_RETURN(metadata.index_uid, ReadString(json, "index_uid", kObject));
  const Json* index_config = FindMember(json, "index_config");
  if (index_config == nullptr) {
    return FieldError(kObject, "index_config", "is missing");
  }
  ASSIGN_OR_RETURN(metadata.index_config, config::IndexConfigFromJson(*index_config));
  if (metadata.index_uid.substr(0, metadata.index_uid.find(':')) != metadata.index_id()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid index metadata: index_uid `{}` does not match index_id `{}`",
                    metadata.index_uid, metadata.index_id()));
  }
  ASSIGN_OR_RETURN(metadata.create_timestamp, ReadI64(json, "create_timestamp", kObject, 0));
  if (const Json* checkpoint = FindMember(json, "checkpoint"); checkpoint != nullptr) {
    RETURN_IF_ERROR(RequireObject(*checkpoint, "index checkpoint"));
    for (const auto& [source_id, partitions] : checkpoint->items()) {
      RETURN_IF_ERROR(
          RequireObject(partitions, fmt::format("checkpoint of source `{}`", source_id)));
      SourceCheckpoint& source_checkpoint = metadata.checkpoints[source_id];
      for (const auto& [partition_id, position] : partitions.items()) {
        if (!position.is_string()) {
          return FieldError(kObject, fmt::format("checkpoint.{}.{}", source_id, partition_id),
                            "must be a string");
        }
        source_checkpoint[partition_id] = position.get<std::string>();
      }
    }
  }
  if (const Json* sources = FindMember(json, "sources"); sources != nullptr) {
    if (!sources->is_array()) {
      return FieldError(kObject, "sources", "must be an array");
    }
    for (const Json& source_json : *sources) {
      ASSIGN_OR_RETURN(config::SourceConfig source, config::SourceConfigFromJson(source_json));
      const std::string source_id = source.source_id;
      if (!metadata.sources.emplace(source_id, std::move(source)).second) {
        return FieldError(kObject, "sources", fmt::format("holds source `{}` twice", source_id));
      }
    }
  }
  return metadata;
}

absl::Status JsonExceptionToStatus(const std::exception& error, std::string_view object) {
  return absl::InvalidArgumentError(fmt::format("invalid {}: {}", object, error.what()));
}

}  // namespace

const char* SplitStateName(SplitState state) {
  switch (state) {
    case SplitState::kStaged:
      return "Staged";
    case SplitState::kPublished:
      return "Published";
    case SplitState::kMarkedForDeletion:
      return "MarkedForDeletion";
  }
  return "Unknown";
}

nlohmann::json SplitMetadataToJson(const SplitMetadata& split) {
  Json json = Json::object();
  json["version"] = kJsonVersion;
  json["split_id"] = split.split_id;
  json["index_uid"] = split.index_uid;
  json["partition_id"] = PartitionIdToJson(split.partition_id);
  json["source_id"] = split.source_id;
  json["node_id"] = split.node_id;
  json["num_docs"] = split.num_docs;
  json["uncompressed_docs_size_in_bytes"] = split.uncompressed_docs_size_in_bytes;
  json["split_size_bytes"] = split.split_size_bytes;
  if (split.time_range_start_secs.has_value() && split.time_range_end_secs.has_value()) {
    json["time_range"] = {{"start", *split.time_range_start_secs},
                          {"end", *split.time_range_end_secs}};
  } else {
    json["time_range"] = nullptr;
  }
  json["create_timestamp"] = split.create_timestamp;
  if (split.maturity_timestamp <= split.create_timestamp) {
    json["maturity"] = {{"type", "Mature"}};
  } else {
    json["maturity"] = {
        {"type", "Immature"},
        {"maturation_period_millis",
         static_cast<uint64_t>(split.maturity_timestamp - split.create_timestamp) * 1000}};
  }
  json["tags"] = Json::array();
  for (const std::string& tag : split.tags) {
    json["tags"].push_back(tag);  // std::set: sorted
  }
  json["footer_offsets"] = {{"start", split.footer_start}, {"end", split.footer_end}};
  json["delete_opstamp"] = split.delete_opstamp;
  json["num_merge_ops"] = split.num_merge_ops;
  return json;
}

absl::StatusOr<SplitMetadata> SplitMetadataFromJson(const nlohmann::json& json) {
  try {
    return SplitMetadataFromJsonImpl(json);
  } catch (const nlohmann::json::exception& error) {
    return JsonExceptionToStatus(error, "split metadata");
  }
}

nlohmann::json SplitToJson(const Split& split) {
  Json json = SplitMetadataToJson(split.metadata);
  json["split_state"] = SplitStateName(split.state);
  json["update_timestamp"] = split.update_timestamp;
  if (split.publish_timestamp.has_value()) {
    json["publish_timestamp"] = *split.publish_timestamp;
  } else {
    json["publish_timestamp"] = nullptr;
  }
  return json;
}

absl::StatusOr<Split> SplitFromJson(const nlohmann::json& json) {
  try {
    Split split;
    ASSIGN_OR_RETURN(split.metadata, SplitMetadataFromJsonImpl(json));
    ASSIGN_OR_RETURN(const std::string state_name, ReadString(json, "split_state", "split"));
    ASSIGN_OR_RETURN(split.state, SplitStateFromName(state_name));
    ASSIGN_OR_RETURN(split.update_timestamp, ReadI64(json, "update_timestamp", "split", 0));
    ASSIGN_OR_RETURN(split.publish_timestamp, ReadOptionalI64(json, "publish_timestamp", "split"));
    return split;
  } catch (const nlohmann::json::exception& error) {
    return JsonExceptionToStatus(error, "split");
  }
}

nlohmann::json IndexMetadataToJson(const IndexMetadata& metadata) {
  Json json = Json::object();
  json["version"] = kJsonVersion;
  json["index_uid"] = metadata.index_uid;
  json["index_config"] = config::IndexConfigToJson(metadata.index_config);
  Json checkpoint = Json::object();
  for (const auto& [source_id, partitions] : metadata.checkpoints) {
    Json source_checkpoint = Json::object();
    for (const auto& [partition_id, position] : partitions) {
      source_checkpoint[partition_id] = position;
    }
    checkpoint[source_id] = std::move(source_checkpoint);
  }
  json["checkpoint"] = std::move(checkpoint);
  json["create_timestamp"] = metadata.create_timestamp;
  json["sources"] = Json::array();
  for (const auto& [source_id, source] : metadata.sources) {
    json["sources"].push_back(config::SourceConfigToJson(source));
  }
  return json;
}

absl::StatusOr<IndexMetadata> IndexMetadataFromJson(const nlohmann::json& json) {
  try {
    return IndexMetadataFromJsonImpl(json);
  } catch (const nlohmann::json::exception& error) {
    return JsonExceptionToStatus(error, "index metadata");
  }
}

}  // namespace shale::metastore
