#include "server/rest_api.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "common/ulid.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "indexing/testing/gzip.h"

namespace shale::server {
namespace {

using ::shale::indexing::testing::Gzip;

constexpr char kIndexConfig[] = R"({
  "version": "0.8", "index_id": "app-logs",
  "doc_mapping": {"field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true},
      {"name": "level", "type": "text", "tokenizer": "raw"},
      {"name": "message", "type": "text"}],
    "timestamp_field": "ts"},
  "search_settings": {"default_search_fields": ["message"]}
})";

constexpr char kIndexConfigYaml[] = R"(version: 0.8
index_id: yaml-logs
doc_mapping:
  field_mappings:
    - name: message
      type: text
)";

// A membership with a fixed view: self ready, one peer alive but not ready, one dead.
class FakeMembership final : public cluster::ClusterMembership {
 public:
  FakeMembership() {
    snapshot_.cluster_id = "fake-cluster";
    snapshot_.self_node_id = "node-1";
    snapshot_.seed_addrs = {"127.0.0.1:7280"};
    snapshot_.nodes = {Node("node-1", true, true), Node("node-2", true, false),
                       Node("node-3", false, false)};
  }
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}
  const std::string& cluster_id() const override { return snapshot_.cluster_id; }
  const std::string& self_node_id() const override { return snapshot_.self_node_id; }
  std::string gossip_advertise_addr() const override { return "127.0.0.1:7280"; }
  cluster::ClusterSnapshot Snapshot() const override { return snapshot_; }
  std::vector<cluster::ClusterNode> LiveNodes() const override { return {}; }
  std::vector<cluster::ClusterNode> DeadNodes() const override { return {}; }
  absl::Status SetSelfKey(std::string_view, std::string_view) override { return absl::OkStatus(); }
  absl::Status DeleteSelfKey(std::string_view) override { return absl::OkStatus(); }
  void SetReady(bool) override {}
  bool IsReady() const override { return true; }
  SubscriptionId Subscribe(ChangeCallback) override { return 1; }
  void Unsubscribe(SubscriptionId) override {}

 private:
  static cluster::ClusterNode Node(const std::string& node_id, bool alive, bool ready) {
    cluster::ClusterNode node;
    node.node_id = node_id;
    node.generation = 42;
    node.is_self = node_id == "node-1";
    node.is_alive = alive;
    node.is_ready = ready;
    node.enabled_services = {"searcher", "indexer"};
    node.gossip_advertise_addr = "127.0.0.1:7" + node_id.substr(5) + "00";
    node.rest_advertise_addr = node.gossip_advertise_addr;
    node.grpc_advertise_addr = "127.0.0.1:7" + node_id.substr(5) + "01";
    node.heartbeat = 12;
    node.max_version = 5;
    node.key_values["readiness"] = cluster::VersionedValue{ready ? "READY" : "NOT_READY", 5};
    return node;
  }

  cluster::ClusterSnapshot snapshot_;
};

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = config::LoadNodeConfig("", {});
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    config_.default_index_root_uri = "ram:///rest-" + NewUlid();
    config_.metastore_uri = config_.default_index_root_uri;
    resolver_ = storage::NewStorageResolver();
    auto metastore_storage = resolver_->Resolve(*Uri::Parse(config_.metastore_uri));
    ASSERT_TRUE(metastore_storage.ok());
    metastore_ = std::move(metastore::NewFileBackedMetastore(*metastore_storage)).value();
    indexing::IngestServiceOptions ingest_options;
    ingest_options.node_id = "node-1";
    ingest_ = std::make_unique<indexing::IngestService>(metastore_.get(), resolver_.get(),
                                                        ingest_options);
    ingest_->Start();
    search_ = std::make_unique<search::SearchService>(metastore_.get(), resolver_.get(),
                                                      search::SearchServiceOptions{});
    indexing::SourcePipelineOptions source_options;
    source_options.node_id = "node-1";
    source_options.commit_check_interval_millis = 10;
    source_options.initial_restart_delay_millis = 20;
    sources_ = std::make_unique<indexing::SourceService>(metastore_.get(), resolver_.get(),
                                                         source_options);
    ready_ = true;
    NodeServices services{&config_,      metastore_.get(), resolver_.get(), ingest_.get(),
                          search_.get(), &ready_,          sources_.get()};
    api_ = std::make_unique<RestApi>(services);
    services_ = services;
  }

  HttpResponse Call(const std::string& method, const std::string& path_and_query,
                    const std::string& body = "",
                    std::map<std::string, std::string> headers = {}) {
    HttpRequest request;
    request.method = method;
    ParseRequestTarget(path_and_query, request);
    request.headers = std::move(headers);
    request.body = body;
    return api_->Handle(request);
  }

  static nlohmann::json Json(const HttpResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, false);
  }

  config::NodeConfig config_;
  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  std::unique_ptr<indexing::IngestService> ingest_;
  std::unique_ptr<search::SearchService> search_;
  std::unique_ptr<indexing::SourceService> sources_;
  std::atomic<bool> ready_{false};
  NodeServices services_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(RestApiTest, HealthVersionConfigAndUnknownRoutes) {
  EXPECT_EQ(Call("GET", "/health/livez").status, 200);
  EXPECT_EQ(Call("GET", "/health/readyz").status, 200);
  ready_ = false;
  EXPECT_EQ(Call("GET", "/health/readyz").status, 503);
  EXPECT_EQ(Json(Call("GET", "/api/v1/version"))["build"]["version"], "0.1.0");
  EXPECT_TRUE(Json(Call("GET", "/api/v1/config")).is_object());
  const HttpResponse unknown = Call("GET", "/api/v1/nope/nope/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(Json(unknown).contains("message"));
}

TEST_F(RestApiTest, ClusterShowsReadyLiveAndDeadNodes) {
  EXPECT_EQ(Call("GET", "/api/v1/cluster").status, 503);  // no membership on this RestApi

  FakeMembership membership;
  NodeServices services = services_;
  services.cluster = &membership;
  RestApi api(services);
  HttpRequest request;
  request.method = "GET";
  ParseRequestTarget("/api/v1/cluster", request);
  const HttpResponse response = api.Handle(request);
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json body = Json(response);
  EXPECT_EQ(body["cluster_id"], "fake-cluster");
  EXPECT_EQ(body["self_node_id"], "node-1");
  ASSERT_EQ(body["ready_nodes"].size(), 1u);
  ASSERT_EQ(body["live_nodes"].size(), 1u);
  ASSERT_EQ(body["dead_nodes"].size(), 1u);
  const nlohmann::json& ready = body["ready_nodes"][0];
  EXPECT_EQ(ready["node_id"], "node-1");
  EXPECT_EQ(ready["generation_id"], 42);
  EXPECT_EQ(ready["gossip_advertise_addr"], "127.0.0.1:7100");
  EXPECT_EQ(ready["rest_advertise_addr"], "127.0.0.1:7100");
  EXPECT_EQ(ready["grpc_advertise_addr"], "127.0.0.1:7101");
  EXPECT_EQ(ready["enabled_services"], nlohmann::json::array({"searcher", "indexer"}));
  EXPECT_EQ(body["live_nodes"][0]["node_id"], "node-2");
  EXPECT_EQ(body["live_nodes"][0]["is_ready"], false);
  EXPECT_EQ(body["dead_nodes"][0]["node_id"], "node-3");
  const nlohmann::json& state = body["chitchat_state_snapshot"];
  ASSERT_EQ(state["node_states"].size(), 3u);
  EXPECT_EQ(state["node_states"][1]["chitchat_id"]["node_id"], "node-2");
  EXPECT_EQ(state["node_states"][1]["key_values"]["readiness"]["value"], "NOT_READY");
  EXPECT_EQ(state["node_states"][1]["heartbeat"], 12);
  EXPECT_EQ(state["seed_addrs"], nlohmann::json::array({"127.0.0.1:7280"}));
  request.method = "POST";
  EXPECT_EQ(api.Handle(request).status, 404);
}

TEST_F(RestApiTest, IndexLifecycleIngestAndSearch) {
  const HttpResponse created = Call("POST", "/api/v1/indexes", kIndexConfig);
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(Json(created)["index_config"]["index_id"], "app-logs");
  EXPECT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 409);

  const HttpResponse yaml = Call("POST", "/api/v1/indexes", kIndexConfigYaml,
                                 {{"content-type", "application/yaml"}});
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  EXPECT_EQ(Json(Call("GET", "/api/v1/indexes")).size(), 2u);

  const std::string docs =
      "{\"ts\": 1700000000, \"level\": \"ERROR\", \"message\": \"disk full\"}\n"
      "{\"ts\": 1700000001, \"level\": \"INFO\", \"message\": \"disk ok\"}\n"
      "{\"ts\": \"not a date\", \"level\": \"INFO\"}\n";
  const HttpResponse ingested =
      Call("POST", "/api/v1/app-logs/ingest?commit=force&detailed_response=true", docs);
  ASSERT_EQ(ingested.status, 200) << ingested.body;
  const nlohmann::json ingest_json = Json(ingested);
  EXPECT_EQ(ingest_json["num_docs_for_processing"], 3);
  EXPECT_EQ(ingest_json["num_ingested_docs"], 2);
  EXPECT_EQ(ingest_json["num_rejected_docs"], 1);
  ASSERT_EQ(ingest_json["parse_failures"].size(), 1u);
  EXPECT_EQ(ingest_json["parse_failures"][0]["reason"], "invalid_schema");
  EXPECT_EQ(ingest_json["parse_failures"][0]["rejection_reason"], "type_mismatch");
  EXPECT_EQ(ingest_json["parse_failures"][0]["document"],
            "{\"ts\": \"not a date\", \"level\": \"INFO\"}");

  const HttpResponse gzipped = Call(
      "POST", "/api/v1/app-logs/ingest?commit=force",
      Gzip("{\"ts\": 1700000002, \"level\": \"ERROR\", \"message\": \"disk gone\"}\n"),
      {{"content-encoding", "gzip"}});
  ASSERT_EQ(gzipped.status, 200) << gzipped.body;
  EXPECT_EQ(Json(gzipped)["num_ingested_docs"], 1);

  // The indexing stats see both requests: 3 lines, 1 rejected as a mapping mismatch, 2 splits.
  const nlohmann::json indexing = Json(Call("GET", "/api/v1/indexing"));
  ASSERT_EQ(indexing["indexes"].size(), 1u) << indexing.dump();
  EXPECT_EQ(indexing["indexes"][0]["index_id"], "app-logs");
  EXPECT_EQ(indexing["indexes"][0]["num_ingested_docs"], 3);
  EXPECT_EQ(indexing["indexes"][0]["num_rejected_docs"],
            nlohmann::json({{"type_mismatch", 1}}));
  EXPECT_EQ(indexing["indexes"][0]["source_id"], "_ingest-api-source");
  EXPECT_EQ(indexing["indexes"][0]["state"], "running");
  EXPECT_TRUE(indexing["indexes"][0]["last_error"].is_null());
  EXPECT_EQ(indexing["indexes"][0]["num_restarts"], 0);
  EXPECT_EQ(indexing["indexes"][0]["num_commit_failures"], 0);
  EXPECT_EQ(indexing["indexes"][0]["num_published_splits"], 2);
  EXPECT_EQ(indexing["indexes"][0]["num_pending_docs"], 0);
  // Every entry names its indexer; a node outside any cluster asks no other indexer.
  EXPECT_EQ(indexing["indexes"][0]["node_id"], config_.node_id);
  EXPECT_EQ(indexing["errors"], nlohmann::json::array());

  // A node without the indexer lists the other indexers' pipelines (none here), no 404.
  NodeServices without_indexer = services_;
  without_indexer.ingest = nullptr;
  without_indexer.sources = nullptr;
  RestApi searcher_only(without_indexer);
  HttpRequest request;
  request.method = "GET";
  ParseRequestTarget("/api/v1/indexing", request);
  const HttpResponse listed = searcher_only.Handle(request);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(Json(listed)["indexes"], nlohmann::json::array());
  EXPECT_EQ(Json(listed)["errors"], nlohmann::json::array());

  nlohmann::json search = Json(Call("GET", "/api/v1/app-logs/search?query=disk"));
  EXPECT_EQ(search["num_hits"], 3);
  EXPECT_FALSE(search.contains("debug"));
  // debug=true lists where each split was searched: here the node's own leaf, once each.
  const nlohmann::json debug =
      Json(Call("POST", "/api/v1/app-logs/search", R"({"query": "disk", "debug": true})"));
  ASSERT_EQ(debug["debug"]["splits"].size(), 2u) << debug.dump();
  for (const nlohmann::json& split : debug["debug"]["splits"]) {
    EXPECT_EQ(split["node_id"], "local") << debug.dump();
    EXPECT_EQ(split["attempts"], 1) << debug.dump();
  }
  EXPECT_EQ(Call("GET", "/api/v1/app-logs/search?query=*&debug=maybe").status, 400);
  EXPECT_EQ(search["hits"].size(), 3u);
  EXPECT_EQ(search["errors"].size(), 0u);
  EXPECT_TRUE(search.contains("elapsed_time_micros"));
  search = Json(Call("POST", "/api/v1/app-logs/search",
                     R"({"query": "level:ERROR AND disk", "max_hits": 1})"));
  EXPECT_EQ(search["num_hits"], 2);
  EXPECT_EQ(search["hits"].size(), 1u);
  EXPECT_EQ(search["hits"][0]["message"], "disk gone");
  search = Json(Call("GET",
                     "/api/v1/app-logs/search?query=*&startTimestamp=1700000001&"
                     "end_timestamp=1700000002"));
  EXPECT_EQ(search["num_hits"], 1);

  const nlohmann::json describe = Json(Call("GET", "/api/v1/indexes/app-logs/describe"));
  EXPECT_EQ(describe["num_published_splits"], 2);
  EXPECT_EQ(describe["num_published_docs"], 3);
  EXPECT_EQ(describe["min_timestamp"], 1700000000);
  EXPECT_EQ(describe["max_timestamp"], 1700000002);
  const nlohmann::json splits = Json(Call("GET", "/api/v1/indexes/app-logs/splits"));
  EXPECT_EQ(splits["splits"].size(), 2u);

  EXPECT_EQ(Call("PUT", "/api/v1/indexes/app-logs/clear").status, 200);
  EXPECT_EQ(Json(Call("GET", "/api/v1/app-logs/search?query=*"))["num_hits"], 0);

  const HttpResponse deleted = Call("DELETE", "/api/v1/indexes/yaml-logs");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_TRUE(Json(deleted).is_array());
  EXPECT_EQ(Call("GET", "/api/v1/indexes/yaml-logs").status, 404);
}

