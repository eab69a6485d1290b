#include "indexing/ingest_service.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <utility>

#include "fmt/format.h"

#include "common/crash_point.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "index/split_format.h"
#include "indexing/pipeline_steps.h"
#include "xxhash.h"

namespace shale::indexing {
namespace {

constexpr size_t kMaxFailureDocumentBytes = 1024;
// The ingest API source's checkpoint partition of a node's WAL is `wal/<node id>`: each indexer
// publishes the positions of its own WAL, so several indexers can ingest into one index. Before
// that it was `wal` for every node (still the name when a service has no node id).
constexpr char kLegacyWalPartitionId[] = "wal";
constexpr int64_t kMaxCommitRetryDelayMillis = 60'000;
// Bodies at least this large are processed in parallel parts (smaller ones are not worth a
// thread hop).
constexpr size_t kMinParallelBodyBytes = 256 * 1024;
// Size of the parts a large body is cut into for doc processing (see ProcessBody).
constexpr size_t kParallelPartBytes = 512 * 1024;

int64_t UnixMillisNow() { return UnixMicrosNow() / 1000; }

std::vector<std::unique_ptr<ThreadPool>> MakeCommitPools(int num_pipelines) {
  std::vector<std::unique_ptr<ThreadPool>> pools;
  for (int i = 0; i < std::max(1, num_pipelines); ++i) {
    pools.push_back(
        std::make_unique<ThreadPool>(i == 0 ? "commit" : fmt::format("commit-{}", i), 1));
  }
  return pools;
}

std::string WalPartitionId(const std::string& node_id) {
  return node_id.empty() ? kLegacyWalPartitionId : fmt::format("wal/{}", node_id);
}

// The partition of pipeline `shard`: the node's partition for shard 0, `<it>/shard-<n>` else.
std::string ShardPartitionId(const std::string& node_partition_id, int shard) {
  return shard == 0 ? node_partition_id : fmt::format("{}/shard-{}", node_partition_id, shard);
}

// The stored position of the ingest API source's partition `partition_id` ("" when none).
std::string StoredPartitionCheckpoint(const metastore::IndexMetadata& metadata,
                                      const std::string& partition_id) {
  auto source = metadata.checkpoints.find(kIngestApiSourceId);
  if (source == metadata.checkpoints.end()) return "";
  auto partition = source->second.find(partition_id);
  return partition == source->second.end() ? "" : partition->second;
}

// Where a WAL resumes: its own partition's position, else, for shard 0 (an index ingested before
// partitions were per node), the legacy `wal` partition's. A WAL opened at a checkpoint starts
// its positions there (WalOptions::min_next_position), so a node that never wrote this WAL
// only skips positions it never used.
std::string StoredWalCheckpoint(const metastore::IndexMetadata& metadata,
                                const std::string& partition_id, int shard) {
  std::string own = StoredPartitionCheckpoint(metadata, partition_id);
  if (!own.empty() || shard != 0 || partition_id == kLegacyWalPartitionId) return own;
  return StoredPartitionCheckpoint(metadata, kLegacyWalPartitionId);
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
// last document has been committed. An "epoch" numbers rebuilds of the in-memory state from the
// WAL (after a failed commit): commits scheduled in an older epoch are abandoned, their records
// being part of the rebuilt split.
class IngestService::IndexPipeline {
 public:
  int shard = 0;
  std::string partition_id;  // of the ingest API source's checkpoint (ShardPartitionId)
  // Requests between PickPipeline and their answer (PickPipeline's load measure).
  std::atomic<int> requests_in_flight{0};
  metastore::IndexMetadata metadata;
  std::unique_ptr<index::DocProcessor> processor;
  // Where the writer compresses full doc store blocks, off the lock documents are added under
  // (the service's processing pool; unset without one).
  std::function<bool(std::function<void()>)> docstore_executor;
  std::shared_ptr<storage::Storage> storage;
  std::shared_ptr<Wal> wal;  // null without a WAL root

  std::mutex mu;
  // Held by a request while it checks `dropped` and writes its WAL records, so the records of
  // concurrent requests are written while another one adds its documents under `mu`; `dropped`
  // is set holding both (MarkDroppedLocked), so no record follows a drop. Lock order: mu first.
  std::mutex wal_write_mu;
  std::condition_variable committed_cv;
  std::condition_variable applied_cv;
  std::unique_ptr<index::SplitWriter> writer;  // null when nothing is pending
  std::chrono::steady_clock::time_point writer_opened_at;
  uint64_t writer_generation = 1;
  uint64_t committed_generation = 0;  // every generation <= this one is done
  std::map<uint64_t, absl::Status> failed_generations;
  bool dropped = false;

  // WAL bookkeeping. Records below next_apply_position are in the writer or in scheduled /
  // published splits; records at or above it are written by requests not yet applied.
  uint64_t next_apply_position = 0;
  // One past the last WAL record the writer holds; nullopt when it holds none.
  std::optional<uint64_t> writer_wal_end;
  std::string published_checkpoint;  // where the WAL is published up to (see StoredWalCheckpoint)
  std::string partition_checkpoint;  // as stored in this node's partition ("" when absent)
  uint64_t epoch = 0;
  std::optional<std::chrono::steady_clock::time_point> retry_commit_at;
  int64_t retry_delay_millis = 0;

  uint64_t num_published_splits = 0;
  uint64_t num_ingested_docs = 0;
  uint64_t num_replayed_docs = 0;
  std::map<std::string, uint64_t> num_rejected_docs;
  std::string last_commit_error;  // of the last failed commit
  uint64_t num_commit_failures = 0;

  std::unique_ptr<IdempotencyKeys> keys;
  uint64_t num_idempotent_replays = 0;

  const config::IndexConfig& config() const { return metadata.index_config; }

  // The first WAL position not yet published. REQUIRES: mu held.
  uint64_t PublishedPositionLocked() const {
    return WalPositionFromCheckpoint(published_checkpoint).value_or(0);
  }

  // REQUIRES: mu held.
  absl::Status EnsureWriterLocked() {
    if (writer != nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(writer, NewSplitWriter(config(), docstore_executor));
    writer_opened_at = std::chrono::steady_clock::now();
    return absl::OkStatus();
  }

  // Marks the pipeline dropped (its index deleted, cleared or recreated, or the service gone),
  // forgets its in-memory split and wakes its waiters. REQUIRES: mu held.
  void MarkDroppedLocked() {
    {
      std::lock_guard<std::mutex> write_lock(wal_write_mu);
      dropped = true;
    }
    writer.reset();
    committed_cv.notify_all();
    applied_cv.notify_all();
  }

  // REQUIRES: mu held.
  bool WriterIsFullLocked() const {
    return writer != nullptr && SplitWriterIsFull(*writer, config().indexing_settings);
  }
};

struct IngestService::ProcessedBody {
  IngestResult result;  // num_docs_for_processing, num_rejected_docs, parse_failures
  // The accepted documents in body order, one batch per part of the body.
  std::vector<index::ProcessedDocs> batches;
  std::vector<std::string_view> accepted_lines;  // views into the body, one per doc
  std::map<std::string, uint64_t> rejected_by_reason;
  uint64_t accepted_bytes = 0;

  // Appends `other`, which holds the lines that follow this part's.
  void Append(ProcessedBody&& other) {
    result.num_docs_for_processing += other.result.num_docs_for_processing;
    result.num_rejected_docs += other.result.num_rejected_docs;
    for (ParseFailure& failure : other.result.parse_failures) {
      result.parse_failures.push_back(std::move(failure));
    }
    for (index::ProcessedDocs& batch : other.batches) batches.push_back(std::move(batch));
    accepted_lines.insert(accepted_lines.end(), other.accepted_lines.begin(),
                          other.accepted_lines.end());
    for (const auto& [reason, count] : other.rejected_by_reason) {
      rejected_by_reason[reason] += count;
    }
    accepted_bytes += other.accepted_bytes;
  }
};

index::ProcessedDocs IngestService::AcquireBatch() {
  std::lock_guard<std::mutex> lock(batch_pool_mu_);
  if (batch_pool_.empty()) return index::ProcessedDocs();
  index::ProcessedDocs batch = std::move(batch_pool_.back());
  batch_pool_.pop_back();
  batch_pool_bytes_ -= batch.capacity_bytes();
  return batch;
}

void IngestService::ReleaseBatch(index::ProcessedDocs batch) {
  batch.Clear();
  const uint64_t bytes = batch.capacity_bytes();
  std::lock_guard<std::mutex> lock(batch_pool_mu_);
  if (batch_pool_bytes_ + bytes > kMaxPooledBatchBytes) return;  // freed
  batch_pool_bytes_ += bytes;
  batch_pool_.push_back(std::move(batch));
}

namespace {

// Adds documents [begin, end) of `batches` (taken as one sequence) to `writer`.
void AddDocumentRange(const std::vector<index::ProcessedDocs>& batches, size_t begin, size_t end,
                      index::SplitWriter& writer) {
  size_t batch_start = 0;  // index of the first document of the batch
  for (const index::ProcessedDocs& batch : batches) {
    const size_t batch_end = batch_start + batch.size();
    if (batch_end > begin && batch_start < end) {
      writer.AddDocuments(batch, std::max(begin, batch_start) - batch_start,
                          std::min(end, batch_end) - batch_start);
    }
    batch_start = batch_end;
  }
}

}  // namespace

IngestService::ProcessedBody IngestService::ProcessBody(const IndexPipeline& pipeline,
                                                        std::string_view ndjson,
                                                        bool detailed_response) {
  const auto process_part = [this, &pipeline, detailed_response](std::string_view part) {
    ProcessedBody out;
    out.batches.push_back(AcquireBatch());
    index::ProcessedDocs& docs = out.batches.back();
    ForEachNdjsonLine(part, [&](std::string_view line) {
      ++out.result.num_docs_for_processing;
      const absl::Status processed =
          ProcessDocument(*pipeline.processor, pipeline.config().doc_mapping, line, docs);
      if (!processed.ok()) {
        ++out.result.num_rejected_docs;
        const char* reason = RejectionReason(processed);
        ++out.rejected_by_reason[reason];
        if (detailed_response) {
          out.result.parse_failures.push_back(
              {std::string(line.substr(0, kMaxFailureDocumentBytes)),
               std::string(processed.message()), QuickwitParseFailureReason(reason), reason});
        }
        return;
      }
      out.accepted_bytes += line.size();
      out.accepted_lines.push_back(line);
    });
    return out;
  };
  if (processing_pool_ == nullptr || ndjson.size() < kMinParallelBodyBytes) {
    return process_part(ndjson);
  }
  // Cut the body into parts of about kParallelPartBytes, at line boundaries. This thread and
  // the helpers claim parts one at a time, so this thread never waits for a part that is queued
  // on a helper busy with other requests: it processes it itself.
  const size_t num_parts = std::clamp<size_t>(ndjson.size() / kParallelPartBytes, 2, 64);
  struct Shared {
    std::vector<std::string_view> parts;
    std::vector<ProcessedBody> results;
    std::unique_ptr<std::atomic<bool>[]> claimed;
    std::mutex mu;
    std::condition_variable done_cv;
    size_t num_done = 0;
    // Set while this call waits: a helper runs it only on a part it claimed, so only then.
    std::function<ProcessedBody(std::string_view)> process;
  };
  auto shared = std::make_shared<Shared>();
  size_t begin = 0;
  for (size_t i = 1; i <= num_parts && begin < ndjson.size(); ++i) {
    size_t end = i == num_parts ? ndjson.size() : ndjson.size() * i / num_parts;
    end = std::max(end, begin);
    const size_t newline = ndjson.find('\n', end == 0 ? 0 : end - 1);
    end = newline == std::string_view::npos ? ndjson.size() : newline + 1;
    shared->parts.push_back(ndjson.substr(begin, end - begin));
    begin = end;
  }
  const size_t n = shared->parts.size();
  shared->results.resize(n);
  shared->claimed = std::make_unique<std::atomic<bool>[]>(n);
  shared->process = process_part;
  // Claims and processes parts until none is left.
  const auto work = [](Shared& state) {
    for (size_t i = 0; i < state.parts.size(); ++i) {
      if (state.claimed[i].exchange(true)) continue;
      ProcessedBody result = state.process(state.parts[i]);
      std::lock_guard<std::mutex> lock(state.mu);
      state.results[i] = std::move(result);
      if (++state.num_done == state.parts.size()) state.done_cv.notify_all();
    }
  };
  const size_t num_helpers = std::min(static_cast<size_t>(processing_pool_->num_threads()), n - 1);
  for (size_t i = 0; i < num_helpers; ++i) {
    // A helper that starts after every part is claimed finds nothing to do: it holds `shared`,
    // nothing of this call.
    if (!processing_pool_->Submit([shared, work] { work(*shared); })) break;  // shutting down
  }
  work(*shared);
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->done_cv.wait(lock, [&] { return shared->num_done == n; });
  shared->process = nullptr;
  ProcessedBody body = std::move(shared->results[0]);
  for (size_t i = 1; i < n; ++i) body.Append(std::move(shared->results[i]));
  return body;
}

IngestService::IngestService(metastore::Metastore* metastore,
                             storage::StorageResolver* storage_resolver,
                             IngestServiceOptions options)
    : metastore_(metastore),
      storage_resolver_(storage_resolver),
      options_(std::move(options)),
      wal_partition_id_(WalPartitionId(options_.node_id)),
      wal_disk_budget_(options_.max_wal_disk_usage_bytes),
      commit_pools_(MakeCommitPools(options_.num_pipelines_per_index)),
      processing_pool_(
          options_.num_processing_threads > 0
              ? std::make_unique<ThreadPool>("ingest-process", options_.num_processing_threads)
              : nullptr),
      docs_ingested_(MetricsRegistry::Global().GetCounter("shale_ingest_docs_total",
                                                          "Documents accepted by the ingest API")),
      docs_rejected_(MetricsRegistry::Global().GetCounter("shale_ingest_docs_rejected_total",
                                                          "Documents rejected by doc processing")),
      bytes_ingested_(MetricsRegistry::Global().GetCounter("shale_ingest_bytes_total",
                                                           "Bytes of accepted documents")),
      splits_published_(MetricsRegistry::Global().GetCounter(
          "shale_indexing_splits_published_total", "Splits published by indexing")),
      commit_failures_(MetricsRegistry::Global().GetCounter(
          "shale_indexing_commit_failures_total", "Commits that failed to publish a split")),
      docs_replayed_(MetricsRegistry::Global().GetCounter(
          "shale_wal_replayed_docs_total", "Documents replayed from the ingest WAL")),
      idempotent_replays_(MetricsRegistry::Global().GetCounter(
          "shale_ingest_idempotent_replays_total",
          "Ingest requests answered from an idempotency key accepted before (nothing indexed)")) {}

IngestService::~IngestService() { Stop(); }

ThreadPool& IngestService::CommitPool(const IndexPipeline& pipeline) {
  return *commit_pools_[static_cast<size_t>(pipeline.shard) % commit_pools_.size()];
}

void IngestService::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (commit_timeout_thread_.joinable() || stopping_) return;
  commit_timeout_thread_ = std::thread([this] { CommitTimeoutLoop(); });
}

absl::StatusOr<std::shared_ptr<Wal>> IngestService::GetOrOpenWalLocked(const std::string& directory,
                                                                       uint64_t min_next_position) {
  auto it = wals_.find(directory);
  if (it != wals_.end()) return it->second;
  WalOptions wal_options;
  wal_options.durability = options_.wal_durability;
  wal_options.max_segment_bytes = options_.wal_max_segment_bytes;
  wal_options.min_next_position = min_next_position;
  wal_options.disk_budget = &wal_disk_budget_;
  ASSIGN_OR_RETURN(std::unique_ptr<Wal> wal, Wal::Open(directory, wal_options));
  std::shared_ptr<Wal> shared = std::move(wal);
  wals_.emplace(directory, shared);
  return shared;
}

absl::StatusOr<std::shared_ptr<IngestService::IndexPipeline>> IngestService::GetOrCreatePipeline(
    const std::string& index_id, int shard) {
  ASSIGN_OR_RETURN(metastore::IndexMetadata metadata, metastore_->GetIndexMetadata(index_id));
  // Creation (and its WAL replay) happens under mu_, so one pipeline per shard ever replays.
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("indexer is shutting down");
  const std::pair<std::string, int> key(index_id, shard);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end() && it->second->metadata.index_uid == metadata.index_uid) {
    return it->second;
  }
  auto pipeline = std::make_shared<IndexPipeline>();
  if (processing_pool_ != nullptr) {
    pipeline->docstore_executor = [pool = processing_pool_.get()](std::function<void()> task) {
      return pool->Submit(std::move(task));
    };
  }
  pipeline->keys = std::make_unique<IdempotencyKeys>(options_.idempotency_retention_millis,
                                                     options_.idempotency_max_keys);
  ASSIGN_OR_RETURN(pipeline->processor,
                   index::DocProcessor::Create(metadata.index_config.doc_mapping));
  ASSIGN_OR_RETURN(pipeline->storage, ResolveIndexStorage(*storage_resolver_, metadata));
  pipeline->shard = shard;
  pipeline->partition_id = ShardPartitionId(wal_partition_id_, shard);
  const std::string checkpoint = StoredWalCheckpoint(metadata, pipeline->partition_id, shard);
  pipeline->published_checkpoint = checkpoint;
  pipeline->partition_checkpoint = StoredPartitionCheckpoint(metadata, pipeline->partition_id);
  if (!options_.wal_root.empty()) {
    ASSIGN_OR_RETURN(uint64_t checkpoint_position, WalPositionFromCheckpoint(checkpoint));
    ASSIGN_OR_RETURN(
        pipeline->wal,
        GetOrOpenWalLocked(WalDirectoryForIndex(options_.wal_root, metadata.index_uid, shard),
                           checkpoint_position));
    pipeline->next_apply_position = pipeline->wal->next_position();
    // The keys of deleted WAL segments; those of the remaining ones come with the replay.
    std::ifstream snapshot(IdempotencySnapshotPath(pipeline->wal->directory()));
    if (snapshot) {
      std::ostringstream text;
      text << snapshot.rdbuf();
      absl::Status loaded = pipeline->keys->LoadSnapshot(text.str(), UnixMillisNow());
      if (!loaded.ok()) {
        // Keys are lost, not documents: resends of those keys may be indexed twice.
        SHALE_LOG_ERROR("idempotency key snapshot unreadable index_id={} error={}",
                        metadata.index_id(), loaded.ToString());
      }
    }
  }
  pipeline->metadata = std::move(metadata);
  // The index's heap_size is shared by its pipelines.
  uint64_t& heap_size = pipeline->metadata.index_config.indexing_settings.heap_size_bytes;
  heap_size = std::max<uint64_t>(1, heap_size / std::max(1, options_.num_pipelines_per_index));

  if (it != pipelines_.end()) {
    // The index was deleted and recreated: the old pipeline's documents belong to the old one.
    std::lock_guard<std::mutex> old_lock(it->second->mu);
    it->second->MarkDroppedLocked();
    it->second = pipeline;
  } else {
    pipelines_.emplace(key, pipeline);
  }
  if (pipeline->wal != nullptr) {
    std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
    absl::Status replayed = ReplayLocked(pipeline, checkpoint, /*schedule_commits=*/true);
    if (!replayed.ok()) {
      pipeline->MarkDroppedLocked();
      pipelines_.erase(key);
      return replayed;
    }
  }
  return pipeline;
}

absl::Status IngestService::ReplayLocked(const std::shared_ptr<IndexPipeline>& pipeline,
                                         const std::string& checkpoint, bool schedule_commits) {
  ASSIGN_OR_RETURN(const uint64_t from, WalPositionFromCheckpoint(checkpoint));
  pipeline->published_checkpoint = checkpoint;
  // From the first record: idempotency keys below the checkpoint are still wanted.
  ASSIGN_OR_RETURN(std::unique_ptr<WalReader> reader, pipeline->wal->ReadFrom(0));
  uint64_t num_records = 0;
  uint64_t num_docs = 0;
  const int64_t now_millis = UnixMillisNow();
  index::ProcessedDocs replay_docs;  // one document at a time, its buffers reused
  // A record read ahead (past a keyed request's own) and handed back to the loop.
  std::optional<WalRecord> read_ahead;
  // The next record to replay; std::nullopt at the end and at records written by requests that
  // have not applied theirs yet (they will).
  auto next = [&]() -> absl::StatusOr<std::optional<WalRecord>> {
    std::optional<WalRecord> record;
    if (read_ahead.has_value()) {
      record = std::exchange(read_ahead, std::nullopt);
    } else {
      ASSIGN_OR_RETURN(record, reader->Next());
    }
    if (record.has_value() && record->position >= pipeline->next_apply_position) record.reset();
    return record;
  };
  auto replay_documents = [&](const WalRecord& record) -> absl::Status {
    if (record.position < from) return absl::OkStatus();
    absl::Status status;
    ForEachNdjsonLine(record.payload, [&](std::string_view line) {
      if (!status.ok()) return;
      replay_docs.Clear();
      const absl::Status processed =
          ProcessDocument(*pipeline->processor, pipeline->config().doc_mapping, line, replay_docs);
      if (!processed.ok()) {
        // Only accepted lines are logged, so this means the doc processor changed its mind.
        SHALE_LOG_WARN("wal document rejected on replay index_id={} position={} error={}",
                       pipeline->config().index_id, record.position, processed.ToString());
        ++pipeline->num_rejected_docs[RejectionReason(processed)];
        return;
      }
      status = pipeline->EnsureWriterLocked();
      if (!status.ok()) return;
      pipeline->writer->AddDocuments(replay_docs, 0, 1);
      ++num_docs;
    });
    RETURN_IF_ERROR(status);
    ++num_records;
    pipeline->writer_wal_end = record.position + 1;
    if (schedule_commits && pipeline->WriterIsFullLocked()) ScheduleCommitLocked(pipeline);
    return absl::OkStatus();
  };
  while (true) {
    ASSIGN_OR_RETURN(std::optional<WalRecord> record, next());
    if (!record.has_value()) break;
    if (record->kind == WalRecordKind::kDocuments) {
      RETURN_IF_ERROR(replay_documents(*record));
      continue;
    }
    if (record->kind != WalRecordKind::kIdempotencyKey) continue;
    auto key = DecodeIdempotencyRecord(record->payload);
    if (!key.ok()) {
      // A key is lost, not a document: never block the replay of the documents for it.
      SHALE_LOG_ERROR("idempotency key record unreadable index_id={} position={} error={}",
                      pipeline->config().index_id, record->position, key.status().ToString());
      continue;
    }
    // The request's documents records follow at the next positions. A crash during its write
    // may have kept only a prefix of them (the torn rest is truncated at open), and the
    // positions after the last kept record then went to later requests. The key counts only
    // when all its records are there (each with its hash, when the record has them); the
    // records of an incomplete request are skipped (it was never acknowledged, its client
    // resends it); the first record that is not the request's is replayed as usual.
    std::vector<WalRecord> documents;
    bool complete = true;
    for (uint64_t i = 0; i < key->num_document_records; ++i) {
      ASSIGN_OR_RETURN(std::optional<WalRecord> document, next());
      const bool own = document.has_value() && document->kind == WalRecordKind::kDocuments &&
                       document->position == record->position + 1 + i &&
                       (key->document_hashes.empty() ||
                        DocumentRecordHash(document->payload) == key->document_hashes[i]);
      if (!own) {
        read_ahead = std::move(document);  // empty at the end
        complete = false;
        break;
      }
      documents.push_back(*std::move(document));
    }
    if (!complete) {
      SHALE_LOG_WARN(
          "wal request incomplete, its key and {} of its {} documents records skipped "
          "index_id={} key_position={}",
          documents.size(), key->num_document_records, pipeline->config().index_id,
          record->position);
      continue;
    }
    if (!key->key.empty()) {
      pipeline->keys->Restore(key->key, key->counts, key->accepted_at_millis,
                              record->position + 1 + key->num_document_records, now_millis);
    }
    for (const WalRecord& document : documents) RETURN_IF_ERROR(replay_documents(document));
  }
  pipeline->num_replayed_docs += num_docs;
  docs_replayed_.Increment(static_cast<int64_t>(num_docs));
  if (num_records > 0) {
    SHALE_LOG_INFO(
        "wal replayed index_id={} index_uid={} from_checkpoint={} num_records={} num_docs={}",
        pipeline->config().index_id, pipeline->metadata.index_uid,
        checkpoint.empty() ? std::string("\"\"") : checkpoint, num_records, num_docs);
  }
  return absl::OkStatus();
}

absl::Status IngestService::Recover() {
  if (options_.wal_root.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<metastore::IndexMetadata> indexes, metastore_->ListIndexes());
  std::map<std::string, std::string> index_id_by_directory;  // of shard 0
  for (const metastore::IndexMetadata& metadata : indexes) {
    index_id_by_directory[WalDirectoryForIndex(options_.wal_root, metadata.index_uid)] =
        metadata.index_id();
  }
  std::error_code error;
  std::filesystem::create_directories(options_.wal_root, error);
  if (error) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create wal directory `{}`: {}", options_.wal_root, error.message()));
  }
  std::vector<std::string> directories;
  for (const auto& entry : std::filesystem::directory_iterator(options_.wal_root, error)) {
    if (entry.is_directory()) directories.push_back(entry.path().string());
  }
  if (error) {
    return absl::FailedPreconditionError(
        fmt::format("cannot list wal directory `{}`: {}", options_.wal_root, error.message()));
  }
  for (const std::string& directory : directories) {
    const auto [shard_zero_directory, shard] = ParseWalShardDirectory(directory);
    auto found = index_id_by_directory.find(shard_zero_directory);
    if (found == index_id_by_directory.end()) {
      std::filesystem::remove_all(directory, error);
      SHALE_LOG_INFO("wal of a deleted index removed directory={} error={}", directory,
                     error ? error.message() : std::string("none"));
      continue;
    }
    auto pipeline = GetOrCreatePipeline(found->second, shard);
    if (!pipeline.ok()) {
      SHALE_LOG_ERROR("wal recovery failed index_id={} shard={} error={}", found->second, shard,
                      pipeline.status().ToString());
      continue;
    }
    std::lock_guard<std::mutex> lock((*pipeline)->mu);
    ScheduleCommitLocked(*pipeline);
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestResult> IngestService::Ingest(const std::string& index_id,
                                                   std::string_view ndjson, CommitMode commit_mode,
                                                   bool detailed_response,
                                                   std::string_view idempotency_key) {
  const std::string key(idempotency_key);
  if (!key.empty()) RETURN_IF_ERROR(ValidateIdempotencyKey(key));
  ASSIGN_OR_RETURN(std::shared_ptr<IndexPipeline> pipeline, PickPipeline(index_id, key));
  ++pipeline->requests_in_flight;
  struct InFlightGuard {
    IndexPipeline& pipeline;
    ~InFlightGuard() { --pipeline.requests_in_flight; }
  } in_flight_guard{*pipeline};
  if (!key.empty()) {
    std::unique_lock<std::mutex> lock(pipeline->mu);
    if (pipeline->dropped)
      return absl::NotFoundError(fmt::format("index {} was deleted", index_id));
    const IdempotencyKeys::Lookup lookup = pipeline->keys->Begin(key, UnixMillisNow());
    if (lookup.state == IdempotencyKeys::KeyState::kInFlight) {
      return absl::AlreadyExistsError(fmt::format(
          "a request with idempotency key `{}` for index {} is still in flight; retry once it "
          "is answered",
          key, index_id));
    }
    if (lookup.state == IdempotencyKeys::KeyState::kAccepted) {
      return ReplayIdempotentLocked(pipeline, lock, lookup, commit_mode);
    }
  }
  // From here the key is in flight: every failure forgets it (nothing was accepted).
  bool key_accepted = false;
  struct KeyGuard {
    std::function<void()> on_exit;
    ~KeyGuard() { on_exit(); }
  } key_guard{[&] {
    if (key.empty() || key_accepted) return;
    std::lock_guard<std::mutex> lock(pipeline->mu);
    pipeline->keys->Abort(key);
  }};

  // Doc processing happens outside any lock, so concurrent requests parse in parallel (and the
  // parts of a large body too).
  ProcessedBody body = ProcessBody(*pipeline, ndjson, detailed_response);
  // The batches go back to the pool once added (or when the request fails before).
  struct BatchesGuard {
    IngestService& service;
    std::vector<index::ProcessedDocs>& batches;
    void Release() {
      for (index::ProcessedDocs& batch : batches) service.ReleaseBatch(std::move(batch));
      batches.clear();
    }
    ~BatchesGuard() { Release(); }
  } batches_guard{*this, body.batches};
  IngestResult result = std::move(body.result);
  const std::vector<index::ProcessedDocs>& batches = body.batches;
  std::vector<std::string_view>& accepted_lines = body.accepted_lines;
  const std::map<std::string, uint64_t>& rejected_by_reason = body.rejected_by_reason;
  const uint64_t accepted_bytes = body.accepted_bytes;
  const size_t num_docs = accepted_lines.size();
  result.num_ingested_docs = num_docs;

  // One WAL record per chunk of at most split_num_docs_target documents, so splits are cut at
  // record boundaries and each split covers whole records.
  const config::IndexingSettings& settings = pipeline->config().indexing_settings;
  const size_t chunk_docs = std::max<uint64_t>(1, settings.split_num_docs_target);
  const IngestCounts counts{result.num_docs_for_processing, result.num_ingested_docs,
                            result.num_rejected_docs};
  const int64_t accepted_at_millis = UnixMillisNow();
  std::vector<WalEntry> entries;
  // The key record goes first, in the same write (and fsync) as the documents, and is encoded
  // once their records are known (it holds their hashes). A request without a key gets one
  // with the key "" when it has several documents records, so that recovery skips all of them
  // when a crash tore the write, as for a keyed request.
  const size_t num_chunks = (accepted_lines.size() + chunk_docs - 1) / chunk_docs;
  const bool key_record = !key.empty() || num_chunks > 1;
  const size_t key_records = key_record ? 1 : 0;
  if (key_record) entries.push_back(WalEntry{WalRecordKind::kIdempotencyKey, {}, {}});
  // A record's payload is its lines, each followed by '\n': views into the body, a run of lines
  // that follow each other there (with their '\n') being one piece. No copy.
  const char* const body_end = ndjson.data() + ndjson.size();
  static constexpr std::string_view kNewline = "\n";
  for (size_t first = 0; first < accepted_lines.size(); first += chunk_docs) {
    WalEntry entry{WalRecordKind::kDocuments, {}, {}};
    const size_t last = std::min(accepted_lines.size(), first + chunk_docs);
    std::vector<std::string_view>& pieces = entry.pieces;
    const char* run_end = nullptr;  // end of the last piece when it is a run of the body
    for (size_t i = first; i < last; ++i) {
      const std::string_view line = accepted_lines[i];
      const char* line_end = line.data() + line.size();
      if (run_end == line.data()) {
        pieces.back() = std::string_view(pieces.back().data(), pieces.back().size() + line.size());
      } else {
        pieces.push_back(line);
      }
      if (line_end < body_end && *line_end == '\n') {
        pieces.back() = std::string_view(pieces.back().data(), pieces.back().size() + 1);
        run_end = line_end + 1;
      } else {
        pieces.push_back(kNewline);  // the body's last line, or a line ending in "\r\n"
        run_end = nullptr;
      }
    }
    entries.push_back(std::move(entry));
  }
  if (key_record) {
    IdempotencyRecord record{key, accepted_at_millis, counts, entries.size() - 1, {}};
    record.document_hashes.reserve(entries.size() - 1);
    for (size_t i = 1; i < entries.size(); ++i) {
      record.document_hashes.push_back(DocumentRecordHash(entries[i].pieces));
    }
    entries[0].payload = EncodeIdempotencyRecord(record);
  }

  const bool use_wal = pipeline->wal != nullptr && !entries.empty();
  uint64_t first_position = 0;
  if (use_wal) {
    // Not under `mu`: while a request adds its documents, the next ones write their records
    // (and fsync them below). The WAL gives positions in write order; each request applies its
    // records in that order (next_apply_position).
    std::lock_guard<std::mutex> lock(pipeline->wal_write_mu);
    if (pipeline->dropped)
      return absl::NotFoundError(fmt::format("index {} was deleted", index_id));
    ASSIGN_OR_RETURN(first_position, pipeline->wal->WriteEntries(entries));
  }
  // Outside the lock: concurrent requests share one fsync (the WAL's group commit).
  const absl::Status synced =
      use_wal ? pipeline->wal->Sync(first_position + entries.size()) : absl::OkStatus();
  if (use_wal && synced.ok()) CrashPoint(kCrashIngestAfterWalAppend);

  uint64_t first_generation = 0;
  uint64_t wait_generation = 0;
  {
    std::unique_lock<std::mutex> lock(pipeline->mu);
    if (use_wal) {
      pipeline->applied_cv.wait(lock, [&] {
        return pipeline->next_apply_position == first_position || pipeline->dropped;
      });
      if (!pipeline->dropped) {
        pipeline->next_apply_position = first_position + entries.size();
        pipeline->applied_cv.notify_all();
      }
      // Not durable, so not acknowledged and not indexed now (a restart may still find it).
      if (!synced.ok()) return synced;
    }
    if (pipeline->dropped)
      return absl::NotFoundError(fmt::format("index {} was deleted", index_id));
    if (!key.empty()) {
      // Durable with its documents: resends are answered from now on.
      pipeline->keys->Accept(
          key, counts, accepted_at_millis,
          use_wal ? std::optional<uint64_t>(first_position + entries.size()) : std::nullopt);
      key_accepted = true;
    }
    for (size_t chunk = 0; chunk * chunk_docs < num_docs; ++chunk) {
      RETURN_IF_ERROR(pipeline->EnsureWriterLocked());
      const size_t end = std::min(num_docs, (chunk + 1) * chunk_docs);
      AddDocumentRange(batches, chunk * chunk_docs, end, *pipeline->writer);
      if (use_wal) pipeline->writer_wal_end = first_position + key_records + chunk + 1;
      if (first_generation == 0) first_generation = pipeline->writer_generation;
      wait_generation = pipeline->writer_generation;
      if (pipeline->WriterIsFullLocked()) ScheduleCommitLocked(pipeline);
    }
    batches_guard.Release();
    if (commit_mode == CommitMode::kForce && pipeline->writer != nullptr) {
      if (first_generation == 0) first_generation = pipeline->writer_generation;
      wait_generation = pipeline->writer_generation;
      ScheduleCommitLocked(pipeline);
    }
    if (commit_mode != CommitMode::kAuto && wait_generation == 0 &&
        pipeline->writer_generation - 1 > pipeline->committed_generation) {
      // Nothing of its own to wait for (an empty body, say), but commits scheduled before are
      // still running (a recovery, a full split): a flush returns once they are published.
      first_generation = pipeline->committed_generation + 1;
      wait_generation = pipeline->writer_generation - 1;
    }
    pipeline->num_ingested_docs += result.num_ingested_docs;
    for (const auto& [reason, count] : rejected_by_reason) {
      pipeline->num_rejected_docs[reason] += count;
    }
    docs_ingested_.Increment(static_cast<int64_t>(result.num_ingested_docs));
    docs_rejected_.Increment(static_cast<int64_t>(result.num_rejected_docs));
    bytes_ingested_.Increment(static_cast<int64_t>(accepted_bytes));

    if (commit_mode == CommitMode::kWaitFor && wait_generation > 0) {
      RETURN_IF_ERROR(WaitForCommitsLocked(*pipeline, lock, first_generation, wait_generation));
    }
  }
  if (commit_mode == CommitMode::kForce) {
    // A forced commit makes every document of the index acknowledged so far searchable, in
    // whichever of its pipelines. Every pipeline's commit is scheduled before any is waited
    // for, so that they build their splits in parallel.
    std::vector<ScheduledFlush> flushes;
    for (const std::shared_ptr<IndexPipeline>& other : OtherPipelines(pipeline)) {
      std::optional<ScheduledFlush> flush = ScheduleFlush(other);
      if (flush.has_value()) flushes.push_back(*std::move(flush));
    }
    if (wait_generation > 0) {
      std::unique_lock<std::mutex> lock(pipeline->mu);
      RETURN_IF_ERROR(WaitForCommitsLocked(*pipeline, lock, first_generation, wait_generation));
    }
    for (const ScheduledFlush& flush : flushes) {
      std::unique_lock<std::mutex> lock(flush.pipeline->mu);
      RETURN_IF_ERROR(WaitForCommitsLocked(*flush.pipeline, lock, flush.first_generation,
                                           flush.last_generation));
    }
  }
  return result;
}

absl::StatusOr<std::shared_ptr<IngestService::IndexPipeline>> IngestService::PickPipeline(
    const std::string& index_id, const std::string& idempotency_key) {
  const int num_pipelines = std::max(1, options_.num_pipelines_per_index);
  int shard = 0;
  if (!idempotency_key.empty()) {
    // A hash stable across restarts (absl::Hash is seeded per process).
    shard = static_cast<int>(XXH64(idempotency_key.data(), idempotency_key.size(), 0) %
                             static_cast<uint64_t>(num_pipelines));
  } else if (num_pipelines > 1) {
    // The least busy; a shard without a pipeline yet counts as idle.
    std::lock_guard<std::mutex> lock(mu_);
    int least = INT_MAX;
    for (int candidate = 0; candidate < num_pipelines && least > 0; ++candidate) {
      auto it = pipelines_.find(std::make_pair(index_id, candidate));
      const int busy = it == pipelines_.end() ? 0 : it->second->requests_in_flight.load();
      if (busy < least) {
        least = busy;
        shard = candidate;
      }
    }
  }
  return GetOrCreatePipeline(index_id, shard);
}

std::vector<std::shared_ptr<IngestService::IndexPipeline>> IngestService::PipelinesOfLocked(
    const std::string& index_id) const {
  std::vector<std::shared_ptr<IndexPipeline>> pipelines;
  for (auto it = pipelines_.lower_bound(std::make_pair(index_id, 0));
       it != pipelines_.end() && it->first.first == index_id; ++it) {
    pipelines.push_back(it->second);
  }
  return pipelines;
}

std::vector<std::shared_ptr<IngestService::IndexPipeline>> IngestService::OtherPipelines(
    const std::shared_ptr<IndexPipeline>& pipeline) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<IndexPipeline>> others =
      PipelinesOfLocked(pipeline->config().index_id);
  std::erase_if(others, [&](const std::shared_ptr<IndexPipeline>& other) {
    return other == pipeline || other->metadata.index_uid != pipeline->metadata.index_uid;
  });
  return others;
}

std::optional<IngestService::ScheduledFlush> IngestService::ScheduleFlush(
    const std::shared_ptr<IndexPipeline>& pipeline) {
  std::lock_guard<std::mutex> lock(pipeline->mu);
  if (pipeline->dropped) return std::nullopt;
  const uint64_t first_generation = pipeline->committed_generation + 1;
  ScheduleCommitLocked(pipeline);
  const uint64_t last_generation = pipeline->writer_generation - 1;
  if (last_generation < first_generation) return std::nullopt;  // nothing scheduled
  return ScheduledFlush{pipeline, first_generation, last_generation};
}

absl::Status IngestService::WaitForCommitsLocked(IndexPipeline& pipeline,
                                                 std::unique_lock<std::mutex>& lock,
                                                 uint64_t first_generation,
                                                 uint64_t last_generation) {
  pipeline.committed_cv.wait(
      lock, [&] { return pipeline.committed_generation >= last_generation || pipeline.dropped; });
  if (pipeline.dropped) {
    return absl::NotFoundError(
        fmt::format("index {} was deleted or cleared", pipeline.config().index_id));
  }
  // Any of those generations that failed to publish fails the wait.
  auto failed = pipeline.failed_generations.lower_bound(first_generation);
  if (failed != pipeline.failed_generations.end() && failed->first <= last_generation) {
    return failed->second;
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestResult> IngestService::ReplayIdempotentLocked(
    const std::shared_ptr<IndexPipeline>& pipeline, std::unique_lock<std::mutex>& lock,
    const IdempotencyKeys::Lookup& lookup, CommitMode commit_mode) {
  IngestResult result;
  result.num_docs_for_processing = lookup.counts.num_docs_for_processing;
  result.num_ingested_docs = lookup.counts.num_ingested_docs;
  result.num_rejected_docs = lookup.counts.num_rejected_docs;
  result.idempotent_replay = true;
  ++pipeline->num_idempotent_replays;
  idempotent_replays_.Increment();
  // wait_for / force: the first request's documents must be searchable before answering.
  if (commit_mode == CommitMode::kAuto || lookup.counts.num_ingested_docs == 0) return result;
  if (pipeline->wal == nullptr) {
    // No positions (tests without a WAL): wait for the in-memory split, which may hold them.
    if (pipeline->writer == nullptr) return result;
    const uint64_t generation = pipeline->writer_generation;
    if (commit_mode == CommitMode::kForce) ScheduleCommitLocked(pipeline);
    pipeline->committed_cv.wait(
        lock, [&] { return pipeline->dropped || pipeline->committed_generation >= generation; });
  } else {
    // A key without position comes from the snapshot: its records are published.
    if (!lookup.wal_end.has_value() || pipeline->PublishedPositionLocked() >= *lookup.wal_end) {
      return result;
    }
    if (commit_mode == CommitMode::kForce) ScheduleCommitLocked(pipeline);
    pipeline->committed_cv.wait(lock, [&] {
      return pipeline->dropped || pipeline->PublishedPositionLocked() >= *lookup.wal_end;
    });
  }
  if (pipeline->dropped) {
    return absl::NotFoundError(
        fmt::format("index {} was deleted or cleared", pipeline->config().index_id));
  }
  return result;
}

absl::Status IngestService::PersistIdempotencyKeysLocked(
    const std::shared_ptr<IndexPipeline>& pipeline) {
  if (pipeline->wal == nullptr || !pipeline->keys->dirty()) return absl::OkStatus();
  return WriteFileAtomically(IdempotencySnapshotPath(pipeline->wal->directory()),
                             pipeline->keys->Snapshot(UnixMillisNow()));
}

void IngestService::ScheduleCommitLocked(const std::shared_ptr<IndexPipeline>& pipeline) {
  if (pipeline->writer == nullptr) return;
  const uint64_t generation = pipeline->writer_generation++;
  const uint64_t epoch = pipeline->epoch;
  const std::optional<uint64_t> wal_end = pipeline->writer_wal_end;
  pipeline->writer_wal_end.reset();
  pipeline->retry_commit_at.reset();
  // std::function must be copyable, so the writer travels in a shared holder and is moved out
  // exactly once by the commit task.
  auto writer_holder =
      std::make_shared<std::unique_ptr<index::SplitWriter>>(std::move(pipeline->writer));
  const bool submitted =
      CommitPool(*pipeline).Submit([this, pipeline, writer_holder, generation, epoch, wal_end]() {
        RunCommit(pipeline, std::move(*writer_holder), generation, epoch, wal_end);
      });
  if (!submitted) {
    pipeline->failed_generations[generation] = absl::UnavailableError("indexer is shutting down");
    pipeline->committed_generation = std::max(pipeline->committed_generation, generation);
    pipeline->committed_cv.notify_all();
  }
}

void IngestService::RunCommit(const std::shared_ptr<IndexPipeline>& pipeline,
                              std::unique_ptr<index::SplitWriter> writer, uint64_t generation,
                              uint64_t epoch, std::optional<uint64_t> wal_end_position) {
  absl::Status status;
  std::optional<metastore::CheckpointDelta> delta;
  {
    std::lock_guard<std::mutex> lock(pipeline->mu);
    if (abandoned_) {
      status = absl::AbortedError("indexer abandoned");
    } else if (pipeline->dropped) {
      status = absl::NotFoundError("index was deleted or cleared");
    } else if (epoch != pipeline->epoch) {
      status = absl::AbortedError(
          "an earlier commit failed; the documents are replayed from the wal and committed again");
    } else if (wal_end_position.has_value()) {
      // Commits run one at a time in schedule order, so the previous one has published.
      delta = metastore::CheckpointDelta{
          kIngestApiSourceId,
          {{pipeline->partition_id,
            {pipeline->partition_checkpoint, WalPositionToCheckpoint(*wal_end_position)}}}};
    }
  }
  if (status.ok()) {
    status = CommitSplit(*metastore_, options_.node_id, kIngestApiSourceId, pipeline->metadata,
                         *pipeline->storage, std::move(writer), delta, kIngestCommitCrashPoints);
  }
  if (status.ok()) {
    splits_published_.Increment();
    if (options_.on_split_published) options_.on_split_published(pipeline->metadata.index_uid);
  } else if (!abandoned_) {
    commit_failures_.Increment();
    SHALE_LOG_ERROR("commit failed index_id={} generation={} error={}", pipeline->config().index_id,
                    generation, status.ToString());
  }
  std::lock_guard<std::mutex> lock(pipeline->mu);
  if (status.ok()) {
    ++pipeline->num_published_splits;
    pipeline->retry_delay_millis = 0;
    if (delta.has_value()) {
      pipeline->published_checkpoint = delta->partitions.at(pipeline->partition_id).to;
      pipeline->partition_checkpoint = pipeline->published_checkpoint;
      // Only now may the records go: they are published with their checkpoint. Their
      // idempotency keys first go to the snapshot (or the records stay).
      absl::Status truncated = PersistIdempotencyKeysLocked(pipeline);
      if (truncated.ok()) truncated = pipeline->wal->TruncateBefore(*wal_end_position);
      if (!truncated.ok()) {
        SHALE_LOG_WARN("wal truncation failed index_id={} error={}", pipeline->config().index_id,
                       truncated.ToString());
      }
    }
  } else {
    pipeline->failed_generations[generation] = status;
    // Aborted: abandoned, or the commit of an epoch an earlier failure ended (not run).
    if (!absl::IsAborted(status) && !pipeline->dropped) {
      pipeline->last_commit_error = status.ToString();
      ++pipeline->num_commit_failures;
    }
  }
  pipeline->committed_generation = std::max(pipeline->committed_generation, generation);
  pipeline->committed_cv.notify_all();
  if (status.ok() || abandoned_ || pipeline->dropped || pipeline->wal == nullptr ||
      epoch != pipeline->epoch) {
    return;
  }
  // The failed split's records are still in the WAL, and later splits of this epoch must not
  // publish a checkpoint past them: rebuild the in-memory state from the published checkpoint
  // (re-read, in case the publish went through after all) and retry after a delay.
  ++pipeline->epoch;
  pipeline->writer.reset();
  pipeline->writer_wal_end.reset();
  std::string checkpoint = pipeline->published_checkpoint;
  auto metadata = metastore_->GetIndexMetadata(pipeline->config().index_id);
  if (metadata.ok() && metadata->index_uid == pipeline->metadata.index_uid) {
    checkpoint = StoredWalCheckpoint(*metadata, pipeline->partition_id, pipeline->shard);
    pipeline->partition_checkpoint = StoredPartitionCheckpoint(*metadata, pipeline->partition_id);
  }
  absl::Status replayed = ReplayLocked(pipeline, checkpoint, /*schedule_commits=*/false);
  if (!replayed.ok()) {
    SHALE_LOG_ERROR("wal replay after a failed commit failed index_id={} error={}",
                    pipeline->config().index_id, replayed.ToString());
  }
  if (pipeline->writer == nullptr) return;  // the publish went through after all
  pipeline->retry_delay_millis =
      pipeline->retry_delay_millis == 0
          ? options_.commit_retry_delay_millis
          : std::min(kMaxCommitRetryDelayMillis, 2 * pipeline->retry_delay_millis);
  pipeline->retry_commit_at =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(pipeline->retry_delay_millis);
}

void IngestService::CommitTimeoutLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.commit_check_interval_millis));
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<Wal>> wals_to_sync;
    for (auto& [key, pipeline] : pipelines_) {
      std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
      if (pipeline->wal != nullptr && options_.wal_durability == WalDurability::kAsync) {
        wals_to_sync.push_back(pipeline->wal);
      }
      if (pipeline->writer == nullptr) continue;
      const auto timeout =
          std::chrono::seconds(pipeline->config().indexing_settings.commit_timeout_secs);
      const bool retry_due =
          pipeline->retry_commit_at.has_value() && now >= *pipeline->retry_commit_at;
      if (retry_due ||
          (!pipeline->retry_commit_at.has_value() && now - pipeline->writer_opened_at >= timeout)) {
        ScheduleCommitLocked(pipeline);
      }
    }
    // The async durability timer: the loss window is one commit_check_interval_millis.
    lock.unlock();
    for (const std::shared_ptr<Wal>& wal : wals_to_sync) {
      absl::Status synced = wal->SyncNow();
      if (!synced.ok()) SHALE_LOG_ERROR("wal fsync failed error={}", synced.ToString());
    }
    lock.lock();
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
    for (auto& [key, pipeline] : pipelines_) {
      std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
      ScheduleCommitLocked(pipeline);
    }
  }
  for (const std::unique_ptr<ThreadPool>& pool : commit_pools_) pool->Stop();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [directory, wal] : wals_) {
    absl::Status synced = wal->SyncNow();
    if (!synced.ok()) SHALE_LOG_ERROR("wal fsync failed error={}", synced.ToString());
  }
}

