// The sources routes of RestApi, Quickwit's shapes:
//   POST   /api/v1/indexes/{index_id}/sources                                 -> SourceConfig
//   GET    /api/v1/indexes/{index_id}/sources                                 -> [SourceConfig]
//   GET    /api/v1/indexes/{index_id}/sources/{source_id}                     -> SourceConfig
//   PUT    /api/v1/indexes/{index_id}/sources/{source_id}                     -> SourceConfig
//   PUT    /api/v1/indexes/{index_id}/sources/{source_id}/toggle  {"enable"}  -> {}
//   PUT    /api/v1/indexes/{index_id}/sources/{source_id}/reset-checkpoint    -> {}
//   DELETE /api/v1/indexes/{index_id}/sources/{source_id}                     -> {}
// Bodies are JSON, or YAML with a `Content-Type` naming yaml. Errors: 404 unknown index or
// source, 409 existing source id, 400 for a bad config (naming the key) or a reserved id.
#include <string>
#include <vector>

#include "fmt/format.h"

#include "common/logging.h"
#include "config/index_config.h"
#include "indexing/ingest_service.h"
#include "indexing/source.h"
#include "server/rest_api.h"

namespace shale::server {
namespace {

// Shale's own sources (the ingest API's) start with `_`; users cannot manage them.
bool IsReservedSourceId(const std::string& source_id) {
  return !source_id.empty() && source_id.front() == '_';
}

HttpResponse ReservedSourceError(const std::string& source_id, std::string_view action) {
  return MessageResponse(
      400, fmt::format("source `{}` is reserved (source ids starting with `_` belong to the "
                       "ingest API) and cannot be {}",
                       source_id, action));
}

absl::StatusOr<config::SourceConfig> ParseSourceBody(const HttpRequest& request) {
  const bool yaml = request.Header("content-type").find("yaml") != std::string::npos;
  return yaml ? config::ParseSourceConfigYaml(request.body)
              : config::ParseSourceConfigJson(request.body);
}

// The checks every created or updated source passes: not reserved, a type we can run, and
// params that type accepts.
absl::Status ValidateUserSource(const config::SourceConfig& source) {
  if (IsReservedSourceId(source.source_id)) {
    return absl::InvalidArgumentError(fmt::format(
        "`source_id`: source ids starting with `_` are reserved (got `{}`)", source.source_id));
  }
  if (!indexing::IsPipelineSourceType(source.source_type)) {
    return absl::InvalidArgumentError(fmt::format(
        "`source_type`: {} sources cannot be created{} (supported: file, vec, void)",
        source.source_type,
        source.source_type == "ingest-api" ? " (every index has the ingest API)" : " yet"));
  }
  return indexing::ValidateSourceParams(source);
}

}  // namespace

void RestApi::SyncSourcePipelines(const std::string& index_id) {
  if (services_.sources == nullptr) return;
  absl::Status status = services_.sources->SyncIndex(index_id);
  if (!status.ok()) {
    SHALE_LOG_ERROR("source pipelines not synced index_id={} error={}", index_id,
                    status.ToString());
  }
}

HttpResponse RestApi::RouteSources(const HttpRequest& request, const std::string& index_id,
                                   const std::vector<std::string>& segments) {
  const std::string& method = request.method;
  const size_t n = segments.size();
  if (n == 5) {
    if (method == "POST") return CreateSource(request, index_id);
    if (method == "GET") return ListSources(index_id);
    return MessageResponse(405, "method not allowed");
  }
  const std::string& source_id = segments[5];
  if (n == 6) {
    if (method == "GET") return GetSource(index_id, source_id);
    if (method == "PUT") return UpdateSource(request, index_id, source_id);
    if (method == "DELETE") return DeleteSource(index_id, source_id);
    return MessageResponse(405, "method not allowed");
  }
  if (n == 7 && (segments[6] == "toggle" || segments[6] == "reset-checkpoint")) {
    if (method != "PUT") return MessageResponse(405, "method not allowed");
    return segments[6] == "toggle" ? ToggleSource(request, index_id, source_id)
                                   : ResetSourceCheckpoint(index_id, source_id);
  }
  return MessageResponse(404, fmt::format("route `{} {}` not found", method, request.path));
}

HttpResponse RestApi::CreateSource(const HttpRequest& request, const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  auto source = ParseSourceBody(request);
  if (!source.ok()) return ErrorResponse(source.status());
  if (absl::Status valid = ValidateUserSource(*source); !valid.ok()) return ErrorResponse(valid);
  if (absl::Status added = services_.metastore->AddSource(metadata->index_uid, *source);
      !added.ok()) {
    return ErrorResponse(added);
  }
  SHALE_LOG_INFO("source created index_id={} source_id={} source_type={}", index_id,
                 source->source_id, source->source_type);
  SyncSourcePipelines(index_id);
  return JsonResponse(200, config::SourceConfigToJson(*source));
}

HttpResponse RestApi::ListSources(const std::string& index_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [source_id, source] : metadata->sources) {
    out.push_back(config::SourceConfigToJson(source));
  }
  return JsonResponse(200, out);
}