TEST_F(RestApiTest, ParseQueryAndPrettyFormat) {
  const HttpResponse parsed =
      Call("POST", "/api/v1/parse-query", R"({"query": "level:ERROR AND NOT message:ok"})");
  ASSERT_EQ(parsed.status, 200) << parsed.body;
  EXPECT_EQ(Json(parsed)["type"], "bool") << parsed.body;
  const HttpResponse error = Call("POST", "/api/v1/parse-query", R"({"query": "a AND (b"})");
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(Json(error)["message"].get<std::string>().find("position"), std::string::npos)
      << error.body;

  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  const HttpResponse pretty = Call("GET", "/api/v1/app-logs/search?query=*&format=pretty_json");
  ASSERT_EQ(pretty.status, 200);
  EXPECT_NE(pretty.body.find("\n  \"num_hits\": 0"), std::string::npos) << pretty.body;
  EXPECT_EQ(Call("GET", "/api/v1/app-logs/search?query=*&format=xml").status, 400);
}

TEST_F(RestApiTest, BadInputGetsClearErrors) {
  HttpResponse response = Call("POST", "/api/v1/indexes", "{not json");
  EXPECT_EQ(response.status, 400);
  response = Call("POST", "/api/v1/indexes", R"({"version": "0.8", "index_id": "1bad"})");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(Json(response)["message"].get<std::string>().find("1bad"), std::string::npos)
      << response.body;
  response = Call("POST", "/api/v1/unknown-index/ingest", "{}\n");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/unknown-index/search?query=*").status, 404);
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/app-logs/search?query=message:(oops").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/app-logs/search?query=*&max_hits=abc").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/app-logs/search").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/app-logs/ingest?commit=later", "{}").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/app-logs/ingest", "garbage", {{"content-encoding", "gzip"}})
                .status,
            400);
}

