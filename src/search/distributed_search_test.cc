// A root over several leaf searchers reached over real gRPC (in-process servers on 127.0.0.1):
// the same answers as one node for a query set, rendezvous placement of every split, retries on
// the next node when a searcher fails, errors (never silent drops) when no node can search a
// split, and query errors of remote leaves reported as such.
#include <atomic>
#include <map>
#include <set>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "cluster/rendezvous.h"
#include "proto/grpc_client.h"
#include "proto/testing/test_grpc_server.h"
#include "query/aggregation_parser.h"
#include "search/leaf_grpc.h"
#include "search/search_service.h"
#include "search/testing/test_index.h"

namespace shale::search {
namespace {

constexpr char kIndexConfig[] = R"({
  "version": "0.8",
  "index_id": "dist",
  "doc_mapping": {
    "field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true, "input_formats": ["unix_timestamp"]},
      {"name": "level", "type": "text", "tokenizer": "raw", "fast": true},
      {"name": "latency", "type": "u64", "fast": true},
      {"name": "body", "type": "text", "tokenizer": "default", "record": "position"}
    ],
    "timestamp_field": "ts"
  },
  "search_settings": {"default_search_fields": ["body"]}
})";

constexpr int kNumSplits = 12;
constexpr int kDocsPerSplit = 50;

// One searcher node: a leaf searcher served by a gRPC server on a free loopback port. Its
// server and its client's channel carry messages up to `max_message_bytes` (a node's
// grpc.max_message_size).
struct GrpcSearcher {
  GrpcSearcher(storage::StorageResolver* resolver, std::string id,
               int max_message_bytes = 64 * 1024 * 1024)
      : node_id(std::move(id)),
        leaf(std::make_unique<LeafSearcher>(resolver, LeafSearcherOptions{})),
        service(leaf.get()),
        server(&service, /*port=*/0, max_message_bytes),
        client(NewGrpcLeafClient(
            node_id,
            grpc::CreateCustomChannel(server.address(), grpc::InsecureChannelCredentials(),
                                      ::shale::proto::MessageSizeArguments(max_message_bytes)))) {}
  ~GrpcSearcher() {
    server.Stop();
    leaf->Stop();
  }

  std::string node_id;
  std::unique_ptr<LeafSearcher> leaf;
  LeafSearchGrpcService service;
  ::shale::proto::testing::TestGrpcServer server;
  std::shared_ptr<LeafClient> client;
};

// A leaf that is down: every call fails as an unreachable gRPC peer does.
class DownLeafClient final : public LeafClient {
 public:
  absl::StatusOr<LeafSearchResponse> LeafSearch(const LeafSearchRequest&) override {
    ++calls;
    return absl::UnavailableError("connection refused");
  }
  absl::StatusOr<FetchDocsResponse> FetchDocs(const FetchDocsRequest&) override {
    ++calls;
    return absl::UnavailableError("connection refused");
  }
  std::atomic<int> calls{0};
};

class FixedSearcherPool final : public SearcherPool {
 public:
  std::vector<SearcherNode> LiveSearchers() override { return nodes; }
  std::vector<SearcherNode> nodes;
};

class DistributedSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto index = testing::NewRamIndex(*resolver_, kIndexConfig);
    ASSERT_TRUE(index.ok()) << index.status();
    metastore_ = std::move(index->metastore);
    metadata_ = index->metadata;
    for (int split = 0; split < kNumSplits; ++split) {
      std::vector<std::string> docs;
      for (int i = 0; i < kDocsPerSplit; ++i) {
        const int n = split * kDocsPerSplit + i;
        docs.push_back(nlohmann::json{
            {"ts", 1'700'000'000 + n * 7 % 1000},
            {"level", n % 5 == 0 ? "ERROR" : (n % 3 == 0 ? "WARN" : "INFO")},
            {"latency", (n * 37) % 1000},
            {"body", fmt::format("request {} from host{} done", n % 2 == 0 ? "even" : "odd",
                                 n % 7)}}.dump());
      }
      auto split_id = testing::PublishSplit(*resolver_, *metastore_, metadata_, docs);
      ASSERT_TRUE(split_id.ok()) << split_id.status();
      split_ids_.push_back(*split_id);
    }
    single_node_ = std::make_unique<SearchService>(metastore_.get(), resolver_.get(),
                                                   SearchServiceOptions{});
    for (const char* id : {"searcher-a", "searcher-b", "searcher-c"}) {
      searchers_.push_back(std::make_unique<GrpcSearcher>(resolver_.get(), id));
    }
  }

  // A root over `nodes`.
  std::unique_ptr<SearchService> Root(FixedSearcherPool& pool) {
    return std::make_unique<SearchService>(metastore_.get(), &pool, nullptr,
                                           SearchServiceOptions{});
  }

  FixedSearcherPool AllSearchers() {
    FixedSearcherPool pool;
    for (const auto& searcher : searchers_) {
      pool.nodes.push_back({searcher->node_id, searcher->client, false});
    }
    return pool;
  }

  std::vector<std::string> NodeIds() const {
    std::vector<std::string> ids;
    for (const auto& searcher : searchers_) ids.push_back(searcher->node_id);
    return ids;
  }

  static SearchRequest Request(std::string query) {
    SearchRequest request;
    request.index_id = "dist";
    request.query = std::move(query);
    request.debug = true;
    return request;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  metastore::IndexMetadata metadata_;
  std::vector<std::string> split_ids_;
  std::unique_ptr<SearchService> single_node_;
  std::vector<std::unique_ptr<GrpcSearcher>> searchers_;
};

std::vector<SearchRequest> QuerySet() {
  std::vector<SearchRequest> requests;
  auto add = [&](std::string query, auto&& customize) {
    SearchRequest request;
    request.index_id = "dist";
    request.query = std::move(query);
    customize(request);
    requests.push_back(std::move(request));
  };
  auto none = [](SearchRequest&) {};
  add("*", none);
  add("level:ERROR", none);
  add("\"request even\"", none);
  add("latency:[100 TO 500}", [](SearchRequest& r) { r.sort_by = {"-latency"}; });
  add("body:odd AND NOT level:INFO", [](SearchRequest& r) { r.sort_by = {"latency", "-ts"}; });
  add("*", [](SearchRequest& r) {
    r.sort_by = {"_doc"};
    r.start_offset = 95;
    r.max_hits = 30;
  });
  add("host3", [](SearchRequest& r) {
    r.start_timestamp_secs = 1'700'000'100;
    r.end_timestamp_secs = 1'700'000'700;
  });
  add("*", [](SearchRequest& r) {
    r.max_hits = 0;
    r.aggregation = *query::ParseAggregations(nlohmann::json::parse(R"({
      "levels": {"terms": {"field": "level"}, "aggs": {"p": {"percentiles": {"field": "latency"}}}},
      "hist": {"histogram": {"field": "latency", "interval": 100},
               "aggs": {"s": {"stats": {"field": "latency"}}}},
      "distinct": {"cardinality": {"field": "latency"}},
      "over_time": {"date_histogram": {"field": "ts", "fixed_interval": "60s"}}
    })"));
  });
  return requests;
}

TEST_F(DistributedSearchTest, ThreeSearchersOverGrpcAnswerLikeOneNode) {
  FixedSearcherPool pool = AllSearchers();
  std::unique_ptr<SearchService> root = Root(pool);
  for (const SearchRequest& request : QuerySet()) {
    SCOPED_TRACE(request.query);
    absl::StatusOr<SearchResponse> expected = single_node_->Search(request);
    ASSERT_TRUE(expected.ok()) << expected.status();
    absl::StatusOr<SearchResponse> actual = root->Search(request);
    ASSERT_TRUE(actual.ok()) << actual.status();
    EXPECT_TRUE(actual->errors.empty()) << actual->errors.front();
    EXPECT_EQ(actual->num_hits, expected->num_hits);
    EXPECT_EQ(actual->hits, expected->hits);
    EXPECT_EQ(actual->aggregations, expected->aggregations);
  }
  // The query set is not trivial: hits and aggregations are there.
  absl::StatusOr<SearchResponse> all = root->Search(Request("*"));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->num_hits, static_cast<uint64_t>(kNumSplits * kDocsPerSplit));
  EXPECT_EQ(all->hits.size(), 20u);
}

