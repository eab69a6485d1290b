#include "common/lru_cache.h"

#include <utility>
#include <vector>

#include "fmt/format.h"

#include "common/check.h"

namespace shale::internal {

LruCacheCore::LruCacheCore(std::string_view name, uint64_t capacity_bytes)
    : capacity_bytes_(capacity_bytes),
      hits_metric_(MetricsRegistry::Global().GetCounter("shale_cache_hits_total",
                                                        "Cache lookups that found their key",
                                                        fmt::format("cache=\"{}\"", name))),
      misses_metric_(MetricsRegistry::Global().GetCounter(
          "shale_cache_misses_total", "Cache lookups that did not find their key",
          fmt::format("cache=\"{}\"", name))),
      evictions_metric_(MetricsRegistry::Global().GetCounter(
          "shale_cache_evictions_total", "Cache entries dropped to make room for new ones",
          fmt::format("cache=\"{}\"", name))),
      bytes_metric_(MetricsRegistry::Global().GetGauge(
          "shale_cache_bytes", "Bytes held by a cache (keys, values and per-entry overhead)",
          fmt::format("cache=\"{}\"", name))),
      items_metric_(MetricsRegistry::Global().GetGauge(
          "shale_cache_items", "Entries held by a cache", fmt::format("cache=\"{}\"", name))),
      capacity_metric_(MetricsRegistry::Global().GetGauge("shale_cache_capacity_bytes",
                                                          "Configured capacity of a cache",
                                                          fmt::format("cache=\"{}\"", name))) {
  capacity_metric_.Add(static_cast<int64_t>(capacity_bytes_));
}

LruCacheCore::~LruCacheCore() {
  Clear();
  capacity_metric_.Add(-static_cast<int64_t>(capacity_bytes_));
}

std::shared_ptr<const void> LruCacheCore::Get(std::string_view key) {
  absl::MutexLock lock(&mu_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    ++stats_.misses;
    misses_metric_.Increment();
    return nullptr;
  }
  ++stats_.hits;
  hits_metric_.Increment();
  entries_.splice(entries_.begin(), entries_, found->second);
  return found->second->value;
}

bool LruCacheCore::Put(std::string key, std::shared_ptr<const void> value, uint64_t value_bytes) {
  SHALE_CHECK(value != nullptr) << "LruCache::Put of a null value for key " << key;
  const uint64_t cost = key.size() + value_bytes + kCacheEntryOverheadBytes;
  // Released outside the lock: the last reference to an evicted value may be the cache's, and
  // freeing a large value should not hold up other threads.
  std::vector<std::shared_ptr<const void>> released;
  absl::MutexLock lock(&mu_);
  auto found = index_.find(key);
  if (found != index_.end()) {
    released.push_back(std::move(found->second->value));
    EraseLocked(found->second);
  }
  if (cost > capacity_bytes_) return false;
  entries_.push_front(Entry{std::move(key), std::move(value), cost});
  index_.emplace(entries_.front().key, entries_.begin());
  stats_.bytes += cost;
  ++stats_.items;
  bytes_metric_.Add(static_cast<int64_t>(cost));
  items_metric_.Add(1);
  while (stats_.bytes > capacity_bytes_) {
    auto last = std::prev(entries_.end());
    released.push_back(std::move(last->value));
    EraseLocked(last);
    ++stats_.evictions;
    evictions_metric_.Increment();
  }
  return true;
}

void LruCacheCore::Clear() {
  EntryList dropped;
  {
    absl::MutexLock lock(&mu_);
    index_.clear();
    dropped.swap(entries_);
    bytes_metric_.Add(-static_cast<int64_t>(stats_.bytes));
    items_metric_.Add(-static_cast<int64_t>(stats_.items));
    stats_.bytes = 0;
    stats_.items = 0;
  }
}

CacheStats LruCacheCore::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void LruCacheCore::EraseLocked(EntryList::iterator it) {
  stats_.bytes -= it->cost;
  --stats_.items;
  bytes_metric_.Add(-static_cast<int64_t>(it->cost));
  items_metric_.Add(-1);
  index_.erase(std::string_view(it->key));
  entries_.erase(it);
}

}  // namespace shale::internal