TEST_F(RestApiTest, InvalidUtf8InRejectedLinesAndQueriesIsRenderedNotThrown) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  const std::string bad_line = "{\"message\": \"\xff\xfe broken\"\n";
  const HttpResponse ingested =
      Call("POST", "/api/v1/app-logs/ingest?detailed_response=true", bad_line);
  ASSERT_EQ(ingested.status, 200) << ingested.body;
  const nlohmann::json body = Json(ingested);
  ASSERT_FALSE(body.is_discarded());
  EXPECT_EQ(body["num_rejected_docs"], 1);
  const HttpResponse searched = Call("GET", "/api/v1/app-logs/search?query=message:%FF%28");
  EXPECT_EQ(searched.status, 400);
  EXPECT_FALSE(Json(searched).is_discarded());
}

}  // namespace
}  // namespace shale::server

namespace shale::server {
namespace {

constexpr char kAggIndexConfig[] = R"({
  "version": "0.8", "index_id": "agg-logs",
  "doc_mapping": {"field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true},
      {"name": "host", "type": "text", "tokenizer": "raw", "fast": true},
      {"name": "latency", "type": "f64", "fast": true},
      {"name": "message", "type": "text"}],
    "timestamp_field": "ts"},
  "search_settings": {"default_search_fields": ["message"]}
})";

std::string PercentEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

