#include "indexing/merge_service.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <utility>

#include "fmt/format.h"

#include "common/crash_point.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "index/split_merger.h"
#include "indexing/pipeline_steps.h"
#include "indexing/split_gc.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

constexpr int64_t kMaxRetryDelayMillis = 3'600'000;

// True when a failed publish means that the inputs are no longer all published (replaced by
// another merge, deleted, or their index deleted): the merge is moot, not broken.
bool InputsGone(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) || absl::IsNotFound(status);
}

// Removes a folder when it goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

MergeService::MergeService(metastore::Metastore* metastore,
                           storage::StorageResolver* storage_resolver, MergeServiceOptions options)
    : metastore_(metastore),
      storage_resolver_(storage_resolver),
      options_(std::move(options)),
      merges_total_(MetricsRegistry::Global().GetCounter(
          "shale_merges_total", "Merged splits published by the merge pipeline")),
      merge_failures_total_(MetricsRegistry::Global().GetCounter(
          "shale_merge_failures_total", "Merges that failed (their inputs are retried later)")),
      merges_abandoned_total_(MetricsRegistry::Global().GetCounter(
          "shale_merges_abandoned_total",
          "Merges dropped because an input was replaced or deleted meanwhile")),
      replaced_splits_total_(MetricsRegistry::Global().GetCounter(
          "shale_merge_replaced_splits_total", "Splits replaced by merged splits")),
      merged_docs_total_(MetricsRegistry::Global().GetCounter(
          "shale_merge_docs_total", "Documents written into merged splits")),
      deleted_splits_total_(MetricsRegistry::Global().GetCounter(
          "shale_merge_deleted_splits_total",
          "Replaced splits deleted after the deletion grace period")),
      running_merges_(
          MetricsRegistry::Global().GetGauge("shale_merges_running", "Merges running now")) {}

MergeService::~MergeService() { Stop(); }

void MergeService::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  replan_ = true;  // look at what accumulated while the node was down
  executor_ = std::make_unique<ThreadPool>(
      "merge", static_cast<int>(std::max<uint32_t>(1, options_.merge_concurrency)));
  planner_ = std::thread([this] { PlannerLoop(); });
}

void MergeService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.SignalAll();
  }
  if (planner_.joinable()) planner_.join();
  if (executor_ != nullptr) executor_->Stop();
}

bool MergeService::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void MergeService::NotifySplitsPublished(const std::string& index_uid) {
  (void)index_uid;  // a pass looks at every index; the planner is cheap
  absl::MutexLock lock(&mu_);
  replan_ = true;
  wake_.Signal();
}

void MergeService::PlannerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_ && !replan_) {
        wake_.WaitWithTimeout(&mu_, absl::Milliseconds(options_.planning_interval_millis));
      }
      if (stopping_) return;
      replan_ = false;
    }
    PlanOnce();
  }
}

IndexMergeStats& MergeService::StatsFor(const metastore::IndexMetadata& index) {
  IndexMergeStats& stats = stats_[index.index_uid];
  stats.index_uid = index.index_uid;
  stats.index_id = index.index_id();
  return stats;
}

bool MergeService::OwnScope(const metastore::SplitMetadata& split) const {
  return !options_.only_own_splits || split.node_id == options_.node_id;
}

void MergeService::PlanOnce() {
  absl::StatusOr<std::vector<metastore::IndexMetadata>> indexes = metastore_->ListIndexes();
  if (!indexes.ok()) {
    SHALE_LOG_WARN("merge planning failed error={}", indexes.status().ToString());
    return;
  }
  {
    // Forget the counters of deleted indexes.
    std::set<std::string> current;
    for (const metastore::IndexMetadata& index : *indexes) current.insert(index.index_uid);
    absl::MutexLock lock(&mu_);
    std::erase_if(stats_, [&](const auto& entry) {
      return !current.contains(entry.first) && entry.second.num_running_merges == 0;
    });
  }
  for (const metastore::IndexMetadata& index : *indexes) {
    if (stopping()) return;
    absl::Status collected = CollectGarbage(index);
    if (!collected.ok()) {
      SHALE_LOG_WARN("deletion of replaced splits failed index_id={} error={}", index.index_id(),
                     collected.ToString());
    }
    size_t free_slots = 0;
    {
      absl::MutexLock lock(&mu_);
      free_slots = std::max<size_t>(1, options_.merge_concurrency) - num_running_;
    }
    if (free_slots == 0) continue;
    absl::StatusOr<std::vector<MergeOperation>> operations =
        PlanIndex(index, std::nullopt, free_slots, nullptr);
    if (!operations.ok()) {
      SHALE_LOG_WARN("merge planning failed index_id={} error={}", index.index_id(),
                     operations.status().ToString());
      continue;
    }
    for (MergeOperation& operation : *operations) {
      {
        absl::MutexLock lock(&mu_);
        ++num_running_;
        ++StatsFor(index).num_running_merges;
      }
      running_merges_.Add(1);
      auto shared_operation = std::make_shared<MergeOperation>(std::move(operation));
      const bool submitted = executor_->Submit([this, index, shared_operation] {
        RunMerge(index, *shared_operation, nullptr);
        absl::MutexLock lock(&mu_);
        --num_running_;
        --StatsFor(index).num_running_merges;
        running_merges_.Add(-1);
        replan_ = true;  // the merged split may complete a level
        wake_.Signal();
      });
      if (!submitted) {
        absl::MutexLock lock(&mu_);
        --num_running_;
        --StatsFor(index).num_running_merges;
        running_merges_.Add(-1);
        for (const metastore::SplitMetadata& split : shared_operation->splits) {
          in_flight_.erase(split.split_id);
        }
      }
    }
  }
}

