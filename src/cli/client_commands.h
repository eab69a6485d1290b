// Client-side commands of the `shale` CLI: each one talks to a node's REST API through an
// HttpClient and writes human-readable output to the given streams. `main.cc` only parses flags
// and calls these, so they are unit-tested against an in-process HTTP server.
//
// Errors: a non-2xx answer becomes a Status whose message is the server's JSON `message` (or the
// raw body) followed by ` (HTTP <status>)`; the code follows the HTTP status (404 NotFound,
// 400 InvalidArgument, 409 AlreadyExists, 429/503 Unavailable, 504 DeadlineExceeded, ...).
// Connection failures come from HttpClient and name the endpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "cli/http_client.h"

namespace shale::cli {

// The Status for a non-2xx response, as described above.
absl::Status ErrorFromResponse(const HttpResponse& response);

// The content of a local file. NotFound naming the path when it cannot be opened.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// POST /api/v1/indexes with the file's content; YAML unless the file ends in `.json`.
// NotFound naming the path when the file cannot be read.
absl::Status CreateIndex(HttpClient& client, const std::string& index_config_path, bool overwrite,
                         std::ostream& out);

// GET /api/v1/indexes, printed as a table of index id and index uri.
absl::Status ListIndexes(HttpClient& client, std::ostream& out);

// GET /api/v1/indexes/{id}/describe, printed as `key: value` lines.
absl::Status DescribeIndex(HttpClient& client, const std::string& index_id, std::ostream& out);

// PUT /api/v1/indexes/{id}/clear.
absl::Status ClearIndex(HttpClient& client, const std::string& index_id, std::ostream& out);

// DELETE /api/v1/indexes/{id}[?dry_run=true]; prints the files deleted (or that would be).
absl::Status DeleteIndex(HttpClient& client, const std::string& index_id, bool dry_run,
                         std::ostream& out);

struct SearchOptions {
  std::string index_id;
  std::string query;
  std::optional<uint64_t> max_hits;
  std::optional<uint64_t> start_offset;
  std::vector<std::string> search_fields;
  std::optional<std::string> sort_by;
  std::optional<int64_t> start_timestamp;
  std::optional<int64_t> end_timestamp;
};

// The request target of GET /api/v1/{index}/search for `options`.
std::string SearchTarget(const SearchOptions& options);

// GET /api/v1/{index}/search; prints the JSON response indented.
absl::Status SearchIndex(HttpClient& client, const SearchOptions& options, std::ostream& out);

enum class CommitMode { kAuto, kWaitFor, kForce };

// "auto", "wait_for", "force"; InvalidArgument otherwise.
absl::StatusOr<CommitMode> ParseCommitMode(const std::string& text);
std::string CommitModeName(CommitMode mode);

struct IngestOptions {
  std::string index_id;
  std::string input_path;  // "" or "-" for stdin; `.gz` input is decoded
  uint64_t batch_size_limit = 8ULL << 20;
  // Applies to the last batch when kWaitFor or kForce; earlier batches always use auto.
  CommitMode commit = CommitMode::kAuto;
  bool detailed_response = false;
  bool show_progress = false;  // a progress line on `err`, redrawn with '\r'
  int max_retries = 5;         // per batch, on 429/503 and connection errors
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds batch_timeout{60'000};
  std::chrono::milliseconds commit_timeout{30 * 60'000};  // last batch with wait_for / force
};

struct IngestSummary {
  uint64_t num_batches = 0;
  uint64_t num_lines_sent = 0;
  uint64_t num_bytes_sent = 0;
  uint64_t num_ingested_docs = 0;
  uint64_t num_rejected_docs = 0;
  uint64_t num_retries = 0;
  double elapsed_secs = 0;
  std::vector<std::string> parse_failures;  // with detailed_response
};

// Streams the input to POST /api/v1/{index}/ingest in batches (see NdjsonBatcher). Stops at the
// first batch that still fails after the retries and returns its error.
absl::StatusOr<IngestSummary> IngestFile(HttpClient& client, const IngestOptions& options,
                                         std::ostream& err);

// "Ingested 1000 documents (1.2 MB) in 0.52s: 2.3 MB/s, 1923 docs/s; 0 rejected".
std::string FormatIngestSummary(const IngestSummary& summary);

}  // namespace shale::cli
