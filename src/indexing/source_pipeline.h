// SourcePipeline: indexes one source (file, vec, void; see source.h) of one index, exactly once:
//
//   reader thread:  Source::NextBatch -> doc processor ──(bounded queue)──┐
//   indexer thread: in-memory split <─────────────────────────────────────┘
//                   -> commit: packager -> stage -> upload -> publish with the checkpoint delta
//
// The queue between the threads holds at most `queue_capacity` batches, so a slow indexer or a
// long upload blocks the reader (back-pressure). The indexer commits when the split reaches
// `split_num_docs_target` or `resources.heap_size`, when its first document is
// `commit_timeout_secs` old, when the source is exhausted (the pipeline then goes idle) and
// before reporting a source error. Each split is published together with the merged checkpoint
// deltas of its batches in one metastore call; a batch with no accepted document still moves
// the checkpoint (a publish without split).
//
// Supervision: any failure (reading, publishing, a delta that does not follow the stored
// checkpoint) drops the in-memory split, waits (1 s doubling to 60 s) and restarts the whole
// pipeline from the checkpoint stored in the metastore: documents of unpublished batches are
// read again, published ones never. The pipeline exits (state stopped) when its index, index uid
// or source is gone or the source is disabled.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"

#include "common/metrics.h"
#include "config/index_config.h"
#include "indexing/source.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

enum class SourcePipelineState {
  kRunning,  // reading and indexing
  kIdle,     // the source is exhausted and everything read is published
  kFailed,   // the last run failed; it restarts after a delay
  kStopped,  // stopped by Stop(), or the source was removed or disabled
};
// "running", "idle", "failed", "stopped".
const char* SourcePipelineStateName(SourcePipelineState state);

struct SourcePipelineStats {
  std::string index_id;
  std::string index_uid;
  std::string source_id;
  std::string source_type;
  SourcePipelineState state = SourcePipelineState::kRunning;
  std::string last_error;  // of the last failed run, "" if none
  uint64_t num_restarts = 0;
  // Counters since the pipeline was created (documents read again after a restart count twice).
  uint64_t num_docs_read = 0;  // lines given to the doc processor
  uint64_t num_ingested_docs = 0;
  std::map<std::string, uint64_t> num_rejected_docs;  // by reason
  uint64_t num_pending_docs = 0;                      // in the in-memory split
  uint64_t num_published_splits = 0;
  uint64_t num_published_docs = 0;
  metastore::SourceCheckpoint checkpoint;  // as published (or read at the start of a run)
};

struct SourcePipelineOptions {
  std::string node_id;
  size_t queue_capacity = 4;  // batches between the reader and the indexer
  int64_t initial_restart_delay_millis = 1000;
  int64_t max_restart_delay_millis = 60'000;
  // How often the indexer checks the commit timeout while no batch arrives.
  int64_t commit_check_interval_millis = 100;
  SourceOptions source;
};

class SourcePipeline {
 public:
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the pipeline.
  SourcePipeline(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
                 std::string index_id, std::string index_uid, config::SourceConfig source,
                 SourcePipelineOptions options);
  SourcePipeline(const SourcePipeline&) = delete;
  SourcePipeline& operator=(const SourcePipeline&) = delete;
  ~SourcePipeline();

  // Starts the supervisor thread. Idempotent.
  void Start();
  // Stops reading, drops the in-memory split (its documents are read again by the next run),
  // waits for a commit in progress and for the threads. Idempotent.
  void Stop();

  SourcePipelineStats Stats() const;
  const config::SourceConfig& source_config() const { return source_; }
  const std::string& index_uid() const { return index_uid_; }

 private:
  class Run;

  void SuperviseLoop();
  // One run from the stored checkpoint. Ok when the source is exhausted (idle) or the pipeline
  // must exit (stopped); the error of the failed stage otherwise.
  absl::Status RunOnce();
  void SetState(SourcePipelineState state);

  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const std::string index_id_;
  const std::string index_uid_;
  const config::SourceConfig source_;
  const SourcePipelineOptions options_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool started_ = false;
  bool stopping_ = false;
  SourcePipelineStats stats_;
  std::thread supervisor_;

  Counter& docs_read_;
  Counter& restarts_;
  Counter& splits_published_;
};

}  // namespace shale::indexing
