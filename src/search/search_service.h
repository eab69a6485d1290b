// SearchService: the root of a search (ARCHITECTURE.md §2), on any node. It resolves the index
// patterns, lists the published splits of the target indexes, prunes those whose time range
// misses [start_timestamp, end_timestamp) and those whose tags prove that a required term on a
// tag field cannot match, then assigns each remaining split to a searcher of its SearcherPool:
// the first node of the split's rendezvous order (cluster/rendezvous.h, hash of split id and
// node id), so a split lands on the same node query after query (warm caches) and a joining or
// leaving node moves about 1/n of the splits. One leaf request per searcher, all concurrently,
// each with the deadline `request_timeout`. When a leaf request fails (node unreachable,
// deadline, shutting down) or a leaf reports a split it could not search, those splits are tried
// once more, each on the next node of its rendezvous order; a split that still fails is reported
// in `errors`, never silently dropped. The root merges the leaves' top-k hits (by sort keys) and
// intermediate aggregations, then fetches the documents of the final page from the nodes that
// searched their splits.
//
// This node's own leaf is called in process (no serialization); a single node with no peers
// searches exactly as before the root/leaf split. A node without the searcher service is a root
// only. Leaf search itself (caches, warmup) is search/leaf_search.h; docs/storage.md gives the
// resulting GET budget per query.
//
// Thread safety: Search may be called concurrently from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "common/metrics.h"
#include "common/thread_pool.h"
#include "index/aggregation.h"
#include "metastore/metastore.h"
#include "search/leaf_search.h"
#include "search/searcher_pool.h"
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
  // Fills SearchResponse::split_placements (the REST API's `debug=true`).
  bool debug = false;
};

// Where a split was searched (debug).
struct SplitPlacement {
  std::string split_id;
  std::string node_id;  // the node whose answer counted, or "" when every attempt failed
  uint32_t attempts = 0;
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
  // Set when the request asks for `debug`: every split searched, in split id order.
  std::vector<SplitPlacement> split_placements;
};

// The options of the node's leaf searcher (used by the single-node constructor) and the root's.
struct SearchServiceOptions : LeafSearcherOptions {
  // `searcher.request_timeout_secs`: the deadline of the leaf requests and document fetches.
  absl::Duration request_timeout = absl::Seconds(30);
  // Threads that wait on the leaf requests and document fetches of remote searchers.
  int num_root_threads = 16;
};

// Resolves a comma list of index ids, globs and `-` exclusions into indexes. NotFound for an
// exact id that does not exist or when nothing matches; InvalidArgument for exclusions only.
absl::StatusOr<std::vector<metastore::IndexMetadata>> ResolveIndexPatterns(
    metastore::Metastore& metastore, const std::string& patterns);

class SearchService {
 public:
  // A single node: every split is searched by a leaf searcher that the service owns, in process.
  // Does not take ownership; `metastore` and `storage_resolver` must outlive the service.
  SearchService(metastore::Metastore* metastore, storage::StorageResolver* storage_resolver,
                const SearchServiceOptions& options);
  // A root over `searchers`; `local_leaf` (null on a node without the searcher service) is only
  // used for cache_stats. Does not take ownership; all must outlive the service.
  SearchService(metastore::Metastore* metastore, SearcherPool* searchers,
                LeafSearcher* local_leaf, const SearchServiceOptions& options);
  SearchService(const SearchService&) = delete;
  SearchService& operator=(const SearchService&) = delete;
  ~SearchService();

  // InvalidArgument for a bad query, bad sort field, limits exceeded, an aggregation on a field
  // that is not fast, with more than 65000 buckets or over the aggregation memory limit; the
  // splits' aggregation results are merged and cut off once more as one leaf (Quickwit's leaf
  // cut-off of terms aggregations) before rendering. NotFound for an unknown
  // index. A split that fails to open or search is reported in `errors` (it is not silently
  // dropped) and the others still answer. Unavailable when no searcher is live.
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request);

  // Refuses new searches and waits for the running ones (and stops the owned leaf searcher).
  void Stop();

  SearchCacheStats cache_stats() const;

 private:
  metastore::Metastore* const metastore_;
  const SearchServiceOptions options_;
  // Set by the single-node constructor only.
  std::unique_ptr<LeafSearcher> owned_leaf_;
  std::unique_ptr<SearcherPool> owned_searchers_;
  LeafSearcher* local_leaf_;
  SearcherPool* searchers_;
  ThreadPool root_pool_;
  Counter& splits_opened_;
  Counter& leaf_retries_;
  Counter& splits_pruned_;
  Counter& num_searches_;
};

}  // namespace shale::search
