// MergeService on RAM storage and a file-backed metastore on RAM: merges replace their inputs
// atomically, keep every document, tag and time range, and clean up after abandoned or failed
// merges.

#include "indexing/merge_service.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "metastore/testing/forwarding_metastore.h"
#include "metastore/testing/ram_metastore.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

using metastore::Split;
using metastore::SplitState;

constexpr char kSourceId[] = "_ingest-api-source";
constexpr int64_t kFirstTimestamp = 1'700'000'000;

std::string IndexConfigJson(const std::string& index_uri, const std::string& merge_policy) {
  return fmt::format(R"({{"version": "0.8", "index_id": "logs", "index_uri": "{}",
    "doc_mapping": {{"mode": "strict", "field_mappings": [
      {{"name": "ts", "type": "datetime", "fast": true}},
      {{"name": "body", "type": "text", "record": "position"}},
      {{"name": "severity", "type": "text", "tokenizer": "raw", "fast": true}},
      {{"name": "tenant", "type": "u64", "fast": true}}],
      "timestamp_field": "ts", "tag_fields": ["severity", "tenant"]}},
    "indexing_settings": {{"split_num_docs_target": 1000000, "merge_policy": {}}}}})",
                     index_uri, merge_policy);
}

// A metastore that can fail, or let another writer replace an input, when a merged split is
// staged or published.
class InterferingMetastore : public metastore::testing::ForwardingMetastore {
 public:
  using ForwardingMetastore::ForwardingMetastore;
  std::atomic<bool> replace_an_input_on_stage{false};
  std::atomic<bool> fail_publish{false};
  // The publish goes through but its answer is lost, and the listing that follows fails too.
  std::atomic<bool> lose_publish_answer{false};
  std::atomic<bool> fail_next_list{false};
  std::string input_to_replace;

  absl::Status StageSplits(const std::string& uid,
                           const std::vector<metastore::SplitMetadata>& splits) override {
    if (replace_an_input_on_stage && splits.size() == 1 && splits[0].num_merge_ops > 0) {
      absl::Status marked = inner()->MarkSplitsForDeletion(uid, {input_to_replace});
      if (!marked.ok()) return marked;
    }
    return ForwardingMetastore::StageSplits(uid, splits);
  }
  absl::Status PublishSplits(const std::string& uid, const std::vector<std::string>& staged,
                             const std::vector<std::string>& replaced,
                             const std::optional<metastore::CheckpointDelta>& delta) override {
    if (fail_publish && !replaced.empty()) return absl::UnavailableError("metastore is down");
    absl::Status status = ForwardingMetastore::PublishSplits(uid, staged, replaced, delta);
    if (status.ok() && lose_publish_answer && !replaced.empty()) {
      fail_next_list = true;
      return absl::DeadlineExceededError("publish answer lost");
    }
    return status;
  }
  absl::StatusOr<std::vector<metastore::Split>> ListSplits(
      const metastore::ListSplitsQuery& query) override {
    if (fail_next_list.exchange(false)) return absl::UnavailableError("metastore is down");
    return ForwardingMetastore::ListSplits(query);
  }
};

class MergeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto metastore = metastore::testing::NewRamMetastore(*resolver_);
    ASSERT_TRUE(metastore.ok()) << metastore.status();
    inner_metastore_ = *std::move(metastore);
    metastore_ = std::make_unique<InterferingMetastore>(inner_metastore_.get());
    index_uri_ = "ram:///merge-indexes-" + NewUlid() + "/logs";
    auto storage = resolver_->Resolve(*Uri::Parse(index_uri_));
    ASSERT_TRUE(storage.ok());
    storage_ = *storage;
  }

  void CreateIndex(const std::string& merge_policy) {
    auto config = config::ParseIndexConfigJson(IndexConfigJson(index_uri_, merge_policy));
    ASSERT_TRUE(config.ok()) << config.status();
    auto index = metastore_->CreateIndex(*config);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *index;
  }

  std::unique_ptr<MergeService> NewService(int64_t grace_secs = 120,
                                           const std::string& node_id = "node-1",
                                           const std::string& scratch_dir = "") {
    MergeServiceOptions options;
    options.node_id = node_id;
    options.scratch_dir = scratch_dir;
    options.deletion_grace_period_secs = grace_secs;
    options.planning_interval_millis = 50;
    options.retry_delay_millis = 60'000;
    return std::make_unique<MergeService>(metastore_.get(), resolver_.get(), options);
  }

  // Builds a split of `num_docs` docs starting at doc `first` and publishes it like an ingest
  // commit. Doc i: ts = kFirstTimestamp + i, severity "sev<i % 3>", tenant i % 4.
  metastore::SplitMetadata Publish(int first, int num_docs, const std::string& node_id = "node-1",
                                   const std::string& source_id = kSourceId) {
    auto processor = index::DocProcessor::Create(index_.index_config.doc_mapping);
    auto writer =
        index::SplitWriter::Create(index_.index_config.doc_mapping, index::SplitWriterOptions{});
    EXPECT_TRUE(processor.ok() && writer.ok());
    for (int i = first; i < first + num_docs; ++i) {
      auto doc = (*processor)
                     ->Process(fmt::format(
                         R"({{"ts": {}, "body": "event number {} of tenant {}", "severity": "sev{}",
               "tenant": {}}})",
                         kFirstTimestamp + i, i, i % 4, i % 3, i % 4));
      EXPECT_TRUE(doc.ok()) << doc.status();
      (*writer)->AddDocument(*std::move(doc));
    }
    auto serialized = (*writer)->Finish();
    EXPECT_TRUE(serialized.ok());
    metastore::SplitMetadata split =
        NewSplitMetadata(*serialized, MergeScope{index_.index_uid, source_id, "0", node_id},
                         index_.index_config.indexing_settings, 0, UnixSecondsNow());
    EXPECT_TRUE(metastore_->StageSplits(index_.index_uid, {split}).ok());
    EXPECT_TRUE(split::UploadSplit(*storage_, split.split_id, *serialized).ok());
    EXPECT_TRUE(
        metastore_->PublishSplits(index_.index_uid, {split.split_id}, {}, std::nullopt).ok());
    return split;
  }

  std::vector<Split> Splits(SplitState state) {
    metastore::ListSplitsQuery query;
    query.index_uids = {index_.index_uid};
    query.states = {state};
    auto splits = metastore_->ListSplits(query);
    EXPECT_TRUE(splits.ok()) << splits.status();
    return splits.ok() ? *splits : std::vector<Split>{};
  }

  // Hits of `query` over every published split, opened from storage like a searcher does.
  uint64_t Count(const index::Query& query) {
    uint64_t total = 0;
    for (const Split& split : Splits(SplitState::kPublished)) {
      auto reader = split::OpenSplit(
          storage_, split::SplitLocation{split.metadata.split_id, split.metadata.split_size_bytes,
                                         split.metadata.footer_start, split.metadata.footer_end});
      EXPECT_TRUE(reader.ok()) << reader.status();
      if (!reader.ok()) continue;
      index::SplitSearchRequest request;
      request.top_k = 0;
      auto result = (*reader)->Search(query, request);
      EXPECT_TRUE(result.ok()) << result.status();
      if (result.ok()) total += result->num_hits;
    }
    return total;
  }

  uint64_t PublishedDocs() {
    uint64_t total = 0;
    for (const Split& split : Splits(SplitState::kPublished)) total += split.metadata.num_docs;
    return total;
  }

  bool FileExists(const std::string& split_id) {
    auto exists = storage_->Exists(split::SplitFileName(split_id));
    return exists.ok() && *exists;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> inner_metastore_;
  std::unique_ptr<InterferingMetastore> metastore_;
  std::string index_uri_;
  std::shared_ptr<storage::Storage> storage_;
  metastore::IndexMetadata index_;
};

