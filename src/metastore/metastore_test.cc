#include "metastore/metastore.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/status_macros.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "metastore/testing/metastore_conformance.h"
#include "metastore/testing/writer_guard_tests.h"
#include "nlohmann/json.hpp"
#include "storage/storage.h"
#include "storage/testing/forwarding_storage.h"

namespace shale::metastore {
namespace {

using testing::FileBackedWriterGuardTest;
using testing::GuardedStorageFactory;
using ::testing::HasSubstr;
using testing::MetastoreBackend;
using testing::MetastoreConformanceTest;
using testing::MetastoreFactory;
using testing::TestIndexConfig;
using testing::TestSplit;

class StorageBackend final : public MetastoreBackend {
 public:
  explicit StorageBackend(std::shared_ptr<storage::Storage> storage)
      : storage_(std::move(storage)) {}
  absl::StatusOr<std::unique_ptr<Metastore>> Open() override {
    return NewFileBackedMetastore(storage_);
  }

 private:
  std::shared_ptr<storage::Storage> storage_;
};

std::shared_ptr<storage::Storage> NewTestRamStorage() {
  return storage::NewRamStorage(Uri::Parse(fmt::format("ram:///metastore/{}", NewUlid())).value());
}

absl::StatusOr<std::unique_ptr<MetastoreBackend>> MakeRamBackend() {
  return std::unique_ptr<MetastoreBackend>(std::make_unique<StorageBackend>(NewTestRamStorage()));
}

absl::StatusOr<std::unique_ptr<MetastoreBackend>> MakeLocalBackend() {
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / fmt::format("shale_metastore_{}", NewUlid());
  absl::StatusOr<Uri> uri = Uri::Parse(fmt::format("file://{}", root.string()));
  if (!uri.ok()) {
    return uri.status();
  }
  absl::StatusOr<std::unique_ptr<storage::Storage>> storage = storage::NewLocalStorage(*uri);
  if (!storage.ok()) {
    return storage.status();
  }
  return std::unique_ptr<MetastoreBackend>(
      std::make_unique<StorageBackend>(std::shared_ptr<storage::Storage>(*std::move(storage))));
}

INSTANTIATE_TEST_SUITE_P(FileBacked, MetastoreConformanceTest,
                         ::testing::Values(MetastoreFactory{"ram_storage", MakeRamBackend},
                                           MetastoreFactory{"local_storage", MakeLocalBackend}),
                         testing::MetastoreFactoryName);

absl::StatusOr<std::shared_ptr<storage::Storage>> MakeGuardedRamStorage() {
  return NewTestRamStorage();
}

INSTANTIATE_TEST_SUITE_P(FileBacked, FileBackedWriterGuardTest,
                         ::testing::Values(GuardedStorageFactory{"ram_storage",
                                                                 MakeGuardedRamStorage}),
                         testing::GuardedStorageFactoryName);

// A storage whose Put fails on demand, to check that failed writes change nothing; with
// `lose_put_responses`, the failing Puts of `path` take effect first (a lost response).
class FailingPutStorage final : public storage::testing::ForwardingStorage {
 public:
  explicit FailingPutStorage(std::shared_ptr<storage::Storage> inner)
      : ForwardingStorage(std::move(inner)) {}
  void set_fail_puts(bool fail) { fail_puts_ = fail; }
  void set_lose_put_responses(bool lose) { lose_put_responses_ = lose; }

  absl::Status Put(std::string_view path, std::string_view data) override {
    if (lose_put_responses_ && path != "_writer_lease.json") {
      RETURN_IF_ERROR(ForwardingStorage::Put(path, data));
      return absl::UnavailableError(fmt::format("lost the response for `{}`", path));
    }
    if (fail_puts_) {
      return absl::UnavailableError(fmt::format("injected failure for `{}`", path));
    }
    return ForwardingStorage::Put(path, data);
  }

