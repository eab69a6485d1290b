#include "indexing/source_pipeline.h"

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "index/query.h"
#include "indexing/source_service.h"
#include "indexing/testing/gzip.h"
#include "indexing/testing/stored_documents.h"
#include "indexing/wal.h"
#include "metastore/testing/flaky_metastore.h"
#include "metastore/testing/ram_metastore.h"
#include "split/split_store.h"
#include "storage/testing/latency_storage.h"

namespace shale::indexing {
namespace {

using ::shale::indexing::testing::Gzip;
using ::shale::metastore::testing::FlakyMetastore;

std::string IndexConfigJson(const std::string& index_uri, int split_num_docs_target,
                            int commit_timeout_secs = 3600) {
  return R"({"version": "0.8", "index_id": "logs", "index_uri": ")" + index_uri + R"(",
    "doc_mapping": {"mode": "strict", "field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true},
      {"name": "n", "type": "u64", "fast": true},
      {"name": "body", "type": "text"}], "timestamp_field": "ts"},
    "indexing_settings": {"commit_timeout_secs": )" +
         std::to_string(commit_timeout_secs) + R"(, "split_num_docs_target": )" +
         std::to_string(split_num_docs_target) + "}}";
}

std::string Docs(int first, int count) {
  std::string out;
  for (int n = first; n < first + count; ++n) {
    out += "{\"ts\": " + std::to_string(1700000000 + n) + ", \"n\": " + std::to_string(n) +
           ", \"body\": \"event " + std::to_string(n) + "\"}\n";
  }
  return out;
}

class SourcePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    auto metastore = metastore::testing::NewRamMetastore(*resolver_);
    ASSERT_TRUE(metastore.ok()) << metastore.status();
    real_metastore_ = *std::move(metastore);
    metastore_ = std::make_unique<FlakyMetastore>(real_metastore_.get());
    files_root_ = "ram:///files-" + NewUlid();
    files_ = *resolver_->Resolve(*Uri::Parse(files_root_));
  }

  void CreateIndex(int split_num_docs_target, int commit_timeout_secs = 3600) {
    auto config = config::ParseIndexConfigJson(IndexConfigJson(
        "ram:///indexes-" + NewUlid() + "/logs", split_num_docs_target, commit_timeout_secs));
    ASSERT_TRUE(config.ok()) << config.status();
    auto metadata = metastore_->CreateIndex(*config);
    ASSERT_TRUE(metadata.ok()) << metadata.status();
    index_uid_ = metadata->index_uid;
  }

  std::string PutFile(const std::string& name, const std::string& data) {
    EXPECT_TRUE(files_->Put(name, data).ok());
    return files_root_ + "/" + name;
  }

  config::SourceConfig AddFileSource(const std::string& uri) {
    config::SourceConfig source;
    source.source_id = "my-file";
    source.source_type = "file";
    source.params = nlohmann::json{{"filepath", uri}};
    EXPECT_TRUE(metastore_->AddSource(index_uid_, source).ok());
    return source;
  }

  SourcePipelineOptions Options() {
    SourcePipelineOptions options;
    options.node_id = "test-node";
    options.queue_capacity = 2;
    options.initial_restart_delay_millis = 20;
    options.commit_check_interval_millis = 10;
    options.source.batch_bytes = 8192;
    options.source.read_chunk_bytes = 4096;
    return options;
  }

  std::unique_ptr<SourcePipeline> StartPipeline(const config::SourceConfig& source,
                                                storage::StorageResolver* resolver = nullptr,
                                                std::optional<SourcePipelineOptions> options = {}) {
    auto pipeline = std::make_unique<SourcePipeline>(
        metastore_.get(), resolver != nullptr ? resolver : resolver_.get(), "logs", index_uid_,
        source, options.value_or(Options()));
    pipeline->Start();
    return pipeline;
  }

  static bool WaitFor(const std::function<bool()>& condition) {
    for (int i = 0; i < 1500; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::vector<metastore::Split> PublishedSplits() {
    metastore::ListSplitsQuery query;
    query.index_uids = {index_uid_};
    query.states = {metastore::SplitState::kPublished};
    auto splits = real_metastore_->ListSplits(query);
    EXPECT_TRUE(splits.ok());
    return splits.ok() ? *splits : std::vector<metastore::Split>{};
  }

  // Every value of the `n` field over the published splits (duplicates kept).
  std::multiset<uint64_t> PublishedValues() {
    std::multiset<uint64_t> values;
    auto metadata = real_metastore_->GetIndexMetadata("logs");
    auto storage = resolver_->Resolve(*Uri::Parse(*metadata->index_config.index_uri));
    for (const std::string& document : testing::StoredDocuments(*storage, PublishedSplits())) {
      values.insert(nlohmann::json::parse(document)["n"].get<uint64_t>());
    }
    return values;
  }

  metastore::SourceCheckpoint StoredCheckpoint(const std::string& source_id) {
    auto metadata = real_metastore_->GetIndexMetadata("logs");
    auto it = metadata->checkpoints.find(source_id);
    return it == metadata->checkpoints.end() ? metastore::SourceCheckpoint{} : it->second;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> real_metastore_;
  std::unique_ptr<FlakyMetastore> metastore_;
  std::string files_root_;
  std::shared_ptr<storage::Storage> files_;
  std::string index_uid_;
};

// The values 0..count-1 once each.
std::multiset<uint64_t> Range(uint64_t count) {
  std::multiset<uint64_t> values;
  for (uint64_t n = 0; n < count; ++n) values.insert(n);
  return values;
}

TEST_F(SourcePipelineTest, IndexesAGzipFileExactlyOnceThenGoesIdle) {
  CreateIndex(/*split_num_docs_target=*/700);
  // Rejected lines move the checkpoint like the others.
  const std::string data = Docs(0, 2000) + "{not json\n{\"body\": \"no timestamp\"}\n\n";
  const std::string uri = PutFile("logs.ndjson.gz", Gzip(data));
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(AddFileSource(uri));
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kIdle; }))
      << pipeline->Stats().last_error;
  const SourcePipelineStats stats = pipeline->Stats();
  EXPECT_EQ(stats.num_docs_read, 2002u);
  EXPECT_EQ(stats.num_ingested_docs, 2000u);
  EXPECT_EQ(stats.num_rejected_docs.at("invalid_json"), 1u);
  EXPECT_EQ(stats.num_rejected_docs.at("timestamp_missing"), 1u);
  EXPECT_EQ(stats.num_rejected_docs.size(), 2u);
  EXPECT_EQ(stats.num_published_docs, 2000u);
  EXPECT_EQ(stats.num_pending_docs, 0u);
  EXPECT_EQ(stats.num_restarts, 0u);
  const std::string end = WalPositionToCheckpoint(data.size());
  EXPECT_EQ(stats.checkpoint, (metastore::SourceCheckpoint{{uri, end}}));
  EXPECT_EQ(StoredCheckpoint("my-file"), stats.checkpoint);
  const std::vector<metastore::Split> splits = PublishedSplits();
  EXPECT_EQ(splits.size(), 3u);
  for (const metastore::Split& split : splits) {
    EXPECT_EQ(split.metadata.source_id, "my-file");
    // Cut at the first batch boundary past the target (these batches hold ~150 lines).
    EXPECT_GE(split.metadata.num_docs + (&split == &splits.back() ? 700 : 0), 700u);
    EXPECT_LT(split.metadata.num_docs, 700u + 200u);
  }
  EXPECT_EQ(PublishedValues(), Range(2000));
}

