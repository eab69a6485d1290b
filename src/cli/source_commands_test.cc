#include "cli/source_commands.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "cli/testing/test_http_server.h"

namespace shale::cli {
namespace {

using ::testing::HasSubstr;
using testing::RecordedRequest;
using testing::TestHttpServer;
using testing::TestResponse;

// A fake node with one index `logs` holding source `my-file`.
TestResponse FakeNode(const RecordedRequest& request) {
  const std::string sources = "/api/v1/indexes/logs/sources";
  if (request.method == "POST" && request.target == sources) {
    return {200, R"({"source_id": "my-file", "source_type": "file", "enabled": true})"};
  }
  if (request.method == "GET" && request.target == sources) {
    return {200, R"([{"source_id": "my-file", "source_type": "file", "enabled": false,
                      "params": {"filepath": "/data/a.ndjson"}},
                     {"source_id": "v", "source_type": "void", "enabled": true}])"};
  }
  if (request.method == "GET" && request.target == sources + "/my-file") {
    return {200, R"({"source_id": "my-file", "source_type": "file",
                     "params": {"filepath": "/data/a.ndjson"}})"};
  }
  if (request.method == "GET" && request.target == "/api/v1/indexes/logs") {
    return {200,
            R"({"checkpoint": {"my-file": {"file:///data/a.ndjson": "00000000000000001234"}}})"};
  }
  if (request.method == "GET" && request.target == "/api/v1/indexing") {
    return {200, R"({"indexes": [], "sources": [{"index_id": "logs", "source_id": "my-file",
                     "state": "idle", "last_error": null, "num_published_docs": 42}]})"};
  }
  if (request.method == "PUT" && (request.target == sources + "/my-file/toggle" ||
                                  request.target == sources + "/my-file/reset-checkpoint")) {
    return {200, "{}"};
  }
  if (request.method == "DELETE" && request.target == sources + "/my-file") return {200, "{}"};
  return {404, R"({"message": "source `missing` not found in index `logs`"})"};
}

class SourceCommandsTest : public ::testing::Test {
 protected:
  SourceCommandsTest()
      : server_(FakeNode), client_(*ParseEndpointUrl(server_.url()), HttpClientOptions{}) {}

  TestHttpServer server_;
  HttpClient client_;
  std::ostringstream out_;
};

TEST_F(SourceCommandsTest, CreatePostsTheConfigFileWithItsContentType) {
  const std::string yaml_path = ::testing::TempDir() + "/source.yaml";
  std::ofstream(yaml_path) << "source_id: my-file\nsource_type: file\n";
  ASSERT_TRUE(CreateSource(client_, "logs", yaml_path, out_).ok());
  EXPECT_EQ(out_.str(), "Source `my-file` successfully created for index `logs`.\n");
  const std::string json_path = ::testing::TempDir() + "/source.json";
  std::ofstream(json_path) << R"({"source_id": "my-file", "source_type": "file"})";
  ASSERT_TRUE(CreateSource(client_, "logs", json_path, out_).ok());
  const std::vector<RecordedRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].content_type, "application/yaml");
  EXPECT_EQ(requests[0].body, "source_id: my-file\nsource_type: file\n");
  EXPECT_EQ(requests[1].content_type, "application/json");
  EXPECT_TRUE(absl::IsNotFound(CreateSource(client_, "logs", "/no/such/file.yaml", out_)));
}

TEST_F(SourceCommandsTest, ListPrintsATable) {
  ASSERT_TRUE(ListSources(client_, "logs", out_).ok());
  EXPECT_THAT(out_.str(), HasSubstr("| Source ID | Type | Enabled |"));
  EXPECT_THAT(out_.str(),
              HasSubstr("| my-file   | file | false   | {\"filepath\":\"/data/a.ndjson\"} |"));
  EXPECT_THAT(out_.str(), HasSubstr("| v         | void | true    | {}"));
}

TEST_F(SourceCommandsTest, DescribeShowsConfigCheckpointAndPipeline) {
  ASSERT_TRUE(DescribeSource(client_, "logs", "my-file", out_).ok());
  EXPECT_THAT(out_.str(), HasSubstr("\"filepath\": \"/data/a.ndjson\""));
  EXPECT_THAT(out_.str(), HasSubstr("file:///data/a.ndjson: \"00000000000000001234\""));
  EXPECT_THAT(out_.str(), HasSubstr("state: \"idle\""));
  EXPECT_THAT(out_.str(), HasSubstr("num_published_docs: 42"));
  const absl::Status missing = DescribeSource(client_, "logs", "missing", out_);
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_THAT(missing.message(), HasSubstr("source `missing` not found in index `logs`"));
}

TEST_F(SourceCommandsTest, ToggleResetAndDeleteSendTheirRequests) {
  ASSERT_TRUE(ToggleSource(client_, "logs", "my-file", false, out_).ok());
  ASSERT_TRUE(ToggleSource(client_, "logs", "my-file", true, out_).ok());
  ASSERT_TRUE(ResetSourceCheckpoint(client_, "logs", "my-file", out_).ok());
  ASSERT_TRUE(DeleteSource(client_, "logs", "my-file", out_).ok());
  EXPECT_TRUE(absl::IsNotFound(DeleteSource(client_, "logs", "missing", out_)));
  const std::vector<RecordedRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].body, R"({"enable":false})");
  EXPECT_EQ(requests[1].body, R"({"enable":true})");
  EXPECT_EQ(requests[2].target, "/api/v1/indexes/logs/sources/my-file/reset-checkpoint");
  EXPECT_EQ(requests[3].method, "DELETE");
  EXPECT_THAT(out_.str(), HasSubstr("Source `my-file` of index `logs` successfully disabled."));
  EXPECT_THAT(out_.str(), HasSubstr("successfully deleted"));
}

}  // namespace
}  // namespace shale::cli
