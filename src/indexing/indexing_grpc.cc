#include "indexing/indexing_grpc.h"

#include <map>
#include <utility>

#include "fmt/format.h"

#include "common/check.h"
#include "proto/grpc_client.h"
#include "proto/grpc_status.h"

namespace shale::indexing {
namespace {

CommitMode CommitModeFromProto(proto::CommitType type) {
  switch (type) {
    case proto::COMMIT_TYPE_WAIT_FOR:
      return CommitMode::kWaitFor;
    case proto::COMMIT_TYPE_FORCE:
      return CommitMode::kForce;
    default:
      return CommitMode::kAuto;
  }
}

proto::CommitType CommitModeToProto(CommitMode mode) {
  switch (mode) {
    case CommitMode::kWaitFor:
      return proto::COMMIT_TYPE_WAIT_FOR;
    case CommitMode::kForce:
      return proto::COMMIT_TYPE_FORCE;
    case CommitMode::kAuto:
      break;
  }
  return proto::COMMIT_TYPE_AUTO;
}

proto::SourcePipelineStatus SourceStateToProto(SourcePipelineState state) {
  switch (state) {
    case SourcePipelineState::kRunning:
      return proto::SOURCE_PIPELINE_STATUS_RUNNING;
    case SourcePipelineState::kIdle:
      return proto::SOURCE_PIPELINE_STATUS_IDLE;
    case SourcePipelineState::kFailed:
      return proto::SOURCE_PIPELINE_STATUS_FAILED;
    case SourcePipelineState::kStopped:
      return proto::SOURCE_PIPELINE_STATUS_STOPPED;
  }
  return proto::SOURCE_PIPELINE_STATUS_RUNNING;
}

absl::StatusOr<SourcePipelineState> SourceStateFromProto(int value) {
  switch (value) {
    case proto::SOURCE_PIPELINE_STATUS_RUNNING:
      return SourcePipelineState::kRunning;
    case proto::SOURCE_PIPELINE_STATUS_IDLE:
      return SourcePipelineState::kIdle;
    case proto::SOURCE_PIPELINE_STATUS_FAILED:
      return SourcePipelineState::kFailed;
    case proto::SOURCE_PIPELINE_STATUS_STOPPED:
      return SourcePipelineState::kStopped;
    default:
      return absl::DataLossError(fmt::format("unknown source pipeline state {}", value));
  }
}

template <typename ProtoMap>
std::map<std::string, typename ProtoMap::mapped_type> ToStdMap(const ProtoMap& map) {
  return std::map<std::string, typename ProtoMap::mapped_type>(map.begin(), map.end());
}

void IngestStatsToProto(const IndexIngestStats& stats, proto::IngestPipelineState& message) {
  message.set_index_id(stats.index_id);
  message.set_index_uid(stats.index_uid);
  message.set_state(stats.state);
  message.set_last_error(stats.last_error);
  message.set_num_restarts(stats.num_restarts);
  message.set_num_commit_failures(stats.num_commit_failures);
  message.set_num_pending_docs(stats.num_pending_docs);
  message.set_num_ingested_docs(stats.num_ingested_docs);
  message.set_num_replayed_docs(stats.num_replayed_docs);
  message.mutable_num_rejected_docs()->insert(stats.num_rejected_docs.begin(),
                                              stats.num_rejected_docs.end());
  message.set_num_published_splits(stats.num_published_splits);
  message.set_wal_disk_usage_bytes(stats.wal_disk_usage_bytes);
  message.set_wal_next_position(stats.wal_next_position);
  message.set_wal_published_checkpoint(stats.published_checkpoint);
  message.set_num_idempotency_keys(stats.num_idempotency_keys);
  message.set_num_idempotent_replays(stats.num_idempotent_replays);
}

IndexIngestStats IngestStatsFromProto(const proto::IngestPipelineState& message) {
  IndexIngestStats stats;
  stats.index_id = message.index_id();
  stats.index_uid = message.index_uid();
  stats.state = message.state();
  stats.last_error = message.last_error();
  stats.num_restarts = message.num_restarts();
  stats.num_commit_failures = message.num_commit_failures();
  stats.num_pending_docs = message.num_pending_docs();
  stats.num_ingested_docs = message.num_ingested_docs();
  stats.num_replayed_docs = message.num_replayed_docs();
  stats.num_rejected_docs = ToStdMap(message.num_rejected_docs());
  stats.num_published_splits = message.num_published_splits();
  stats.wal_disk_usage_bytes = message.wal_disk_usage_bytes();
  stats.wal_next_position = message.wal_next_position();
  stats.published_checkpoint = message.wal_published_checkpoint();
  stats.num_idempotency_keys = message.num_idempotency_keys();
  stats.num_idempotent_replays = message.num_idempotent_replays();
  return stats;
}

void SourceStatsToProto(const SourcePipelineStats& stats, proto::SourcePipelineState& message) {
  message.set_index_id(stats.index_id);
  message.set_index_uid(stats.index_uid);
  message.set_source_id(stats.source_id);
  message.set_source_type(stats.source_type);
  message.set_state(SourceStateToProto(stats.state));
  message.set_last_error(stats.last_error);
  message.set_num_restarts(stats.num_restarts);
  message.set_num_docs_read(stats.num_docs_read);
  message.set_num_ingested_docs(stats.num_ingested_docs);
  message.mutable_num_rejected_docs()->insert(stats.num_rejected_docs.begin(),
                                              stats.num_rejected_docs.end());
  message.set_num_pending_docs(stats.num_pending_docs);
  message.set_num_published_splits(stats.num_published_splits);
  message.set_num_published_docs(stats.num_published_docs);
  message.mutable_checkpoint()->insert(stats.checkpoint.begin(), stats.checkpoint.end());
}

absl::StatusOr<SourcePipelineStats> SourceStatsFromProto(const proto::SourcePipelineState& message) {
  SourcePipelineStats stats;
  stats.index_id = message.index_id();
  stats.index_uid = message.index_uid();
  stats.source_id = message.source_id();
  stats.source_type = message.source_type();
  absl::StatusOr<SourcePipelineState> state = SourceStateFromProto(message.state());
  if (!state.ok()) {
    return absl::DataLossError(fmt::format("pipeline of source {} of index {}: {}",
                                           message.source_id(), message.index_id(),
                                           std::string(state.status().message())));
  }
  stats.state = *state;
  stats.last_error = message.last_error();
  stats.num_restarts = message.num_restarts();
  stats.num_docs_read = message.num_docs_read();
  stats.num_ingested_docs = message.num_ingested_docs();
  stats.num_rejected_docs = ToStdMap(message.num_rejected_docs());
  stats.num_pending_docs = message.num_pending_docs();
  stats.num_published_splits = message.num_published_splits();
  stats.num_published_docs = message.num_published_docs();
  stats.checkpoint = ToStdMap(message.checkpoint());
  return stats;
}

void MergeStatsToProto(const IndexMergeStats& stats, proto::IndexMergeState& message) {
  message.set_index_id(stats.index_id);
  message.set_index_uid(stats.index_uid);
  message.set_num_merges(stats.num_merges);
  message.set_num_replaced_splits(stats.num_replaced_splits);
  message.set_num_merged_docs(stats.num_merged_docs);
  message.set_num_failed_merges(stats.num_failed_merges);
  message.set_num_abandoned_merges(stats.num_abandoned_merges);
  message.set_num_running_merges(stats.num_running_merges);
  message.set_num_deleted_splits(stats.num_deleted_splits);
}

IndexMergeStats MergeStatsFromProto(const proto::IndexMergeState& message) {
  IndexMergeStats stats;
  stats.index_id = message.index_id();
  stats.index_uid = message.index_uid();
  stats.num_merges = message.num_merges();
  stats.num_replaced_splits = message.num_replaced_splits();
  stats.num_merged_docs = message.num_merged_docs();
  stats.num_failed_merges = message.num_failed_merges();
  stats.num_abandoned_merges = message.num_abandoned_merges();
  stats.num_running_merges = message.num_running_merges();
  stats.num_deleted_splits = message.num_deleted_splits();
  return stats;
}

class GrpcIndexingClient final : public IndexingClient {
 public:
  GrpcIndexingClient(std::string node_id, std::string grpc_address, IndexingClientOptions options)
      : node_id_(std::move(node_id)),
        grpc_address_(std::move(grpc_address)),
        options_(options),
        stub_(proto::IndexingService::NewStub(NewChannel(grpc_address_, options_))) {}

