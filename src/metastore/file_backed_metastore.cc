// File-backed metastore: the manifest `indexes_states.json` (index id -> Creating | Active |
// Deleting) and one `{index_id}/metastore.json` per index holding its metadata and splits. The
// format is described in docs/format/metastore.md.
//
// Every mutation of an index loads its file (cached after the first load), applies the change
// to a copy, writes the whole copy with Storage::Put (atomic replace) and only then swaps the
// cache, so a failed validation or write changes nothing. Each index has its own mutex, so
// different indexes never wait on each other; index creation and deletion serialize on the
// manifest mutex.
//
// Lock order: manifest_mu_ before any IndexEntry::mu. Nothing acquires manifest_mu_ while
// holding an entry's mutex.
//
// Crash recovery: CreateIndex writes the manifest as Creating, then the index file, then
// Active; DeleteIndex writes Deleting, deletes the file, then removes the entry. An index that
// is not Active is invisible, and CreateIndex may reuse its id (overwriting any leftover file).
//
// Single writer (internal/writer_guard.h): every write takes the writer lease, then checks that
// the stored file is still the one this instance last read or wrote (each cached file keeps its
// stored text in a FileVersion), and only then replaces it. A write whose call failed is
// "pending": it may have taken effect, so the next access reads the file to find out.
//
// Readers (polling_interval set) re-read a cached file older than the interval on its next
// access; a file whose bytes did not change is not parsed again.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fmt/format.h"

#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "config/index_config.h"
#include "metastore/internal/writer_guard.h"
#include "metastore/metastore.h"
#include "nlohmann/json.hpp"
#include "storage/storage.h"

