// Client side of the metastore over gRPC: a Metastore whose methods are calls to the
// MetastoreService of the node found by GrpcMetastoreOptions::resolve_address.
//
// Reconnection: the channel reconnects by itself with a short backoff (a restarted metastore
// node keeps its address). After a call failed with Unavailable, the next call asks the resolver
// again, so a metastore service that moved to another node is followed.
#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/json_util.h"
#include "common/status_macros.h"
#include "metastore/grpc_metastore.h"
#include "metastore/internal/grpc_codec.h"
#include "proto/grpc_client.h"

namespace shale::metastore {
namespace {

using Stub = proto::MetastoreService::Stub;

class GrpcMetastore final : public Metastore {
 public:
  explicit GrpcMetastore(GrpcMetastoreOptions options) : options_(std::move(options)) {}

  absl::StatusOr<IndexMetadata> CreateIndex(const config::IndexConfig& config) override {
    proto::CreateIndexRequest request;
    request.set_index_config_json(internal::IndexConfigToWire(config));
    proto::IndexMetadataResponse response;
    RETURN_IF_ERROR(Call("CreateIndex", &Stub::CreateIndex, request, &response));
    return internal::IndexMetadataFromWire(response.index_metadata_json());
  }

  absl::StatusOr<IndexMetadata> GetIndexMetadata(const std::string& index_id) override {
    proto::IndexMetadataRequest request;
    request.set_index_id(index_id);
    proto::IndexMetadataResponse response;
    RETURN_IF_ERROR(Call("IndexMetadata", &Stub::IndexMetadata, request, &response));
    return internal::IndexMetadataFromWire(response.index_metadata_json());
  }

  absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() override {
    proto::ListIndexesMetadataResponse response;
    RETURN_IF_ERROR(Call("ListIndexesMetadata", &Stub::ListIndexesMetadata,
                         proto::ListIndexesMetadataRequest(), &response));
    std::vector<IndexMetadata> indexes;
    indexes.reserve(response.index_metadata_json_size());
    for (const std::string& text : response.index_metadata_json()) {
      ASSIGN_OR_RETURN(IndexMetadata metadata, internal::IndexMetadataFromWire(text));
      indexes.push_back(std::move(metadata));
    }
    return indexes;
  }

  absl::Status DeleteIndex(const std::string& index_uid) override {
    proto::DeleteIndexRequest request;
    request.set_index_uid(index_uid);
    proto::EmptyResponse response;
    return Call("DeleteIndex", &Stub::DeleteIndex, request, &response);
  }

  absl::Status StageSplits(const std::string& index_uid,
                           const std::vector<SplitMetadata>& splits) override {
    proto::StageSplitsRequest request;
    request.set_index_uid(index_uid);
    for (const SplitMetadata& split : splits) {
      request.add_split_metadata_json(DumpJson(SplitMetadataToJson(split)));
    }
    proto::EmptyResponse response;
    return Call("StageSplits", &Stub::StageSplits, request, &response);
  }

  absl::Status PublishSplits(const std::string& index_uid,
                             const std::vector<std::string>& staged_split_ids,
                             const std::vector<std::string>& replaced_split_ids,
                             const std::optional<CheckpointDelta>& checkpoint_delta) override {
    proto::PublishSplitsRequest request;
    request.set_index_uid(index_uid);
    for (const std::string& id : staged_split_ids) request.add_staged_split_ids(id);
    for (const std::string& id : replaced_split_ids) request.add_replaced_split_ids(id);
    if (checkpoint_delta.has_value()) {
      internal::CheckpointDeltaToProto(*checkpoint_delta, request.mutable_checkpoint_delta());
    }
    proto::EmptyResponse response;
    return Call("PublishSplits", &Stub::PublishSplits, request, &response);
  }

  absl::StatusOr<std::vector<Split>> ListSplits(const ListSplitsQuery& query) override {
    proto::ListSplitsRequest request;
    internal::ListSplitsQueryToProto(query, &request);
    proto::ListSplitsResponse response;
    RETURN_IF_ERROR(Call("ListSplits", &Stub::ListSplits, request, &response));
    std::vector<Split> splits;
    splits.reserve(response.split_json_size());
    for (const std::string& text : response.split_json()) {
      ASSIGN_OR_RETURN(nlohmann::json json, internal::ParseWireJson(text, "split_json"));
      ASSIGN_OR_RETURN(Split split, SplitFromJson(json));
      splits.push_back(std::move(split));
    }
    return splits;
  }

  absl::Status MarkSplitsForDeletion(const std::string& index_uid,
                                     const std::vector<std::string>& split_ids) override {
    return Call("MarkSplitsForDeletion", &Stub::MarkSplitsForDeletion,
                SplitIdsRequest(index_uid, split_ids), nullptr);
  }

