// Split garbage collection on RAM storage and a file-backed metastore on RAM: staged splits (with
// and without file), marked splits and orphan files are listed by a dry run, deleted otherwise,
// and published splits are never touched.

#include "indexing/split_gc.h"

#include <algorithm>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "config/index_config.h"
#include "metastore/testing/forwarding_metastore.h"
#include "metastore/testing/ram_metastore.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

constexpr char kNode[] = "node-a";
constexpr char kOtherNode[] = "node-b";

// Counts the split records its ListSplits calls return.
class CountingMetastore final : public metastore::testing::ForwardingMetastore {
 public:
  using ForwardingMetastore::ForwardingMetastore;
  absl::StatusOr<std::vector<metastore::Split>> ListSplits(
      const metastore::ListSplitsQuery& query) override {
    auto splits = ForwardingMetastore::ListSplits(query);
    if (splits.ok()) num_listed += splits->size();
    return splits;
  }
  size_t num_listed = 0;
};

std::vector<std::string> Ids(const std::vector<GarbageSplit>& splits) {
  std::vector<std::string> ids;
  for (const GarbageSplit& split : splits) ids.push_back(split.split_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

class SplitGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto metastore = metastore::testing::NewRamMetastore(*resolver_);
    ASSERT_TRUE(metastore.ok()) << metastore.status();
    metastore_ = *std::move(metastore);
    const std::string index_uri = "ram:///gc-indexes-" + NewUlid() + "/logs";
    auto storage = resolver_->Resolve(*Uri::Parse(index_uri));
    ASSERT_TRUE(storage.ok());
    storage_ = *storage;
    auto config = config::ParseIndexConfigJson(fmt::format(
        R"({{"version": "0.8", "index_id": "logs", "index_uri": "{}",
            "doc_mapping": {{"field_mappings": [{{"name": "body", "type": "text"}}]}}}})",
        index_uri));
    ASSERT_TRUE(config.ok()) << config.status();
    auto index = metastore_->CreateIndex(*config);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *index;
  }

  // Stages a split of `node_id`, uploads `file_bytes` for it unless empty, returns its id.
  std::string Stage(const std::string& node_id, const std::string& file_bytes) {
    metastore::SplitMetadata split;
    split.split_id = NewUlid();
    split.index_uid = index_.index_uid;
    split.source_id = "_ingest-api-source";
    split.node_id = node_id;
    split.num_docs = 1;
    split.split_size_bytes = file_bytes.size();
    EXPECT_TRUE(metastore_->StageSplits(index_.index_uid, {split}).ok());
    if (!file_bytes.empty()) {
      EXPECT_TRUE(storage_->Put(split::SplitFileName(split.split_id), file_bytes).ok());
    }
    return split.split_id;
  }

  std::string Publish(const std::string& node_id) {
    const std::string split_id = Stage(node_id, "published split");
    EXPECT_TRUE(metastore_->PublishSplits(index_.index_uid, {split_id}, {}, std::nullopt).ok());
    return split_id;
  }

  IndexGarbage Collect(GarbageCollectionOptions options) {
    auto garbage = CollectIndexGarbage(*metastore_, *resolver_, index_, options);
    EXPECT_TRUE(garbage.ok()) << garbage.status();
    return garbage.ok() ? *garbage : IndexGarbage{};
  }

  bool FileExists(const std::string& path) { return *storage_->Exists(path); }

  absl::StatusOr<std::vector<metastore::Split>> AllSplits() {
    metastore::ListSplitsQuery query;
    query.index_uids = {index_.index_uid};
    return metastore_->ListSplits(query);
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  std::shared_ptr<storage::Storage> storage_;
  metastore::IndexMetadata index_;
};

