#include "indexing/split_gc.h"

#include <set>
#include <utility>

#include "fmt/format.h"

#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "indexing/pipeline_steps.h"
#include "split/split_store.h"

namespace shale::indexing {
namespace {

constexpr std::string_view kSplitFileSuffix = ".split";

// The `{split_id}.split` files at the root of the index storage.
absl::StatusOr<std::vector<std::string>> ListSplitFiles(storage::Storage& storage) {
  ASSIGN_OR_RETURN(std::vector<std::string> paths, storage.List(""));
  std::erase_if(paths, [](const std::string& path) {
    return path.find('/') != std::string::npos || !path.ends_with(kSplitFileSuffix);
  });
  return paths;
}

// The size of the file at `path`; nullopt when there is none.
absl::StatusOr<std::optional<uint64_t>> FileSize(storage::Storage& storage,
                                                 const std::string& path) {
  absl::StatusOr<uint64_t> num_bytes = storage.FileNumBytes(path);
  if (absl::IsNotFound(num_bytes.status())) return std::optional<uint64_t>();
  RETURN_IF_ERROR(num_bytes.status());
  return std::optional<uint64_t>(*num_bytes);
}

absl::StatusOr<GarbageSplit> ToGarbage(storage::Storage& storage, const metastore::Split& split) {
  GarbageSplit garbage;
  garbage.split_id = split.metadata.split_id;
  garbage.node_id = split.metadata.node_id;
  garbage.source_id = split.metadata.source_id;
  garbage.update_timestamp = split.update_timestamp;
  ASSIGN_OR_RETURN(garbage.file_num_bytes,
                   FileSize(storage, split::SplitFileName(split.metadata.split_id)));
  return garbage;
}

// Files first, then records.
absl::Status DeleteSplits(metastore::Metastore& metastore, storage::Storage& storage,
                          const std::string& index_uid, const std::vector<GarbageSplit>& splits) {
  if (splits.empty()) return absl::OkStatus();
  std::vector<std::string> split_ids;
  std::vector<std::string> paths;
  for (const GarbageSplit& split : splits) {
    split_ids.push_back(split.split_id);
    if (split.file_num_bytes.has_value()) paths.push_back(split::SplitFileName(split.split_id));
  }
  if (!paths.empty()) RETURN_IF_ERROR(storage.BulkDelete(paths));
  return metastore.DeleteSplits(index_uid, split_ids);
}

}  // namespace

uint64_t IndexGarbage::NumFiles() const {
  uint64_t num_files = orphan_files.size();
  for (const auto* splits : {&staged_splits, &marked_splits}) {
    for (const GarbageSplit& split : *splits) num_files += split.file_num_bytes.has_value();
  }
  return num_files;
}

uint64_t IndexGarbage::NumBytes() const {
  uint64_t num_bytes = 0;
  for (const OrphanFile& file : orphan_files) num_bytes += file.num_bytes;
  for (const auto* splits : {&staged_splits, &marked_splits}) {
    for (const GarbageSplit& split : *splits) num_bytes += split.file_num_bytes.value_or(0);
  }
  return num_bytes;
}

nlohmann::json GarbageReportJson(const IndexGarbage& garbage) {
  auto splits_json = [](const std::vector<GarbageSplit>& splits) {
    nlohmann::json out = nlohmann::json::array();
    for (const GarbageSplit& split : splits) {
      out.push_back({{"split_id", split.split_id},
                     {"node_id", split.node_id},
                     {"source_id", split.source_id},
                     {"update_timestamp", split.update_timestamp},
                     {"file_num_bytes", split.file_num_bytes.has_value()
                                            ? nlohmann::json(*split.file_num_bytes)
                                            : nlohmann::json(nullptr)}});
    }
    return out;
  };
  nlohmann::json orphans = nlohmann::json::array();
  for (const OrphanFile& file : garbage.orphan_files) {
    orphans.push_back({{"path", file.path}, {"num_bytes", file.num_bytes}});
  }
  return {{"index_id", garbage.index_id},
          {"index_uid", garbage.index_uid},
          {"dry_run", !garbage.deleted},
          {"num_published_splits", garbage.num_published_splits},
          {"staged_splits", splits_json(garbage.staged_splits)},
          {"marked_splits", splits_json(garbage.marked_splits)},
          {"orphan_files", std::move(orphans)},
          {"num_files", garbage.NumFiles()},
          {"num_bytes", garbage.NumBytes()}};
}

absl::StatusOr<IndexGarbage> CollectIndexGarbage(metastore::Metastore& metastore,
                                                 storage::StorageResolver& storage_resolver,
                                                 const metastore::IndexMetadata& index,
                                                 const GarbageCollectionOptions& options) {
  IndexGarbage garbage;
  garbage.index_id = index.index_id();
  garbage.index_uid = index.index_uid;
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage,
                   ResolveIndexStorage(storage_resolver, index));
  // Files before records: a split staged and uploaded after this listing is not in it.
  std::vector<std::string> files;
  if (options.collect_orphan_files) {
    ASSIGN_OR_RETURN(files, ListSplitFiles(*storage));
  }