constexpr char kStableLog3[] =
    R"({"type": "stable_log", "merge_factor": 3, "max_merge_factor": 3,
        "min_level_num_docs": 100, "maturation_period": "1h"})";

TEST_F(MergeServiceTest, MergesLevelByLevelAndKeepsEveryDocTagAndTimeRange) {
  CreateIndex(kStableLog3);
  std::vector<std::string> originals;
  for (int i = 0; i < 9; ++i) originals.push_back(Publish(i * 10, 10).split_id);
  auto service = NewService();
  auto summary = service->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  // 9 splits of 10 docs -> 3 of 30 -> 1 of 90.
  EXPECT_EQ(summary->num_merges, 4u);
  EXPECT_EQ(summary->num_replaced_splits, 12u);
  EXPECT_EQ(summary->num_failed_merges, 0u);

  const std::vector<Split> published = Splits(SplitState::kPublished);
  ASSERT_EQ(published.size(), 1u);
  const metastore::SplitMetadata& merged = published[0].metadata;
  EXPECT_EQ(merged.num_docs, 90u);
  EXPECT_EQ(merged.num_merge_ops, 2u);
  EXPECT_EQ(merged.source_id, kSourceId);
  EXPECT_EQ(merged.node_id, "node-1");
  EXPECT_EQ(merged.time_range_start_secs, kFirstTimestamp);
  EXPECT_EQ(merged.time_range_end_secs, kFirstTimestamp + 89);
  EXPECT_EQ(merged.tags,
            (std::set<std::string>{"severity!", "severity:sev0", "severity:sev1", "severity:sev2",
                                   "tenant!", "tenant:0", "tenant:1", "tenant:2", "tenant:3"}));
  EXPECT_EQ(merged.maturity_timestamp, merged.create_timestamp + 3600);
  EXPECT_EQ(Count(*index::MakeAllQuery()), 90u);
  EXPECT_EQ(Count(*index::MakeTermQuery("severity", std::string("sev1"))), 30u);
  EXPECT_EQ(Count(*index::MakeTermQuery("tenant", uint64_t{3})), 22u);  // 3, 7, ..., 87
  EXPECT_EQ(Count(*index::MakeTermQuery("body", std::string("number 42"))), 1u);

  // Replaced splits wait for the grace period: marked, files still readable.
  EXPECT_EQ(Splits(SplitState::kMarkedForDeletion).size(), 12u);
  for (const std::string& split_id : originals) EXPECT_TRUE(FileExists(split_id)) << split_id;
  EXPECT_TRUE(Splits(SplitState::kStaged).empty());
  auto stats = service->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].index_id, "logs");
  EXPECT_EQ(stats[0].num_merges, 4u);
  EXPECT_EQ(stats[0].num_replaced_splits, 12u);
  EXPECT_EQ(stats[0].num_merged_docs, 90u + 90u);
}

TEST_F(MergeServiceTest, InputsNotOnLocalDiskAreDownloadedToTheScratchDir) {
  CreateIndex(kStableLog3);
  for (int i = 0; i < 3; ++i) Publish(i * 10, 10);
  const std::filesystem::path scratch =
      std::filesystem::path(::testing::TempDir()) / ("merge-scratch-" + NewUlid());
  auto summary = NewService(120, "node-1", scratch.string())->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 1u);
  EXPECT_EQ(Count(*index::MakeAllQuery()), 30u);
  EXPECT_EQ(Count(*index::MakeTermQuery("body", std::string("number 17"))), 1u);
  // Each merge's download folder is gone once it ends.
  EXPECT_TRUE(std::filesystem::is_empty(scratch));
  std::filesystem::remove_all(scratch);
}

