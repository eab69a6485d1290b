#include "indexing/ingest_service.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"

#include "common/ulid.h"
#include "config/index_config.h"
#include "indexing/testing/stored_documents.h"
#include "metastore/testing/flaky_metastore.h"
#include "metastore/testing/ram_metastore.h"
#include "nlohmann/json.hpp"

namespace shale::indexing {
namespace {

using ::shale::metastore::testing::FlakyMetastore;

std::string IndexConfigJson(const std::string& index_uri, int commit_timeout_secs,
                            int split_num_docs_target) {
  return R"({"version": "0.8", "index_id": "logs", "index_uri": ")" + index_uri + R"(",
    "doc_mapping": {"mode": "strict", "field_mappings": [
      {"name": "ts", "type": "datetime", "fast": true},
      {"name": "body", "type": "text"}], "timestamp_field": "ts"},
    "indexing_settings": {"commit_timeout_secs": )" +
         std::to_string(commit_timeout_secs) + R"(, "split_num_docs_target": )" +
         std::to_string(split_num_docs_target) + "}}";
}

// The `body` values of Docs(0, count), each once.
std::multiset<std::string> Bodies(int count) {
  std::multiset<std::string> bodies;
  for (int i = 0; i < count; ++i) bodies.insert("hello " + std::to_string(i));
  return bodies;
}

std::string Docs(int first, int count) {
  std::string out;
  for (int i = first; i < first + count; ++i) {
    out += "{\"ts\": " + std::to_string(1700000000 + i) + ", \"body\": \"hello " +
           std::to_string(i) + "\"}\n";
  }
  return out;
}

class IngestServiceTest : public ::testing::Test {
 protected:
  void CreateIndex(int commit_timeout_secs = 60, int split_num_docs_target = 10'000'000) {
    resolver_ = storage::NewStorageResolver();
    auto metastore = metastore::testing::NewRamMetastore(*resolver_);
    ASSERT_TRUE(metastore.ok()) << metastore.status();
    metastore_ = *std::move(metastore);
    const std::string index_uri = "ram:///indexes-" + NewUlid() + "/logs";
    auto index_storage = resolver_->Resolve(*Uri::Parse(index_uri));
    ASSERT_TRUE(index_storage.ok());
    index_storage_ = *index_storage;
    auto config = config::ParseIndexConfigJson(
        IndexConfigJson(index_uri, commit_timeout_secs, split_num_docs_target));
    ASSERT_TRUE(config.ok()) << config.status();
    auto metadata = metastore_->CreateIndex(*config);
    ASSERT_TRUE(metadata.ok()) << metadata.status();
    index_uid_ = metadata->index_uid;
    wal_root_ = (std::filesystem::path(::testing::TempDir()) / ("wal-" + NewUlid())).string();
    StartService();
  }

  // A new service on the same metastore and WAL root, recovered then started.
  void StartService(uint64_t max_wal_disk_usage_bytes = 1ULL << 30) {
    service_ = NewService("test-node", wal_root_, max_wal_disk_usage_bytes);
  }

  std::unique_ptr<IngestService> NewService(const std::string& node_id, const std::string& wal_root,
                                            uint64_t max_wal_disk_usage_bytes = 1ULL << 30) {
    IngestServiceOptions options;
    options.node_id = node_id;
    options.commit_check_interval_millis = commit_check_interval_millis_;
    options.wal_durability = wal_durability_;
    options.idempotency_retention_millis = idempotency_retention_millis_;
    options.wal_root = wal_root;
    options.max_wal_disk_usage_bytes = max_wal_disk_usage_bytes;
    options.commit_retry_delay_millis = 50;
    options.num_processing_threads = num_processing_threads_;
    options.num_pipelines_per_index = num_pipelines_per_index_;
    metastore::Metastore* metastore =
        flaky_metastore_ != nullptr ? flaky_metastore_.get() : metastore_.get();
    auto service = std::make_unique<IngestService>(metastore, resolver_.get(), options);
    EXPECT_TRUE(service->Recover().ok());
    service->Start();
    return service;
  }

  // Simulates a crash: in-memory state is lost, nothing is committed.
  void Crash() {
    service_->AbandonForTesting();
    service_.reset();
  }

  // The stored position of the WAL partition of node `node_id` (of `wal` when empty).
  std::string WalCheckpoint(const std::string& node_id = "test-node") {
    auto metadata = metastore_->GetIndexMetadata("logs");
    EXPECT_TRUE(metadata.ok());
    if (!metadata.ok()) return "?";
    auto source = metadata->checkpoints.find(kIngestApiSourceId);
    if (source == metadata->checkpoints.end()) return "";
    auto partition = source->second.find(node_id.empty() ? "wal" : "wal/" + node_id);
    return partition == source->second.end() ? "" : partition->second;
  }