// Resolves like `inner`; reads from storages under `slow_root` first wait `delay` each.
class SlowFilesResolver final : public storage::StorageResolver {
 public:
  SlowFilesResolver(storage::StorageResolver* inner, std::string slow_root, absl::Duration delay)
      : inner_(inner), slow_root_(std::move(slow_root)), delay_(delay) {}

  absl::StatusOr<std::shared_ptr<storage::Storage>> Resolve(const Uri& uri) override {
    absl::StatusOr<std::shared_ptr<storage::Storage>> storage = inner_->Resolve(uri);
    if (!storage.ok() || !uri.str().starts_with(slow_root_)) return storage;
    return std::make_shared<storage::testing::LatencyStorage>(*std::move(storage), delay_);
  }

 private:
  storage::StorageResolver* const inner_;
  const std::string slow_root_;
  const absl::Duration delay_;
};

// A source that keeps the queue fed (a batch every ~40 ms, checks for an empty queue every
// 200 ms) still commits on commit_timeout_secs, not only at the size triggers or the end.
TEST_F(SourcePipelineTest, CommitsOnTheTimeoutWhileTheQueueStaysFed) {
  CreateIndex(/*split_num_docs_target=*/10'000'000, /*commit_timeout_secs=*/1);
  const std::string data = Docs(0, 12'000);  // ~170 reads of 4 KiB, 20 ms each: ~3.5 s
  const std::string uri = PutFile("steady.ndjson", data);
  SlowFilesResolver slow(resolver_.get(), files_root_, absl::Milliseconds(20));
  SourcePipelineOptions options = Options();
  options.commit_check_interval_millis = 200;
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(AddFileSource(uri), &slow, options);
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kIdle; }))
      << pipeline->Stats().last_error;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<metastore::Split> splits = PublishedSplits();
  // One split per elapsed second of commit_timeout_secs, plus the last one at the end.
  EXPECT_GE(splits.size(), 3u) << "the source ran " << seconds << " s";
  EXPECT_GE(seconds, 3.0);
  uint64_t num_docs = 0;
  for (const metastore::Split& split : splits) num_docs += split.metadata.num_docs;
  EXPECT_EQ(num_docs, 12'000u);  // each doc once: the other tests read them all back
  EXPECT_EQ(StoredCheckpoint("my-file"),
            (metastore::SourceCheckpoint{{uri, WalPositionToCheckpoint(data.size())}}));
}