TEST_F(DistributedSearchTest, EachSplitIsSearchedOnItsRendezvousNodeEveryTime) {
  FixedSearcherPool pool = AllSearchers();
  std::unique_ptr<SearchService> root = Root(pool);
  std::map<std::string, int> splits_per_node;
  for (int repeat = 0; repeat < 3; ++repeat) {
    absl::StatusOr<SearchResponse> response = root->Search(Request("level:WARN"));
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->split_placements.size(), split_ids_.size());
    for (const SplitPlacement& placement : response->split_placements) {
      EXPECT_EQ(placement.node_id, cluster::RendezvousOrder(placement.split_id, NodeIds())[0]);
      EXPECT_EQ(placement.attempts, 1u);
      if (repeat == 0) ++splits_per_node[placement.node_id];
    }
  }
  EXPECT_GE(splits_per_node.size(), 2u) << "12 splits should spread over several nodes";
}

TEST_F(DistributedSearchTest, SplitsOfADownSearcherGoToTheNextNodeOfTheirOrder) {
  FixedSearcherPool pool = AllSearchers();
  auto down = std::make_shared<DownLeafClient>();
  pool.nodes[1].client = down;  // searcher-b is down but still listed (not yet detected)
  std::unique_ptr<SearchService> root = Root(pool);
  SearchRequest request = Request("*");
  absl::StatusOr<SearchResponse> response = root->Search(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->errors.empty()) << response->errors.front();
  EXPECT_EQ(response->num_hits, static_cast<uint64_t>(kNumSplits * kDocsPerSplit));
  absl::StatusOr<SearchResponse> expected = single_node_->Search(request);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(response->hits, expected->hits);
  int retried = 0;
  for (const SplitPlacement& placement : response->split_placements) {
    const std::vector<std::string> order = cluster::RendezvousOrder(placement.split_id, NodeIds());
    if (order[0] == "searcher-b") {
      ++retried;
      EXPECT_EQ(placement.node_id, order[1]);
      EXPECT_EQ(placement.attempts, 2u);
    } else {
      EXPECT_EQ(placement.node_id, order[0]);
    }
  }
  EXPECT_GT(down->calls.load(), 0);
  EXPECT_GT(retried, 0) << "searcher-b should own some of the 12 splits";
}

