#include "indexing/ingest_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "index/split_format.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

constexpr size_t kMaxFailureDocumentBytes = 1024;
constexpr int64_t kMicrosPerSecond = 1'000'000;

int64_t FloorDiv(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) --quotient;
  return quotient;
}

// The doc processor words JSON-level failures as "malformed json ..." or "json document is not
// an object"; everything else is a mismatch with the doc mapping.
std::string FailureReason(const absl::Status& status) {
  const std::string message(status.message());
  if (message.rfind("malformed json", 0) == 0 || message.rfind("json document", 0) == 0) {
    return "invalid_json";
  }
  return "doc_mapping_error";
}

}  // namespace

absl::StatusOr<CommitMode> ParseCommitMode(std::string_view text) {
  if (text.empty() || text == "auto") return CommitMode::kAuto;
  if (text == "wait_for" || text == "wait-for") return CommitMode::kWaitFor;
  if (text == "force") return CommitMode::kForce;
  return absl::InvalidArgumentError(
      fmt::format("invalid commit mode `{}` (expected auto, wait_for or force)", text));
}

// The per-index state: doc processor, the in-memory split being built, and commit bookkeeping.
// A "generation" numbers each in-memory split; a request waits until the generation holding its
// last document has been committed.
class IngestService::IndexPipeline {
 public:
  metastore::IndexMetadata metadata;
  std::unique_ptr<index::DocProcessor> processor;
  std::shared_ptr<storage::Storage> storage;

  std::mutex mu;
  std::condition_variable committed_cv;
  std::unique_ptr<index::SplitWriter> writer;  // null when nothing is pending
  std::chrono::steady_clock::time_point writer_opened_at;
  uint64_t writer_generation = 1;
  uint64_t committed_generation = 0;  // every generation <= this one is done
  std::map<uint64_t, absl::Status> failed_generations;
  bool dropped = false;

  const config::IndexConfig& config() const { return metadata.index_config; }
};

IngestService::IngestService(metastore::Metastore* metastore,
                             storage::StorageResolver* storage_resolver,
                             IngestServiceOptions options)
    : metastore_(metastore),
      storage_resolver_(storage_resolver),
      options_(std::move(options)),
      commit_pool_("commit", 1),
      docs_ingested_(MetricsRegistry::Global().GetCounter("shale_ingest_docs_total",
                                                          "Documents accepted by the ingest API")),
      docs_rejected_(MetricsRegistry::Global().GetCounter(
          "shale_ingest_docs_rejected_total", "Documents rejected by doc processing")),
      bytes_ingested_(MetricsRegistry::Global().GetCounter("shale_ingest_bytes_total",
                                                           "Bytes of accepted documents")),
      splits_published_(MetricsRegistry::Global().GetCounter("shale_indexing_splits_published_total",
                                                             "Splits published by indexing")),
      commit_failures_(MetricsRegistry::Global().GetCounter(
          "shale_indexing_commit_failures_total", "Commits that failed to publish a split")) {}

IngestService::~IngestService() { Stop(); }

void IngestService::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (commit_timeout_thread_.joinable() || stopping_) return;
  commit_timeout_thread_ = std::thread([this] { CommitTimeoutLoop(); });
}