  bool WaitForPublishedDocs(uint64_t expected) {
    for (int i = 0; i < 500; ++i) {
      if (PublishedDocs() >= expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Give a wrong extra commit the chance to show up.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return PublishedDocs() == expected;
  }

  std::vector<metastore::Split> PublishedSplits() {
    metastore::ListSplitsQuery query;
    query.index_uids = {index_uid_};
    query.states = {metastore::SplitState::kPublished};
    auto splits = metastore_->ListSplits(query);
    EXPECT_TRUE(splits.ok());
    return splits.ok() ? *splits : std::vector<metastore::Split>{};
  }

  // The `body` of every stored document of the published splits (duplicates kept).
  std::multiset<std::string> PublishedBodies() {
    std::multiset<std::string> bodies;
    for (const std::string& document :
         testing::StoredDocuments(index_storage_, PublishedSplits())) {
      bodies.insert(nlohmann::json::parse(document).at("body").get<std::string>());
    }
    return bodies;
  }

  uint64_t PublishedDocs() {
    uint64_t total = 0;
    for (const metastore::Split& split : PublishedSplits()) total += split.metadata.num_docs;
    return total;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::unique_ptr<metastore::Metastore> metastore_;
  std::shared_ptr<storage::Storage> index_storage_;
  std::unique_ptr<metastore::Metastore> flaky_metastore_;
  std::string index_uid_;
  std::string wal_root_;
  std::unique_ptr<IngestService> service_;
  int64_t commit_check_interval_millis_ = 20;
  WalDurability wal_durability_ = WalDurability::kRequest;
  int64_t idempotency_retention_millis_ = 3'600'000;
  int num_processing_threads_ = 0;
  int num_pipelines_per_index_ = 1;
};

TEST_F(IngestServiceTest, ForceCommitPublishesOneSplitWithTimeRange) {
  CreateIndex();
  auto result = service_->Ingest("logs", Docs(0, 100), CommitMode::kForce, false);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_docs_for_processing, 100u);
  EXPECT_EQ(result->num_ingested_docs, 100u);
  EXPECT_EQ(result->num_rejected_docs, 0u);
  const auto splits = PublishedSplits();
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].metadata.num_docs, 100u);
  EXPECT_EQ(splits[0].metadata.time_range_start_secs, 1700000000);
  EXPECT_EQ(splits[0].metadata.time_range_end_secs, 1700000099);
  EXPECT_GT(splits[0].metadata.footer_end, splits[0].metadata.footer_start);
  EXPECT_EQ(splits[0].metadata.source_id, kIngestApiSourceId);
}

TEST_F(IngestServiceTest, BadLinesAreRejectedAndDescribedWhileTheRestIsIngested) {
  CreateIndex();
  const std::string body = Docs(0, 3) + "{not json\n" + "{\"ts\": 1, \"unknown\": 2}\n" + "\n" +
                           "{\"body\": \"no timestamp\"}\n" + Docs(3, 2);
  auto result = service_->Ingest("logs", body, CommitMode::kForce, true);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_docs_for_processing, 8u);
  EXPECT_EQ(result->num_ingested_docs, 5u);
  EXPECT_EQ(result->num_rejected_docs, 3u);
  ASSERT_EQ(result->parse_failures.size(), 3u);
  EXPECT_EQ(result->parse_failures[2].message, "document must contain the timestamp field `ts`");
  EXPECT_EQ(result->parse_failures[2].reason, "invalid_schema");
  EXPECT_EQ(result->parse_failures[2].rejection_reason, "timestamp_missing");
  EXPECT_EQ(result->parse_failures[0].document, "{not json");
  EXPECT_EQ(result->parse_failures[0].reason, "invalid_json");
  EXPECT_EQ(result->parse_failures[0].rejection_reason, "invalid_json");
  EXPECT_EQ(result->parse_failures[1].reason, "invalid_schema");
  EXPECT_EQ(result->parse_failures[1].rejection_reason, "unknown_field");
  EXPECT_NE(result->parse_failures[1].message.find("unknown"), std::string::npos)
      << result->parse_failures[1].message;
  EXPECT_EQ(PublishedDocs(), 5u);
  const std::vector<IndexIngestStats> stats = service_->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].num_rejected_docs,
            (std::map<std::string, uint64_t>{
                {"invalid_json", 1}, {"unknown_field", 1}, {"timestamp_missing", 1}}));
  EXPECT_EQ(stats[0].state, "running");
  EXPECT_EQ(stats[0].num_restarts, 0u);
  EXPECT_EQ(stats[0].num_commit_failures, 0u);
  EXPECT_TRUE(stats[0].last_error.empty());
}

TEST_F(IngestServiceTest, LargeBodiesAreProcessedInParallelPartsKeepingTheirOrder) {
  num_processing_threads_ = 2;
  CreateIndex(/*commit_timeout_secs=*/60, /*split_num_docs_target=*/10000);
  // Large enough to be cut into several parts of 512 KiB, claimed by this thread and both
  // helpers; a bad line every 997 lines lands in every part.
  std::string body;
  std::vector<std::string> bad_lines;
  uint64_t num_good = 0;
  for (int i = 0; i < 60000; ++i) {
    if (i % 997 == 0) {
      bad_lines.push_back("{bad line " + std::to_string(i));
      body += bad_lines.back() + "\n";
    } else {
      body += Docs(i, 1);
      ++num_good;
    }
  }
  ASSERT_GT(body.size(), 4u * 512 * 1024);
  auto result = service_->Ingest("logs", body, CommitMode::kForce, true);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_docs_for_processing, 60000u);
  EXPECT_EQ(result->num_ingested_docs, num_good);
  EXPECT_EQ(result->num_rejected_docs, bad_lines.size());
  ASSERT_EQ(result->parse_failures.size(), bad_lines.size());
  for (size_t i = 0; i < bad_lines.size(); ++i) {
    EXPECT_EQ(result->parse_failures[i].document, bad_lines[i]) << i;
  }
  EXPECT_EQ(PublishedDocs(), num_good);
  // Splits are cut every 10000 docs in body order: each covers a contiguous time range.
  auto splits = PublishedSplits();
  ASSERT_EQ(splits.size(), (num_good + 9999) / 10000);
  std::sort(splits.begin(), splits.end(), [](const auto& a, const auto& b) {
    return a.metadata.time_range_start_secs < b.metadata.time_range_start_secs;
  });
  for (size_t i = 1; i < splits.size(); ++i) {
    EXPECT_GT(splits[i].metadata.time_range_start_secs, splits[i - 1].metadata.time_range_end_secs);
  }
}