TEST_F(RestApiTest, AggregationsAreExactAcrossSplits) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kAggIndexConfig).status, 200);
  constexpr int64_t kBase = 1'700'000'000;
  const char* const hosts[] = {"web-1", "web-2", "db-1", "cache"};
  // Hours 0, 1 and 3 after kBase hold docs; the hour bucket(s) in between stay empty.
  const int64_t hour_offsets[] = {0, 3600, 3 * 3600 + 60};
  std::map<std::string, uint64_t> host_counts;
  std::map<int64_t, std::pair<uint64_t, double>> hour_buckets;  // key millis -> (docs, latency sum)
  uint64_t latency_count = 0;
  double latency_sum = 0;
  double latency_min = 1e300;
  double latency_max = -1e300;
  int doc_number = 0;
  for (int split = 0; split < 3; ++split) {
    std::string batch;
    for (int i = 0; i < 40; ++i, ++doc_number) {
      const int64_t ts = kBase + hour_offsets[(doc_number * 7) % 3] + doc_number;
      const std::string host = hosts[(doc_number * 5 + doc_number / 3) % 4];
      const double latency = static_cast<double>((doc_number * 37) % 500) * 0.5;
      batch += fmt::format(R"({{"ts": {}, "host": "{}", "latency": {}, "message": "req {}"}})",
                           ts, host, latency, doc_number);
      batch += "\n";
      ++host_counts[host];
      const int64_t key = ts * 1000 / 3'600'000 * 3'600'000;
      hour_buckets[key].first += 1;
      hour_buckets[key].second += latency;
      ++latency_count;
      latency_sum += latency;
      latency_min = std::min(latency_min, latency);
      latency_max = std::max(latency_max, latency);
    }
    const HttpResponse ingested = Call("POST", "/api/v1/agg-logs/ingest?commit=force", batch);
    ASSERT_EQ(ingested.status, 200) << ingested.body;
  }
  EXPECT_EQ(Json(Call("GET", "/api/v1/indexes/agg-logs/splits"))["splits"].size(), 3u);

  const HttpResponse response = Call("POST", "/api/v1/agg-logs/search", R"({
    "query": "*", "max_hits": 0,
    "aggs": {
      "hosts": {"terms": {"field": "host"}},
      "per_hour": {"date_histogram": {"field": "ts", "fixed_interval": "1h"},
                   "aggs": {"avg_latency": {"avg": {"field": "latency"}}}},
      "latency_stats": {"stats": {"field": "latency"}},
      "latency_avg": {"avg": {"field": "latency"}}
    }})");
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json json = Json(response);
  EXPECT_EQ(json["num_hits"], 120);
  const nlohmann::json& aggs = json["aggregations"];

  const nlohmann::json& host_buckets = aggs["hosts"]["buckets"];
  ASSERT_EQ(host_buckets.size(), host_counts.size());
  uint64_t previous = UINT64_MAX;
  for (const nlohmann::json& bucket : host_buckets) {
    const std::string key = bucket["key"].get<std::string>();
    EXPECT_EQ(bucket["doc_count"].get<uint64_t>(), host_counts[key]) << key;
    EXPECT_LE(bucket["doc_count"].get<uint64_t>(), previous);
    previous = bucket["doc_count"].get<uint64_t>();
  }
  EXPECT_EQ(aggs["hosts"]["sum_other_doc_count"], 0);
  EXPECT_EQ(aggs["hosts"]["doc_count_error_upper_bound"], 0);

  const nlohmann::json& hour_json = aggs["per_hour"]["buckets"];
  const int64_t first_key = hour_buckets.begin()->first;
  const int64_t last_key = hour_buckets.rbegin()->first;
  ASSERT_EQ(hour_json.size(), static_cast<size_t>((last_key - first_key) / 3'600'000 + 1));
  for (size_t i = 0; i < hour_json.size(); ++i) {
    const int64_t key = first_key + static_cast<int64_t>(i) * 3'600'000;
    const nlohmann::json& bucket = hour_json[i];
    EXPECT_TRUE(bucket["key"].is_number_float());
    EXPECT_EQ(bucket["key"].get<double>(), static_cast<double>(key));
    EXPECT_TRUE(bucket["key_as_string"].is_string());
    EXPECT_TRUE(bucket["doc_count"].is_number_integer());
    auto it = hour_buckets.find(key);
    if (it == hour_buckets.end()) {
      EXPECT_EQ(bucket["doc_count"], 0);
      EXPECT_TRUE(bucket["avg_latency"]["value"].is_null());
    } else {
      EXPECT_EQ(bucket["doc_count"].get<uint64_t>(), it->second.first);
      EXPECT_DOUBLE_EQ(bucket["avg_latency"]["value"].get<double>(),
                       it->second.second / static_cast<double>(it->second.first));
    }
  }

  const nlohmann::json& stats = aggs["latency_stats"];
  EXPECT_EQ(stats["count"], latency_count);
  EXPECT_DOUBLE_EQ(stats["sum"].get<double>(), latency_sum);
  EXPECT_DOUBLE_EQ(stats["min"].get<double>(), latency_min);
  EXPECT_DOUBLE_EQ(stats["max"].get<double>(), latency_max);
  EXPECT_DOUBLE_EQ(stats["avg"].get<double>(), latency_sum / static_cast<double>(latency_count));
  EXPECT_DOUBLE_EQ(aggs["latency_avg"]["value"].get<double>(),
                   latency_sum / static_cast<double>(latency_count));

  // GET with the aggregation as a JSON-encoded query parameter.
  const HttpResponse get = Call(
      "GET", "/api/v1/agg-logs/search?query=*&max_hits=0&aggs=" +
                 PercentEncode(R"({"n": {"value_count": {"field": "latency"}}})"));
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(Json(get)["aggregations"]["n"]["value"].get<double>(), 120.0);

  // Errors: a field that is not fast, an unknown aggregation type, malformed JSON.
  HttpResponse bad = Call("POST", "/api/v1/agg-logs/search",
                          R"({"query": "*", "aggs": {"m": {"terms": {"field": "message"}}}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("message"), std::string::npos) << bad.body;
  bad = Call("POST", "/api/v1/agg-logs/search",
             R"({"query": "*", "aggs": {"m": {"geo_bounds": {"field": "host"}}}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("geo_bounds"), std::string::npos) << bad.body;
  // cardinality (once an unknown type here) counts the distinct hosts exactly at this size.
  const HttpResponse distinct = Call(
      "POST", "/api/v1/agg-logs/search",
      R"({"query": "*", "max_hits": 0, "aggs": {"m": {"cardinality": {"field": "host"}}}})");
  ASSERT_EQ(distinct.status, 200) << distinct.body;
  EXPECT_EQ(Json(distinct)["aggregations"]["m"]["value"].get<double>(),
            static_cast<double>(host_counts.size()));
  EXPECT_EQ(Call("GET", "/api/v1/agg-logs/search?query=*&aggs=%7Bnope").status, 400);
  // Without aggs, no `aggregations` key.
  EXPECT_FALSE(Json(Call("GET", "/api/v1/agg-logs/search?query=*")).contains("aggregations"));
}

// The documents and some requests of the Quickwit REST scenario aggregations/0001.
TEST_F(RestApiTest, ElasticSearchEndpointAnswersScenarioAggregations) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", R"({
    "version": "0.8", "index_id": "aggregations",
    "doc_mapping": {"mode": "dynamic", "dynamic_mapping": {"tokenizer": "default", "fast": true},
      "field_mappings": [
        {"name": "date", "type": "datetime", "input_formats": ["rfc3339"],
         "fast_precision": "seconds", "fast": true}]}})").status,
            200);
  const std::string first =
      R"({"name": "Albert", "response": 100, "id": 1, "date": "2015-01-01T12:10:30Z", "host": "192.168.0.10", "tags": ["nice"]}
{"name": "Fred", "response": 100, "id": 3, "date": "2015-01-01T12:10:30Z", "host": "192.168.0.1", "tags": ["nice"]}
{"name": "Manfred", "response": 120, "id": 13, "date": "2015-01-11T12:10:30Z", "host": "192.168.0.11", "tags": ["nice"]}
{"name": "Horst", "id": 2, "date": "2015-01-01T11:11:30Z", "host": "192.168.0.10", "tags": ["nice", "cool"]}
{"name": "Fritz", "response": 30, "id": 5, "host": "192.168.0.1", "tags": ["nice", "cool"]}
)";
  const std::string second =
      R"({"name": "Fritz", "response": 30, "id": 0}
{"name": "Fritz", "response": 30, "id": 0}
{"name": "Holger", "response": 30, "id": 4, "date": "2015-02-06T00:00:00Z", "host": "192.168.0.10"}
{"name": "Werner", "response": 20, "id": 5, "date": "2015-01-02T00:00:00Z", "host": "192.168.0.10"}
{"name": "Bernhard", "response": 130, "id": 14, "date": "2015-02-16T00:00:00Z"}
)";
  ASSERT_EQ(Call("POST", "/api/v1/aggregations/ingest?commit=force", first).status, 200);
  ASSERT_EQ(Call("POST", "/api/v1/aggregations/ingest?commit=force", second).status, 200);

  auto aggregations = [&](const std::string& body) {
    const HttpResponse response = Call("GET", "/api/v1/_elastic/aggregations/_search", body);
    EXPECT_EQ(response.status, 200) << response.body;
    return Json(response)["aggregations"];
  };
  nlohmann::json aggs = aggregations(R"({"query": {"match_all": {}}, "aggs": {"date_histo":
      {"date_histogram": {"field": "date", "fixed_interval": "30d", "offset": "-4d",
                          "extended_bounds": {"min": 1420070400000, "max": 1425254400000}},
       "aggs": {"response": {"stats": {"field": "response"}}}}}})");
  EXPECT_EQ(aggs["date_histo"]["buckets"].dump(),
            R"([{"doc_count":5,"key":1420070400000.0,"key_as_string":"2015-01-01T00:00:00Z",)"
            R"("response":{"avg":85.0,"count":4,"max":120.0,"min":20.0,"sum":340.0}},)"
            R"({"doc_count":2,"key":1422662400000.0,"key_as_string":"2015-01-31T00:00:00Z",)"
            R"("response":{"avg":80.0,"count":2,"max":130.0,"min":30.0,"sum":160.0}},)"
            R"({"doc_count":0,"key":1425254400000.0,"key_as_string":"2015-03-02T00:00:00Z",)"
            R"("response":{"avg":null,"count":0,"max":null,"min":null,"sum":0.0}}])");

  aggs = aggregations(R"({"query": {"bool": {"must": [{"exists": {"field": "response"}}]}},
      "aggs": {"date_histo": {"date_histogram": {"field": "date", "fixed_interval": "30d",
                                                 "offset": "-4d"}}}})");
  EXPECT_EQ(aggs["date_histo"]["buckets"][0]["doc_count"], 4);
  EXPECT_EQ(aggs["date_histo"]["buckets"][1]["doc_count"], 2);

  aggs = aggregations(R"({"query": {"match_all": {}}, "aggs": {"my_range": {"range": {
      "field": "response",
      "ranges": [{"to": 50, "key": "fast"}, {"from": 50, "to": 80, "key": "medium"},
                 {"from": 80, "key": "slow"}]}}}})");
  EXPECT_EQ(aggs["my_range"]["buckets"].dump(),
            R"([{"doc_count":5,"key":"fast","to":50.0},)"
            R"({"doc_count":0,"from":50.0,"key":"medium","to":80.0},)"
            R"({"doc_count":4,"from":80.0,"key":"slow"}])");

  aggs = aggregations(R"({"query": {"match_all": {}}, "aggs": {
      "hosts": {"terms": {"field": "host"}}, "tags": {"terms": {"field": "tags"}}}})");
  EXPECT_EQ(aggs["hosts"].dump(),
            R"({"buckets":[{"doc_count":4,"key":"192.168.0.10"},{"doc_count":2,"key":"192.168.0.1"},)"
            R"({"doc_count":1,"key":"192.168.0.11"}],"doc_count_error_upper_bound":0,)"
            R"("sum_other_doc_count":0})");
  EXPECT_EQ(aggs["tags"]["buckets"].dump(),
            R"([{"doc_count":5,"key":"nice"},{"doc_count":2,"key":"cool"}])");

  const HttpResponse hits = Call("POST", "/api/v1/_elastic/aggregations/_search",
                                 R"({"query": {"term": {"name": "Fritz"}}, "size": 2})");
  ASSERT_EQ(hits.status, 200) << hits.body;
  const nlohmann::json hits_json = Json(hits);
  EXPECT_EQ(hits_json["hits"]["total"]["value"], 3);
  EXPECT_EQ(hits_json["hits"]["hits"].size(), 2u);
  EXPECT_FALSE(hits_json.contains("aggregations"));
  EXPECT_EQ(Call("POST", "/api/v1/_elastic/aggregations/_search",
                 R"({"query": {"fuzzy": {"name": "x"}}})").status,
            400);
}

