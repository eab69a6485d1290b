// IngestService: the ingest API's indexing side. Documents posted to /api/v1/{index}/ingest are
// processed (parsed, validated against the doc mapping), added to the index's in-memory split,
// and committed into an immutable split when a trigger fires: `commit=force`,
// `indexing_settings.commit_timeout_secs`, `split_num_docs_target` or `resources.heap_size`.
// A commit runs the packager -> uploader -> publisher steps: serialize the split, stage it in
// the metastore, upload it to the index storage, publish it.
//
// Durability (this version): acknowledged `commit=auto` documents live in memory until their
// commit publishes; a crash before that loses them. The write-ahead log that closes this window
// is the durable-pipeline issue's job and plugs in before the in-memory split (see
// docs/adr/001-ingest-without-wal-first.md).
//
// Thread safety: all methods are thread-safe. Documents of concurrent requests are processed in
// parallel; adding to the in-memory split and committing are serialized per index.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/thread_pool.h"
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
  std::string reason;  // "doc_mapping_error" or "invalid_json"
};

struct IngestResult {
  uint64_t num_docs_for_processing = 0;
  uint64_t num_ingested_docs = 0;
  uint64_t num_rejected_docs = 0;
  std::vector<ParseFailure> parse_failures;  // filled when requested
};

struct IngestServiceOptions {
  std::string node_id;
  // How often the commit-timeout checker wakes up.
  int64_t commit_check_interval_millis = 100;
  int num_commit_threads = 1;
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
  // commit is then reported as an error.
  absl::StatusOr<IngestResult> Ingest(const std::string& index_id, std::string_view ndjson,
                                      CommitMode commit_mode, bool detailed_response);

  // Forgets the in-memory documents of the index (used by clear and delete).
  void DropIndex(const std::string& index_id);

  // Number of documents of the index held in memory, not yet published.
  uint64_t NumPendingDocs(const std::string& index_id);

 private:
  class IndexPipeline;

  absl::StatusOr<std::shared_ptr<IndexPipeline>> GetOrCreatePipeline(const std::string& index_id);
  // Hands the pipeline's in-memory split to the commit thread. REQUIRES: pipeline->mu held.
  void ScheduleCommitLocked(const std::shared_ptr<IndexPipeline>& pipeline);
  void CommitTimeoutLoop();

  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const IngestServiceOptions options_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<IndexPipeline>> pipelines_;  // by index id
  std::thread commit_timeout_thread_;
  // One thread, so commits run in the order they were scheduled (per index and overall).
  ThreadPool commit_pool_;

  Counter& docs_ingested_;
  Counter& docs_rejected_;
  Counter& bytes_ingested_;
  Counter& splits_published_;
  Counter& commit_failures_;
};

}  // namespace shale::indexing