// Documents are processed into pooled batches and bodies are read into pooled buffers: requests
// of long documents, then of short ones (into the buffers the long ones grew), then long ones
// again, concurrently, store exactly the documents they sent, nothing of an earlier request.
TEST_F(IngestServiceTest, PooledBatchesCarryNothingFromEarlierRequests) {
  num_processing_threads_ = 1;
  CreateIndex();
  std::multiset<std::string> sent;
  const auto body_of = [&sent](int request, int num_docs, size_t body_bytes) {
    std::string ndjson;
    for (int i = 0; i < num_docs; ++i) {
      std::string text = "r" + std::to_string(request) + "-d" + std::to_string(i) + " ";
      text.resize(body_bytes, static_cast<char>('a' + (request + i) % 26));
      sent.insert(text);
      ndjson += "{\"ts\": " + std::to_string(1700000000 + i) + ", \"body\": \"" + text + "\"}\n";
    }
    return ndjson;
  };
  std::vector<std::string> bodies;
  for (int request = 0; request < 6; ++request) {
    // Long documents (a body of about 400 KB, processed in parts), short ones, long ones.
    bodies.push_back(request % 3 == 1 ? body_of(request, 500, 12) : body_of(request, 100, 4000));
  }
  for (size_t first = 0; first < bodies.size(); first += 3) {
    std::vector<std::thread> clients;
    for (size_t i = first; i < first + 3; ++i) {
      clients.emplace_back([&, i] {
        auto result = service_->Ingest("logs", bodies[i], CommitMode::kAuto, false);
        ASSERT_TRUE(result.ok()) << result.status();
        EXPECT_EQ(result->num_rejected_docs, 0u);
      });
    }
    for (std::thread& client : clients) client.join();
  }
  ASSERT_TRUE(service_->Ingest("logs", "", CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedDocs(), sent.size());
  EXPECT_TRUE(PublishedBodies() == sent);
}

TEST_F(IngestServiceTest, AutoCommitIsPublishedByTheCommitTimeout) {
  CreateIndex(/*commit_timeout_secs=*/1);
  auto result = service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(service_->NumPendingDocs("logs"), 10u);
  EXPECT_EQ(PublishedDocs(), 0u);
  // wait_for returns once the timeout commit has published the docs.
  auto waited = service_->Ingest("logs", Docs(10, 5), CommitMode::kWaitFor, false);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(PublishedDocs(), 15u);
  EXPECT_EQ(service_->NumPendingDocs("logs"), 0u);
}

TEST_F(IngestServiceTest, SplitNumDocsTargetCutsSplits) {
  CreateIndex(/*commit_timeout_secs=*/60, /*split_num_docs_target=*/40);
  auto result = service_->Ingest("logs", Docs(0, 100), CommitMode::kForce, false);
  ASSERT_TRUE(result.ok()) << result.status();
  const auto splits = PublishedSplits();
  ASSERT_EQ(splits.size(), 3u);  // 40 + 40 + 20
  EXPECT_EQ(PublishedDocs(), 100u);
}

TEST_F(IngestServiceTest, ConcurrentIngestsLoseNothing) {
  CreateIndex(/*commit_timeout_secs=*/60, /*split_num_docs_target=*/500);
  std::vector<std::thread> clients;
  for (int client = 0; client < 4; ++client) {
    clients.emplace_back([&, client] {
      for (int batch = 0; batch < 10; ++batch) {
        auto result = service_->Ingest("logs", Docs(client * 1000 + batch * 100, 100),
                                       CommitMode::kAuto, false);
        ASSERT_TRUE(result.ok());
      }
    });
  }
  for (std::thread& client : clients) client.join();
  auto flushed = service_->Ingest("logs", "", CommitMode::kForce, false);
  ASSERT_TRUE(flushed.ok());
  auto last = service_->Ingest("logs", Docs(99999, 1), CommitMode::kForce, false);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(PublishedDocs(), 4001u);
}

TEST_F(IngestServiceTest, UnknownIndexAndDroppedIndex) {
  CreateIndex();
  EXPECT_EQ(service_->Ingest("nope", Docs(0, 1), CommitMode::kAuto, false).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  service_->DropIndex("logs", index_uid_, DropMode::kClear);
  EXPECT_EQ(service_->NumPendingDocs("logs"), 0u);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 2), CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedDocs(), 2u);
}