// `snippet_fields`: per hit, the fragments of the field around the query's terms, one list per
// field, in the order of the hits; a field that cannot give snippets is a 400 naming it.
TEST_F(RestApiTest, SnippetFieldsHighlightTheQueryTerms) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  const std::string docs =
      "{\"ts\": 1700000002, \"level\": \"WARN\", \"message\": \"disk <sda> is full\"}\n"
      "{\"ts\": 1700000001, \"level\": \"INFO\", \"message\": \"all good\"}\n"
      "{\"ts\": 1700000000, \"level\": \"WARN\", \"message\": \"Disk full, disk gone\"}\n";
  ASSERT_EQ(Call("POST", "/api/v1/app-logs/ingest?commit=force", docs).status, 200);
  const HttpResponse response =
      Call("GET", "/api/v1/app-logs/search?query=disk%20AND%20level:WARN&snippet_fields=message");
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json json = Json(response);
  ASSERT_EQ(json["hits"].size(), 2u);
  EXPECT_EQ(json["snippets"].dump(),
            R"([{"message":["<b>disk</b> &lt;sda&gt; is full"]},)"
            R"({"message":["<b>Disk</b> full, <b>disk</b> gone"]}])");
  // POST body, list form; a hit without a match in the field gets an empty list.
  const HttpResponse post = Call("POST", "/api/v1/app-logs/search",
                                 R"({"query": "level:INFO OR good", "snippet_fields": ["message"]})");
  ASSERT_EQ(post.status, 200) << post.body;
  EXPECT_EQ(Json(post)["snippets"].dump(), R"([{"message":["all <b>good</b>"]}])");
  // Without snippet_fields, no `snippets` key.
  EXPECT_FALSE(Json(Call("GET", "/api/v1/app-logs/search?query=disk")).contains("snippets"));
  const HttpResponse bad = Call("GET", "/api/v1/app-logs/search?query=disk&snippet_fields=ts");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("`ts`"), std::string::npos) << bad.body;
}

