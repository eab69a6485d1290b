// The partial request cache (`searcher.partial_request_cache_capacity`): the result of a leaf
// search on one split, keyed by the split id and a canonical encoding of the leaf request (query
// tree, time filter, top k, sort, count_all, aggregations). A repeated leaf request is answered
// without opening the split. Splits are immutable, so an entry never goes stale; entries leave
// only by LRU eviction (common/lru_cache.h, metrics labelled `cache="partial_request"`).
//
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/lru_cache.h"
#include "index/query.h"
#include "index/split_format.h"

namespace shale::search {

// An injective encoding of (split id, query, request): two leaf requests get the same key iff
// they are equal field by field (doubles and floats compared by their bits); the aggregation
// counts by its canonical JSON. Nullopt (do not cache) for an aggregation without one.
std::optional<std::string> LeafRequestKey(const std::string& split_id, const index::Query& query,
                           const index::SplitSearchRequest& request);

// An estimate of the heap bytes of `result` (hits, sort keys, aggregation buckets).
uint64_t EstimateResultBytes(const index::SplitSearchResult& result);

class PartialRequestCache {
 public:
  explicit PartialRequestCache(uint64_t capacity_bytes)
      : cache_("partial_request", capacity_bytes) {}

  // The cached result of the leaf request `key` (see LeafRequestKey), or null.
  std::shared_ptr<const index::SplitSearchResult> Get(const std::string& key) {
    return cache_.Get(key);
  }
  void Put(std::string key, std::shared_ptr<const index::SplitSearchResult> result) {
    const uint64_t bytes = EstimateResultBytes(*result);
    cache_.Put(std::move(key), std::move(result), bytes);
  }
  CacheStats stats() const { return cache_.stats(); }

 private:
  LruCache<index::SplitSearchResult> cache_;
};

}  // namespace shale::search