TEST_F(IngestServiceTest, CrashBeforeCommitRecoversExactlyTheAcknowledgedDocs) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  for (int batch = 0; batch < 3; ++batch) {
    ASSERT_TRUE(service_->Ingest("logs", Docs(batch * 10, 10), CommitMode::kAuto, false).ok());
  }
  EXPECT_EQ(service_->NumPendingDocs("logs"), 30u);
  EXPECT_EQ(PublishedDocs(), 0u);
  Crash();
  StartService();  // Recover() replays and commits without waiting for the timeout
  EXPECT_TRUE(WaitForPublishedDocs(30)) << PublishedDocs();
  EXPECT_EQ(WalCheckpoint(), "00000000000000000003");

  // More acknowledged docs, a second crash: the published ones are not replayed again.
  ASSERT_TRUE(service_->Ingest("logs", Docs(30, 5), CommitMode::kAuto, false).ok());
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(35)) << PublishedDocs();
  EXPECT_EQ(WalCheckpoint(), "00000000000000000004");
  // A third start with nothing pending publishes nothing.
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(35)) << PublishedDocs();
}

// The WAL record of a request holds exactly its accepted lines, each followed by '\n': not the
// rejected ones, not a line's "\r", and a '\n' after a last line that had none.
TEST_F(IngestServiceTest, TheWalRecordHoldsExactlyTheAcceptedLines) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  const std::string first = "{\"ts\": 1700000000, \"body\": \"crlf\"}";
  const std::string second = "{\"ts\": 1700000001, \"body\": \"plain\"}";
  const std::string third = "{\"ts\": 1700000002, \"body\": \"after blank\"}";
  const std::string last = "{\"ts\": 1700000003, \"body\": \"no newline\"}";
  const std::string body =
      first + "\r\n{not json\n" + second + "\n\n" + third + "\n" + "{\"body\": \"no ts\"}\n" + last;
  auto result = service_->Ingest("logs", body, CommitMode::kAuto, false);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_ingested_docs, 4u);
  EXPECT_EQ(result->num_rejected_docs, 2u);
  Crash();
  {
    auto wal = Wal::Open(WalDirectoryForIndex(wal_root_, index_uid_), {});
    ASSERT_TRUE(wal.ok()) << wal.status();
    auto reader = (*wal)->ReadFrom(0);
    ASSERT_TRUE(reader.ok());
    auto record = (*reader)->Next();
    ASSERT_TRUE(record.ok() && record->has_value());
    EXPECT_EQ((*record)->payload, first + "\n" + second + "\n" + third + "\n" + last + "\n");
    auto end = (*reader)->Next();
    ASSERT_TRUE(end.ok());
    EXPECT_FALSE(end->has_value());
  }
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(4)) << PublishedDocs();
}

// With two pipelines per index, a request that finds the first busy goes to the second: each
// has its own WAL and checkpoint partition, a forced commit publishes both, a crash loses
// nothing of either, and deleting the index removes both WALs.
TEST_F(IngestServiceTest, ConcurrentRequestsUseSeveralPipelinesExactlyOnce) {
  num_pipelines_per_index_ = 2;
  CreateIndex(/*commit_timeout_secs=*/3600);
  auto split_count = [this] { return PublishedSplits().size(); };
  // A wait_for request stays in flight on pipeline 0 until something forces its commit.
  auto hold_pipeline_zero = [this](int first, int count) {
    return std::thread([this, first, count] {
      auto held = service_->Ingest("logs", Docs(first, count), CommitMode::kWaitFor, false);
      EXPECT_TRUE(held.ok() || absl::IsNotFound(held.status())) << held.status();
    });
  };
  auto wait_pending = [this](uint64_t expected) {
    for (int i = 0; i < 500 && service_->NumPendingDocs("logs") < expected; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return service_->NumPendingDocs("logs");
  };
  std::thread holder = hold_pipeline_zero(0, 10);
  ASSERT_EQ(wait_pending(10), 10u);
  ASSERT_TRUE(service_->Ingest("logs", Docs(10, 5), CommitMode::kAuto, false).ok());
  EXPECT_EQ(service_->NumPendingDocs("logs"), 15u);
  // Goes to pipeline 1 (0 is still busy) and publishes both.
  ASSERT_TRUE(service_->Ingest("logs", Docs(15, 5), CommitMode::kForce, false).ok());
  const uint64_t published = PublishedDocs();
  // Had the force left pipeline 0 alone, the held request would wait forever: release it.
  if (published != 20u) service_->AbandonForTesting();
  holder.join();
  ASSERT_EQ(published, 20u);
  EXPECT_EQ(split_count(), 2u);
  EXPECT_EQ(WalCheckpoint(), "00000000000000000001");
  auto metadata = metastore_->GetIndexMetadata("logs");
  ASSERT_TRUE(metadata.ok());
  const auto& partitions = metadata->checkpoints.at(kIngestApiSourceId);
  ASSERT_TRUE(partitions.contains("wal/test-node/shard-1")) << partitions.size();
  EXPECT_EQ(partitions.at("wal/test-node/shard-1"), "00000000000000000002");
  const auto stats = service_->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].num_ingested_docs, 20u);
  EXPECT_EQ(stats[0].num_published_splits, 2u);

  // Unpublished documents in both WALs survive a crash, and are published once.
  holder = hold_pipeline_zero(20, 7);
  ASSERT_EQ(wait_pending(7), 7u);
  ASSERT_TRUE(service_->Ingest("logs", Docs(27, 3), CommitMode::kAuto, false).ok());
  EXPECT_EQ(service_->NumPendingDocs("logs"), 10u);
  service_->AbandonForTesting();  // the crash; the held request returns
  holder.join();
  service_.reset();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(30)) << PublishedDocs();
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(30)) << PublishedDocs();

  const std::string shard_one = WalDirectoryForIndex(wal_root_, index_uid_, 1);
  EXPECT_TRUE(std::filesystem::exists(shard_one));
  service_->DropIndex("logs", index_uid_, DropMode::kDelete);
  EXPECT_FALSE(std::filesystem::exists(shard_one));
  EXPECT_FALSE(std::filesystem::exists(WalDirectoryForIndex(wal_root_, index_uid_)));
}