absl::StatusOr<std::vector<MergeOperation>> MergeService::PlanIndex(
    const metastore::IndexMetadata& index, const std::optional<std::string>& source_id,
    size_t max_operations, const std::set<std::string>* excluded) {
  metastore::ListSplitsQuery query;
  query.index_uids = {index.index_uid};
  query.states = {metastore::SplitState::kPublished};
  ASSIGN_OR_RETURN(std::vector<metastore::Split> splits, metastore_->ListSplits(query));
  const std::unique_ptr<MergePolicy> policy = NewMergePolicy(index.index_config.indexing_settings);
  const int64_t now_secs = UnixSecondsNow();
  const auto now = std::chrono::steady_clock::now();
  std::map<MergeScope, std::vector<metastore::SplitMetadata>> scopes = GroupByScope(splits);

  std::vector<MergeOperation> planned;
  absl::MutexLock lock(&mu_);
  // Back-offs of splits that are no longer published are moot.
  std::set<std::string> published;
  for (const metastore::Split& split : splits) published.insert(split.metadata.split_id);
  std::erase_if(backoffs_, [&](const auto& entry) {
    return entry.second.index_uid == index.index_uid && !published.contains(entry.first);
  });
  for (auto& [scope, candidates] : scopes) {
    if (planned.size() >= max_operations) break;
    if (candidates.empty() || !OwnScope(candidates.front())) continue;
    if (source_id.has_value() && scope.source_id != *source_id) continue;
    std::erase_if(candidates, [&](const metastore::SplitMetadata& split) {
      auto backoff = backoffs_.find(split.split_id);
      return in_flight_.contains(split.split_id) ||
             (excluded != nullptr && excluded->contains(split.split_id)) ||
             (backoff != backoffs_.end() && now < backoff->second.retry_at);
    });
    for (MergeOperation& operation : policy->Operations(std::move(candidates), now_secs)) {
      if (planned.size() >= max_operations) break;
      for (const metastore::SplitMetadata& split : operation.splits) {
        in_flight_.insert(split.split_id);
      }
      planned.push_back(std::move(operation));
    }
  }
  return planned;
}

