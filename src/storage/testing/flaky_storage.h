// FlakyStorage (tests only): wraps a storage and makes a random share of the calls fail with
// Unavailable, half of them before reaching the inner storage and half after it (the call took
// effect but its answer was lost), to exercise retries.
// Thread safety: thread-safe when the inner storage is.
#pragma once

#include <cstdint>
#include <memory>

#include "storage/storage.h"

namespace shale::storage::testing {

// `failure_rate` in [0, 1]: 0 never fails, 1 always fails. `seed` makes runs reproducible.
std::unique_ptr<Storage> NewFlakyStorage(std::unique_ptr<Storage> inner, double failure_rate,
                                         uint64_t seed);

}  // namespace shale::storage::testing