namespace {

// Serializes, stages, uploads and publishes one in-memory split.
absl::Status CommitSplit(metastore::Metastore& metastore, const std::string& node_id,
                         const metastore::IndexMetadata& metadata, storage::Storage& storage,
                         std::unique_ptr<index::SplitWriter> writer) {
  ASSIGN_OR_RETURN(index::SerializedSplit serialized, writer->Finish());
  writer.reset();
  const config::IndexConfig& config = metadata.index_config;
  metastore::SplitMetadata split;
  split.split_id = NewUlid();
  split.index_uid = metadata.index_uid;
  split.source_id = kIngestApiSourceId;
  split.node_id = node_id;
  split.num_docs = serialized.num_docs;
  split.uncompressed_docs_size_in_bytes = serialized.uncompressed_docs_size_in_bytes;
  split.split_size_bytes = serialized.bytes.size();
  if (serialized.time_range_start_micros.has_value()) {
    split.time_range_start_secs = FloorDiv(*serialized.time_range_start_micros, kMicrosPerSecond);
  }
  if (serialized.time_range_end_micros.has_value()) {
    split.time_range_end_secs = FloorDiv(*serialized.time_range_end_micros, kMicrosPerSecond);
  }
  split.tags = serialized.tags;
  split.footer_start = serialized.footer_start;
  split.footer_end = serialized.footer_end;
  split.create_timestamp = UnixSecondsNow();
  const bool mature = serialized.num_docs >= config.indexing_settings.split_num_docs_target ||
                      config.indexing_settings.merge_policy.type == "no_merge";
  split.maturity_timestamp =
      mature ? split.create_timestamp
             : split.create_timestamp + config.indexing_settings.merge_policy.maturation_period_secs;

  // Stage first, so a crash after the upload leaves a staged split the janitor can collect.
  RETURN_IF_ERROR(metastore.StageSplits(metadata.index_uid, {split}));
  RETURN_IF_ERROR(split::UploadSplit(storage, split.split_id, serialized));
  RETURN_IF_ERROR(metastore.PublishSplits(metadata.index_uid, {split.split_id}, {}, std::nullopt));
  SHALE_LOG_INFO("split published index_id={} split_id={} num_docs={} size_bytes={}",
                 config.index_id, split.split_id, split.num_docs, split.split_size_bytes);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<IngestService::IndexPipeline>> IngestService::GetOrCreatePipeline(
    const std::string& index_id) {
  ASSIGN_OR_RETURN(metastore::IndexMetadata metadata, metastore_->GetIndexMetadata(index_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("indexer is shutting down");
    auto it = pipelines_.find(index_id);
    if (it != pipelines_.end() && it->second->metadata.index_uid == metadata.index_uid) {
      return it->second;
    }
  }
  auto pipeline = std::make_shared<IndexPipeline>();
  ASSIGN_OR_RETURN(pipeline->processor,
                   index::DocProcessor::Create(metadata.index_config.doc_mapping));
  if (!metadata.index_config.index_uri.has_value()) {
    return absl::InternalError(fmt::format("index {} has no index uri", index_id));
  }
  ASSIGN_OR_RETURN(Uri index_uri, Uri::Parse(*metadata.index_config.index_uri));
  ASSIGN_OR_RETURN(pipeline->storage, storage_resolver_->Resolve(index_uri));
  pipeline->metadata = std::move(metadata);

  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = pipelines_.try_emplace(index_id, pipeline);
  if (!inserted) {
    if (it->second->metadata.index_uid == pipeline->metadata.index_uid) return it->second;
    {
      // The index was deleted and recreated: the old pipeline's documents belong to the old one.
      std::lock_guard<std::mutex> old_lock(it->second->mu);
      it->second->dropped = true;
      it->second->writer.reset();
    }
    it->second = pipeline;
  }
  return pipeline;
}

absl::StatusOr<IngestResult> IngestService::Ingest(const std::string& index_id,
                                                   std::string_view ndjson, CommitMode commit_mode,
                                                   bool detailed_response) {
  ASSIGN_OR_RETURN(std::shared_ptr<IndexPipeline> pipeline, GetOrCreatePipeline(index_id));

  // Doc processing happens outside any lock, so concurrent requests parse in parallel.
  IngestResult result;
  std::vector<index::ProcessedDoc> docs;
  const std::optional<std::string>& timestamp_option =
      pipeline->config().doc_mapping.timestamp_field;
  const std::string* timestamp_field = timestamp_option ? &*timestamp_option : nullptr;
  uint64_t accepted_bytes = 0;
  size_t position = 0;
  while (position < ndjson.size()) {
    size_t line_end = ndjson.find('\n', position);
    if (line_end == std::string_view::npos) line_end = ndjson.size();
    std::string_view line = ndjson.substr(position, line_end - position);
    position = line_end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++result.num_docs_for_processing;
    auto processed = pipeline->processor->Process(line);
    if (processed.ok() && timestamp_field != nullptr && !processed->timestamp_micros()) {
      // Like Quickwit, an index with a timestamp field only accepts documents that hold it:
      // time pruning and retention would otherwise silently skip them.
      processed = absl::InvalidArgumentError(
          fmt::format("document must contain the timestamp field `{}`", *timestamp_field));
    }
    if (!processed.ok()) {
      ++result.num_rejected_docs;
      if (detailed_response) {
        result.parse_failures.push_back(
            {std::string(line.substr(0, kMaxFailureDocumentBytes)),
             std::string(processed.status().message()), FailureReason(processed.status())});
      }
      continue;
    }
    accepted_bytes += line.size();
    docs.push_back(std::move(processed).value());
  }
  result.num_ingested_docs = docs.size();

  const config::IndexingSettings& settings = pipeline->config().indexing_settings;
  uint64_t first_generation = 0;
  uint64_t wait_generation = 0;
  {
    std::unique_lock<std::mutex> lock(pipeline->mu);
    if (pipeline->dropped) return absl::NotFoundError(fmt::format("index {} was deleted", index_id));
    for (index::ProcessedDoc& doc : docs) {
      if (pipeline->writer == nullptr) {
        index::SplitWriterOptions writer_options;
        writer_options.docstore_compression_level = settings.docstore_compression_level;
        writer_options.docstore_blocksize = settings.docstore_blocksize;
        ASSIGN_OR_RETURN(pipeline->writer,
                         index::SplitWriter::Create(pipeline->config().doc_mapping, writer_options));
        pipeline->writer_opened_at = std::chrono::steady_clock::now();
      }
      pipeline->writer->AddDocument(std::move(doc));
      if (first_generation == 0) first_generation = pipeline->writer_generation;
      wait_generation = pipeline->writer_generation;
      if (pipeline->writer->num_docs() >= settings.split_num_docs_target ||
          pipeline->writer->memory_usage_bytes() >= settings.heap_size_bytes) {
        ScheduleCommitLocked(pipeline);
      }
    }
    if (commit_mode == CommitMode::kForce && pipeline->writer != nullptr) {
      if (first_generation == 0) first_generation = pipeline->writer_generation;
      wait_generation = pipeline->writer_generation;
      ScheduleCommitLocked(pipeline);
    }
    docs_ingested_.Increment(static_cast<int64_t>(result.num_ingested_docs));
    docs_rejected_.Increment(static_cast<int64_t>(result.num_rejected_docs));
    bytes_ingested_.Increment(static_cast<int64_t>(accepted_bytes));

    if (commit_mode != CommitMode::kAuto && wait_generation > 0) {
      pipeline->committed_cv.wait(lock, [&] {
        return pipeline->committed_generation >= wait_generation || pipeline->dropped;
      });
      if (pipeline->dropped) {
        return absl::NotFoundError(fmt::format("index {} was deleted or cleared", index_id));
      }
      // Any generation holding documents of this request that failed to publish fails it.
      auto failed = pipeline->failed_generations.lower_bound(first_generation);
      if (failed != pipeline->failed_generations.end() && failed->first <= wait_generation) {
        return failed->second;
      }
    }
  }
  return result;
}

void IngestService::ScheduleCommitLocked(const std::shared_ptr<IndexPipeline>& pipeline) {
  if (pipeline->writer == nullptr) return;
  const uint64_t generation = pipeline->writer_generation++;
  // std::function must be copyable, so the writer travels in a shared holder and is moved out
  // exactly once by the commit task.
  auto writer_holder =
      std::make_shared<std::unique_ptr<index::SplitWriter>>(std::move(pipeline->writer));
  const bool submitted = commit_pool_.Submit([this, pipeline, writer_holder, generation]() {
    std::unique_ptr<index::SplitWriter> writer = std::move(*writer_holder);
    absl::Status status;
    {
      std::lock_guard<std::mutex> lock(pipeline->mu);
      if (pipeline->dropped) status = absl::NotFoundError("index was deleted or cleared");
    }
    if (status.ok()) {
      status = CommitSplit(*metastore_, options_.node_id, pipeline->metadata, *pipeline->storage,
                           std::move(writer));
    }
    if (status.ok()) {
      splits_published_.Increment();
    } else {
      commit_failures_.Increment();
      SHALE_LOG_ERROR("commit failed index_id={} generation={} error={}",
                      pipeline->config().index_id, generation, status.ToString());
    }
    std::lock_guard<std::mutex> lock(pipeline->mu);
    if (!status.ok()) pipeline->failed_generations[generation] = status;
    pipeline->committed_generation = std::max(pipeline->committed_generation, generation);
    pipeline->committed_cv.notify_all();
  });
  if (!submitted) {
    pipeline->failed_generations[generation] = absl::UnavailableError("indexer is shutting down");
    pipeline->committed_generation = std::max(pipeline->committed_generation, generation);
    pipeline->committed_cv.notify_all();
  }
}

void IngestService::CommitTimeoutLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.commit_check_interval_millis));
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    for (auto& [index_id, pipeline] : pipelines_) {
      std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
      if (pipeline->writer == nullptr) continue;
      const auto timeout = std::chrono::seconds(
          pipeline->config().indexing_settings.commit_timeout_secs);
      if (now - pipeline->writer_opened_at >= timeout) ScheduleCommitLocked(pipeline);
    }
  }
}

void IngestService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (commit_timeout_thread_.joinable()) commit_timeout_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [index_id, pipeline] : pipelines_) {
      std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
      ScheduleCommitLocked(pipeline);
    }
  }
  commit_pool_.Stop();
}

void IngestService::DropIndex(const std::string& index_id) {
  std::shared_ptr<IndexPipeline> pipeline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(index_id);
    if (it == pipelines_.end()) return;
    pipeline = it->second;
    pipelines_.erase(it);
  }
  std::lock_guard<std::mutex> lock(pipeline->mu);
  pipeline->dropped = true;
  pipeline->writer.reset();
  pipeline->committed_cv.notify_all();
}

uint64_t IngestService::NumPendingDocs(const std::string& index_id) {
  std::shared_ptr<IndexPipeline> pipeline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(index_id);
    if (it == pipelines_.end()) return 0;
    pipeline = it->second;
  }
  std::lock_guard<std::mutex> lock(pipeline->mu);
  return pipeline->writer == nullptr ? 0 : pipeline->writer->num_docs();
}

}  // namespace shale::indexing
