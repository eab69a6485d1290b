// The leaf half of a search (ARCHITECTURE.md §2): a LeafSearcher searches a list of splits that
// a root assigned to this node and returns their partial result (hit count, top-k hits with
// their sort keys, intermediate aggregations merged over its splits); FetchDocs then reads the
// documents of the hits that made the root's final page.
//
// A leaf request carries each target index's query as query language text plus the default
// search fields the root resolved, and the request's aggregations as their canonical JSON, so a
// remote leaf parses them exactly as the root did (docs/adr/011-distributed-search.md). An
// in-process request may also carry the root's parsed query and aggregation: then nothing is
// parsed twice.
//
// LeafClient is how a root reaches a leaf: in process (NewLocalLeafClient, no serialization at
// all) or over gRPC (search/leaf_grpc.h).
//
// Leaf search on one split: the partial request cache first (same split, same request: no
// I/O), else the split opener (footer cache, warmup of the ranges the query reads), then the
// engine. Splits run on the leaf's thread pool; at most `max_num_concurrent_split_searches`
// at once over the whole node.
//
// Thread safety: LeafSearcher and every LeafClient are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "common/metrics.h"
#include "common/thread_pool.h"
#include "index/aggregation.h"
#include "index/query.h"
#include "index/split_format.h"
#include "search/partial_request_cache.h"
#include "split/split_opener.h"
#include "storage/storage.h"

namespace shale::search {

// The splits of one index that a leaf request asks for.
struct LeafIndexRequest {
  std::string index_id;   // for messages
  std::string index_uri;  // where the split files are
  std::string query;      // query language text
  // The default search fields the root parsed `query` with (the request's search fields or the
  // index's default ones).
  std::vector<std::string> search_fields;
  std::vector<split::SplitLocation> splits;
  // In process only (never on the wire): `query` and the request's aggregation with its filter
  // queries bound for this index, as the root parsed them. When null the leaf parses them.
  std::shared_ptr<const index::Query> parsed_query;
  std::shared_ptr<const index::AggregationRequest> bound_aggregation;
};

struct LeafSearchRequest {
  std::vector<LeafIndexRequest> indexes;
  // Half-open time filter [start, end) in nanoseconds since the epoch.
  std::optional<int64_t> start_timestamp_nanos;
  std::optional<int64_t> end_timestamp_nanos;
  uint32_t top_k = 20;
  std::vector<index::SortField> sort_by;  // resolved: never empty
  bool count_all = true;
  // The request's aggregations, or null. Over gRPC they travel as their `canonical_json`
  // (parsed again by the receiving node), so a request for a remote leaf needs one (the REST
  // API's parser sets it).
  std::shared_ptr<const index::AggregationRequest> aggregation;
  // Splits not started by then fail with DeadlineExceeded.
  absl::Time deadline = absl::InfiniteFuture();
};

// One hit of a leaf: the split it comes from and the engine's hit (doc id, sort keys, score).
struct LeafHit {
  std::string split_id;
  index::SplitHit hit;
};

struct SplitError {
  std::string split_id;
  absl::Status status;
};

struct LeafSearchResponse {
  uint64_t num_hits = 0;
  std::vector<LeafHit> hits;  // best first (HitRanksBefore), at most top_k
  // Set when the request has aggregations: merged over the leaf's splits, then cut off once
  // as one leaf (index::CutOffAggs).
  std::optional<index::IntermediateAggs> aggregations;
  // Splits that could not be searched; they count in neither num_hits nor hits.
  std::vector<SplitError> failed_splits;
  uint64_t num_splits_searched = 0;
  // In process only (never on the wire): the splits this search opened, still warm, so that
  // FetchDocs on the same node does not open them again.
  std::vector<std::shared_ptr<split::OpenedSplit>> opened_splits;
};

// The documents of some hits of one split.
struct FetchDocsSplit {
  std::string index_uri;
  split::SplitLocation location;
  std::vector<uint32_t> doc_ids;
  // In process only: the split as the leaf search left it open, or null.
  std::shared_ptr<split::OpenedSplit> opened;
};

struct FetchDocsRequest {
  std::vector<FetchDocsSplit> splits;
  absl::Time deadline = absl::InfiniteFuture();
};

struct FetchDocsResponse {
  // documents[i][j]: doc_ids[j] of splits[i] as JSON text, or why it could not be read.
  std::vector<std::vector<absl::StatusOr<std::string>>> documents;
};

// True when `a` ranks before `b` under `sort`: by sort keys (missing values last), then by
// (split id, doc id), ascending unless the first sort field is `_doc` descending. Roots and
// leaves order hits with it, so merging leaves' top-k gives the top-k of all the splits.
bool HitRanksBefore(const LeafHit& a, const LeafHit& b, const std::vector<index::SortField>& sort);

struct LeafSearcherOptions {
  int num_leaf_threads = 2;
  // `searcher.max_num_concurrent_split_searches`: split searches running at once on the node.
  uint32_t max_num_concurrent_split_searches = 100;
  split::SplitOpenerOptions split_opener;
  uint64_t partial_request_cache_capacity = 64'000'000;
  uint64_t aggregation_memory_limit_bytes = index::kDefaultAggregationMemoryLimitBytes;
};

// This node's searcher caches.
struct SearchCacheStats {
  CacheStats split_footer;
  CacheStats fast_field;
  CacheStats partial_request;
};

class LeafSearcher {
 public:
  // Does not take ownership; `storage_resolver` must outlive the searcher.
  LeafSearcher(storage::StorageResolver* storage_resolver, const LeafSearcherOptions& options);
  LeafSearcher(const LeafSearcher&) = delete;
  LeafSearcher& operator=(const LeafSearcher&) = delete;
  ~LeafSearcher();