 private:
  std::atomic<bool> fail_puts_{false};
  std::atomic<bool> lose_put_responses_{false};
};

TEST(FileBackedMetastoreTest, WritesManifestAndOneFilePerIndex) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const IndexMetadata logs = metastore->CreateIndex(TestIndexConfig("logs")).value();
  ASSERT_TRUE(metastore->StageSplits(logs.index_uid, {TestSplit("split-a", 1, 2)}).ok());
  EXPECT_EQ(storage->List("").value(),
            (std::vector<std::string>{"_writer_lease.json", "indexes_states.json",
                                      "logs/metastore.json"}));
  const nlohmann::json manifest =
      nlohmann::json::parse(storage->GetAll("indexes_states.json").value());
  EXPECT_EQ(manifest, (nlohmann::json{{"logs", "Active"}}));
  const nlohmann::json file = nlohmann::json::parse(storage->GetAll("logs/metastore.json").value());
  EXPECT_EQ(file["version"], "0.8");
  EXPECT_EQ(file["index"]["index_uid"], logs.index_uid);
  EXPECT_TRUE(file["delete_tasks"].is_array());
  ASSERT_EQ(file["splits"].size(), 1u);
  EXPECT_EQ(file["splits"][0]["split_id"], "split-a");
  EXPECT_EQ(file["splits"][0]["split_state"], "Staged");
  // The index uri defaults to the metastore root joined with the index id.
  EXPECT_EQ(logs.index_config.index_uri, storage->uri().Join("logs").str());
}

TEST(FileBackedMetastoreTest, FailedWriteChangesNothing) {
  auto storage = std::make_shared<FailingPutStorage>(NewTestRamStorage());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const std::string uid = metastore->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(metastore->StageSplits(uid, {TestSplit("split-a")}).ok());
  storage->set_fail_puts(true);
  CheckpointDelta delta;
  delta.source_id = "src";
  delta.partitions["0"] = PartitionDelta{"", "00000001"};
  EXPECT_EQ(metastore->PublishSplits(uid, {"split-a"}, {}, delta).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(metastore->CreateIndex(TestIndexConfig("other")).status().code(),
            absl::StatusCode::kUnavailable);
  storage->set_fail_puts(false);
  const std::vector<Split> splits = metastore->ListSplits(ListSplitsQuery{}).value();
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].state, SplitState::kStaged);
  EXPECT_FALSE(metastore->GetIndexMetadata("logs")->checkpoints.contains("src"));
  EXPECT_EQ(metastore->GetIndexMetadata("other").status().code(), absl::StatusCode::kNotFound);
  // The retried publish succeeds.
  EXPECT_TRUE(metastore->PublishSplits(uid, {"split-a"}, {}, delta).ok());
}

TEST(FileBackedMetastoreTest, WriteWhoseResponseWasLostIsFoundApplied) {
  auto storage = std::make_shared<FailingPutStorage>(NewTestRamStorage());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const std::string uid = metastore->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  ASSERT_TRUE(metastore->StageSplits(uid, {TestSplit("split-a")}).ok());
  storage->set_lose_put_responses(true);
  CheckpointDelta delta;
  delta.source_id = "src";
  delta.partitions["0"] = PartitionDelta{"", "00000001"};
  EXPECT_EQ(metastore->PublishSplits(uid, {"split-a"}, {}, delta).code(),
            absl::StatusCode::kUnavailable);
  storage->set_lose_put_responses(false);
  // The caller learns from a read that the publish went through; it is not a writer conflict.
  EXPECT_EQ(metastore->GetIndexMetadata("logs")->checkpoints.at("src").at("0"), "00000001");
  const std::vector<Split> splits = metastore->ListSplits(ListSplitsQuery{}).value();
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].state, SplitState::kPublished);
  delta.partitions["0"] = PartitionDelta{"00000001", "00000002"};
  ASSERT_TRUE(metastore->StageSplits(uid, {TestSplit("split-b")}).ok());
  EXPECT_TRUE(metastore->PublishSplits(uid, {"split-b"}, {}, delta).ok());
  // An index creation stops at its first write (the manifest, now `Creating`): the index stays
  // invisible and a retry completes it.
  storage->set_lose_put_responses(true);
  EXPECT_FALSE(metastore->CreateIndex(TestIndexConfig("other")).ok());
  storage->set_lose_put_responses(false);
  EXPECT_EQ(metastore->GetIndexMetadata("other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(metastore->CreateIndex(TestIndexConfig("other")).ok());
  EXPECT_TRUE(metastore->GetIndexMetadata("other").ok());
}

TEST(FileBackedMetastoreTest, IndexFileRecordsRevisionAndWriter) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  FileBackedMetastoreOptions options;
  options.node_id = "indexer-7";
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage, options).value();
  const std::string uid = metastore->CreateIndex(TestIndexConfig("logs")).value().index_uid;
  nlohmann::json file = nlohmann::json::parse(storage->GetAll("logs/metastore.json").value());
  EXPECT_EQ(file["revision"], 1);
  EXPECT_EQ(file["writer"]["node_id"], "indexer-7");
  EXPECT_EQ(file["writer"]["pid"], static_cast<int64_t>(getpid()));
  const std::string writer_id = file["writer"]["writer_id"];
  EXPECT_TRUE(IsValidUlid(writer_id)) << writer_id;
  ASSERT_TRUE(metastore->StageSplits(uid, {TestSplit("split-a")}).ok());
  ASSERT_TRUE(metastore->MarkSplitsForDeletion(uid, {"split-a"}).ok());
  file = nlohmann::json::parse(storage->GetAll("logs/metastore.json").value());
  EXPECT_EQ(file["revision"], 3);
  const nlohmann::json lease = nlohmann::json::parse(storage->GetAll("_writer_lease.json").value());
  EXPECT_EQ(lease["writer"]["writer_id"], writer_id);
  EXPECT_EQ(lease["writer"]["node_id"], "indexer-7");
  EXPECT_EQ(lease["ttl_secs"], 60);
  EXPECT_TRUE(lease["renewed_at"].is_number_integer());
  // A file without these fields (an older version) reads as revision 0 and is updated.
  file.erase("revision");
  file.erase("writer");
  ASSERT_TRUE(storage->Put("logs/metastore.json", file.dump()).ok());
  metastore = NewFileBackedMetastore(storage, options).value();
  ASSERT_TRUE(metastore->MarkSplitsForDeletion(uid, {"split-a"}).ok());
  EXPECT_EQ(nlohmann::json::parse(storage->GetAll("logs/metastore.json").value())["revision"], 1);
}

