// IngestService: the ingest API's indexing side. Documents posted to /api/v1/{index}/ingest are
// processed (parsed, validated against the doc mapping), added to the index's in-memory split,
// and committed into an immutable split when a trigger fires: `commit=force`,
// `indexing_settings.commit_timeout_secs`, `split_num_docs_target` or `resources.heap_size`.
// A commit runs the packager -> uploader -> publisher steps: serialize the split, stage it in
// the metastore, upload it to the index storage, publish it.
//
// Durability (docs/adr/002-ingest-wal.md): with a WAL root, the accepted lines of a request are
// appended to the index's WAL (indexing/wal.h) and fsynced BEFORE they reach the in-memory split
// and before the response, so an acknowledged document survives a crash. WAL order equals
// in-memory order (positions are applied in sequence), a split holds a contiguous range of WAL
// positions, and its publish carries the checkpoint delta `_ingest-api-source` / `wal`
// (from: the published position, to: one past its last record, both 20-digit zero-padded) in
// the same metastore call; the WAL is truncated only after that publish. A failed commit keeps
// the records: the index's in-memory state is rebuilt from the WAL and the commit retried.
// Recover() replays, at start-up, every record at or above the published checkpoint (records
// below it are published already: never indexed twice) and commits them.
//
// Idempotency (indexing/idempotency.h): a request may carry an idempotency key. A key the index
// accepted within `idempotency_retention_millis` is answered again with the first answer's
// counts (`idempotent_replay`) without indexing; a key whose first request is still in flight
// gets AlreadyExists (HTTP 409: retry later). Keys are written to the WAL with their batch.
//
// Thread safety: all methods are thread-safe. Documents of concurrent requests are processed in
// parallel and their fsyncs shared (group commit); a large body is also cut at line boundaries
// into parts processed in parallel (`num_processing_threads`), its documents kept in body order.
// Adding to the in-memory split and committing are serialized per index.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "common/metrics.h"
#include "common/thread_pool.h"
#include "index/split_format.h"
#include "indexing/idempotency.h"
#include "indexing/wal.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

inline constexpr char kIngestApiSourceId[] = "_ingest-api-source";

enum class CommitMode { kAuto, kWaitFor, kForce };

// Parses "auto", "wait_for", "force". InvalidArgument otherwise.
absl::StatusOr<CommitMode> ParseCommitMode(std::string_view text);

struct ParseFailure {
  std::string document;  // the rejected line (truncated to 1 KiB)
  std::string message;
  std::string reason;            // Quickwit's: "invalid_json" or "invalid_schema"
  std::string rejection_reason;  // finer: a kRejected* name of pipeline_steps.h
};

struct IngestResult {
  uint64_t num_docs_for_processing = 0;
  uint64_t num_ingested_docs = 0;
  uint64_t num_rejected_docs = 0;
  std::vector<ParseFailure> parse_failures;  // filled when requested (never on a replay)
  // True when the idempotency key was accepted before: nothing was indexed by this request.
  bool idempotent_replay = false;
};

struct IngestServiceOptions {
  std::string node_id;
  // How often the commit-timeout checker wakes up.
  int64_t commit_check_interval_millis = 100;
  int num_commit_threads = 1;
  // Threads that process (parse, validate) the documents of large request bodies alongside the
  // request's own thread; 0 processes every body on its request thread.
  int num_processing_threads = 0;
  // `ingest_api.num_pipelines_per_index`: pipelines per index, each with its own WAL, in-memory
  // split and checkpoint partition, so concurrent requests add their documents in parallel. A
  // request goes to the pipeline with the fewest requests in flight (the first when tied: one
  // client at a time uses one pipeline), or, with an idempotency key, to the one its key hashes
  // to (its resends meet the key there). Each pipeline commits at `resources.heap_size` divided
  // by this number, so memory stays within the index's budget.
  int num_pipelines_per_index = 1;
  // Directory holding one WAL directory per index uid, typically {data_dir}/wal. Empty: no WAL
  // (acknowledged commit=auto documents live only in memory until published; tests only).
  std::string wal_root;
  WalDurability wal_durability = WalDurability::kRequest;
  // `ingest_api.max_queue_disk_usage`: the bytes all WALs of the node may hold.
  uint64_t max_wal_disk_usage_bytes = 4'000'000'000;
  uint64_t wal_max_segment_bytes = 64ULL << 20;
  // First delay before a failed commit is retried (doubles up to a minute).
  int64_t commit_retry_delay_millis = 1000;
  // `ingest_api.idempotency_retention` and `ingest_api.idempotency_max_keys` (per index).
  int64_t idempotency_retention_millis = 3'600'000;
  uint64_t idempotency_max_keys = 100'000;
  // Called with the index uid after each published split (the merge planner's wake-up), on the
  // commit thread; must not block.
  std::function<void(const std::string& index_uid)> on_split_published;
};

