#include "cli/client_commands.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "fmt/format.h"

#include "cli/ndjson_batcher.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace shale::cli {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxParseFailuresKept = 100;

// Parses without exceptions; a discarded value when `text` is not JSON.
Json ParseJson(const std::string& text) {
  return Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
}

// The string field `key` of `object`, if it is one.
std::optional<std::string> StringField(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The unsigned integer field `key` of `object`, if it is one.
std::optional<uint64_t> UnsignedField(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  const int64_t value = it->get<int64_t>();
  if (value < 0) return std::nullopt;
  return static_cast<uint64_t>(value);
}

// `value` on one line: strings without quotes, everything else as compact JSON.
std::string ScalarText(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<Json> ParseJsonResponse(const HttpResponse& response, const std::string& what) {
  Json json = ParseJson(response.body);
  if (json.is_discarded()) {
    return absl::DataLossError(fmt::format("{}: the node answered with invalid json", what));
  }
  return json;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// `keyed`: the request carries an idempotency key, so a 409 (the same key still in flight,
// typically the attempt whose answer was lost) is worth retrying too.
bool IsRetryable(const absl::StatusOr<HttpResponse>& response, bool keyed) {
  if (!response.ok()) return absl::IsUnavailable(response.status());
  return response->status == 429 || response->status == 503 || (keyed && response->status == 409);
}

std::string IndexPath(const std::string& index_id) { return "/" + UrlEncode(index_id); }

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(fmt::format("cannot read file {}", path));
  std::ostringstream content;
  content << file.rdbuf();
  if (file.bad()) return absl::DataLossError(fmt::format("error reading file {}", path));
  return std::move(content).str();
}

absl::Status ErrorFromResponse(const HttpResponse& response) {
  const Json json = ParseJson(response.body);
  std::string message;
  if (std::optional<std::string> json_message = StringField(json, "message")) {
    message = *json_message;
  } else if (std::optional<std::string> json_error = StringField(json, "error")) {
    message = *json_error;
  } else {
    message = response.body;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
    if (message.empty()) message = "request failed";
  }
  message = fmt::format("{} (HTTP {})", message, response.status);
  switch (response.status) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    case 412:
      return absl::FailedPreconditionError(message);
    case 429:
    case 503:
      return absl::UnavailableError(message);
    case 504:
      return absl::DeadlineExceededError(message);
    default:
      return response.status >= 400 && response.status < 500 ? absl::InvalidArgumentError(message)
                                                             : absl::InternalError(message);
  }
}

absl::Status CreateIndex(HttpClient& client, const std::string& index_config_path, bool overwrite,
                         std::ostream& out) {
  ASSIGN_OR_RETURN(std::string config_text, ReadWholeFile(index_config_path));
  const std::string content_type =
      EndsWith(index_config_path, ".json") ? "application/json" : "application/yaml";
  std::vector<std::pair<std::string, std::string>> params;
  if (overwrite) params.emplace_back("overwrite", "true");
  ASSIGN_OR_RETURN(
      HttpResponse response,
      client.Request("POST", BuildTarget("/api/v1/indexes", params), config_text, content_type));
  if (!response.ok()) return ErrorFromResponse(response);
  const Json json = ParseJson(response.body);
  std::string index_id = "<unknown>";
  if (json.is_object() && json.contains("index_config")) {
    index_id = StringField(json["index_config"], "index_id").value_or(index_id);
  }
  out << fmt::format("Index `{}` successfully created.\n", index_id);
  return absl::OkStatus();
}

absl::Status ListIndexes(HttpClient& client, std::ostream& out) {
  ASSIGN_OR_RETURN(HttpResponse response, client.Request("GET", "/api/v1/indexes"));
  if (!response.ok()) return ErrorFromResponse(response);
  ASSIGN_OR_RETURN(Json json, ParseJsonResponse(response, "list indexes"));
  if (!json.is_array()) {
    return absl::DataLossError("list indexes: the node answered with a non-array json");
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Json& index_metadata : json) {
    const Json& index_config = index_metadata.is_object() && index_metadata.contains("index_config")
                                   ? index_metadata["index_config"]
                                   : index_metadata;
    rows.emplace_back(StringField(index_config, "index_id").value_or(""),
                      StringField(index_config, "index_uri").value_or(""));
  }
  std::sort(rows.begin(), rows.end());
  const std::string id_header = "Index ID";
  const std::string uri_header = "Index URI";
  size_t id_width = id_header.size();
  size_t uri_width = uri_header.size();
  for (const auto& [id, uri] : rows) {
    id_width = std::max(id_width, id.size());
    uri_width = std::max(uri_width, uri.size());
  }
  const std::string separator =
      fmt::format("+{}+{}+\n", std::string(id_width + 2, '-'), std::string(uri_width + 2, '-'));
  out << separator;
  out << fmt::format("| {:<{}} | {:<{}} |\n", id_header, id_width, uri_header, uri_width);
  out << separator;
  for (const auto& [id, uri] : rows) {
    out << fmt::format("| {:<{}} | {:<{}} |\n", id, id_width, uri, uri_width);
  }
  out << separator;
  return absl::OkStatus();
}

absl::Status DescribeIndex(HttpClient& client, const std::string& index_id, std::ostream& out) {
  ASSIGN_OR_RETURN(HttpResponse response,
                   client.Request("GET", "/api/v1/indexes" + IndexPath(index_id) + "/describe"));
  if (!response.ok()) return ErrorFromResponse(response);
  ASSIGN_OR_RETURN(Json json, ParseJsonResponse(response, "describe index"));
  if (!json.is_object()) {
    out << json.dump(2) << "\n";
    return absl::OkStatus();
  }
  size_t key_width = 0;
  for (const auto& item : json.items()) key_width = std::max(key_width, item.key().size());
  for (const auto& item : json.items()) {
    out << fmt::format("{:<{}} {}\n", item.key() + ":", key_width + 1, ScalarText(item.value()));
  }
  return absl::OkStatus();
}

absl::Status ClearIndex(HttpClient& client, const std::string& index_id, std::ostream& out) {
  ASSIGN_OR_RETURN(HttpResponse response,
                   client.Request("PUT", "/api/v1/indexes" + IndexPath(index_id) + "/clear"));
  if (!response.ok()) return ErrorFromResponse(response);
  out << fmt::format("Index `{}` successfully cleared.\n", index_id);
  return absl::OkStatus();
}

absl::Status DeleteIndex(HttpClient& client, const std::string& index_id, bool dry_run,
                         std::ostream& out) {
  std::vector<std::pair<std::string, std::string>> params;
  if (dry_run) params.emplace_back("dry_run", "true");
  ASSIGN_OR_RETURN(
      HttpResponse response,
      client.Request("DELETE", BuildTarget("/api/v1/indexes" + IndexPath(index_id), params)));
  if (!response.ok()) return ErrorFromResponse(response);
  const Json json = ParseJson(response.body);
  std::vector<std::string> file_names;
  if (json.is_array()) {
    for (const Json& entry : json) {
      if (std::optional<std::string> name = StringField(entry, "file_name")) {
        file_names.push_back(*name);
      } else if (entry.is_string()) {
        file_names.push_back(entry.get<std::string>());
      }
    }
  }
  if (dry_run) {
    if (file_names.empty()) {
      out << fmt::format("Only the index `{}` would be deleted: it has no split file.\n", index_id);
    } else {
      out << fmt::format("The following files of index `{}` would be deleted:\n", index_id);
      for (const std::string& name : file_names) out << "  - " << name << "\n";
    }
    return absl::OkStatus();
  }
  out << fmt::format("Index `{}` successfully deleted ({} files removed).\n", index_id,
                     file_names.size());
  return absl::OkStatus();
}

std::string SearchTarget(const SearchOptions& options) {
  std::vector<std::pair<std::string, std::string>> params;
  params.emplace_back("query", options.query);
  if (options.max_hits) params.emplace_back("max_hits", std::to_string(*options.max_hits));
  if (options.start_offset) {
    params.emplace_back("start_offset", std::to_string(*options.start_offset));
  }
  if (!options.search_fields.empty()) {
    std::string joined;
    for (const std::string& field : options.search_fields) {
      if (!joined.empty()) joined.push_back(',');
      joined += field;
    }
    params.emplace_back("search_field", joined);
  }
  if (options.sort_by) params.emplace_back("sort_by", *options.sort_by);
  if (options.start_timestamp) {
    params.emplace_back("start_timestamp", std::to_string(*options.start_timestamp));
  }
  if (options.end_timestamp) {
    params.emplace_back("end_timestamp", std::to_string(*options.end_timestamp));
  }
  return BuildTarget("/api/v1" + IndexPath(options.index_id) + "/search", params);
}

absl::Status SearchIndex(HttpClient& client, const SearchOptions& options, std::ostream& out) {
  ASSIGN_OR_RETURN(HttpResponse response, client.Request("GET", SearchTarget(options), "", "",
                                                         std::chrono::milliseconds{60'000}));
  if (!response.ok()) return ErrorFromResponse(response);
  ASSIGN_OR_RETURN(Json json, ParseJsonResponse(response, "search"));
  out << json.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<CommitMode> ParseCommitMode(const std::string& text) {
  if (text == "auto") return CommitMode::kAuto;
  if (text == "wait_for" || text == "wait-for") return CommitMode::kWaitFor;
  if (text == "force") return CommitMode::kForce;
  return absl::InvalidArgumentError(
      fmt::format("invalid commit mode `{}`: expected auto, wait_for or force", text));
}

std::string CommitModeName(CommitMode mode) {
  switch (mode) {
    case CommitMode::kAuto:
      return "auto";
    case CommitMode::kWaitFor:
      return "wait_for";
    case CommitMode::kForce:
      return "force";
  }
  return "auto";
}

std::string FormatIngestSummary(const IngestSummary& summary) {
  const double megabytes = static_cast<double>(summary.num_bytes_sent) / 1e6;
  const double seconds = std::max(summary.elapsed_secs, 1e-9);
  return fmt::format(
      "Ingested {} documents ({:.1f} MB) in {:.2f}s: {:.1f} MB/s, {:.0f} docs/s; {} rejected",
      summary.num_ingested_docs, megabytes, summary.elapsed_secs, megabytes / seconds,
      static_cast<double>(summary.num_ingested_docs) / seconds, summary.num_rejected_docs);
}

absl::StatusOr<IngestSummary> IngestFile(HttpClient& client, const IngestOptions& options,
                                         std::ostream& err) {
  ASSIGN_OR_RETURN(std::unique_ptr<NdjsonBatcher> batcher,
                   NdjsonBatcher::Open(options.input_path, options.batch_size_limit));
  IngestSummary summary;
  const Clock::time_point start = Clock::now();
  Clock::time_point last_progress = start;
  auto print_progress = [&](bool final_line) {
    if (!options.show_progress) return;
    const Clock::time_point now = Clock::now();
    if (!final_line && now - last_progress < std::chrono::milliseconds(200)) return;
    last_progress = now;
    const double seconds = std::chrono::duration<double>(now - start).count();
    const double megabytes = static_cast<double>(summary.num_bytes_sent) / 1e6;
    err << fmt::format("\r\x1b[KSent {:.1f} MB, {} docs, {:.1f} MB/s, {:.0f}s", megabytes,
                       summary.num_lines_sent, megabytes / std::max(seconds, 1e-9), seconds);
    if (final_line) err << "\n";
    err.flush();
  };

  // One batch of lookahead: the commit mode only applies to the last batch.
  ASSIGN_OR_RETURN(std::optional<NdjsonBatch> current, batcher->Next());
  while (current.has_value()) {
    ASSIGN_OR_RETURN(std::optional<NdjsonBatch> next, batcher->Next());
    const bool is_last = !next.has_value();
    const CommitMode commit = is_last ? options.commit : CommitMode::kAuto;
    std::vector<std::pair<std::string, std::string>> params{{"commit", CommitModeName(commit)}};
    if (options.detailed_response) params.emplace_back("detailed_response", "true");
    const bool keyed = !options.idempotency_key_prefix.empty();
    if (keyed) {
      params.emplace_back("idempotency_key", fmt::format("{}-{}", options.idempotency_key_prefix,
                                                         summary.num_batches + 1));
    }
    const std::string target =
        BuildTarget("/api/v1" + IndexPath(options.index_id) + "/ingest", params);
    const std::chrono::milliseconds timeout =
        commit == CommitMode::kAuto ? options.batch_timeout : options.commit_timeout;

    absl::StatusOr<HttpResponse> response =
        client.Request("POST", target, current->body, "application/json", timeout);
    std::chrono::milliseconds backoff = options.initial_backoff;
    for (int attempt = 0; attempt < options.max_retries && IsRetryable(response, keyed);
         ++attempt) {
      const std::string reason = response.ok() ? fmt::format("HTTP {}", response->status)
                                               : std::string(response.status().message());
      if (options.show_progress) err << "\n";
      err << fmt::format("warning: batch {} failed ({}), retrying in {}ms\n",
                         summary.num_batches + 1, reason, backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds{30'000});
      ++summary.num_retries;
      response = client.Request("POST", target, current->body, "application/json", timeout);
    }
    if (!response.ok() || !response->ok()) {
      // The error keeps the server's wording; what was already ingested goes to `err`.
      if (summary.num_batches > 0) {
        if (options.show_progress) err << "\n";
        err << fmt::format(
            "warning: {} batches ({} documents) were ingested before batch {} failed\n",
            summary.num_batches, summary.num_ingested_docs, summary.num_batches + 1);
      }
      return response.ok() ? ErrorFromResponse(*response) : response.status();
    }
    const Json json = ParseJson(response->body);
    std::optional<uint64_t> num_ingested = UnsignedField(json, "num_ingested_docs");
    if (!num_ingested) num_ingested = UnsignedField(json, "num_docs_for_processing");
    summary.num_ingested_docs += num_ingested.value_or(0);
    summary.num_rejected_docs += UnsignedField(json, "num_rejected_docs").value_or(0);
    if (json.is_object() && json.value("idempotent_replay", false)) ++summary.num_replayed_batches;
    if (json.is_object() && json.contains("parse_failures") && json["parse_failures"].is_array()) {
      for (const Json& failure : json["parse_failures"]) {
        if (summary.parse_failures.size() >= kMaxParseFailuresKept) break;
        summary.parse_failures.push_back(
            StringField(failure, "message").value_or(ScalarText(failure)));
      }
    }
    ++summary.num_batches;
    summary.num_lines_sent += current->num_lines;
    summary.num_bytes_sent += current->body.size();
    print_progress(/*final_line=*/false);
    batcher->Recycle(std::move(current->body));
    current = std::move(next);
  }
  summary.elapsed_secs = std::chrono::duration<double>(Clock::now() - start).count();
  print_progress(/*final_line=*/true);
  return summary;
}

}  // namespace shale::cli