TEST_F(IngestServiceTest, AsyncDurabilityAcknowledgesWithoutFsyncAndSyncsOnTheTimer) {
  wal_durability_ = WalDurability::kAsync;
  commit_check_interval_millis_ = 1000;
  CreateIndex(/*commit_timeout_secs=*/3600);
  Counter& fsyncs = MetricsRegistry::Global().GetCounter("shale_wal_fsyncs_total", "");
  const int64_t fsyncs_before = fsyncs.value();
  const auto start = std::chrono::steady_clock::now();
  for (int batch = 0; batch < 50; ++batch) {
    ASSERT_TRUE(service_->Ingest("logs", Docs(batch * 2, 2), CommitMode::kAuto, false).ok());
  }
  const auto elapsed_secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  // At most one timer fsync per elapsed second, never one per request.
  EXPECT_LE(fsyncs.value() - fsyncs_before, elapsed_secs + 1);
  for (int i = 0; i < 300 && fsyncs.value() == fsyncs_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(fsyncs.value(), fsyncs_before) << "the timer fsyncs the WAL";
  // A process crash loses nothing (the records are in the page cache).
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(100)) << PublishedDocs();
}

TEST_F(IngestServiceTest, CheckpointDeltasAdvanceAndTheWalIsTruncatedAfterPublish) {
  CreateIndex(/*commit_timeout_secs=*/3600, /*split_num_docs_target=*/40);
  EXPECT_EQ(WalCheckpoint(), "");
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kForce, false).ok());
  EXPECT_EQ(WalCheckpoint(), "00000000000000000001");
  // 100 docs with a target of 40: three records (40, 40, 20) behind a key record without key
  // (positions 1 to 4), three splits.
  ASSERT_TRUE(service_->Ingest("logs", Docs(10, 100), CommitMode::kForce, false).ok());
  EXPECT_EQ(WalCheckpoint(), "00000000000000000005");
  EXPECT_EQ(PublishedDocs(), 110u);
  const auto stats = service_->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].wal_next_position, 5u);
  EXPECT_EQ(stats[0].num_published_splits, 4u);
  EXPECT_LE(stats[0].wal_disk_usage_bytes, 16u);  // only an empty segment is left
}

// Two indexers ingest into one index, each publishing the positions of its own WAL in its own
// partition (`wal/<node id>`): neither's checkpoint delta collides with the other's.
TEST_F(IngestServiceTest, TwoIndexersIngestIntoOneIndex) {
  CreateIndex();
  const std::string other_wal_root = wal_root_ + "-other";
  std::unique_ptr<IngestService> other = NewService("other-node", other_wal_root);
  for (int round = 0; round < 3; ++round) {
    auto mine = service_->Ingest("logs", Docs(round * 100, 50), CommitMode::kForce, false);
    ASSERT_TRUE(mine.ok()) << mine.status();
    auto theirs = other->Ingest("logs", Docs(round * 100 + 50, 50), CommitMode::kForce, false);
    ASSERT_TRUE(theirs.ok()) << theirs.status();
  }
  EXPECT_EQ(PublishedDocs(), 300u);
  EXPECT_EQ(PublishedSplits().size(), 6u);
  EXPECT_EQ(WalCheckpoint("test-node"), "00000000000000000003");
  EXPECT_EQ(WalCheckpoint("other-node"), "00000000000000000003");
  EXPECT_EQ(WalCheckpoint(""), "");
  other->Stop();
}

// An index whose WAL positions were published in the single `wal` partition of earlier
// versions: the node resumes there (its WAL continues after that position) and publishes its
// own partition from then on, replaying nothing already published.
TEST_F(IngestServiceTest, ResumesFromTheLegacyWalPartition) {
  CreateIndex();
  service_->Stop();
  service_.reset();
  metastore::CheckpointDelta legacy{std::string(kIngestApiSourceId),
                                    {{"wal", {"", "00000000000000000007"}}}};
  ASSERT_TRUE(metastore_->PublishSplits(index_uid_, {}, {}, legacy).ok());
  StartService();
  auto result = service_->Ingest("logs", Docs(0, 20), CommitMode::kForce, false);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(PublishedDocs(), 20u);
  EXPECT_EQ(WalCheckpoint("test-node"), "00000000000000000008");
  EXPECT_EQ(WalCheckpoint(""), "00000000000000000007");
  // After a crash, the node's own partition rules: nothing is replayed twice.
  Crash();
  StartService();
  ASSERT_TRUE(service_->Ingest("logs", Docs(20, 5), CommitMode::kForce, false).ok());
  EXPECT_TRUE(WaitForPublishedDocs(25u));
  EXPECT_EQ(WalCheckpoint("test-node"), "00000000000000000009");
}

