// LatencyStorage (tests and benchmarks only): wraps a storage, delays every GetSlice by a fixed
// duration (a stand-in for an object store's time to first byte) and records how many GetSlice
// calls were in flight at once, so tests can tell concurrent fetches from sequential ones.
// Thread safety: thread-safe when the inner storage is.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"

#include "storage/testing/forwarding_storage.h"

namespace shale::storage::testing {

class LatencyStorage final : public ForwardingStorage {
 public:
  // Every call is forwarded to `inner`; GetSlice first sleeps `get_slice_delay`.
  LatencyStorage(std::shared_ptr<Storage> inner, absl::Duration get_slice_delay)
      : ForwardingStorage(std::move(inner)), delay_(get_slice_delay) {}

  absl::StatusOr<std::string> GetSlice(std::string_view path, uint64_t offset,
                                       uint64_t length) override;

  // The largest number of GetSlice calls that were running at the same time.
  int64_t max_get_slices_in_flight() const { return max_in_flight_.load(); }
  // Number of GetSlice calls so far.
  int64_t num_get_slices() const { return num_get_slices_.load(); }

 private:
  const absl::Duration delay_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> max_in_flight_{0};
  std::atomic<int64_t> num_get_slices_{0};
};

}  // namespace shale::storage::testing