TEST_F(SourcePipelineTest, ANewPipelineResumesAfterThePublishedCheckpoint) {
  CreateIndex(/*split_num_docs_target=*/10'000'000);
  const std::string head = Docs(0, 300);
  const std::string uri = PutFile("logs.ndjson", head + Docs(300, 200));
  const config::SourceConfig source = AddFileSource(uri);
  // As if an earlier run had published the first 300 documents.
  metastore::CheckpointDelta delta{"my-file", {{uri, {"", WalPositionToCheckpoint(head.size())}}}};
  ASSERT_TRUE(metastore_->PublishSplits(index_uid_, {}, {}, delta).ok());
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(source);
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kIdle; }));
  std::multiset<uint64_t> expected;
  for (uint64_t n = 300; n < 500; ++n) expected.insert(n);
  EXPECT_EQ(PublishedValues(), expected);
  EXPECT_EQ(pipeline->Stats().num_docs_read, 200u);
}

TEST_F(SourcePipelineTest, FailedPublishesRestartFromTheStoredCheckpointWithoutDuplicates) {
  CreateIndex(/*split_num_docs_target=*/400);
  const std::string uri = PutFile("logs.ndjson", Docs(0, 3000));
  metastore_->publish_failures = 3;
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(AddFileSource(uri));
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kIdle; }))
      << pipeline->Stats().last_error;
  const SourcePipelineStats stats = pipeline->Stats();
  EXPECT_EQ(stats.num_restarts, 3u);
  EXPECT_THAT(stats.last_error, ::testing::HasSubstr("metastore is down"));
  EXPECT_GT(stats.num_docs_read, 3000u);  // the unpublished batches were read again
  EXPECT_EQ(stats.num_published_docs, 3000u);
  EXPECT_EQ(PublishedValues(), Range(3000));
}

TEST_F(SourcePipelineTest, StoppingMidwayLosesNothingAndDuplicatesNothing) {
  CreateIndex(/*split_num_docs_target=*/500);
  const std::string uri = PutFile("logs.ndjson", Docs(0, 6000));
  const config::SourceConfig source = AddFileSource(uri);
  std::unique_ptr<SourcePipeline> first = StartPipeline(source);
  ASSERT_TRUE(WaitFor([&] { return first->Stats().num_published_splits >= 2; }));
  first->Stop();  // drops its in-memory split, like a crash
  EXPECT_EQ(first->Stats().state, SourcePipelineState::kStopped);
  const uint64_t published_before = first->Stats().num_published_docs;
  EXPECT_LT(published_before, 6000u);
  std::unique_ptr<SourcePipeline> second = StartPipeline(source);
  ASSERT_TRUE(WaitFor([&] { return second->Stats().state == SourcePipelineState::kIdle; }));
  EXPECT_EQ(published_before + second->Stats().num_published_docs, 6000u);
  EXPECT_EQ(PublishedValues(), Range(6000));
}

