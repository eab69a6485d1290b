#include "server/rest_api.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "common/json_util.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "query/aggregation_parser.h"
#include "query/es_query_dsl.h"
#include "query/query_language.h"
#include "split/split_store.h"
#include "server/deployment.h"

namespace shale::server {
namespace {

constexpr char kVersion[] = "0.1.0";

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > start) segments.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return segments;
}

std::vector<std::string> SplitCommaList(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

absl::StatusOr<int64_t> ParseInt(const std::string& name, std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid value `{}` for parameter `{}`: expected an integer", text, name));
  }
  return value;
}

absl::StatusOr<bool> ParseBool(const std::string& name, std::string_view text) {
  if (text == "true" || text == "1" || text.empty()) return true;
  if (text == "false" || text == "0") return false;
  return absl::InvalidArgumentError(
      fmt::format("invalid value `{}` for parameter `{}`: expected true or false", text, name));
}

// A search parameter from either the query string or a JSON body.
class SearchParams {
 public:
  explicit SearchParams(const HttpRequest& request, const nlohmann::json* body)
      : request_(request), body_(body) {}

  // The first of `names` present, as text (numbers and bools rendered), or nullopt.
  absl::StatusOr<std::optional<std::string>> Text(std::initializer_list<const char*> names) const {
    for (const char* name : names) {
      if (body_ != nullptr && body_->contains(name)) {
        const nlohmann::json& value = (*body_)[name];
        if (value.is_null()) continue;
        if (value.is_string()) return value.get<std::string>();
        if (value.is_array()) {
          std::string joined;
          for (const nlohmann::json& item : value) {
            if (!item.is_string()) {
              return absl::InvalidArgumentError(
                  fmt::format("parameter `{}` must be a string or a list of strings", name));
            }
            if (!joined.empty()) joined.push_back(',');
            joined += item.get<std::string>();
          }
          return joined;
        }
        if (value.is_number_integer() || value.is_boolean()) return value.dump();
        return absl::InvalidArgumentError(fmt::format("invalid type for parameter `{}`", name));
      }
      if (const std::string* value = request_.QueryParam(name)) return *value;
    }
    return std::optional<std::string>();
  }

 private:
  const HttpRequest& request_;
  const nlohmann::json* body_;
};

std::string RenderSearchResponse(const search::SearchResponse& response) {
  std::string out;
  out.reserve(128 + response.hits.size() * 256);
  out += "{\"num_hits\":";
  out += std::to_string(response.num_hits);
  out += ",\"hits\":[";
  for (size_t i = 0; i < response.hits.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += response.hits[i];
  }
  out += "]";
  if (!response.snippets.empty()) {
    out += ",\"snippets\":[";
    for (size_t i = 0; i < response.snippets.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += response.snippets[i];
    }
    out += "]";
  }
  out += ",\"elapsed_time_micros\":";
  out += std::to_string(response.elapsed_time_micros);
  out += ",\"errors\":";
  out += DumpJson(nlohmann::json(response.errors));
  if (response.aggregations.has_value()) {
    out += ",\"aggregations\":";
    out += *response.aggregations;
  }
  if (!response.split_placements.empty()) {
    nlohmann::json splits = nlohmann::json::array();
    for (const search::SplitPlacement& placement : response.split_placements) {
      splits.push_back({{"split_id", placement.split_id},
                        {"node_id", placement.node_id.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(placement.node_id)},
                        {"attempts", placement.attempts}});
    }
    out += ",\"debug\":";
    out += DumpJson(nlohmann::json{{"splits", std::move(splits)}});
  }
  out += "}";
  return out;
}

bool IsYaml(const HttpRequest& request) {
  const std::string content_type = request.Header("content-type");
  return content_type.find("yaml") != std::string::npos;
}

}  // namespace

int HttpStatusFromStatus(const absl::Status& status) {
  // A write refused because another process writes the file-backed metastore: a conflict with
  // the server's state, not a bad request.
  if (metastore::IsWriterConflict(status)) {
    return 409;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 412;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.body = DumpJson(body);
  return response;
}

HttpResponse MessageResponse(int status, const std::string& message) {
  return JsonResponse(status, nlohmann::json{{"message", message}});
}

HttpResponse ErrorResponse(const absl::Status& status) {
  return MessageResponse(HttpStatusFromStatus(status), std::string(status.message()));
}

absl::StatusOr<std::string> GunzipBody(std::string_view compressed, uint64_t limit_bytes) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip header.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("cannot initialise gzip decoder");
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  char buffer[64 * 1024];
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    result = inflate(&stream, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) {
      inflateEnd(&stream);
      return absl::InvalidArgumentError("request body is not valid gzip data");
    }
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (out.size() > limit_bytes) {
      inflateEnd(&stream);
      return absl::ResourceExhaustedError(fmt::format(
          "decompressed request body exceeds the limit of {} bytes (ingest_api.content_length_limit)",
          limit_bytes));
    }
    if (result == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return absl::InvalidArgumentError("gzip request body is truncated");
    }
  }
  inflateEnd(&stream);
  return out;
}