// `sort` in a `_search` body (every Elasticsearch form) and as a URI parameter, with `q`.
TEST_F(RestApiTest, ElasticSearchSortsByBodyOrParameter) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  const std::string docs =
      "{\"ts\": 1700000002, \"level\": \"WARN\", \"message\": \"b\"}\n"
      "{\"ts\": 1700000000, \"level\": \"INFO\", \"message\": \"a\"}\n"
      "{\"ts\": 1700000001, \"level\": \"INFO\", \"message\": \"c\"}\n";
  ASSERT_EQ(Call("POST", "/api/v1/app-logs/ingest?commit=force", docs).status, 200);
  auto messages = [this](const std::string& target, const std::string& body) {
    const HttpResponse response = Call("POST", target, body);
    EXPECT_EQ(response.status, 200) << body << " " << response.body;
    const nlohmann::json json = Json(response);
    std::string out;
    for (const auto& hit : json["hits"]["hits"]) {
      out += hit["_source"]["message"].get<std::string>();
    }
    return out;
  };
  const std::string search = "/api/v1/_elastic/app-logs/_search";
  EXPECT_EQ(messages(search, R"({"sort": [{"ts": {"order": "asc"}}]})"), "acb");
  EXPECT_EQ(messages(search, R"({"sort": [{"ts": "desc"}]})"), "bca");
  EXPECT_EQ(messages(search, R"({"sort": "ts"})"), "acb");
  EXPECT_EQ(messages(search, R"({"sort": {"ts": {}}, "size": 2})"), "ac");
  EXPECT_EQ(messages(search + "?q=level:INFO&sort=ts:desc", ""), "ca");
  const HttpResponse bad = Call("POST", search, R"({"sort": [{"ts": {"order": "upward"}}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("upward"), std::string::npos) << bad.body;
  EXPECT_EQ(Call("POST", search + "?sort=ts:sideways", "").status, 400);
}

