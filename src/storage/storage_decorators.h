// Storage decorators: wrappers that add behaviour around any Storage and forward every call to
// the storage they own. They compose: the resolver builds retrying(counting(s3)), so retries
// are counted as requests.
// Thread safety: every decorator is thread-safe when the storage it wraps is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "storage/storage.h"

namespace shale::storage {

struct RetryOptions {
  // Total number of attempts, the first included. At least 1.
  int max_attempts = 5;
  // The n-th retry waits a random duration in [0, min(max_delay, base_delay * 2^(n-1))] ("full
  // jitter"), or exactly that bound when `jitter` is false.
  absl::Duration base_delay = absl::Milliseconds(100);
  absl::Duration max_delay = absl::Seconds(5);
  bool jitter = true;
};

// Retries the calls that fail with Unavailable or DeadlineExceeded (every Storage operation is
// idempotent). After the last attempt returns that attempt's error, its message suffixed with
// the number of attempts. Other errors are returned at once.
std::unique_ptr<Storage> NewRetryingStorage(std::unique_ptr<Storage> inner,
                                            const RetryOptions& options);

// The operations a CountingStorage counts. PERSISTED in metric labels: keep the names stable.
enum class StorageOp {
  kPut,
  kGetSlice,
  kGetAll,
  kCopyToFile,
  kDelete,
  kBulkDelete,
  kList,
  kExists,
  kFileNumBytes,
};
inline constexpr int kNumStorageOps = 9;

// Label value of `op`: "put", "get_slice", ...
std::string_view StorageOpName(StorageOp op);

// Counts calls and bytes. Each call increments, in the global MetricsRegistry,
// `shale_storage_requests_total{op="get_slice"}` (and
// `shale_storage_request_errors_total{op=...}` when it fails), `shale_storage_bytes_read_total`
// (bytes returned by GetSlice/GetAll/CopyToFile) and `shale_storage_bytes_written_total` (Put);
// the accessors give this instance's own counts (tests).
class CountingStorage : public Storage {
 public:
  virtual int64_t num_requests(StorageOp op) const = 0;
  virtual int64_t num_errors(StorageOp op) const = 0;
  virtual int64_t num_bytes_read() const = 0;
  virtual int64_t num_bytes_written() const = 0;
};

std::unique_ptr<CountingStorage> NewCountingStorage(std::unique_ptr<Storage> inner);

// Serves the folder `prefix` of `inner` as a storage of its own: path `p` is `prefix/p` in
// `inner`, and List() returns paths relative to the prefix. uri() is inner's uri joined with
// the prefix. InvalidArgument when `prefix` is not a valid storage path (see
// ValidateStoragePath).
absl::StatusOr<std::unique_ptr<Storage>> NewPrefixStorage(std::unique_ptr<Storage> inner,
                                                          std::string_view prefix);

// FAULT INJECTION, FOR TESTS ONLY: fails a random share of the calls with Unavailable, half of
// them before reaching `inner` and half after it (the call took effect but its answer was lost,
// like a response dropped by the network), to exercise retries and idempotency. Errors name the
// operation, the path and the storage uri. `failure_rate` in [0, 1]: 0 never fails, 1 always
// fails; `seed` makes the sequence of draws reproducible. The node enables it only through the
// test-only SHALE_TEST_STORAGE_FAILURE_RATE environment variable (docs/storage.md).
std::unique_ptr<Storage> NewFlakyStorage(std::unique_ptr<Storage> inner, double failure_rate,
                                         uint64_t seed);
// Same, with the rate read from `failure_rate` on every call (thread-safe), so a test can switch
// failures on and off while the storage is in use.
std::unique_ptr<Storage> NewFlakyStorage(std::unique_ptr<Storage> inner,
                                         std::function<double()> failure_rate, uint64_t seed);

// Options of a storage resolver (NewStorageResolver(const S3Options&) uses the defaults).
struct StorageResolverOptions {
  S3Options s3;
  // Retries of every s3:// storage, and of every storage when failures are injected.
  RetryOptions retry;
  // TEST ONLY. When set, every file:// and s3:// storage becomes
  // retrying(counting(NewFlakyStorage(inner, test_failure_rate))): calls fail at the rate it
  // returns (read on every call). Unset in production.
  std::function<double()> test_failure_rate;
  uint64_t test_failure_seed = 0;
};

std::unique_ptr<StorageResolver> NewStorageResolver(const StorageResolverOptions& options);

}  // namespace shale::storage
