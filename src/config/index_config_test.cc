#include "config/index_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shale::config {
namespace {

using index::DocMappingMode;
using index::FieldType;
using ::testing::HasSubstr;

constexpr const char* kJsonConfig = R"({
  "version": "0.7",
  "index_id": "hdfs-logs",
  "index_uri": "s3://bucket/hdfs-logs",
  "doc_mapping": {
    "mode": "strict",
    "field_mappings": [
      {"name": "timestamp", "type": "datetime", "input_formats": ["unix_timestamp"],
       "output_format": "unix_timestamp_secs", "fast_precision": "seconds", "fast": true},
      {"name": "tenant_id", "type": "u64", "fast": true},
      {"name": "severity_text", "type": "text", "tokenizer": "raw", "fast": {"normalizer": "lowercase"}},
      {"name": "body", "type": "text", "tokenizer": "default", "record": "position", "fieldnorms": true},
      {"name": "tags", "type": "array<text>", "tokenizer": "raw"},
      {"name": "resource", "type": "object", "field_mappings": [
        {"name": "service", "type": "text", "tokenizer": "raw"}
      ]},
      {"name": "attributes", "type": "json", "expand_dots": false}
    ],
    "timestamp_field": "timestamp",
    "tag_fields": ["tenant_id"],
    "store_source": true,
    "partition_key": "tenant_id",
    "max_num_partitions": 100,
    "tokenizers": []
  },
  "indexing_settings": {
    "commit_timeout_secs": 30,
    "split_num_docs_target": 5000000,
    "merge_policy": {"type": "stable_log", "merge_factor": 8, "max_merge_factor": 10,
                     "min_level_num_docs": 50000, "maturation_period": "2 days"},
    "resources": {"heap_size": "1G"},
    "docstore_compression_level": 5,
    "docstore_blocksize": 500000
  },
  "search_settings": {"default_search_fields": ["severity_text", "body", "attributes.class"]},
  "retention": {"period": "90 days", "schedule": "daily"}
})";

constexpr const char* kYamlConfig = R"(
version: 0.7
index_id: hdfs-logs
index_uri: s3://bucket/hdfs-logs
doc_mapping:
  mode: strict
  field_mappings:
    - name: timestamp
      type: datetime
      input_formats: [unix_timestamp]
      output_format: unix_timestamp_secs
      fast_precision: seconds
      fast: true
    - name: tenant_id
      type: u64
      fast: true
    - name: severity_text
      type: text
      tokenizer: raw
      fast:
        normalizer: lowercase
    - name: body
      type: text
      tokenizer: default
      record: position
      fieldnorms: true
    - name: tags
      type: array<text>
      tokenizer: raw
    - name: resource
      type: object
      field_mappings:
        - name: service
          type: text
          tokenizer: raw
    - name: attributes
      type: json
      expand_dots: false
  timestamp_field: timestamp
  tag_fields: [tenant_id]
  store_source: true
  partition_key: tenant_id
  max_num_partitions: 100
  tokenizers: []
indexing_settings:
  commit_timeout_secs: 30
  split_num_docs_target: 5000000
  merge_policy:
    type: stable_log
    merge_factor: 8
    max_merge_factor: 10
    min_level_num_docs: 50000
    maturation_period: 48h
  resources:
    heap_size: 1G
  docstore_compression_level: 5
  docstore_blocksize: 500000
search_settings:
  default_search_fields: [severity_text, body, attributes.class]
retention:
  period: 90 days
  schedule: daily
)";

