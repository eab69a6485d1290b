#include "metastore/testing/metastore_conformance.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/ulid.h"

namespace shale::metastore::testing {

std::string MetastoreFactoryName(const ::testing::TestParamInfo<MetastoreFactory>& info) {
  return info.param.name;
}

config::IndexConfig TestIndexConfig(const std::string& index_id) {
  config::IndexConfig config;
  config.index_id = index_id;
  return config;
}

SplitMetadata TestSplit(const std::string& split_id, std::optional<int64_t> start_secs,
                        std::optional<int64_t> end_secs) {
  SplitMetadata split;
  split.split_id = split_id;
  split.source_id = "source";
  split.node_id = "node-1";
  split.num_docs = 10;
  split.uncompressed_docs_size_in_bytes = 1000;
  split.split_size_bytes = 500;
  split.time_range_start_secs = start_secs;
  split.time_range_end_secs = end_secs;
  split.tags = {"tenant:b", "tenant:a"};
  split.footer_start = 400;
  split.footer_end = 500;
  split.create_timestamp = 1'700'000'000;
  return split;
}

void PrintTo(const MetastoreFactory& factory, std::ostream* os) { *os << factory.name; }

void MetastoreConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<MetastoreBackend>> backend = GetParam().make_backend();
  if (absl::IsUnimplemented(backend.status())) {
    GTEST_SKIP() << backend.status().message();  // e.g. its test server is not installed
  }
  ASSERT_TRUE(backend.ok()) << backend.status();
  backend_ = *std::move(backend);
  absl::StatusOr<std::unique_ptr<Metastore>> metastore = backend_->Open();
  ASSERT_TRUE(metastore.ok()) << metastore.status();
  metastore_ = *std::move(metastore);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

#define SHALE_ASSERT_OK(expr)                         \
  do {                                                \
    const ::absl::Status assert_status = (expr);      \
    ASSERT_TRUE(assert_status.ok()) << assert_status; \
  } while (false)

std::vector<std::string> SplitIds(const std::vector<Split>& splits) {
  std::vector<std::string> ids;
  for (const Split& split : splits) {
    ids.push_back(split.metadata.split_id);
  }
  return ids;
}

std::vector<std::string> ListSplitIds(Metastore& metastore, const ListSplitsQuery& query) {
  absl::StatusOr<std::vector<Split>> splits = metastore.ListSplits(query);
  EXPECT_TRUE(splits.ok()) << splits.status();
  return splits.ok() ? SplitIds(*splits) : std::vector<std::string>{};
}

std::optional<Split> FindSplit(Metastore& metastore, const std::string& index_uid,
                               const std::string& split_id) {
  ListSplitsQuery query;
  query.index_uids = {index_uid};
  absl::StatusOr<std::vector<Split>> splits = metastore.ListSplits(query);
  if (!splits.ok()) {
    return std::nullopt;
  }
  for (const Split& split : *splits) {
    if (split.metadata.split_id == split_id) {
      return split;
    }
  }
  return std::nullopt;
}

CheckpointDelta Delta(const std::string& source_id, const std::string& partition,
                      const std::string& from, const std::string& to) {
  CheckpointDelta delta;
  delta.source_id = source_id;
  delta.partitions[partition] = PartitionDelta{from, to};
  return delta;
}

config::SourceConfig TestSource(const std::string& source_id) {
  config::SourceConfig source;
  source.source_id = source_id;
  source.source_type = "void";
  return source;
}

TEST_P(MetastoreConformanceTest, CreateGetListAndDeleteIndex) {
  absl::StatusOr<IndexMetadata> created = metastore_->CreateIndex(TestIndexConfig("logs"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->index_id(), "logs");
  EXPECT_TRUE(created->index_uid.starts_with("logs:")) << created->index_uid;
  EXPECT_TRUE(IsValidUlid(created->index_uid.substr(5))) << created->index_uid;
  EXPECT_GT(created->create_timestamp, 0);

  absl::StatusOr<IndexMetadata> fetched = metastore_->GetIndexMetadata("logs");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->index_uid, created->index_uid);
  EXPECT_EQ(fetched->create_timestamp, created->create_timestamp);

  ASSERT_TRUE(metastore_->CreateIndex(TestIndexConfig("another")).ok());
  absl::StatusOr<std::vector<IndexMetadata>> indexes = metastore_->ListIndexes();
  ASSERT_TRUE(indexes.ok()) << indexes.status();
  std::vector<std::string> ids;
  for (const IndexMetadata& index : *indexes) {
    ids.push_back(index.index_id());
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_THAT(ids, ElementsAre("another", "logs"));

  SHALE_ASSERT_OK(metastore_->DeleteIndex(created->index_uid));
  const absl::Status missing = metastore_->GetIndexMetadata("logs").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("index `logs` not found"));
  ASSERT_EQ(metastore_->ListIndexes()->size(), 1u);
}

TEST_P(MetastoreConformanceTest, CreateExistingIndexReturnsAlreadyExists) {
  ASSERT_TRUE(metastore_->CreateIndex(TestIndexConfig("logs")).ok());
  const absl::Status status = metastore_->CreateIndex(TestIndexConfig("logs")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(status.message()), HasSubstr("logs"));
}

TEST_P(MetastoreConformanceTest, CreateIndexRejectsInvalidId) {
  EXPECT_EQ(metastore_->CreateIndex(TestIndexConfig("../x")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metastore_->CreateIndex(TestIndexConfig("")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(MetastoreConformanceTest, UnknownIndexUidsReturnNotFound) {
  EXPECT_EQ(metastore_->GetIndexMetadata("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(metastore_->DeleteIndex("nope:01ARZ3NDEKTSV4RRFFQ69G5FAV").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(metastore_->StageSplits("nope:01ARZ3NDEKTSV4RRFFQ69G5FAV", {TestSplit("a")}).code(),
            absl::StatusCode::kNotFound);
  ListSplitsQuery query;
  query.index_uids = {"nope:01ARZ3NDEKTSV4RRFFQ69G5FAV"};
  EXPECT_EQ(metastore_->ListSplits(query).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(MetastoreConformanceTest, RecreatedIndexHasNewUidAndNoSplits) {
  const IndexMetadata first = metastore_->CreateIndex(TestIndexConfig("logs")).value();
  SHALE_ASSERT_OK(metastore_->StageSplits(first.index_uid, {TestSplit("split-a")}));
  SHALE_ASSERT_OK(metastore_->DeleteIndex(first.index_uid));
  const IndexMetadata second = metastore_->CreateIndex(TestIndexConfig("logs")).value();
  EXPECT_NE(first.index_uid, second.index_uid);
  EXPECT_THAT(ListSplitIds(*metastore_, ListSplitsQuery{}), IsEmpty());
  // Calls with the old uid do not reach the new index.
  EXPECT_EQ(metastore_->StageSplits(first.index_uid, {TestSplit("split-b")}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(metastore_->DeleteIndex(first.index_uid).code(), absl::StatusCode::kNotFound);
  ListSplitsQuery old_query;
  old_query.index_uids = {first.index_uid};
  EXPECT_EQ(metastore_->ListSplits(old_query).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(metastore_->GetIndexMetadata("logs").ok());
}

TEST_P(MetastoreConformanceTest, StagePublishListMarkAndDeleteSplits) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  std::optional<Split> staged = FindSplit(*metastore_, uid, "split-a");
  ASSERT_TRUE(staged.has_value());
  EXPECT_EQ(staged->state, SplitState::kStaged);
  EXPECT_EQ(staged->metadata.index_uid, uid);
  EXPECT_EQ(staged->metadata.num_docs, 10u);
  EXPECT_EQ(staged->metadata.tags, (std::set<std::string>{"tenant:a", "tenant:b"}));
  EXPECT_FALSE(staged->publish_timestamp.has_value());
  EXPECT_GT(staged->update_timestamp, 0);

  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"split-a"}, {}, std::nullopt));
  std::optional<Split> published = FindSplit(*metastore_, uid, "split-a");
  ASSERT_TRUE(published.has_value());
  EXPECT_EQ(published->state, SplitState::kPublished);
  EXPECT_TRUE(published->publish_timestamp.has_value());

  ListSplitsQuery published_query;
  published_query.states = {SplitState::kPublished};
  EXPECT_THAT(ListSplitIds(*metastore_, published_query), ElementsAre("split-a"));
  ListSplitsQuery staged_query;
  staged_query.index_uids = {uid};
  staged_query.states = {SplitState::kStaged};
  EXPECT_THAT(ListSplitIds(*metastore_, staged_query), ElementsAre("split-b"));

  SHALE_ASSERT_OK(metastore_->MarkSplitsForDeletion(uid, {"split-a", "unknown"}));
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-a")->state, SplitState::kMarkedForDeletion);
  SHALE_ASSERT_OK(metastore_->DeleteSplits(uid, {"split-a", "split-b", "unknown"}));
  EXPECT_THAT(ListSplitIds(*metastore_, ListSplitsQuery{}), IsEmpty());
}

TEST_P(MetastoreConformanceTest, StagingAgainUpdatesStagedButNotPublishedSplits) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a")}));
  SplitMetadata updated = TestSplit("split-a");
  updated.num_docs = 99;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {updated}));
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-a")->metadata.num_docs, 99u);
  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"split-a"}, {}, std::nullopt));
  EXPECT_EQ(metastore_->StageSplits(uid, {TestSplit("split-a")}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-a")->state, SplitState::kPublished);
}

TEST_P(MetastoreConformanceTest, PublishAppliesCheckpointDelta) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  SHALE_ASSERT_OK(
      metastore_->PublishSplits(uid, {"split-a"}, {}, Delta("kafka", "0", "", "00000010")));
  SHALE_ASSERT_OK(
      metastore_->PublishSplits(uid, {"split-b"}, {}, Delta("kafka", "0", "00000010", "00000020")));
  const IndexMetadata metadata = metastore_->GetIndexMetadata("logs").value();
  ASSERT_TRUE(metadata.checkpoints.contains("kafka"));
  EXPECT_EQ(metadata.checkpoints.at("kafka"), (SourceCheckpoint{{"0", "00000020"}}));
}

TEST_P(MetastoreConformanceTest, PublishWithDeltaThatDoesNotFollowChangesNothing) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  SHALE_ASSERT_OK(
      metastore_->PublishSplits(uid, {"split-a"}, {}, Delta("kafka", "3", "", "00000010")));
  // A replayed batch: its delta starts before the stored position.
  const absl::Status status =
      metastore_->PublishSplits(uid, {"split-b"}, {}, Delta("kafka", "3", "", "00000010"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(status.message());
  EXPECT_THAT(message, HasSubstr("kafka"));
  EXPECT_THAT(message, HasSubstr("`3`"));
  EXPECT_THAT(message, HasSubstr("00000010"));
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-b")->state, SplitState::kStaged);
  EXPECT_EQ(metastore_->GetIndexMetadata("logs")->checkpoints.at("kafka"),
            (SourceCheckpoint{{"3", "00000010"}}));
  // A delta that skips ahead is rejected too.
  EXPECT_EQ(
      metastore_->PublishSplits(uid, {"split-b"}, {}, Delta("kafka", "3", "00000015", "00000020"))
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-b")->state, SplitState::kStaged);
}

TEST_P(MetastoreConformanceTest, PublishOfNonStagedSplitFailsAtomically) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"split-a"}, {}, std::nullopt));
  const absl::Status status =
      metastore_->PublishSplits(uid, {"split-b", "split-a"}, {}, Delta("src", "0", "", "00000001"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("split-a"));
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-b")->state, SplitState::kStaged);
  EXPECT_FALSE(metastore_->GetIndexMetadata("logs")->checkpoints.contains("src"));
  EXPECT_EQ(metastore_->PublishSplits(uid, {"split-b", "missing"}, {}, std::nullopt).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-b")->state, SplitState::kStaged);
}

TEST_P(MetastoreConformanceTest, PublishReplacesMergedSplits) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"split-a", "split-b"}, {}, std::nullopt));
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("merged")}));
  // Replacing a split that is not published fails and changes nothing.
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("staged-only")}));
  EXPECT_EQ(
      metastore_->PublishSplits(uid, {"merged"}, {"split-a", "staged-only"}, std::nullopt).code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FindSplit(*metastore_, uid, "merged")->state, SplitState::kStaged);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-a")->state, SplitState::kPublished);

  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"merged"}, {"split-a", "split-b"}, std::nullopt));
  EXPECT_EQ(FindSplit(*metastore_, uid, "merged")->state, SplitState::kPublished);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-a")->state, SplitState::kMarkedForDeletion);
  EXPECT_EQ(FindSplit(*metastore_, uid, "split-b")->state, SplitState::kMarkedForDeletion);
}

