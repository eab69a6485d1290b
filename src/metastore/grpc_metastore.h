// The metastore over gRPC (proto/metastore.proto): MetastoreGrpcService serves any Metastore on
// the node running the `metastore` service, and NewGrpcMetastore returns a Metastore that the
// other nodes use to reach it. Index metadata, splits and configs travel as the JSON of the
// file-backed metastore (docs/format/metastore.md); errors keep their code, message and payloads
// both ways (proto/grpc_status.h), so a NotFound stays a 404 at the REST API of any node and a
// writer conflict (IsWriterConflict) stays one.
//
// Thread safety: both are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "metastore/metastore.h"
#include "proto/metastore.grpc.pb.h"

namespace shale::metastore {

// Serves `metastore` to the cluster. Malformed JSON in a request is InvalidArgument naming the
// field. Per call: the cost of the wrapped method plus one JSON parse/print of what it carries.
class MetastoreGrpcService final : public proto::MetastoreService::Service {
 public:
  // Does not take ownership: `metastore` must outlive the gRPC server serving this service.
  explicit MetastoreGrpcService(Metastore* metastore) : metastore_(metastore) {}

  grpc::Status CreateIndex(grpc::ServerContext* context, const proto::CreateIndexRequest* request,
                           proto::IndexMetadataResponse* response) override;
  grpc::Status IndexMetadata(grpc::ServerContext* context,
                             const proto::IndexMetadataRequest* request,
                             proto::IndexMetadataResponse* response) override;
  grpc::Status ListIndexesMetadata(grpc::ServerContext* context,
                                   const proto::ListIndexesMetadataRequest* request,
                                   proto::ListIndexesMetadataResponse* response) override;
  grpc::Status DeleteIndex(grpc::ServerContext* context, const proto::DeleteIndexRequest* request,
                           proto::EmptyResponse* response) override;
  grpc::Status StageSplits(grpc::ServerContext* context, const proto::StageSplitsRequest* request,
                           proto::EmptyResponse* response) override;
  grpc::Status PublishSplits(grpc::ServerContext* context,
                             const proto::PublishSplitsRequest* request,
                             proto::EmptyResponse* response) override;
  grpc::Status ListSplits(grpc::ServerContext* context, const proto::ListSplitsRequest* request,
                          proto::ListSplitsResponse* response) override;
  grpc::Status MarkSplitsForDeletion(grpc::ServerContext* context,
                                     const proto::SplitIdsRequest* request,
                                     proto::EmptyResponse* response) override;
  grpc::Status DeleteSplits(grpc::ServerContext* context, const proto::SplitIdsRequest* request,
                            proto::EmptyResponse* response) override;
  grpc::Status AddSource(grpc::ServerContext* context, const proto::AddSourceRequest* request,
                         proto::EmptyResponse* response) override;
  grpc::Status UpdateSource(grpc::ServerContext* context,
                            const proto::UpdateSourceRequest* request,
                            proto::EmptyResponse* response) override;
  grpc::Status ToggleSource(grpc::ServerContext* context,
                            const proto::ToggleSourceRequest* request,
                            proto::EmptyResponse* response) override;
  grpc::Status DeleteSource(grpc::ServerContext* context, const proto::SourceRequest* request,
                            proto::EmptyResponse* response) override;
  grpc::Status ResetSourceCheckpoint(grpc::ServerContext* context,
                                     const proto::SourceRequest* request,
                                     proto::EmptyResponse* response) override;

 private:
  Metastore* const metastore_;
};

struct GrpcMetastoreOptions {
  // Where the metastore service is: "host:port" of a node running it, or an error (Unavailable
  // when no such node is known). Called for the first call and again after a call failed with
  // Unavailable (the node may have moved); when it then fails, the last address is tried again
  // (a restarted node keeps its address and may not be seen alive yet). Must be thread-safe.
  std::function<absl::StatusOr<std::string>()> resolve_address;
  // Deadline of each call; a call past it fails with DeadlineExceeded naming the method. Its
  // effect on the metastore is then unknown, as with any remote write.
  absl::Duration call_timeout = absl::Seconds(30);
  int64_t max_message_bytes = int64_t{64} * 1024 * 1024;
  // Reconnection backoff of the channel after the server went away: a restarted metastore node
  // is reached again at most this long after it listens.
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
};

// A Metastore whose every method is one call to the MetastoreService found by
// `options.resolve_address`. Errors of the remote metastore come back unchanged; a server that
// cannot be reached gives Unavailable naming the address and the method.
std::unique_ptr<Metastore> NewGrpcMetastore(GrpcMetastoreOptions options);

}  // namespace shale::metastore
