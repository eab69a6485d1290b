// Split files on a Storage: naming, upload, and opening an engine SplitReader with as few reads
// as possible. A split lives at `{index_uri}/{split_id}.split`; its footer + hotcache byte range
// is recorded by the metastore, so opening costs exactly one ranged read of that range (and none
// of the rest of the file until a query needs it).
//
// Thread safety: the returned readers and byte-range sources are thread-safe; Storage must be.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "index/split_format.h"
#include "storage/storage.h"

namespace shale::split {

// "{split_id}.split"
std::string SplitFileName(const std::string& split_id);

// Where a split is and how to open it cheaply.
struct SplitLocation {
  std::string split_id;
  uint64_t file_size = 0;     // total bytes of the split file
  uint64_t footer_start = 0;  // footer + hotcache range, as SerializedSplit reports it
  uint64_t footer_end = 0;
};

// A ByteRangeSource reading `path` from `storage` through ranged GETs.
std::shared_ptr<index::ByteRangeSource> NewStorageByteRangeSource(
    std::shared_ptr<storage::Storage> storage, std::string path, uint64_t file_size,
    std::string name);

// Reads the footer range with one GetSlice and opens the split. DataLoss (naming the split) when
// the footer is corrupt; NotFound when the file is missing.
absl::StatusOr<std::unique_ptr<index::SplitReader>> OpenSplit(
    std::shared_ptr<storage::Storage> storage, const SplitLocation& location);

// Uploads a serialized split to `{split_id}.split` on `storage`.
absl::Status UploadSplit(storage::Storage& storage, const std::string& split_id,
                         const index::SerializedSplit& split);

}  // namespace shale::split