TEST_P(MetastoreConformanceTest, DeleteSplitsRefusesPublishedSplits) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a"), TestSplit("split-b")}));
  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {"split-a"}, {}, std::nullopt));
  const absl::Status status = metastore_->DeleteSplits(uid, {"split-b", "split-a"});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("split-a"));
  // Nothing was removed, not even the staged split listed first.
  EXPECT_THAT(ListSplitIds(*metastore_, ListSplitsQuery{}), ElementsAre("split-a", "split-b"));
}

TEST_P(MetastoreConformanceTest, ListSplitsFiltersByTimeRange) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(
      metastore_->StageSplits(uid, {TestSplit("early", 100, 199), TestSplit("middle", 200, 299),
                                    TestSplit("late", 300, 399), TestSplit("untimed")}));
  ListSplitsQuery query;
  query.time_range_start_secs = 199;
  query.time_range_end_secs = 300;  // exclusive: "late" starts at 300
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("early", "middle", "untimed"));
  query.time_range_start_secs = 200;
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("middle", "untimed"));
  query.time_range_start_secs = 350;
  query.time_range_end_secs.reset();
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("late", "untimed"));
  query.time_range_start_secs.reset();
  query.time_range_end_secs = 100;
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("untimed"));
  query.time_range_end_secs = 101;
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("early", "untimed"));
}

