// SourceService: the source pipelines (source_pipeline.h) of an indexer node, one per (index,
// source) for every enabled source whose type runs in a pipeline (file, vec, void; the ingest
// API's sources are served by IngestService, kafka is not implemented). The metastore is the
// source of truth: after changing an index's sources, callers call SyncIndex, which starts the
// missing pipelines and stops those whose source was deleted, disabled or changed (a changed
// source restarts from its stored checkpoint).
//
// Until a control plane assigns pipelines to indexers, every node with the indexer service runs
// every source pipeline; with several indexers the exactly-once publish keeps the result
// correct (a duplicate's delta does not follow the checkpoint) but the work is done twice.
//
// Thread safety: all methods are thread-safe. Operations that start or stop pipelines are
// serialized; Stats never waits for them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "indexing/source_pipeline.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

class SourceService {
 public:
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the service.
  SourceService(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
                SourcePipelineOptions options);
  SourceService(const SourceService&) = delete;
  SourceService& operator=(const SourceService&) = delete;
  ~SourceService();

  // Starts the pipelines of every index. Error only when the metastore cannot list indexes; an
  // index that cannot be synced is logged and skipped.
  absl::Status Start();
  // Stops every pipeline and refuses later syncs.
  void Stop();

  // Makes the pipelines of `index_id` match its sources in the metastore. An unknown index stops
  // its pipelines. Error when the metastore fails.
  absl::Status SyncIndex(const std::string& index_id);
  // Stops and forgets the pipeline of one source / of every source of an index (no-op when
  // none runs), waiting for it.
  void StopSource(const std::string& index_id, const std::string& source_id);
  void StopIndex(const std::string& index_id);

  // One entry per pipeline, ordered by index id then source id.
  std::vector<SourcePipelineStats> Stats();

 private:
  using Key = std::pair<std::string, std::string>;  // index id, source id

  // Removes the matching pipelines from the map under mu_ and stops them outside it.
  // REQUIRES: ops_mu_ held.
  template <typename Predicate>
  void StopMatchingLocked(Predicate&& predicate);

  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const SourcePipelineOptions options_;

  std::mutex ops_mu_;     // serializes Start/Stop/Sync/StopSource/StopIndex
  bool stopped_ = false;  // guarded by ops_mu_
  std::mutex mu_;         // guards pipelines_
  std::map<Key, std::unique_ptr<SourcePipeline>> pipelines_;
};

}  // namespace shale::indexing
