#include "indexing/source_pipeline.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/bounded_queue.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "index/split_format.h"
#include "indexing/pipeline_steps.h"

namespace shale::indexing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLoggedRejections = 10;
constexpr size_t kMaxLoggedDocumentBytes = 256;

// What the reader hands to the indexer: processed documents of one source batch, the end of
// the source, or the source's error.
struct QueueItem {
  index::ProcessedDocs docs;
  uint64_t num_lines = 0;
  std::map<std::string, uint64_t> num_rejected_docs;
  std::map<std::string, metastore::PartitionDelta> checkpoint_delta;
  bool end_of_source = false;
  absl::Status error;
};

}  // namespace

const char* SourcePipelineStateName(SourcePipelineState state) {
  switch (state) {
    case SourcePipelineState::kRunning:
      return "running";
    case SourcePipelineState::kIdle:
      return "idle";
    case SourcePipelineState::kFailed:
      return "failed";
    case SourcePipelineState::kStopped:
      return "stopped";
  }
  return "unknown";
}

// The state of one run: its queue and reader thread. The indexer side runs in the supervisor
// thread (SourcePipeline::RunOnce).
class SourcePipeline::Run {
 public:
  explicit Run(size_t queue_capacity) : queue(queue_capacity) {}
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() {
    queue.Close();
    if (reader.joinable()) reader.join();
  }

  BoundedQueue<QueueItem> queue;
  std::thread reader;
};

SourcePipeline::SourcePipeline(metastore::Metastore* metastore,
                               storage::StorageResolver* storage_resolver, std::string index_id,
                               std::string index_uid, config::SourceConfig source,
                               SourcePipelineOptions options)
    : metastore_(metastore),
      storage_resolver_(storage_resolver),
      index_id_(std::move(index_id)),
      index_uid_(std::move(index_uid)),
      source_(std::move(source)),
      options_(std::move(options)),
      docs_read_(MetricsRegistry::Global().GetCounter(
          "shale_source_docs_read_total", "Documents read by source pipelines (file, vec)")),
      restarts_(MetricsRegistry::Global().GetCounter(
          "shale_source_pipeline_restarts_total",
          "Source pipeline runs that failed and were restarted from the stored checkpoint")),
      splits_published_(MetricsRegistry::Global().GetCounter(
          "shale_indexing_splits_published_total", "Splits published by indexing")) {
  stats_.index_id = index_id_;
  stats_.index_uid = index_uid_;
  stats_.source_id = source_.source_id;
  stats_.source_type = source_.source_type;
}

SourcePipeline::~SourcePipeline() { Stop(); }

void SourcePipeline::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  supervisor_ = std::thread([this] { SuperviseLoop(); });
}

void SourcePipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  SetState(SourcePipelineState::kStopped);
}

SourcePipelineStats SourcePipeline::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void SourcePipeline::SetState(SourcePipelineState state) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.state = state;
}

void SourcePipeline::SuperviseLoop() {
  int64_t delay_millis = 0;
  while (true) {
    const absl::Status status = RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ || status.ok()) return;
    stats_.state = SourcePipelineState::kFailed;
    stats_.last_error = std::string(status.message());
    ++stats_.num_restarts;
    restarts_.Increment();
    delay_millis = delay_millis == 0
                       ? options_.initial_restart_delay_millis
                       : std::min(options_.max_restart_delay_millis, 2 * delay_millis);
    SHALE_LOG_ERROR(
        "source pipeline failed, restarting from the stored checkpoint index_id={} source_id={} "
        "delay_millis={} error={}",
        index_id_, source_.source_id, delay_millis, status.ToString());
    stop_cv_.wait_for(lock, std::chrono::milliseconds(delay_millis), [&] { return stopping_; });
    if (stopping_) return;
  }
}

