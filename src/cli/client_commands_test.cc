#include "cli/client_commands.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

#include "cli/testing/test_http_server.h"

namespace shale::cli {
namespace {

using testing::RecordedRequest;
using testing::TestHttpServer;
using testing::TestResponse;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
}

size_t CountLines(const std::string& body) {
  return static_cast<size_t>(std::count(body.begin(), body.end(), '\n'));
}

// Answers ingest requests like the node: every line is one ingested document.
TestResponse IngestHandler(const RecordedRequest& request) {
  const size_t lines = CountLines(request.body);
  return TestResponse{200, "{\"num_docs_for_processing\":" + std::to_string(lines) +
                               ",\"num_ingested_docs\":" + std::to_string(lines) +
                               ",\"num_rejected_docs\":0}"};
}

std::string MakeNdjson(int num_docs) {
  std::string text;
  for (int i = 0; i < num_docs; ++i) {
    text += "{\"timestamp\":" + std::to_string(1700000000 + i) + ",\"body\":\"line " +
            std::to_string(i) + "\"}\n";
  }
  return text;
}

TEST(ErrorFromResponseTest, UsesJsonMessageAndStatus) {
  const absl::Status status = ErrorFromResponse(
      HttpResponse{404, "application/json", R"({"message":"index `x` not found"})"});
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_EQ(status.message(), "index `x` not found (HTTP 404)");
  const absl::Status plain = ErrorFromResponse(HttpResponse{500, "text/plain", "boom\n"});
  EXPECT_TRUE(absl::IsInternal(plain));
  EXPECT_EQ(plain.message(), "boom (HTTP 500)");
  EXPECT_TRUE(absl::IsAlreadyExists(ErrorFromResponse(HttpResponse{409, "", "{}"})));
  EXPECT_TRUE(absl::IsUnavailable(ErrorFromResponse(HttpResponse{429, "", ""})));
}

TEST(IngestFileTest, CommitModeAppliesToTheLastBatchOnly) {
  TestHttpServer server(IngestHandler);
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_force.ndjson");
  const std::string content = MakeNdjson(1000);
  WriteFile(path, content);
  IngestOptions options;
  options.index_id = "hdfs-logs";
  options.input_path = path;
  options.batch_size_limit = 4096;
  options.commit = CommitMode::kForce;
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_ingested_docs, 1000u);
  EXPECT_EQ(summary->num_lines_sent, 1000u);
  EXPECT_EQ(summary->num_rejected_docs, 0u);
  EXPECT_EQ(summary->num_bytes_sent, content.size());
  const std::vector<RecordedRequest> requests = server.requests();
  ASSERT_GT(requests.size(), 2u);
  EXPECT_EQ(summary->num_batches, requests.size());
  std::string rebuilt;
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, "POST");
    EXPECT_LE(requests[i].body.size(), 4096u);
    const std::string expected_commit = i + 1 == requests.size() ? "force" : "auto";
    EXPECT_EQ(requests[i].target, "/api/v1/hdfs-logs/ingest?commit=" + expected_commit);
    rebuilt += requests[i].body;
  }
  EXPECT_EQ(rebuilt, content);
  EXPECT_EQ(client.num_connections_opened(), 1);
  EXPECT_NE(FormatIngestSummary(*summary).find("Ingested 1000 documents"), std::string::npos);
}