TEST_F(MergeServiceTest, ReplacedSplitsAreDeletedAfterTheGracePeriod) {
  CreateIndex(kStableLog3);
  std::vector<std::string> originals;
  for (int i = 0; i < 3; ++i) originals.push_back(Publish(i * 10, 10).split_id);
  auto summary = NewService(/*grace_secs=*/0)->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 1u);
  EXPECT_TRUE(Splits(SplitState::kMarkedForDeletion).empty());
  for (const std::string& split_id : originals) EXPECT_FALSE(FileExists(split_id)) << split_id;
  const std::vector<Split> published = Splits(SplitState::kPublished);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_TRUE(FileExists(published[0].metadata.split_id));
  EXPECT_EQ(Count(*index::MakeAllQuery()), 30u);
}

TEST_F(MergeServiceTest, NoMergeNeverMerges) {
  CreateIndex(R"({"type": "no_merge"})");
  for (int i = 0; i < 5; ++i) Publish(i * 10, 10);
  auto summary = NewService()->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 0u);
  EXPECT_EQ(Splits(SplitState::kPublished).size(), 5u);
}

TEST_F(MergeServiceTest, MergesWithinScopesOnly) {
  CreateIndex(kStableLog3);
  for (int i = 0; i < 2; ++i) Publish(i * 10, 10, "node-1", kSourceId);
  for (int i = 2; i < 5; ++i) Publish(i * 10, 10, "node-2", kSourceId);
  for (int i = 5; i < 7; ++i) Publish(i * 10, 10, "node-1", "other-source");
  // node-1 merges only its own splits: 2 + 2 in two scopes, nothing to do.
  auto summary = NewService(120, "node-1")->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 0u);
  // node-2 has three.
  summary = NewService(120, "node-2")->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 1u);
  const std::vector<Split> published = Splits(SplitState::kPublished);
  EXPECT_EQ(published.size(), 5u);
  for (const Split& split : published) {
    if (split.metadata.num_merge_ops > 0) {
      EXPECT_EQ(split.metadata.node_id, "node-2");
    }
  }
  EXPECT_EQ(PublishedDocs(), 70u);
  EXPECT_EQ(Count(*index::MakeAllQuery()), 70u);
}

TEST_F(MergeServiceTest, SourceFilterKeepsOtherSourcesApart) {
  CreateIndex(kStableLog3);
  for (int i = 0; i < 3; ++i) Publish(i * 10, 10, "node-1", kSourceId);
  for (int i = 3; i < 6; ++i) Publish(i * 10, 10, "node-1", "other-source");
  MergeServiceOptions options;
  options.node_id = "tool";
  options.only_own_splits = false;
  MergeService service(metastore_.get(), resolver_.get(), options);
  auto summary = service.MergeUntilIdle("logs", std::string("other-source"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 1u);
  EXPECT_EQ(Splits(SplitState::kPublished).size(), 4u);
  EXPECT_EQ(service.MergeUntilIdle("missing-index", std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MergeServiceTest, MergeIsDroppedWhenAnInputWasReplacedMeanwhile) {
  CreateIndex(kStableLog3);
  std::vector<metastore::SplitMetadata> inputs;
  for (int i = 0; i < 3; ++i) inputs.push_back(Publish(i * 10, 10));
  metastore_->input_to_replace = inputs[1].split_id;
  metastore_->replace_an_input_on_stage = true;
  auto service = NewService();
  auto summary = service->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 0u);
  EXPECT_EQ(summary->num_failed_merges, 0u);
  EXPECT_EQ(service->Stats()[0].num_abandoned_merges, 1u);
  // The other writer's change stands; the merged output is gone, file and record.
  EXPECT_TRUE(Splits(SplitState::kStaged).empty());
  const std::vector<Split> published = Splits(SplitState::kPublished);
  ASSERT_EQ(published.size(), 2u);
  auto files = storage_->List("");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 3u);  // the three inputs, no merged split
  EXPECT_EQ(Count(*index::MakeAllQuery()), 20u);
}

TEST_F(MergeServiceTest, FailedPublishDeletesTheOutputAndKeepsTheInputs) {
  CreateIndex(kStableLog3);
  for (int i = 0; i < 3; ++i) Publish(i * 10, 10);
  metastore_->fail_publish = true;
  auto service = NewService();
  auto summary = service->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->num_merges, 0u);
  ASSERT_EQ(summary->num_failed_merges, 1u);
  EXPECT_NE(summary->errors[0].find("metastore is down"), std::string::npos);
  EXPECT_TRUE(Splits(SplitState::kStaged).empty());
  EXPECT_EQ(Splits(SplitState::kPublished).size(), 3u);
  auto files = storage_->List("");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 3u);
  EXPECT_EQ(Count(*index::MakeAllQuery()), 30u);
  // The inputs are backed off: the next pass does not retry them at once.
  metastore_->fail_publish = false;
  summary = service->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->num_merges, 0u);
  // Another service (no back-off) merges them.
  summary = NewService()->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->num_merges, 1u);
  EXPECT_EQ(Count(*index::MakeAllQuery()), 30u);
}

