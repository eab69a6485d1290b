#include "search/leaf_grpc.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "common/status_macros.h"
#include "common/time_util.h"
#include "index/aggregation_codec.h"
#include "proto/grpc_status.h"
#include "query/aggregation_parser.h"

namespace shale::search {
namespace {

constexpr int kMaxStatusCode = static_cast<int>(absl::StatusCode::kUnauthenticated);

grpc::Status ToGrpc(const absl::Status& status) { return ::shale::proto::ToGrpcStatus(status); }

// The status of a failed call, its message prefixed with the searcher and the method. A
// message over the gRPC size limit (gRPC says "... message larger than max (N vs. M)") also
// names the setting that bounds it.
absl::Status FromGrpc(const std::string& node_id, const char* method, const grpc::Status& status) {
  const absl::Status error = ::shale::proto::FromGrpcStatus(status);
  const bool too_large = error.code() == absl::StatusCode::kResourceExhausted &&
                         std::string(error.message()).find("larger than max") != std::string::npos;
  return absl::Status(
      error.code(),
      fmt::format("searcher {}: {}: {}{}", node_id, method, std::string(error.message()),
                  too_large ? " (the message exceeds grpc.max_message_size: ask for fewer hits "
                              "or raise the setting on every node)"
                            : ""));
}

// The error status a message carries (code and message); nullopt when the code is not an error
// code.
std::optional<absl::Status> ErrorFromMessage(int code, const std::string& message) {
  if (code <= 0 || code > kMaxStatusCode) return std::nullopt;
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

absl::Status BadStatusCode(int code) {
  return absl::DataLossError(fmt::format("bad status code {} in a leaf response", code));
}

void SplitLocationToProto(const split::SplitLocation& location, proto::SplitLocation& message) {
  message.set_split_id(location.split_id);
  message.set_split_size_bytes(location.file_size);
  message.set_footer_start(location.footer_start);
  message.set_footer_end(location.footer_end);
}

absl::StatusOr<split::SplitLocation> SplitLocationFromProto(const proto::SplitLocation& message) {
  if (message.split_id().empty()) return absl::InvalidArgumentError("split without an id");
  if (message.footer_start() > message.footer_end()) {
    return absl::InvalidArgumentError(
        fmt::format("split {}: footer_start {} is past footer_end {}", message.split_id(),
                    message.footer_start(), message.footer_end()));
  }
  return split::SplitLocation{message.split_id(), message.split_size_bytes(),
                              message.footer_start(), message.footer_end()};
}

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

proto::LeafSearchRequest ToProto(const LeafSearchRequest& request) {
  proto::LeafSearchRequest message;
  for (const LeafIndexRequest& index : request.indexes) {
    proto::LeafIndexRequest& index_message = *message.add_indexes();
    index_message.set_index_id(index.index_id);
    index_message.set_index_uri(index.index_uri);
    index_message.set_query(index.query);
    for (const std::string& field : index.search_fields) index_message.add_search_fields(field);
    for (const split::SplitLocation& location : index.splits) {
      SplitLocationToProto(location, *index_message.add_splits());
    }
  }
  // The deprecated microsecond bounds too, for leaves of older versions during an upgrade (the
  // root sends whole seconds, so nothing is lost).
  if (request.start_timestamp_nanos.has_value()) {
    message.set_start_timestamp_nanos(*request.start_timestamp_nanos);
    message.set_start_timestamp_micros(FloorDiv(*request.start_timestamp_nanos, kNanosPerMicro));
  }
  if (request.end_timestamp_nanos.has_value()) {
    message.set_end_timestamp_nanos(*request.end_timestamp_nanos);
    message.set_end_timestamp_micros(FloorDiv(*request.end_timestamp_nanos, kNanosPerMicro));
  }
  message.set_top_k(request.top_k);
  for (const index::SortField& field : request.sort_by) {
    proto::SortField& field_message = *message.add_sort_by();
    field_message.set_field(field.field);
    field_message.set_descending(field.order == index::SortOrder::kDesc);
  }
  message.set_count_all(request.count_all);
  if (request.aggregation != nullptr) {
    message.set_aggregations_json(request.aggregation->canonical_json);
  }
  return message;
}

absl::StatusOr<LeafSearchRequest> FromProto(const proto::LeafSearchRequest& message) {
  LeafSearchRequest request;
  for (const proto::LeafIndexRequest& index_message : message.indexes()) {
    LeafIndexRequest& index = request.indexes.emplace_back();
    index.index_id = index_message.index_id();
    index.index_uri = index_message.index_uri();
    index.query = index_message.query();
    index.search_fields.assign(index_message.search_fields().begin(),
                               index_message.search_fields().end());
    for (const proto::SplitLocation& location : index_message.splits()) {
      ASSIGN_OR_RETURN(split::SplitLocation split, SplitLocationFromProto(location));
      index.splits.push_back(std::move(split));
    }
  }
  if (message.has_start_timestamp_nanos()) {
    request.start_timestamp_nanos = message.start_timestamp_nanos();
  } else if (message.has_start_timestamp_micros()) {
    request.start_timestamp_nanos = MicrosToNanosSaturated(message.start_timestamp_micros());
  }
  if (message.has_end_timestamp_nanos()) {
    request.end_timestamp_nanos = message.end_timestamp_nanos();
  } else if (message.has_end_timestamp_micros()) {
    request.end_timestamp_nanos = MicrosToNanosSaturated(message.end_timestamp_micros());
  }
  request.top_k = message.top_k();
  for (const proto::SortField& field : message.sort_by()) {
    request.sort_by.push_back(
        {field.field(), field.descending() ? index::SortOrder::kDesc : index::SortOrder::kAsc});
  }
  request.count_all = message.count_all();
  if (!message.aggregations_json().empty()) {
    const nlohmann::json json =
        nlohmann::json::parse(message.aggregations_json(), nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return absl::InvalidArgumentError("leaf request aggregations are not valid JSON");
    }
    ASSIGN_OR_RETURN(index::AggregationRequest aggregation, query::ParseAggregations(json));
    request.aggregation = std::make_shared<const index::AggregationRequest>(std::move(aggregation));
  }
  return request;
}

proto::LeafSearchResponse ToProto(const LeafSearchResponse& response) {
  proto::LeafSearchResponse message;
  message.set_num_hits(response.num_hits);
  for (const LeafHit& hit : response.hits) {
    proto::PartialHit& hit_message = *message.add_partial_hits();
    hit_message.set_split_id(hit.split_id);
    hit_message.set_doc_id(hit.hit.doc_id);
    hit_message.set_score(hit.hit.score);
    for (const std::optional<uint64_t>& key : hit.hit.sort_keys) {
      proto::SortKey& key_message = *hit_message.add_sort_keys();
      if (key.has_value()) key_message.set_value(*key);
    }
  }
  for (const SplitError& error : response.failed_splits) {
    proto::SplitSearchError& error_message = *message.add_failed_splits();
    error_message.set_split_id(error.split_id);
    error_message.set_code(static_cast<int>(error.status.code()));
    error_message.set_message(std::string(error.status.message()));
  }
  message.set_num_splits_searched(response.num_splits_searched);
  if (response.aggregations.has_value()) {
    message.set_intermediate_aggregations(index::EncodeIntermediateAggs(*response.aggregations));
  }
  return message;
}

absl::StatusOr<LeafSearchResponse> FromProto(const proto::LeafSearchResponse& message) {
  LeafSearchResponse response;
  response.num_hits = message.num_hits();
  response.hits.reserve(message.partial_hits_size());
  for (const proto::PartialHit& hit_message : message.partial_hits()) {
    LeafHit& hit = response.hits.emplace_back();
    hit.split_id = hit_message.split_id();
    hit.hit.doc_id = hit_message.doc_id();
    hit.hit.score = hit_message.score();
    for (const proto::SortKey& key : hit_message.sort_keys()) {
      hit.hit.sort_keys.push_back(key.has_value() ? std::optional<uint64_t>(key.value())
                                                  : std::nullopt);
    }
  }
  for (const proto::SplitSearchError& error_message : message.failed_splits()) {
    std::optional<absl::Status> status =
        ErrorFromMessage(error_message.code(), error_message.message());
    if (!status.has_value()) return BadStatusCode(error_message.code());
    response.failed_splits.push_back({error_message.split_id(), *std::move(status)});
  }
  response.num_splits_searched = message.num_splits_searched();
  if (message.has_intermediate_aggregations()) {
    ASSIGN_OR_RETURN(response.aggregations,
                     index::DecodeIntermediateAggs(message.intermediate_aggregations()));
  }
  return response;
}

proto::FetchDocsRequest ToProto(const FetchDocsRequest& request) {
  proto::FetchDocsRequest message;
  for (const FetchDocsSplit& split : request.splits) {
    proto::FetchDocsSplit& split_message = *message.add_splits();
    split_message.set_index_uri(split.index_uri);
    SplitLocationToProto(split.location, *split_message.mutable_split());
    for (uint32_t doc_id : split.doc_ids) split_message.add_doc_ids(doc_id);
  }
  return message;
}

absl::StatusOr<FetchDocsRequest> FromProto(const proto::FetchDocsRequest& message) {
  FetchDocsRequest request;
  for (const proto::FetchDocsSplit& split_message : message.splits()) {
    FetchDocsSplit& split = request.splits.emplace_back();
    split.index_uri = split_message.index_uri();
    ASSIGN_OR_RETURN(split.location, SplitLocationFromProto(split_message.split()));
    split.doc_ids.assign(split_message.doc_ids().begin(), split_message.doc_ids().end());
  }
  return request;
}

proto::FetchDocsResponse ToProto(const FetchDocsResponse& response) {
  proto::FetchDocsResponse message;
  for (const std::vector<absl::StatusOr<std::string>>& documents : response.documents) {
    proto::FetchedSplitDocs& split_message = *message.add_splits();
    for (const absl::StatusOr<std::string>& document : documents) {
      proto::FetchedDoc& doc_message = *split_message.add_docs();
      if (document.ok()) {
        doc_message.set_doc_json(*document);
      } else {
        doc_message.set_code(static_cast<int>(document.status().code()));
        doc_message.set_message(std::string(document.status().message()));
      }
    }
  }
  return message;
}

absl::StatusOr<FetchDocsResponse> FromProto(const proto::FetchDocsResponse& message) {
  FetchDocsResponse response;
  for (const proto::FetchedSplitDocs& split_message : message.splits()) {
    std::vector<absl::StatusOr<std::string>>& documents = response.documents.emplace_back();
    for (const proto::FetchedDoc& doc_message : split_message.docs()) {
      if (doc_message.code() == 0) {
        documents.emplace_back(doc_message.doc_json());
      } else {
        std::optional<absl::Status> status =
            ErrorFromMessage(doc_message.code(), doc_message.message());
        if (!status.has_value()) return BadStatusCode(doc_message.code());
        documents.emplace_back(*std::move(status));
      }
    }
  }
  return response;
}

grpc::Status LeafSearchGrpcService::LeafSearch(grpc::ServerContext* context,
                                               const proto::LeafSearchRequest* request,
                                               proto::LeafSearchResponse* response) {
  absl::StatusOr<search::LeafSearchRequest> leaf_request = FromProto(*request);
  if (!leaf_request.ok()) return ToGrpc(leaf_request.status());
  leaf_request->deadline = DeadlineOf(*context);
  absl::StatusOr<LeafSearchResponse> result = leaf_->Search(*leaf_request);
  if (!result.ok()) return ToGrpc(result.status());
  *response = ToProto(*result);
  return grpc::Status::OK;
}

grpc::Status LeafSearchGrpcService::FetchDocs(grpc::ServerContext* context,
                                              const proto::FetchDocsRequest* request,
                                              proto::FetchDocsResponse* response) {
  absl::StatusOr<search::FetchDocsRequest> fetch_request = FromProto(*request);
  if (!fetch_request.ok()) return ToGrpc(fetch_request.status());
  fetch_request->deadline = DeadlineOf(*context);
  absl::StatusOr<FetchDocsResponse> result = leaf_->FetchDocs(*fetch_request);
  if (!result.ok()) return ToGrpc(result.status());
  *response = ToProto(*result);
  return grpc::Status::OK;
}

namespace {

class GrpcLeafClient final : public LeafClient {
 public:
  GrpcLeafClient(std::string node_id, std::shared_ptr<grpc::Channel> channel)
      : node_id_(std::move(node_id)), stub_(proto::SearchService::NewStub(std::move(channel))) {}

  absl::StatusOr<LeafSearchResponse> LeafSearch(const LeafSearchRequest& request) override {
    grpc::ClientContext context;
    SetDeadline(context, request.deadline);
    proto::LeafSearchResponse message;
    const grpc::Status status = stub_->LeafSearch(&context, ToProto(request), &message);
    if (!status.ok()) return FromGrpc(node_id_, "leaf search", status);
    return FromProto(message);
  }

  absl::StatusOr<FetchDocsResponse> FetchDocs(const FetchDocsRequest& request) override {
    grpc::ClientContext context;
    SetDeadline(context, request.deadline);
    proto::FetchDocsResponse message;
    const grpc::Status status = stub_->FetchDocs(&context, ToProto(request), &message);
    if (!status.ok()) return FromGrpc(node_id_, "fetch docs", status);
    return FromProto(message);
  }

 private:
  static void SetDeadline(grpc::ClientContext& context, absl::Time deadline) {
    if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
  }

  const std::string node_id_;
  const std::unique_ptr<proto::SearchService::Stub> stub_;
};

}  // namespace

std::unique_ptr<LeafClient> NewGrpcLeafClient(std::string node_id,
                                              std::shared_ptr<grpc::Channel> channel) {
  return std::make_unique<GrpcLeafClient>(std::move(node_id), std::move(channel));
}

}  // namespace shale::search