enum class DropMode {
  kClear,   // the index stays: its WAL is truncated (positions continue)
  kDelete,  // the index goes: its WAL directory is removed
};

struct IndexIngestStats {
  std::string index_id;
  std::string index_uid;
  uint64_t num_pending_docs = 0;
  uint64_t wal_disk_usage_bytes = 0;
  uint64_t wal_next_position = 0;
  std::string published_checkpoint;
  uint64_t num_published_splits = 0;
  uint64_t num_ingested_docs = 0;
  std::map<std::string, uint64_t> num_rejected_docs;  // by reason
  uint64_t num_replayed_docs = 0;
  // "running", or "failed" while a failed commit waits for its retry (documents stay in the
  // WAL); `last_error` is the error of the last failed commit ("" if none), `num_restarts` the
  // rebuilds of the in-memory state from the WAL after failed commits.
  std::string state = "running";
  std::string last_error;
  uint64_t num_restarts = 0;
  uint64_t num_commit_failures = 0;
  uint64_t num_idempotency_keys = 0;  // accepted keys remembered
  uint64_t num_idempotent_replays = 0;
};

class IngestService {
 public:
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the service.
  IngestService(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
                IngestServiceOptions options);
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;
  ~IngestService();

  // Starts the commit-timeout checker.
  void Start();
  // Refuses new ingests, commits what is in memory, waits for running commits.
  void Stop();

  // Ingests newline-delimited JSON. NotFound for an unknown index. Malformed or non-conforming
  // lines are counted as rejected (and described when `detailed_response`), the rest is ingested.
  // With kWaitFor / kForce, returns once the documents are published (searchable); a failed
  // commit is then reported as an error. A non-empty `idempotency_key` makes the request
  // idempotent as described above; InvalidArgument when the key is malformed.
  absl::StatusOr<IngestResult> Ingest(const std::string& index_id, std::string_view ndjson,
                                      CommitMode commit_mode, bool detailed_response,
                                      std::string_view idempotency_key = {});

  // Replays the WAL of every index (records at or above the published checkpoint) and commits
  // them; deletes the WAL directories of indexes that no longer exist. Call before the node is
  // ready. An index whose replay fails is logged and skipped (it is retried on its next ingest).
  // Error only when the metastore cannot list indexes.
  absl::Status Recover();

  // Forgets the in-memory documents of the index and truncates (kClear) or removes (kDelete)
  // its WAL, keyed by `index_uid`, so a recreated index never sees the old documents.
  void DropIndex(const std::string& index_id, const std::string& index_uid, DropMode mode);

  // Per-index counters of the pipelines this service runs.
  std::vector<IndexIngestStats> Stats();

  // Test hook simulating a crash: stops every thread WITHOUT committing, dropping in-memory
  // state. The service accepts nothing afterwards.
  void AbandonForTesting();

  // Number of documents of the index held in memory, not yet published.
  uint64_t NumPendingDocs(const std::string& index_id);

 private:
  class IndexPipeline;