RestApi::RestApi(NodeServices services) : services_(services) {
  indexing::IndexerServices local;
  local.node_id = services_.config != nullptr ? services_.config->node_id : "";
  local.ingest = services_.ingest;
  local.sources = services_.sources;
  local.merges = services_.merges;
  indexing::IndexingClientOptions options;
  if (services_.config != nullptr) {
    options.max_message_bytes = static_cast<int64_t>(services_.config->grpc.max_message_size);
  }
  indexers_ = std::make_unique<indexing::ClusterIndexers>(services_.cluster, std::move(local),
                                                          options);
}

HttpResponse RestApi::Handle(HttpRequest& request) {
  static Counter& requests = MetricsRegistry::Global().GetCounter(
      "shale_rest_requests_total", "REST requests handled");
  requests.Increment();
  HttpResponse response = Route(request);
  if (response.status >= 500) {
    SHALE_LOG_WARN("rest request failed method={} path={} status={} body={}", request.method,
                   request.path, response.status, response.body);
  }
  return response;
}

HttpResponse RestApi::Route(HttpRequest& request) {
  const std::vector<std::string> segments = SplitPath(request.path);
  const std::string& method = request.method;
  const size_t n = segments.size();

  if (n == 2 && segments[0] == "health") {
    if (method != "GET") return MessageResponse(405, "method not allowed");
    if (segments[1] == "livez") return JsonResponse(200, true);
    if (segments[1] == "readyz") {
      const bool ready = services_.ready != nullptr && services_.ready->load();
      return JsonResponse(ready ? 200 : 503, ready);
    }
  }
  if (n == 1 && segments[0] == "metrics" && method == "GET") {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = MetricsRegistry::Global().RenderPrometheus();
    return response;
  }
  if (n < 2 || segments[0] != "api" || segments[1] != "v1") {
    return MessageResponse(404, fmt::format("route `{}` not found", request.path));
  }
  // /api/v1/...
  if (n == 3 && segments[2] == "version" && method == "GET") {
    return JsonResponse(200, {{"build",
                               {{"version", kVersion},
                                {"build_profile", SHALE_BUILD_PROFILE},
                                {"build_target", "x86_64-linux-gnu"}}},
                              {"runtime",
                               {{"num_cpus_logical", std::thread::hardware_concurrency()}}}});
  }
  if (n == 3 && segments[2] == "parse-query") {
    if (method != "POST" && method != "GET") return MessageResponse(405, "method not allowed");
    return ParseQuery(request);
  }
  if (n == 3 && segments[2] == "indexing" && method == "GET") return IndexingStats();
  if (n == 3 && segments[2] == "cluster" && method == "GET") return ClusterInfo();
  if (n == 3 && segments[2] == "config" && method == "GET") {
    return JsonResponse(200, config::NodeConfigToJson(*services_.config));
  }
  if (n >= 3 && segments[2] == "indexes") {
    if (n == 3) {
      if (method == "POST") return CreateIndex(request);
      if (method == "GET") return ListIndexes();
      return MessageResponse(405, "method not allowed");
    }
    const std::string& index_id = segments[3];
    if (n == 4) {
      if (method == "GET") return GetIndex(index_id);
      if (method == "DELETE") return DeleteIndex(request, index_id);
      return MessageResponse(405, "method not allowed");
    }
    if (n == 5 && segments[4] == "describe" && method == "GET") return DescribeIndex(index_id);
    if (n == 5 && segments[4] == "splits" && method == "GET") return ListSplits(request, index_id);
    if (n == 5 && segments[4] == "clear" && method == "PUT") return ClearIndex(index_id);
    if (n >= 5 && segments[4] == "sources") return RouteSources(request, index_id, segments);
    return MessageResponse(404, fmt::format("route `{} {}` not found", method, request.path));
  }
  if (n == 4 && segments[3] == "ingest") {
    if (method != "POST") return MessageResponse(405, "method not allowed");
    return Ingest(request, segments[2]);
  }
  if (n == 4 && segments[3] == "search") {
    if (method != "GET" && method != "POST") return MessageResponse(405, "method not allowed");
    return Search(request, segments[2]);
  }
  if (n == 5 && segments[2] == "_elastic" && segments[4] == "_search") {
    if (method != "GET" && method != "POST") return MessageResponse(405, "method not allowed");
    return ElasticSearch(request, segments[3]);
  }
  return MessageResponse(404, fmt::format("route `{} {}` not found", method, request.path));
}