TEST_F(SourcePipelineTest, MissingFileFailsAndRetriesUntilItAppears) {
  CreateIndex(/*split_num_docs_target=*/10'000'000);
  const std::string uri = files_root_ + "/late.ndjson";
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(AddFileSource(uri));
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kFailed; }));
  EXPECT_THAT(pipeline->Stats().last_error, ::testing::HasSubstr("late.ndjson"));
  PutFile("late.ndjson", Docs(0, 10));
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kIdle; }));
  EXPECT_EQ(PublishedValues(), Range(10));
}

TEST_F(SourcePipelineTest, ExitsWhenItsSourceIsDisabledOrDeleted) {
  CreateIndex(/*split_num_docs_target=*/10'000'000);
  const config::SourceConfig source = AddFileSource(files_root_ + "/never.ndjson");
  ASSERT_TRUE(metastore_->ToggleSource(index_uid_, "my-file", false).ok());
  std::unique_ptr<SourcePipeline> pipeline = StartPipeline(source);
  ASSERT_TRUE(WaitFor([&] { return pipeline->Stats().state == SourcePipelineState::kStopped; }));
}

class SourceServiceTest : public SourcePipelineTest {};

TEST_F(SourceServiceTest, SyncFollowsTheSourcesOfTheMetastore) {
  CreateIndex(/*split_num_docs_target=*/10'000'000);
  SourceService service(metastore_.get(), resolver_.get(), Options());
  ASSERT_TRUE(service.Start().ok());
  EXPECT_TRUE(service.Stats().empty());

  config::SourceConfig vec;
  vec.source_id = "my-vec";
  vec.source_type = "vec";
  vec.params = {{"docs", {{{"ts", 1700000000}, {"n", 7}, {"body", "x"}}}}};
  ASSERT_TRUE(metastore_->AddSource(index_uid_, vec).ok());
  config::SourceConfig kafka;
  kafka.source_id = "my-kafka";
  kafka.source_type = "kafka";
  ASSERT_TRUE(metastore_->AddSource(index_uid_, kafka).ok());
  ASSERT_TRUE(service.SyncIndex("logs").ok());
  ASSERT_EQ(service.Stats().size(), 1u);  // kafka runs no pipeline
  ASSERT_TRUE(WaitFor([&] { return service.Stats()[0].state == SourcePipelineState::kIdle; }));
  EXPECT_EQ(PublishedValues(), std::multiset<uint64_t>{7});

  // A changed config restarts the pipeline from the stored checkpoint: nothing new to read.
  vec.params["batch_num_docs"] = 5;
  ASSERT_TRUE(metastore_->UpdateSource(index_uid_, vec).ok());
  ASSERT_TRUE(service.SyncIndex("logs").ok());
  ASSERT_TRUE(WaitFor([&] { return service.Stats()[0].state == SourcePipelineState::kIdle; }));
  EXPECT_EQ(service.Stats()[0].num_docs_read, 0u);

  ASSERT_TRUE(metastore_->ToggleSource(index_uid_, "my-vec", false).ok());
  ASSERT_TRUE(service.SyncIndex("logs").ok());
  EXPECT_TRUE(service.Stats().empty());

  ASSERT_TRUE(metastore_->ToggleSource(index_uid_, "my-vec", true).ok());
  ASSERT_TRUE(service.SyncIndex("logs").ok());
  EXPECT_EQ(service.Stats().size(), 1u);
  ASSERT_TRUE(metastore_->DeleteIndex(index_uid_).ok());
  ASSERT_TRUE(service.SyncIndex("logs").ok());
  EXPECT_TRUE(service.Stats().empty());
  service.Stop();
}

}  // namespace
}  // namespace shale::indexing