TEST_F(RestApiTest, IdempotencyKeyHeaderOrParameter) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  const std::string docs =
      "{\"ts\": 1700000000, \"level\": \"INFO\", \"message\": \"one\"}\n"
      "{\"ts\": 1700000001, \"level\": \"INFO\", \"message\": \"two\"}\n";
  const HttpResponse first = Call("POST", "/api/v1/app-logs/ingest", docs,
                                  {{"idempotency-key", "batch-0001"}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Json(first)["idempotent_replay"], false);
  EXPECT_EQ(Json(first)["num_ingested_docs"], 2);
  // The same key as a parameter is the same key.
  const HttpResponse again =
      Call("POST", "/api/v1/app-logs/ingest?commit=force&idempotency_key=batch-0001", docs);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Json(again)["idempotent_replay"], true);
  EXPECT_EQ(Json(again)["num_ingested_docs"], 2);
  EXPECT_EQ(Json(Call("GET", "/api/v1/app-logs/search?query=*"))["num_hits"], 2);
  // No key: no field.
  EXPECT_FALSE(Json(Call("POST", "/api/v1/app-logs/ingest", docs)).contains("idempotent_replay"));

  const HttpResponse conflicting = Call("POST", "/api/v1/app-logs/ingest?idempotency_key=a",
                                        docs, {{"idempotency-key", "b"}});
  EXPECT_EQ(conflicting.status, 400);
  const HttpResponse bad = Call("POST", "/api/v1/app-logs/ingest", docs,
                                {{"idempotency-key", std::string(300, 'x')}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(Json(bad)["message"].get<std::string>().find("idempotency key"), std::string::npos);
  const nlohmann::json indexing = Json(Call("GET", "/api/v1/indexing"));
  EXPECT_EQ(indexing["indexes"][0]["num_idempotency_keys"], 1);
  EXPECT_EQ(indexing["indexes"][0]["num_idempotent_replays"], 1);
}

// Polls GET /api/v1/indexing until the pipeline of `source_id` is in `state` (or 15 s passed).
nlohmann::json WaitForSourceState(const std::function<nlohmann::json()>& indexing,
                                  const std::string& source_id, const std::string& state) {
  nlohmann::json last;
  for (int i = 0; i < 1500; ++i) {
    const nlohmann::json stats = indexing();
    for (const nlohmann::json& pipeline : stats["sources"]) {
      if (pipeline["source_id"] == source_id) last = pipeline;
    }
    if (last.is_object() && last["state"] == state) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "source " << source_id << " never reached state " << state << ": "
                << last.dump();
  return last;
}

std::string VecSourceJson(const std::string& source_id, int first, int count) {
  nlohmann::json docs = nlohmann::json::array();
  for (int i = first; i < first + count; ++i) {
    docs.push_back({{"ts", 1700000000 + i}, {"level", "INFO"}, {"message", fmt::format("m{}", i)}});
  }
  return nlohmann::json{{"version", "0.8"},
                        {"source_id", source_id},
                        {"source_type", "vec"},
                        {"params", {{"docs", docs}, {"batch_num_docs", 7}}}}
      .dump();
}

TEST_F(RestApiTest, SourcesAreCreatedListedAndIndexed) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  auto indexing = [&] { return Json(Call("GET", "/api/v1/indexing")); };
  auto count = [&] { return Json(Call("GET", "/api/v1/app-logs/search?query=*"))["num_hits"]; };

  const HttpResponse created =
      Call("POST", "/api/v1/indexes/app-logs/sources", VecSourceJson("my-vec", 0, 25));
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(Json(created)["source_id"], "my-vec");
  EXPECT_EQ(Json(created)["source_type"], "vec");
  EXPECT_EQ(Json(created)["enabled"], true);
  const nlohmann::json idle = WaitForSourceState(indexing, "my-vec", "idle");
  EXPECT_EQ(idle["num_published_docs"], 25);
  EXPECT_EQ(idle["checkpoint"]["0"], "00000000000000000025");
  EXPECT_TRUE(idle["last_error"].is_null());
  EXPECT_EQ(count(), 25);

  // A gzip NDJSON file on storage, as YAML.
  std::string lines;
  for (int i = 0; i < 40; ++i) {
    lines += fmt::format("{{\"ts\": {}, \"level\": \"WARN\", \"message\": \"f{}\"}}\n",
                         1700000100 + i, i);
  }
  const std::string file_uri = config_.default_index_root_uri + "/inputs/logs.ndjson.gz";
  ASSERT_TRUE((*resolver_->Resolve(*Uri::Parse(config_.default_index_root_uri + "/inputs")))
                  ->Put("logs.ndjson.gz", Gzip(lines))
                  .ok());
  const HttpResponse yaml = Call("POST", "/api/v1/indexes/app-logs/sources",
                                 "version: 0.8\nsource_id: my-file\nsource_type: file\n"
                                 "params:\n  filepath: " +
                                     file_uri + "\n",
                                 {{"content-type", "application/yaml"}});
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  const nlohmann::json file_idle = WaitForSourceState(indexing, "my-file", "idle");
  EXPECT_EQ(file_idle["num_published_docs"], 40);
  EXPECT_EQ(file_idle["checkpoint"][file_uri], fmt::format("{:020d}", lines.size()));
  EXPECT_EQ(count(), 65);

  const nlohmann::json list = Json(Call("GET", "/api/v1/indexes/app-logs/sources"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["source_id"], "my-file");
  EXPECT_EQ(list[1]["source_id"], "my-vec");
  const HttpResponse one = Call("GET", "/api/v1/indexes/app-logs/sources/my-file");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Json(one)["params"]["filepath"], file_uri);
  const nlohmann::json metadata = Json(Call("GET", "/api/v1/indexes/app-logs"));
  EXPECT_EQ(metadata["checkpoint"]["my-vec"]["0"], "00000000000000000025");
}

TEST_F(RestApiTest, SourceErrorsNameTheProblem) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  auto expect_error = [&](const HttpResponse& response, int status, const std::string& text) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_NE(Json(response)["message"].get<std::string>().find(text), std::string::npos)
        << response.body;
  };
  const std::string path = "/api/v1/indexes/app-logs/sources";
  expect_error(Call("POST", "/api/v1/indexes/nope/sources", VecSourceJson("my-vec", 0, 1)), 404,
               "nope");
  expect_error(Call("POST", path, R"({"source_id": "my-file", "source_type": "file"})"), 400,
               "params.filepath");
  expect_error(Call("POST", path,
                    R"({"source_id": "my-file", "source_type": "file",
                        "params": {"filepath": "/tmp/a.json", "path": "x"}})"),
               400, "params.path");
  expect_error(Call("POST", path, R"({"source_id": "my-file", "source_typ": "file"})"), 400,
               "source_typ");
  expect_error(Call("POST", path, R"({"source_id": "my-kafka", "source_type": "kafka"})"), 400,
               "source_type");
  expect_error(Call("POST", path, R"({"source_id": "_ingest-api-source",
                                      "source_type": "ingest-api"})"),
               400, "reserved");
  expect_error(Call("POST", path, R"({"source_id": "_ingest-source", "source_type": "void"})"), 400,
               "reserved");
  expect_error(Call("POST", path, "{not json"), 400, "json");
  ASSERT_EQ(Call("POST", path, VecSourceJson("my-vec", 0, 1)).status, 200);
  expect_error(Call("POST", path, VecSourceJson("my-vec", 0, 1)), 409, "already exists");

  expect_error(Call("GET", path + "/missing"), 404, "missing");
  expect_error(Call("PUT", path + "/missing", VecSourceJson("missing", 0, 1)), 404, "missing");
  expect_error(Call("PUT", path + "/my-vec", VecSourceJson("other", 0, 1)), 400, "source_id");
  expect_error(Call("PUT", path + "/my-vec", R"({"source_id": "my-vec", "source_type": "void"})"),
               400, "type");
  expect_error(Call("PUT", path + "/my-vec/toggle", R"({"enabled": false})"), 400, "enable");
  expect_error(Call("PUT", path + "/missing/toggle", R"({"enable": false})"), 404, "missing");
  expect_error(Call("PUT", path + "/missing/reset-checkpoint"), 404, "missing");
  expect_error(Call("DELETE", path + "/missing"), 404, "missing");
  for (const std::string reserved : {"_ingest-api-source", "_ingest-source"}) {
    expect_error(Call("DELETE", path + "/" + reserved), 400, "reserved");
    expect_error(Call("PUT", path + "/" + reserved + "/toggle", R"({"enable": false})"), 400,
                 "reserved");
    expect_error(Call("PUT", path + "/" + reserved + "/reset-checkpoint"), 400, "reserved");
  }
  expect_error(Call("DELETE", "/api/v1/indexes/nope/sources/my-vec"), 404, "nope");
  EXPECT_EQ(Call("PATCH", path + "/my-vec").status, 405);
}