// The publish of the merged split goes through, but the service sees an error and cannot look
// the outcome up: the metastore refuses to delete the published record, so its file stays and
// every document stays searchable.
TEST_F(MergeServiceTest, APublishThatWentThroughKeepsItsFileWhenItsAnswerIsLost) {
  CreateIndex(kStableLog3);
  for (int i = 0; i < 3; ++i) Publish(i * 10, 10);
  metastore_->lose_publish_answer = true;
  auto summary = NewService()->MergeUntilIdle("logs", std::nullopt);
  metastore_->lose_publish_answer = false;
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->num_failed_merges, 1u);
  const std::vector<metastore::Split> published = Splits(SplitState::kPublished);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].metadata.num_merge_ops, 1u);
  auto file = storage_->GetAll(split::SplitFileName(published[0].metadata.split_id));
  EXPECT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(Count(*index::MakeAllQuery()), 30u);
}

TEST_F(MergeServiceTest, CorruptInputFailsTheMergeWithoutLosingDocs) {
  CreateIndex(kStableLog3);
  std::vector<metastore::SplitMetadata> inputs;
  for (int i = 0; i < 3; ++i) inputs.push_back(Publish(i * 10, 10));
  auto bytes = storage_->GetAll(split::SplitFileName(inputs[2].split_id));
  ASSERT_TRUE(bytes.ok());
  std::string corrupt = *bytes;
  corrupt[10] = static_cast<char>(corrupt[10] ^ 0x7f);
  ASSERT_TRUE(storage_->Put(split::SplitFileName(inputs[2].split_id), corrupt).ok());
  auto summary = NewService()->MergeUntilIdle("logs", std::nullopt);
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->num_failed_merges, 1u);
  EXPECT_NE(summary->errors[0].find(inputs[2].split_id), std::string::npos) << summary->errors[0];
  EXPECT_EQ(Splits(SplitState::kPublished).size(), 3u);
  EXPECT_TRUE(Splits(SplitState::kStaged).empty());
}

TEST_F(MergeServiceTest, BackgroundPlannerMergesAfterPublishes) {
  CreateIndex(kStableLog3);
  auto service = NewService();
  service->Start();
  for (int i = 0; i < 3; ++i) {
    Publish(i * 10, 10);
    service->NotifySplitsPublished(index_.index_uid);
  }
  for (int attempt = 0; attempt < 400 && Splits(SplitState::kPublished).size() != 1; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  service->Stop();
  const std::vector<Split> published = Splits(SplitState::kPublished);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].metadata.num_merge_ops, 1u);
  EXPECT_EQ(published[0].metadata.num_docs, 30u);
  auto stats = service->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].num_merges, 1u);
  EXPECT_EQ(stats[0].num_running_merges, 0u);
}

}  // namespace
}  // namespace shale::indexing
