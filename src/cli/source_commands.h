// `shale source ...`: the CLI side of the sources REST API (Quickwit's `quickwit source` verbs).
// Each command talks to a node through an HttpClient and writes human-readable output; errors
// follow ErrorFromResponse (client_commands.h).
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"

#include "cli/http_client.h"

namespace shale::cli {

// POST /api/v1/indexes/{index}/sources with the file's content (YAML unless it ends in `.json`).
absl::Status CreateSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_config_path, std::ostream& out);

// GET /api/v1/indexes/{index}/sources, printed as a table of id, type, enabled and params.
absl::Status ListSources(HttpClient& client, const std::string& index_id, std::ostream& out);

// The source's config, its checkpoint (from the index metadata) and, when this node runs it,
// its pipeline state from GET /api/v1/indexing.
absl::Status DescribeSource(HttpClient& client, const std::string& index_id,
                            const std::string& source_id, std::ostream& out);

// PUT /api/v1/indexes/{index}/sources/{source}/toggle with {"enable": enable}.
absl::Status ToggleSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_id, bool enable, std::ostream& out);

// PUT /api/v1/indexes/{index}/sources/{source}/reset-checkpoint.
absl::Status ResetSourceCheckpoint(HttpClient& client, const std::string& index_id,
                                   const std::string& source_id, std::ostream& out);

// DELETE /api/v1/indexes/{index}/sources/{source}.
absl::Status DeleteSource(HttpClient& client, const std::string& index_id,
                          const std::string& source_id, std::ostream& out);

}  // namespace shale::cli