HttpResponse RestApi::ParseQuery(const HttpRequest& request) {
  nlohmann::json body;
  if (request.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return MessageResponse(400, "parse-query request body must be a JSON object");
    }
  }
  auto query = SearchParams(request, body.is_object() ? &body : nullptr).Text({"query"});
  if (!query.ok()) return ErrorResponse(query.status());
  if (!query->has_value()) return MessageResponse(400, "missing required parameter `query`");
  auto ast = query::ParseQueryLanguage(**query);
  if (!ast.ok()) return ErrorResponse(ast.status());
  return JsonResponse(200, query::QueryAstToJson(*ast));
}

HttpResponse RestApi::ClusterInfo() {
  if (services_.cluster == nullptr) {
    return MessageResponse(503, "cluster membership is not running on this node");
  }
  const cluster::ClusterSnapshot snapshot = services_.cluster->Snapshot();
  nlohmann::json ready_nodes = nlohmann::json::array();
  nlohmann::json live_nodes = nlohmann::json::array();
  nlohmann::json dead_nodes = nlohmann::json::array();
  nlohmann::json node_states = nlohmann::json::array();
  for (const cluster::ClusterNode& node : snapshot.nodes) {
    const nlohmann::json id = {{"node_id", node.node_id},
                               {"generation_id", node.generation},
                               {"gossip_advertise_addr", node.gossip_advertise_addr}};
    nlohmann::json entry = id;
    entry["enabled_services"] = node.enabled_services;
    entry["rest_advertise_addr"] = node.rest_advertise_addr;
    entry["grpc_advertise_addr"] = node.grpc_advertise_addr;
    entry["is_ready"] = node.is_ready;
    if (!node.is_alive) {
      dead_nodes.push_back(std::move(entry));
    } else if (node.is_ready) {
      ready_nodes.push_back(std::move(entry));
    } else {
      live_nodes.push_back(std::move(entry));
    }
    nlohmann::json key_values = nlohmann::json::object();
    for (const auto& [key, value] : node.key_values) {
      key_values[key] = {{"value", value.value}, {"version", value.version}};
    }
    node_states.push_back({{"chitchat_id", id},
                           {"heartbeat", node.heartbeat},
                           {"key_values", std::move(key_values)},
                           {"max_version", node.max_version},
                           {"phi", node.phi}});
  }
  return JsonResponse(
      200, {{"cluster_id", snapshot.cluster_id},
            {"self_node_id", snapshot.self_node_id},
            {"ready_nodes", std::move(ready_nodes)},
            {"live_nodes", std::move(live_nodes)},
            {"dead_nodes", std::move(dead_nodes)},
            {"chitchat_state_snapshot",
             {{"node_states", std::move(node_states)}, {"seed_addrs", snapshot.seed_addrs}}}});
}

HttpResponse RestApi::IndexingStats() {
  nlohmann::json indexes = nlohmann::json::array();
  nlohmann::json sources = nlohmann::json::array();
  nlohmann::json merges = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  auto last_error = [](const std::string& error) {
    return error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error);
  };
  for (const indexing::NodeIndexingState& node : indexers_->CollectStates()) {
    if (!node.state.ok()) {
      errors.push_back({{"node_id", node.node_id},
                        {"grpc_address", node.grpc_address},
                        {"message", std::string(node.state.status().message())}});
      continue;
    }
    for (const indexing::IndexIngestStats& stats : node.state->ingest_pipelines) {
      indexes.push_back({{"node_id", node.node_id},
                         {"index_id", stats.index_id},
                         {"index_uid", stats.index_uid},
                         {"source_id", indexing::kIngestApiSourceId},
                         {"state", stats.state},
                         {"last_error", last_error(stats.last_error)},
                         {"num_restarts", stats.num_restarts},
                         {"num_commit_failures", stats.num_commit_failures},
                         {"num_pending_docs", stats.num_pending_docs},
                         {"num_ingested_docs", stats.num_ingested_docs},
                         {"num_replayed_docs", stats.num_replayed_docs},
                         {"num_rejected_docs", stats.num_rejected_docs},
                         {"num_published_splits", stats.num_published_splits},
                         {"wal_disk_usage_bytes", stats.wal_disk_usage_bytes},
                         {"wal_next_position", stats.wal_next_position},
                         {"wal_published_checkpoint", stats.published_checkpoint},
                         {"num_idempotency_keys", stats.num_idempotency_keys},
                         {"num_idempotent_replays", stats.num_idempotent_replays}});
    }
    for (const indexing::SourcePipelineStats& stats : node.state->source_pipelines) {
      sources.push_back({{"node_id", node.node_id},
                         {"index_id", stats.index_id},
                         {"index_uid", stats.index_uid},
                         {"source_id", stats.source_id},
                         {"source_type", stats.source_type},
                         {"state", indexing::SourcePipelineStateName(stats.state)},
                         {"last_error", last_error(stats.last_error)},
                         {"num_restarts", stats.num_restarts},
                         {"num_docs_read", stats.num_docs_read},
                         {"num_ingested_docs", stats.num_ingested_docs},
                         {"num_rejected_docs", stats.num_rejected_docs},
                         {"num_pending_docs", stats.num_pending_docs},
                         {"num_published_splits", stats.num_published_splits},
                         {"num_published_docs", stats.num_published_docs},
                         {"checkpoint", stats.checkpoint}});
    }
    for (const indexing::IndexMergeStats& stats : node.state->merges) {
      merges.push_back({{"node_id", node.node_id},
                        {"index_id", stats.index_id},
                        {"index_uid", stats.index_uid},
                        {"num_merges", stats.num_merges},
                        {"num_replaced_splits", stats.num_replaced_splits},
                        {"num_merged_docs", stats.num_merged_docs},
                        {"num_failed_merges", stats.num_failed_merges},
                        {"num_abandoned_merges", stats.num_abandoned_merges},
                        {"num_running_merges", stats.num_running_merges},
                        {"num_deleted_splits", stats.num_deleted_splits}});
    }
  }
  return JsonResponse(200, nlohmann::json{{"indexes", std::move(indexes)},
                                          {"sources", std::move(sources)},
                                          {"merges", std::move(merges)},
                                          {"errors", std::move(errors)}});
}

