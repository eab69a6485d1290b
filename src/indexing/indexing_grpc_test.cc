// The indexing service over real gRPC (in-process servers on 127.0.0.1): ingest answers and
// errors equal to the local IngestService's, acknowledged documents surviving a crash of the
// indexer, the pipelines' state, bounded deadlines, and ClusterIndexers listing every indexer
// of a membership with the unreachable ones as errors.
#include "indexing/indexing_grpc.h"

#include <filesystem>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "config/index_config.h"
#include "indexing/cluster_indexing.h"
#include "metastore/testing/ram_metastore.h"
#include "proto/testing/test_grpc_server.h"

namespace shale::indexing {
namespace {

using ::shale::proto::testing::TestGrpcServer;
using ::testing::HasSubstr;

constexpr char kIndexId[] = "grpc-logs";

std::string IndexConfigJson(const std::string& index_uri) {
  return fmt::format(R"({{"version": "0.8", "index_id": "{}", "index_uri": "{}",
    "doc_mapping": {{"mode": "strict", "field_mappings": [
      {{"name": "ts", "type": "datetime", "fast": true}},
      {{"name": "body", "type": "text"}}], "timestamp_field": "ts"}},
    "indexing_settings": {{"commit_timeout_secs": 3600}}}})",
                     kIndexId, index_uri);
}

// `num_good` valid documents, then `num_bad` lines the strict mapping rejects.
std::string Body(int first, int num_good, int num_bad) {
  std::string body;
  for (int i = first; i < first + num_good; ++i) {
    body += fmt::format("{{\"ts\": {}, \"body\": \"line {}\"}}\n", 1'700'000'000 + i, i);
  }
  for (int i = 0; i < num_bad; ++i) body += fmt::format("{{\"unknown_field\": {}}}\n", i);
  return body;
}

class IndexingGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto metastore = metastore::testing::NewRamMetastore(*resolver_);
    ASSERT_TRUE(metastore.ok()) << metastore.status();
    metastore_ = *std::move(metastore);
    auto config = config::ParseIndexConfigJson(
        IndexConfigJson("ram:///indexes-" + NewUlid() + "/" + kIndexId));
    ASSERT_TRUE(config.ok()) << config.status();
    auto metadata = metastore_->CreateIndex(*config);
    ASSERT_TRUE(metadata.ok()) << metadata.status();
    index_uid_ = metadata->index_uid;
    wal_root_ = (std::filesystem::path(::testing::TempDir()) / ("wal-" + NewUlid())).string();
    StartIndexer();
  }

  void TearDown() override { StopIndexer(); }

  // A new ingest service on the same metastore and WAL, recovered, served over gRPC.
  void StartIndexer() {
    IngestServiceOptions options;
    options.node_id = "indexer-1";
    options.wal_root = wal_root_;
    ingest_ = std::make_unique<IngestService>(metastore_.get(), resolver_.get(), options);
    ASSERT_TRUE(ingest_->Recover().ok());
    ingest_->Start();
    service_ = std::make_unique<IndexingGrpcService>(IndexerServices{"indexer-1", ingest_.get()});
    server_ = std::make_unique<TestGrpcServer>(service_.get());
    ASSERT_TRUE(server_->ok());
    client_ = NewGrpcIndexingClient("indexer-1", server_->address());
  }

  void StopIndexer() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
    service_.reset();
    ingest_.reset();
  }

  // A crash of the indexer: nothing in memory is committed.
  void CrashIndexer() {
    server_->Stop();
    ingest_->AbandonForTesting();
    StopIndexer();
  }

  uint64_t PublishedDocs() {
    metastore::ListSplitsQuery query;
    query.index_uids = {index_uid_};
    query.states = {metastore::SplitState::kPublished};
    auto splits = metastore_->ListSplits(query);
    EXPECT_TRUE(splits.ok()) << splits.status();
    uint64_t total = 0;
    if (splits.ok()) {
      for (const metastore::Split& split : *splits) total += split.metadata.num_docs;
    }
    return total;
  }

  // Polls until `expected` documents are published (10 s at most); then checks no more come.
  bool WaitForPublishedDocs(uint64_t expected) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (PublishedDocs() < expected && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    absl::SleepFor(absl::Milliseconds(100));
    return PublishedDocs() == expected;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  std::string index_uid_;
  std::string wal_root_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<IndexingGrpcService> service_;
  std::unique_ptr<TestGrpcServer> server_;
  std::unique_ptr<IndexingClient> client_;
};

