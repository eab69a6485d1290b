#include "config/node_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/host_port.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "config/internal/json_reader.h"

extern char** environ;  // NOLINT: POSIX

namespace shale::config {
namespace {

using internal::CheckObject;
using internal::KeyError;
using nlohmann::json;

// Download threads of the on-disk split cache: more would only compete for one node's bandwidth.
constexpr uint64_t kMaxSplitCacheDownloads = 64;

constexpr std::string_view kSupportedNodeConfigVersions[] = {"0.4", "0.5", "0.6",
                                                             "0.7", "0.8", "0.9"};

// Replaces `${VAR}` and `${VAR:-default}` with values from `env`. Lines whose first non-blank
// character is `#` are comments and are left alone, so commented-out examples never fail.
absl::StatusOr<std::string> SubstituteEnvVars(std::string_view text,
                                              const std::map<std::string, std::string>& env) {
  std::string out;
  out.reserve(text.size());
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) {
      line_end = text.size();
    }
    std::string_view line = text.substr(line_start, line_end - line_start);
    size_t first = line.find_first_not_of(" \t");
    bool is_comment = first != std::string_view::npos && line[first] == '#';
    size_t i = 0;
    while (i < line.size()) {
      if (!is_comment && line[i] == '$' && i + 1 < line.size() && line[i + 1] == '{') {
        size_t close = line.find('}', i + 2);
        if (close == std::string_view::npos) {
          return absl::InvalidArgumentError(
              fmt::format("unterminated environment variable reference `{}`", line.substr(i)));
        }
        std::string_view reference = line.substr(i + 2, close - i - 2);
        std::string_view name = reference;
        std::optional<std::string_view> default_value;
        if (size_t sep = reference.find(":-"); sep != std::string_view::npos) {
          name = reference.substr(0, sep);
          default_value = reference.substr(sep + 2);
        }
        bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
        for (char c : name) {
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            valid_name = false;
          }
        }
        if (!valid_name) {
          return absl::InvalidArgumentError(
              fmt::format("invalid environment variable reference `${{{}}}`", reference));
        }
        auto it = env.find(std::string(name));
        if (it != env.end()) {
          out += it->second;
        } else if (default_value.has_value()) {
          out += *default_value;
        } else {
          return absl::InvalidArgumentError(fmt::format(
              "environment variable `{}` referenced by the config is not set and has no default",
              name));
        }
        i = close + 1;
      } else {
        out += line[i];
        ++i;
      }
    }
    if (line_end < text.size()) {
      out += '\n';
    }
    line_start = line_end + 1;
  }
  return out;
}

std::string ShortHostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') {
    return "localhost";
  }
  std::string host(buffer);
  if (size_t dot = host.find('.'); dot != std::string::npos) {
    host.resize(dot);
  }
  return host;
}

