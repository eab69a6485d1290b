#include "storage/testing/latency_storage.h"

#include "absl/time/clock.h"

namespace shale::storage::testing {

absl::StatusOr<std::string> LatencyStorage::GetSlice(std::string_view path, uint64_t offset,
                                                     uint64_t length) {
  ++num_get_slices_;
  const int64_t in_flight = ++in_flight_;
  int64_t seen = max_in_flight_.load();
  while (in_flight > seen && !max_in_flight_.compare_exchange_weak(seen, in_flight)) {
  }
  absl::SleepFor(delay_);
  absl::StatusOr<std::string> bytes = inner().GetSlice(path, offset, length);
  --in_flight_;
  return bytes;
}

}  // namespace shale::storage::testing