TEST_F(IndexingGrpcTest, AcknowledgedIngestSurvivesACrashOfTheIndexer) {
  constexpr int kGood = 40;
  constexpr int kBad = 3;
  IngestCall call{kIndexId, Body(0, kGood, kBad), CommitMode::kAuto, /*detailed_response=*/true,
                  /*idempotency_key=*/"batch-1"};
  absl::StatusOr<IngestResult> result = client_->Ingest(call);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_docs_for_processing, uint64_t{kGood + kBad});
  EXPECT_EQ(result->num_ingested_docs, uint64_t{kGood});
  EXPECT_EQ(result->num_rejected_docs, uint64_t{kBad});
  ASSERT_EQ(result->parse_failures.size(), size_t{kBad});
  EXPECT_THAT(result->parse_failures[0].document, HasSubstr("unknown_field"));
  EXPECT_EQ(result->parse_failures[0].reason, "invalid_schema");
  EXPECT_FALSE(result->parse_failures[0].rejection_reason.empty());
  EXPECT_FALSE(result->idempotent_replay);
  // commit=auto with a one-hour commit timeout: nothing is published at the acknowledgement.
  EXPECT_EQ(PublishedDocs(), 0u);

  // The same key again is a replay with the first answer's counts.
  call.detailed_response = false;
  absl::StatusOr<IngestResult> replay = client_->Ingest(call);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->idempotent_replay);
  EXPECT_EQ(replay->num_ingested_docs, uint64_t{kGood});

  CrashIndexer();
  EXPECT_EQ(PublishedDocs(), 0u);
  // The restarted indexer replays its WAL: every acknowledged document is published once.
  StartIndexer();
  EXPECT_TRUE(WaitForPublishedDocs(kGood)) << PublishedDocs();

  // A forced commit answers once its documents are published.
  absl::StatusOr<IngestResult> forced =
      client_->Ingest({kIndexId, Body(kGood, 5, 0), CommitMode::kForce, false, ""});
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(PublishedDocs(), uint64_t{kGood + 5});
}

