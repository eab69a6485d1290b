// A Shale node: assembles the services named in the node config (metastore, indexer, searcher,
// ...) and the REST server, runs until SIGINT/SIGTERM, then stops them in reverse order.
#pragma once

#include "absl/status/status.h"
#include "config/node_config.h"

namespace shale::server {

// Starts the node and blocks until a termination signal. Returns an error when start-up fails
// (port in use, metastore unreachable, ...); the message names the cause.
absl::Status RunNode(const config::NodeConfig& config);

}  // namespace shale::server
