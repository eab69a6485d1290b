// The indexing service over gRPC (proto/indexing.proto): IndexingGrpcService, served by every
// node running the `indexer` service, and the IndexingClient other nodes use to reach it.
//
// `Ingest` is the node's REST ingest (`POST /api/v1/{index}/ingest`) as one call: it calls the
// same IngestService::Ingest, so its counts, its errors (code, message and payloads, through
// proto/grpc_status.h: NotFound for an unknown index, InvalidArgument for a bad idempotency key,
// ResourceExhausted for a full WAL budget, ...) and its acknowledgement (the accepted lines are
// in the WAL, fsynced, before the answer) are those of the REST route. `GetIndexingState` lists
// the node's pipelines as its `GET /api/v1/indexing` shows them.
//
// Thread safety: the service and the clients are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "indexing/ingest_service.h"
#include "indexing/merge_service.h"
#include "indexing/source_pipeline.h"
#include "indexing/source_service.h"
#include "proto/indexing.grpc.pb.h"

namespace shale::indexing {

// The pipelines of one indexer node.
struct IndexingState {
  std::string node_id;
  std::vector<IndexIngestStats> ingest_pipelines;  // one per index ingested into (ingest API)
  std::vector<SourcePipelineStats> source_pipelines;
  std::vector<IndexMergeStats> merges;
};

// The services of an indexer node; a null one contributes nothing. Not owned.
struct IndexerServices {
  std::string node_id;
  IngestService* ingest = nullptr;
  SourceService* sources = nullptr;
  MergeService* merges = nullptr;

  // The node's pipelines now. Cost: one Stats() call of each service.
  IndexingState State() const;
};

struct IngestCall {
  std::string index_id;
  std::string ndjson;  // uncompressed NDJSON lines
  CommitMode commit_mode = CommitMode::kAuto;
  bool detailed_response = false;
  std::string idempotency_key;  // "": not idempotent
};

class IndexingGrpcService final : public proto::IndexingService::Service {
 public:
  // REQUIRES: services.ingest is not null. The services must outlive the server serving this.
  explicit IndexingGrpcService(IndexerServices services);

  grpc::Status Ingest(grpc::ServerContext* context, const proto::IngestRequest* request,
                      proto::IngestResponse* response) override;
  grpc::Status GetIndexingState(grpc::ServerContext* context,
                                const proto::GetIndexingStateRequest* request,
                                proto::GetIndexingStateResponse* response) override;

 private:
  const IndexerServices services_;
};

// A client of one indexer node.
class IndexingClient {
 public:
  virtual ~IndexingClient() = default;
  // The remote IngestService::Ingest's result or error, unchanged. A call that fails in
  // transport is Unavailable, one past IndexingClientOptions::ingest_timeout DeadlineExceeded,
  // both naming the node, its address and the method; the documents of such a call may or may
  // not have been accepted (resend with an idempotency key to be sure).
  virtual absl::StatusOr<IngestResult> Ingest(const IngestCall& call) = 0;
  // The node's pipelines; errors as for Ingest (with state_timeout), DataLoss for a malformed
  // answer.
  virtual absl::StatusOr<IndexingState> GetIndexingState() = 0;
};

struct IndexingClientOptions {
  // Deadline of an Ingest call: commit=wait_for and commit=force wait for the publish, which
  // can take the index's commit_timeout_secs plus the upload.
  absl::Duration ingest_timeout = absl::Minutes(5);
  absl::Duration state_timeout = absl::Seconds(5);
  // Largest message sent or received (`grpc.max_message_size`).
  int64_t max_message_bytes = int64_t{64} * 1024 * 1024;
};

// A client of the IndexingService at `grpc_address` ("host:port") of node `node_id` (for error
// messages), over a channel of its own.
std::unique_ptr<IndexingClient> NewGrpcIndexingClient(std::string node_id,
                                                      std::string grpc_address,
                                                      IndexingClientOptions options = {});

// Conversions between the in-process state and its message (exposed for tests). FromProto
// fails with DataLoss for a message that names no node or holds an unknown pipeline state.
proto::GetIndexingStateResponse ToProto(const IndexingState& state);
absl::StatusOr<IndexingState> FromProto(const proto::GetIndexingStateResponse& message);

}  // namespace shale::indexing
