// The leaf search over gRPC (proto/search.proto): the service a searcher node registers on its
// gRPC server, and the LeafClient a root uses to reach a remote searcher.
//
// Status codes cross the wire as they are (a leaf's InvalidArgument stays InvalidArgument at
// the root); a call that fails in transport is Unavailable, a call past its deadline
// DeadlineExceeded. Intermediate aggregations travel in the binary encoding of
// index/aggregation_codec.h.
//
// Thread safety: the service and the client are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

#include "proto/search.grpc.pb.h"
#include "search/leaf_search.h"

namespace shale::search {

// Serves LeafSearch and FetchDocs with `leaf`. Does not take ownership; `leaf` must outlive the
// service (and the server it is registered on).
class LeafSearchGrpcService final : public proto::SearchService::Service {
 public:
  explicit LeafSearchGrpcService(LeafSearcher* leaf) : leaf_(leaf) {}

  grpc::Status LeafSearch(grpc::ServerContext* context, const proto::LeafSearchRequest* request,
                          proto::LeafSearchResponse* response) override;
  grpc::Status FetchDocs(grpc::ServerContext* context, const proto::FetchDocsRequest* request,
                         proto::FetchDocsResponse* response) override;

 private:
  LeafSearcher* const leaf_;
};

// A client of the searcher at `channel`, whose node id `node_id` appears in error messages.
std::unique_ptr<LeafClient> NewGrpcLeafClient(std::string node_id,
                                              std::shared_ptr<grpc::Channel> channel);

// The conversions between the in-process requests and responses and their messages (exposed for
// tests). From* fail with InvalidArgument (requests) or DataLoss (responses) for malformed
// messages: unparsable aggregations, a split without id, a bad status code.
proto::LeafSearchRequest ToProto(const LeafSearchRequest& request);
absl::StatusOr<LeafSearchRequest> FromProto(const proto::LeafSearchRequest& message);
proto::LeafSearchResponse ToProto(const LeafSearchResponse& response);
absl::StatusOr<LeafSearchResponse> FromProto(const proto::LeafSearchResponse& message);
proto::FetchDocsRequest ToProto(const FetchDocsRequest& request);
absl::StatusOr<FetchDocsRequest> FromProto(const proto::FetchDocsRequest& message);
proto::FetchDocsResponse ToProto(const FetchDocsResponse& response);
absl::StatusOr<FetchDocsResponse> FromProto(const proto::FetchDocsResponse& message);

}  // namespace shale::search
