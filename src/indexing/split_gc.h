// Split garbage collection: what a crash or a merge leaves in an index's metastore records and
// storage, found and (unless dry run) deleted.
//
//   staged splits   records staged but never published: a crash between stage and publish
//                   (ingest, source or merge commit). Their file may or may not be uploaded.
//   marked splits   records marked for deletion (inputs of merges, cleared splits), deletable
//                   once no search that listed them can still read them.
//   orphan files    `{split_id}.split` files at the index root that no split record references
//                   (a record deleted while its file could not be).
//
// Deletion is file first, then record: a record without file is harmless and still listed, a
// file without record would be an orphan. Files are listed BEFORE records, so a split staged
// and uploaded meanwhile is never taken for an orphan.
//
// Callers: `shale tool gc` (all three kinds, past grace periods; --dry-run only lists), and a
// starting indexer (DeleteStagedSplitsOfNode: its own staged splits, which no running pipeline
// of the process can own yet). Until Shale has its janitor service (ARCHITECTURE.md §2), these
// are the only collectors of staged splits (docs/adr/013-crash-points-and-split-gc.md).
//
// Thread safety: the functions are thread-safe if the metastore and storage are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::indexing {

struct GarbageCollectionOptions {
  // Staged splits last updated at least this long ago are garbage (Quickwit's `tool gc
  // --grace-period`, 1 hour by default): younger ones may belong to a running commit.
  int64_t staged_grace_period_secs = 3600;
  // Marked splits last updated at least this long ago are garbage.
  int64_t deletion_grace_period_secs = 120;
  // Only the staged and marked splits written by this node (nullopt: every node's).
  std::optional<std::string> node_id;
  bool collect_staged = true;
  bool collect_marked = true;
  bool collect_orphan_files = true;
  // List only; delete nothing.
  bool dry_run = false;
  // Unix seconds; nullopt: the clock.
  std::optional<int64_t> now_secs;
};

struct GarbageSplit {
  std::string split_id;
  std::string node_id;
  std::string source_id;
  int64_t update_timestamp = 0;  // unix seconds
  // Size of its file in the index storage; nullopt when there is no file (a crash before the
  // upload finished).
  std::optional<uint64_t> file_num_bytes;
};

struct OrphanFile {
  std::string path;  // relative to the index uri
  uint64_t num_bytes = 0;
};

struct IndexGarbage {
  std::string index_id;
  std::string index_uid;
  std::vector<GarbageSplit> staged_splits;
  std::vector<GarbageSplit> marked_splits;
  std::vector<OrphanFile> orphan_files;
  // Left untouched, for reports; counted only when orphan files are collected (otherwise the
  // published splits are not listed).
  uint64_t num_published_splits = 0;
  bool deleted = false;  // false on a dry run
  // Files and bytes removed (or, on a dry run, that would be).
  uint64_t NumFiles() const;
  uint64_t NumBytes() const;
};

// Finds the garbage of `index` and, unless `options.dry_run`, deletes it: files first, then
// records. Error when listing or a deletion fails; the splits of a failed deletion stay listed
// for the next run.
absl::StatusOr<IndexGarbage> CollectIndexGarbage(metastore::Metastore& metastore,
                                                 storage::StorageResolver& storage_resolver,
                                                 const metastore::IndexMetadata& index,
                                                 const GarbageCollectionOptions& options);

// The report of `shale tool gc --json`: {"index_id", "index_uid", "dry_run",
// "num_published_splits", "staged_splits": [{"split_id", "node_id", "source_id",
// "update_timestamp", "file_num_bytes" (null: no file)}], "marked_splits": [same],
// "orphan_files": [{"path", "num_bytes"}], "num_files", "num_bytes"}.
nlohmann::json GarbageReportJson(const IndexGarbage& garbage);

// At indexer start-up, before any pipeline of this process stages a split: deletes every staged
// split of every index written by `node_id` (files, then records) and logs each one. A failed
// index is logged and skipped (tool gc collects it later). Returns the splits deleted.
std::vector<IndexGarbage> DeleteStagedSplitsOfNode(metastore::Metastore& metastore,
                                                   storage::StorageResolver& storage_resolver,
                                                   const std::string& node_id);

}  // namespace shale::indexing
