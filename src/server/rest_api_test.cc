#include "server/rest_api.h"

#include <zlib.h>

#include "common/ulid.h"
#include "gtest/gtest.h"

namespace shale::server {
namespace {

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

std::string Gzip(const std::string& data) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

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
    ready_ = true;
    NodeServices services{&config_, metastore_.get(), resolver_.get(), ingest_.get(),
                          search_.get(), &ready_};
    api_ = std::make_unique<RestApi>(services);
  }

  HttpResponse Call(const std::string& method, const std::string& path_and_query,
                    const std::string& body = "",
                    std::map<std::string, std::string> headers = {}) {
    HttpRequest request;
    request.method = method;
    const size_t question = path_and_query.find('?');
    request.path = path_and_query.substr(0, question);
    if (question != std::string::npos) {
      std::string query = path_and_query.substr(question + 1);
      size_t start = 0;
      while (start < query.size()) {
        size_t amp = query.find('&', start);
        if (amp == std::string::npos) amp = query.size();
        const std::string pair = query.substr(start, amp - start);
        const size_t eq = pair.find('=');
        request.query_params.emplace(UrlDecode(pair.substr(0, eq), true),
                                     eq == std::string::npos ? "" : UrlDecode(pair.substr(eq + 1), true));
        start = amp + 1;
      }
    }
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
  std::atomic<bool> ready_{false};
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
  EXPECT_EQ(ingest_json["parse_failures"].size(), 1u);

  const HttpResponse gzipped = Call(
      "POST", "/api/v1/app-logs/ingest?commit=force",
      Gzip("{\"ts\": 1700000002, \"level\": \"ERROR\", \"message\": \"disk gone\"}\n"),
      {{"content-encoding", "gzip"}});
  ASSERT_EQ(gzipped.status, 200) << gzipped.body;
  EXPECT_EQ(Json(gzipped)["num_ingested_docs"], 1);

  nlohmann::json search = Json(Call("GET", "/api/v1/app-logs/search?query=disk"));
  EXPECT_EQ(search["num_hits"], 3);
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