  // Searches every split of `request`. A split that fails (storage error, corrupt file, bad
  // value for a field type, deadline) is listed in `failed_splits`; the call itself fails only
  // for a request that cannot be understood: InvalidArgument for a query or aggregation that
  // does not parse, an index uri that does not resolve, or aggregations without canonical JSON
  // in a request that must parse them.
  absl::StatusOr<LeafSearchResponse> Search(const LeafSearchRequest& request);

  // Reads the documents. Per-document errors are in the response; fails only for an index uri
  // that does not resolve.
  absl::StatusOr<FetchDocsResponse> FetchDocs(const FetchDocsRequest& request);

  // Refuses new work and waits for the running splits.
  void Stop();

  SearchCacheStats cache_stats() const;

 private:
  struct SplitTask;
  void SearchOneSplit(SplitTask& task);
  void AcquireSplitSlot();
  bool SplitSlotFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(slots_mu_);
  void ReleaseSplitSlot();

  storage::StorageResolver* const storage_resolver_;
  const LeafSearcherOptions options_;
  split::SplitOpener split_opener_;
  PartialRequestCache partial_request_cache_;
  ThreadPool pool_;
  absl::Mutex slots_mu_;
  uint32_t running_splits_ ABSL_GUARDED_BY(slots_mu_) = 0;
  Counter& splits_searched_;
};

// How a root reaches a leaf. Each call blocks until the answer or the request's deadline.
// An error of the call itself (the node is unreachable, the deadline passed, the request was
// refused) means that no split of the request was searched.
class LeafClient {
 public:
  virtual ~LeafClient() = default;
  virtual absl::StatusOr<LeafSearchResponse> LeafSearch(const LeafSearchRequest& request) = 0;
  virtual absl::StatusOr<FetchDocsResponse> FetchDocs(const FetchDocsRequest& request) = 0;
};

// Calls `leaf` in process. Does not take ownership; `leaf` must outlive the client.
std::unique_ptr<LeafClient> NewLocalLeafClient(LeafSearcher* leaf);

}  // namespace shale::search