TEST(IngestFileTest, RetriesOnTooManyRequests) {
  int calls = 0;
  TestHttpServer server([&calls](const RecordedRequest& request) {
    ++calls;
    if (calls <= 2) return TestResponse{429, R"({"message":"ingest queue full"})"};
    return IngestHandler(request);
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_retry.ndjson");
  WriteFile(path, MakeNdjson(10));
  IngestOptions options;
  options.index_id = "logs";
  options.input_path = path;
  options.initial_backoff = std::chrono::milliseconds(1);
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_retries, 2u);
  EXPECT_EQ(summary->num_ingested_docs, 10u);
  EXPECT_NE(err.str().find("retrying"), std::string::npos);
}

TEST(IngestFileTest, IdempotencyKeysNumberTheBatchesAndMakeA409Retryable) {
  std::map<std::string, int> attempts;  // by key
  TestHttpServer server([&attempts](const RecordedRequest& request) {
    const size_t at = request.target.find("idempotency_key=");
    const std::string key = at == std::string::npos ? "" : request.target.substr(at + 16);
    // The first attempt of batch 2 is still "in flight"; batch 3 was accepted by an earlier run.
    if (key == "run7-2" && attempts[key]++ == 0) return TestResponse{409, R"({"message":"x"})"};
    TestResponse response = IngestHandler(request);
    if (key == "run7-3") {
      response.body.insert(response.body.size() - 1, ",\"idempotent_replay\":true");
    }
    return response;
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_keys.ndjson");
  WriteFile(path, MakeNdjson(300));
  IngestOptions options;
  options.index_id = "logs";
  options.input_path = path;
  options.batch_size_limit = 4096;
  options.idempotency_key_prefix = "run7";
  options.initial_backoff = std::chrono::milliseconds(1);
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_retries, 1u);
  EXPECT_EQ(summary->num_replayed_batches, 1u);
  const std::vector<RecordedRequest> requests = server.requests();
  ASSERT_GT(requests.size(), 4u);
  EXPECT_EQ(requests[0].target, "/api/v1/logs/ingest?commit=auto&idempotency_key=run7-1");
  EXPECT_EQ(requests[1].target, "/api/v1/logs/ingest?commit=auto&idempotency_key=run7-2");
  EXPECT_EQ(requests[2].target, requests[1].target);  // the retry keeps its key
  EXPECT_EQ(requests[3].target, "/api/v1/logs/ingest?commit=auto&idempotency_key=run7-3");

  // Without a prefix a 409 is an error, not retried.
  TestHttpServer conflict([](const RecordedRequest&) { return TestResponse{409, "{}"}; });
  HttpClient conflict_client(*ParseEndpointUrl(conflict.url()), HttpClientOptions{});
  options.idempotency_key_prefix.clear();
  EXPECT_TRUE(absl::IsAlreadyExists(IngestFile(conflict_client, options, err).status()));
  EXPECT_EQ(conflict.requests().size(), 1u);
}

TEST(IngestFileTest, GivesUpAfterMaxRetries) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{503, R"({"message":"not ready"})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_giveup.ndjson");
  WriteFile(path, MakeNdjson(3));
  IngestOptions options;
  options.index_id = "logs";
  options.input_path = path;
  options.initial_backoff = std::chrono::milliseconds(1);
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  EXPECT_TRUE(absl::IsUnavailable(summary.status())) << summary.status();
  EXPECT_NE(summary.status().message().find("not ready (HTTP 503)"), absl::string_view::npos);
  EXPECT_EQ(server.requests().size(), 6u);
}

TEST(IngestFileTest, SumsRejectedDocsAndParseFailures) {
  TestHttpServer server([](const RecordedRequest& request) {
    EXPECT_NE(request.target.find("detailed_response=true"), std::string::npos);
    return TestResponse{200,
                        R"({"num_ingested_docs":2,"num_rejected_docs":1,)"
                        R"("parse_failures":[{"message":"failed to parse json","document":"x"}]})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_rejected.ndjson");
  WriteFile(path, "{\"a\":1}\n{\"a\":2}\nnot json\n");
  IngestOptions options;
  options.index_id = "logs";
  options.input_path = path;
  options.detailed_response = true;
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_ingested_docs, 2u);
  EXPECT_EQ(summary->num_rejected_docs, 1u);
  ASSERT_EQ(summary->parse_failures.size(), 1u);
  EXPECT_EQ(summary->parse_failures[0], "failed to parse json");
}

TEST(IngestFileTest, NotFoundIndexFailsWithServerMessage) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{404, R"({"message":"index `nope` not found"})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_404.ndjson");
  WriteFile(path, MakeNdjson(3));
  IngestOptions options;
  options.index_id = "nope";
  options.input_path = path;
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  EXPECT_TRUE(absl::IsNotFound(summary.status())) << summary.status();
  EXPECT_NE(summary.status().message().find("index `nope` not found (HTTP 404)"),
            absl::string_view::npos);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(IngestFileTest, ReportsBatchesIngestedBeforeAFailure) {
  int calls = 0;
  TestHttpServer server([&calls](const RecordedRequest& request) {
    ++calls;
    if (calls == 2) return TestResponse{400, R"({"message":"document too large"})"};
    return IngestHandler(request);
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string path = TempPath("ingest_partial.ndjson");
  WriteFile(path, MakeNdjson(200));
  IngestOptions options;
  options.index_id = "logs";
  options.input_path = path;
  options.batch_size_limit = 1024;
  std::ostringstream err;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, err);
  EXPECT_TRUE(absl::IsInvalidArgument(summary.status())) << summary.status();
  EXPECT_EQ(summary.status().message(), "document too large (HTTP 400)");
  EXPECT_NE(err.str().find("1 batches"), std::string::npos) << err.str();
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(CommandsTest, CreateIndexSendsYamlOrJson) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{200, R"({"index_config":{"index_id":"hdfs-logs"}})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  const std::string yaml_path = TempPath("index.yaml");
  WriteFile(yaml_path, "version: 0.8\nindex_id: hdfs-logs\n");
  const std::string json_path = TempPath("index.json");
  WriteFile(json_path, R"({"version":"0.8","index_id":"hdfs-logs"})");
  std::ostringstream out;
  ASSERT_TRUE(CreateIndex(client, yaml_path, /*overwrite=*/false, out).ok());
  ASSERT_TRUE(CreateIndex(client, json_path, /*overwrite=*/true, out).ok());
  const std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v1/indexes");
  EXPECT_EQ(requests[0].content_type, "application/yaml");
  EXPECT_EQ(requests[0].body, "version: 0.8\nindex_id: hdfs-logs\n");
  EXPECT_EQ(requests[1].target, "/api/v1/indexes?overwrite=true");
  EXPECT_EQ(requests[1].content_type, "application/json");
  EXPECT_NE(out.str().find("hdfs-logs"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(CreateIndex(client, TempPath("missing.yaml"), false, out)));
}

TEST(CommandsTest, ListIndexesPrintsTable) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{200, R"([{"index_config":{"index_id":"b-logs","index_uri":"file:///d/b"}},)"
                             R"({"index_config":{"index_id":"a-logs","index_uri":"s3://x/a"}}])"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  std::ostringstream out;
  ASSERT_TRUE(ListIndexes(client, out).ok());
  const std::string table = out.str();
  EXPECT_NE(table.find("| Index ID | Index URI   |"), std::string::npos) << table;
  EXPECT_NE(table.find("| a-logs   | s3://x/a    |"), std::string::npos) << table;
  EXPECT_LT(table.find("a-logs"), table.find("b-logs"));
}

TEST(CommandsTest, DescribePrintsKeyValueLines) {
  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{200, R"({"index_id":"logs","num_published_splits":3,"size":null})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  std::ostringstream out;
  ASSERT_TRUE(DescribeIndex(client, "logs", out).ok());
  EXPECT_EQ(server.requests()[0].target, "/api/v1/indexes/logs/describe");
  EXPECT_NE(out.str().find("index_id:"), std::string::npos);
  EXPECT_NE(out.str().find("num_published_splits: 3"), std::string::npos) << out.str();
}

TEST(CommandsTest, SearchBuildsQueryString) {
  SearchOptions options;
  options.index_id = "hdfs-logs";
  options.query = "severity_text:ERROR AND body:terminating";
  options.max_hits = 10;
  options.start_offset = 5;
  options.search_fields = {"body", "attributes.class"};
  options.sort_by = "-timestamp";
  options.start_timestamp = 1700000000;
  options.end_timestamp = 1700003600;
  EXPECT_EQ(SearchTarget(options),
            "/api/v1/hdfs-logs/search?query=severity_text%3AERROR%20AND%20body%3Aterminating"
            "&max_hits=10&start_offset=5&search_field=body%2Cattributes.class"
            "&sort_by=-timestamp&start_timestamp=1700000000&end_timestamp=1700003600");

  TestHttpServer server([](const RecordedRequest&) {
    return TestResponse{200, R"({"num_hits":1,"hits":[{"a":1}]})"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  std::ostringstream out;
  ASSERT_TRUE(SearchIndex(client, options, out).ok());
  EXPECT_NE(out.str().find("\"num_hits\": 1"), std::string::npos) << out.str();
}

TEST(CommandsTest, ClearAndDeleteUseTheRightVerbs) {
  TestHttpServer server([](const RecordedRequest& request) {
    if (request.method == "DELETE") {
      return TestResponse{200, R"([{"file_name":"01H.split","file_size_bytes":10}])"};
    }
    return TestResponse{200, "{}"};
  });
  HttpClient client(*ParseEndpointUrl(server.url()), HttpClientOptions{});
  std::ostringstream out;
  ASSERT_TRUE(ClearIndex(client, "logs", out).ok());
  ASSERT_TRUE(DeleteIndex(client, "logs", /*dry_run=*/true, out).ok());
  ASSERT_TRUE(DeleteIndex(client, "logs", /*dry_run=*/false, out).ok());
  const std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/api/v1/indexes/logs/clear");
  EXPECT_EQ(requests[1].method, "DELETE");
  EXPECT_EQ(requests[1].target, "/api/v1/indexes/logs?dry_run=true");
  EXPECT_EQ(requests[2].target, "/api/v1/indexes/logs");
  EXPECT_NE(out.str().find("01H.split"), std::string::npos);
}

TEST(CommandsTest, ParsesCommitModes) {
  EXPECT_EQ(*ParseCommitMode("auto"), CommitMode::kAuto);
  EXPECT_EQ(*ParseCommitMode("wait_for"), CommitMode::kWaitFor);
  EXPECT_EQ(*ParseCommitMode("force"), CommitMode::kForce);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseCommitMode("now").status()));
}

}  // namespace
}  // namespace shale::cli
