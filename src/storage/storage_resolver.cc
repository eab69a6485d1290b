// StorageResolver: maps uris to storages. One local storage per file:// root and one shared RAM
// storage per ram:// uri, kept for the resolver's lifetime so reopening a uri finds its files.
// s3:// uris get retrying(counting(S3 storage)), one per uri.
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/uri.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"

namespace shale::storage {
namespace {

class DefaultStorageResolver final : public StorageResolver {
 public:
  explicit DefaultStorageResolver(S3Options s3_options) : s3_options_(std::move(s3_options)) {}

  absl::StatusOr<std::shared_ptr<Storage>> Resolve(const Uri& uri) override {
    switch (uri.protocol()) {
      case Uri::Protocol::kFile: {
        absl::MutexLock lock(&mu_);
        auto& slot = storages_[uri.str()];
        if (slot == nullptr) {
          ASSIGN_OR_RETURN(std::unique_ptr<Storage> storage, NewLocalStorage(uri));
          slot = std::move(storage);
        }
        return slot;
      }
      case Uri::Protocol::kRam: {
        absl::MutexLock lock(&mu_);
        auto& slot = storages_[uri.str()];
        if (slot == nullptr) {
          slot = NewRamStorage(uri);
        }
        return slot;
      }
      case Uri::Protocol::kS3: {
        absl::MutexLock lock(&mu_);
        auto& slot = storages_[uri.str()];
        if (slot == nullptr) {
          ASSIGN_OR_RETURN(std::unique_ptr<Storage> s3, NewS3Storage(uri, s3_options_));
          slot = NewRetryingStorage(NewCountingStorage(std::move(s3)), RetryOptions{});
        }
        return slot;
      }
      case Uri::Protocol::kPostgres:
        break;
    }
    return absl::InvalidArgumentError(fmt::format("no storage serves uri `{}`", uri.str()));
  }

 private:
  const S3Options s3_options_;
  absl::Mutex mu_;
  // One instance per root uri (file:// and ram:// uris never collide: the scheme is part of it).
  std::map<std::string, std::shared_ptr<Storage>> storages_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<StorageResolver> NewStorageResolver(const S3Options& s3_options) {
  return std::make_unique<DefaultStorageResolver>(s3_options);
}

std::unique_ptr<StorageResolver> NewStorageResolver() { return NewStorageResolver(S3Options{}); }

}  // namespace shale::storage