TEST_F(DistributedSearchTest, SplitsNoNodeCanSearchAreErrorsNotSilentDrops) {
  FixedSearcherPool pool;
  pool.nodes.push_back({"down-1", std::make_shared<DownLeafClient>(), false});
  pool.nodes.push_back({"down-2", std::make_shared<DownLeafClient>(), false});
  std::unique_ptr<SearchService> root = Root(pool);
  absl::StatusOr<SearchResponse> response = root->Search(Request("*"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->num_hits, 0u);
  ASSERT_EQ(response->errors.size(), split_ids_.size());
  std::set<std::string> reported;
  for (const SplitPlacement& placement : response->split_placements) {
    EXPECT_EQ(placement.node_id, "");
    // Both nodes failed in the first round: no node is left to retry on.
    EXPECT_EQ(placement.attempts, 1u);
    reported.insert(placement.split_id);
  }
  EXPECT_EQ(reported, std::set<std::string>(split_ids_.begin(), split_ids_.end()));
  EXPECT_NE(response->errors.front().find("connection refused"), std::string::npos);

  FixedSearcherPool empty;
  absl::StatusOr<SearchResponse> no_searcher = Root(empty)->Search(Request("*"));
  EXPECT_EQ(no_searcher.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(DistributedSearchTest, QueryErrorsOfRemoteLeavesAreQueryErrors) {
  FixedSearcherPool pool = AllSearchers();
  std::unique_ptr<SearchService> root = Root(pool);
  absl::StatusOr<SearchResponse> response = root->Search(Request("latency:not-a-number"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << response.status();
}

TEST_F(DistributedSearchTest, GarbageFromALeafIsRejectedNotCrashed) {
  proto::LeafSearchResponse message;
  message.set_intermediate_aggregations(std::string("\x01\x05\xff", 3));
  EXPECT_EQ(FromProto(message).status().code(), absl::StatusCode::kDataLoss);
  proto::LeafSearchResponse bad_code;
  bad_code.add_failed_splits()->set_code(99);
  EXPECT_EQ(FromProto(bad_code).status().code(), absl::StatusCode::kDataLoss);
  proto::LeafSearchRequest bad_aggs;
  bad_aggs.set_aggregations_json("{not json");
  EXPECT_EQ(FromProto(bad_aggs).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DistributedSearchTest, ALeafReplyOverTheMessageLimitIsAnErrorNamingTheSetting) {
  // 2 KiB holds a leaf request but not the partial hits of its splits' 600 documents.
  GrpcSearcher small(resolver_.get(), "searcher-small", 2048);
  FixedSearcherPool pool;
  pool.nodes.push_back({small.node_id, small.client, false});
  std::unique_ptr<SearchService> root = Root(pool);
  SearchRequest request = Request("*");
  request.max_hits = kNumSplits * kDocsPerSplit;
  const absl::Time start = absl::Now();
  absl::StatusOr<SearchResponse> response = root->Search(request);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "no hang";
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->errors.size(), split_ids_.size());
  EXPECT_NE(response->errors.front().find("grpc.max_message_size"), std::string::npos)
      << response->errors.front();
  EXPECT_NE(response->errors.front().find("searcher-small"), std::string::npos)
      << response->errors.front();

  // The same searcher answers a small reply.
  SearchRequest count = Request("*");
  count.max_hits = 0;
  absl::StatusOr<SearchResponse> counted = root->Search(count);
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_TRUE(counted->errors.empty()) << counted->errors.front();
  EXPECT_EQ(counted->num_hits, uint64_t{kNumSplits * kDocsPerSplit});
}

// The time filter travels in nanoseconds; the deprecated microsecond fields are still written
// for older leaves and read from older roots (docs/adr/016-nanosecond-datetimes.md).
TEST(LeafGrpcTest, TimeFilterTravelsInNanosecondsAndMicrosecondsForOlderNodes) {
  LeafSearchRequest request;
  request.start_timestamp_nanos = int64_t{1'420'898'400} * 1'000'000'000;
  request.end_timestamp_nanos = int64_t{1'420'898'401} * 1'000'000'000;
  const proto::LeafSearchRequest message = ToProto(request);
  EXPECT_EQ(message.start_timestamp_micros(), int64_t{1'420'898'400} * 1'000'000);
  EXPECT_EQ(message.end_timestamp_micros(), int64_t{1'420'898'401} * 1'000'000);
  auto parsed = FromProto(message);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->start_timestamp_nanos, request.start_timestamp_nanos);
  EXPECT_EQ(parsed->end_timestamp_nanos, request.end_timestamp_nanos);

  proto::LeafSearchRequest from_older_root;
  from_older_root.set_start_timestamp_micros(-5);
  from_older_root.set_end_timestamp_micros(INT64_MAX);
  auto older = FromProto(from_older_root);
  ASSERT_TRUE(older.ok()) << older.status();
  EXPECT_EQ(older->start_timestamp_nanos, -5'000);
  EXPECT_EQ(older->end_timestamp_nanos, INT64_MAX);  // saturated, not overflowed
  EXPECT_FALSE(FromProto(proto::LeafSearchRequest()).value().start_timestamp_nanos.has_value());
}

}  // namespace
}  // namespace shale::search