TEST_P(MetastoreConformanceTest, ListSplitsFiltersByIndex) {
  const std::string logs = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  const std::string traces = metastore_->CreateIndex(TestIndexConfig("traces")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->StageSplits(logs, {TestSplit("log-split")}));
  SHALE_ASSERT_OK(metastore_->StageSplits(traces, {TestSplit("trace-split")}));
  ListSplitsQuery query;
  query.index_uids = {traces};
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("trace-split"));
  query.index_uids = {traces, logs};
  EXPECT_THAT(ListSplitIds(*metastore_, query), ElementsAre("log-split", "trace-split"));
  EXPECT_THAT(ListSplitIds(*metastore_, ListSplitsQuery{}),
              ElementsAre("log-split", "trace-split"));
}

TEST_P(MetastoreConformanceTest, AddToggleResetAndDeleteSources) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->AddSource(uid, TestSource("kafka")));
  EXPECT_EQ(metastore_->AddSource(uid, TestSource("kafka")).code(),
            absl::StatusCode::kAlreadyExists);
  IndexMetadata metadata = metastore_->GetIndexMetadata("logs").value();
  ASSERT_TRUE(metadata.sources.contains("kafka"));
  EXPECT_TRUE(metadata.sources.at("kafka").enabled);

  SHALE_ASSERT_OK(metastore_->ToggleSource(uid, "kafka", false));
  EXPECT_FALSE(metastore_->GetIndexMetadata("logs")->sources.at("kafka").enabled);
  SHALE_ASSERT_OK(metastore_->ToggleSource(uid, "kafka", true));
  EXPECT_TRUE(metastore_->GetIndexMetadata("logs")->sources.at("kafka").enabled);
  EXPECT_EQ(metastore_->ToggleSource(uid, "missing", true).code(), absl::StatusCode::kNotFound);

  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a")}));
  SHALE_ASSERT_OK(
      metastore_->PublishSplits(uid, {"split-a"}, {}, Delta("kafka", "0", "", "00000042")));
  EXPECT_EQ(metastore_->GetIndexMetadata("logs")->checkpoints.at("kafka").at("0"), "00000042");
  SHALE_ASSERT_OK(metastore_->ResetSourceCheckpoint(uid, "kafka"));
  EXPECT_THAT(metastore_->GetIndexMetadata("logs")->checkpoints["kafka"], IsEmpty());
  EXPECT_EQ(metastore_->ResetSourceCheckpoint(uid, "missing").code(), absl::StatusCode::kNotFound);

  SHALE_ASSERT_OK(metastore_->DeleteSource(uid, "kafka"));
  metadata = metastore_->GetIndexMetadata("logs").value();
  EXPECT_FALSE(metadata.sources.contains("kafka"));
  EXPECT_FALSE(metadata.checkpoints.contains("kafka"));
  EXPECT_EQ(metastore_->DeleteSource(uid, "kafka").code(), absl::StatusCode::kNotFound);
}