TEST(IndexConfigTest, ParsesJson) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(kJsonConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->version, "0.7");
  EXPECT_EQ(config->index_id, "hdfs-logs");
  EXPECT_EQ(config->index_uri, "s3://bucket/hdfs-logs");
  const index::DocMapping& mapping = config->doc_mapping;
  EXPECT_EQ(mapping.mode, DocMappingMode::kStrict);
  ASSERT_EQ(mapping.field_mappings.size(), 7u);
  EXPECT_EQ(mapping.field_mappings[0].type, FieldType::kDatetime);
  EXPECT_TRUE(mapping.field_mappings[0].fast);
  EXPECT_EQ(mapping.field_mappings[2].fast_normalizer, "lowercase");
  EXPECT_TRUE(mapping.field_mappings[2].fast);
  EXPECT_EQ(mapping.field_mappings[3].record, index::IndexRecordOption::kPosition);
  EXPECT_EQ(mapping.field_mappings[4].type, FieldType::kText);  // array<text>
  ASSERT_EQ(mapping.field_mappings[5].field_mappings.size(), 1u);
  EXPECT_FALSE(mapping.field_mappings[6].expand_dots);
  EXPECT_EQ(mapping.timestamp_field, "timestamp");
  EXPECT_EQ(mapping.partition_key, "tenant_id");
  EXPECT_EQ(mapping.max_num_partitions, 100u);
  EXPECT_EQ(config->indexing_settings.commit_timeout_secs, 30);
  EXPECT_EQ(config->indexing_settings.heap_size_bytes, 1'000'000'000u);
  EXPECT_EQ(config->indexing_settings.merge_policy.merge_factor, 8u);
  EXPECT_EQ(config->indexing_settings.merge_policy.maturation_period_secs, 48 * 3600);
  ASSERT_TRUE(config->retention.has_value());
  EXPECT_EQ(config->retention->period, "90 days");
}

TEST(IndexConfigTest, YamlAndJsonAreEquivalent) {
  absl::StatusOr<IndexConfig> from_json = ParseIndexConfigJson(kJsonConfig);
  absl::StatusOr<IndexConfig> from_yaml = ParseIndexConfigYaml(kYamlConfig);
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.status();
  EXPECT_EQ(IndexConfigToJson(*from_json), IndexConfigToJson(*from_yaml));
}

TEST(IndexConfigTest, RoundTrips) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(kJsonConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  nlohmann::json once = IndexConfigToJson(*config);
  absl::StatusOr<IndexConfig> again = IndexConfigFromJson(once);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << once.dump(2);
  EXPECT_EQ(IndexConfigToJson(*again), once);
  EXPECT_EQ(once["doc_mapping"]["field_mappings"][2]["fast"]["normalizer"], "lowercase");
  EXPECT_EQ(once["indexing_settings"]["merge_policy"]["maturation_period"], "2days");
}

TEST(IndexConfigTest, MinimalConfigUsesDefaults) {
  absl::StatusOr<IndexConfig> config =
      ParseIndexConfigJson(R"({"version": "0.8", "index_id": "logs"})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->doc_mapping.mode, DocMappingMode::kDynamic);
  EXPECT_FALSE(config->index_uri.has_value());
  EXPECT_EQ(config->indexing_settings.commit_timeout_secs, 60);
  EXPECT_FALSE(config->retention.has_value());
  absl::StatusOr<IndexConfig> again = IndexConfigFromJson(IndexConfigToJson(*config));
  ASSERT_TRUE(again.ok()) << again.status();
}

TEST(IndexConfigTest, VersionAcceptsNumbersAndStrings) {
  EXPECT_TRUE(ParseIndexConfigYaml("version: 0.6\nindex_id: abc\n").ok());
  EXPECT_TRUE(ParseIndexConfigJson(R"({"version": 0.9, "index_id": "abc"})").ok());
  absl::StatusOr<IndexConfig> config =
      ParseIndexConfigJson(R"({"version": "0.3", "index_id": "abc"})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("version"));
}

TEST(IndexConfigTest, UnknownKeyNamesThePath) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(R"({
    "index_id": "logs",
    "doc_mapping": {"field_mappings": [
      {"name": "a", "type": "text"}, {"name": "b", "type": "text"},
      {"name": "c", "type": "text", "tokenzer": "raw"}]}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("doc_mapping.field_mappings[2].tokenzer: unknown key"));

  config =
      ParseIndexConfigYaml("index_id: logs\nindexing_settings:\n  merge_policy:\n    foo: 1\n");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("indexing_settings.merge_policy.foo: unknown key"));

  config = ParseIndexConfigJson(R"({"index_id": "logs", "sarch_settings": {}})");
  EXPECT_THAT(config.status().message(), HasSubstr("sarch_settings: unknown key"));

  // A key valid for another type is unknown here.
  config = ParseIndexConfigJson(R"({"index_id": "logs", "doc_mapping": {"field_mappings": [
      {"name": "n", "type": "u64", "tokenizer": "raw"}]}})");
  EXPECT_THAT(config.status().message(),
              HasSubstr("doc_mapping.field_mappings[0].tokenizer: unknown key"));

  config = ParseIndexConfigJson(R"({"index_id": "logs", "doc_mapping": {"field_mappings": [
      {"name": "o", "type": "object", "field_mappings": [{"name": "x", "type": "i64", "bad": 1}]}]}})");
  EXPECT_THAT(config.status().message(),
              HasSubstr("doc_mapping.field_mappings[0].field_mappings[0].bad: unknown key"));
}