  absl::Status DeleteSplits(const std::string& index_uid,
                            const std::vector<std::string>& split_ids) override {
    return Call("DeleteSplits", &Stub::DeleteSplits, SplitIdsRequest(index_uid, split_ids),
                nullptr);
  }

  absl::Status AddSource(const std::string& index_uid,
                         const config::SourceConfig& source) override {
    proto::AddSourceRequest request;
    request.set_index_uid(index_uid);
    request.set_source_config_json(internal::SourceConfigToWire(source));
    return Call("AddSource", &Stub::AddSource, request, nullptr);
  }

  absl::Status UpdateSource(const std::string& index_uid,
                            const config::SourceConfig& source) override {
    proto::UpdateSourceRequest request;
    request.set_index_uid(index_uid);
    request.set_source_config_json(internal::SourceConfigToWire(source));
    return Call("UpdateSource", &Stub::UpdateSource, request, nullptr);
  }

  absl::Status ToggleSource(const std::string& index_uid, const std::string& source_id,
                            bool enable) override {
    proto::ToggleSourceRequest request;
    request.set_index_uid(index_uid);
    request.set_source_id(source_id);
    request.set_enable(enable);
    return Call("ToggleSource", &Stub::ToggleSource, request, nullptr);
  }

  absl::Status DeleteSource(const std::string& index_uid, const std::string& source_id) override {
    return Call("DeleteSource", &Stub::DeleteSource, SourceRequest(index_uid, source_id),
                nullptr);
  }

  absl::Status ResetSourceCheckpoint(const std::string& index_uid,
                                     const std::string& source_id) override {
    return Call("ResetSourceCheckpoint", &Stub::ResetSourceCheckpoint,
                SourceRequest(index_uid, source_id), nullptr);
  }

 private:
  struct Connection {
    std::string address;
    std::shared_ptr<Stub> stub;
  };

  static proto::SplitIdsRequest SplitIdsRequest(const std::string& index_uid,
                                                const std::vector<std::string>& split_ids) {
    proto::SplitIdsRequest request;
    request.set_index_uid(index_uid);
    for (const std::string& id : split_ids) request.add_split_ids(id);
    return request;
  }

  static proto::SourceRequest SourceRequest(const std::string& index_uid,
                                            const std::string& source_id) {
    proto::SourceRequest request;
    request.set_index_uid(index_uid);
    request.set_source_id(source_id);
    return request;
  }

  // One call of `method`; `response` may be null for methods answering EmptyResponse.
  template <typename Request, typename Response>
  absl::Status Call(const char* method_name,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, std::type_identity_t<Response>* response) {
    ASSIGN_OR_RETURN(Connection connection, GetConnection(method_name));
    Response ignored;
    grpc::ClientContext context;
    context.set_deadline(::shale::proto::DeadlineIn(options_.call_timeout));
    const grpc::Status status = ((*connection.stub).*method)(
        &context, request, response != nullptr ? response : &ignored);
    if (status.ok()) return absl::OkStatus();
    absl::Status error = ::shale::proto::ClientCallError(
        status, fmt::format("metastore service at {}", connection.address), method_name,
        options_.call_timeout);
    if (error.code() == absl::StatusCode::kUnavailable) {
      absl::MutexLock lock(&mu_);
      resolve_again_ = true;
    }
    return error;
  }

  // The stub for the current metastore address; resolves it on first use and after an
  // Unavailable call. When resolving fails, the last known address is kept.
  absl::StatusOr<Connection> GetConnection(const char* method_name) {
    absl::MutexLock lock(&mu_);
    if (connection_.stub != nullptr && !resolve_again_) return connection_;
    absl::StatusOr<std::string> address = options_.resolve_address();
    if (!address.ok()) {
      if (connection_.stub != nullptr) return connection_;
      return absl::Status(address.status().code(),
                          fmt::format("metastore ({}): {}", method_name,
                                      std::string(address.status().message())));
    }
    resolve_again_ = false;
    if (connection_.stub == nullptr || *address != connection_.address) {
      connection_.address = *address;
      connection_.stub = std::shared_ptr<Stub>(proto::MetastoreService::NewStub(NewChannel(*address)));
    }
    return connection_;
  }

  std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) const {
    grpc::ChannelArguments arguments =
        ::shale::proto::MessageSizeArguments(options_.max_message_bytes);
    const int max_backoff_ms =
        static_cast<int>(std::max<int64_t>(100, absl::ToInt64Milliseconds(options_.max_reconnect_backoff)));
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(100, max_backoff_ms));
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(100, max_backoff_ms));
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  }

  const GrpcMetastoreOptions options_;
  absl::Mutex mu_;
  Connection connection_ ABSL_GUARDED_BY(mu_);
  bool resolve_again_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<Metastore> NewGrpcMetastore(GrpcMetastoreOptions options) {
  return std::make_unique<GrpcMetastore>(std::move(options));
}

}  // namespace shale::metastore
