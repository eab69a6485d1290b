// The indexing steps shared by the ingest API (ingest_service.h) and the source pipelines
// (source_pipeline.h): doc processing of one NDJSON line, the in-memory split with its size
// triggers, and the commit of a finished split (packager -> uploader -> publisher) together with
// the checkpoint delta of its source.
//
// Thread safety: the functions are thread-safe; a SplitWriter is single-threaded (callers own it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/crash_point.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

// Calls `fn(line)` for every non-blank line of `ndjson`, without its '\n' and a trailing '\r'.
template <typename Fn>
void ForEachNdjsonLine(std::string_view ndjson, Fn&& fn) {
  size_t position = 0;
  while (position < ndjson.size()) {
    size_t line_end = ndjson.find('\n', position);
    if (line_end == std::string_view::npos) line_end = ndjson.size();
    std::string_view line = ndjson.substr(position, line_end - position);
    position = line_end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    fn(line);
  }
}

// Doc processing of one document, appended to `docs`: DocProcessor::ProcessInto, and, like
// Quickwit, an index with a timestamp field only accepts documents holding it (time pruning and
// retention would otherwise skip them silently). InvalidArgument naming the problem for a
// rejected document, which leaves `docs` as it was.
absl::Status ProcessDocument(const index::DocProcessor& processor, const index::DocMapping& mapping,
                             std::string_view json_text, index::ProcessedDocs& docs);

// Why a document was rejected: the keys of the `num_rejected_docs` counters.
inline constexpr char kRejectedInvalidJson[] = "invalid_json";    // not a JSON object at all
inline constexpr char kRejectedUnknownField[] = "unknown_field";  // undeclared in strict mode
// A value that does not convert to its field's type (an unparsable datetime included).
inline constexpr char kRejectedTypeMismatch[] = "type_mismatch";
// The index has a timestamp field and the document no value for it.
inline constexpr char kRejectedTimestampMissing[] = "timestamp_missing";
// A line longer than the source's limit (file sources).
inline constexpr char kRejectedDocumentTooLarge[] = "document_too_large";

// The rejection reason of a ProcessDocument error: one of the kRejected* names above.
const char* RejectionReason(const absl::Status& status);

// Quickwit's `reason` of a parse failure in a detailed ingest response for a rejection reason:
// "invalid_json" for kRejectedInvalidJson, "invalid_schema" for the others.
const char* QuickwitParseFailureReason(std::string_view rejection_reason);

// An empty in-memory split with the index's doc store settings; full doc store blocks are
// compressed on `docstore_executor` when set (SplitWriterOptions::docstore_executor).
absl::StatusOr<std::unique_ptr<index::SplitWriter>> NewSplitWriter(
    const config::IndexConfig& config,
    std::function<bool(std::function<void()>)> docstore_executor = {});

// True when the split reached `split_num_docs_target` or `resources.heap_size`.
bool SplitWriterIsFull(const index::SplitWriter& writer, const config::IndexingSettings& settings);

// The storage of the index's `index_uri`.
absl::StatusOr<std::shared_ptr<storage::Storage>> ResolveIndexStorage(
    storage::StorageResolver& resolver, const metastore::IndexMetadata& metadata);

// Deletes a staged split whose commit or merge failed: its record first, then its file. The
// metastore refuses to delete the record of a published split, so a split whose publish went
// through after all (a call that failed on the way back) keeps its file. Best effort, logged
// (`what`: the kind of split, for the log), never fails: what a failure leaves is collected by
// `shale tool gc` or the node's next start.
void AbandonStagedSplit(metastore::Metastore& metastore, storage::Storage& storage,
                        const std::string& index_uid, const std::string& split_id,
                        std::string_view what);

// The TEST ONLY crash points (common/crash_point.h) a commit passes, by pipeline kind.
struct CommitCrashPoints {
  std::string_view after_split_build;
  std::string_view after_stage;
  std::string_view after_upload;
  std::string_view after_publish;
};
inline constexpr CommitCrashPoints kIngestCommitCrashPoints{
    kCrashIngestAfterSplitBuild, kCrashIngestAfterStage, kCrashIngestAfterUpload,
    kCrashIngestAfterPublish};
inline constexpr CommitCrashPoints kSourceCommitCrashPoints{
    kCrashSourceAfterSplitBuild, kCrashSourceAfterStage, kCrashSourceAfterUpload,
    kCrashSourceAfterPublish};

// Serializes the split (packager), stages it in the metastore, uploads it to `storage`
// (uploader) and publishes it with `checkpoint_delta` in the same metastore call (publisher).
// The split records `source_id`. On error nothing is published and the staged split is deleted
// (record, then file; best effort: what a failure leaves is collected by `shale tool gc` or the
// node's next start); a FailedPrecondition from the publish means the delta does not follow the
// stored checkpoint. `crash_points` are passed after each step.
absl::Status CommitSplit(metastore::Metastore& metastore, const std::string& node_id,
                         const std::string& source_id, const metastore::IndexMetadata& metadata,
                         storage::Storage& storage, std::unique_ptr<index::SplitWriter> writer,
                         const std::optional<metastore::CheckpointDelta>& checkpoint_delta,
                         const CommitCrashPoints& crash_points);

}  // namespace shale::indexing