TEST(IndexConfigTest, InvalidIndexIds) {
  EXPECT_TRUE(ValidateIndexId("abc").ok());
  EXPECT_TRUE(ValidateIndexId("my-index_2.0").ok());
  EXPECT_FALSE(ValidateIndexId("ab").ok());
  EXPECT_FALSE(ValidateIndexId("1abc").ok());
  EXPECT_FALSE(ValidateIndexId("-abc").ok());
  EXPECT_FALSE(ValidateIndexId("_abc").ok());
  EXPECT_FALSE(ValidateIndexId("ab c").ok());
  EXPECT_FALSE(ValidateIndexId("ab*c").ok());
  EXPECT_FALSE(ValidateIndexId(std::string(256, 'a')).ok());
  EXPECT_TRUE(ValidateIndexId(std::string(255, 'a')).ok());
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(R"({"index_id": "1-bad"})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("1-bad"));
  config = ParseIndexConfigJson(R"({"version": "0.8"})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("index_id"));
}

TEST(IndexConfigTest, BadTimestampFieldIsRejected) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(R"({
    "index_id": "logs",
    "doc_mapping": {"mode": "strict", "field_mappings": [{"name": "ts", "type": "datetime", "fast": true}],
                    "timestamp_field": "missing"}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("missing"));

  config = ParseIndexConfigJson(R"({
    "index_id": "logs",
    "doc_mapping": {"field_mappings": [{"name": "ts", "type": "u64", "fast": true}],
                    "timestamp_field": "ts"}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("ts"));
}

TEST(IndexConfigTest, BadValuesNameTheKey) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"index_id": "logs", "indexing_settings": {"commit_timeout_secs": 0}})",
       "indexing_settings.commit_timeout_secs"},
      {R"({"index_id": "logs", "indexing_settings": {"split_num_docs_target": 0}})",
       "indexing_settings.split_num_docs_target"},
      {R"({"index_id": "logs", "indexing_settings": {"resources": {"heap_size": "2QB"}}})",
       "indexing_settings.resources.heap_size"},
      {R"({"index_id": "logs", "indexing_settings": {"merge_policy": {"maturation_period": "soon"}}})",
       "indexing_settings.merge_policy.maturation_period"},
      {R"({"index_id": "logs", "indexing_settings": {"merge_policy": {"type": "tiered"}}})",
       "indexing_settings.merge_policy.type"},
      {R"({"index_id": "logs", "indexing_settings": {"merge_policy": {"merge_factor": 1}}})",
       "indexing_settings.merge_policy.merge_factor"},
      {R"({"index_id": "logs", "indexing_settings": {"merge_policy": {"merge_factor": 20}}})",
       "indexing_settings.merge_policy.max_merge_factor"},
      {R"({"index_id": "logs", "indexing_settings": {"merge_policy": {"type": "limit_merge", "max_merge_ops": 0}}})",
       "indexing_settings.merge_policy.max_merge_ops"},
      {R"({"index_id": "logs", "doc_mapping": {"mode": "chaotic"}})", "doc_mapping.mode"},
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "x", "type": "int"}]}})",
       "doc_mapping.field_mappings[0].type"},
      {R"({"index_id": "logs", "doc_mapping": {"tokenizers": [{"name": "t"}]}})",
       "doc_mapping.tokenizers: custom tokenizers are not supported yet"},
      {R"({"index_id": "logs", "retention": {"period": "forever"}})", "retention.period"},
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "x", "type": "datetime", "precision": "hours"}]}})",
       "doc_mapping.field_mappings[0].precision"},
  };
  for (const Case& test_case : cases) {
    absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(test_case.json);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << test_case.json;
    EXPECT_THAT(config.status().message(), HasSubstr(test_case.expected)) << test_case.json;
  }
}