TEST_F(IndexingGrpcTest, ErrorsAreThoseOfTheLocalIngest) {
  const absl::Status local =
      ingest_->Ingest("missing-index", Body(0, 1, 0), CommitMode::kAuto, false).status();
  const absl::Status remote =
      client_->Ingest({"missing-index", Body(0, 1, 0), CommitMode::kAuto, false, ""}).status();
  EXPECT_EQ(local.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(remote, local);

  const std::string bad_key = "has a space";
  const absl::Status local_key =
      ingest_->Ingest(kIndexId, Body(0, 1, 0), CommitMode::kAuto, false, bad_key).status();
  const absl::Status remote_key =
      client_->Ingest({kIndexId, Body(0, 1, 0), CommitMode::kAuto, false, bad_key}).status();
  EXPECT_EQ(local_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(remote_key, local_key);
}

TEST_F(IndexingGrpcTest, StateListsThePipelinesOfTheNode) {
  ASSERT_TRUE(client_->Ingest({kIndexId, Body(0, 7, 2), CommitMode::kAuto, false, ""}).ok());
  absl::StatusOr<IndexingState> state = client_->GetIndexingState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->node_id, "indexer-1");
  const std::vector<IndexIngestStats> local = ingest_->Stats();
  ASSERT_EQ(state->ingest_pipelines.size(), local.size());
  ASSERT_EQ(local.size(), 1u);
  const IndexIngestStats& remote = state->ingest_pipelines[0];
  EXPECT_EQ(remote.index_id, kIndexId);
  EXPECT_EQ(remote.index_uid, index_uid_);
  EXPECT_EQ(remote.num_ingested_docs, 7u);
  EXPECT_EQ(remote.num_pending_docs, 7u);
  EXPECT_EQ(remote.num_rejected_docs, local[0].num_rejected_docs);
  EXPECT_EQ(remote.wal_next_position, local[0].wal_next_position);
  EXPECT_EQ(remote.state, "running");
}

TEST(IndexingStateProtoTest, RoundTripsAndRejectsGarbage) {
  IndexingState state;
  state.node_id = "node-x";
  IndexIngestStats ingest;
  ingest.index_id = "a";
  ingest.state = "failed";
  ingest.last_error = "storage down";
  ingest.num_rejected_docs = {{"type_mismatch", 3}};
  ingest.published_checkpoint = "00000000000000000012";
  state.ingest_pipelines.push_back(ingest);
  SourcePipelineStats source;
  source.index_id = "a";
  source.source_id = "files";
  source.source_type = "file";
  source.state = SourcePipelineState::kIdle;
  source.num_docs_read = 17;
  source.checkpoint = {{"s3://b/f.ndjson", "00000000000000000100"}};
  state.source_pipelines.push_back(source);
  IndexMergeStats merges;
  merges.index_id = "a";
  merges.num_merges = 2;
  merges.num_deleted_splits = 20;
  state.merges.push_back(merges);

  absl::StatusOr<IndexingState> back = FromProto(ToProto(state));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->node_id, "node-x");
  ASSERT_EQ(back->ingest_pipelines.size(), 1u);
  EXPECT_EQ(back->ingest_pipelines[0].last_error, "storage down");
  EXPECT_EQ(back->ingest_pipelines[0].num_rejected_docs, ingest.num_rejected_docs);
  EXPECT_EQ(back->ingest_pipelines[0].published_checkpoint, ingest.published_checkpoint);
  ASSERT_EQ(back->source_pipelines.size(), 1u);
  EXPECT_EQ(back->source_pipelines[0].state, SourcePipelineState::kIdle);
  EXPECT_EQ(back->source_pipelines[0].num_docs_read, 17u);
  EXPECT_EQ(back->source_pipelines[0].checkpoint, source.checkpoint);
  ASSERT_EQ(back->merges.size(), 1u);
  EXPECT_EQ(back->merges[0].num_deleted_splits, 20u);

  proto::GetIndexingStateResponse unknown_state = ToProto(state);
  unknown_state.mutable_source_pipelines(0)->set_state(
      static_cast<proto::SourcePipelineStatus>(42));
  EXPECT_EQ(FromProto(unknown_state).status().code(), absl::StatusCode::kDataLoss);
  proto::GetIndexingStateResponse anonymous = ToProto(state);
  anonymous.clear_node_id();
  EXPECT_EQ(FromProto(anonymous).status().code(), absl::StatusCode::kDataLoss);
}

// Answers GetIndexingState only once released (or cancelled).
class StuckIndexingService final : public proto::IndexingService::Service {
 public:
  grpc::Status GetIndexingState(grpc::ServerContext* context, const proto::GetIndexingStateRequest*,
                                proto::GetIndexingStateResponse*) override {
    while (!release.HasBeenNotified() && !context->IsCancelled()) {
      release.WaitForNotificationWithTimeout(absl::Milliseconds(20));
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "released");
  }
  absl::Notification release;
};

TEST(IndexingClientTest, CallsAreBoundedByTheirDeadline) {
  StuckIndexingService stuck;
  TestGrpcServer server(&stuck);
  ASSERT_TRUE(server.ok());
  IndexingClientOptions options;
  options.state_timeout = absl::Milliseconds(300);
  std::unique_ptr<IndexingClient> client =
      NewGrpcIndexingClient("slow-node", server.address(), options);
  const absl::Time start = absl::Now();
  const absl::Status status = client->GetIndexingState().status();
  const absl::Duration elapsed = absl::Now() - start;
  stuck.release.Notify();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("slow-node"));
  EXPECT_THAT(status.message(), HasSubstr("GetIndexingState"));
  // The deadline holds whatever the server does (generous bound for loaded machines).
  EXPECT_LT(elapsed, absl::Seconds(20));
}

TEST(IndexingClientTest, UnreachableIndexerIsUnavailableNamingIt) {
  std::string address;
  {
    StuckIndexingService unused;
    TestGrpcServer server(&unused);
    ASSERT_TRUE(server.ok());
    address = server.address();
  }  // stopped: nothing listens there any more
  std::unique_ptr<IndexingClient> client = NewGrpcIndexingClient("gone-node", address);
  const absl::Status status = client->GetIndexingState().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("gone-node"));
  EXPECT_THAT(status.message(), HasSubstr(address));
}

