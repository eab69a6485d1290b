// RestApi: Quickwit's `/api/v1/...` routes and the health/metrics endpoints, mapped onto the
// node's services. Status codes map as in STYLE.md (NotFound 404, InvalidArgument 400,
// AlreadyExists 409, FailedPrecondition 412, ResourceExhausted 429, Unavailable 503,
// DeadlineExceeded 504, others 500); error bodies are `{"message": "..."}`.
//
// Thread safety: Handle is called concurrently from the HTTP worker threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"

#include "cluster/membership.h"
#include "config/node_config.h"
#include "indexing/cluster_indexing.h"
#include "indexing/ingest_service.h"
#include "indexing/source_service.h"
#include "indexing/merge_service.h"
#include "metastore/metastore.h"
#include "search/search_service.h"
#include "server/http_server.h"
#include "storage/storage.h"

namespace shale::server {

// The services a node runs; null pointers mean the service is not enabled on this node.
struct NodeServices {
  const config::NodeConfig* config = nullptr;
  metastore::Metastore* metastore = nullptr;
  storage::StorageResolver* storage_resolver = nullptr;
  indexing::IngestService* ingest = nullptr;
  search::SearchService* search = nullptr;
  std::atomic<bool>* ready = nullptr;
  indexing::SourceService* sources = nullptr;  // with the indexer service
  indexing::MergeService* merges = nullptr;
  cluster::ClusterMembership* cluster = nullptr;
};

class RestApi {
 public:
  explicit RestApi(NodeServices services);
  HttpResponse Handle(HttpRequest& request);

 private:
  HttpResponse Route(HttpRequest& request);
  HttpResponse ParseQuery(const HttpRequest& request);
  // GET /api/v1/indexing: the pipelines of every indexer of the cluster, each entry marked with
  // its `node_id`: ingest pipelines (`indexes`: indexes ingested into or recovered since the
  // node started, pending documents, WAL state), source pipelines (`sources`) and merges
  // (`merges`). This node's are read in process, the other indexers' over gRPC; an indexer that
  // does not answer is an entry of `errors` ({node_id, grpc_address, message}).
  HttpResponse IndexingStats();
  // GET /api/v1/cluster: this node's view of the cluster in Quickwit's shape: `ready_nodes`
  // (alive and ready), `live_nodes` (alive, not ready), `dead_nodes`, and the gossip state.
  HttpResponse ClusterInfo();
  HttpResponse CreateIndex(const HttpRequest& request);
  HttpResponse ListIndexes();
  HttpResponse GetIndex(const std::string& index_id);
  HttpResponse DescribeIndex(const std::string& index_id);
  HttpResponse ListSplits(const HttpRequest& request, const std::string& index_id);
  HttpResponse ClearIndex(const std::string& index_id);
  // /api/v1/indexes/{index_id}/sources[/{source_id}[/toggle|/reset-checkpoint]]
  // (rest_api_sources.cc). Source ids starting with `_` (`_ingest-api-source`,
  // `_ingest-source`) are reserved: they cannot be created, updated, toggled, reset or deleted.
  HttpResponse RouteSources(const HttpRequest& request, const std::string& index_id,
                            const std::vector<std::string>& segments);
  HttpResponse CreateSource(const HttpRequest& request, const std::string& index_id);
  HttpResponse ListSources(const std::string& index_id);
  HttpResponse GetSource(const std::string& index_id, const std::string& source_id);
  HttpResponse UpdateSource(const HttpRequest& request, const std::string& index_id,
                            const std::string& source_id);
  HttpResponse ToggleSource(const HttpRequest& request, const std::string& index_id,
                            const std::string& source_id);
  HttpResponse ResetSourceCheckpoint(const std::string& index_id, const std::string& source_id);
  HttpResponse DeleteSource(const std::string& index_id, const std::string& source_id);
  // Makes the node's source pipelines of the index follow the metastore (no-op without the
  // indexer service); a failure is logged, the pipelines catch up at the next sync.
  void SyncSourcePipelines(const std::string& index_id);
  HttpResponse DeleteIndex(const HttpRequest& request, const std::string& index_id);
  HttpResponse Ingest(HttpRequest& request, const std::string& index_id);
  HttpResponse Search(const HttpRequest& request, const std::string& index_id);
  // GET/POST /api/v1/_elastic/{index}/_search: a subset of Elasticsearch's search (query DSL of
  // query/es_query_dsl.h, size, from, aggs) answered in Elasticsearch's response shape.
  HttpResponse ElasticSearch(const HttpRequest& request, const std::string& index_id);

  // Deletes the split files of every split of the index and their records. Returns the deleted
  // files as Quickwit's [{file_name, file_size_bytes}].
  absl::StatusOr<nlohmann::json> DeleteAllSplits(const metastore::IndexMetadata& metadata,
                                                 bool dry_run);

  NodeServices services_;
  // The indexers GET /api/v1/indexing asks (this node's in process, the others over gRPC).
  std::unique_ptr<indexing::ClusterIndexers> indexers_;
};

// Maps a status to its HTTP code.
int HttpStatusFromStatus(const absl::Status& status);
// A JSON error response for `status`.
HttpResponse ErrorResponse(const absl::Status& status);
// A response with `body` serialized (invalid UTF-8 replaced).
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// `{"message": message}` with `status`.
HttpResponse MessageResponse(int status, const std::string& message);

// Inflates a gzip body. InvalidArgument when corrupt, ResourceExhausted when the inflated size
// exceeds `limit_bytes`.
absl::StatusOr<std::string> GunzipBody(std::string_view compressed, uint64_t limit_bytes);

}  // namespace shale::server
