// SearchService: answers a search request on one node, map-reduce style. The root lists the
// published splits of the target indexes, prunes those whose time range misses
// [start_timestamp, end_timestamp) and those whose tags prove that a required term on a tag field
// cannot match, runs a leaf search on each remaining split (concurrently, on
// the service's own thread pool), merges the per-split top-k by sort keys, then fetches the
// documents of the final page.
//
// A leaf search first looks up the partial request cache (same split, same leaf request: no
// I/O at all). Otherwise it opens the split through the split footer cache (one GET of footer +
// hotcache when cold, none when warm), warms the byte ranges the query needs (fetched
// concurrently, through the fast field cache) and only then executes. The root fetches the
// documents of the final page per split, concurrently, after warming their doc store blocks.
// docs/storage.md gives the resulting GET budget per query.
//
// Later issues distribute the leaf phase over searchers (gRPC, rendezvous hashing); the
// root/leaf split is already in place.
//
// Thread safety: Search may be called concurrently from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/metrics.h"
#include "common/thread_pool.h"
#include "index/aggregation.h"
#include "metastore/metastore.h"
#include "search/partial_request_cache.h"
#include "split/split_opener.h"
#include "storage/storage.h"

namespace shale::search {

inline constexpr uint32_t kMaxHitsPlusOffset = 10'000;

struct SearchRequest {
  // One index id, or a comma list of ids and globs (`logs-*`), with `-pattern` exclusions.
  std::string index_id;
  std::string query = "*";
  uint32_t max_hits = 20;
  uint32_t start_offset = 0;
  std::optional<int64_t> start_timestamp_secs;  // inclusive
  std::optional<int64_t> end_timestamp_secs;    // exclusive
  // Quickwit's spelling: "field" or "+field" descending, "-field" ascending, "_score", "_doc".
  std::vector<std::string> sort_by;
  // Overrides the index's default search fields when non-empty.
  std::vector<std::string> search_fields;
  bool count_all = true;
  // Elasticsearch-style aggregations computed over all the matching docs (index/aggregation.h
  // says which are exact across splits).
  std::optional<index::AggregationRequest> aggregation;
  // Stored text fields whose fragments around the query terms are returned per hit.
  std::vector<std::string> snippet_fields;
};

struct SearchResponse {
  uint64_t num_hits = 0;
  std::vector<std::string> hits;  // each a JSON object as text
  // With snippet_fields: one JSON object per hit, in the order of `hits` (search/snippets.h).
  std::vector<std::string> snippets;
  int64_t elapsed_time_micros = 0;
  std::vector<std::string> errors;
  // Set when the request has an aggregation: the Elasticsearch-shaped `aggregations` object as
  // JSON text.
  std::optional<std::string> aggregations;
};

struct SearchServiceOptions {
  int num_leaf_threads = 2;
  uint32_t max_num_concurrent_split_searches = 100;
  // The split footer and fast field caches, and the warmup's fetch concurrency.
  split::SplitOpenerOptions split_opener;
  // `searcher.partial_request_cache_capacity`: bytes of leaf results kept (0 disables).
  uint64_t partial_request_cache_capacity = 64'000'000;
  // Memory the aggregations of one request may hold over all its splits
  // (`searcher.aggregation_memory_limit`).
  uint64_t aggregation_memory_limit_bytes = index::kDefaultAggregationMemoryLimitBytes;
};

// This node's searcher caches.
struct SearchCacheStats {
  CacheStats split_footer;
  CacheStats fast_field;
  CacheStats partial_request;
};

// Resolves a comma list of index ids, globs and `-` exclusions into indexes. NotFound for an
// exact id that does not exist or when nothing matches; InvalidArgument for exclusions only.
absl::StatusOr<std::vector<metastore::IndexMetadata>> ResolveIndexPatterns(
    metastore::Metastore& metastore, const std::string& patterns);

class SearchService {
 public:
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the service.
  SearchService(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
                const SearchServiceOptions& options);
  SearchService(const SearchService&) = delete;
  SearchService& operator=(const SearchService&) = delete;
  ~SearchService();

  // InvalidArgument for a bad query, bad sort field, limits exceeded, an aggregation on a field
  // that is not fast, with more than 65000 buckets or over the aggregation memory limit; the
  // splits' aggregation results are merged and cut off once more as one leaf (Quickwit's leaf
  // cut-off of terms aggregations) before rendering. NotFound for an unknown
  // index. A split that fails to open or search is reported in `errors` (it is not silently
  // dropped) and the others still answer.
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request);

  // Refuses new searches and waits for the running ones.
  void Stop();

  SearchCacheStats cache_stats() const;

 private:
  metastore::Metastore* const metastore_;
  storage::StorageResolver* const storage_resolver_;
  const SearchServiceOptions options_;
  split::SplitOpener split_opener_;
  PartialRequestCache partial_request_cache_;
  ThreadPool leaf_pool_;
  Counter& splits_opened_;
  Counter& splits_pruned_;
  Counter& num_searches_;
};

}  // namespace shale::search
