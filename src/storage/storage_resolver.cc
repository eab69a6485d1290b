// StorageResolver: maps uris to storages. One local storage per file:// root and one shared RAM
// storage per ram:// uri, kept for the resolver's lifetime so reopening a uri finds its files.
// s3:// uris get retrying(counting(S3 storage)), one per uri. With test failure injection, file://
// and s3:// storages get retrying(counting(flaky(storage))).
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
  explicit DefaultStorageResolver(StorageResolverOptions options) : options_(std::move(options)) {}

  absl::StatusOr<std::shared_ptr<Storage>> Resolve(const Uri& uri) override {
    switch (uri.protocol()) {
      case Uri::Protocol::kFile: {
        absl::MutexLock lock(&mu_);
        auto& slot = storages_[uri.str()];
        if (slot == nullptr) {
          ASSIGN_OR_RETURN(std::unique_ptr<Storage> storage, NewLocalStorage(uri));
          slot = options_.test_failure_rate ? WithInjectedFailures(std::move(storage))
                                            : std::move(storage);
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
          ASSIGN_OR_RETURN(std::unique_ptr<Storage> s3, NewS3Storage(uri, options_.s3));
          slot = options_.test_failure_rate
                     ? WithInjectedFailures(std::move(s3))
                     : NewRetryingStorage(NewCountingStorage(std::move(s3)), options_.retry);
        }
        return slot;
      }
      case Uri::Protocol::kPostgres:
        break;
    }
    return absl::InvalidArgumentError(fmt::format("no storage serves uri `{}`", uri.str()));
  }

 private:
  std::unique_ptr<Storage> WithInjectedFailures(std::unique_ptr<Storage> storage)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // One seed per storage, so two storages do not fail in lockstep.
    std::unique_ptr<Storage> flaky = NewFlakyStorage(std::move(storage), options_.test_failure_rate,
                                                     options_.test_failure_seed + storages_.size());
    return NewRetryingStorage(NewCountingStorage(std::move(flaky)), options_.retry);
  }

  const StorageResolverOptions options_;
  absl::Mutex mu_;
  // One instance per root uri (file:// and ram:// uris never collide: the scheme is part of it).
  std::map<std::string, std::shared_ptr<Storage>> storages_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<StorageResolver> NewStorageResolver(const StorageResolverOptions& options) {
  return std::make_unique<DefaultStorageResolver>(options);
}

std::unique_ptr<StorageResolver> NewStorageResolver(const S3Options& s3_options) {
  StorageResolverOptions options;
  options.s3 = s3_options;
  return NewStorageResolver(options);
}

std::unique_ptr<StorageResolver> NewStorageResolver() { return NewStorageResolver(S3Options{}); }

}  // namespace shale::storage
