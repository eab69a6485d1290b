// Test helpers: a file-backed metastore on RAM storage, an index in it, and splits built from
// JSON documents and published there, as the indexing pipeline would.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::search::testing {

// A file-backed metastore on a fresh `ram://` location of `resolver`.
absl::StatusOr<std::unique_ptr<metastore::Metastore>> NewRamMetastore(
    storage::StorageResolver& resolver);

// Creates the index of `index_config_json` with its index uri replaced by a fresh `ram://`
// location (so tests do not share split files).
absl::StatusOr<metastore::IndexMetadata> CreateRamIndex(metastore::Metastore& metastore,
                                                        const std::string& index_config_json);

// A file-backed metastore on RAM storage holding one index created by CreateRamIndex.
struct RamIndex {
  std::unique_ptr<metastore::Metastore> metastore;
  metastore::IndexMetadata metadata;
};
absl::StatusOr<RamIndex> NewRamIndex(storage::StorageResolver& resolver,
                                     const std::string& index_config_json);

// Builds one split of `json_docs` (each a JSON object) with the index's doc mapping, uploads it
// to the index uri and publishes it. Returns its split id.
absl::StatusOr<std::string> PublishSplit(storage::StorageResolver& resolver,
                                         metastore::Metastore& metastore,
                                         const metastore::IndexMetadata& index,
                                         const std::vector<std::string>& json_docs);

}  // namespace shale::search::testing