  metastore::ListSplitsQuery query;
  query.index_uids = {index.index_uid};
  // Telling orphan files apart takes every record; otherwise only the collected states are read,
  // not the published splits (the merge planner collects marked splits before each planning).
  if (!options.collect_orphan_files) {
    if (options.collect_staged) query.states.push_back(metastore::SplitState::kStaged);
    if (options.collect_marked) query.states.push_back(metastore::SplitState::kMarkedForDeletion);
  }
  ASSIGN_OR_RETURN(std::vector<metastore::Split> splits, metastore.ListSplits(query));
  const int64_t now = options.now_secs.value_or(UnixSecondsNow());
  std::set<std::string> referenced;
  for (const metastore::Split& split : splits) {
    referenced.insert(split::SplitFileName(split.metadata.split_id));
    if (split.state == metastore::SplitState::kPublished) {
      ++garbage.num_published_splits;
      continue;
    }
    if (options.node_id.has_value() && split.metadata.node_id != *options.node_id) continue;
    if (split.state == metastore::SplitState::kStaged && options.collect_staged &&
        split.update_timestamp + options.staged_grace_period_secs <= now) {
      ASSIGN_OR_RETURN(GarbageSplit staged, ToGarbage(*storage, split));
      garbage.staged_splits.push_back(std::move(staged));
    } else if (split.state == metastore::SplitState::kMarkedForDeletion &&
               options.collect_marked &&
               split.update_timestamp + options.deletion_grace_period_secs <= now) {
      ASSIGN_OR_RETURN(GarbageSplit marked, ToGarbage(*storage, split));
      garbage.marked_splits.push_back(std::move(marked));
    }
  }
  for (std::string& path : files) {
    if (referenced.contains(path)) continue;
    ASSIGN_OR_RETURN(std::optional<uint64_t> num_bytes, FileSize(*storage, path));
    if (num_bytes.has_value()) garbage.orphan_files.push_back({std::move(path), *num_bytes});
  }
  if (options.dry_run) return garbage;

  RETURN_IF_ERROR(DeleteSplits(metastore, *storage, index.index_uid, garbage.staged_splits));
  RETURN_IF_ERROR(DeleteSplits(metastore, *storage, index.index_uid, garbage.marked_splits));
  std::vector<std::string> orphan_paths;
  for (const OrphanFile& file : garbage.orphan_files) orphan_paths.push_back(file.path);
  if (!orphan_paths.empty()) RETURN_IF_ERROR(storage->BulkDelete(orphan_paths));
  garbage.deleted = true;
  return garbage;
}

std::vector<IndexGarbage> DeleteStagedSplitsOfNode(metastore::Metastore& metastore,
                                                   storage::StorageResolver& storage_resolver,
                                                   const std::string& node_id) {
  std::vector<IndexGarbage> deleted;
  absl::StatusOr<std::vector<metastore::IndexMetadata>> indexes = metastore.ListIndexes();
  if (!indexes.ok()) {
    SHALE_LOG_ERROR("staged split cleanup skipped: cannot list indexes error={}",
                    indexes.status().ToString());
    return deleted;
  }
  GarbageCollectionOptions options;
  options.node_id = node_id;
  options.staged_grace_period_secs = 0;
  options.collect_marked = false;
  options.collect_orphan_files = false;
  Counter& deleted_total = MetricsRegistry::Global().GetCounter(
      "shale_staged_splits_deleted_total",
      "Staged splits a crash left behind, deleted by the node that wrote them at its restart");
  for (const metastore::IndexMetadata& index : *indexes) {
    absl::StatusOr<IndexGarbage> garbage =
        CollectIndexGarbage(metastore, storage_resolver, index, options);
    if (!garbage.ok()) {
      SHALE_LOG_ERROR("staged split cleanup failed index_id={} error={}", index.index_id(),
                      garbage.status().ToString());
      continue;
    }
    if (garbage->staged_splits.empty()) continue;
    for (const GarbageSplit& split : garbage->staged_splits) {
      SHALE_LOG_WARN(
          "staged split of a crashed run deleted index_id={} split_id={} source_id={} "
          "had_file={} num_bytes={}",
          index.index_id(), split.split_id, split.source_id, split.file_num_bytes.has_value(),
          split.file_num_bytes.value_or(0));
    }
    deleted_total.Increment(static_cast<int64_t>(garbage->staged_splits.size()));
    deleted.push_back(std::move(garbage).value());
  }
  return deleted;
}

}  // namespace shale::indexing
