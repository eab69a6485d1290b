// A Shale node: assembles the services named in the node config (metastore, indexer, searcher,
// ...) and the REST server, runs until SIGINT/SIGTERM, then stops them in reverse order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/node_config.h"
#include "indexing/merge_service.h"
#include "indexing/split_gc.h"

namespace shale::server {

// Starts the node and blocks until a termination signal. Returns an error when start-up fails
// (port in use, metastore unreachable, ...); the message names the cause.
absl::Status RunNode(const config::NodeConfig& config);

// `shale tool merge`: runs the merge policy of index `index_id` (only on the splits of
// `source_id` when set) offline, against the metastore and storage of `config`, until it plans
// no more merges; the splits of every node are merged, each node's apart. Run it while no node
// writes to this metastore (the file-backed metastore assumes a single writer). NotFound for an
// unknown index; a failed merge is reported in the summary.
absl::StatusOr<indexing::MergeRunSummary> RunMergeTool(const config::NodeConfig& config,
                                                       const std::string& index_id,
                                                       const std::optional<std::string>& source_id);

// `shale tool gc`: finds (and unless `options.dry_run`, deletes) the split garbage of index
// `index_id`, or of every index when nullopt, against the metastore and storage of `config`
// (indexing/split_gc.h): one report per index. NotFound for an unknown index.
absl::StatusOr<std::vector<indexing::IndexGarbage>> RunGcTool(
    const config::NodeConfig& config, const std::optional<std::string>& index_id,
    const indexing::GarbageCollectionOptions& options);

}  // namespace shale::server
