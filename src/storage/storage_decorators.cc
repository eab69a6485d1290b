// Retrying, counting and prefix decorators (see storage_decorators.h).
#include "storage/storage_decorators.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"

#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "storage/internal/path.h"
#include "storage/storage.h"

namespace shale::storage {

std::string_view StorageOpName(StorageOp op) {
  switch (op) {
    case StorageOp::kPut: return "put";
    case StorageOp::kGetSlice: return "get_slice";
    case StorageOp::kGetAll: return "get_all";
    case StorageOp::kCopyToFile: return "copy_to_file";
    case StorageOp::kDelete: return "delete";
    case StorageOp::kBulkDelete: return "bulk_delete";
    case StorageOp::kList: return "list";
    case StorageOp::kExists: return "exists";
    case StorageOp::kFileNumBytes: return "file_num_bytes";
  }
  return "unknown";
}

namespace {

// ---------------------------------------------------------------------------------------------
// Retrying

bool IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

class RetryingStorage final : public Storage {
 public:
  RetryingStorage(std::unique_ptr<Storage> inner, const RetryOptions& options)
      : inner_(std::move(inner)), options_(options) {
    options_.max_attempts = std::max(options_.max_attempts, 1);
  }

  absl::Status Put(std::string_view path, std::string_view data) override {
    return Retry([&] { return inner_->Put(path, data); });
  }
  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    return Retry([&] { return inner_->GetSlice(path, offset, length); });
  }
  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    return Retry([&] { return inner_->GetAll(path); });
  }
  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    return Retry([&] { return inner_->CopyToFile(path, local_path); });
  }
  absl::Status Delete(std::string_view path) override {
    return Retry([&] { return inner_->Delete(path); });
  }
  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    return Retry([&] { return inner_->BulkDelete(paths); });
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return Retry([&] { return inner_->List(prefix); });
  }
  absl::StatusOr<bool> Exists(std::string_view path) override {
    return Retry([&] { return inner_->Exists(path); });
  }
  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    return Retry([&] { return inner_->FileNumBytes(path); });
  }
  const Uri& uri() const override { return inner_->uri(); }

 private:
  template <typename Call>
  auto Retry(const Call& call) -> decltype(call()) {
    for (int attempt = 1;; ++attempt) {
      auto result = call();
      const absl::Status& status = StatusOf(result);
      if (status.ok() || !IsRetryable(status)) {
        return result;
      }
      if (attempt >= options_.max_attempts) {
        return absl::Status(status.code(),
                            fmt::format("{} (gave up after {} attempts)",
                                        std::string(status.message()), attempt));
      }
      absl::SleepFor(Backoff(attempt));
    }
  }

  // Delay before retry number `retry` (1-based).
  absl::Duration Backoff(int retry) const {
    const double factor = std::ldexp(1.0, std::min(retry - 1, 30));
    const absl::Duration bound = std::min(options_.max_delay, options_.base_delay * factor);
    if (!options_.jitter || bound <= absl::ZeroDuration()) {
      return bound;
    }
    thread_local std::mt19937_64 random(std::random_device{}());
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    return bound * fraction(random);
  }

  const std::unique_ptr<Storage> inner_;
  RetryOptions options_;
};

// ---------------------------------------------------------------------------------------------
// Counting

struct GlobalStorageMetrics {
  std::array<Counter*, kNumStorageOps> requests{};
  std::array<Counter*, kNumStorageOps> errors{};
  Counter* bytes_read = nullptr;
  Counter* bytes_written = nullptr;
};

const GlobalStorageMetrics& GlobalMetrics() {
  static const GlobalStorageMetrics* const metrics = [] {
    auto* result = new GlobalStorageMetrics();
    MetricsRegistry& registry = MetricsRegistry::Global();
    for (int i = 0; i < kNumStorageOps; ++i) {
      const std::string labels =
          fmt::format("op=\"{}\"", StorageOpName(static_cast<StorageOp>(i)));
      result->requests[i] = &registry.GetCounter("shale_storage_requests_total",
                                                 "Storage requests by operation", labels);
      result->errors[i] = &registry.GetCounter("shale_storage_request_errors_total",
                                               "Failed storage requests by operation", labels);
    }
    result->bytes_read = &registry.GetCounter("shale_storage_bytes_read_total",
                                              "Bytes read from storages");
    result->bytes_written = &registry.GetCounter("shale_storage_bytes_written_total",
                                                 "Bytes written to storages");
    return result;
  }();
  return *metrics;
}

