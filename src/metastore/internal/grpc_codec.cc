#include "metastore/internal/grpc_codec.h"

#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"

namespace shale::metastore::internal {

absl::StatusOr<nlohmann::json> ParseWireJson(std::string_view text, std::string_view field) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(fmt::format("`{}` is not valid JSON", field));
  }
  return json;
}

absl::StatusOr<IndexMetadata> IndexMetadataFromWire(std::string_view json_text) {
  ASSIGN_OR_RETURN(nlohmann::json json, ParseWireJson(json_text, "index_metadata_json"));
  return IndexMetadataFromJson(json);
}

std::string IndexMetadataToWire(const IndexMetadata& metadata) {
  return DumpJson(IndexMetadataToJson(metadata));
}

absl::StatusOr<config::IndexConfig> IndexConfigFromWire(std::string_view json_text) {
  ASSIGN_OR_RETURN(nlohmann::json json, ParseWireJson(json_text, "index_config_json"));
  return config::IndexConfigFromJson(json);
}

std::string IndexConfigToWire(const config::IndexConfig& config) {
  return DumpJson(config::IndexConfigToJson(config));
}

absl::StatusOr<config::SourceConfig> SourceConfigFromWire(std::string_view json_text) {
  ASSIGN_OR_RETURN(nlohmann::json json, ParseWireJson(json_text, "source_config_json"));
  return config::SourceConfigFromJson(json);
}

std::string SourceConfigToWire(const config::SourceConfig& config) {
  return DumpJson(config::SourceConfigToJson(config));
}

void CheckpointDeltaToProto(const CheckpointDelta& delta, proto::CheckpointDelta* out) {
  out->set_source_id(delta.source_id);
  for (const auto& [partition, positions] : delta.partitions) {
    proto::PartitionDelta& wire = (*out->mutable_partitions())[partition];
    wire.set_from(positions.from);
    wire.set_to(positions.to);
  }
}

CheckpointDelta CheckpointDeltaFromProto(const proto::CheckpointDelta& delta) {
  CheckpointDelta out;
  out.source_id = delta.source_id();
  for (const auto& [partition, positions] : delta.partitions()) {
    out.partitions[partition] = PartitionDelta{positions.from(), positions.to()};
  }
  return out;
}

proto::SplitState SplitStateToProto(SplitState state) {
  switch (state) {
    case SplitState::kStaged:
      return proto::SPLIT_STATE_STAGED;
    case SplitState::kPublished:
      return proto::SPLIT_STATE_PUBLISHED;
    case SplitState::kMarkedForDeletion:
      return proto::SPLIT_STATE_MARKED_FOR_DELETION;
  }
  return proto::SPLIT_STATE_UNSPECIFIED;
}

absl::StatusOr<SplitState> SplitStateFromProto(int state) {
  switch (state) {
    case proto::SPLIT_STATE_STAGED:
      return SplitState::kStaged;
    case proto::SPLIT_STATE_PUBLISHED:
      return SplitState::kPublished;
    case proto::SPLIT_STATE_MARKED_FOR_DELETION:
      return SplitState::kMarkedForDeletion;
    default:
      return absl::InvalidArgumentError(fmt::format("`states`: unknown split state {}", state));
  }
}

void ListSplitsQueryToProto(const ListSplitsQuery& query, proto::ListSplitsRequest* out) {
  for (const std::string& index_uid : query.index_uids) out->add_index_uids(index_uid);
  for (SplitState state : query.states) out->add_states(SplitStateToProto(state));
  if (query.time_range_start_secs.has_value()) {
    out->set_time_range_start(*query.time_range_start_secs);
  }
  if (query.time_range_end_secs.has_value()) out->set_time_range_end(*query.time_range_end_secs);
}

absl::StatusOr<ListSplitsQuery> ListSplitsQueryFromProto(const proto::ListSplitsRequest& request) {
  ListSplitsQuery query;
  query.index_uids.assign(request.index_uids().begin(), request.index_uids().end());
  for (int state : request.states()) {
    ASSIGN_OR_RETURN(SplitState parsed, SplitStateFromProto(state));
    query.states.push_back(parsed);
  }
  if (request.has_time_range_start()) query.time_range_start_secs = request.time_range_start();
  if (request.has_time_range_end()) query.time_range_end_secs = request.time_range_end();
  return query;
}

}  // namespace shale::metastore::internal