MergeService::Outcome MergeService::RunMerge(const metastore::IndexMetadata& index,
                                             const MergeOperation& operation, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<metastore::SplitMetadata> merged = absl::UnknownError("not run");
  absl::StatusOr<Uri> index_uri = Uri::Parse(index.index_config.index_uri.value_or(""));
  if (!index_uri.ok()) {
    merged = index_uri.status();
  } else {
    absl::StatusOr<std::shared_ptr<storage::Storage>> storage =
        storage_resolver_->Resolve(*index_uri);
    merged = storage.ok() ? ExecuteMerge(index, operation, *storage) : storage.status();
  }
  const Outcome outcome = merged.ok() ? Outcome::kMerged
                          : InputsGone(merged.status()) || absl::IsAborted(merged.status())
                              ? Outcome::kAbandoned
                              : Outcome::kFailed;
  const auto elapsed_millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count();
  std::vector<std::string> input_ids;
  for (const metastore::SplitMetadata& split : operation.splits)
    input_ids.push_back(split.split_id);
  if (outcome == Outcome::kMerged) {
    SHALE_LOG_INFO(
        "merge published index_id={} split_id={} num_docs={} size_bytes={} num_merge_ops={} "
        "replaced={} elapsed_ms={}",
        index.index_id(), merged->split_id, merged->num_docs, merged->split_size_bytes,
        merged->num_merge_ops, fmt::join(input_ids, ","), elapsed_millis);
    merges_total_.Increment();
    replaced_splits_total_.Increment(static_cast<int64_t>(input_ids.size()));
    merged_docs_total_.Increment(static_cast<int64_t>(merged->num_docs));
  } else if (outcome == Outcome::kAbandoned) {
    SHALE_LOG_INFO("merge abandoned index_id={} inputs={} reason={}", index.index_id(),
                   fmt::join(input_ids, ","), merged.status().ToString());
    merges_abandoned_total_.Increment();
  } else {
    SHALE_LOG_ERROR("merge failed index_id={} inputs={} error={}", index.index_id(),
                    fmt::join(input_ids, ","), merged.status().ToString());
    merge_failures_total_.Increment();
  }
  if (error != nullptr && !merged.ok()) *error = merged.status().ToString();

  absl::MutexLock lock(&mu_);
  IndexMergeStats& stats = StatsFor(index);
  const auto now = std::chrono::steady_clock::now();
  for (const std::string& split_id : input_ids) {
    in_flight_.erase(split_id);
    if (outcome == Outcome::kMerged) {
      backoffs_.erase(split_id);
      continue;
    }
    // Inputs that are still published are planned again after a delay (doubling while it
    // keeps failing), so a broken split does not make the planner spin.
    Backoff& backoff = backoffs_[split_id];
    backoff.index_uid = index.index_uid;
    backoff.delay_millis = backoff.delay_millis == 0
                               ? options_.retry_delay_millis
                               : std::min(kMaxRetryDelayMillis, 2 * backoff.delay_millis);
    backoff.retry_at = now + std::chrono::milliseconds(backoff.delay_millis);
  }
  switch (outcome) {
    case Outcome::kMerged:
      ++stats.num_merges;
      stats.num_replaced_splits += input_ids.size();
      stats.num_merged_docs += merged->num_docs;
      break;
    case Outcome::kAbandoned:
      ++stats.num_abandoned_merges;
      break;
    case Outcome::kFailed:
      ++stats.num_failed_merges;
      break;
  }
  return outcome;
}

absl::StatusOr<metastore::SplitMetadata> MergeService::ExecuteMerge(
    const metastore::IndexMetadata& index, const MergeOperation& operation,
    const std::shared_ptr<storage::Storage>& storage) {
  const config::IndexingSettings& settings = index.index_config.indexing_settings;
  const auto aborted = [] { return absl::AbortedError("merge service is stopping"); };
  // Inputs not on local disk are downloaded once (a merge reads every byte; ranged GETs would
  // cost a request per chunk); local files are read in place.
  std::optional<ScratchDir> scratch;
  std::shared_ptr<storage::Storage> input_storage = storage;
  if (storage->uri().protocol() != Uri::Protocol::kFile && !options_.scratch_dir.empty()) {
    scratch.emplace(std::filesystem::path(options_.scratch_dir) / NewUlid());
    ASSIGN_OR_RETURN(Uri scratch_uri, Uri::Parse(scratch->path().string()));
    ASSIGN_OR_RETURN(input_storage, storage::NewLocalStorage(scratch_uri));
  }
  std::vector<index::MergeInput> inputs;
  uint64_t delete_opstamp = std::numeric_limits<uint64_t>::max();
  for (const metastore::SplitMetadata& split : operation.splits) {
    if (stopping()) return aborted();
    const std::string path = split::SplitFileName(split.split_id);
    if (scratch.has_value()) {
      RETURN_IF_ERROR(storage->CopyToFile(path, scratch->path() / path));
    }
    index::MergeInput input;
    input.source = split::NewStorageByteRangeSource(input_storage, path, split.split_size_bytes,
                                                    split.split_id);
    if (split.footer_end > split.footer_start) {
      ASSIGN_OR_RETURN(input.hotcache, input.source->Read(split.footer_start,
                                                          split.footer_end - split.footer_start));
    }
    input.uncompressed_docs_size_in_bytes = split.uncompressed_docs_size_in_bytes;
    // Seconds, floored, are what the metastore keeps; flooring the union again gives the union.
    if (split.time_range_start_secs.has_value()) {
      input.time_range_start_nanos = SecondsToNanosSaturated(*split.time_range_start_secs);
    }
    if (split.time_range_end_secs.has_value()) {
      input.time_range_end_nanos = SecondsToNanosSaturated(*split.time_range_end_secs);
    }
    input.tags = split.tags;
    inputs.push_back(std::move(input));
    delete_opstamp = std::min(delete_opstamp, split.delete_opstamp);
  }
  index::SplitWriterOptions writer_options;
  writer_options.docstore_compression_level = settings.docstore_compression_level;
  writer_options.docstore_blocksize = settings.docstore_blocksize;
  ASSIGN_OR_RETURN(index::SerializedSplit serialized,
                   index::MergeSplits(index.index_config.doc_mapping, inputs, writer_options));
  inputs.clear();
  scratch.reset();
  if (stopping()) return aborted();

  metastore::SplitMetadata merged =
      NewSplitMetadata(serialized, ScopeOf(operation.splits.front()), settings,
                       operation.MergedNumMergeOps(), UnixSecondsNow());
  merged.delete_opstamp = delete_opstamp;
  std::vector<std::string> replaced;
  for (const metastore::SplitMetadata& split : operation.splits) replaced.push_back(split.split_id);

  // Stage first, so that a crash leaves a staged split to collect, never an unknown file.
  RETURN_IF_ERROR(metastore_->StageSplits(index.index_uid, {merged}));
  absl::Status status = split::UploadSplit(*storage, merged.split_id, serialized);
  if (status.ok()) CrashPoint(kCrashMergeAfterUpload);
  if (status.ok() && stopping()) status = aborted();
  if (status.ok()) {
    status = metastore_->PublishSplits(index.index_uid, {merged.split_id}, replaced, std::nullopt);
    if (status.ok()) CrashPoint(kCrashMergeAfterPublish);
    if (!status.ok() && !InputsGone(status)) {
      // The outcome of a failed call may be unknown: look before deleting anything.
      metastore::ListSplitsQuery query;
      query.index_uids = {index.index_uid};
      query.states = {metastore::SplitState::kPublished};
      absl::StatusOr<std::vector<metastore::Split>> published = metastore_->ListSplits(query);
      if (published.ok()) {
        for (const metastore::Split& split : *published) {
          if (split.metadata.split_id == merged.split_id) return merged;
        }
      }
    }
  }
  if (!status.ok()) {
    AbandonStagedSplit(*metastore_, *storage, index.index_uid, merged.split_id, "merge");
    return status;
  }
  return merged;
}

