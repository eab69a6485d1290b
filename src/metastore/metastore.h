// Metastore: the source of truth for indexes, their sources and checkpoints, and their splits.
// Implementations: file-backed on a Storage (one JSON file per index, replaced atomically; see
// docs/format/metastore.md) and PostgreSQL (later). Every implementation runs the conformance
// suite in metastore/testing/.
//
// Exactly-once rule: PublishSplits flips staged splits to Published, marks replaced splits for
// deletion and applies the checkpoint delta in ONE atomic operation; a delta that does not follow
// the stored checkpoint fails with FailedPrecondition and changes nothing.
//
// Thread safety: implementations are thread-safe. The file-backed one allows a single writer
// process per metastore uri and detects a second one (see FileBackedMetastoreOptions).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "config/index_config.h"
#include "nlohmann/json.hpp"
#include "storage/storage.h"

namespace shale::metastore {

// PERSISTED (as strings "Staged", "Published", "MarkedForDeletion"): never rename.
enum class SplitState { kStaged, kPublished, kMarkedForDeletion };
const char* SplitStateName(SplitState state);

struct SplitMetadata {
  std::string split_id;   // ULID
  std::string index_uid;  // "{index_id}:{ulid}"
  std::string source_id;
  std::string node_id;
  std::string partition_id = "0";
  uint64_t num_docs = 0;
  uint64_t uncompressed_docs_size_in_bytes = 0;
  uint64_t split_size_bytes = 0;
  // Inclusive time range in seconds, like Quickwit's `time_range: {start, end}`.
  std::optional<int64_t> time_range_start_secs;
  std::optional<int64_t> time_range_end_secs;
  std::set<std::string> tags;
  // Footer + hotcache byte range inside the split file, so a searcher opens it with one read.
  uint64_t footer_start = 0;
  uint64_t footer_end = 0;
  int64_t create_timestamp = 0;    // unix seconds
  int64_t maturity_timestamp = 0;  // unix seconds; mature when <= now
  uint32_t num_merge_ops = 0;
  uint64_t delete_opstamp = 0;
};

struct Split {
  SplitMetadata metadata;
  SplitState state = SplitState::kStaged;
  int64_t update_timestamp = 0;
  std::optional<int64_t> publish_timestamp;
};

// Position of a source partition; "" is the beginning. Positions of one partition compare as
// strings of equal width (producers zero-pad offsets), so they must strictly increase.
using SourceCheckpoint = std::map<std::string, std::string>;  // partition id -> position

struct PartitionDelta {
  std::string from;  // must equal the stored position ("" when none)
  std::string to;
};

struct CheckpointDelta {
  std::string source_id;
  std::map<std::string, PartitionDelta> partitions;
};

struct IndexMetadata {
  std::string index_uid;
  config::IndexConfig index_config;
  std::map<std::string, config::SourceConfig> sources;  // by source id
  std::map<std::string, SourceCheckpoint> checkpoints;  // by source id
  int64_t create_timestamp = 0;

  const std::string& index_id() const { return index_config.index_id; }
};

struct ListSplitsQuery {
  std::vector<std::string> index_uids;  // empty: all indexes
  std::vector<SplitState> states;       // empty: all states
  // Keep splits whose time range intersects [start, end) (seconds); splits without a time range
  // always match.
  std::optional<int64_t> time_range_start_secs;
  std::optional<int64_t> time_range_end_secs;
};

class Metastore {
 public:
  virtual ~Metastore() = default;

  // AlreadyExists when an index with this id exists. The returned metadata has a fresh index_uid.
  virtual absl::StatusOr<IndexMetadata> CreateIndex(const config::IndexConfig& config) = 0;
  // NotFound naming the index.
  virtual absl::StatusOr<IndexMetadata> GetIndexMetadata(const std::string& index_id) = 0;
  virtual absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() = 0;
  // Removes the index and its split records (callers delete the split files first).
  virtual absl::Status DeleteIndex(const std::string& index_uid) = 0;