absl::Status SourcePipeline::RunOnce() {
  auto metadata = metastore_->GetIndexMetadata(index_id_);
  if (absl::IsNotFound(metadata.status())) {
    SetState(SourcePipelineState::kStopped);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(metadata.status());
  auto stored_source = metadata->sources.find(source_.source_id);
  if (metadata->index_uid != index_uid_ || stored_source == metadata->sources.end() ||
      !stored_source->second.enabled) {
    SetState(SourcePipelineState::kStopped);
    return absl::OkStatus();
  }
  const config::IndexConfig& index_config = metadata->index_config;
  metastore::SourceCheckpoint checkpoint;
  if (auto it = metadata->checkpoints.find(source_.source_id); it != metadata->checkpoints.end()) {
    checkpoint = it->second;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> index_storage,
                   ResolveIndexStorage(*storage_resolver_, *metadata));
  ASSIGN_OR_RETURN(std::shared_ptr<const index::DocProcessor> processor,
                   index::DocProcessor::Create(index_config.doc_mapping));
  // Batches of at most split_num_docs_target lines, so splits are cut close to the target.
  SourceOptions source_options = options_.source;
  source_options.batch_max_lines =
      std::clamp<uint64_t>(index_config.indexing_settings.split_num_docs_target, 1,
                           source_options.batch_max_lines);
  ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
                   NewSource(source_, checkpoint, *storage_resolver_, source_options));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::OkStatus();
    stats_.state = SourcePipelineState::kRunning;
    stats_.checkpoint = checkpoint;
    stats_.num_pending_docs = 0;
  }
  SHALE_LOG_INFO("source pipeline started index_id={} source_id={} source_type={} checkpoint={}",
                 index_id_, source_.source_id, source_.source_type,
                 DumpJson(nlohmann::json(checkpoint)));

  Run run(options_.queue_capacity);
  // Reader: source -> doc processor -> queue. Blocks on a full queue; exits when it is closed.
  run.reader = std::thread([&run, source, processor, mapping = index_config.doc_mapping, this] {
    size_t num_logged = 0;
    while (true) {
      QueueItem item;
      auto batch = source->NextBatch();
      if (!batch.ok()) {
        item.error = batch.status();
      } else if (!batch->has_value()) {
        item.end_of_source = true;
      } else {
        item.checkpoint_delta = std::move((*batch)->checkpoint_delta);
        if ((*batch)->num_oversized_lines > 0) {
          item.num_lines += (*batch)->num_oversized_lines;
          item.num_rejected_docs[kRejectedDocumentTooLarge] += (*batch)->num_oversized_lines;
        }
        ForEachNdjsonLine((*batch)->ndjson, [&](std::string_view line) {
          ++item.num_lines;
          const absl::Status status = ProcessDocument(*processor, mapping, line, item.docs);
          if (!status.ok()) {
            ++item.num_rejected_docs[RejectionReason(status)];
            if (num_logged++ < kMaxLoggedRejections) {
              SHALE_LOG_WARN("source document rejected index_id={} source_id={} error={} doc={}",
                             index_id_, source_.source_id, std::string(status.message()),
                             std::string(line.substr(0, kMaxLoggedDocumentBytes)));
            }
          }
        });
      }
      const bool last = !item.error.ok() || item.end_of_source;
      if (!run.queue.Push(std::move(item)) || last) return;
    }
  });

  // Indexer: queue -> in-memory split -> commit.
  std::unique_ptr<index::SplitWriter> writer;
  std::map<std::string, metastore::PartitionDelta> pending_delta;
  std::optional<Clock::time_point> pending_since;
  uint64_t pending_lines = 0;  // read since the last commit, rejected ones included
  auto commit = [&]() -> absl::Status {
    if (writer == nullptr && pending_delta.empty()) return absl::OkStatus();
    metastore::CheckpointDelta delta{source_.source_id, pending_delta};
    const uint64_t num_docs = writer == nullptr ? 0 : writer->num_docs();
    if (writer != nullptr) {
      RETURN_IF_ERROR(CommitSplit(*metastore_, options_.node_id, source_.source_id, *metadata,
                                  *index_storage, std::move(writer), delta,
                                  kSourceCommitCrashPoints));
      splits_published_.Increment();
    } else {
      // Only rejected or blank lines since the last commit: move the checkpoint past them.
      RETURN_IF_ERROR(metastore_->PublishSplits(metadata->index_uid, {}, {}, delta));
    }
    writer.reset();
    pending_since.reset();
    pending_lines = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [partition, positions] : pending_delta) {
      stats_.checkpoint[partition] = positions.to;
    }
    if (num_docs > 0) ++stats_.num_published_splits;
    stats_.num_published_docs += num_docs;
    stats_.num_pending_docs = 0;
    pending_delta.clear();
    return absl::OkStatus();
  };
  const auto commit_timeout =
      std::chrono::seconds(index_config.indexing_settings.commit_timeout_secs);
  while (true) {
    std::optional<QueueItem> item =
        run.queue.PopFor(std::chrono::milliseconds(options_.commit_check_interval_millis));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::OkStatus();
    }
    if (!item.has_value()) {
      if (pending_since.has_value() && Clock::now() - *pending_since >= commit_timeout) {
        RETURN_IF_ERROR(commit());
      }
      continue;
    }
    if (!item->error.ok()) {
      // Publish what was read before the error, so a restart does not read it again.
      RETURN_IF_ERROR(commit());
      return item->error;
    }
    if (item->end_of_source) {
      RETURN_IF_ERROR(commit());
      std::lock_guard<std::mutex> lock(mu_);
      stats_.state = SourcePipelineState::kIdle;
      SHALE_LOG_INFO(
          "source pipeline idle: source exhausted index_id={} source_id={} checkpoint={}",
          index_id_, source_.source_id, DumpJson(nlohmann::json(stats_.checkpoint)));
      return absl::OkStatus();
    }
    if (!pending_since.has_value()) pending_since = Clock::now();
    for (auto& [partition, positions] : item->checkpoint_delta) {
      auto [it, inserted] = pending_delta.try_emplace(partition, positions);
      if (!inserted) it->second.to = positions.to;
    }
    const uint64_t num_accepted = item->docs.size();
    if (num_accepted > 0) {
      if (writer == nullptr) {
        ASSIGN_OR_RETURN(writer, NewSplitWriter(index_config));
      }
      writer->AddDocuments(item->docs, 0, num_accepted);
    }
    docs_read_.Increment(static_cast<int64_t>(item->num_lines));
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.num_docs_read += item->num_lines;
      stats_.num_ingested_docs += num_accepted;
      for (const auto& [reason, count] : item->num_rejected_docs) {
        stats_.num_rejected_docs[reason] += count;
      }
      stats_.num_pending_docs = writer == nullptr ? 0 : writer->num_docs();
    }
    // Lines rather than documents count towards split_num_docs_target, so a split never
    // exceeds it by a batch because of rejected lines.
    pending_lines += item->num_lines;
    // The timeout is checked here too: while the source keeps the queue fed, PopFor never
    // times out, and a steady stream would otherwise wait for the size triggers alone.
    if (pending_lines >= index_config.indexing_settings.split_num_docs_target ||
        (writer != nullptr && SplitWriterIsFull(*writer, index_config.indexing_settings)) ||
        Clock::now() - *pending_since >= commit_timeout) {
      RETURN_IF_ERROR(commit());
    }
  }
}

}  // namespace shale::indexing