HttpResponse RestApi::GetSource(const std::string& index_id, const std::string& source_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  auto it = metadata->sources.find(source_id);
  if (it == metadata->sources.end()) {
    return MessageResponse(404,
                           fmt::format("source `{}` not found in index `{}`", source_id, index_id));
  }
  return JsonResponse(200, config::SourceConfigToJson(it->second));
}

HttpResponse RestApi::UpdateSource(const HttpRequest& request, const std::string& index_id,
                                   const std::string& source_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  if (IsReservedSourceId(source_id)) return ReservedSourceError(source_id, "updated");
  auto source = ParseSourceBody(request);
  if (!source.ok()) return ErrorResponse(source.status());
  if (source->source_id != source_id) {
    return MessageResponse(
        400, fmt::format("`source_id`: the config names source `{}` but the path names `{}`",
                         source->source_id, source_id));
  }
  if (absl::Status valid = ValidateUserSource(*source); !valid.ok()) return ErrorResponse(valid);
  if (absl::Status updated = services_.metastore->UpdateSource(metadata->index_uid, *source);
      !updated.ok()) {
    return ErrorResponse(updated);
  }
  SHALE_LOG_INFO("source updated index_id={} source_id={}", index_id, source_id);
  // A changed config restarts the pipeline from the stored checkpoint.
  SyncSourcePipelines(index_id);
  return JsonResponse(200, config::SourceConfigToJson(*source));
}

HttpResponse RestApi::ToggleSource(const HttpRequest& request, const std::string& index_id,
                                   const std::string& source_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  if (IsReservedSourceId(source_id)) return ReservedSourceError(source_id, "enabled or disabled");
  const nlohmann::json body =
      nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("enable") || !body["enable"].is_boolean()) {
    return MessageResponse(400, "`enable`: the toggle body must be {\"enable\": true|false}");
  }
  const bool enable = body["enable"].get<bool>();
  if (absl::Status toggled =
          services_.metastore->ToggleSource(metadata->index_uid, source_id, enable);
      !toggled.ok()) {
    return ErrorResponse(toggled);
  }
  SHALE_LOG_INFO("source toggled index_id={} source_id={} enabled={}", index_id, source_id, enable);
  SyncSourcePipelines(index_id);
  return JsonResponse(200, nlohmann::json::object());
}

HttpResponse RestApi::ResetSourceCheckpoint(const std::string& index_id,
                                            const std::string& source_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  if (IsReservedSourceId(source_id)) return ReservedSourceError(source_id, "reset");
  // Stop first so no pipeline publishes past the reset; the sync restarts it from the start.
  if (services_.sources != nullptr) services_.sources->StopSource(index_id, source_id);
  absl::Status reset = services_.metastore->ResetSourceCheckpoint(metadata->index_uid, source_id);
  SyncSourcePipelines(index_id);
  if (!reset.ok()) return ErrorResponse(reset);
  SHALE_LOG_INFO("source checkpoint reset index_id={} source_id={}", index_id, source_id);
  return JsonResponse(200, nlohmann::json::object());
}

HttpResponse RestApi::DeleteSource(const std::string& index_id, const std::string& source_id) {
  auto metadata = services_.metastore->GetIndexMetadata(index_id);
  if (!metadata.ok()) return ErrorResponse(metadata.status());
  if (IsReservedSourceId(source_id)) return ReservedSourceError(source_id, "deleted");
  // Stop first: a publish after the deletion would recreate the source's checkpoint.
  if (services_.sources != nullptr) services_.sources->StopSource(index_id, source_id);
  absl::Status deleted = services_.metastore->DeleteSource(metadata->index_uid, source_id);
  SyncSourcePipelines(index_id);
  if (!deleted.ok()) return ErrorResponse(deleted);
  SHALE_LOG_INFO("source deleted index_id={} source_id={}", index_id, source_id);
  return JsonResponse(200, nlohmann::json::object());
}

}  // namespace shale::server