void IngestService::AbandonForTesting() {
  abandoned_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (commit_timeout_thread_.joinable()) commit_timeout_thread_.join();
  for (const std::unique_ptr<ThreadPool>& pool : commit_pools_) pool->Stop();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, pipeline] : pipelines_) {
    std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
    pipeline->MarkDroppedLocked();
  }
  pipelines_.clear();
  wals_.clear();
}

void IngestService::DropIndex(const std::string& index_id, const std::string& index_uid,
                              DropMode mode) {
  // mu_ is held throughout, so no new pipeline of this index writes to the WAL until it is
  // truncated or removed.
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<IndexPipeline>& pipeline : PipelinesOfLocked(index_id)) {
    pipelines_.erase(std::make_pair(index_id, pipeline->shard));
    std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
    pipeline->MarkDroppedLocked();
  }
  if (options_.wal_root.empty() || index_uid.empty()) return;
  // Every shard's WAL directory, open or not.
  const std::string shard_zero = WalDirectoryForIndex(options_.wal_root, index_uid);
  std::set<std::string> directories = {shard_zero};
  std::error_code list_error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.wal_root, list_error)) {
    const std::string path = entry.path().string();
    if (entry.is_directory() && ParseWalShardDirectory(path).first == shard_zero) {
      directories.insert(path);
    }
  }
  absl::Status status;
  for (const std::string& directory : directories) {
    absl::Status dropped;
    if (mode == DropMode::kDelete) {
      auto wal = wals_.find(directory);
      if (wal != wals_.end()) {
        dropped = wal->second->Remove();
        wals_.erase(wal);
      } else {
        std::error_code error;
        std::filesystem::remove_all(directory, error);
        if (error) dropped = absl::InternalError(error.message());
      }
    } else {
      auto wal = GetOrOpenWalLocked(directory, 0);
      dropped = wal.ok() ? (*wal)->TruncateBefore((*wal)->next_position()) : wal.status();
      // A cleared index forgets its idempotency keys with its documents.
      std::error_code error;
      if (wal.ok()) std::filesystem::remove(IdempotencySnapshotPath((*wal)->directory()), error);
      if (dropped.ok() && error) dropped = absl::InternalError(error.message());
    }
    if (status.ok()) status = dropped;
  }
  if (!status.ok()) {
    SHALE_LOG_ERROR("wal drop failed index_id={} index_uid={} error={}", index_id, index_uid,
                    status.ToString());
  }
}

