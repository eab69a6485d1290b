// NewRamMetastore (tests only): a file-backed metastore on a fresh `ram:///` root, the metastore
// most unit tests of the indexing and serving code run against.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "common/status_macros.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::metastore::testing {

inline absl::StatusOr<std::unique_ptr<Metastore>> NewRamMetastore(
    storage::StorageResolver& resolver) {
  ASSIGN_OR_RETURN(Uri uri, Uri::Parse("ram:///metastore-" + NewUlid()));
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage, resolver.Resolve(uri));
  return NewFileBackedMetastore(storage);
}

}  // namespace shale::metastore::testing