TEST_F(IngestServiceTest, PublishFailureKeepsDocsForReplay) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  flaky_metastore_ = std::make_unique<FlakyMetastore>(metastore_.get());
  auto* flaky = static_cast<FlakyMetastore*>(flaky_metastore_.get());
  service_.reset();
  StartService();
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  flaky->publish_failures = 2;
  auto failed = service_->Ingest("logs", Docs(10, 5), CommitMode::kForce, false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(PublishedDocs(), 0u);
  // The records stay in the WAL; the retry (after a second failure) publishes all of them once.
  EXPECT_TRUE(WaitForPublishedDocs(15)) << PublishedDocs();
  EXPECT_EQ(WalCheckpoint(), "00000000000000000002");
  // Two failed commits, two rebuilds from the WAL, then running again; the staged splits of the
  // failed commits are deleted, records and files.
  std::vector<IndexIngestStats> stats = service_->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].state, "running");
  EXPECT_EQ(stats[0].num_commit_failures, 2u);
  EXPECT_EQ(stats[0].num_restarts, 2u);
  EXPECT_NE(stats[0].last_error.find("metastore is down"), std::string::npos)
      << stats[0].last_error;
  metastore::ListSplitsQuery every_state;
  every_state.index_uids = {index_uid_};
  auto splits = metastore_->ListSplits(every_state);
  ASSERT_TRUE(splits.ok());
  ASSERT_EQ(splits->size(), 1u);
  EXPECT_EQ((*splits)[0].state, metastore::SplitState::kPublished);
  auto files = index_storage_->List("");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(std::count_if(files->begin(), files->end(),
                          [](const std::string& path) { return path.ends_with(".split"); }),
            1);
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(15)) << PublishedDocs();
}

TEST_F(IngestServiceTest, DiskLimitRefusesWholeRequests) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  service_.reset();
  StartService(/*max_wal_disk_usage_bytes=*/2000);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  auto refused = service_->Ingest("logs", Docs(10, 100), CommitMode::kAuto, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("ingest_api.max_queue_disk_usage"),
            absl::string_view::npos)
      << refused.status();
  EXPECT_EQ(service_->NumPendingDocs("logs"), 10u);
  // Publishing frees the WAL, and the same request then fits.
  ASSERT_TRUE(service_->Ingest("logs", "", CommitMode::kForce, false).ok());
  EXPECT_TRUE(service_->Ingest("logs", Docs(10, 10), CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedDocs(), 20u);
}

TEST_F(IngestServiceTest, ClearTruncatesAndDeleteRemovesTheWal) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  service_->DropIndex("logs", index_uid_, DropMode::kClear);
  Crash();
  StartService();
  EXPECT_TRUE(WaitForPublishedDocs(0));
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 3), CommitMode::kAuto, false).ok());
  const std::string wal_directory = WalDirectoryForIndex(wal_root_, index_uid_);
  EXPECT_TRUE(std::filesystem::exists(wal_directory));
  service_->DropIndex("logs", index_uid_, DropMode::kDelete);
  EXPECT_FALSE(std::filesystem::exists(wal_directory));
}

TEST_F(IngestServiceTest, RecoverRemovesTheWalsOfDeletedIndexes) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  Crash();
  ASSERT_TRUE(metastore_->DeleteIndex(index_uid_).ok());
  const std::string wal_directory = WalDirectoryForIndex(wal_root_, index_uid_);
  ASSERT_TRUE(std::filesystem::exists(wal_directory));
  StartService();
  EXPECT_FALSE(std::filesystem::exists(wal_directory));
}

TEST_F(IngestServiceTest, EmptyForceWaitsForTheCommitsOfTheRecovery) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 3000), CommitMode::kAuto, false).ok());
  Crash();
  StartService();  // Recover() schedules the commit of the replayed documents
  ASSERT_TRUE(service_->Ingest("logs", "", CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedDocs(), 3000u);
}

TEST_F(IngestServiceTest, ResendWithAnAcceptedKeyIsAcknowledgedWithoutIndexing) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  const std::string batch = Docs(0, 10) + "{not json\n";
  auto first = service_->Ingest("logs", batch, CommitMode::kAuto, false, "batch-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->idempotent_replay);
  EXPECT_EQ(first->num_ingested_docs, 10u);
  // The resend answers the first counts, indexes nothing, and with commit=force returns once
  // the first request's documents are published.
  auto again = service_->Ingest("logs", batch, CommitMode::kForce, true, "batch-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->idempotent_replay);
  EXPECT_EQ(again->num_docs_for_processing, 11u);
  EXPECT_EQ(again->num_ingested_docs, 10u);
  EXPECT_EQ(again->num_rejected_docs, 1u);
  EXPECT_TRUE(again->parse_failures.empty());
  EXPECT_EQ(PublishedDocs(), 10u);
  // Another key is another batch; a request without key is never deduplicated.
  ASSERT_FALSE(
      service_->Ingest("logs", batch, CommitMode::kForce, false, "batch-2")->idempotent_replay);
  ASSERT_TRUE(service_->Ingest("logs", batch, CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedDocs(), 30u);
  const auto stats = service_->Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].num_idempotency_keys, 2u);
  EXPECT_EQ(stats[0].num_idempotent_replays, 1u);
  // Every line rejected: the key is remembered with its counts all the same.
  ASSERT_TRUE(service_->Ingest("logs", "{bad\n", CommitMode::kAuto, false, "bad-batch").ok());
  auto bad_again = service_->Ingest("logs", "{bad\n", CommitMode::kWaitFor, false, "bad-batch");
  ASSERT_TRUE(bad_again.ok()) << bad_again.status();
  EXPECT_TRUE(bad_again->idempotent_replay);
  EXPECT_EQ(bad_again->num_rejected_docs, 1u);
}

