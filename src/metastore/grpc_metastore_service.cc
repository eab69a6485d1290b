// Server side of the metastore over gRPC: each RPC decodes its request, calls the wrapped
// Metastore and encodes the result; errors go back through proto::ToGrpcStatus.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/json_util.h"
#include "metastore/grpc_metastore.h"
#include "metastore/internal/grpc_codec.h"
#include "proto/grpc_status.h"

namespace shale::metastore {
namespace {

using ::shale::proto::ToGrpcStatus;

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace

grpc::Status MetastoreGrpcService::CreateIndex(grpc::ServerContext* /*context*/,
                                               const proto::CreateIndexRequest* request,
                                               proto::IndexMetadataResponse* response) {
  absl::StatusOr<config::IndexConfig> config =
      internal::IndexConfigFromWire(request->index_config_json());
  if (!config.ok()) return ToGrpcStatus(config.status());
  absl::StatusOr<metastore::IndexMetadata> metadata = metastore_->CreateIndex(*config);
  if (!metadata.ok()) return ToGrpcStatus(metadata.status());
  response->set_index_metadata_json(internal::IndexMetadataToWire(*metadata));
  return grpc::Status::OK;
}

grpc::Status MetastoreGrpcService::IndexMetadata(grpc::ServerContext* /*context*/,
                                                 const proto::IndexMetadataRequest* request,
                                                 proto::IndexMetadataResponse* response) {
  absl::StatusOr<metastore::IndexMetadata> metadata =
      metastore_->GetIndexMetadata(request->index_id());
  if (!metadata.ok()) return ToGrpcStatus(metadata.status());
  response->set_index_metadata_json(internal::IndexMetadataToWire(*metadata));
  return grpc::Status::OK;
}

grpc::Status MetastoreGrpcService::ListIndexesMetadata(
    grpc::ServerContext* /*context*/, const proto::ListIndexesMetadataRequest* /*request*/,
    proto::ListIndexesMetadataResponse* response) {
  absl::StatusOr<std::vector<metastore::IndexMetadata>> indexes = metastore_->ListIndexes();
  if (!indexes.ok()) return ToGrpcStatus(indexes.status());
  for (const metastore::IndexMetadata& metadata : *indexes) {
    response->add_index_metadata_json(internal::IndexMetadataToWire(metadata));
  }
  return grpc::Status::OK;
}

grpc::Status MetastoreGrpcService::DeleteIndex(grpc::ServerContext* /*context*/,
                                               const proto::DeleteIndexRequest* request,
                                               proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(metastore_->DeleteIndex(request->index_uid()));
}

grpc::Status MetastoreGrpcService::StageSplits(grpc::ServerContext* /*context*/,
                                               const proto::StageSplitsRequest* request,
                                               proto::EmptyResponse* /*response*/) {
  std::vector<SplitMetadata> splits;
  splits.reserve(request->split_metadata_json_size());
  for (const std::string& text : request->split_metadata_json()) {
    absl::StatusOr<nlohmann::json> json = internal::ParseWireJson(text, "split_metadata_json");
    if (!json.ok()) return ToGrpcStatus(json.status());
    absl::StatusOr<SplitMetadata> split = SplitMetadataFromJson(*json);
    if (!split.ok()) return ToGrpcStatus(split.status());
    splits.push_back(*std::move(split));
  }
  return ToGrpcStatus(metastore_->StageSplits(request->index_uid(), splits));
}

grpc::Status MetastoreGrpcService::PublishSplits(grpc::ServerContext* /*context*/,
                                                 const proto::PublishSplitsRequest* request,
                                                 proto::EmptyResponse* /*response*/) {
  std::optional<CheckpointDelta> delta;
  if (request->has_checkpoint_delta()) {
    delta = internal::CheckpointDeltaFromProto(request->checkpoint_delta());
  }
  return ToGrpcStatus(metastore_->PublishSplits(request->index_uid(),
                                                Strings(request->staged_split_ids()),
                                                Strings(request->replaced_split_ids()), delta));
}

grpc::Status MetastoreGrpcService::ListSplits(grpc::ServerContext* /*context*/,
                                              const proto::ListSplitsRequest* request,
                                              proto::ListSplitsResponse* response) {
  absl::StatusOr<ListSplitsQuery> query = internal::ListSplitsQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<std::vector<Split>> splits = metastore_->ListSplits(*query);
  if (!splits.ok()) return ToGrpcStatus(splits.status());
  response->mutable_split_json()->Reserve(static_cast<int>(splits->size()));
  for (const Split& split : *splits) {
    response->add_split_json(DumpJson(SplitToJson(split)));
  }
  return grpc::Status::OK;
}

grpc::Status MetastoreGrpcService::MarkSplitsForDeletion(grpc::ServerContext* /*context*/,
                                                         const proto::SplitIdsRequest* request,
                                                         proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(
      metastore_->MarkSplitsForDeletion(request->index_uid(), Strings(request->split_ids())));
}

grpc::Status MetastoreGrpcService::DeleteSplits(grpc::ServerContext* /*context*/,
                                                const proto::SplitIdsRequest* request,
                                                proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(metastore_->DeleteSplits(request->index_uid(), Strings(request->split_ids())));
}

grpc::Status MetastoreGrpcService::AddSource(grpc::ServerContext* /*context*/,
                                             const proto::AddSourceRequest* request,
                                             proto::EmptyResponse* /*response*/) {
  absl::StatusOr<config::SourceConfig> source =
      internal::SourceConfigFromWire(request->source_config_json());
  if (!source.ok()) return ToGrpcStatus(source.status());
  return ToGrpcStatus(metastore_->AddSource(request->index_uid(), *source));
}

grpc::Status MetastoreGrpcService::UpdateSource(grpc::ServerContext* /*context*/,
                                                const proto::UpdateSourceRequest* request,
                                                proto::EmptyResponse* /*response*/) {
  absl::StatusOr<config::SourceConfig> source =
      internal::SourceConfigFromWire(request->source_config_json());
  if (!source.ok()) return ToGrpcStatus(source.status());
  return ToGrpcStatus(metastore_->UpdateSource(request->index_uid(), *source));
}

grpc::Status MetastoreGrpcService::ToggleSource(grpc::ServerContext* /*context*/,
                                                const proto::ToggleSourceRequest* request,
                                                proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(
      metastore_->ToggleSource(request->index_uid(), request->source_id(), request->enable()));
}

grpc::Status MetastoreGrpcService::DeleteSource(grpc::ServerContext* /*context*/,
                                                const proto::SourceRequest* request,
                                                proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(metastore_->DeleteSource(request->index_uid(), request->source_id()));
}

grpc::Status MetastoreGrpcService::ResetSourceCheckpoint(grpc::ServerContext* /*context*/,
                                                         const proto::SourceRequest* request,
                                                         proto::EmptyResponse* /*response*/) {
  return ToGrpcStatus(
      metastore_->ResetSourceCheckpoint(request->index_uid(), request->source_id()));
}

}  // namespace shale::metastore