  // Pipeline `shard` of the index (0 <= shard; shards beyond num_pipelines_per_index only exist
  // to drain the WALs a node configured with more pipelines left behind).
  absl::StatusOr<std::shared_ptr<IndexPipeline>> GetOrCreatePipeline(const std::string& index_id,
                                                                     int shard);
  // The pipeline a request goes to (see num_pipelines_per_index).
  absl::StatusOr<std::shared_ptr<IndexPipeline>> PickPipeline(const std::string& index_id,
                                                              const std::string& idempotency_key);
  // The pipelines of the index, by shard. REQUIRES: mu_ held.
  std::vector<std::shared_ptr<IndexPipeline>> PipelinesOfLocked(const std::string& index_id) const;
  // The pipelines of the index other than `pipeline` (same index uid).
  std::vector<std::shared_ptr<IndexPipeline>> OtherPipelines(
      const std::shared_ptr<IndexPipeline>& pipeline);
  // Generations [first, last] of `pipeline`, the commits a flush waits for.
  struct ScheduledFlush {
    std::shared_ptr<IndexPipeline> pipeline;
    uint64_t first_generation = 0;
    uint64_t last_generation = 0;
  };
  // Schedules the commit of the in-memory split of `pipeline`; the generations to wait for (it
  // and the commits scheduled before it), none when nothing is pending or it is dropped.
  std::optional<ScheduledFlush> ScheduleFlush(const std::shared_ptr<IndexPipeline>& pipeline);
  // Waits until generations [first, last] of `pipeline` are committed; NotFound when it is
  // dropped meanwhile, the error of the first of them that failed to publish. REQUIRES: `lock`
  // holds pipeline.mu.
  absl::Status WaitForCommitsLocked(IndexPipeline& pipeline, std::unique_lock<std::mutex>& lock,
                                    uint64_t first_generation, uint64_t last_generation);
  // The WAL in `directory`, opened on first use. REQUIRES: mu_ held.
  absl::StatusOr<std::shared_ptr<Wal>> GetOrOpenWalLocked(const std::string& directory,
                                                          uint64_t min_next_position);
  // Hands the pipeline's in-memory split to the commit thread. REQUIRES: pipeline->mu held.
  void ScheduleCommitLocked(const std::shared_ptr<IndexPipeline>& pipeline);
  // Rebuilds the in-memory split from the WAL records in [checkpoint, next apply position).
  // With `schedule_commits`, commits splits that reach their target on the way.
  // REQUIRES: pipeline->mu held.
  absl::Status ReplayLocked(const std::shared_ptr<IndexPipeline>& pipeline,
                            const std::string& checkpoint, bool schedule_commits);
  // The answer to a resend of an accepted key: waits, for kWaitFor / kForce, until its records
  // are published. REQUIRES: `lock` holds pipeline->mu.
  absl::StatusOr<IngestResult> ReplayIdempotentLocked(
      const std::shared_ptr<IndexPipeline>& pipeline, std::unique_lock<std::mutex>& lock,
      const IdempotencyKeys::Lookup& lookup, CommitMode commit_mode);
  // Writes the index's idempotency snapshot when its keys changed. REQUIRES: pipeline->mu held.
  absl::Status PersistIdempotencyKeysLocked(const std::shared_ptr<IndexPipeline>& pipeline);
  void RunCommit(const std::shared_ptr<IndexPipeline>& pipeline,
                 std::unique_ptr<index::SplitWriter> writer, uint64_t generation, uint64_t epoch,
                 std::optional<uint64_t> wal_end_position);
  void CommitTimeoutLoop();
  // Doc processing of a request body (ordered as in the body); large bodies are cut at line
  // boundaries and their parts processed in parallel on processing_pool_.
  struct ProcessedBody;
  ProcessedBody ProcessBody(const IndexPipeline& pipeline, std::string_view ndjson,
                            bool detailed_response);

  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const IngestServiceOptions options_;
  // This node's partition of the ingest API source's checkpoint: `wal/<node id>`.
  const std::string wal_partition_id_;
  // Declared before everything holding a Wal, which releases its bytes here when destroyed.
  WalDiskBudget wal_disk_budget_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  // By (index id, shard).
  std::map<std::pair<std::string, int>, std::shared_ptr<IndexPipeline>> pipelines_;
  std::map<std::string, std::shared_ptr<Wal>> wals_;  // by directory
  std::atomic<bool> abandoned_{false};
  std::thread commit_timeout_thread_;
  // One thread each, so a pipeline's commits run in the order they were scheduled; pipeline
  // shard s commits on pool s modulo their number (one per pipeline of an index).
  std::vector<std::unique_ptr<ThreadPool>> commit_pools_;
  ThreadPool& CommitPool(const IndexPipeline& pipeline);
  // Helpers of ProcessBody; null when options_.num_processing_threads is 0.
  std::unique_ptr<ThreadPool> processing_pool_;
  // Cleared batches of processed documents, kept with their capacity for the next requests:
  // doc processing then neither allocates nor touches fresh pages (at most
  // kMaxPooledBatchBytes in all).
  static constexpr uint64_t kMaxPooledBatchBytes = uint64_t{256} << 20;
  std::mutex batch_pool_mu_;
  std::vector<index::ProcessedDocs> batch_pool_;
  uint64_t batch_pool_bytes_ = 0;
  index::ProcessedDocs AcquireBatch();
  void ReleaseBatch(index::ProcessedDocs batch);

  Counter& docs_ingested_;
  Counter& docs_rejected_;
  Counter& bytes_ingested_;
  Counter& splits_published_;
  Counter& commit_failures_;
  Counter& docs_replayed_;
  Counter& idempotent_replays_;
};

}  // namespace shale::indexing