HttpResponse RestApi::CreateIndex(const HttpRequest& request) {
  if (services_.metastore == nullptr) {
    return MessageResponse(503, "metastore service is not available on this node");
  }
  absl::StatusOr<config::IndexConfig> parsed = IsYaml(request)
                                                   ? config::ParseIndexConfigYaml(request.body)
                                                   : config::ParseIndexConfigJson(request.body);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  config::IndexConfig index_config = std::move(parsed).value();
  auto root = Uri::Parse(services_.config->default_index_root_uri);
  if (!root.ok()) return ErrorResponse(root.status());
  if (!index_config.index_uri.has_value()) {
    index_config.index_uri = root->Join(index_config.index_id).str();
  } else {
    auto index_uri = Uri::Parse(*index_config.index_uri);
    if (!index_uri.ok()) return ErrorResponse(index_uri.status());
    if (index_uri->protocol() == Uri::Protocol::kPostgres) {
      return MessageResponse(400, fmt::format("index_uri `{}` must be a storage uri",
                                              *index_config.index_uri));
    }
    if (index_uri->protocol() == Uri::Protocol::kFile &&
        (root->protocol() != Uri::Protocol::kFile ||
         (index_uri->path() != root->path() &&
          index_uri->path().rfind(root->path() + "/", 0) != 0))) {
      return MessageResponse(
          400, fmt::format("index_uri `{}` is outside the index root `{}` (default_index_root_uri)",
                           *index_config.index_uri, root->str()));
    }
    index_config.index_uri = index_uri->str();
  }
  if (services_.cluster != nullptr) {
    const absl::Status shared = CheckSharedIndexStorage(
        index_config.index_id, *index_config.index_uri, LiveSearchers(*services_.cluster));
    if (!shared.ok()) return ErrorResponse(shared);
  }
  const std::string* overwrite = request.QueryParam("overwrite");
  if (overwrite != nullptr && *overwrite == "true") {
    auto existing = services_.metastore->GetIndexMetadata(index_config.index_id);
    if (existing.ok()) {
      if (services_.sources != nullptr) services_.sources->StopIndex(index_config.index_id);
      auto deleted = DeleteAllSplits(*existing, /*dry_run=*/false);
      if (!deleted.ok()) return ErrorResponse(deleted.status());
      if (auto status = services_.metastore->DeleteIndex(existing->index_uid); !status.ok()) {
        return ErrorResponse(status);
      }
    }
  }
  auto created = services_.metastore->CreateIndex(index_config);
  if (!created.ok()) return ErrorResponse(created.status());
  SHALE_LOG_INFO("index created index_id={} index_uid={}", index_config.index_id,
                 created->index_uid);
  return JsonResponse(200, metastore::IndexMetadataToJson(*created));
}

HttpResponse RestApi::ListIndexes() {
  auto indexes = services_.metastore->ListIndexes();
  if (!indexes.ok()) return ErrorResponse(indexes.status());
  nlohmann::json out = nlohmann::json::array();
  for (const metastore::IndexMetadata& metadata : *indexes) {
    out.push_back(metastore::IndexMetadataToJson(metadata));
  }
  return JsonResponse(200, out);
}

HttpResponse RestApi::GetIndex(const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  return JsonResponse(200, metastore::IndexMetadataToJson(*metadata));
}

