#include "indexing/pipeline_steps.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/cord.h"
#include "fmt/format.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
#include "indexing/merge_policy.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

// "partition:from..to" for each partition of the delta, for logs.
std::string DescribeDelta(const std::optional<metastore::CheckpointDelta>& delta) {
  if (!delta.has_value()) return "none";
  std::string out;
  for (const auto& [partition, positions] : delta->partitions) {
    if (!out.empty()) out += ",";
    out += fmt::format("{}:{}..{}", partition, positions.from, positions.to);
  }
  return out;
}

constexpr char kTimestampMissingPayloadUrl[] = "shale.dev/indexing/timestamp_missing";

// After a failed upload or publish: deletes the staged split, record first, then file. In this
// order a publish that went through after all (an unknown outcome) keeps its file: the record
// deletion fails (published splits are refused) and nothing else is done. A failure leaves the
// split to `shale tool gc` or the node's next start (split_gc.h).
}  // namespace

void AbandonStagedSplit(metastore::Metastore& metastore, storage::Storage& storage,
                        const std::string& index_uid, const std::string& split_id,
                        std::string_view what) {
  absl::Status status = metastore.DeleteSplits(index_uid, {split_id});
  if (status.ok()) status = storage.Delete(split::SplitFileName(split_id));
  if (!status.ok()) {
    SHALE_LOG_WARN("staged split of a failed {} not deleted index_uid={} split_id={} error={}",
                   what, index_uid, split_id, status.ToString());
  }
}

absl::Status ProcessDocument(const index::DocProcessor& processor, const index::DocMapping& mapping,
                             std::string_view json_text, index::ProcessedDocs& docs) {
  RETURN_IF_ERROR(processor.ProcessInto(json_text, docs));
  if (mapping.timestamp_field.has_value() && !docs.timestamp_nanos(docs.size() - 1).has_value()) {
    docs.RemoveLast();
    absl::Status missing = absl::InvalidArgumentError(
        fmt::format("document must contain the timestamp field `{}`", *mapping.timestamp_field));
    missing.SetPayload(kTimestampMissingPayloadUrl, absl::Cord("1"));
    return missing;
  }
  return absl::OkStatus();
}

const char* RejectionReason(const absl::Status& status) {
  if (index::IsInvalidJsonError(status)) return kRejectedInvalidJson;
  if (index::IsUnknownFieldError(status)) return kRejectedUnknownField;
  if (status.GetPayload(kTimestampMissingPayloadUrl).has_value()) return kRejectedTimestampMissing;
  return kRejectedTypeMismatch;
}

const char* QuickwitParseFailureReason(std::string_view rejection_reason) {
  return rejection_reason == kRejectedInvalidJson ? "invalid_json" : "invalid_schema";
}

absl::StatusOr<std::unique_ptr<index::SplitWriter>> NewSplitWriter(
    const config::IndexConfig& config,
    std::function<bool(std::function<void()>)> docstore_executor) {
  index::SplitWriterOptions writer_options;
  writer_options.docstore_compression_level = config.indexing_settings.docstore_compression_level;
  writer_options.docstore_blocksize = config.indexing_settings.docstore_blocksize;
  writer_options.docstore_executor = std::move(docstore_executor);
  return index::SplitWriter::Create(config.doc_mapping, writer_options);
}

bool SplitWriterIsFull(const index::SplitWriter& writer, const config::IndexingSettings& settings) {
  return writer.num_docs() >= settings.split_num_docs_target ||
         writer.memory_usage_bytes() >=
             std::min(settings.heap_size_bytes, index::SplitWriter::kMaxMemoryUsageBytes);
}

absl::StatusOr<std::shared_ptr<storage::Storage>> ResolveIndexStorage(
    storage::StorageResolver& resolver, const metastore::IndexMetadata& metadata) {
  if (!metadata.index_config.index_uri.has_value()) {
    return absl::InternalError(fmt::format("index {} has no index uri", metadata.index_id()));
  }
  ASSIGN_OR_RETURN(Uri index_uri, Uri::Parse(*metadata.index_config.index_uri));
  return resolver.Resolve(index_uri);
}

absl::Status CommitSplit(metastore::Metastore& metastore, const std::string& node_id,
                         const std::string& source_id, const metastore::IndexMetadata& metadata,
                         storage::Storage& storage, std::unique_ptr<index::SplitWriter> writer,
                         const std::optional<metastore::CheckpointDelta>& checkpoint_delta,
                         const CommitCrashPoints& crash_points) {
  using Clock = std::chrono::steady_clock;
  const auto millis_since = [](Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  };
  Clock::time_point start = Clock::now();
  ASSIGN_OR_RETURN(index::SerializedSplit serialized, writer->Finish());
  writer.reset();
  const int64_t build_millis = millis_since(start);
  CrashPoint(crash_points.after_split_build);
  const config::IndexConfig& config = metadata.index_config;
  const MergeScope origin{metadata.index_uid, source_id, "0", node_id};
  const metastore::SplitMetadata split = NewSplitMetadata(
      serialized, origin, config.indexing_settings, /*num_merge_ops=*/0, UnixSecondsNow());

  // Stage first, so a crash after the upload leaves a staged split that the node deletes when
  // it restarts (split_gc.h), never a file nobody knows.
  start = Clock::now();
  RETURN_IF_ERROR(metastore.StageSplits(metadata.index_uid, {split}));
  const int64_t stage_millis = millis_since(start);
  CrashPoint(crash_points.after_stage);
  start = Clock::now();
  absl::Status status = split::UploadSplit(storage, split.split_id, serialized);
  const int64_t upload_millis = millis_since(start);
  int64_t publish_millis = 0;
  if (status.ok()) {
    CrashPoint(crash_points.after_upload);
    start = Clock::now();
    status = metastore.PublishSplits(metadata.index_uid, {split.split_id}, {}, checkpoint_delta);
    publish_millis = millis_since(start);
  }
  if (!status.ok()) {
    AbandonStagedSplit(metastore, storage, metadata.index_uid, split.split_id, "commit");
    return status;
  }
  CrashPoint(crash_points.after_publish);
  SHALE_LOG_INFO(
      "split published index_id={} source_id={} split_id={} num_docs={} size_bytes={} "
      "checkpoint={} build_ms={} stage_ms={} upload_ms={} publish_ms={}",
      config.index_id, source_id, split.split_id, split.num_docs, split.split_size_bytes,
      DescribeDelta(checkpoint_delta), build_millis, stage_millis, upload_millis, publish_millis);
  return absl::OkStatus();
}

}  // namespace shale::indexing
