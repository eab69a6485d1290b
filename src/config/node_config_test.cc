#include "config/node_config.h"

#include <map>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale::config {
namespace {

using ::testing::HasSubstr;

const std::map<std::string, std::string> kNoEnv;

TEST(NodeConfigTest, EmptyFileGivesDefaults) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->version, "0.8");
  EXPECT_FALSE(config->node_id.empty());
  EXPECT_EQ(config->cluster_id, "shale-default-cluster");
  EXPECT_EQ(config->enabled_services.size(), 5u);
  EXPECT_TRUE(config->IsServiceEnabled("searcher"));
  EXPECT_TRUE(config->IsServiceEnabled("janitor"));
  EXPECT_EQ(config->listen_address, "127.0.0.1");
  EXPECT_EQ(config->advertise_address, "127.0.0.1");
  EXPECT_EQ(config->rest_listen_port, 7280);
  EXPECT_EQ(config->grpc_listen_port, 7281);
  EXPECT_EQ(config->grpc.max_message_size, 64u * 1024 * 1024);
  EXPECT_EQ(config->gossip_listen_port, 7280);
  EXPECT_EQ(config->data_dir, "./shale-data");
  EXPECT_EQ(config->metastore_uri, "./shale-data/indexes");
  EXPECT_EQ(config->default_index_root_uri, "./shale-data/indexes");
  EXPECT_EQ(config->searcher.fast_field_cache_capacity, 1'000'000'000u);
  EXPECT_EQ(config->searcher.split_footer_cache_capacity, 500'000'000u);
  EXPECT_EQ(config->ingest_api.content_length_limit, 10u * 1024 * 1024);
}

TEST(NodeConfigTest, CommentsOnlyFileGivesDefaults) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("# nothing\n# here: ${UNSET_VAR}\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rest_listen_port, 7280);
}