  // Records new splits as Staged. AlreadyExists if a split id is taken by a non-staged split.
  virtual absl::Status StageSplits(const std::string& index_uid,
                                   const std::vector<SplitMetadata>& splits) = 0;
  // Atomically: staged -> Published, replaced (published) -> MarkedForDeletion, checkpoint delta
  // applied. NotFound for unknown splits, FailedPrecondition for splits in the wrong state or a
  // delta that does not follow the checkpoint.
  virtual absl::Status PublishSplits(const std::string& index_uid,
                                     const std::vector<std::string>& staged_split_ids,
                                     const std::vector<std::string>& replaced_split_ids,
                                     const std::optional<CheckpointDelta>& checkpoint_delta) = 0;
  // Splits matching `query`, ordered by index id then split id. NotFound when one of
  // `query.index_uids` names no current index.
  virtual absl::StatusOr<std::vector<Split>> ListSplits(const ListSplitsQuery& query) = 0;
  // Published or staged -> MarkedForDeletion. Unknown ids are ignored.
  virtual absl::Status MarkSplitsForDeletion(const std::string& index_uid,
                                             const std::vector<std::string>& split_ids) = 0;
  // Removes records of splits that are Staged or MarkedForDeletion. FailedPrecondition for
  // published ones (and then nothing is removed). Unknown ids are ignored.
  virtual absl::Status DeleteSplits(const std::string& index_uid,
                                    const std::vector<std::string>& split_ids) = 0;

  // Sources (issue: durable pipeline). AlreadyExists / NotFound as named.
  virtual absl::Status AddSource(const std::string& index_uid,
                                 const config::SourceConfig& source) = 0;
  // Replaces the config of an existing source, keeping its checkpoint. NotFound naming the
  // source; InvalidArgument when the source type would change.
  virtual absl::Status UpdateSource(const std::string& index_uid,
                                    const config::SourceConfig& source) = 0;
  virtual absl::Status ToggleSource(const std::string& index_uid, const std::string& source_id,
                                    bool enable) = 0;
  virtual absl::Status DeleteSource(const std::string& index_uid, const std::string& source_id) = 0;
  virtual absl::Status ResetSourceCheckpoint(const std::string& index_uid,
                                             const std::string& source_id) = 0;
};

struct FileBackedMetastoreOptions {
  // Recorded, with a random writer id and the pid, in the writer lease and in every index file
  // this instance writes. A restarted process of the same node takes over its lease at once.
  std::string node_id;
  // Readers' delayed view (`metastore_uri: ...#polling_interval=30s`): a cached file older than
  // this is re-read from the storage on its next access, so what this instance answers is at
  // most this old. nullopt: files are read once and never re-read (the writer's view; its own
  // writes keep its cache current).
  std::optional<absl::Duration> polling_interval;
  // The writer lease is valid this long after its last renewal. A writer renews it on a write
  // once a third of this has passed; another node may take it over once it has expired.
  absl::Duration writer_lease_ttl = absl::Seconds(60);
  // Wall-clock time (tests inject a fake one).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// A metastore on `storage` (typically {data_dir}/indexes). Loads existing state lazily.
//
// Single writer: every write first makes sure this instance holds the writer lease
// (`_writer_lease.json`) and that the file it replaces is the one it last read or wrote. When
// another writer holds the lease or changed the file, the write is not applied and fails with
// FailedPrecondition naming the index (or file) and both writers (IsWriterConflict() is true);
// a changed file is then re-read on its next access. docs/format/metastore.md gives the details
// and the residual race window.
absl::StatusOr<std::unique_ptr<Metastore>> NewFileBackedMetastore(
    std::shared_ptr<storage::Storage> storage, FileBackedMetastoreOptions options);
// Same with default options (empty node id, no polling).
absl::StatusOr<std::unique_ptr<Metastore>> NewFileBackedMetastore(
    std::shared_ptr<storage::Storage> storage);

// True for the errors of a refused write by a second writer of a file-backed metastore (the
// REST API answers them with 409 Conflict).
bool IsWriterConflict(const absl::Status& status);

// JSON forms used by the REST API and the file-backed metastore (Quickwit's shapes).
nlohmann::json SplitMetadataToJson(const SplitMetadata& split);
absl::StatusOr<SplitMetadata> SplitMetadataFromJson(const nlohmann::json& json);
// SplitMetadataToJson plus "split_state", "update_timestamp" and "publish_timestamp".
nlohmann::json SplitToJson(const Split& split);
// Inverse of SplitToJson. InvalidArgument naming the key on malformed input.
absl::StatusOr<Split> SplitFromJson(const nlohmann::json& json);
nlohmann::json IndexMetadataToJson(const IndexMetadata& metadata);
absl::StatusOr<IndexMetadata> IndexMetadataFromJson(const nlohmann::json& json);

}  // namespace shale::metastore