TEST_P(MetastoreConformanceTest, UpdateSourceKeepsItsCheckpoint) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->AddSource(uid, TestSource("vec-a")));
  SHALE_ASSERT_OK(metastore_->PublishSplits(uid, {}, {}, Delta("vec-a", "0", "", "00000042")));
  config::SourceConfig updated = TestSource("vec-a");
  updated.params = nlohmann::json{{"note", "updated"}};
  updated.enabled = false;
  SHALE_ASSERT_OK(metastore_->UpdateSource(uid, updated));
  const IndexMetadata metadata = metastore_->GetIndexMetadata("logs").value();
  EXPECT_EQ(metadata.sources.at("vec-a").params["note"], "updated");
  EXPECT_FALSE(metadata.sources.at("vec-a").enabled);
  EXPECT_EQ(metadata.checkpoints.at("vec-a").at("0"), "00000042");

  EXPECT_EQ(metastore_->UpdateSource(uid, TestSource("missing")).code(),
            absl::StatusCode::kNotFound);
  config::SourceConfig retyped = TestSource("vec-a");
  retyped.source_type = "file";
  EXPECT_EQ(metastore_->UpdateSource(uid, retyped).code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(MetastoreConformanceTest, NewInstanceSeesEverything) {
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  const std::string doomed = metastore_->CreateIndex(TestIndexConfig("doomed")).value().index_uid;
  SHALE_ASSERT_OK(metastore_->AddSource(uid, TestSource("kafka")));
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, {TestSplit("split-a", 10, 20), TestSplit("b")}));
  SHALE_ASSERT_OK(
      metastore_->PublishSplits(uid, {"split-a"}, {}, Delta("kafka", "0", "", "00000007")));
  SHALE_ASSERT_OK(metastore_->DeleteIndex(doomed));

  absl::StatusOr<std::unique_ptr<Metastore>> reopened = backend_->Open();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  const IndexMetadata metadata = (*reopened)->GetIndexMetadata("logs").value();
  EXPECT_EQ(metadata.index_uid, uid);
  EXPECT_TRUE(metadata.sources.contains("kafka"));
  EXPECT_EQ(metadata.checkpoints.at("kafka"), (SourceCheckpoint{{"0", "00000007"}}));
  EXPECT_EQ((*reopened)->ListIndexes()->size(), 1u);
  std::optional<Split> split = FindSplit(**reopened, uid, "split-a");
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->state, SplitState::kPublished);
  EXPECT_EQ(split->metadata.time_range_start_secs, 10);
  EXPECT_EQ(split->metadata.time_range_end_secs, 20);
  EXPECT_EQ(split->metadata.footer_end, 500u);
  EXPECT_EQ(FindSplit(**reopened, uid, "b")->state, SplitState::kStaged);
  // And it can keep going from the stored checkpoint.
  SHALE_ASSERT_OK(
      (*reopened)->PublishSplits(uid, {"b"}, {}, Delta("kafka", "0", "00000007", "00000009")));
}