TEST_F(SplitGcTest, DryRunListsEveryKindOfGarbageAndDeletesNothing) {
  const std::string published = Publish(kNode);
  const std::string staged_with_file = Stage(kNode, "0123456789");
  const std::string staged_without_file = Stage(kNode, "");
  const std::string replaced = Publish(kNode);
  ASSERT_TRUE(metastore_->MarkSplitsForDeletion(index_.index_uid, {replaced}).ok());
  const std::string orphan = split::SplitFileName(NewUlid());
  ASSERT_TRUE(storage_->Put(orphan, "orphan").ok());
  // Neither is a split file at the index root.
  ASSERT_TRUE(storage_->Put("notes.txt", "x").ok());
  ASSERT_TRUE(storage_->Put("nested/" + split::SplitFileName(NewUlid()), "x").ok());

  GarbageCollectionOptions options;
  options.dry_run = true;
  options.staged_grace_period_secs = 0;
  options.deletion_grace_period_secs = 0;
  const IndexGarbage garbage = Collect(options);
  EXPECT_FALSE(garbage.deleted);
  EXPECT_EQ(garbage.num_published_splits, 1u);
  std::vector<std::string> expected_staged = {staged_with_file, staged_without_file};
  std::sort(expected_staged.begin(), expected_staged.end());
  EXPECT_EQ(Ids(garbage.staged_splits), expected_staged);
  for (const GarbageSplit& split : garbage.staged_splits) {
    EXPECT_EQ(split.node_id, kNode);
    if (split.split_id == staged_with_file) {
      EXPECT_EQ(split.file_num_bytes, std::optional<uint64_t>(10));
    } else {
      EXPECT_FALSE(split.file_num_bytes.has_value());
    }
  }
  EXPECT_EQ(Ids(garbage.marked_splits), std::vector<std::string>{replaced});
  ASSERT_EQ(garbage.orphan_files.size(), 1u);
  EXPECT_EQ(garbage.orphan_files[0].path, orphan);
  EXPECT_EQ(garbage.orphan_files[0].num_bytes, 6u);
  EXPECT_EQ(garbage.NumFiles(), 3u);  // staged with file, replaced, orphan
  EXPECT_EQ(garbage.NumBytes(), 10u + std::string("published split").size() + 6u);

  const nlohmann::json report = GarbageReportJson(garbage);
  EXPECT_EQ(report["index_id"], "logs");
  EXPECT_EQ(report["dry_run"], true);
  EXPECT_EQ(report["num_published_splits"], 1);
  EXPECT_EQ(report["staged_splits"].size(), 2u);
  EXPECT_EQ(report["marked_splits"][0]["split_id"], replaced);
  EXPECT_EQ(report["orphan_files"][0], nlohmann::json({{"path", orphan}, {"num_bytes", 6}}));
  EXPECT_EQ(report["num_files"], 3);
  for (const nlohmann::json& split : report["staged_splits"]) {
    EXPECT_EQ(split["file_num_bytes"].is_null(), split["split_id"] == staged_without_file);
  }

  EXPECT_TRUE(FileExists(split::SplitFileName(staged_with_file)));
  EXPECT_TRUE(FileExists(orphan));
  auto splits = AllSplits();
  ASSERT_TRUE(splits.ok());
  EXPECT_EQ(splits->size(), 4u);
}

TEST_F(SplitGcTest, DeletesGarbageButNeverPublishedSplits) {
  const std::string published = Publish(kNode);
  const std::string staged = Stage(kNode, "abc");
  const std::string replaced = Publish(kNode);
  ASSERT_TRUE(metastore_->MarkSplitsForDeletion(index_.index_uid, {replaced}).ok());
  const std::string orphan = split::SplitFileName(NewUlid());
  ASSERT_TRUE(storage_->Put(orphan, "orphan").ok());

  GarbageCollectionOptions options;
  options.staged_grace_period_secs = 0;
  options.deletion_grace_period_secs = 0;
  const IndexGarbage garbage = Collect(options);
  EXPECT_TRUE(garbage.deleted);
  EXPECT_EQ(garbage.staged_splits.size(), 1u);
  EXPECT_EQ(garbage.marked_splits.size(), 1u);
  EXPECT_EQ(garbage.orphan_files.size(), 1u);

  EXPECT_TRUE(FileExists(split::SplitFileName(published)));
  EXPECT_FALSE(FileExists(split::SplitFileName(staged)));
  EXPECT_FALSE(FileExists(split::SplitFileName(replaced)));
  EXPECT_FALSE(FileExists(orphan));
  auto splits = AllSplits();
  ASSERT_TRUE(splits.ok());
  ASSERT_EQ(splits->size(), 1u);
  EXPECT_EQ((*splits)[0].metadata.split_id, published);
  EXPECT_EQ((*splits)[0].state, metastore::SplitState::kPublished);

  options.dry_run = true;
  const IndexGarbage again = Collect(options);
  EXPECT_TRUE(again.staged_splits.empty());
  EXPECT_TRUE(again.marked_splits.empty());
  EXPECT_TRUE(again.orphan_files.empty());
}