absl::Status MergeService::CollectGarbage(const metastore::IndexMetadata& index) {
  GarbageCollectionOptions options;
  options.collect_staged = false;
  options.collect_orphan_files = false;
  options.deletion_grace_period_secs = options_.deletion_grace_period_secs;
  if (options_.only_own_splits) options.node_id = options_.node_id;
  ASSIGN_OR_RETURN(IndexGarbage garbage,
                   CollectIndexGarbage(*metastore_, *storage_resolver_, index, options));
  if (garbage.marked_splits.empty()) return absl::OkStatus();
  SHALE_LOG_INFO("replaced splits deleted index_id={} num_splits={}", index.index_id(),
                 garbage.marked_splits.size());
  deleted_splits_total_.Increment(static_cast<int64_t>(garbage.marked_splits.size()));
  absl::MutexLock lock(&mu_);
  IndexMergeStats& stats = StatsFor(index);
  stats.num_deleted_splits += garbage.marked_splits.size();
  return absl::OkStatus();
}

absl::StatusOr<MergeRunSummary> MergeService::MergeUntilIdle(
    const std::string& index_id, const std::optional<std::string>& source_id) {
  ASSIGN_OR_RETURN(const metastore::IndexMetadata index, metastore_->GetIndexMetadata(index_id));
  MergeRunSummary summary;
  std::set<std::string> excluded;  // inputs of failed merges: not retried by this call
  while (!stopping()) {
    ASSIGN_OR_RETURN(std::vector<MergeOperation> operations,
                     PlanIndex(index, source_id, std::numeric_limits<size_t>::max(), &excluded));
    if (operations.empty()) break;
    for (const MergeOperation& operation : operations) {
      std::string error;
      const Outcome outcome = RunMerge(index, operation, &error);
      if (outcome == Outcome::kMerged) {
        ++summary.num_merges;
        summary.num_replaced_splits += operation.splits.size();
        summary.num_merged_docs += operation.NumDocs();
        continue;
      }
      for (const metastore::SplitMetadata& split : operation.splits) {
        excluded.insert(split.split_id);
      }
      if (outcome == Outcome::kFailed) {
        ++summary.num_failed_merges;
        summary.errors.push_back(std::move(error));
      }
    }
  }
  RETURN_IF_ERROR(CollectGarbage(index));
  return summary;
}

std::vector<IndexMergeStats> MergeService::Stats() {
  std::vector<IndexMergeStats> stats;
  absl::MutexLock lock(&mu_);
  for (const auto& [index_uid, entry] : stats_) stats.push_back(entry);
  std::sort(stats.begin(), stats.end(), [](const IndexMergeStats& a, const IndexMergeStats& b) {
    return std::tie(a.index_id, a.index_uid) < std::tie(b.index_id, b.index_uid);
  });
  return stats;
}

}  // namespace shale::indexing