TEST_F(IngestServiceTest, AcceptedKeysSurviveACrashBeforeAndAfterThePublish) {
  CreateIndex(/*commit_timeout_secs=*/3600);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false, "before").ok());
  Crash();  // the key is only in the WAL
  StartService();
  auto resent = service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false, "before");
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_TRUE(resent->idempotent_replay);
  EXPECT_EQ(resent->num_ingested_docs, 10u);
  EXPECT_TRUE(WaitForPublishedDocs(10)) << PublishedDocs();

  // Published and its WAL records truncated: the key lives on in the snapshot.
  ASSERT_TRUE(service_->Ingest("logs", Docs(10, 5), CommitMode::kForce, false, "after").ok());
  EXPECT_EQ(service_->Stats()[0].wal_disk_usage_bytes, 16u);  // records gone
  EXPECT_TRUE(std::filesystem::exists(
      IdempotencySnapshotPath(WalDirectoryForIndex(wal_root_, index_uid_))));
  Crash();
  StartService();
  for (const char* key : {"before", "after"}) {
    auto again = service_->Ingest("logs", Docs(10, 5), CommitMode::kForce, false, key);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->idempotent_replay) << key;
  }
  EXPECT_TRUE(WaitForPublishedDocs(15)) << PublishedDocs();
}

// The records the service writes for a request of several documents records: a key record
// first (key "" when the request has none) with the hash of each.
TEST_F(IngestServiceTest, ARequestOfSeveralRecordsStartsWithAKeyRecordHashingThem) {
  CreateIndex(/*commit_timeout_secs=*/3600, /*split_num_docs_target=*/5);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false).ok());
  ASSERT_TRUE(service_->Ingest("logs", Docs(10, 10), CommitMode::kAuto, false, "k").ok());
  ASSERT_TRUE(service_->Ingest("logs", Docs(20, 5), CommitMode::kAuto, false).ok());
  Crash();
  auto wal = Wal::Open(WalDirectoryForIndex(wal_root_, index_uid_), {});
  ASSERT_TRUE(wal.ok()) << wal.status();
  auto reader = (*wal)->ReadFrom(0);
  ASSERT_TRUE(reader.ok());
  std::vector<WalRecord> records;
  while (true) {
    auto record = (*reader)->Next();
    ASSERT_TRUE(record.ok()) << record.status();
    if (!record->has_value()) break;
    records.push_back(**record);
  }
  ASSERT_EQ(records.size(), 7u);  // key, 2 documents, key, 2 documents, documents
  for (const size_t at : {0, 3}) {
    ASSERT_EQ(records[at].kind, WalRecordKind::kIdempotencyKey) << at;
    auto key = DecodeIdempotencyRecord(records[at].payload);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->key, at == 0 ? "" : "k");
    EXPECT_EQ(key->counts.num_ingested_docs, 10u);
    EXPECT_EQ(key->num_document_records, 2u);
    ASSERT_EQ(key->document_hashes.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      const WalRecord& document = records[at + 1 + i];
      EXPECT_EQ(document.kind, WalRecordKind::kDocuments);
      EXPECT_EQ(document.payload, Docs((at == 0 ? 0 : 10) + 5 * static_cast<int>(i), 5)) << at;
      EXPECT_EQ(key->document_hashes[i], DocumentRecordHash(document.payload));
    }
  }
  EXPECT_EQ(records[6].kind, WalRecordKind::kDocuments);  // one record: no key record
}

// Writes into the index's WAL, node down, the records of a request whose documents records
// hold `chunks`, behind its key record (key "" for none; without the hashes, as written before
// they existed, when `!with_hashes`), then, when `tear`, cuts the segment inside the last
// record: what a crash during the request's write leaves (such a request was never applied nor
// acknowledged). The key record's position.
uint64_t WriteRequestRecords(const std::string& wal_directory, const std::string& key,
                             const std::vector<std::string>& chunks, bool with_hashes, bool tear) {
  IdempotencyRecord record{key, 0, IngestCounts{10, 10, 0}, chunks.size(), {}};
  record.accepted_at_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::vector<WalEntry> entries(1);
  for (const std::string& chunk : chunks) {
    if (with_hashes) record.document_hashes.push_back(DocumentRecordHash(chunk));
    entries.push_back(WalEntry{WalRecordKind::kDocuments, chunk, {}});
  }
  entries[0] = WalEntry{WalRecordKind::kIdempotencyKey, EncodeIdempotencyRecord(record), {}};
  uint64_t position = 0;
  {
    auto wal = Wal::Open(wal_directory, WalOptions{});
    EXPECT_TRUE(wal.ok()) << wal.status();
    if (!wal.ok()) return 0;
    auto written = (*wal)->WriteEntries(entries);
    EXPECT_TRUE(written.ok()) << written.status();
    position = written.ok() ? *written : 0;
  }
  if (!tear) return position;
  std::filesystem::path last_segment;
  for (const auto& entry : std::filesystem::directory_iterator(wal_directory)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") == std::string::npos &&
        (last_segment.empty() || name > last_segment.filename().string())) {
      last_segment = entry.path();
    }
  }
  std::filesystem::resize_file(last_segment, std::filesystem::file_size(last_segment) - 20);
  return position;
}

uint64_t WriteTornRequest(const std::string& wal_directory, const std::string& key,
                          const std::vector<std::string>& chunks) {
  return WriteRequestRecords(wal_directory, key, chunks, /*with_hashes=*/true, /*tear=*/true);
}