TEST(NodeConfigTest, FullConfig) {
  const char* yaml = R"(
version: 0.8
node_id: node-1
cluster_id: prod
enabled_services: [searcher, indexer]
listen_address: 0.0.0.0
advertise_address: 10.0.0.1
rest:
  listen_port: 8080
  cors_allow_origins: ["*"]
gossip_listen_port: 9000
peer_seeds: [10.0.0.2, 10.0.0.3]
data_dir: /var/lib/shale/
metastore_uri: postgres://u:p@db:5432/meta
default_index_root_uri: s3://bucket/indexes
storage:
  s3:
    endpoint: http://localhost:4568
    region: us-east-1
    force_path_style_access: true
    access_key_id: AKIA
    secret_access_key: hunter2
searcher:
  fast_field_cache_capacity: 2G
  split_footer_cache_capacity: 64MB
  partial_request_cache_capacity: 2GiB
  max_num_concurrent_split_searches: 10
  max_num_concurrent_split_streams: 20
  request_timeout_secs: 5
  aggregation_memory_limit: 100MB
indexer:
  split_store_max_num_bytes: 1G
  split_store_max_num_splits: 50
  max_concurrent_split_uploads: 4
  merge_concurrency: 3
  enable_otlp_endpoint: true
ingest_api:
  max_queue_memory_usage: 100KB
  max_queue_disk_usage: 500M
  content_length_limit: 1000
)";
  absl::StatusOr<NodeConfig> config = LoadNodeConfig(yaml, kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->node_id, "node-1");
  EXPECT_EQ(config->cluster_id, "prod");
  EXPECT_EQ(config->enabled_services, (std::vector<std::string>{"searcher", "indexer"}));
  EXPECT_FALSE(config->IsServiceEnabled("metastore"));
  EXPECT_EQ(config->advertise_address, "10.0.0.1");
  EXPECT_EQ(config->rest_listen_port, 8080);
  EXPECT_EQ(config->grpc_listen_port, 8081);
  EXPECT_EQ(config->gossip_listen_port, 9000);
  EXPECT_EQ(config->rest_cors_allow_origins, (std::vector<std::string>{"*"}));
  EXPECT_EQ(config->peer_seeds.size(), 2u);
  EXPECT_EQ(config->metastore_uri, "postgres://u:p@db:5432/meta");
  EXPECT_EQ(config->default_index_root_uri, "s3://bucket/indexes");
  EXPECT_EQ(config->s3.endpoint, "http://localhost:4568");
  EXPECT_TRUE(config->s3.force_path_style_access);
  EXPECT_EQ(config->searcher.fast_field_cache_capacity, 2'000'000'000u);
  EXPECT_EQ(config->searcher.split_footer_cache_capacity, 64'000'000u);
  EXPECT_EQ(config->searcher.partial_request_cache_capacity, 2ull << 30);
  EXPECT_EQ(config->searcher.max_num_concurrent_split_searches, 10u);
  EXPECT_EQ(config->searcher.request_timeout_secs, 5u);
  EXPECT_EQ(config->searcher.aggregation_memory_limit, 100'000'000u);
  EXPECT_EQ(config->indexer.split_store_max_num_bytes, 1'000'000'000u);
  EXPECT_TRUE(config->indexer.enable_otlp_endpoint);
  EXPECT_EQ(config->indexer.merge_concurrency, 3u);
  EXPECT_EQ(config->ingest_api.max_queue_memory_usage, 100'000u);
  EXPECT_EQ(config->ingest_api.content_length_limit, 1000u);

  nlohmann::json json = NodeConfigToJson(*config);
  EXPECT_EQ(json["storage"]["s3"]["secret_access_key"], "***redacted***");
  EXPECT_EQ(json["storage"]["s3"]["access_key_id"], "AKIA");
  EXPECT_EQ(json["rest"]["listen_port"], 8080);
  EXPECT_EQ(json.dump().find("hunter2"), std::string::npos);
}

TEST(NodeConfigTest, MetastoreDefaultsFollowDataDir) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("data_dir: /data/\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metastore_uri, "/data/indexes");
  EXPECT_EQ(config->default_index_root_uri, "/data/indexes");
}

TEST(NodeConfigTest, LegacyRestListenPort) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("rest_listen_port: 9999\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rest_listen_port, 9999);
  EXPECT_EQ(config->grpc_listen_port, 10000);
}

TEST(NodeConfigTest, UnknownTopLevelKeyIsNamed) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("node_idd: x\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("node_idd: unknown key"));
}

TEST(NodeConfigTest, UnknownNestedKeyIsNamedWithFullPath) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("storage:\n  s3:\n    regionn: eu\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("storage.s3.regionn: unknown key"));
  config = LoadNodeConfig("searcher:\n  fast_field_cache: 1G\n", kNoEnv);
  EXPECT_THAT(config.status().message(), HasSubstr("searcher.fast_field_cache: unknown key"));
}

TEST(NodeConfigTest, BadValuesNameTheKey) {
  absl::StatusOr<NodeConfig> config =
      LoadNodeConfig("searcher:\n  fast_field_cache_capacity: 12QB\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("searcher.fast_field_cache_capacity: invalid byte size \"12QB\""));

  config = LoadNodeConfig("rest:\n  listen_port: abc\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("rest.listen_port"));

  config = LoadNodeConfig("grpc_listen_port: 70000\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("grpc_listen_port"));

  config = LoadNodeConfig("grpc:\n  max_message_size: 10\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("grpc.max_message_size"));

  config = LoadNodeConfig("enabled_services: [searcher, cooker]\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("enabled_services"));
  EXPECT_THAT(config.status().message(), HasSubstr("cooker"));

  config = LoadNodeConfig("version: 0.1\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("version"));

  config = LoadNodeConfig("indexer:\n  merge_concurrency: 0\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("indexer.merge_concurrency"));
  config = LoadNodeConfig("searcher:\n  aggregation_memory_limit: 0\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("searcher.aggregation_memory_limit"));

  config = LoadNodeConfig("storage:\n  s3:\n    force_path_style_access: maybe\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("storage.s3.force_path_style_access"));
}

TEST(NodeConfigTest, IngestDurabilityAndIdempotencyKeys) {
  absl::StatusOr<NodeConfig> defaults = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->ingest_api.durability, IngestDurability::kRequest);
  EXPECT_EQ(defaults->ingest_api.idempotency_retention_secs, 3600);
  EXPECT_EQ(defaults->ingest_api.idempotency_max_keys, 100'000u);

  absl::StatusOr<NodeConfig> config = LoadNodeConfig(
      "ingest_api:\n  durability: async\n  idempotency_retention: 2h 30m\n"
      "  idempotency_max_keys: 5000\n",
      kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ingest_api.durability, IngestDurability::kAsync);
  EXPECT_EQ(config->ingest_api.idempotency_retention_secs, 9000);
  EXPECT_EQ(config->ingest_api.idempotency_max_keys, 5000u);
  EXPECT_EQ(NodeConfigToJson(*config)["ingest_api"]["durability"], "async");

  config = LoadNodeConfig("ingest_api:\n  idempotency_retention: 600\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ingest_api.idempotency_retention_secs, 600);

  config = LoadNodeConfig("ingest_api:\n  durability: sometimes\n", kNoEnv);
  EXPECT_THAT(config.status().message(), HasSubstr("ingest_api.durability"));
  config = LoadNodeConfig("ingest_api:\n  idempotency_retention: soon\n", kNoEnv);
  EXPECT_THAT(config.status().message(), HasSubstr("ingest_api.idempotency_retention"));
  config = LoadNodeConfig("ingest_api:\n  idempotency_max_keys: 0\n", kNoEnv);
  EXPECT_THAT(config.status().message(), HasSubstr("ingest_api.idempotency_max_keys"));
}

TEST(NodeConfigTest, IngestPipelinesPerIndex) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ingest_api.num_pipelines_per_index, 2u);
  config = LoadNodeConfig("ingest_api:\n  num_pipelines_per_index: 4\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ingest_api.num_pipelines_per_index, 4u);
  EXPECT_EQ(NodeConfigToJson(*config)["ingest_api"]["num_pipelines_per_index"], 4);
  for (const char* bad : {"0", "65", "two"}) {
    config =
        LoadNodeConfig(fmt::format("ingest_api:\n  num_pipelines_per_index: {}\n", bad), kNoEnv);
    EXPECT_THAT(config.status().message(), HasSubstr("ingest_api.num_pipelines_per_index")) << bad;
  }
}

TEST(NodeConfigTest, ClusterSettingsDefaultsAndOverrides) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cluster.gossip_interval_ms, 1000u);
  EXPECT_EQ(config->cluster.phi_threshold, 8.0);
  EXPECT_EQ(config->cluster.dead_node_grace_period_secs, 3600u);
  EXPECT_EQ(config->cluster.peer_seeds_refresh_interval_secs, 60u);

  config = LoadNodeConfig(R"(
gossip_interval: 250ms
peer_seeds: [10.0.0.2, "10.0.0.3:7300", searcher-0.searchers.svc, "[::1]:7280"]
cluster:
  phi_threshold: 10.5
  dead_node_grace_period: 2h
  peer_seeds_refresh_interval: 30s
)",
                          kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cluster.gossip_interval_ms, 250u);
  EXPECT_EQ(config->cluster.phi_threshold, 10.5);
  EXPECT_EQ(config->cluster.dead_node_grace_period_secs, 7200u);
  EXPECT_EQ(config->cluster.peer_seeds_refresh_interval_secs, 30u);
  EXPECT_EQ(config->peer_seeds.size(), 4u);
  const nlohmann::json rendered = NodeConfigToJson(*config);
  EXPECT_EQ(rendered["gossip_interval"], "250ms");
  EXPECT_EQ(rendered["cluster"]["dead_node_grace_period"], "7200s");

  config = LoadNodeConfig("", {{"SHALE_GOSSIP_INTERVAL", "2s"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cluster.gossip_interval_ms, 2000u);
}

TEST(NodeConfigTest, BadClusterSettingsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"gossip_interval: 5ms\n", "gossip_interval: 5ms is out of range"},
      {"gossip_interval: 2 parsecs\n", "gossip_interval: invalid duration"},
      {"gossip_interval: 100\n", "gossip_interval: expected a duration"},
      {"cluster:\n  phi_threshold: -1\n", "cluster.phi_threshold: value -1 is out of range"},
      {"cluster:\n  phi_threshold: high\n", "cluster.phi_threshold: expected a number"},
      {"cluster:\n  dead_node_grace_period: 10ms\n", "cluster.dead_node_grace_period"},
      {"cluster:\n  gossip_interval: 1s\n", "cluster.gossip_interval: unknown key"},
      {"peer_seeds: [\"host:99999\"]\n", "peer_seeds: invalid address `host:99999`"},
      {"peer_seeds: \"a:1, :7280\"\n", "peer_seeds: invalid address `:7280`"},
  };
  for (const auto& [yaml, expected] : cases) {
    absl::StatusOr<NodeConfig> config = LoadNodeConfig(yaml, kNoEnv);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << yaml;
  }
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", {{"SHALE_GOSSIP_INTERVAL", "fast"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("SHALE_GOSSIP_INTERVAL"));
  config = LoadNodeConfig("", {{"SHALE_PEER_SEEDS", "ok-host, bad host"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("peer_seeds"));
}

TEST(NodeConfigTest, InvalidYamlIsInvalidArgument) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("rest: [unclosed\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("invalid yaml"));
}

TEST(NodeConfigTest, EnvOverridesWin) {
  std::map<std::string, std::string> env = {
      {"SHALE_NODE_ID", "from-env"},          {"SHALE_CLUSTER_ID", "env-cluster"},
      {"SHALE_REST_LISTEN_PORT", "9000"},     {"SHALE_PEER_SEEDS", "a:7280, b:7280"},
      {"SHALE_DATA_DIR", "/tmp/d"},           {"SHALE_ENABLED_SERVICES", "searcher,metastore"},
      {"SHALE_METASTORE_URI", "ram:///meta"}, {"SHALE_ADVERTISE_ADDRESS", "1.2.3.4"},
  };
  absl::StatusOr<NodeConfig> config =
      LoadNodeConfig("node_id: from-file\nrest:\n  listen_port: 1234\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->node_id, "from-env");
  EXPECT_EQ(config->cluster_id, "env-cluster");
  EXPECT_EQ(config->rest_listen_port, 9000);
  EXPECT_EQ(config->grpc_listen_port, 9001);
  EXPECT_EQ(config->peer_seeds, (std::vector<std::string>{"a:7280", "b:7280"}));
  EXPECT_EQ(config->metastore_uri, "ram:///meta");
  EXPECT_EQ(config->default_index_root_uri, "/tmp/d/indexes");
  EXPECT_EQ(config->enabled_services, (std::vector<std::string>{"searcher", "metastore"}));
  EXPECT_EQ(config->advertise_address, "1.2.3.4");
}

TEST(NodeConfigTest, ListenPortAliasAndBadEnvValues) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", {{"SHALE_LISTEN_PORT", "7000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rest_listen_port, 7000);

  config = LoadNodeConfig("", {{"SHALE_GRPC_LISTEN_PORT", "port"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("SHALE_GRPC_LISTEN_PORT"));

  config = LoadNodeConfig("", {{"SHALE_ENABLED_SERVICES", "searcher,nope"}});
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("SHALE_ENABLED_SERVICES"));
}

TEST(NodeConfigTest, VariableSubstitution) {
  std::map<std::string, std::string> env = {{"MY_PORT", "7777"}, {"MY_NODE", "n-7"}};
  absl::StatusOr<NodeConfig> config = LoadNodeConfig(
      "node_id: ${MY_NODE}\nrest:\n  listen_port: ${MY_PORT}\ncluster_id: ${CLUSTER:-fallback}\n",
      env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->node_id, "n-7");
  EXPECT_EQ(config->rest_listen_port, 7777);
  EXPECT_EQ(config->cluster_id, "fallback");
}

TEST(NodeConfigTest, UnsetVariableWithoutDefaultIsNamed) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("node_id: ${NOT_SET_ANYWHERE}\n", kNoEnv);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("NOT_SET_ANYWHERE"));
}

TEST(NodeConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfigFile("/nonexistent/dir/shale.yaml", kNoEnv);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

#ifdef SHALE_SOURCE_DIR
TEST(NodeConfigTest, ShippedDefaultConfigLoads) {
  absl::StatusOr<NodeConfig> config =
      LoadNodeConfigFile(std::string(SHALE_SOURCE_DIR) + "/config/shale.yaml", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->version, "0.8");
  EXPECT_EQ(config->listen_address, "127.0.0.1");
  EXPECT_EQ(config->rest_listen_port, 7280);
  EXPECT_EQ(config->data_dir, "./shale-data");
  EXPECT_EQ(config->metastore_uri, "./shale-data/indexes");
}
#endif

TEST(NodeConfigTest, MetastorePollingIntervalFragment) {
  absl::StatusOr<NodeConfig> config =
      LoadNodeConfig("metastore_uri: s3://bucket/indexes#polling_interval=30s\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metastore_uri, "s3://bucket/indexes#polling_interval=30s");
  EXPECT_EQ(config->metastore_polling_interval_secs, 30);
  config = LoadNodeConfig("metastore_uri: s3://bucket/indexes\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->metastore_polling_interval_secs.has_value());
  config = LoadNodeConfig("", {{"SHALE_METASTORE_URI", "/data/meta#polling_interval=1s"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metastore_polling_interval_secs, 1);
}

TEST(NodeConfigTest, BadMetastoreUriFragmentNamesTheKey) {
  for (const char* uri : {"s3://b/i#polling_interval=0s", "s3://b/i#polling_interval=30",
                          "s3://b/i#polling_interval=1m", "s3://b/i#polling_interval=-5s",
                          "s3://b/i#polling_interval=1000000000s", "s3://b/i#polling_interval=s",
                          "s3://b/i#polling_interval=030s", "s3://b/i#polling_interval= 3s"}) {
    const absl::Status status =
        LoadNodeConfig(fmt::format("metastore_uri: \"{}\"\n", uri), kNoEnv).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(std::string(status.message()), HasSubstr("metastore_uri")) << uri;
    EXPECT_THAT(std::string(status.message()), HasSubstr("polling_interval")) << uri;
  }
  absl::Status status = LoadNodeConfig("metastore_uri: s3://b/i#interval=3s\n", kNoEnv).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown uri fragment `#interval=3s`"));
  status = LoadNodeConfig("metastore_uri: postgres://db/m#polling_interval=3s\n", kNoEnv).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  status = LoadNodeConfig("metastore_uri: gs://bucket\n", kNoEnv).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("metastore_uri"));
  status = LoadNodeConfig("default_index_root_uri: postgres://db/m\n", kNoEnv).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("default_index_root_uri"));
}

TEST(NodeConfigTest, TestStorageFailureRateComesFromTheEnvironmentOnly) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->test_storage_failure_rate, 0.0);
  EXPECT_TRUE(config->test_storage_failure_rate_file.empty());
  config = LoadNodeConfig("", {{"SHALE_TEST_STORAGE_FAILURE_RATE", "0.2"},
                               {"SHALE_TEST_STORAGE_FAILURE_RATE_FILE", "/tmp/rate"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->test_storage_failure_rate, 0.2);
  EXPECT_EQ(config->test_storage_failure_rate_file, "/tmp/rate");
  for (const char* bad : {"1.5", "-0.1", "lots", "", "0.2x"}) {
    const absl::Status status =
        LoadNodeConfig("", {{"SHALE_TEST_STORAGE_FAILURE_RATE", bad}}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("SHALE_TEST_STORAGE_FAILURE_RATE"));
  }
  EXPECT_FALSE(LoadNodeConfig("test_storage_failure_rate: 0.5\n", kNoEnv).ok());
}

TEST(NodeConfigTest, TestCrashPointComesFromTheEnvironmentOnly) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->test_crash_at.has_value());
  config = LoadNodeConfig("", {{"SHALE_TEST_CRASH_AT", "ingest_after_upload:2"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->test_crash_at.has_value());
  EXPECT_EQ(config->test_crash_at->point, "ingest_after_upload");
  EXPECT_EQ(config->test_crash_at->nth, 2u);
  for (const char* bad : {"", "ingest_after_lunch", "ingest_after_upload:0"}) {
    const absl::Status status = LoadNodeConfig("", {{"SHALE_TEST_CRASH_AT", bad}}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("SHALE_TEST_CRASH_AT"));
  }
  EXPECT_FALSE(LoadNodeConfig("test_crash_at: ingest_after_upload\n", kNoEnv).ok());
}

TEST(ParseByteSizeTest, Units) {
  EXPECT_EQ(*ParseByteSize("1000"), 1000u);
  EXPECT_EQ(*ParseByteSize("500M"), 500'000'000u);
  EXPECT_EQ(*ParseByteSize("1G"), 1'000'000'000u);
  EXPECT_EQ(*ParseByteSize("64MB"), 64'000'000u);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("100KB"), 100'000u);
  EXPECT_EQ(*ParseByteSize("1MiB"), 1'048'576u);
  EXPECT_EQ(*ParseByteSize("1.5G"), 1'500'000'000u);
  EXPECT_EQ(*ParseByteSize("10 MB"), 10'000'000u);
  EXPECT_FALSE(ParseByteSize("12QB").ok());
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("MB").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("20000000000T").ok());
}

TEST(NodeConfigTest, SplitCacheSectionIsOptionalAndValidated) {
  absl::StatusOr<NodeConfig> config = LoadNodeConfig("", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->searcher.split_cache.has_value());
  EXPECT_TRUE(NodeConfigToJson(*config)["searcher"]["split_cache"].is_null());

  config = LoadNodeConfig(
      "searcher:\n  split_cache:\n    max_num_bytes: 10G\n    max_num_splits: 500\n"
      "    num_concurrent_downloads: 4\n",
      kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->searcher.split_cache.has_value());
  EXPECT_EQ(config->searcher.split_cache->max_num_bytes, 10'000'000'000u);
  EXPECT_EQ(config->searcher.split_cache->max_num_splits, 500u);
  EXPECT_EQ(config->searcher.split_cache->num_concurrent_downloads, 4u);
  EXPECT_EQ(NodeConfigToJson(*config)["searcher"]["split_cache"]["max_num_splits"], 500);

  config = LoadNodeConfig("searcher:\n  split_cache: {}\n", kNoEnv);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->searcher.split_cache.has_value());
  EXPECT_EQ(config->searcher.split_cache->max_num_bytes, 1'000'000'000u);
  EXPECT_EQ(config->searcher.split_cache->num_concurrent_downloads, 1u);

  const std::pair<const char*, const char*> bad[] = {
      {"max_num_splits: 0", "searcher.split_cache.max_num_splits"},
      {"max_num_bytes: 0", "searcher.split_cache.max_num_bytes"},
      {"max_num_bytes: lots", "searcher.split_cache.max_num_bytes"},
      {"num_concurrent_downloads: 1000", "searcher.split_cache.num_concurrent_downloads"},
      {"num_concurrent_downloads: 0", "searcher.split_cache.num_concurrent_downloads"},
      {"size: 1G", "searcher.split_cache.size: unknown key"},
  };
  for (const auto& [line, expected] : bad) {
    config = LoadNodeConfig(fmt::format("searcher:\n  split_cache:\n    {}\n", line), kNoEnv);
    EXPECT_FALSE(config.ok()) << line;
    EXPECT_THAT(config.status().message(), HasSubstr(expected)) << line;
  }
}

}  // namespace
}  // namespace shale::config