HttpResponse RestApi::DescribeIndex(const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  metastore::ListSplitsQuery query;
  query.index_uids = {metadata->index_uid};
  query.states = {metastore::SplitState::kPublished};
  auto splits = services_.metastore->ListSplits(query);
  if (!splits.ok()) return ErrorResponse(splits.status());
  uint64_t num_docs = 0;
  uint64_t size_splits = 0;
  uint64_t size_docs = 0;
  std::optional<int64_t> min_timestamp;
  std::optional<int64_t> max_timestamp;
  for (const metastore::Split& split : *splits) {
    num_docs += split.metadata.num_docs;
    size_splits += split.metadata.split_size_bytes;
    size_docs += split.metadata.uncompressed_docs_size_in_bytes;
    if (split.metadata.time_range_start_secs.has_value()) {
      min_timestamp = min_timestamp.has_value()
                          ? std::min(*min_timestamp, *split.metadata.time_range_start_secs)
                          : *split.metadata.time_range_start_secs;
    }
    if (split.metadata.time_range_end_secs.has_value()) {
      max_timestamp = max_timestamp.has_value()
                          ? std::max(*max_timestamp, *split.metadata.time_range_end_secs)
                          : *split.metadata.time_range_end_secs;
    }
  }
  const config::IndexConfig& index_config = metadata->index_config;
  nlohmann::json out = {
      {"index_id", index_config.index_id},
      {"index_uri", index_config.index_uri.value_or("")},
      {"num_published_splits", splits->size()},
      {"size_published_splits", size_splits},
      {"num_published_docs", num_docs},
      {"size_published_docs_uncompressed", size_docs},
      {"timestamp_field_name", index_config.doc_mapping.timestamp_field.has_value()
                                   ? nlohmann::json(*index_config.doc_mapping.timestamp_field)
                                   : nlohmann::json(nullptr)},
      {"min_timestamp", min_timestamp.has_value() ? nlohmann::json(*min_timestamp) : nullptr},
      {"max_timestamp", max_timestamp.has_value() ? nlohmann::json(*max_timestamp) : nullptr},
  };
  return JsonResponse(200, out);
}

HttpResponse RestApi::ListSplits(const HttpRequest& request, const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  metastore::ListSplitsQuery query;
  query.index_uids = {metadata->index_uid};
  if (const std::string* states = request.QueryParam("split_states")) {
    for (const std::string& state : SplitCommaList(*states)) {
      if (state == "Staged") {
        query.states.push_back(metastore::SplitState::kStaged);
      } else if (state == "Published") {
        query.states.push_back(metastore::SplitState::kPublished);
      } else if (state == "MarkedForDeletion") {
        query.states.push_back(metastore::SplitState::kMarkedForDeletion);
      } else {
        return MessageResponse(400, fmt::format("unknown split state `{}` (expected Staged, "
                                                "Published or MarkedForDeletion)",
                                                state));
      }
    }
  }
  if (const std::string* start = request.QueryParam("start_timestamp")) {
    auto value = ParseInt("start_timestamp", *start);
    if (!value.ok()) return ErrorResponse(value.status());
    query.time_range_start_secs = *value;
  }
  if (const std::string* end = request.QueryParam("end_timestamp")) {
    auto value = ParseInt("end_timestamp", *end);
    if (!value.ok()) return ErrorResponse(value.status());
    query.time_range_end_secs = *value;
  }
  int64_t offset = 0;
  int64_t limit = std::numeric_limits<int64_t>::max();
  if (const std::string* text = request.QueryParam("offset")) {
    auto value = ParseInt("offset", *text);
    if (!value.ok()) return ErrorResponse(value.status());
    offset = std::max<int64_t>(0, *value);
  }
  if (const std::string* text = request.QueryParam("limit")) {
    auto value = ParseInt("limit", *text);
    if (!value.ok()) return ErrorResponse(value.status());
    limit = std::max<int64_t>(0, *value);
  }
  auto splits = services_.metastore->ListSplits(query);
  if (!splits.ok()) return ErrorResponse(splits.status());
  nlohmann::json list = nlohmann::json::array();
  for (int64_t i = offset; i < static_cast<int64_t>(splits->size()) && i - offset < limit; ++i) {
    list.push_back(metastore::SplitToJson((*splits)[static_cast<size_t>(i)]));
  }
  const size_t size = list.size();
  return JsonResponse(200, {{"offset", offset}, {"size", size}, {"splits", std::move(list)}});
}

absl::StatusOr<nlohmann::json> RestApi::DeleteAllSplits(const metastore::IndexMetadata& metadata,
                                                        bool dry_run) {
  metastore::ListSplitsQuery query;
  query.index_uids = {metadata.index_uid};
  ASSIGN_OR_RETURN(std::vector<metastore::Split> splits, services_.metastore->ListSplits(query));
  nlohmann::json files = nlohmann::json::array();
  std::vector<std::string> split_ids;
  std::vector<std::string> paths;
  for (const metastore::Split& split : splits) {
    split_ids.push_back(split.metadata.split_id);
    paths.push_back(split::SplitFileName(split.metadata.split_id));
    files.push_back({{"file_name", paths.back()},
                     {"file_size_bytes", split.metadata.split_size_bytes}});
  }
  if (dry_run || split_ids.empty()) return files;
  // Mark first, so searches stop using the splits, then delete the files, then the records.
  RETURN_IF_ERROR(services_.metastore->MarkSplitsForDeletion(metadata.index_uid, split_ids));
  ASSIGN_OR_RETURN(Uri index_uri, Uri::Parse(metadata.index_config.index_uri.value_or("")));
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage,
                   services_.storage_resolver->Resolve(index_uri));
  RETURN_IF_ERROR(storage->BulkDelete(paths));
  RETURN_IF_ERROR(services_.metastore->DeleteSplits(metadata.index_uid, split_ids));
  return files;
}