absl::Status ReadPort(const json& object, std::string_view key, const std::string& path,
                      uint16_t& out) {
  int64_t port = out;
  RETURN_IF_ERROR(internal::ReadInt(object, key, path, 1, 65535, port));
  out = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

absl::Status ParsePortText(std::string_view text, std::string_view what, uint16_t& out) {
  uint32_t port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(fmt::format("{}: invalid port \"{}\"", what, text));
  }
  out = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

absl::Status ValidateServices(const std::vector<std::string>& services, std::string_view what) {
  if (services.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: at least one service must be enabled", what));
  }
  for (const std::string& service : services) {
    bool known = std::find(std::begin(kAllServices), std::end(kAllServices), service) !=
                 std::end(kAllServices);
    if (!known) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: unknown service `{}` (expected searcher, indexer, metastore, control_plane or "
          "janitor)",
          what, service));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Dedup(const std::vector<std::string>& items) {
  std::vector<std::string> unique;
  for (const std::string& item : items) {
    if (std::find(unique.begin(), unique.end(), item) == unique.end()) {
      unique.push_back(item);
    }
  }
  return unique;
}

constexpr int64_t kMinGossipIntervalMs = 10;
constexpr int64_t kMaxGossipIntervalMs = 60'000;

std::string FormatMillis(uint64_t millis) {
  return millis % 1000 == 0 ? fmt::format("{}s", millis / 1000) : fmt::format("{}ms", millis);
}

absl::Status CheckDurationRange(const std::string& key, int64_t millis, int64_t min_ms,
                                int64_t max_ms) {
  if (millis < min_ms || millis > max_ms) {
    return KeyError(key, fmt::format("{} is out of range [{}, {}]", FormatMillis(millis),
                                     FormatMillis(min_ms), FormatMillis(max_ms)));
  }
  return absl::OkStatus();
}

absl::Status ValidatePeerSeeds(const std::vector<std::string>& seeds, std::string_view what) {
  for (const std::string& seed : seeds) {
    absl::StatusOr<HostPort> parsed = ParseHostPort(seed);
    if (!parsed.ok()) return KeyError(std::string(what), std::string(parsed.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ParseVersion(const json& root, NodeConfig& config) {
  std::string version = config.version;
  RETURN_IF_ERROR(internal::ReadString(root, "version", "", version));
  if (std::find(std::begin(kSupportedNodeConfigVersions), std::end(kSupportedNodeConfigVersions),
                version) == std::end(kSupportedNodeConfigVersions)) {
    return KeyError("version", fmt::format("unsupported config version \"{}\" (expected 0.4 "
                                           "to 0.9)",
                                           version));
  }
  config.version = version;
  return absl::OkStatus();
}

// Reads a duration key (a string such as "500ms", "30s", "1h") into `out_ms`, in milliseconds,
// within [min_ms, max_ms].
absl::Status ReadDurationMillis(const json& object, std::string_view key, const std::string& path,
                                int64_t min_ms, int64_t max_ms, uint64_t& out_ms) {
  if (!object.is_object() || !object.contains(key) || object[std::string(key)].is_null()) {
    return absl::OkStatus();
  }
  const std::string full_key = internal::JoinPath(path, key);
  const json& value = object[std::string(key)];
  if (!value.is_string()) {
    return KeyError(full_key, "expected a duration such as \"500ms\", \"1s\" or \"1h\"");
  }
  absl::StatusOr<int64_t> millis = internal::ParseDurationMillis(value.get<std::string>());
  if (!millis.ok()) return KeyError(full_key, std::string(millis.status().message()));
  RETURN_IF_ERROR(CheckDurationRange(full_key, *millis, min_ms, max_ms));
  out_ms = static_cast<uint64_t>(*millis);
  return absl::OkStatus();
}

absl::Status ParseClusterSettings(const json& root, ClusterConfig& cluster) {
  RETURN_IF_ERROR(ReadDurationMillis(root, "gossip_interval", "", kMinGossipIntervalMs,
                                     kMaxGossipIntervalMs, cluster.gossip_interval_ms));
  if (!root.contains("cluster")) return absl::OkStatus();
  const json& section = root["cluster"];
  const std::string path = "cluster";
  RETURN_IF_ERROR(CheckObject(
      section, path, {"phi_threshold", "dead_node_grace_period", "peer_seeds_refresh_interval"}));
  RETURN_IF_ERROR(
      internal::ReadDouble(section, "phi_threshold", path, 1.0, 100.0, cluster.phi_threshold));
  uint64_t grace_ms = cluster.dead_node_grace_period_secs * 1000;
  RETURN_IF_ERROR(ReadDurationMillis(section, "dead_node_grace_period", path, 1000,
                                     int64_t{366} * 86'400'000, grace_ms));
  cluster.dead_node_grace_period_secs = grace_ms / 1000;
  uint64_t refresh_ms = cluster.peer_seeds_refresh_interval_secs * 1000;
  RETURN_IF_ERROR(ReadDurationMillis(section, "peer_seeds_refresh_interval", path, 1000,
                                     int64_t{86'400'000}, refresh_ms));
  cluster.peer_seeds_refresh_interval_secs = refresh_ms / 1000;
  return absl::OkStatus();
}

absl::Status ParseRoot(const json& root, NodeConfig& config, bool& grpc_port_set,
                       bool& gossip_port_set) {
  RETURN_IF_ERROR(CheckObject(root, "",
                              {"version",
                               "node_id",
                               "cluster_id",
                               "enabled_services",
                               "listen_address",
                               "advertise_address",
                               "rest",
                               "rest_listen_port",
                               "grpc_listen_port",
                               "grpc",
                               "gossip_listen_port",
                               "peer_seeds",
                               "gossip_interval",
                               "cluster",
                               "data_dir",
                               "metastore_uri",
                               "default_index_root_uri",
                               "storage",
                               "searcher",
                               "indexer",
                               "ingest_api"}));
  if (root.is_null()) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ParseVersion(root, config));
  RETURN_IF_ERROR(internal::ReadString(root, "node_id", "", config.node_id));
  RETURN_IF_ERROR(internal::ReadString(root, "cluster_id", "", config.cluster_id));
  if (root.contains("enabled_services") && !root["enabled_services"].is_null()) {
    std::vector<std::string> services;
    RETURN_IF_ERROR(internal::ReadStringList(root, "enabled_services", "", true, services));
    RETURN_IF_ERROR(ValidateServices(services, "enabled_services"));
    config.enabled_services = Dedup(services);
  }
  RETURN_IF_ERROR(internal::ReadString(root, "listen_address", "", config.listen_address));
  RETURN_IF_ERROR(internal::ReadString(root, "advertise_address", "", config.advertise_address));
  RETURN_IF_ERROR(ReadPort(root, "rest_listen_port", "", config.rest_listen_port));
  if (root.contains("rest")) {
    const json& rest = root["rest"];
    RETURN_IF_ERROR(CheckObject(rest, "rest", {"listen_port", "cors_allow_origins"}));
    RETURN_IF_ERROR(ReadPort(rest, "listen_port", "rest", config.rest_listen_port));
    RETURN_IF_ERROR(internal::ReadStringList(rest, "cors_allow_origins", "rest", true,
                                             config.rest_cors_allow_origins));
  }
  if (root.contains("grpc_listen_port") && !root["grpc_listen_port"].is_null()) {
    RETURN_IF_ERROR(ReadPort(root, "grpc_listen_port", "", config.grpc_listen_port));
    grpc_port_set = true;
  }
  if (root.contains("grpc")) {
    const json& grpc = root["grpc"];
    RETURN_IF_ERROR(CheckObject(grpc, "grpc", {"max_message_size"}));
    RETURN_IF_ERROR(
        internal::ReadByteSize(grpc, "max_message_size", "grpc", config.grpc.max_message_size));
    // gRPC takes an int; 1 KiB is too small for any of our messages.
    if (config.grpc.max_message_size < 1024 || config.grpc.max_message_size > 2'000'000'000) {
      return KeyError("grpc.max_message_size", "must be between 1KiB and 2GB");
    }
  }
  if (root.contains("gossip_listen_port") && !root["gossip_listen_port"].is_null()) {
    RETURN_IF_ERROR(ReadPort(root, "gossip_listen_port", "", config.gossip_listen_port));
    gossip_port_set = true;
  }
  RETURN_IF_ERROR(internal::ReadStringList(root, "peer_seeds", "", true, config.peer_seeds));
  RETURN_IF_ERROR(ParseClusterSettings(root, config.cluster));
  RETURN_IF_ERROR(internal::ReadString(root, "data_dir", "", config.data_dir));
  RETURN_IF_ERROR(internal::ReadString(root, "metastore_uri", "", config.metastore_uri));
  RETURN_IF_ERROR(
      internal::ReadString(root, "default_index_root_uri", "", config.default_index_root_uri));

  if (root.contains("storage")) {
    const json& storage = root["storage"];
    RETURN_IF_ERROR(CheckObject(storage, "storage", {"s3"}));
    if (storage.is_object() && storage.contains("s3")) {
      const json& s3 = storage["s3"];
      const std::string path = "storage.s3";
      RETURN_IF_ERROR(CheckObject(
          s3, path,
          {"endpoint", "region", "force_path_style_access", "access_key_id", "secret_access_key"}));
      RETURN_IF_ERROR(internal::ReadOptionalString(s3, "endpoint", path, config.s3.endpoint));
      RETURN_IF_ERROR(internal::ReadOptionalString(s3, "region", path, config.s3.region));
      RETURN_IF_ERROR(internal::ReadBool(s3, "force_path_style_access", path,
                                         config.s3.force_path_style_access));
      RETURN_IF_ERROR(
          internal::ReadOptionalString(s3, "access_key_id", path, config.s3.access_key_id));
      RETURN_IF_ERROR(
          internal::ReadOptionalString(s3, "secret_access_key", path, config.s3.secret_access_key));
    }
  }

  if (root.contains("searcher")) {
    const json& searcher = root["searcher"];
    const std::string path = "searcher";
    SearcherConfig& out = config.searcher;
    RETURN_IF_ERROR(
        CheckObject(searcher, path,
                    {"fast_field_cache_capacity", "split_footer_cache_capacity",
                     "partial_request_cache_capacity", "max_num_concurrent_split_searches",
                     "max_num_concurrent_split_streams", "request_timeout_secs", "split_cache",
                     "aggregation_memory_limit"}));
    RETURN_IF_ERROR(internal::ReadByteSize(searcher, "fast_field_cache_capacity", path,
                                           out.fast_field_cache_capacity));
    RETURN_IF_ERROR(internal::ReadByteSize(searcher, "split_footer_cache_capacity", path,
                                           out.split_footer_cache_capacity));
    RETURN_IF_ERROR(internal::ReadByteSize(searcher, "partial_request_cache_capacity", path,
                                           out.partial_request_cache_capacity));
    uint64_t searches = out.max_num_concurrent_split_searches;
    RETURN_IF_ERROR(internal::ReadUint(searcher, "max_num_concurrent_split_searches", path,
                                       std::numeric_limits<uint32_t>::max(), searches));
    if (searches == 0) {
      return KeyError("searcher.max_num_concurrent_split_searches", "must be greater than 0");
    }
    out.max_num_concurrent_split_searches = static_cast<uint32_t>(searches);
    uint64_t streams = out.max_num_concurrent_split_streams;
    RETURN_IF_ERROR(internal::ReadUint(searcher, "max_num_concurrent_split_streams", path,
                                       std::numeric_limits<uint32_t>::max(), streams));
    if (streams == 0) {
      return KeyError("searcher.max_num_concurrent_split_streams", "must be greater than 0");
    }
    out.max_num_concurrent_split_streams = static_cast<uint32_t>(streams);
    RETURN_IF_ERROR(internal::ReadUint(searcher, "request_timeout_secs", path,
                                       std::numeric_limits<uint32_t>::max(),
                                       out.request_timeout_secs));
    if (out.request_timeout_secs == 0) {
      return KeyError("searcher.request_timeout_secs", "must be greater than 0");
    }
    if (searcher.contains("split_cache")) {
      const json& split_cache = searcher["split_cache"];
      const std::string cache_path = "searcher.split_cache";
      RETURN_IF_ERROR(CheckObject(split_cache, cache_path,
                                  {"max_num_bytes", "max_num_splits", "num_concurrent_downloads"}));
      SplitCacheConfig& cache = out.split_cache.emplace();
      RETURN_IF_ERROR(
          internal::ReadByteSize(split_cache, "max_num_bytes", cache_path, cache.max_num_bytes));
      if (cache.max_num_bytes == 0) {
        return KeyError("searcher.split_cache.max_num_bytes", "must be greater than 0");
      }
      RETURN_IF_ERROR(internal::ReadUint(split_cache, "max_num_splits", cache_path,
                                         std::numeric_limits<uint32_t>::max(),
                                         cache.max_num_splits));
      if (cache.max_num_splits == 0) {
        return KeyError("searcher.split_cache.max_num_splits", "must be greater than 0");
      }
      uint64_t downloads = cache.num_concurrent_downloads;
      RETURN_IF_ERROR(internal::ReadUint(split_cache, "num_concurrent_downloads", cache_path,
                                         kMaxSplitCacheDownloads, downloads));
      if (downloads == 0) {
        return KeyError("searcher.split_cache.num_concurrent_downloads", "must be greater than 0");
      }
      cache.num_concurrent_downloads = static_cast<uint32_t>(downloads);
    }
    RETURN_IF_ERROR(internal::ReadByteSize(searcher, "aggregation_memory_limit", path,
                                           out.aggregation_memory_limit));
    if (out.aggregation_memory_limit == 0) {
      return KeyError("searcher.aggregation_memory_limit", "must be greater than 0");
    }
  }

  if (root.contains("indexer")) {
    const json& indexer = root["indexer"];
    const std::string path = "indexer";
    IndexerConfig& out = config.indexer;
    RETURN_IF_ERROR(
        CheckObject(indexer, path,
                    {"split_store_max_num_bytes", "split_store_max_num_splits",
                     "max_concurrent_split_uploads", "merge_concurrency", "enable_otlp_endpoint"}));
    RETURN_IF_ERROR(internal::ReadByteSize(indexer, "split_store_max_num_bytes", path,
                                           out.split_store_max_num_bytes));
    RETURN_IF_ERROR(internal::ReadUint(indexer, "split_store_max_num_splits", path,
                                       std::numeric_limits<uint64_t>::max(),
                                       out.split_store_max_num_splits));
    uint64_t uploads = out.max_concurrent_split_uploads;
    RETURN_IF_ERROR(internal::ReadUint(indexer, "max_concurrent_split_uploads", path,
                                       std::numeric_limits<uint32_t>::max(), uploads));
    if (uploads == 0) {
      return KeyError("indexer.max_concurrent_split_uploads", "must be greater than 0");
    }
    out.max_concurrent_split_uploads = static_cast<uint32_t>(uploads);
    uint64_t merges = out.merge_concurrency;
    RETURN_IF_ERROR(internal::ReadUint(indexer, "merge_concurrency", path,
                                       std::numeric_limits<uint32_t>::max(), merges));
    if (merges == 0) return KeyError("indexer.merge_concurrency", "must be greater than 0");
    out.merge_concurrency = static_cast<uint32_t>(merges);
    RETURN_IF_ERROR(
        internal::ReadBool(indexer, "enable_otlp_endpoint", path, out.enable_otlp_endpoint));
  }

  if (root.contains("ingest_api")) {
    const json& ingest_api = root["ingest_api"];
    const std::string path = "ingest_api";
    IngestApiConfig& out = config.ingest_api;
    RETURN_IF_ERROR(CheckObject(
        ingest_api, path,
        {"max_queue_memory_usage", "max_queue_disk_usage", "content_length_limit", "durability",
         "idempotency_retention", "idempotency_max_keys", "num_pipelines_per_index"}));
    RETURN_IF_ERROR(internal::ReadByteSize(ingest_api, "max_queue_memory_usage", path,
                                           out.max_queue_memory_usage));
    RETURN_IF_ERROR(
        internal::ReadByteSize(ingest_api, "max_queue_disk_usage", path, out.max_queue_disk_usage));
    RETURN_IF_ERROR(
        internal::ReadByteSize(ingest_api, "content_length_limit", path, out.content_length_limit));
    if (out.max_queue_disk_usage < out.max_queue_memory_usage) {
      return KeyError("ingest_api.max_queue_disk_usage",
                      "must be at least ingest_api.max_queue_memory_usage");
    }
    std::string durability = "request";
    RETURN_IF_ERROR(internal::ReadString(ingest_api, "durability", path, durability));
    if (durability == "request") {
      out.durability = IngestDurability::kRequest;
    } else if (durability == "async") {
      out.durability = IngestDurability::kAsync;
    } else {
      return KeyError(
          "ingest_api.durability",
          fmt::format("`{}` is not a durability (expected request or async)", durability));
    }
    if (ingest_api.is_object() && ingest_api.contains("idempotency_retention")) {
      const json& retention = ingest_api["idempotency_retention"];
      absl::StatusOr<int64_t> secs =
          retention.is_number_integer()
              ? absl::StatusOr<int64_t>(retention.get<int64_t>())
              : (retention.is_string() ? internal::ParseDurationSecs(retention.get<std::string>())
                                       : absl::InvalidArgumentError("expected a duration"));
      if (!secs.ok() || *secs <= 0) {
        return KeyError("ingest_api.idempotency_retention",
                        "expected a positive duration such as 1h, 30m or 3600");
      }
      out.idempotency_retention_secs = *secs;
    }
    RETURN_IF_ERROR(internal::ReadUint(ingest_api, "idempotency_max_keys", path,
                                       std::numeric_limits<uint64_t>::max(),
                                       out.idempotency_max_keys));
    if (out.idempotency_max_keys == 0) {
      return KeyError("ingest_api.idempotency_max_keys", "must be greater than 0");
    }
    RETURN_IF_ERROR(internal::ReadUint(ingest_api, "num_pipelines_per_index", path, 64,
                                       out.num_pipelines_per_index));
    if (out.num_pipelines_per_index == 0) {
      return KeyError("ingest_api.num_pipelines_per_index", "must be between 1 and 64");
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyEnvOverrides(const std::map<std::string, std::string>& env, NodeConfig& config,
                               bool& grpc_port_set, bool& gossip_port_set) {
  auto lookup = [&](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  if (const std::string* value = lookup("SHALE_NODE_ID")) {
    config.node_id = *value;
  }
  if (const std::string* value = lookup("SHALE_CLUSTER_ID")) {
    config.cluster_id = *value;
  }
  if (const std::string* value = lookup("SHALE_LISTEN_ADDRESS")) {
    config.listen_address = *value;
  }
  if (const std::string* value = lookup("SHALE_ADVERTISE_ADDRESS")) {
    config.advertise_address = *value;
  }
  if (const std::string* value = lookup("SHALE_LISTEN_PORT")) {
    RETURN_IF_ERROR(ParsePortText(*value, "SHALE_LISTEN_PORT", config.rest_listen_port));
  }
  if (const std::string* value = lookup("SHALE_REST_LISTEN_PORT")) {
    RETURN_IF_ERROR(ParsePortText(*value, "SHALE_REST_LISTEN_PORT", config.rest_listen_port));
  }
  if (const std::string* value = lookup("SHALE_GRPC_LISTEN_PORT")) {
    RETURN_IF_ERROR(ParsePortText(*value, "SHALE_GRPC_LISTEN_PORT", config.grpc_listen_port));
    grpc_port_set = true;
  }
  if (const std::string* value = lookup("SHALE_GOSSIP_LISTEN_PORT")) {
    RETURN_IF_ERROR(ParsePortText(*value, "SHALE_GOSSIP_LISTEN_PORT", config.gossip_listen_port));
    gossip_port_set = true;
  }
  if (const std::string* value = lookup("SHALE_PEER_SEEDS")) {
    config.peer_seeds = internal::SplitCommaList(*value);
  }
  if (const std::string* value = lookup("SHALE_GOSSIP_INTERVAL")) {
    absl::StatusOr<int64_t> millis = internal::ParseDurationMillis(*value);
    if (!millis.ok())
      return KeyError("SHALE_GOSSIP_INTERVAL", std::string(millis.status().message()));
    RETURN_IF_ERROR(CheckDurationRange("SHALE_GOSSIP_INTERVAL", *millis, kMinGossipIntervalMs,
                                       kMaxGossipIntervalMs));
    config.cluster.gossip_interval_ms = static_cast<uint64_t>(*millis);
  }
  if (const std::string* value = lookup("SHALE_DATA_DIR")) {
    config.data_dir = *value;
  }
  if (const std::string* value = lookup("SHALE_METASTORE_URI")) {
    config.metastore_uri = *value;
  }
  if (const std::string* value = lookup("SHALE_DEFAULT_INDEX_ROOT_URI")) {
    config.default_index_root_uri = *value;
  }
  if (const std::string* value = lookup("SHALE_TEST_STORAGE_FAILURE_RATE")) {
    absl::StatusOr<double> rate = ParseFailureRate(*value);
    if (!rate.ok()) {
      return KeyError("SHALE_TEST_STORAGE_FAILURE_RATE", std::string(rate.status().message()));
    }
    config.test_storage_failure_rate = *rate;
  }
  if (const std::string* value = lookup("SHALE_TEST_STORAGE_FAILURE_RATE_FILE")) {
    config.test_storage_failure_rate_file = *value;
  }
  if (const std::string* value = lookup("SHALE_TEST_CRASH_AT")) {
    absl::StatusOr<CrashPointSpec> spec = ParseCrashPointSpec(*value);
    if (!spec.ok()) return KeyError("SHALE_TEST_CRASH_AT", std::string(spec.status().message()));
    config.test_crash_at = std::move(spec).value();
  }
  if (const std::string* value = lookup("SHALE_ENABLED_SERVICES")) {
    std::vector<std::string> services = internal::SplitCommaList(*value);
    RETURN_IF_ERROR(ValidateServices(services, "SHALE_ENABLED_SERVICES"));
    config.enabled_services = Dedup(services);
  }
  return absl::OkStatus();
}

// Parses metastore_uri and its fragment into metastore_polling_interval_secs.
absl::Status ValidateMetastoreUri(NodeConfig& config) {
  const absl::StatusOr<Uri> uri = Uri::Parse(config.metastore_uri);
  if (!uri.ok()) {
    return KeyError("metastore_uri", std::string(uri.status().message()));
  }
  if (uri->fragment().empty()) {
    return absl::OkStatus();
  }
  if (uri->protocol() == Uri::Protocol::kPostgres) {
    return KeyError("metastore_uri",
                    fmt::format("`{}`: a postgresql metastore uri takes no `#` fragment "
                                "(polling_interval is for file-backed metastores)",
                                config.metastore_uri));
  }
  const absl::StatusOr<std::optional<int64_t>> interval =
      ParseMetastorePollingInterval(uri->fragment());
  if (!interval.ok()) {
    return KeyError("metastore_uri", fmt::format("`{}`: {}", config.metastore_uri,
                                                 std::string(interval.status().message())));
  }
  config.metastore_polling_interval_secs = *interval;
  return absl::OkStatus();
}

absl::Status FillDefaultsAndValidate(NodeConfig& config, bool grpc_port_set, bool gossip_port_set) {
  if (config.node_id.empty()) {
    config.node_id = ShortHostname();
  }
  if (config.cluster_id.empty()) {
    return KeyError("cluster_id", "must not be empty");
  }
  if (config.listen_address.empty()) {
    return KeyError("listen_address", "must not be empty");
  }
  if (config.advertise_address.empty()) {
    config.advertise_address = config.listen_address;
  }
  if (config.enabled_services.empty()) {
    config.enabled_services.assign(std::begin(kAllServices), std::end(kAllServices));
  }
  if (!grpc_port_set) {
    if (config.rest_listen_port == 65535) {
      return KeyError("grpc_listen_port",
                      "default rest.listen_port + 1 is out of range, set it explicitly");
    }
    config.grpc_listen_port = static_cast<uint16_t>(config.rest_listen_port + 1);
  }
  if (!gossip_port_set) {
    config.gossip_listen_port = config.rest_listen_port;
  }
  if (config.grpc_listen_port == config.rest_listen_port) {
    return KeyError("grpc_listen_port", "must differ from rest.listen_port");
  }
  RETURN_IF_ERROR(ValidatePeerSeeds(config.peer_seeds, "peer_seeds"));
  if (config.data_dir.empty()) {
    return KeyError("data_dir", "must not be empty");
  }
  std::string data_dir = config.data_dir;
  while (data_dir.size() > 1 && data_dir.back() == '/') {
    data_dir.pop_back();
  }
  if (config.metastore_uri.empty()) {
    config.metastore_uri = data_dir + "/indexes";
  }
  if (config.default_index_root_uri.empty()) {
    config.default_index_root_uri = data_dir + "/indexes";
  }
  RETURN_IF_ERROR(ValidateMetastoreUri(config));
  const absl::StatusOr<Uri> index_root = Uri::Parse(config.default_index_root_uri);
  if (!index_root.ok()) {
    return KeyError("default_index_root_uri", std::string(index_root.status().message()));
  }
  if (index_root->protocol() == Uri::Protocol::kPostgres) {
    return KeyError("default_index_root_uri",
                    fmt::format("`{}` is not a storage uri", config.default_index_root_uri));
  }
  if (!index_root->fragment().empty()) {
    return KeyError("default_index_root_uri", fmt::format("`{}` must not have a `#` fragment",
                                                          config.default_index_root_uri));
  }
  return absl::OkStatus();
}

std::string RedactedSecret(const std::optional<std::string>& secret) {
  return secret.has_value() ? "***redacted***" : "";
}

}  // namespace

uint32_t DefaultMergeConcurrency() {
  return std::max(1u, std::thread::hardware_concurrency() * 2 / 3);
}

bool NodeConfig::IsServiceEnabled(std::string_view service) const {
  return std::find(enabled_services.begin(), enabled_services.end(), service) !=
         enabled_services.end();
}

absl::StatusOr<NodeConfig> LoadNodeConfig(std::string_view yaml_text,
                                          const std::map<std::string, std::string>& env) {
  ASSIGN_OR_RETURN(std::string substituted, SubstituteEnvVars(yaml_text, env));
  ASSIGN_OR_RETURN(json root, internal::YamlToJson(substituted));
  NodeConfig config;
  bool grpc_port_set = false;
  bool gossip_port_set = false;
  RETURN_IF_ERROR(ParseRoot(root, config, grpc_port_set, gossip_port_set));
  RETURN_IF_ERROR(ApplyEnvOverrides(env, config, grpc_port_set, gossip_port_set));
  RETURN_IF_ERROR(FillDefaultsAndValidate(config, grpc_port_set, gossip_port_set));
  return config;
}

absl::StatusOr<NodeConfig> LoadNodeConfigFile(const std::string& path,
                                              const std::map<std::string, std::string>& env) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(fmt::format("node config file {} not found", path));
  }
  std::ostringstream content;
  content << file.rdbuf();
  if (file.bad()) {
    return absl::InvalidArgumentError(fmt::format("failed to read node config file {}", path));
  }
  absl::StatusOr<NodeConfig> config = LoadNodeConfig(content.str(), env);
  if (!config.ok()) {
    return absl::Status(
        config.status().code(),
        fmt::format("node config file {}: {}", path, std::string(config.status().message())));
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

absl::StatusOr<std::optional<int64_t>> ParseMetastorePollingInterval(std::string_view fragment) {
  if (fragment.empty()) {
    return std::optional<int64_t>();
  }
  constexpr std::string_view kKey = "polling_interval=";
  if (!fragment.starts_with(kKey)) {
    return absl::InvalidArgumentError(fmt::format(
        "unknown uri fragment `#{}` (the only one is #polling_interval=<seconds>s)", fragment));
  }
  const std::string_view value = fragment.substr(kKey.size());
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        fmt::format("invalid polling_interval `{}` (expected whole seconds from 1s to "
                    "999999999s, e.g. #polling_interval=30s)",
                    value));
  };
  // Quickwit's pattern: [1-9][0-9]{0,8}s.
  if (value.size() < 2 || value.size() > 10 || value.back() != 's' || value.front() == '0') {
    return invalid();
  }
  const std::string_view digits = value.substr(0, value.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return invalid();
  }
  int64_t seconds = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
  return std::optional<int64_t>(seconds);
}

absl::StatusOr<int64_t> ParseDurationSecs(std::string_view text) {
  return internal::ParseDurationSecs(text);
}

absl::StatusOr<double> ParseFailureRate(std::string_view text) {
  double rate = -1;
  const std::string trimmed(text);
  char* end = nullptr;
  rate = std::strtod(trimmed.c_str(), &end);
  if (trimmed.empty() || end != trimmed.c_str() + trimmed.size() || !(rate >= 0 && rate <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("invalid failure rate `{}` (expected a number from 0 to 1)", text));
  }
  return rate;
}

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  auto invalid = [&]() {
    return absl::InvalidArgumentError(fmt::format("invalid byte size \"{}\"", text));
  };
  std::string_view rest = text;
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
    rest.remove_prefix(1);
  }
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
    rest.remove_suffix(1);
  }
  size_t number_end = 0;
  while (number_end < rest.size() &&
         (std::isdigit(static_cast<unsigned char>(rest[number_end])) || rest[number_end] == '.')) {
    ++number_end;
  }
  std::string_view number = rest.substr(0, number_end);
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      std::count(number.begin(), number.end(), '.') > 1) {
    return invalid();
  }
  std::string_view unit = rest.substr(number_end);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  std::string lower_unit;
  for (char c : unit) {
    lower_unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  uint64_t multiplier = 0;
  if (lower_unit.empty() || lower_unit == "b") {
    multiplier = 1;
  } else if (lower_unit == "k" || lower_unit == "kb") {
    multiplier = 1'000;
  } else if (lower_unit == "m" || lower_unit == "mb") {
    multiplier = 1'000'000;
  } else if (lower_unit == "g" || lower_unit == "gb") {
    multiplier = 1'000'000'000;
  } else if (lower_unit == "t" || lower_unit == "tb") {
    multiplier = 1'000'000'000'000;
  } else if (lower_unit == "ki" || lower_unit == "kib") {
    multiplier = uint64_t{1} << 10;
  } else if (lower_unit == "mi" || lower_unit == "mib") {
    multiplier = uint64_t{1} << 20;
  } else if (lower_unit == "gi" || lower_unit == "gib") {
    multiplier = uint64_t{1} << 30;
  } else if (lower_unit == "ti" || lower_unit == "tib") {
    multiplier = uint64_t{1} << 40;
  } else {
    return invalid();
  }
  size_t dot = number.find('.');
  std::string_view integer_part = number.substr(0, dot);
  uint64_t integer = 0;
  auto [ptr, ec] =
      std::from_chars(integer_part.data(), integer_part.data() + integer_part.size(), integer);
  if (ec != std::errc() || ptr != integer_part.data() + integer_part.size()) {
    return invalid();
  }
  if (integer > std::numeric_limits<uint64_t>::max() / multiplier) {
    return invalid();
  }
  uint64_t bytes = integer * multiplier;
  if (dot != std::string_view::npos) {
    // Fractional part, exact to the byte: "1.5G" = 1,500,000,000.
    std::string_view fraction = number.substr(dot + 1);
    uint64_t scale = 1;
    uint64_t fraction_value = 0;
    for (char digit : fraction) {
      if (scale > std::numeric_limits<uint64_t>::max() / 10) {
        break;
      }
      scale *= 10;
      fraction_value = fraction_value * 10 + static_cast<uint64_t>(digit - '0');
    }
    long double extra = static_cast<long double>(fraction_value) * multiplier / scale;
    if (extra + static_cast<long double>(bytes) >
        static_cast<long double>(std::numeric_limits<uint64_t>::max())) {
      return invalid();
    }
    bytes += static_cast<uint64_t>(extra);
  }
  return bytes;
}

json NodeConfigToJson(const NodeConfig& config) {
  json s3 = json::object();
  s3["endpoint"] = config.s3.endpoint.has_value() ? json(*config.s3.endpoint) : json(nullptr);
  s3["region"] = config.s3.region.has_value() ? json(*config.s3.region) : json(nullptr);
  s3["force_path_style_access"] = config.s3.force_path_style_access;
  s3["access_key_id"] =
      config.s3.access_key_id.has_value() ? json(*config.s3.access_key_id) : json(nullptr);
  s3["secret_access_key"] = config.s3.secret_access_key.has_value()
                                ? json(RedactedSecret(config.s3.secret_access_key))
                                : json(nullptr);
  return json{
      {"version", config.version},
      {"node_id", config.node_id},
      {"cluster_id", config.cluster_id},
      {"enabled_services", config.enabled_services},
      {"listen_address", config.listen_address},
      {"advertise_address", config.advertise_address},
      {"rest",
       {{"listen_port", config.rest_listen_port},
        {"cors_allow_origins", config.rest_cors_allow_origins}}},
      {"grpc_listen_port", config.grpc_listen_port},
      {"grpc", {{"max_message_size", config.grpc.max_message_size}}},
      {"gossip_listen_port", config.gossip_listen_port},
      {"peer_seeds", config.peer_seeds},
      {"gossip_interval", FormatMillis(config.cluster.gossip_interval_ms)},
      {"cluster",
       {{"phi_threshold", config.cluster.phi_threshold},
        {"dead_node_grace_period", FormatMillis(config.cluster.dead_node_grace_period_secs * 1000)},
        {"peer_seeds_refresh_interval",
         FormatMillis(config.cluster.peer_seeds_refresh_interval_secs * 1000)}}},
      {"data_dir", config.data_dir},
      {"metastore_uri", config.metastore_uri},
      {"default_index_root_uri", config.default_index_root_uri},
      {"storage", {{"s3", s3}}},
      {"searcher",
       {{"fast_field_cache_capacity", config.searcher.fast_field_cache_capacity},
        {"split_footer_cache_capacity", config.searcher.split_footer_cache_capacity},
        {"partial_request_cache_capacity", config.searcher.partial_request_cache_capacity},
        {"max_num_concurrent_split_searches", config.searcher.max_num_concurrent_split_searches},
        {"max_num_concurrent_split_streams", config.searcher.max_num_concurrent_split_streams},
        {"request_timeout_secs", config.searcher.request_timeout_secs},
        {"split_cache", config.searcher.split_cache.has_value()
                            ? json{{"max_num_bytes", config.searcher.split_cache->max_num_bytes},
                                   {"max_num_splits", config.searcher.split_cache->max_num_splits},
                                   {"num_concurrent_downloads",
                                    config.searcher.split_cache->num_concurrent_downloads}}
                            : json(nullptr)},
        {"aggregation_memory_limit", config.searcher.aggregation_memory_limit}}},
      {"indexer",
       {{"split_store_max_num_bytes", config.indexer.split_store_max_num_bytes},
        {"split_store_max_num_splits", config.indexer.split_store_max_num_splits},
        {"max_concurrent_split_uploads", config.indexer.max_concurrent_split_uploads},
        {"merge_concurrency", config.indexer.merge_concurrency},
        {"enable_otlp_endpoint", config.indexer.enable_otlp_endpoint}}},
      {"ingest_api",
       {{"max_queue_memory_usage", config.ingest_api.max_queue_memory_usage},
        {"max_queue_disk_usage", config.ingest_api.max_queue_disk_usage},
        {"content_length_limit", config.ingest_api.content_length_limit},
        {"durability",
         config.ingest_api.durability == IngestDurability::kAsync ? "async" : "request"},
        {"idempotency_retention_secs", config.ingest_api.idempotency_retention_secs},
        {"idempotency_max_keys", config.ingest_api.idempotency_max_keys},
        {"num_pipelines_per_index", config.ingest_api.num_pipelines_per_index}}},
  };
}

}  // namespace shale::config