namespace shale::metastore {
namespace {

using Json = nlohmann::json;
using internal::FileContent;
using internal::FileVersion;
using internal::WriterInfo;

constexpr std::string_view kManifestPath = "indexes_states.json";
constexpr std::string_view kIndexFileName = "metastore.json";
constexpr std::string_view kFormatVersion = "0.8";

// PERSISTED (as strings "Creating", "Active", "Deleting"): never rename.
enum class IndexState { kCreating, kActive, kDeleting };

const char* IndexStateName(IndexState state) {
  switch (state) {
    case IndexState::kCreating:
      return "Creating";
    case IndexState::kActive:
      return "Active";
    case IndexState::kDeleting:
      return "Deleting";
  }
  return "Unknown";
}

std::optional<IndexState> IndexStateFromName(std::string_view name) {
  for (const IndexState state :
       {IndexState::kCreating, IndexState::kActive, IndexState::kDeleting}) {
    if (name == IndexStateName(state)) {
      return state;
    }
  }
  return std::nullopt;
}

using Manifest = std::map<std::string, IndexState>;

// The content of one `{index_id}/metastore.json`.
struct IndexFile {
  IndexMetadata metadata;
  std::map<std::string, Split> splits;  // by split id
  // Incremented by every write; with the writer, it names versions in conflict messages.
  uint64_t revision = 0;
  std::optional<WriterInfo> writer;  // who wrote this revision (absent in older files)
};

struct IndexEntry {
  absl::Mutex mu;
  // Set when the index is deleted; holders of a stale pointer then report NotFound.
  bool deleted ABSL_GUARDED_BY(mu) = false;
  // Loaded lazily; once set, it is the parsed `version.content`.
  std::optional<IndexFile> file ABSL_GUARDED_BY(mu);
  FileVersion version ABSL_GUARDED_BY(mu);
};

std::string IndexIdOfUid(std::string_view index_uid) {
  return std::string(index_uid.substr(0, index_uid.find(':')));
}

std::string IndexFilePath(std::string_view index_id) {
  return fmt::format("{}/{}", index_id, kIndexFileName);
}

absl::Status IndexNotFound(std::string_view index) {
  return absl::NotFoundError(fmt::format("index `{}` not found", index));
}

absl::StatusOr<std::string> DumpJson(const Json& json, std::string_view what) {
  try {
    return json.dump(2);
  } catch (const nlohmann::json::exception& error) {
    // Invalid UTF-8 in a string field.
    return absl::InvalidArgumentError(fmt::format("cannot serialize {}: {}", what, error.what()));
  }
}

Json IndexFileToJson(const IndexFile& file) {
  Json json = Json::object();
  json["version"] = kFormatVersion;
  json["revision"] = file.revision;
  if (file.writer.has_value()) {
    json["writer"] = internal::WriterInfoToJson(*file.writer);
  }
  json["index"] = IndexMetadataToJson(file.metadata);
  json["splits"] = Json::array();
  for (const auto& [split_id, split] : file.splits) {
    json["splits"].push_back(SplitToJson(split));
  }
  json["delete_tasks"] = Json::array();
  return json;
}

// Parses a stored index file. DataLoss naming `path` on any problem.
absl::StatusOr<IndexFile> ParseIndexFile(std::string_view text, const std::string& path,
                                         const std::string& index_id) {
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::DataLossError(fmt::format("metastore file `{}` is not valid json", path));
  }
  auto data_loss = [&path](std::string_view problem) {
    return absl::DataLossError(fmt::format("metastore file `{}` is corrupt: {}", path, problem));
  };
  if (!json.is_object()) {
    return data_loss("expected a json object");
  }
  const auto index_it = json.find("index");
  if (index_it == json.end()) {
    return data_loss("`index` is missing");
  }
  const auto splits_it = json.find("splits");
  if (splits_it != json.end() && !splits_it->is_array()) {
    return data_loss("`splits` must be an array");
  }
  IndexFile file;
  absl::StatusOr<IndexMetadata> metadata = IndexMetadataFromJson(*index_it);
  if (!metadata.ok()) {
    return data_loss(std::string(metadata.status().message()));
  }
  file.metadata = *std::move(metadata);
  if (file.metadata.index_id() != index_id) {
    return data_loss(fmt::format("it holds index `{}`", file.metadata.index_id()));
  }
  if (const auto revision = json.find("revision"); revision != json.end()) {
    if (!revision->is_number_unsigned()) {
      return data_loss("`revision` must be an unsigned integer");
    }
    file.revision = revision->get<uint64_t>();
  }
  if (const auto writer = json.find("writer"); writer != json.end()) {
    file.writer = internal::WriterInfoFromJson(*writer);
  }
  if (splits_it != json.end()) {
    for (const Json& split_json : *splits_it) {
      absl::StatusOr<Split> split = SplitFromJson(split_json);
      if (!split.ok()) {
        return data_loss(std::string(split.status().message()));
      }
      const std::string split_id = split->metadata.split_id;
      if (!file.splits.emplace(split_id, *std::move(split)).second) {
        return data_loss(fmt::format("split `{}` appears twice", split_id));
      }
    }
  }
  return file;
}

// "revision 8 written by writer 01H... (node `a`, pid 7)", for conflict messages.
std::string DescribeStoredIndexFile(const FileContent& content) {
  if (!content.has_value()) {
    return "deleted";
  }
  const Json json = Json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return "not valid json";
  }
  const Json revision = json.value("revision", Json());
  std::optional<WriterInfo> writer = internal::WriterInfoFromJson(json.value("writer", Json()));
  return fmt::format(
      "revision {} written by {}", revision.is_number() ? revision.dump() : "?",
      writer.has_value() ? internal::DescribeWriter(*writer) : std::string("an unknown writer"));
}

bool TimeRangeMatches(const SplitMetadata& split, const ListSplitsQuery& query) {
  if (!split.time_range_start_secs.has_value() || !split.time_range_end_secs.has_value()) {
    return true;
  }
  // Query [start, end) against the split's inclusive [start, end].
  if (query.time_range_end_secs.has_value() &&
      *split.time_range_start_secs >= *query.time_range_end_secs) {
    return false;
  }
  if (query.time_range_start_secs.has_value() &&
      *split.time_range_end_secs < *query.time_range_start_secs) {
    return false;
  }
  return true;
}

bool SplitMatches(const Split& split, const ListSplitsQuery& query) {
  if (!query.states.empty() &&
      std::find(query.states.begin(), query.states.end(), split.state) == query.states.end()) {
    return false;
  }
  return TimeRangeMatches(split.metadata, query);
}