// Key records written before the hashes existed: a request counts when its records follow at
// the next positions with the right kind, and a torn one is skipped all the same.
TEST_F(IngestServiceTest, KeyRecordsWithoutHashesAreCheckedByPositionsAndKinds) {
  CreateIndex(/*commit_timeout_secs=*/3600, /*split_num_docs_target=*/5);
  Crash();
  const std::string directory = WalDirectoryForIndex(wal_root_, index_uid_);
  ASSERT_EQ(WriteRequestRecords(directory, "old-whole", {Docs(0, 5), Docs(5, 5)},
                                /*with_hashes=*/false, /*tear=*/false),
            0u);
  ASSERT_EQ(WriteRequestRecords(directory, "old-torn", {Docs(10, 5), Docs(15, 5)},
                                /*with_hashes=*/false, /*tear=*/true),
            3u);
  StartService();
  auto whole = service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false, "old-whole");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->idempotent_replay);
  auto torn = service_->Ingest("logs", Docs(10, 10), CommitMode::kForce, false, "old-torn");
  ASSERT_TRUE(torn.ok()) << torn.status();
  EXPECT_FALSE(torn->idempotent_replay);
  EXPECT_EQ(PublishedBodies(), Bodies(20));
}

// A crash during a keyed request's write can leave its key record and only a prefix of its
// documents records (the torn rest is truncated at open); the positions after them then go to
// later requests. Recovery forgets that key and skips those records, across restarts, and
// replays the later record that reuses a position (its hash is not the torn record's): the
// resend of the torn batch is indexed, and every document is published once.
TEST_F(IngestServiceTest, ATornKeyedRequestIsForgottenWholeAndItsResendIndexedOnce) {
  CreateIndex(/*commit_timeout_secs=*/3600, /*split_num_docs_target=*/5);
  // Positions: "whole" is 0 (key), 1 and 2; "torn" is 3 (key), 4 and 5.
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false, "whole").ok());
  Crash();
  const std::string directory = WalDirectoryForIndex(wal_root_, index_uid_);
  ASSERT_EQ(WriteTornRequest(directory, "torn", {Docs(10, 5), Docs(15, 5)}), 3u);
  {
    // An unkeyed request takes the torn record's position, 5, as a node restarted in between
    // would have.
    auto wal = Wal::Open(directory, WalOptions{});
    ASSERT_TRUE(wal.ok()) << wal.status();
    auto position = (*wal)->Write({Docs(20, 5)});
    ASSERT_TRUE(position.ok()) << position.status();
    ASSERT_EQ(*position, 5u);
    ASSERT_TRUE((*wal)->Sync(6).ok());
  }
  StartService();
  auto resent = service_->Ingest("logs", Docs(10, 10), CommitMode::kAuto, false, "torn");
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_FALSE(resent->idempotent_replay);
  auto whole = service_->Ingest("logs", Docs(0, 10), CommitMode::kAuto, false, "whole");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->idempotent_replay);

  Crash();  // the torn request is met again
  StartService();
  for (const char* key : {"whole", "torn"}) {
    auto again = service_->Ingest("logs", Docs(0, 1), CommitMode::kAuto, false, key);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->idempotent_replay) << key;
    EXPECT_EQ(again->num_ingested_docs, 10u) << key;
  }
  ASSERT_TRUE(service_->Ingest("logs", "", CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedBodies(), Bodies(25));
}

// The same for a request without key of several records (its key record has the key ""): when
// a crash tears it, none of its records is replayed, so its resend is no duplicate.
TEST_F(IngestServiceTest, ATornRequestOfSeveralRecordsIsSkippedWholeWithoutAKey) {
  CreateIndex(/*commit_timeout_secs=*/3600, /*split_num_docs_target=*/5);
  Crash();
  ASSERT_EQ(
      WriteTornRequest(WalDirectoryForIndex(wal_root_, index_uid_), "", {Docs(0, 5), Docs(5, 5)}),
      0u);
  StartService();
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 10), CommitMode::kForce, false).ok());
  EXPECT_EQ(PublishedBodies(), Bodies(10));
}

TEST_F(IngestServiceTest, KeysExpireAndClearForgetsThem) {
  idempotency_retention_millis_ = 200;
  CreateIndex(/*commit_timeout_secs=*/3600);
  ASSERT_TRUE(service_->Ingest("logs", Docs(0, 2), CommitMode::kAuto, false, "k").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto expired = service_->Ingest("logs", Docs(0, 2), CommitMode::kAuto, false, "k");
  ASSERT_TRUE(expired.ok());
  EXPECT_FALSE(expired->idempotent_replay);
  EXPECT_EQ(service_->NumPendingDocs("logs"), 4u);

  service_->DropIndex("logs", index_uid_, DropMode::kClear);
  auto cleared = service_->Ingest("logs", Docs(0, 2), CommitMode::kAuto, false, "k");
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE(cleared->idempotent_replay);
  EXPECT_EQ(service_->Ingest("logs", "", CommitMode::kAuto, false, "bad key").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CommitModeTest, Parses) {
  EXPECT_EQ(*ParseCommitMode("auto"), CommitMode::kAuto);
  EXPECT_EQ(*ParseCommitMode("wait_for"), CommitMode::kWaitFor);
  EXPECT_EQ(*ParseCommitMode("force"), CommitMode::kForce);
  EXPECT_FALSE(ParseCommitMode("now").ok());
}

}  // namespace
}  // namespace shale::indexing
