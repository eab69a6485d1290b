// In-memory Storage for tests: a sorted map from path to content under one mutex. It follows the
// same path rules and error codes as the local storage so the conformance suite runs on both.
#include <fstream>
#include <map>
#include <memory>
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
#include "common/uri.h"
#include "storage/internal/path.h"
#include "storage/storage.h"

namespace shale::storage {
namespace {

class RamStorage final : public Storage {
 public:
  explicit RamStorage(Uri uri) : uri_(std::move(uri)) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    // Build the new content outside the lock; the swap makes the replacement atomic.
    auto content = std::make_shared<const std::string>(data);
    absl::MutexLock lock(&mu_);
    files_[std::string(path)] = std::move(content);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    ASSIGN_OR_RETURN(const std::shared_ptr<const std::string> content, Find(path));
    const uint64_t file_size = content->size();
    if (offset > file_size || length > file_size - offset) {
      return absl::OutOfRangeError(
          fmt::format("range [{}, {}) of `{}` ends past the end of the file ({} bytes)", offset,
                      offset + length, FullPath(path), file_size));
    }
    return content->substr(offset, length);
  }

  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::shared_ptr<const std::string> content, Find(path));
    return *content;
  }

  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    ASSIGN_OR_RETURN(const std::shared_ptr<const std::string> content, Find(path));
    std::ofstream out(local_path, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::FailedPreconditionError(
          fmt::format("failed to create `{}`", local_path.string()));
    }
    out.write(content->data(), static_cast<std::streamsize>(content->size()));
    out.close();
    if (!out) {
      return absl::InternalError(fmt::format("failed to write `{}`", local_path.string()));
    }
    return absl::OkStatus();
  }

  absl::Status Delete(std::string_view path) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    absl::MutexLock lock(&mu_);
    files_.erase(std::string(path));
    return absl::OkStatus();
  }

  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    for (const std::string& path : paths) {
      RETURN_IF_ERROR(ValidateStoragePath(path));
    }
    absl::MutexLock lock(&mu_);
    for (const std::string& path : paths) {
      files_.erase(path);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    RETURN_IF_ERROR(internal::ValidateListPrefix(prefix));
    std::vector<std::string> paths;
    absl::MutexLock lock(&mu_);
    for (auto it = files_.lower_bound(std::string(prefix));
         it != files_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      paths.push_back(it->first);
    }
    return paths;
  }

  absl::StatusOr<bool> Exists(std::string_view path) override {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    absl::MutexLock lock(&mu_);
    return files_.contains(std::string(path));
  }

  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::shared_ptr<const std::string> content, Find(path));
    return static_cast<uint64_t>(content->size());
  }

  const Uri& uri() const override { return uri_; }

 private:
  std::string FullPath(std::string_view path) const {
    return fmt::format("{}/{}", uri_.str(), path);
  }

  absl::StatusOr<std::shared_ptr<const std::string>> Find(std::string_view path) {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    absl::MutexLock lock(&mu_);
    const auto it = files_.find(std::string(path));
    if (it == files_.end()) {
      return absl::NotFoundError(fmt::format("file `{}` not found", FullPath(path)));
    }
    return it->second;
  }

  const Uri uri_;
  absl::Mutex mu_;
  // Contents are immutable and shared so readers copy outside the lock.
  std::map<std::string, std::shared_ptr<const std::string>> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Storage> NewRamStorage(const Uri& root) {
  return std::make_unique<RamStorage>(root);
}

}  // namespace shale::storage
