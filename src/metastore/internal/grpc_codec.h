// Conversions between the metastore's types and proto/metastore.proto, shared by the gRPC
// service and client (metastore/grpc_metastore.h). Each From* function returns InvalidArgument
// naming the field when the wire data is malformed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "metastore/metastore.h"
#include "nlohmann/json.hpp"
#include "proto/metastore.pb.h"

namespace shale::metastore::internal {

// Parses JSON text carried in the proto field `field`.
absl::StatusOr<nlohmann::json> ParseWireJson(std::string_view text, std::string_view field);

absl::StatusOr<IndexMetadata> IndexMetadataFromWire(std::string_view json_text);
std::string IndexMetadataToWire(const IndexMetadata& metadata);
absl::StatusOr<config::IndexConfig> IndexConfigFromWire(std::string_view json_text);
std::string IndexConfigToWire(const config::IndexConfig& config);
absl::StatusOr<config::SourceConfig> SourceConfigFromWire(std::string_view json_text);
std::string SourceConfigToWire(const config::SourceConfig& config);

void CheckpointDeltaToProto(const CheckpointDelta& delta, proto::CheckpointDelta* out);
CheckpointDelta CheckpointDeltaFromProto(const proto::CheckpointDelta& delta);

proto::SplitState SplitStateToProto(SplitState state);
absl::StatusOr<SplitState> SplitStateFromProto(int state);

void ListSplitsQueryToProto(const ListSplitsQuery& query, proto::ListSplitsRequest* out);
absl::StatusOr<ListSplitsQuery> ListSplitsQueryFromProto(const proto::ListSplitsRequest& request);

}  // namespace shale::metastore::internal