HttpResponse RestApi::ClearIndex(const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  // The source pipelines stop first (they would publish into the cleared index) and restart
  // from the reset checkpoints at the end.
  if (services_.sources != nullptr) services_.sources->StopIndex(index_id);
  if (services_.ingest != nullptr) {
    services_.ingest->DropIndex(index_id, metadata->index_uid, indexing::DropMode::kClear);
  }
  auto deleted = DeleteAllSplits(*metadata, /*dry_run=*/false);
  absl::Status status = deleted.status();
  for (const auto& [source_id, source] : metadata->sources) {
    if (!status.ok()) break;
    status = services_.metastore->ResetSourceCheckpoint(metadata->index_uid, source_id);
  }
  SyncSourcePipelines(index_id);
  if (!status.ok()) return ErrorResponse(status);
  return JsonResponse(200, nlohmann::json::object());
}

HttpResponse RestApi::DeleteIndex(const HttpRequest& request, const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  bool dry_run = false;
  if (const std::string* text = request.QueryParam("dry_run")) {
    auto value = ParseBool("dry_run", *text);
    if (!value.ok()) return ErrorResponse(value.status());
    dry_run = *value;
  }
  if (!dry_run && services_.sources != nullptr) services_.sources->StopIndex(index_id);
  if (!dry_run && services_.ingest != nullptr) {
    services_.ingest->DropIndex(index_id, metadata->index_uid, indexing::DropMode::kDelete);
  }
  auto files = DeleteAllSplits(*metadata, dry_run);
  if (!files.ok()) return ErrorResponse(files.status());
  if (!dry_run) {
    if (auto status = services_.metastore->DeleteIndex(metadata->index_uid); !status.ok()) {
      return ErrorResponse(status);
    }
    SHALE_LOG_INFO("index deleted index_id={}", index_id);
  }
  return JsonResponse(200, *files);
}

HttpResponse RestApi::Ingest(HttpRequest& request, const std::string& index_id) {
  if (services_.ingest == nullptr) {
    return MessageResponse(404, "the indexer service is not enabled on this node");
  }
  auto commit_mode = indexing::ParseCommitMode(
      request.QueryParam("commit") != nullptr ? *request.QueryParam("commit") : "auto");
  if (!commit_mode.ok()) return ErrorResponse(commit_mode.status());
  bool detailed_response = false;
  if (const std::string* text = request.QueryParam("detailed_response")) {
    auto value = ParseBool("detailed_response", *text);
    if (!value.ok()) return ErrorResponse(value.status());
    detailed_response = *value;
  }
  const std::string encoding = request.Header("content-encoding");
  if (encoding == "gzip") {
    auto inflated = GunzipBody(request.body, services_.config->ingest_api.content_length_limit);
    if (!inflated.ok()) {
      if (inflated.status().code() == absl::StatusCode::kResourceExhausted) {
        return MessageResponse(413, std::string(inflated.status().message()));
      }
      return ErrorResponse(inflated.status());
    }
    request.body = std::move(inflated).value();
  } else if (!encoding.empty() && encoding != "identity") {
    return MessageResponse(415, fmt::format("unsupported content-encoding `{}`", encoding));
  }
  // The idempotency key: the `Idempotency-Key` header or the `idempotency_key` parameter.
  std::string idempotency_key = request.Header("idempotency-key");
  if (const std::string* param = request.QueryParam("idempotency_key")) {
    if (!idempotency_key.empty() && idempotency_key != *param) {
      return MessageResponse(400, "the Idempotency-Key header and the idempotency_key parameter "
                                  "differ; send one of them");
    }
    idempotency_key = *param;
  }
  auto result = services_.ingest->Ingest(index_id, request.body, *commit_mode,
                                         detailed_response, idempotency_key);
  if (!result.ok()) {
    // The WAL's disk is full (ENOSPC / EDQUOT): 507, unlike the configured limit's 429.
    if (indexing::IsInsufficientStorage(result.status())) {
      return MessageResponse(507, std::string(result.status().message()));
    }
    return ErrorResponse(result.status());
  }
  nlohmann::json out = {{"num_docs_for_processing", result->num_docs_for_processing},
                        {"num_ingested_docs", result->num_ingested_docs},
                        {"num_rejected_docs", result->num_rejected_docs}};
  if (!idempotency_key.empty()) out["idempotent_replay"] = result->idempotent_replay;
  if (detailed_response) {
    nlohmann::json failures = nlohmann::json::array();
    for (const indexing::ParseFailure& failure : result->parse_failures) {
      failures.push_back({{"document", failure.document},
                          {"message", failure.message},
                          {"reason", failure.reason},
                          {"rejection_reason", failure.rejection_reason}});
    }
    out["parse_failures"] = std::move(failures);
  }
  return JsonResponse(200, out);
}