TEST(IndexConfigTest, LegacyPrecisionAlias) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(R"({"index_id": "logs",
    "doc_mapping": {"field_mappings": [{"name": "ts", "type": "datetime", "fast": true,
                                        "precision": "milliseconds"}]}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->doc_mapping.field_mappings[0].fast_precision,
            index::DatetimePrecision::kMilliseconds);
}

TEST(IndexConfigTest, NanosecondFastPrecisionRoundTrips) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigJson(R"({"index_id": "logs",
    "doc_mapping": {"field_mappings": [{"name": "ts", "type": "datetime", "fast": true,
                                        "fast_precision": "nanoseconds"}]}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->doc_mapping.field_mappings[0].fast_precision,
            index::DatetimePrecision::kNanoseconds);
  absl::StatusOr<IndexConfig> again = ParseIndexConfigJson(IndexConfigToJson(*config).dump());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->doc_mapping.field_mappings[0].fast_precision,
            index::DatetimePrecision::kNanoseconds);
}

TEST(IndexConfigTest, MergePolicies) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigYaml(R"(
index_id: logs
indexing_settings:
  merge_policy:
    type: const_write_amplification
    merge_factor: 3
    max_merge_factor: 4
    max_merge_ops: 2
    maturation_period: 1h
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const MergePolicyConfig& merge = config->indexing_settings.merge_policy;
  EXPECT_EQ(merge.type, "limit_merge");  // Quickwit's alias
  EXPECT_EQ(merge.merge_factor, 3u);
  EXPECT_EQ(merge.max_merge_factor, 4u);
  EXPECT_EQ(merge.max_merge_ops, 2u);
  EXPECT_EQ(merge.maturation_period_secs, 3600);
  config = ParseIndexConfigJson(R"({"index_id": "logs",
    "indexing_settings": {"merge_policy": {"type": "no_merge"}}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->indexing_settings.merge_policy.type, "no_merge");
}

TEST(IndexConfigTest, DefaultSearchFields) {
  // Quickwit's default_search_fields scenarios.
  absl::StatusOr<IndexConfig> config = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: defaultsearchfields
doc_mapping:
  mode: dynamic
  field_mappings:
    - name: id
      type: u64
    - name: inner_json
      type: json
    - name: regular_field
      type: text
  dynamic_mapping:
    expand_dots: true
    fast: true
search_settings:
  default_search_fields: [regular_field, some_dynamic_field, inner_json.somefieldinjson]
)");
  EXPECT_TRUE(config.ok()) << config.status();

  config = ParseIndexConfigJson(R"({"version": "0.7", "index_id": "failing1",
    "doc_mapping": {"mode": "lenient", "field_mappings": []},
    "search_settings": {"default_search_fields": ["regular_field"]}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("unknown default search field `regular_field`"));

  config = ParseIndexConfigJson(R"({"version": "0.7", "index_id": "failing2",
    "doc_mapping": {"mode": "dynamic", "field_mappings": [{"name": "text", "type": "text"}]},
    "search_settings": {"default_search_fields": ["text.inner"]}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("unknown default search field `text.inner`"));

  config = ParseIndexConfigJson(R"({"version": "0.7", "index_id": "failing3",
    "doc_mapping": {"mode": "dynamic", "field_mappings": [], "dynamic_mapping": {"indexed": false}},
    "search_settings": {"default_search_fields": ["some_field"]}})");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("default search field `some_field` is not indexed"));
}

