#include "cli/source_commands.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fmt/format.h"

#include "cli/client_commands.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace shale::cli {
namespace {

using Json = nlohmann::json;

std::string SourcesPath(const std::string& index_id) {
  return "/api/v1/indexes/" + UrlEncode(index_id) + "/sources";
}

std::string SourcePath(const std::string& index_id, const std::string& source_id) {
  return SourcesPath(index_id) + "/" + UrlEncode(source_id);
}

std::string Compact(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<Json> GetJson(HttpClient& client, const std::string& target,
                             const std::string& what) {
  ASSIGN_OR_RETURN(HttpResponse response, client.Request("GET", target));
  if (!response.ok()) return ErrorFromResponse(response);
  Json json = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::DataLossError(fmt::format("{}: the node answered with invalid json", what));
  }
  return json;
}

// Sends a body-less or JSON PUT/DELETE and turns a non-2xx answer into an error.
absl::Status Send(HttpClient& client, const std::string& method, const std::string& target,
                  const std::string& body = "") {
  ASSIGN_OR_RETURN(HttpResponse response,
                   client.Request(method, target, body, body.empty() ? "" : "application/json"));
  if (!response.ok()) return ErrorFromResponse(response);
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_config_path, std::ostream& out) {
  ASSIGN_OR_RETURN(std::string config_text, ReadWholeFile(source_config_path));
  const bool json = source_config_path.size() >= 5 &&
                    source_config_path.compare(source_config_path.size() - 5, 5, ".json") == 0;
  ASSIGN_OR_RETURN(HttpResponse response,
                   client.Request("POST", SourcesPath(index_id), config_text,
                                  json ? "application/json" : "application/yaml"));
  if (!response.ok()) return ErrorFromResponse(response);
  const Json created = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const std::string source_id =
      created.is_object() ? created.value("source_id", "<unknown>") : "<unknown>";
  out << fmt::format("Source `{}` successfully created for index `{}`.\n", source_id, index_id);
  return absl::OkStatus();
}

absl::Status ListSources(HttpClient& client, const std::string& index_id, std::ostream& out) {
  ASSIGN_OR_RETURN(Json sources, GetJson(client, SourcesPath(index_id), "list sources"));
  if (!sources.is_array()) {
    return absl::DataLossError("list sources: the node answered with a non-array json");
  }
  std::vector<std::vector<std::string>> rows = {{"Source ID", "Type", "Enabled", "Params"}};
  for (const Json& source : sources) {
    if (!source.is_object()) continue;
    rows.push_back({source.value("source_id", ""), source.value("source_type", ""),
                    source.value("enabled", true) ? "true" : "false",
                    source.contains("params") ? Compact(source["params"]) : "{}"});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string separator = "+";
  for (size_t width : widths) separator += std::string(width + 2, '-') + "+";
  separator += "\n";
  out << separator;
  for (size_t r = 0; r < rows.size(); ++r) {
    out << "|";
    for (size_t i = 0; i < rows[r].size(); ++i) {
      out << fmt::format(" {:<{}} |", rows[r][i], widths[i]);
    }
    out << "\n";
    if (r == 0) out << separator;
  }
  out << separator;
  return absl::OkStatus();
}

absl::Status DescribeSource(HttpClient& client, const std::string& index_id,
                            const std::string& source_id, std::ostream& out) {
  ASSIGN_OR_RETURN(Json source,
                   GetJson(client, SourcePath(index_id, source_id), "describe source"));
  ASSIGN_OR_RETURN(Json index,
                   GetJson(client, "/api/v1/indexes/" + UrlEncode(index_id), "describe source"));
  out << "Source config:\n" << source.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  out << "Checkpoint:\n";
  const Json* checkpoint = nullptr;
  if (index.is_object() && index.contains("checkpoint") && index["checkpoint"].is_object() &&
      index["checkpoint"].contains(source_id)) {
    checkpoint = &index["checkpoint"][source_id];
  }
  if (checkpoint == nullptr || !checkpoint->is_object() || checkpoint->empty()) {
    out << "  (none: the source starts from the beginning)\n";
  } else {
    for (const auto& [partition, position] : checkpoint->items()) {
      out << fmt::format("  {}: {}\n", partition, Compact(position));
    }
  }
  // The pipeline state, when this node runs it (a node without the indexer answers 404).
  absl::StatusOr<HttpResponse> indexing = client.Request("GET", "/api/v1/indexing");
  const Json stats = indexing.ok() && indexing->ok()
                         ? Json::parse(indexing->body, nullptr, /*allow_exceptions=*/false)
                         : Json();
  const Json* pipeline = nullptr;
  if (stats.is_object() && stats.contains("sources") && stats["sources"].is_array()) {
    for (const Json& entry : stats["sources"]) {
      if (entry.value("index_id", "") == index_id && entry.value("source_id", "") == source_id) {
        pipeline = &entry;
      }
    }
  }
  if (pipeline == nullptr) {
    out << "Pipeline: not running on this node\n";
    return absl::OkStatus();
  }
  out << "Pipeline:\n";
  for (const char* key :
       {"state", "last_error", "num_docs_read", "num_ingested_docs", "num_rejected_docs",
        "num_pending_docs", "num_published_docs", "num_published_splits", "num_restarts"}) {
    if (pipeline->contains(key)) out << fmt::format("  {}: {}\n", key, Compact((*pipeline)[key]));
  }
  return absl::OkStatus();
}

absl::Status ToggleSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_id, bool enable, std::ostream& out) {
  RETURN_IF_ERROR(Send(client, "PUT", SourcePath(index_id, source_id) + "/toggle",
                       Json{{"enable", enable}}.dump()));
  out << fmt::format("Source `{}` of index `{}` successfully {}.\n", source_id, index_id,
                     enable ? "enabled" : "disabled");
  return absl::OkStatus();
}

absl::Status ResetSourceCheckpoint(HttpClient& client, const std::string& index_id,
                                   const std::string& source_id, std::ostream& out) {
  RETURN_IF_ERROR(Send(client, "PUT", SourcePath(index_id, source_id) + "/reset-checkpoint"));
  out << fmt::format("Checkpoint of source `{}` of index `{}` successfully reset.\n", source_id,
                     index_id);
  return absl::OkStatus();
}

absl::Status DeleteSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_id, std::ostream& out) {
  RETURN_IF_ERROR(Send(client, "DELETE", SourcePath(index_id, source_id)));
  out << fmt::format("Source `{}` of index `{}` successfully deleted.\n", source_id, index_id);
  return absl::OkStatus();
}

}  // namespace shale::cli