HttpResponse RestApi::Search(const HttpRequest& request, const std::string& index_id) {
  if (services_.search == nullptr) {
    return MessageResponse(503, "no searcher is available on this node");
  }
  nlohmann::json body;
  const bool has_body =
      !request.body.empty() && request.body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (has_body) {
    body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return MessageResponse(400, "search request body must be a JSON object");
    }
  }
  const SearchParams params(request, has_body ? &body : nullptr);
  search::SearchRequest search_request;
  search_request.index_id = index_id;

  auto text = [&](std::initializer_list<const char*> names) { return params.Text(names); };
#define SHALE_PARAM_OR_400(var, ...)                      \
  auto var = text({__VA_ARGS__});                         \
  if (!var.ok()) return ErrorResponse(var.status())

  SHALE_PARAM_OR_400(query, "query");
  if (query->has_value()) search_request.query = **query;
  if (!query->has_value()) return MessageResponse(400, "missing required parameter `query`");
  SHALE_PARAM_OR_400(max_hits, "max_hits");
  if (max_hits->has_value()) {
    auto value = ParseInt("max_hits", **max_hits);
    if (!value.ok()) return ErrorResponse(value.status());
    if (*value < 0) return MessageResponse(400, "max_hits must not be negative");
    search_request.max_hits = static_cast<uint32_t>(std::min<int64_t>(*value, 1'000'000'000));
  }
  SHALE_PARAM_OR_400(start_offset, "start_offset");
  if (start_offset->has_value()) {
    auto value = ParseInt("start_offset", **start_offset);
    if (!value.ok()) return ErrorResponse(value.status());
    if (*value < 0) return MessageResponse(400, "start_offset must not be negative");
    search_request.start_offset = static_cast<uint32_t>(std::min<int64_t>(*value, 1'000'000'000));
  }
  SHALE_PARAM_OR_400(start_timestamp, "start_timestamp", "startTimestamp");
  if (start_timestamp->has_value()) {
    auto value = ParseInt("start_timestamp", **start_timestamp);
    if (!value.ok()) return ErrorResponse(value.status());
    search_request.start_timestamp_secs = *value;
  }
  SHALE_PARAM_OR_400(end_timestamp, "end_timestamp", "endTimestamp");
  if (end_timestamp->has_value()) {
    auto value = ParseInt("end_timestamp", **end_timestamp);
    if (!value.ok()) return ErrorResponse(value.status());
    search_request.end_timestamp_secs = *value;
  }
  SHALE_PARAM_OR_400(sort_by, "sort_by", "sort_by_field");
  if (sort_by->has_value()) search_request.sort_by = SplitCommaList(**sort_by);
  SHALE_PARAM_OR_400(search_field, "search_field", "search_fields");
  if (search_field->has_value()) search_request.search_fields = SplitCommaList(**search_field);
  SHALE_PARAM_OR_400(snippet_fields, "snippet_fields");
  if (snippet_fields->has_value()) search_request.snippet_fields = SplitCommaList(**snippet_fields);
  SHALE_PARAM_OR_400(count_all, "count_all");
  if (count_all->has_value()) {
    auto value = ParseBool("count_all", **count_all);
    if (!value.ok()) return ErrorResponse(value.status());
    search_request.count_all = *value;
  }
  // `aggs`: a JSON object in a body, or its JSON text (body string or query parameter).
  {
    nlohmann::json aggs_from_text;
    const nlohmann::json* aggs = nullptr;
    if (has_body && body.contains("aggs")) aggs = &body["aggs"];
    const std::string* aggs_param = request.QueryParam("aggs");
    if (aggs != nullptr && aggs->is_string()) aggs_param = aggs->get_ptr<const std::string*>();
    if ((aggs == nullptr || aggs->is_string()) && aggs_param != nullptr) {
      aggs_from_text = nlohmann::json::parse(*aggs_param, nullptr, /*allow_exceptions=*/false);
      if (aggs_from_text.is_discarded()) {
        return MessageResponse(400, "parameter `aggs` must be a JSON object");
      }
      aggs = &aggs_from_text;
    }
    if (aggs != nullptr && !aggs->is_null()) {
      auto aggregation = query::ParseAggregations(*aggs);
      if (!aggregation.ok()) return ErrorResponse(aggregation.status());
      search_request.aggregation = *std::move(aggregation);
    }
  }
  SHALE_PARAM_OR_400(debug, "debug");
  if (debug->has_value()) {
    auto value = ParseBool("debug", **debug);
    if (!value.ok()) return ErrorResponse(value.status());
    search_request.debug = *value;
  }
  SHALE_PARAM_OR_400(format, "format");
  bool pretty = false;
  if (format->has_value()) {
    if (**format == "pretty_json") {
      pretty = true;
    } else if (**format != "json") {
      return MessageResponse(400, fmt::format("invalid format `{}` (expected json or pretty_json)",
                                              **format));
    }
  }
#undef SHALE_PARAM_OR_400

  auto response = services_.search->Search(search_request);
  if (!response.ok()) return ErrorResponse(response.status());
  HttpResponse http_response;
  http_response.body = RenderSearchResponse(*response);
  if (pretty) {
    http_response.body = DumpJson(nlohmann::json::parse(http_response.body, nullptr, false), 2);
  }
  return http_response;
}

HttpResponse RestApi::ElasticSearch(const HttpRequest& request, const std::string& index_id) {
  if (services_.search == nullptr) {
    return MessageResponse(503, "no searcher is available on this node");
  }
  nlohmann::json body = nlohmann::json::object();
  if (!request.body.empty() && request.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return MessageResponse(400, "search request body must be a JSON object");
    }
  }
  search::SearchRequest search_request;
  search_request.index_id = index_id;
  search_request.max_hits = 10;
  for (const auto& [key, value] : body.items()) {
    if (key == "query") {
      auto query = query::EsQueryToQueryLanguage(value);
      if (!query.ok()) return ErrorResponse(query.status());
      search_request.query = *std::move(query);
    } else if (key == "size" || key == "from") {
      const bool non_negative =
          value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
      if (!non_negative) {
        return MessageResponse(400, fmt::format("`{}` must be a non-negative integer", key));
      }
      const auto number =
          static_cast<uint32_t>(std::min<uint64_t>(value.get<uint64_t>(), 1'000'000'000));
      (key == "size" ? search_request.max_hits : search_request.start_offset) = number;
    } else if (key == "aggs" || key == "aggregations") {
      auto aggregation = query::ParseAggregations(value);
      if (!aggregation.ok()) return ErrorResponse(aggregation.status());
      search_request.aggregation = *std::move(aggregation);
    } else if (key == "track_total_hits") {
      if (value.is_boolean()) search_request.count_all = value.get<bool>();
    } else if (key == "sort") {
      auto sort_by = query::EsSortToSortBy(value);
      if (!sort_by.ok()) return ErrorResponse(sort_by.status());
      search_request.sort_by = *std::move(sort_by);
    } else {
      return MessageResponse(400, fmt::format("unsupported search body key `{}`", key));
    }
  }
  // URI search: `q` (the query language) and `sort` (`field:asc|desc`, comma-separated).
  if (const std::string* q = request.QueryParam("q")) search_request.query = *q;
  if (const std::string* sort = request.QueryParam("sort")) {
    auto sort_by = query::EsSortParamToSortBy(*sort);
    if (!sort_by.ok()) return ErrorResponse(sort_by.status());
    search_request.sort_by = *std::move(sort_by);
  }
  for (const char* name : {"size", "from"}) {
    if (const std::string* text = request.QueryParam(name)) {
      auto value = ParseInt(name, *text);
      if (!value.ok()) return ErrorResponse(value.status());
      if (*value < 0) return MessageResponse(400, fmt::format("`{}` must not be negative", name));
      const auto number = static_cast<uint32_t>(std::min<int64_t>(*value, 1'000'000'000));
      (std::string(name) == "size" ? search_request.max_hits : search_request.start_offset) =
          number;
    }
  }
  auto response = services_.search->Search(search_request);
  if (!response.ok()) return ErrorResponse(response.status());
  nlohmann::json hits = nlohmann::json::array();
  for (const std::string& hit : response->hits) {
    nlohmann::json source = nlohmann::json::parse(hit, nullptr, /*allow_exceptions=*/false);
    if (source.is_discarded()) continue;
    hits.push_back({{"_index", index_id}, {"_score", nullptr}, {"_source", std::move(source)}});
  }
  nlohmann::json out = {
      {"took", response->elapsed_time_micros / 1000},
      {"timed_out", false},
      {"_shards",
       {{"total", 1}, {"successful", response->errors.empty() ? 1 : 0}, {"skipped", 0},
        {"failed", response->errors.empty() ? 0 : 1}}},
      {"hits",
       {{"total", {{"value", response->num_hits}, {"relation", "eq"}}},
        {"max_score", nullptr},
        {"hits", std::move(hits)}}},
  };
  if (response->aggregations.has_value()) {
    out["aggregations"] =
        nlohmann::json::parse(*response->aggregations, nullptr, /*allow_exceptions=*/false);
  }
  return JsonResponse(200, out);
}

}  // namespace shale::server