TEST(IndexConfigTest, QuickwitScenarioConfigs) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: nested
doc_mapping:
  index_field_presence: true
  field_mappings:
    - name: json_text
      type: json
      indexed: true
    - name: json_fast
      type: json
      stored: true
      fast: true
    - name: object_multi
      type: object
      field_mappings:
        - name: object_text_field
          type: text
        - name: object_fast_field
          type: u64
          fast: true
    - name: text_fast
      type: text
      fast: true
      indexed: false
    - name: text_raw
      type: text
      fast: false
      indexed: true
      tokenizer: raw
)");
  EXPECT_TRUE(config.ok()) << config.status();
  config = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: millisec
doc_mapping:
  timestamp_field: ts
  mode: strict
  field_mappings:
    - name: ts
      type: datetime
      fast: true
      input_formats: ["rfc3339"]
      fast_precision: milliseconds
)");
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(IndexConfigTest, StrptimeInputFormatsRoundTripInOrder) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: apache
doc_mapping:
  field_mappings:
    - name: ts
      type: datetime
      input_formats: ["%d/%b/%Y:%H:%M:%S %z", rfc2822, "%Y-%m-%d %H:%M:%S%.f", unix_timestamp]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& field = config->doc_mapping.field_mappings[0];
  EXPECT_EQ(field.strptime_patterns,
            (std::vector<std::string>{"%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%d %H:%M:%S%.f"}));
  const nlohmann::json json = IndexConfigToJson(*config);
  EXPECT_EQ(json["doc_mapping"]["field_mappings"][0]["input_formats"],
            nlohmann::json::parse(
                R"(["%d/%b/%Y:%H:%M:%S %z", "rfc2822", "%Y-%m-%d %H:%M:%S%.f", "unix_timestamp"])"));
  absl::StatusOr<IndexConfig> bad = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: apache
doc_mapping:
  field_mappings:
    - name: ts
      type: datetime
      input_formats: [rfc3339, "%Y-%m-%d %Q"]
)");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("input_formats[1]"));
  EXPECT_THAT(bad.status().message(), HasSubstr("%Q"));
}

TEST(IndexConfigTest, IpBytesAndConcatenateFieldsRoundTrip) {
  absl::StatusOr<IndexConfig> config = ParseIndexConfigYaml(R"(
version: "0.7"
index_id: binary
doc_mapping:
  field_mappings:
    - name: host_ip
      type: ip
      fast: true
    - name: hash
      type: bytes
      input_format: hex
      output_format: base64
    - name: blob
      type: array<bytes>
    - name: text1
      type: text
    - name: all
      type: concatenate
      concatenate_fields: [text1, hash]
      include_dynamic_fields: true
      tokenizer: raw
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& fields = config->doc_mapping.field_mappings;
  EXPECT_EQ(fields[0].type, index::FieldType::kIp);
  EXPECT_TRUE(fields[0].fast);
  EXPECT_EQ(fields[1].bytes_input_format, index::BytesFormat::kHex);
  EXPECT_EQ(fields[1].bytes_output_format, index::BytesFormat::kBase64);
  EXPECT_EQ(fields[2].type, index::FieldType::kBytes);
  EXPECT_EQ(fields[2].bytes_input_format, index::BytesFormat::kBase64);
  EXPECT_EQ(fields[4].type, index::FieldType::kConcatenate);
  EXPECT_EQ(fields[4].concatenate_fields, (std::vector<std::string>{"text1", "hash"}));
  EXPECT_TRUE(fields[4].include_dynamic_fields);
  EXPECT_FALSE(fields[4].stored);
  const nlohmann::json once = IndexConfigToJson(*config);
  absl::StatusOr<IndexConfig> again = IndexConfigFromJson(once);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << once.dump(2);
  EXPECT_EQ(IndexConfigToJson(*again), once);
  EXPECT_EQ(once["doc_mapping"]["field_mappings"][1]["input_format"], "hex");
  EXPECT_EQ(once["doc_mapping"]["field_mappings"][4]["concatenate_fields"],
            nlohmann::json::parse(R"(["text1", "hash"])"));

  struct Case {
    const char* json;
    const char* expected;
  };
  const Case bad_cases[] = {
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "b", "type": "bytes", "input_format": "base32"}]}})",
       "doc_mapping.field_mappings[0].input_format: unknown bytes format `base32`"},
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "i", "type": "ip", "tokenizer": "raw"}]}})",
       "doc_mapping.field_mappings[0]"},
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "c", "type": "concatenate", "concatenate_fields": ["nope"]}]}})",
       "concatenate field `c` lists `nope`"},
      {R"({"index_id": "logs", "doc_mapping": {"field_mappings": [{"name": "c", "type": "concatenate", "stored": true, "concatenate_fields": []}]}})",
       "doc_mapping.field_mappings[0]"},
  };
  for (const Case& test_case : bad_cases) {
    absl::StatusOr<IndexConfig> bad = ParseIndexConfigJson(test_case.json);
    ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << test_case.json;
    EXPECT_THAT(bad.status().message(), HasSubstr(test_case.expected)) << test_case.json;
  }
}