TEST_F(SplitGcTest, GracePeriodsAndNodeFilterKeepYoungAndForeignSplits) {
  Stage(kNode, "abc");
  const std::string foreign = Stage(kOtherNode, "abc");
  const std::string replaced = Publish(kNode);
  ASSERT_TRUE(metastore_->MarkSplitsForDeletion(index_.index_uid, {replaced}).ok());

  GarbageCollectionOptions options;
  options.dry_run = true;
  options.now_secs = UnixSecondsNow();
  options.staged_grace_period_secs = 3600;
  options.deletion_grace_period_secs = 120;
  IndexGarbage garbage = Collect(options);
  EXPECT_TRUE(garbage.staged_splits.empty());
  EXPECT_TRUE(garbage.marked_splits.empty());

  options.now_secs = UnixSecondsNow() + 3600;
  garbage = Collect(options);
  EXPECT_EQ(garbage.staged_splits.size(), 2u);
  EXPECT_EQ(garbage.marked_splits.size(), 1u);

  options.node_id = kOtherNode;
  garbage = Collect(options);
  EXPECT_EQ(Ids(garbage.staged_splits), std::vector<std::string>{foreign});
  EXPECT_TRUE(garbage.marked_splits.empty());
}

// Without orphan files to tell apart (the merge planner's collection of replaced splits, the
// start-up cleanup), the published splits are not read at all.
TEST_F(SplitGcTest, WithoutOrphanFilesOnlyTheCollectedStatesAreListed) {
  for (int i = 0; i < 5; ++i) Publish(kNode);
  const std::string staged = Stage(kNode, "abc");
  const std::string replaced = Publish(kNode);
  ASSERT_TRUE(metastore_->MarkSplitsForDeletion(index_.index_uid, {replaced}).ok());

  CountingMetastore counting(metastore_.get());
  GarbageCollectionOptions options;
  options.dry_run = true;
  options.staged_grace_period_secs = 0;
  options.deletion_grace_period_secs = 0;
  options.collect_orphan_files = false;
  options.collect_staged = false;
  auto marked = CollectIndexGarbage(counting, *resolver_, index_, options);
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(Ids(marked->marked_splits), std::vector<std::string>{replaced});
  EXPECT_TRUE(marked->staged_splits.empty());
  EXPECT_EQ(counting.num_listed, 1u);

  options.collect_staged = true;
  options.collect_marked = false;
  counting.num_listed = 0;
  auto staged_only = CollectIndexGarbage(counting, *resolver_, index_, options);
  ASSERT_TRUE(staged_only.ok()) << staged_only.status();
  EXPECT_EQ(Ids(staged_only->staged_splits), std::vector<std::string>{staged});
  EXPECT_TRUE(staged_only->marked_splits.empty());
  EXPECT_EQ(counting.num_listed, 1u);
}

TEST_F(SplitGcTest, StartupCleanupDeletesOnlyTheStagedSplitsOfItsNode) {
  const std::string published = Publish(kNode);
  const std::string own_with_file = Stage(kNode, "abc");
  const std::string own_without_file = Stage(kNode, "");
  const std::string foreign = Stage(kOtherNode, "abc");
  const std::string replaced = Publish(kNode);
  ASSERT_TRUE(metastore_->MarkSplitsForDeletion(index_.index_uid, {replaced}).ok());

  const std::vector<IndexGarbage> deleted =
      DeleteStagedSplitsOfNode(*metastore_, *resolver_, kNode);
  ASSERT_EQ(deleted.size(), 1u);
  std::vector<std::string> expected = {own_with_file, own_without_file};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Ids(deleted[0].staged_splits), expected);
  EXPECT_FALSE(FileExists(split::SplitFileName(own_with_file)));
  EXPECT_TRUE(FileExists(split::SplitFileName(foreign)));
  EXPECT_TRUE(FileExists(split::SplitFileName(published)));
  EXPECT_TRUE(FileExists(split::SplitFileName(replaced)));  // the grace period is not over

  auto splits = AllSplits();
  ASSERT_TRUE(splits.ok());
  std::vector<std::string> remaining;
  for (const metastore::Split& split : *splits) remaining.push_back(split.metadata.split_id);
  std::sort(remaining.begin(), remaining.end());
  std::vector<std::string> expected_remaining = {published, foreign, replaced};
  std::sort(expected_remaining.begin(), expected_remaining.end());
  EXPECT_EQ(remaining, expected_remaining);
  EXPECT_TRUE(DeleteStagedSplitsOfNode(*metastore_, *resolver_, kNode).empty());
}

}  // namespace
}  // namespace shale::indexing