class CountingStorageImpl final : public CountingStorage {
 public:
  explicit CountingStorageImpl(std::unique_ptr<Storage> inner)
      : inner_(std::move(inner)), global_(GlobalMetrics()) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    absl::Status status = Count(StorageOp::kPut, inner_->Put(path, data));
    if (status.ok()) {
      AddBytes(bytes_written_, *global_.bytes_written, data.size());
    }
    return status;
  }
  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    return CountRead(StorageOp::kGetSlice, inner_->GetSlice(path, offset, length));
  }
  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    return CountRead(StorageOp::kGetAll, inner_->GetAll(path));
  }
  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    absl::Status status = Count(StorageOp::kCopyToFile, inner_->CopyToFile(path, local_path));
    if (status.ok()) {
      std::error_code error;
      const uintmax_t size = std::filesystem::file_size(local_path, error);
      if (!error) {
        AddBytes(bytes_read_, *global_.bytes_read, size);
      }
    }
    return status;
  }
  absl::Status Delete(std::string_view path) override {
    return Count(StorageOp::kDelete, inner_->Delete(path));
  }
  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    return Count(StorageOp::kBulkDelete, inner_->BulkDelete(paths));
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return Count(StorageOp::kList, inner_->List(prefix));
  }
  absl::StatusOr<bool> Exists(std::string_view path) override {
    return Count(StorageOp::kExists, inner_->Exists(path));
  }
  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    return Count(StorageOp::kFileNumBytes, inner_->FileNumBytes(path));
  }
  const Uri& uri() const override { return inner_->uri(); }

  int64_t num_requests(StorageOp op) const override {
    return requests_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
  }
  int64_t num_errors(StorageOp op) const override {
    return errors_[static_cast<size_t>(op)].load(std::memory_order_relaxed);
  }
  int64_t num_bytes_read() const override { return bytes_read_.load(std::memory_order_relaxed); }
  int64_t num_bytes_written() const override {
    return bytes_written_.load(std::memory_order_relaxed);
  }

 private:
  template <typename Result>
  Result Count(StorageOp op, Result result) {
    const auto index = static_cast<size_t>(op);
    requests_[index].fetch_add(1, std::memory_order_relaxed);
    global_.requests[index]->Increment();
    if (!StatusOf(result).ok()) {
      errors_[index].fetch_add(1, std::memory_order_relaxed);
      global_.errors[index]->Increment();
    }
    return result;
  }

  absl::StatusOr<std::string> CountRead(StorageOp op, absl::StatusOr<std::string> result) {
    result = Count(op, std::move(result));
    if (result.ok()) {
      AddBytes(bytes_read_, *global_.bytes_read, result->size());
    }
    return result;
  }

  static void AddBytes(std::atomic<int64_t>& local, Counter& global, uint64_t num_bytes) {
    local.fetch_add(static_cast<int64_t>(num_bytes), std::memory_order_relaxed);
    global.Increment(static_cast<int64_t>(num_bytes));
  }

  const std::unique_ptr<Storage> inner_;
  const GlobalStorageMetrics& global_;
  std::array<std::atomic<int64_t>, kNumStorageOps> requests_{};
  std::array<std::atomic<int64_t>, kNumStorageOps> errors_{};
  std::atomic<int64_t> bytes_read_{0};
  std::atomic<int64_t> bytes_written_{0};
};

// ---------------------------------------------------------------------------------------------
// Prefix

class PrefixStorage final : public Storage {
 public:
  PrefixStorage(std::unique_ptr<Storage> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)), uri_(inner_->uri().Join(prefix_)) {}

  absl::Status Put(std::string_view path, std::string_view data) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->Put(full, data);
  }
  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->GetSlice(full, offset, length);
  }
  absl::StatusOr<std::string> GetAll(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->GetAll(full);
  }
  absl::Status CopyToFile(std::string_view path, const std::filesystem::path& local_path) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->CopyToFile(full, local_path);
  }
  absl::Status Delete(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->Delete(full);
  }
  absl::Status BulkDelete(const std::vector<std::string>& paths) override {
    std::vector<std::string> full_paths;
    full_paths.reserve(paths.size());
    for (const std::string& path : paths) {
      ASSIGN_OR_RETURN(std::string full, Full(path));
      full_paths.push_back(std::move(full));
    }
    return inner_->BulkDelete(full_paths);
  }
  absl::StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    RETURN_IF_ERROR(internal::ValidateListPrefix(prefix));
    ASSIGN_OR_RETURN(std::vector<std::string> paths,
                     inner_->List(fmt::format("{}/{}", prefix_, prefix)));
    for (std::string& path : paths) {
      path.erase(0, prefix_.size() + 1);
    }
    return paths;
  }
  absl::StatusOr<bool> Exists(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->Exists(full);
  }
  absl::StatusOr<uint64_t> FileNumBytes(std::string_view path) override {
    ASSIGN_OR_RETURN(const std::string full, Full(path));
    return inner_->FileNumBytes(full);
  }
  const Uri& uri() const override { return uri_; }

 private:
  // Validates `path` itself, so errors name the caller's path, then prefixes it.
  absl::StatusOr<std::string> Full(std::string_view path) const {
    RETURN_IF_ERROR(ValidateStoragePath(path));
    return fmt::format("{}/{}", prefix_, path);
  }

  const std::unique_ptr<Storage> inner_;
  const std::string prefix_;
  const Uri uri_;
};

}  // namespace

std::unique_ptr<Storage> NewRetryingStorage(std::unique_ptr<Storage> inner,
                                            const RetryOptions& options) {
  return std::make_unique<RetryingStorage>(std::move(inner), options);
}

std::unique_ptr<CountingStorage> NewCountingStorage(std::unique_ptr<Storage> inner) {
  return std::make_unique<CountingStorageImpl>(std::move(inner));
}

absl::StatusOr<std::unique_ptr<Storage>> NewPrefixStorage(std::unique_ptr<Storage> inner,
                                                          std::string_view prefix) {
  const absl::Status status = ValidateStoragePath(prefix);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid storage prefix `{}`: {}", prefix, std::string(status.message())));
  }
  return std::make_unique<PrefixStorage>(std::move(inner), std::string(prefix));
}

}  // namespace shale::storage
