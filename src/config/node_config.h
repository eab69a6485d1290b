// NodeConfig: the node's YAML config with Quickwit's keys. Loading order: read the file, substitute
// `${VAR}` (and `${VAR:-default}`) from the environment, parse, apply `SHALE_*` environment
// overrides, fill defaults, validate. Unknown keys and bad values fail with a message naming the
// key (e.g. `searcher.fast_field_cache_capacity: invalid byte size "12QB"`).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "common/crash_point.h"
#include "nlohmann/json.hpp"

namespace shale::config {

inline constexpr std::string_view kAllServices[] = {"searcher", "indexer", "metastore",
                                                    "control_plane", "janitor"};

struct S3StorageConfig {
  std::optional<std::string> endpoint;
  std::optional<std::string> region;
  bool force_path_style_access = false;
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_access_key;
};

// `searcher.split_cache`: the optional on-disk split cache of a searcher, kept in
// `{data_dir}/searcher-split-cache` (docs/storage.md). Absent: no on-disk cache.
struct SplitCacheConfig {
  uint64_t max_num_bytes = 1'000'000'000;
  uint64_t max_num_splits = 10'000;
  uint32_t num_concurrent_downloads = 1;
};

struct SearcherConfig {
  uint64_t fast_field_cache_capacity = 1'000'000'000;
  uint64_t split_footer_cache_capacity = 500'000'000;
  uint64_t partial_request_cache_capacity = 64'000'000;
  uint32_t max_num_concurrent_split_searches = 100;
  uint32_t max_num_concurrent_split_streams = 100;
  uint64_t request_timeout_secs = 30;
  std::optional<SplitCacheConfig> split_cache;
  // Memory the aggregations of one search request may hold (Quickwit's default, 500MB).
  uint64_t aggregation_memory_limit = 500'000'000;
};

// Default of `indexer.merge_concurrency`: two thirds of the cores, at least 1 (Quickwit's).
uint32_t DefaultMergeConcurrency();

struct IndexerConfig {
  uint64_t split_store_max_num_bytes = 100'000'000'000;
  uint64_t split_store_max_num_splits = 1000;
  uint32_t max_concurrent_split_uploads = 12;
  uint32_t merge_concurrency = DefaultMergeConcurrency();  // merges running at once on the node
  bool enable_otlp_endpoint = false;
};

// `ingest_api.durability`: when an acknowledged `commit=auto` document is on stable storage.
enum class IngestDurability {
  kRequest,  // "request": the WAL is fsynced before each response (group commit)
  kAsync,    // "async": fsynced every 100 ms; a machine crash loses up to that window
};

struct IngestApiConfig {
  uint64_t max_queue_memory_usage = 2'000'000'000;
  uint64_t max_queue_disk_usage = 4'000'000'000;
  uint64_t content_length_limit = uint64_t{10} * 1024 * 1024;
  IngestDurability durability = IngestDurability::kRequest;
  // How long an accepted `Idempotency-Key` is remembered (`idempotency_retention`, a duration)
  // and how many keys per index at most (`idempotency_max_keys`; the oldest go first).
  int64_t idempotency_retention_secs = 3600;
  uint64_t idempotency_max_keys = 100'000;
  // Ingest pipelines per index (each its own WAL and in-memory split); concurrent requests
  // use them in parallel (docs/format/wal.md).
  uint64_t num_pipelines_per_index = 2;
};

// Gossip membership (docs/cluster.md). `gossip_interval` is a top-level key; the others are
// under `cluster:`.
struct ClusterConfig {
  uint64_t gossip_interval_ms = 1000;
  double phi_threshold = 8.0;
  uint64_t dead_node_grace_period_secs = 3600;
  uint64_t peer_seeds_refresh_interval_secs = 60;
};

// `grpc:` section: the node's gRPC server and clients (docs/deployment.md).
struct GrpcConfig {
  // Largest gRPC message sent or received (Quickwit's `grpc.max_message_size`); leaf search
  // results can be large.
  uint64_t max_message_size = uint64_t{64} * 1024 * 1024;
};

struct NodeConfig {
  std::string version = "0.8";
  std::string node_id;  // default: the host name
  std::string cluster_id = "shale-default-cluster";
  std::vector<std::string> enabled_services;  // default: all
  std::string listen_address = "127.0.0.1";
  std::string advertise_address;  // default: listen_address
  uint16_t rest_listen_port = 7280;
  uint16_t grpc_listen_port = 0;        // default: rest + 1
  uint16_t gossip_listen_port = 0;      // default: rest
  std::vector<std::string> peer_seeds;  // host, host:port, ip, ip:port (default port: gossip)
  ClusterConfig cluster;
  GrpcConfig grpc;
  std::string data_dir = "./shale-data";
  std::string metastore_uri;  // default: {data_dir}/indexes
  // From the `#polling_interval=30s` fragment of a file-backed metastore_uri: this node re-reads
  // cached metastore files older than this (a reader's delayed view). nullopt: never re-read.
  std::optional<int64_t> metastore_polling_interval_secs;
  std::string default_index_root_uri;  // default: {data_dir}/indexes
  S3StorageConfig s3;
  SearcherConfig searcher;
  IndexerConfig indexer;
  IngestApiConfig ingest_api;
  std::vector<std::string> rest_cors_allow_origins;
  // TEST ONLY, set by environment variables and never by the YAML file: storage fault injection
  // for the integration tests (docs/storage.md). SHALE_TEST_STORAGE_FAILURE_RATE (0 to 1) is the
  // share of storage calls that fail; SHALE_TEST_STORAGE_FAILURE_RATE_FILE names a file holding
  // that rate, re-read while the node runs (a missing or empty file means 0).
  double test_storage_failure_rate = 0;
  std::string test_storage_failure_rate_file;
  // TEST ONLY, from SHALE_TEST_CRASH_AT (`<point>[:<nth>]`, common/crash_point.h): the node exits
  // at the nth time it reaches that stage boundary of an indexing pipeline (docs/durability.md).
  std::optional<CrashPointSpec> test_crash_at;

  bool IsServiceEnabled(std::string_view service) const;
};

// Loads YAML text. `env` holds the environment (injected for tests).
absl::StatusOr<NodeConfig> LoadNodeConfig(std::string_view yaml_text,
                                          const std::map<std::string, std::string>& env);
// Reads the file then LoadNodeConfig. NotFound / InvalidArgument naming the path.
absl::StatusOr<NodeConfig> LoadNodeConfigFile(const std::string& path,
                                              const std::map<std::string, std::string>& env);
// Returns the process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();
// Parses the fragment of a file-backed metastore uri (the part after '#'): "" or
// "polling_interval=<N>s" with N whole seconds in [1, 999999999] (Quickwit's format). Returns the
// interval in seconds, nullopt for "". InvalidArgument naming `polling_interval` otherwise.
absl::StatusOr<std::optional<int64_t>> ParseMetastorePollingInterval(std::string_view fragment);
// Parses a storage failure rate: a number in [0, 1]. InvalidArgument otherwise.
absl::StatusOr<double> ParseFailureRate(std::string_view text);
// Parses a duration such as "0s", "90m", "1h", "2 days" into whole seconds (the node config's
// duration syntax). InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseDurationSecs(std::string_view text);
// Parses "500M", "1G", "64MB", "2GiB", "1000" into bytes. InvalidArgument otherwise.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);
// The config as GET /api/v1/config shows it (secrets redacted).
nlohmann::json NodeConfigToJson(const NodeConfig& config);

}  // namespace shale::config