uint64_t IngestService::NumPendingDocs(const std::string& index_id) {
  std::vector<std::shared_ptr<IndexPipeline>> pipelines;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pipelines = PipelinesOfLocked(index_id);
  }
  uint64_t num_docs = 0;
  for (const std::shared_ptr<IndexPipeline>& pipeline : pipelines) {
    std::lock_guard<std::mutex> lock(pipeline->mu);
    if (pipeline->writer != nullptr) num_docs += pipeline->writer->num_docs();
  }
  return num_docs;
}

std::vector<IndexIngestStats> IngestService::Stats() {
  // One entry per index: the sums over its pipelines (shard 0's checkpoint and WAL position).
  std::vector<IndexIngestStats> stats;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, pipeline] : pipelines_) {
    std::lock_guard<std::mutex> pipeline_lock(pipeline->mu);
    if (stats.empty() || stats.back().index_id != key.first) {  // keys are in (id, shard) order
      stats.emplace_back();
      stats.back().index_id = key.first;
      stats.back().index_uid = pipeline->metadata.index_uid;
    }
    IndexIngestStats& entry = stats.back();
    entry.num_pending_docs += pipeline->writer == nullptr ? 0 : pipeline->writer->num_docs();
    if (pipeline->wal != nullptr) {
      entry.wal_disk_usage_bytes += pipeline->wal->DiskUsageBytes();
      if (key.second == 0) entry.wal_next_position = pipeline->wal->next_position();
    }
    if (key.second == 0) entry.published_checkpoint = pipeline->published_checkpoint;
    entry.num_published_splits += pipeline->num_published_splits;
    entry.num_ingested_docs += pipeline->num_ingested_docs;
    for (const auto& [reason, count] : pipeline->num_rejected_docs) {
      entry.num_rejected_docs[reason] += count;
    }
    entry.num_replayed_docs += pipeline->num_replayed_docs;
    entry.num_idempotency_keys += pipeline->keys->num_accepted();
    entry.num_idempotent_replays += pipeline->num_idempotent_replays;
    if (pipeline->retry_commit_at.has_value()) entry.state = "failed";
    if (entry.last_error.empty()) entry.last_error = pipeline->last_commit_error;
    entry.num_restarts += pipeline->epoch;
    entry.num_commit_failures += pipeline->num_commit_failures;
  }
  return stats;
}

}  // namespace shale::indexing