TEST(SourceConfigTest, ParsesAndSerializes) {
  absl::StatusOr<SourceConfig> source = SourceConfigFromJson(nlohmann::json::parse(R"({
    "version": "0.8", "source_id": "my-kafka", "source_type": "kafka", "num_pipelines": 2,
    "params": {"topic": "logs", "client_params": {"bootstrap.servers": "localhost:9092"}}})"));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->source_type, "kafka");
  EXPECT_EQ(source->num_pipelines, 2u);
  EXPECT_TRUE(source->enabled);
  EXPECT_EQ(source->params["topic"], "logs");
  absl::StatusOr<SourceConfig> again = SourceConfigFromJson(SourceConfigToJson(*source));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(SourceConfigToJson(*again), SourceConfigToJson(*source));
}

TEST(SourceConfigTest, Errors) {
  auto parse = [](const char* text) { return SourceConfigFromJson(nlohmann::json::parse(text)); };
  EXPECT_THAT(parse(R"({"source_id": "x", "source_type": "file"})").status().message(),
              HasSubstr("source_id"));
  EXPECT_THAT(parse(R"({"source_id": "abc", "source_type": "pulsar"})").status().message(),
              HasSubstr("source_type"));
  EXPECT_THAT(
      parse(R"({"source_id": "abc", "source_type": "file", "parms": {}})").status().message(),
      HasSubstr("parms: unknown key"));
  EXPECT_THAT(
      parse(R"({"source_id": "abc", "source_type": "file", "params": 3})").status().message(),
      HasSubstr("params"));
  EXPECT_TRUE(parse(R"({"source_id": "_ingest-api-source", "source_type": "ingest-api"})").ok());
}

TEST(SourceConfigTest, ParsesYamlAndJsonText) {
  absl::StatusOr<SourceConfig> yaml = ParseSourceConfigYaml(R"(version: 0.8
source_id: my-file
source_type: file
params:
  filepath: s3://bucket/logs.ndjson.gz
)");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->source_type, "file");
  EXPECT_EQ(yaml->params["filepath"], "s3://bucket/logs.ndjson.gz");
  absl::StatusOr<SourceConfig> json =
      ParseSourceConfigJson(R"({"source_id": "my-file", "source_type": "void"})");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->source_type, "void");
  EXPECT_THAT(ParseSourceConfigJson("{not json").status().message(), HasSubstr("invalid json"));
  EXPECT_THAT(ParseSourceConfigYaml("source_id: [").status().message(), HasSubstr("line"));
}

}  // namespace
}  // namespace shale::config