TEST_F(RestApiTest, SourceToggleUpdateResetAndDelete) {
  ASSERT_EQ(Call("POST", "/api/v1/indexes", kIndexConfig).status, 200);
  auto indexing = [&] { return Json(Call("GET", "/api/v1/indexing")); };
  auto count = [&] { return Json(Call("GET", "/api/v1/app-logs/search?query=*"))["num_hits"]; };
  const std::string path = "/api/v1/indexes/app-logs/sources/my-vec";
  ASSERT_EQ(Call("POST", "/api/v1/indexes/app-logs/sources", VecSourceJson("my-vec", 0, 10)).status,
            200);
  WaitForSourceState(indexing, "my-vec", "idle");
  EXPECT_EQ(count(), 10);

  // Disabled: no pipeline. Enabled again: resumes at the checkpoint, reads nothing new.
  ASSERT_EQ(Call("PUT", path + "/toggle", R"({"enable": false})").status, 200);
  EXPECT_FALSE(Json(Call("GET", path))["enabled"].get<bool>());
  EXPECT_TRUE(indexing()["sources"].empty());
  ASSERT_EQ(Call("PUT", path + "/toggle", R"({"enable": true})").status, 200);
  EXPECT_EQ(WaitForSourceState(indexing, "my-vec", "idle")["num_docs_read"], 0);
  EXPECT_EQ(count(), 10);

  // Updated with 5 more documents: the pipeline restarts at the checkpoint and reads just those.
  const HttpResponse updated = Call("PUT", path, VecSourceJson("my-vec", 0, 15));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Json(updated)["params"]["docs"].size(), 15u);
  EXPECT_EQ(WaitForSourceState(indexing, "my-vec", "idle")["num_docs_read"], 5);
  EXPECT_EQ(count(), 15);

  // Reset: everything is read (and indexed) again.
  ASSERT_EQ(Call("PUT", path + "/reset-checkpoint").status, 200);
  EXPECT_EQ(WaitForSourceState(indexing, "my-vec", "idle")["num_docs_read"], 15);
  EXPECT_EQ(count(), 30);

  // Deleted: gone with its checkpoint, so a new source of the same id starts from scratch.
  ASSERT_EQ(Call("DELETE", path).status, 200);
  EXPECT_EQ(Call("GET", path).status, 404);
  EXPECT_TRUE(indexing()["sources"].empty());
  EXPECT_FALSE(Json(Call("GET", "/api/v1/indexes/app-logs"))["checkpoint"].contains("my-vec"));
  ASSERT_EQ(Call("POST", "/api/v1/indexes/app-logs/sources", VecSourceJson("my-vec", 0, 3)).status,
            200);
  EXPECT_EQ(WaitForSourceState(indexing, "my-vec", "idle")["num_published_docs"], 3);
  EXPECT_EQ(count(), 33);

  // Clearing the index resets the checkpoints: the source is indexed again from its start.
  ASSERT_EQ(Call("PUT", "/api/v1/indexes/app-logs/clear").status, 200);
  EXPECT_EQ(WaitForSourceState(indexing, "my-vec", "idle")["num_published_docs"], 3);
  EXPECT_EQ(count(), 3);
  // Deleting the index stops its pipelines.
  ASSERT_EQ(Call("DELETE", "/api/v1/indexes/app-logs").status, 200);
  EXPECT_TRUE(indexing()["sources"].empty());
}

// Another node holds the file-backed metastore's writer lease: writes through this node are
// answered 409 with a message naming both writers; reads still work.
TEST_F(RestApiTest, SecondMetastoreWriterGets409) {
  metastore::FileBackedMetastoreOptions options;
  options.node_id = "other-node";
  std::unique_ptr<metastore::Metastore> other =
      metastore::NewFileBackedMetastore(
          resolver_->Resolve(*Uri::Parse(config_.metastore_uri)).value(), options)
          .value();
  config::IndexConfig other_index;
  other_index.index_id = "other-index";
  ASSERT_TRUE(other->CreateIndex(other_index).ok());

  const HttpResponse refused = Call("POST", "/api/v1/indexes", kIndexConfig);
  EXPECT_EQ(refused.status, 409) << refused.body;
  const std::string message = Json(refused)["message"];
  EXPECT_NE(message.find("node `other-node`"), std::string::npos) << message;
  EXPECT_NE(message.find("index `app-logs`"), std::string::npos) << message;
  const HttpResponse listed = Call("GET", "/api/v1/indexes");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(Json(listed).size(), 1u);
  EXPECT_EQ(Json(listed)[0]["index_config"]["index_id"], "other-index");
  EXPECT_EQ(Call("DELETE", "/api/v1/indexes/other-index").status, 409);
}

}  // namespace
}  // namespace shale::server

