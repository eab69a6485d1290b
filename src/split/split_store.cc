#include "split/split_store.h"

#include <utility>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace shale::split {
namespace {

class StorageByteRangeSource final : public index::ByteRangeSource {
 public:
  StorageByteRangeSource(std::shared_ptr<storage::Storage> storage, std::string path,
                         uint64_t file_size, std::string name)
      : storage_(std::move(storage)),
        path_(std::move(path)),
        file_size_(file_size),
        name_(std::move(name)) {}

  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    if (offset > file_size_ || length > file_size_ - offset) {
      return absl::DataLossError(fmt::format("split {}: read of {} bytes at offset {} is past the "
                                             "end of the file ({} bytes)",
                                             name_, length, offset, file_size_));
    }
    auto bytes = storage_->GetSlice(path_, offset, length);
    if (!bytes.ok() && bytes.status().code() == absl::StatusCode::kOutOfRange) {
      return absl::DataLossError(fmt::format("split {}: file is shorter than recorded ({} bytes): {}",
                                             name_, file_size_, std::string(bytes.status().message())));
    }
    return bytes;
  }
  uint64_t size() const override { return file_size_; }
  const std::string& name() const override { return name_; }

 private:
  const std::shared_ptr<storage::Storage> storage_;
  const std::string path_;
  const uint64_t file_size_;
  const std::string name_;
};

}  // namespace

std::string SplitFileName(const std::string& split_id) { return split_id + ".split"; }

std::shared_ptr<index::ByteRangeSource> NewStorageByteRangeSource(
    std::shared_ptr<storage::Storage> storage, std::string path, uint64_t file_size,
    std::string name) {
  return std::make_shared<StorageByteRangeSource>(std::move(storage), std::move(path), file_size,
                                                  std::move(name));
}

absl::StatusOr<std::unique_ptr<index::SplitReader>> OpenSplit(
    std::shared_ptr<storage::Storage> storage, const SplitLocation& location) {
  if (location.footer_end < location.footer_start || location.footer_end > location.file_size) {
    return absl::DataLossError(fmt::format(
        "split {}: footer range [{}, {}) does not fit in the file ({} bytes)", location.split_id,
        location.footer_start, location.footer_end, location.file_size));
  }
  const std::string path = SplitFileName(location.split_id);
  auto source = NewStorageByteRangeSource(storage, path, location.file_size, location.split_id);
  std::optional<std::string> hotcache;
  if (location.footer_end > location.footer_start) {
    ASSIGN_OR_RETURN(hotcache, source->Read(location.footer_start,
                                            location.footer_end - location.footer_start));
  }
  return index::SplitReader::Open(std::move(source), std::move(hotcache));
}

absl::Status UploadSplit(storage::Storage& storage, const std::string& split_id,
                         const index::SerializedSplit& split) {
  return storage.Put(SplitFileName(split_id), split.bytes);
}

}  // namespace shale::split