class FileBackedMetastore final : public Metastore {
 public:
  FileBackedMetastore(std::shared_ptr<storage::Storage> storage, FileBackedMetastoreOptions options)
      : storage_(std::move(storage)),
        options_(std::move(options)),
        lease_(storage_, WriterInfo{NewUlid(), options_.node_id, static_cast<int64_t>(getpid())},
               options_.writer_lease_ttl, options_.clock),
        writer_conflicts_(MetricsRegistry::Global().GetCounter(
            "shale_metastore_writer_conflicts_total",
            "Metastore writes refused or files found changed because of another writer")) {}

  absl::StatusOr<IndexMetadata> CreateIndex(const config::IndexConfig& config) override {
    RETURN_IF_ERROR(config::ValidateIndexId(config.index_id));
    const std::string& index_id = config.index_id;
    absl::MutexLock manifest_lock(&manifest_mu_);
    RETURN_IF_ERROR(LoadManifestLocked());
    if (const auto it = manifest_.find(index_id);
        it != manifest_.end() && it->second == IndexState::kActive) {
      return absl::AlreadyExistsError(fmt::format("index `{}` already exists", index_id));
    }
    IndexFile file;
    file.metadata.index_uid = fmt::format("{}:{}", index_id, NewUlid());
    file.metadata.index_config = config;
    if (!file.metadata.index_config.index_uri.has_value()) {
      file.metadata.index_config.index_uri = storage_->uri().Join(index_id).str();
    }
    file.metadata.create_timestamp = UnixSecondsNow();
    file.revision = 1;
    file.writer = lease_.self();
    ASSIGN_OR_RETURN(const std::string text, DumpJson(IndexFileToJson(file), "index metadata"));

    Manifest manifest = manifest_;
    manifest[index_id] = IndexState::kCreating;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest), fmt::format("index `{}`", index_id)));
    // Not Active yet, so nobody reads this file; any leftover of an earlier attempt is replaced
    // without a version check.
    FileVersion version;
    RETURN_IF_ERROR(internal::WriteStoredFile(*storage_, IndexFilePath(index_id), text, version,
                                              options_.clock()));
    manifest = manifest_;
    manifest[index_id] = IndexState::kActive;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest), fmt::format("index `{}`", index_id)));

    auto entry = std::make_shared<IndexEntry>();
    IndexMetadata metadata = file.metadata;
    {
      absl::MutexLock entry_lock(&entry->mu);
      entry->file = std::move(file);
      entry->version = std::move(version);
    }
    entries_[index_id] = std::move(entry);
    return metadata;
  }

  absl::StatusOr<IndexMetadata> GetIndexMetadata(const std::string& index_id) override {
    ASSIGN_OR_RETURN(const std::shared_ptr<IndexEntry> entry, FindEntry(index_id));
    absl::MutexLock lock(&entry->mu);
    if (entry->deleted) {
      return IndexNotFound(index_id);
    }
    RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
    return entry->file->metadata;
  }

  absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() override {
    ASSIGN_OR_RETURN(const auto entries, AllEntries());
    std::vector<IndexMetadata> indexes;
    for (const auto& [index_id, entry] : entries) {
      absl::MutexLock lock(&entry->mu);
      if (entry->deleted) {
        continue;
      }
      absl::Status loaded = LoadIndexLocked(index_id, *entry);
      if (entry->deleted) {
        continue;  // a reader found it deleted by the writer
      }
      RETURN_IF_ERROR(loaded);
      indexes.push_back(entry->file->metadata);
    }
    return indexes;
  }

  absl::Status DeleteIndex(const std::string& index_uid) override {
    const std::string index_id = IndexIdOfUid(index_uid);
    absl::MutexLock manifest_lock(&manifest_mu_);
    RETURN_IF_ERROR(LoadManifestLocked());
    const auto entry_it = entries_.find(index_id);
    if (entry_it == entries_.end()) {
      return IndexNotFound(index_uid);
    }
    const std::shared_ptr<IndexEntry> entry = entry_it->second;
    absl::MutexLock entry_lock(&entry->mu);
    if (entry->deleted) {
      return IndexNotFound(index_uid);
    }
    RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
    if (entry->file->metadata.index_uid != index_uid) {
      return IndexNotFound(index_uid);
    }

    const std::string what = fmt::format("index `{}`", index_id);
    Manifest manifest = manifest_;
    manifest[index_id] = IndexState::kDeleting;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest), what));
    // From here on the index is gone for readers, whatever happens to the cleanup below.
    entry->deleted = true;
    entry->file.reset();
    entries_.erase(entry_it);
    RETURN_IF_ERROR(internal::WriteStoredFile(*storage_, IndexFilePath(index_id), std::nullopt,
                                              entry->version, options_.clock()));
    manifest = manifest_;
    manifest.erase(index_id);
    return WriteManifestLocked(std::move(manifest), what);
  }

  absl::Status StageSplits(const std::string& index_uid,
                           const std::vector<SplitMetadata>& splits) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      const std::string& index_id = file.metadata.index_id();
      const int64_t now = UnixSecondsNow();
      for (const SplitMetadata& metadata : splits) {
        if (metadata.split_id.empty()) {
          return absl::InvalidArgumentError(
              fmt::format("a split staged in index `{}` has an empty split_id", index_id));
        }
        if (!metadata.index_uid.empty() && metadata.index_uid != index_uid) {
          return absl::InvalidArgumentError(
              fmt::format("split `{}` belongs to index `{}`, not to `{}`", metadata.split_id,
                          metadata.index_uid, index_uid));
        }
        const auto it = file.splits.find(metadata.split_id);
        if (it != file.splits.end() && it->second.state != SplitState::kStaged) {
          return absl::AlreadyExistsError(
              fmt::format("split `{}` already exists in index `{}` (state {})", metadata.split_id,
                          index_id, SplitStateName(it->second.state)));
        }
        Split split;
        split.metadata = metadata;
        split.metadata.index_uid = index_uid;
        split.state = SplitState::kStaged;
        split.update_timestamp = now;
        file.splits[metadata.split_id] = std::move(split);
      }
      return absl::OkStatus();
    });
  }

  absl::Status PublishSplits(const std::string& index_uid,
                             const std::vector<std::string>& staged_split_ids,
                             const std::vector<std::string>& replaced_split_ids,
                             const std::optional<CheckpointDelta>& checkpoint_delta) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      const std::string& index_id = file.metadata.index_id();
      // Validate everything against the state before any change.
      RETURN_IF_ERROR(CheckSplitStates(file, staged_split_ids, SplitState::kStaged, "staged"));
      RETURN_IF_ERROR(
          CheckSplitStates(file, replaced_split_ids, SplitState::kPublished, "published"));
      if (checkpoint_delta.has_value()) {
        RETURN_IF_ERROR(ApplyCheckpointDelta(index_id, *checkpoint_delta, file.metadata));
      }
      const int64_t now = UnixSecondsNow();
      for (const std::string& split_id : staged_split_ids) {
        Split& split = file.splits.at(split_id);
        split.state = SplitState::kPublished;
        split.update_timestamp = now;
        split.publish_timestamp = now;
      }
      for (const std::string& split_id : replaced_split_ids) {
        Split& split = file.splits.at(split_id);
        split.state = SplitState::kMarkedForDeletion;
        split.update_timestamp = now;
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<Split>> ListSplits(const ListSplitsQuery& query) override {
    std::map<std::string, std::shared_ptr<IndexEntry>> entries;
    if (query.index_uids.empty()) {
      ASSIGN_OR_RETURN(entries, AllEntries());
    } else {
      for (const std::string& index_uid : query.index_uids) {
        const std::string index_id = IndexIdOfUid(index_uid);
        ASSIGN_OR_RETURN(entries[index_id], FindEntry(index_id));
      }
    }
    const std::set<std::string> wanted_uids(query.index_uids.begin(), query.index_uids.end());
    std::vector<Split> splits;
    for (const auto& [index_id, entry] : entries) {
      absl::MutexLock lock(&entry->mu);
      if (entry->deleted) {
        if (query.index_uids.empty()) {
          continue;
        }
        return IndexNotFound(index_id);
      }
      const absl::Status loaded = LoadIndexLocked(index_id, *entry);
      if (entry->deleted && query.index_uids.empty()) {
        continue;  // a reader found it deleted by the writer
      }
      RETURN_IF_ERROR(loaded);
      const std::string& current_uid = entry->file->metadata.index_uid;
      if (!wanted_uids.empty() && !wanted_uids.contains(current_uid)) {
        // The caller asked for an older incarnation of this index id.
        for (const std::string& index_uid : wanted_uids) {
          if (IndexIdOfUid(index_uid) == index_id) {
            return IndexNotFound(index_uid);
          }
        }
      }
      for (const auto& [split_id, split] : entry->file->splits) {
        if (SplitMatches(split, query)) {
          splits.push_back(split);
        }
      }
    }
    return splits;
  }

  absl::Status MarkSplitsForDeletion(const std::string& index_uid,
                                     const std::vector<std::string>& split_ids) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      const int64_t now = UnixSecondsNow();
      for (const std::string& split_id : split_ids) {
        const auto it = file.splits.find(split_id);
        if (it == file.splits.end() || it->second.state == SplitState::kMarkedForDeletion) {
          continue;
        }
        it->second.state = SplitState::kMarkedForDeletion;
        it->second.update_timestamp = now;
      }
      return absl::OkStatus();
    });
  }

  absl::Status DeleteSplits(const std::string& index_uid,
                            const std::vector<std::string>& split_ids) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      for (const std::string& split_id : split_ids) {
        const auto it = file.splits.find(split_id);
        if (it == file.splits.end()) {
          continue;
        }
        if (it->second.state == SplitState::kPublished) {
          return absl::FailedPreconditionError(
              fmt::format("split `{}` of index `{}` is published and cannot be deleted "
                          "(mark it for deletion first)",
                          split_id, file.metadata.index_id()));
        }
        file.splits.erase(it);
      }
      return absl::OkStatus();
    });
  }

  absl::Status AddSource(const std::string& index_uid,
                         const config::SourceConfig& source) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      if (source.source_id.empty()) {
        return absl::InvalidArgumentError(fmt::format(
            "a source added to index `{}` has an empty source_id", file.metadata.index_id()));
      }
      if (file.metadata.sources.contains(source.source_id)) {
        return absl::AlreadyExistsError(fmt::format("source `{}` already exists in index `{}`",
                                                    source.source_id, file.metadata.index_id()));
      }
      file.metadata.sources[source.source_id] = source;
      file.metadata.checkpoints.try_emplace(source.source_id);
      return absl::OkStatus();
    });
  }

  absl::Status UpdateSource(const std::string& index_uid,
                            const config::SourceConfig& source) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      ASSIGN_OR_RETURN(config::SourceConfig * stored, FindSource(file, source.source_id));
      if (stored->source_type != source.source_type) {
        return absl::InvalidArgumentError(fmt::format(
            "source `{}` of index `{}` is of type {}: its type cannot change to {}",
            source.source_id, file.metadata.index_id(), stored->source_type, source.source_type));
      }
      *stored = source;
      return absl::OkStatus();
    });
  }

  absl::Status ToggleSource(const std::string& index_uid, const std::string& source_id,
                            bool enable) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      ASSIGN_OR_RETURN(config::SourceConfig * source, FindSource(file, source_id));
      source->enabled = enable;
      return absl::OkStatus();
    });
  }

  absl::Status DeleteSource(const std::string& index_uid, const std::string& source_id) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      RETURN_IF_ERROR(FindSource(file, source_id).status());
      file.metadata.sources.erase(source_id);
      file.metadata.checkpoints.erase(source_id);
      return absl::OkStatus();
    });
  }

  absl::Status ResetSourceCheckpoint(const std::string& index_uid,
                                     const std::string& source_id) override {
    return MutateIndex(index_uid, [&](IndexFile& file) -> absl::Status {
      RETURN_IF_ERROR(FindSource(file, source_id).status());
      file.metadata.checkpoints[source_id].clear();
      return absl::OkStatus();
    });
  }

 private:
  static absl::StatusOr<config::SourceConfig*> FindSource(IndexFile& file,
                                                          const std::string& source_id) {
    const auto it = file.metadata.sources.find(source_id);
    if (it == file.metadata.sources.end()) {
      return absl::NotFoundError(
          fmt::format("source `{}` not found in index `{}`", source_id, file.metadata.index_id()));
    }
    return &it->second;
  }

  static absl::Status CheckSplitStates(const IndexFile& file,
                                       const std::vector<std::string>& split_ids,
                                       SplitState expected, std::string_view expected_name) {
    for (const std::string& split_id : split_ids) {
      const auto it = file.splits.find(split_id);
      if (it == file.splits.end()) {
        return absl::NotFoundError(
            fmt::format("split `{}` not found in index `{}`", split_id, file.metadata.index_id()));
      }
      if (it->second.state != expected) {
        return absl::FailedPreconditionError(
            fmt::format("split `{}` of index `{}` is not {} (state {})", split_id,
                        file.metadata.index_id(), expected_name, SplitStateName(it->second.state)));
      }
    }
    return absl::OkStatus();
  }

  // Applies `delta` to `metadata`'s checkpoints, or fails leaving them as they were (the caller
  // works on a copy anyway). Sources need not be registered: like Quickwit, a delta creates the
  // source's checkpoint on first use.
  static absl::Status ApplyCheckpointDelta(const std::string& index_id,
                                           const CheckpointDelta& delta, IndexMetadata& metadata) {
    SourceCheckpoint updated = metadata.checkpoints[delta.source_id];
    for (const auto& [partition_id, partition_delta] : delta.partitions) {
      const auto it = updated.find(partition_id);
      const std::string stored = it == updated.end() ? std::string() : it->second;
      if (partition_delta.from != stored) {
        return absl::FailedPreconditionError(fmt::format(
            "checkpoint delta for source `{}` partition `{}` of index `{}` does not follow the "
            "stored checkpoint: expected from position `{}`, found `{}`",
            delta.source_id, partition_id, index_id, stored, partition_delta.from));
      }
      if (partition_delta.to <= partition_delta.from) {
        return absl::InvalidArgumentError(fmt::format(
            "checkpoint delta for source `{}` partition `{}` of index `{}` does not move "
            "forward: from `{}` to `{}`",
            delta.source_id, partition_id, index_id, partition_delta.from, partition_delta.to));
      }
      updated[partition_id] = partition_delta.to;
    }
    metadata.checkpoints[delta.source_id] = std::move(updated);
    return absl::OkStatus();
  }

  // True when `version` was checked against the storage longer than polling_interval ago.
  bool IsStale(const FileVersion& version) const {
    return options_.polling_interval.has_value() &&
           options_.clock() - version.checked_at >= *options_.polling_interval;
  }

  static absl::StatusOr<Manifest> ParseManifest(const FileContent& content) {
    Manifest manifest;
    if (!content.has_value()) {
      return manifest;
    }
    const Json json = Json::parse(*content, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      return absl::DataLossError(
          fmt::format("metastore file `{}` is not a valid json object", kManifestPath));
    }
    for (const auto& [index_id, state_json] : json.items()) {
      const std::optional<IndexState> state =
          state_json.is_string() ? IndexStateFromName(state_json.get<std::string>()) : std::nullopt;
      if (!state.has_value()) {
        return absl::DataLossError(
            fmt::format("metastore file `{}` is corrupt: index `{}` has an invalid state",
                        kManifestPath, index_id));
      }
      manifest[index_id] = *state;
    }
    return manifest;
  }

  // Loads the manifest on first use; afterwards re-reads it when a write of it is pending or,
  // for readers, when it is stale.
  absl::Status LoadManifestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(manifest_mu_) {
    if (manifest_version_.known && !manifest_version_.pending.has_value() &&
        !IsStale(manifest_version_)) {
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(const FileContent stored, internal::ReadStoredFile(*storage_, kManifestPath));
    const absl::Time now = options_.clock();
    if (manifest_version_.known && stored == manifest_version_.content) {
      manifest_version_.pending.reset();
      manifest_version_.checked_at = now;
      return absl::OkStatus();
    }
    ReportForeignChange(manifest_version_, stored, kManifestPath);
    ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(stored));
    AdoptManifestLocked(std::move(manifest));
    manifest_version_ = FileVersion{true, stored, std::nullopt, now};
    return absl::OkStatus();
  }

  // Replaces the cached manifest and keeps entries_ in step: entries of indexes that are still
  // active keep their cache, the others are marked deleted.
  // REQUIRES: no entry mutex held (lock order).
  void AdoptManifestLocked(Manifest manifest) ABSL_EXCLUSIVE_LOCKS_REQUIRED(manifest_mu_) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      const auto state = manifest.find(it->first);
      absl::MutexLock entry_lock(&it->second->mu);
      if (state == manifest.end() || state->second != IndexState::kActive || it->second->deleted) {
        it->second->deleted = true;
        it->second->file.reset();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [index_id, state] : manifest) {
      if (state == IndexState::kActive && !entries_.contains(index_id)) {
        entries_[index_id] = std::make_shared<IndexEntry>();
      }
    }
    manifest_ = std::move(manifest);
  }

  // Logs and counts a stored file found changed by someone else than this instance, for files
  // this instance has written (a reader's refreshes are expected changes).
  void ReportForeignChange(const FileVersion& version, const FileContent& stored,
                           std::string_view path) {
    if (!version.known || !version.pending.has_value() || stored == *version.pending) {
      return;
    }
    writer_conflicts_.Increment();
    SHALE_LOG_ERROR(
        "metastore file changed by another writer uri={} path={} writer={} lease_holder={}",
        storage_->uri().str(), path, internal::DescribeWriter(lease_.self()),
        lease_.LastSeenHolder());
  }

  absl::Status WriteManifestLocked(Manifest manifest, std::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(manifest_mu_) {
    Json json = Json::object();
    for (const auto& [index_id, state] : manifest) {
      json[index_id] = IndexStateName(state);
    }
    ASSIGN_OR_RETURN(const std::string text, DumpJson(json, "index states"));
    RETURN_IF_ERROR(lease_.Acquire(what));
    ASSIGN_OR_RETURN(const FileContent stored, internal::ReadStoredFile(*storage_, kManifestPath));
    if (stored != manifest_version_.content) {
      writer_conflicts_.Increment();
      // Re-read on the next access. Entries are not touched here: callers may hold an entry's
      // mutex.
      manifest_version_.known = false;
      return internal::WriterConflictError(fmt::format(
          "metastore file `{}` in `{}` was changed by another writer (lease holder: {}); this {} "
          "did not write {}. A file-backed metastore allows a single writer",
          kManifestPath, storage_->uri().str(), lease_.LastSeenHolder(),
          internal::DescribeWriter(lease_.self()), what));
    }
    RETURN_IF_ERROR(internal::WriteStoredFile(*storage_, kManifestPath, text, manifest_version_,
                                              options_.clock()));
    manifest_ = std::move(manifest);
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<IndexEntry>> FindEntry(const std::string& index_id)
      ABSL_LOCKS_EXCLUDED(manifest_mu_) {
    absl::MutexLock lock(&manifest_mu_);
    RETURN_IF_ERROR(LoadManifestLocked());
    const auto it = entries_.find(index_id);
    if (it == entries_.end()) {
      return IndexNotFound(index_id);
    }
    return it->second;
  }

  absl::StatusOr<std::map<std::string, std::shared_ptr<IndexEntry>>> AllEntries()
      ABSL_LOCKS_EXCLUDED(manifest_mu_) {
    absl::MutexLock lock(&manifest_mu_);
    RETURN_IF_ERROR(LoadManifestLocked());
    return entries_;
  }

  // Loads the index file on first use; afterwards re-reads it when a write of it is pending or,
  // for readers, when it is stale. A reader that finds the file gone marks the entry deleted and
  // reports NotFound (the writer deleted the index since the reader's last look at the
  // manifest).
  absl::Status LoadIndexLocked(const std::string& index_id, IndexEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu) {
    if (entry.file.has_value() && !entry.version.pending.has_value() && !IsStale(entry.version)) {
      return absl::OkStatus();
    }
    const std::string path = IndexFilePath(index_id);
    ASSIGN_OR_RETURN(const FileContent stored, internal::ReadStoredFile(*storage_, path));
    const absl::Time now = options_.clock();
    if (entry.file.has_value() && stored == entry.version.content) {
      entry.version.pending.reset();
      entry.version.checked_at = now;
      return absl::OkStatus();
    }
    if (!stored.has_value()) {
      if (options_.polling_interval.has_value()) {
        entry.deleted = true;
        entry.file.reset();
        return IndexNotFound(index_id);
      }
      return absl::DataLossError(
          fmt::format("metastore file `{}` is missing although index `{}` is active in `{}`", path,
                      index_id, kManifestPath));
    }
    ReportForeignChange(entry.version, stored, path);
    ASSIGN_OR_RETURN(IndexFile file, ParseIndexFile(*stored, path, index_id));
    entry.file = std::move(file);
    entry.version = FileVersion{true, stored, std::nullopt, now};
    return absl::OkStatus();
  }

  // Runs `mutate` on a copy of the index's state, writes the result, then swaps it in. Nothing
  // changes when `mutate` or the write fails. The write needs the writer lease and an unchanged
  // stored file; otherwise it fails with a writer conflict and the file is re-read on its next
  // access.
  absl::Status MutateIndex(const std::string& index_uid,
                           const std::function<absl::Status(IndexFile&)>& mutate) {
    const std::string index_id = IndexIdOfUid(index_uid);
    absl::StatusOr<std::shared_ptr<IndexEntry>> entry_or = FindEntry(index_id);
    if (absl::IsNotFound(entry_or.status())) {
      return IndexNotFound(index_uid);
    }
    ASSIGN_OR_RETURN(const std::shared_ptr<IndexEntry> entry, std::move(entry_or));
    absl::MutexLock lock(&entry->mu);
    if (entry->deleted) {
      return IndexNotFound(index_uid);
    }
    const absl::Status loaded = LoadIndexLocked(index_id, *entry);
    if (entry->deleted) {
      return IndexNotFound(index_uid);
    }
    RETURN_IF_ERROR(loaded);
    if (entry->file->metadata.index_uid != index_uid) {
      return IndexNotFound(index_uid);
    }
    IndexFile updated = *entry->file;
    RETURN_IF_ERROR(mutate(updated));
    updated.revision = entry->file->revision + 1;
    updated.writer = lease_.self();
    ASSIGN_OR_RETURN(const std::string text,
                     DumpJson(IndexFileToJson(updated), fmt::format("index `{}`", index_id)));
    const std::string what = fmt::format("index `{}`", index_id);
    RETURN_IF_ERROR(lease_.Acquire(what));
    const std::string path = IndexFilePath(index_id);
    ASSIGN_OR_RETURN(const FileContent stored, internal::ReadStoredFile(*storage_, path));
    if (stored != entry->version.content) {
      writer_conflicts_.Increment();
      const std::string message = fmt::format(
          "metastore file `{}` of index `{}` was changed by another writer: it holds {}, while "
          "this {} expected revision {}; the write was not applied. A file-backed metastore "
          "allows a single writer (lease holder: {})",
          path, index_id, DescribeStoredIndexFile(stored), internal::DescribeWriter(lease_.self()),
          entry->file->revision, lease_.LastSeenHolder());
      SHALE_LOG_ERROR("metastore write refused uri={} error={}", storage_->uri().str(), message);
      entry->file.reset();
      entry->version = FileVersion{};
      return internal::WriterConflictError(message);
    }
    RETURN_IF_ERROR(
        internal::WriteStoredFile(*storage_, path, text, entry->version, options_.clock()));
    entry->file = std::move(updated);
    return absl::OkStatus();
  }

  const std::shared_ptr<storage::Storage> storage_;
  const FileBackedMetastoreOptions options_;
  internal::WriterLease lease_;
  Counter& writer_conflicts_;
  absl::Mutex manifest_mu_;
  FileVersion manifest_version_ ABSL_GUARDED_BY(manifest_mu_);
  Manifest manifest_ ABSL_GUARDED_BY(manifest_mu_);
  // Active indexes only.
  std::map<std::string, std::shared_ptr<IndexEntry>> entries_ ABSL_GUARDED_BY(manifest_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Metastore>> NewFileBackedMetastore(
    std::shared_ptr<storage::Storage> storage, FileBackedMetastoreOptions options) {
  if (storage == nullptr) {
    return absl::InvalidArgumentError("file-backed metastore needs a storage");
  }
  if (options.polling_interval.has_value() && *options.polling_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("file-backed metastore: polling_interval must be positive");
  }
  if (options.writer_lease_ttl < absl::Seconds(3)) {
    return absl::InvalidArgumentError(
        "file-backed metastore: the writer lease ttl must be at least 3s");
  }
  if (!options.clock) {
    options.clock = [] { return absl::Now(); };
  }
  return std::unique_ptr<Metastore>(
      std::make_unique<FileBackedMetastore>(std::move(storage), std::move(options)));
}

absl::StatusOr<std::unique_ptr<Metastore>> NewFileBackedMetastore(
    std::shared_ptr<storage::Storage> storage) {
  return NewFileBackedMetastore(std::move(storage), FileBackedMetastoreOptions{});
}

}  // namespace shale::metastore
