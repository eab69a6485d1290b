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

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "config/index_config.h"
#include "metastore/metastore.h"
#include "nlohmann/json.hpp"
#include "storage/storage.h"

namespace shale::metastore {
namespace {

using Json = nlohmann::json;

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
};

struct IndexEntry {
  absl::Mutex mu;
  // Set when the index is deleted; holders of a stale pointer then report NotFound.
  bool deleted ABSL_GUARDED_BY(mu) = false;
  // Loaded lazily; always equal to the stored file once set.
  std::optional<IndexFile> file ABSL_GUARDED_BY(mu);
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
  explicit FileBackedMetastore(std::shared_ptr<storage::Storage> storage)
      : storage_(std::move(storage)) {}

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
    ASSIGN_OR_RETURN(const std::string text, DumpJson(IndexFileToJson(file), "index metadata"));

    Manifest manifest = manifest_;
    manifest[index_id] = IndexState::kCreating;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest)));
    RETURN_IF_ERROR(storage_->Put(IndexFilePath(index_id), text));
    manifest = manifest_;
    manifest[index_id] = IndexState::kActive;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest)));

    auto entry = std::make_shared<IndexEntry>();
    IndexMetadata metadata = file.metadata;
    {
      absl::MutexLock entry_lock(&entry->mu);
      entry->file = std::move(file);
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
      RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
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
    RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
    if (entry->file->metadata.index_uid != index_uid) {
      return IndexNotFound(index_uid);
    }

    Manifest manifest = manifest_;
    manifest[index_id] = IndexState::kDeleting;
    RETURN_IF_ERROR(WriteManifestLocked(std::move(manifest)));
    // From here on the index is gone for readers, whatever happens to the cleanup below.
    entry->deleted = true;
    entry->file.reset();
    entries_.erase(entry_it);
    RETURN_IF_ERROR(storage_->Delete(IndexFilePath(index_id)));
    manifest = manifest_;
    manifest.erase(index_id);
    return WriteManifestLocked(std::move(manifest));
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
      RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
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

  absl::Status LoadManifestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(manifest_mu_) {
    if (manifest_loaded_) {
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> text = storage_->GetAll(kManifestPath);
    Manifest manifest;
    if (text.ok()) {
      const Json json = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (json.is_discarded() || !json.is_object()) {
        return absl::DataLossError(
            fmt::format("metastore file `{}` is not a valid json object", kManifestPath));
      }
      for (const auto& [index_id, state_json] : json.items()) {
        const std::optional<IndexState> state =
            state_json.is_string() ? IndexStateFromName(state_json.get<std::string>())
                                   : std::nullopt;
        if (!state.has_value()) {
          return absl::DataLossError(
              fmt::format("metastore file `{}` is corrupt: index `{}` has an invalid state",
                          kManifestPath, index_id));
        }
        manifest[index_id] = *state;
      }
    } else if (!absl::IsNotFound(text.status())) {
      return text.status();
    }
    manifest_ = std::move(manifest);
    for (const auto& [index_id, state] : manifest_) {
      if (state == IndexState::kActive) {
        entries_[index_id] = std::make_shared<IndexEntry>();
      }
    }
    manifest_loaded_ = true;
    return absl::OkStatus();
  }

  absl::Status WriteManifestLocked(Manifest manifest) ABSL_EXCLUSIVE_LOCKS_REQUIRED(manifest_mu_) {
    Json json = Json::object();
    for (const auto& [index_id, state] : manifest) {
      json[index_id] = IndexStateName(state);
    }
    ASSIGN_OR_RETURN(const std::string text, DumpJson(json, "index states"));
    RETURN_IF_ERROR(storage_->Put(kManifestPath, text));
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

  absl::Status LoadIndexLocked(const std::string& index_id, IndexEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.mu) {
    if (entry.file.has_value()) {
      return absl::OkStatus();
    }
    const std::string path = IndexFilePath(index_id);
    absl::StatusOr<std::string> text = storage_->GetAll(path);
    if (absl::IsNotFound(text.status())) {
      return absl::DataLossError(
          fmt::format("metastore file `{}` is missing although index `{}` is active in `{}`", path,
                      index_id, kManifestPath));
    }
    if (!text.ok()) {
      return text.status();
    }
    ASSIGN_OR_RETURN(IndexFile file, ParseIndexFile(*text, path, index_id));
    entry.file = std::move(file);
    return absl::OkStatus();
  }

  // Runs `mutate` on a copy of the index's state, writes the result, then swaps it in. Nothing
  // changes when `mutate` or the write fails.
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
    RETURN_IF_ERROR(LoadIndexLocked(index_id, *entry));
    if (entry->file->metadata.index_uid != index_uid) {
      return IndexNotFound(index_uid);
    }
    IndexFile updated = *entry->file;
    RETURN_IF_ERROR(mutate(updated));
    ASSIGN_OR_RETURN(const std::string text,
                     DumpJson(IndexFileToJson(updated), fmt::format("index `{}`", index_id)));
    RETURN_IF_ERROR(storage_->Put(IndexFilePath(index_id), text));
    entry->file = std::move(updated);
    return absl::OkStatus();
  }

  const std::shared_ptr<storage::Storage> storage_;
  absl::Mutex manifest_mu_;
  bool manifest_loaded_ ABSL_GUARDED_BY(manifest_mu_) = false;
  Manifest manifest_ ABSL_GUARDED_BY(manifest_mu_);
  // Active indexes only.
  std::map<std::string, std::shared_ptr<IndexEntry>> entries_ ABSL_GUARDED_BY(manifest_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Metastore>> NewFileBackedMetastore(
    std::shared_ptr<storage::Storage> storage) {
  if (storage == nullptr) {
    return absl::InvalidArgumentError("file-backed metastore needs a storage");
  }
  return std::unique_ptr<Metastore>(std::make_unique<FileBackedMetastore>(std::move(storage)));
}

}  // namespace shale::metastore
