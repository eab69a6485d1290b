// LruCache: a cache of immutable values bounded in bytes, which evicts the least recently used
// entries first. The searcher's split footer, fast field and partial request caches are
// instances of it (docs/storage.md, "Cache hierarchy").
//
// Cost: an entry costs key.size() + value_bytes (given by the caller, who knows its value's
// memory) + kEntryOverheadBytes (an estimate of the list node, hash slot and shared_ptr control
// block). A value whose cost exceeds the capacity is not admitted, so a capacity of 0 disables the
// cache (every Get misses).
//
// Invariants, outside of a call:
//   1. bytes() <= capacity_bytes().
//   2. A key appears at most once; the entries are ordered from most to least recently used,
//      where "used" means inserted or returned by Get.
//
// Thread safety: every method is thread-safe. One mutex guards a hash map and a linked list; each
// operation is O(1) (amortized) and holds the mutex only for pointer updates, never while a value
// is built or copied. Values are shared_ptr<const V>, so a value returned by Get stays valid after
// its entry is evicted.
//
// Metrics, in the global MetricsRegistry, labelled `cache="<name>"` and summed over the live
// instances of one name: counters `shale_cache_hits_total`, `shale_cache_misses_total`,
// `shale_cache_evictions_total` (entries dropped to make room), and gauges `shale_cache_bytes`,
// `shale_cache_items` and `shale_cache_capacity_bytes`. stats() gives this instance's own figures.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include "common/metrics.h"

namespace shale {

inline constexpr uint64_t kCacheEntryOverheadBytes = 128;

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t evictions = 0;
  uint64_t bytes = 0;
  uint64_t items = 0;
};

namespace internal {

// The type-erased implementation of LruCache<V>.
class LruCacheCore {
 public:
  LruCacheCore(std::string_view name, uint64_t capacity_bytes);
  LruCacheCore(const LruCacheCore&) = delete;
  LruCacheCore& operator=(const LruCacheCore&) = delete;
  ~LruCacheCore();

  std::shared_ptr<const void> Get(std::string_view key);
  bool Put(std::string key, std::shared_ptr<const void> value, uint64_t value_bytes);
  void Clear();
  CacheStats stats() const;
  uint64_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const void> value;
    uint64_t cost = 0;
  };
  using EntryList = std::list<Entry>;

  // Drops `it` from the list and the index, updating the byte and item figures.
  void EraseLocked(EntryList::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint64_t capacity_bytes_;
  Counter& hits_metric_;
  Counter& misses_metric_;
  Counter& evictions_metric_;
  Gauge& bytes_metric_;
  Gauge& items_metric_;
  Gauge& capacity_metric_;

  mutable absl::Mutex mu_;
  EntryList entries_ ABSL_GUARDED_BY(mu_);  // most recently used first
  // Keys view the `key` of their list entry (list nodes never move).
  absl::flat_hash_map<std::string_view, EntryList::iterator> index_ ABSL_GUARDED_BY(mu_);
  CacheStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal

template <typename V>
class LruCache {
 public:
  // `name` labels the metrics (`split_footer`, `fast_field`, `partial_request`).
  LruCache(std::string_view name, uint64_t capacity_bytes) : core_(name, capacity_bytes) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value of `key` (now the most recently used entry), or null on a miss.
  std::shared_ptr<const V> Get(std::string_view key) {
    return std::static_pointer_cast<const V>(core_.Get(key));
  }

  // Inserts `value` under `key`, replacing any previous value, and evicts least recently used
  // entries until the cache fits its capacity again. Returns false, leaving no entry for `key`,
  // when the entry alone costs more than the capacity. REQUIRES: value != nullptr.
  bool Put(std::string key, std::shared_ptr<const V> value, uint64_t value_bytes) {
    return core_.Put(std::move(key), std::move(value), value_bytes);
  }

  // Drops every entry (not counted as evictions).
  void Clear() { core_.Clear(); }

  CacheStats stats() const { return core_.stats(); }
  uint64_t capacity_bytes() const { return core_.capacity_bytes(); }

 private:
  internal::LruCacheCore core_;
};

}  // namespace shale