TEST(FileBackedMetastoreTest, CorruptWriterLeaseIsDataLossNamingTheFile) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  ASSERT_TRUE(storage->Put("_writer_lease.json", "{\"writer\": 3}").ok());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const absl::Status status = metastore->CreateIndex(TestIndexConfig("logs")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("_writer_lease.json"));
  EXPECT_FALSE(storage->Exists("indexes_states.json").value());
}

TEST(FileBackedMetastoreTest, RejectsBadOptions) {
  FileBackedMetastoreOptions options;
  options.polling_interval = absl::ZeroDuration();
  EXPECT_EQ(NewFileBackedMetastore(NewTestRamStorage(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.polling_interval.reset();
  options.writer_lease_ttl = absl::Seconds(1);
  EXPECT_EQ(NewFileBackedMetastore(NewTestRamStorage(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FileBackedMetastoreTest, CorruptIndexFileIsDataLossNamingTheFile) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  {
    std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
    ASSERT_TRUE(metastore->CreateIndex(TestIndexConfig("logs")).ok());
  }
  ASSERT_TRUE(storage->Put("logs/metastore.json", "{\"version\": \"0.8\", \"ind").ok());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const absl::Status status = metastore->GetIndexMetadata("logs").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("logs/metastore.json"));

  ASSERT_TRUE(
      storage->Put("logs/metastore.json", R"({"version":"0.8","index":{"index_uid":3}})").ok());
  metastore = NewFileBackedMetastore(storage).value();
  const absl::Status bad_field = metastore->GetIndexMetadata("logs").status();
  EXPECT_EQ(bad_field.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bad_field.message()), HasSubstr("logs/metastore.json"));
  EXPECT_THAT(std::string(bad_field.message()), HasSubstr("index_uid"));
}

TEST(FileBackedMetastoreTest, CorruptManifestIsDataLoss) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  ASSERT_TRUE(storage->Put("indexes_states.json", R"({"logs": "Sleeping"})").ok());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  const absl::Status status = metastore->ListIndexes().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("indexes_states.json"));
}

TEST(FileBackedMetastoreTest, IndexLeftCreatingOrDeletingByACrashIsInvisibleAndReusable) {
  std::shared_ptr<storage::Storage> storage = NewTestRamStorage();
  ASSERT_TRUE(
      storage->Put("indexes_states.json", R"({"half": "Creating", "gone": "Deleting"})").ok());
  ASSERT_TRUE(storage->Put("gone/metastore.json", "leftover").ok());
  std::unique_ptr<Metastore> metastore = NewFileBackedMetastore(storage).value();
  EXPECT_TRUE(metastore->ListIndexes().value().empty());
  EXPECT_EQ(metastore->GetIndexMetadata("half").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(metastore->CreateIndex(TestIndexConfig("half")).ok());
  ASSERT_TRUE(metastore->CreateIndex(TestIndexConfig("gone")).ok());
  std::unique_ptr<Metastore> reopened = NewFileBackedMetastore(storage).value();
  EXPECT_EQ(reopened->ListIndexes().value().size(), 2u);
}

TEST(MetastoreJsonTest, SplitMetadataHasQuickwitShape) {
  SplitMetadata split = TestSplit("01HZY0000000000000000000AB", 100, 200);
  split.index_uid = "logs:01HZY0000000000000000000CD";
  split.partition_id = "7";
  split.maturity_timestamp = split.create_timestamp + 60;
  const nlohmann::json json = SplitMetadataToJson(split);
  EXPECT_EQ(json["version"], "0.8");
  EXPECT_EQ(json["partition_id"], 7);
  EXPECT_TRUE(json["partition_id"].is_number_unsigned());
  EXPECT_EQ(json["time_range"], (nlohmann::json{{"start", 100}, {"end", 200}}));
  EXPECT_EQ(json["maturity"],
            (nlohmann::json{{"type", "Immature"}, {"maturation_period_millis", 60000}}));
  EXPECT_EQ(json["tags"], (nlohmann::json{"tenant:a", "tenant:b"}));
  EXPECT_EQ(json["footer_offsets"], (nlohmann::json{{"start", 400}, {"end", 500}}));
  EXPECT_EQ(json["num_docs"], 10);
  EXPECT_EQ(json["split_size_bytes"], 500);

  const SplitMetadata parsed = SplitMetadataFromJson(json).value();
  EXPECT_EQ(parsed.split_id, split.split_id);
  EXPECT_EQ(parsed.partition_id, "7");
  EXPECT_EQ(parsed.time_range_start_secs, 100);
  EXPECT_EQ(parsed.time_range_end_secs, 200);
  EXPECT_EQ(parsed.maturity_timestamp, split.maturity_timestamp);
  EXPECT_EQ(parsed.tags, split.tags);
  EXPECT_EQ(parsed.footer_start, 400u);
  EXPECT_EQ(parsed.footer_end, 500u);
}

TEST(MetastoreJsonTest, MatureSplitWithoutTimeRange) {
  SplitMetadata split = TestSplit("a");
  split.index_uid = "logs:x";
  const nlohmann::json json = SplitMetadataToJson(split);
  EXPECT_TRUE(json["time_range"].is_null());
  EXPECT_EQ(json["maturity"], (nlohmann::json{{"type", "Mature"}}));
  const SplitMetadata parsed = SplitMetadataFromJson(json).value();
  EXPECT_FALSE(parsed.time_range_start_secs.has_value());
  EXPECT_EQ(parsed.maturity_timestamp, 0);
}

TEST(MetastoreJsonTest, SplitAddsStateAndTimestamps) {
  Split split;
  split.metadata = TestSplit("a");
  split.metadata.index_uid = "logs:x";
  split.state = SplitState::kPublished;
  split.update_timestamp = 5;
  split.publish_timestamp = 6;
  const nlohmann::json json = SplitToJson(split);
  EXPECT_EQ(json["split_state"], "Published");
  EXPECT_EQ(json["update_timestamp"], 5);
  EXPECT_EQ(json["publish_timestamp"], 6);
  const Split parsed = SplitFromJson(json).value();
  EXPECT_EQ(parsed.state, SplitState::kPublished);
  EXPECT_EQ(parsed.publish_timestamp, 6);
  EXPECT_EQ(SplitFromJson(nlohmann::json{{"split_id", "a"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetastoreJsonTest, MalformedSplitNamesTheKey) {
  nlohmann::json json = SplitMetadataToJson(TestSplit("a"));
  json["num_docs"] = "ten";
  const absl::Status status = SplitMetadataFromJson(json).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("num_docs"));
  EXPECT_EQ(SplitMetadataFromJson(nlohmann::json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetastoreJsonTest, IndexMetadataRoundTrips) {
  IndexMetadata metadata;
  metadata.index_uid = "logs:01HZY0000000000000000000CD";
  metadata.index_config = TestIndexConfig("logs");
  metadata.index_config.index_uri = "ram:///indexes/logs";
  metadata.create_timestamp = 1234;
  metadata.checkpoints["kafka"] = {{"0", "00000010"}, {"1", "00000003"}};
  config::SourceConfig source;
  source.source_id = "kafka";
  source.source_type = "void";
  metadata.sources["kafka"] = source;
  const nlohmann::json json = IndexMetadataToJson(metadata);
  EXPECT_EQ(json["version"], "0.8");
  EXPECT_EQ(json["index_uid"], metadata.index_uid);
  EXPECT_EQ(json["checkpoint"],
            (nlohmann::json{{"kafka", {{"0", "00000010"}, {"1", "00000003"}}}}));
  EXPECT_EQ(json["create_timestamp"], 1234);
  ASSERT_TRUE(json["sources"].is_array());
  EXPECT_EQ(json["sources"].size(), 1u);
  const absl::StatusOr<IndexMetadata> parsed = IndexMetadataFromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->index_uid, metadata.index_uid);
  EXPECT_EQ(parsed->index_id(), "logs");
  EXPECT_EQ(parsed->checkpoints, metadata.checkpoints);
  EXPECT_TRUE(parsed->sources.contains("kafka"));
  EXPECT_EQ(parsed->create_timestamp, 1234);
}

}  // namespace
}  // namespace shale::metastore