  absl::StatusOr<IngestResult> Ingest(const IngestCall& call) override {
    proto::IngestRequest request;
    request.set_index_id(call.index_id);
    request.set_ndjson(call.ndjson);
    request.set_commit(CommitModeToProto(call.commit_mode));
    request.set_detailed_response(call.detailed_response);
    request.set_idempotency_key(call.idempotency_key);
    grpc::ClientContext context;
    context.set_deadline(::shale::proto::DeadlineIn(options_.ingest_timeout));
    proto::IngestResponse response;
    const grpc::Status status = stub_->Ingest(&context, request, &response);
    if (!status.ok()) return CallError("Ingest", options_.ingest_timeout, status);
    IngestResult result;
    result.num_docs_for_processing = response.num_docs_for_processing();
    result.num_ingested_docs = response.num_ingested_docs();
    result.num_rejected_docs = response.num_rejected_docs();
    result.idempotent_replay = response.idempotent_replay();
    for (const proto::ParseFailure& failure : response.parse_failures()) {
      result.parse_failures.push_back(
          {failure.document(), failure.message(), failure.reason(), failure.rejection_reason()});
    }
    return result;
  }

  absl::StatusOr<IndexingState> GetIndexingState() override {
    grpc::ClientContext context;
    context.set_deadline(::shale::proto::DeadlineIn(options_.state_timeout));
    proto::GetIndexingStateResponse response;
    const grpc::Status status =
        stub_->GetIndexingState(&context, proto::GetIndexingStateRequest(), &response);
    if (!status.ok()) return CallError("GetIndexingState", options_.state_timeout, status);
    absl::StatusOr<IndexingState> state = FromProto(response);
    if (!state.ok()) {
      return absl::DataLossError(fmt::format("indexer {} at {} (GetIndexingState): {}", node_id_,
                                             grpc_address_, std::string(state.status().message())));
    }
    return state;
  }

