// MergeService: the indexer's merge pipeline. A planner watches the published splits of every
// index (woken after each publish, and every `planning_interval_millis`), groups them by merge
// scope and asks the index's merge policy (indexing/merge_policy.h) for merge operations; an
// executor runs them, at most `merge_concurrency` at a time:
//
//   download the inputs (local files are read in place)
//   -> index::MergeSplits (structural, no re-tokenizing)
//   -> stage the merged split (num_merge_ops = max of the inputs + 1)
//   -> upload it -> PublishSplits(staged = {merged}, replaced = inputs)
//
// The publish is one atomic metastore operation: the merged split becomes visible exactly when
// its inputs stop being so, so no document is ever lost or counted twice. When the publish
// fails because an input is no longer published (replaced or deleted meanwhile:
// FailedPrecondition / NotFound), the merge is dropped and its staged output deleted (record,
// then file: AbandonStagedSplit, which keeps the file of a split whose publish went through
// after all). Other failures also delete the output and put the inputs in a back-off (doubling from
// `retry_delay_millis` up to an hour) before they are planned again.
//
// Replaced splits are MarkedForDeletion by the publish; their files stay readable for searches
// that listed them before, and are deleted (file first, then record) once
// `deletion_grace_period_secs` have passed since they were marked. Until Shale has its janitor
// service, this collection runs here, for the splits of the scopes this service merges.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/metrics.h"
#include "common/thread_pool.h"
#include "indexing/merge_policy.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

struct MergeServiceOptions {
  std::string node_id;
  // True: merge only the splits this node produced (a node merges its own splits). False: the
  // splits of every node, each node's in its own scope (`shale tool merge`).
  bool only_own_splits = true;
  // `indexer.merge_concurrency`: merges running at once.
  uint32_t merge_concurrency = 1;
  int64_t planning_interval_millis = 10'000;
  // Where inputs not on local disk (s3, ram) are downloaded, typically {data_dir}/merges; each
  // merge uses a fresh folder below it, removed when the merge ends. Empty: such inputs are read
  // through ranged reads.
  std::string scratch_dir;
  int64_t deletion_grace_period_secs = 120;
  // First back-off of the inputs of a failed merge.
  int64_t retry_delay_millis = 10'000;
};

// What merges did for one index since the service started.
struct IndexMergeStats {
  std::string index_id;
  std::string index_uid;
  uint64_t num_merges = 0;            // published merged splits
  uint64_t num_replaced_splits = 0;   // their inputs
  uint64_t num_merged_docs = 0;       // docs of the merged splits
  uint64_t num_failed_merges = 0;     // failed, inputs backed off
  uint64_t num_abandoned_merges = 0;  // inputs replaced or deleted meanwhile
  uint64_t num_running_merges = 0;
  uint64_t num_deleted_splits = 0;  // replaced splits whose files and records were deleted
};

// What MergeUntilIdle did.
struct MergeRunSummary {
  uint64_t num_merges = 0;
  uint64_t num_replaced_splits = 0;
  uint64_t num_merged_docs = 0;
  uint64_t num_failed_merges = 0;
  std::vector<std::string> errors;  // one per failed merge
};

class MergeService {
 public:
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the service.
  MergeService(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
               MergeServiceOptions options);
  MergeService(const MergeService&) = delete;
  MergeService& operator=(const MergeService&) = delete;
  ~MergeService();

  // Starts the planner thread and the executor.
  void Start();
  // Refuses new merges, abandons running ones at their next step (before their publish), waits
  // for them. Idempotent.
  void Stop();

  // Wakes the planner: a split of `index_uid` was published. Cheap; never blocks on a merge.
  void NotifySplitsPublished(const std::string& index_uid);

  // Offline merging (`shale tool merge`), on the calling thread: plans and runs the merges of
  // index `index_id` (only the splits of `source_id` when set) until the merge policy plans
  // none, then collects the replaced splits past their grace period. A failed merge is reported
  // in the summary and its inputs are not planned again by this call. NotFound for an unknown
  // index. Does not need Start().
  absl::StatusOr<MergeRunSummary> MergeUntilIdle(const std::string& index_id,
                                                 const std::optional<std::string>& source_id);

  // Per-index counters, sorted by index id.
  std::vector<IndexMergeStats> Stats();

 private:
  enum class Outcome { kMerged, kAbandoned, kFailed };
  struct Backoff {
    std::string index_uid;
    std::chrono::steady_clock::time_point retry_at;
    int64_t delay_millis = 0;
  };

  void PlannerLoop();
  // One planning pass over every index: collects garbage, then submits merges while executor
  // slots are free.
  void PlanOnce();
  // At most `max_operations` merges to run for `index` now, leaving out splits in flight,
  // backed off, in `excluded` (when not null) or (when set) not of `source_id`; marks the
  // returned splits in flight.
  absl::StatusOr<std::vector<MergeOperation>> PlanIndex(const metastore::IndexMetadata& index,
                                                        const std::optional<std::string>& source_id,
                                                        size_t max_operations,
                                                        const std::set<std::string>* excluded);
  // Runs one merge end to end and records its outcome. `error` receives the failure message.
  Outcome RunMerge(const metastore::IndexMetadata& index, const MergeOperation& operation,
                   std::string* error);
  absl::StatusOr<metastore::SplitMetadata> ExecuteMerge(
      const metastore::IndexMetadata& index, const MergeOperation& operation,
      const std::shared_ptr<storage::Storage>& storage);
  // Deletes the splits of `index` marked for deletion at least the grace period ago.
  absl::Status CollectGarbage(const metastore::IndexMetadata& index);
  bool OwnScope(const metastore::SplitMetadata& split) const;
  IndexMergeStats& StatsFor(const metastore::IndexMetadata& index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool stopping() const;

  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const MergeServiceOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool replan_ ABSL_GUARDED_BY(mu_) = false;
  size_t num_running_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);               // split ids
  std::map<std::string, Backoff> backoffs_ ABSL_GUARDED_BY(mu_);       // by split id
  std::map<std::string, IndexMergeStats> stats_ ABSL_GUARDED_BY(mu_);  // by index uid
  std::thread planner_;
  std::unique_ptr<ThreadPool> executor_;

  Counter& merges_total_;
  Counter& merge_failures_total_;
  Counter& merges_abandoned_total_;
  Counter& replaced_splits_total_;
  Counter& merged_docs_total_;
  Counter& deleted_splits_total_;
  Gauge& running_merges_;
};

}  // namespace shale::indexing