TEST_P(MetastoreConformanceTest, ConcurrentPublishesToDifferentIndexes) {
  constexpr int kNumIndexes = 4;
  constexpr int kNumSplitsPerIndex = 8;
  std::vector<std::string> uids;
  for (int i = 0; i < kNumIndexes; ++i) {
    uids.push_back(
        metastore_->CreateIndex(TestIndexConfig(fmt::format("index-{}", i))).value().index_uid);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kNumIndexes; ++i) {
    threads.emplace_back([this, &uids, &failures, i] {
      std::string position;
      for (int s = 0; s < kNumSplitsPerIndex; ++s) {
        const std::string split_id = fmt::format("split-{}-{}", i, s);
        const std::string next = fmt::format("{:08}", s + 1);
        if (!metastore_->StageSplits(uids[i], {TestSplit(split_id)}).ok()) {
          ++failures;
        }
        if (!metastore_->PublishSplits(uids[i], {split_id}, {}, Delta("src", "0", position, next))
                 .ok()) {
          ++failures;
        }
        position = next;
        ListSplitsQuery query;
        if (!metastore_->ListSplits(query).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  ListSplitsQuery published;
  published.states = {SplitState::kPublished};
  EXPECT_EQ(ListSplitIds(*metastore_, published).size(),
            static_cast<size_t>(kNumIndexes * kNumSplitsPerIndex));
  for (int i = 0; i < kNumIndexes; ++i) {
    EXPECT_EQ(metastore_->GetIndexMetadata(fmt::format("index-{}", i))->checkpoints.at("src"),
              (SourceCheckpoint{{"0", fmt::format("{:08}", kNumSplitsPerIndex)}}));
  }
}

// Several threads race to apply the same delta: exactly one wins.
TEST_P(MetastoreConformanceTest, ConcurrentPublishesOfSameDeltaOnlyOneWins) {
  constexpr int kNumThreads = 4;
  const std::string uid = metastore_->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  std::vector<SplitMetadata> splits;
  for (int t = 0; t < kNumThreads; ++t) {
    splits.push_back(TestSplit(fmt::format("split-{}", t)));
  }
  SHALE_ASSERT_OK(metastore_->StageSplits(uid, splits));
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kNumThreads; ++t) {
    threads.emplace_back([this, &uid, &successes, t] {
      if (metastore_
              ->PublishSplits(uid, {fmt::format("split-{}", t)}, {},
                              Delta("src", "0", "", "00000001"))
              .ok()) {
        ++successes;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(successes.load(), 1);
  ListSplitsQuery published;
  published.states = {SplitState::kPublished};
  EXPECT_EQ(ListSplitIds(*metastore_, published).size(), 1u);
}

}  // namespace
}  // namespace shale::metastore::testing