 private:
  static std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                                   const IndexingClientOptions& options) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                     ::shale::proto::MessageSizeArguments(options.max_message_bytes));
  }

  // The remote service's own errors come back unchanged; transport errors (the node cannot be
  // reached, no answer in time) name the node, its address and the method.
  absl::Status CallError(const char* method, absl::Duration timeout,
                         const grpc::Status& status) const {
    return ::shale::proto::ClientCallError(
        status, fmt::format("indexer {} at {}", node_id_, grpc_address_), method, timeout);
  }

  const std::string node_id_;
  const std::string grpc_address_;
  const IndexingClientOptions options_;
  const std::unique_ptr<proto::IndexingService::Stub> stub_;
};

}  // namespace

IndexingState IndexerServices::State() const {
  IndexingState state;
  state.node_id = node_id;
  if (ingest != nullptr) state.ingest_pipelines = ingest->Stats();
  if (sources != nullptr) state.source_pipelines = sources->Stats();
  if (merges != nullptr) state.merges = merges->Stats();
  return state;
}

IndexingGrpcService::IndexingGrpcService(IndexerServices services)
    : services_(std::move(services)) {
  SHALE_CHECK(services_.ingest != nullptr) << "IndexingGrpcService needs the ingest service";
}

grpc::Status IndexingGrpcService::Ingest(grpc::ServerContext* /*context*/,
                                         const proto::IngestRequest* request,
                                         proto::IngestResponse* response) {
  absl::StatusOr<IngestResult> result = services_.ingest->Ingest(
      request->index_id(), request->ndjson(), CommitModeFromProto(request->commit()),
      request->detailed_response(), request->idempotency_key());
  if (!result.ok()) return ::shale::proto::ToGrpcStatus(result.status());
  response->set_num_docs_for_processing(result->num_docs_for_processing);
  response->set_num_ingested_docs(result->num_ingested_docs);
  response->set_num_rejected_docs(result->num_rejected_docs);
  response->set_idempotent_replay(result->idempotent_replay);
  for (const ParseFailure& failure : result->parse_failures) {
    proto::ParseFailure* message = response->add_parse_failures();
    message->set_document(failure.document);
    message->set_message(failure.message);
    message->set_reason(failure.reason);
    message->set_rejection_reason(failure.rejection_reason);
  }
  return grpc::Status::OK;
}

grpc::Status IndexingGrpcService::GetIndexingState(
    grpc::ServerContext* /*context*/, const proto::GetIndexingStateRequest* /*request*/,
    proto::GetIndexingStateResponse* response) {
  *response = ToProto(services_.State());
  return grpc::Status::OK;
}

std::unique_ptr<IndexingClient> NewGrpcIndexingClient(std::string node_id,
                                                      std::string grpc_address,
                                                      IndexingClientOptions options) {
  return std::make_unique<GrpcIndexingClient>(std::move(node_id), std::move(grpc_address),
                                              options);
}

proto::GetIndexingStateResponse ToProto(const IndexingState& state) {
  proto::GetIndexingStateResponse message;
  message.set_node_id(state.node_id);
  for (const IndexIngestStats& stats : state.ingest_pipelines) {
    IngestStatsToProto(stats, *message.add_ingest_pipelines());
  }
  for (const SourcePipelineStats& stats : state.source_pipelines) {
    SourceStatsToProto(stats, *message.add_source_pipelines());
  }
  for (const IndexMergeStats& stats : state.merges) {
    MergeStatsToProto(stats, *message.add_merges());
  }
  return message;
}

absl::StatusOr<IndexingState> FromProto(const proto::GetIndexingStateResponse& message) {
  if (message.node_id().empty()) {
    return absl::DataLossError("indexing state without a node id");
  }
  IndexingState state;
  state.node_id = message.node_id();
  for (const proto::IngestPipelineState& pipeline : message.ingest_pipelines()) {
    state.ingest_pipelines.push_back(IngestStatsFromProto(pipeline));
  }
  for (const proto::SourcePipelineState& pipeline : message.source_pipelines()) {
    absl::StatusOr<SourcePipelineStats> stats = SourceStatsFromProto(pipeline);
    if (!stats.ok()) return stats.status();
    state.source_pipelines.push_back(*std::move(stats));
  }
  for (const proto::IndexMergeState& merges : message.merges()) {
    state.merges.push_back(MergeStatsFromProto(merges));
  }
  return state;
}

}  // namespace shale::indexing