// A membership with a fixed list of nodes.
class FixedMembership final : public cluster::ClusterMembership {
 public:
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}
  const std::string& cluster_id() const override { return cluster_id_; }
  const std::string& self_node_id() const override { return self_; }
  std::string gossip_advertise_addr() const override { return "127.0.0.1:1"; }
  cluster::ClusterSnapshot Snapshot() const override { return {}; }
  std::vector<cluster::ClusterNode> LiveNodes() const override { return live; }
  std::vector<cluster::ClusterNode> DeadNodes() const override { return dead; }
  absl::Status SetSelfKey(std::string_view, std::string_view) override { return absl::OkStatus(); }
  absl::Status DeleteSelfKey(std::string_view) override { return absl::OkStatus(); }
  void SetReady(bool) override {}
  bool IsReady() const override { return true; }
  SubscriptionId Subscribe(ChangeCallback) override { return 1; }
  void Unsubscribe(SubscriptionId) override {}

  static cluster::ClusterNode Node(std::string node_id, std::vector<std::string> services,
                                   std::string grpc_address, bool ready = true) {
    cluster::ClusterNode node;
    node.node_id = std::move(node_id);
    node.is_alive = true;
    node.is_ready = ready;
    node.enabled_services = std::move(services);
    node.grpc_advertise_addr = std::move(grpc_address);
    return node;
  }

  std::vector<cluster::ClusterNode> live;
  std::vector<cluster::ClusterNode> dead;

 private:
  const std::string cluster_id_ = "test-cluster";
  const std::string self_ = "root";
};

TEST_F(IndexingGrpcTest, ClusterIndexersListEveryIndexerAndTheUnreachableOnes) {
  ASSERT_TRUE(client_->Ingest({kIndexId, Body(0, 4, 0), CommitMode::kAuto, false, ""}).ok());
  std::string closed_address;
  {
    StuckIndexingService unused;
    TestGrpcServer closed(&unused);
    ASSERT_TRUE(closed.ok());
    closed_address = closed.address();
  }
  FixedMembership membership;
  cluster::ClusterNode self = FixedMembership::Node("root", {"searcher"}, "127.0.0.1:2");
  self.is_self = true;
  membership.live = {
      self,
      FixedMembership::Node("indexer-1", {"indexer"}, server_->address()),
      FixedMembership::Node("indexer-2", {"indexer", "searcher"}, closed_address),
      FixedMembership::Node("indexer-3", {"indexer"}, "127.0.0.1:3", /*ready=*/false),
      FixedMembership::Node("searcher-9", {"searcher"}, "127.0.0.1:4"),
  };
  cluster::ClusterNode dead = FixedMembership::Node("indexer-4", {"indexer"}, "127.0.0.1:5");
  dead.is_alive = false;
  membership.dead = {dead};

  // The root runs no indexer itself.
  ClusterIndexers indexers(&membership, IndexerServices{"root"}, IndexingClientOptions{});
  const std::vector<NodeIndexingState> states = indexers.CollectStates();
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[0].node_id, "indexer-1");
  ASSERT_TRUE(states[0].state.ok()) << states[0].state.status();
  ASSERT_EQ(states[0].state->ingest_pipelines.size(), 1u);
  EXPECT_EQ(states[0].state->ingest_pipelines[0].num_ingested_docs, 4u);
  for (size_t i = 1; i < states.size(); ++i) {
    EXPECT_EQ(states[i].node_id, fmt::format("indexer-{}", i + 1));
    EXPECT_EQ(states[i].state.status().code(), absl::StatusCode::kUnavailable)
        << states[i].state.status();
    EXPECT_THAT(states[i].state.status().message(), HasSubstr(states[i].node_id));
  }

  // A node running the indexer lists itself in process, once.
  ClusterIndexers with_local(&membership, IndexerServices{"root", ingest_.get()},
                             IndexingClientOptions{});
  const std::vector<NodeIndexingState> with_self = with_local.CollectStates();
  ASSERT_EQ(with_self.size(), 5u);
  EXPECT_EQ(with_self[4].node_id, "root");
  EXPECT_TRUE(with_self[4].state.ok());
  EXPECT_EQ(with_self[4].grpc_address, "");
}

}  // namespace
}  // namespace shale::indexing
