// SplitOpener: the searcher's access to splits on a Storage, through two caches and a warmup
// (docs/storage.md, "Cache hierarchy" and "GET budget").
//
//   - The split footer cache holds the footer + hotcache bytes of recently opened splits, keyed
//     by split id: opening a split costs one ranged GET of that range the first time, none after.
//   - The fast field cache holds the immutable byte ranges readers fetched (fast field columns,
//     and every other range a query reads: term dictionary blocks, posting and position lists,
//     field norms, presence lists, doc store blocks), keyed by (split id, offset, length).
//   - Warmup: before a search runs on an OpenedSplit, the caller asks the reader which ranges the
//     query will read (index::SplitReader::RangesFor, in two rounds), and OpenedSplit::Warm
//     fetches those not cached concurrently on the opener's fetch pool, coalescing close ranges
//     into one GET. The search then reads only warm bytes.
//
// Splits are immutable, so no entry is ever invalidated; the caches are bounded LRUs
// (common/lru_cache.h) and a capacity of 0 disables one.
//
// Thread safety: SplitOpener and OpenedSplit are thread-safe. An OpenedSplit borrows the
// opener's caches and fetch pool: the opener must outlive every OpenedSplit it returned.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/lru_cache.h"
#include "common/thread_pool.h"
#include "index/split_format.h"
#include "split/split_store.h"
#include "storage/storage.h"

namespace shale::split {

struct SplitOpenerOptions {
  // `searcher.split_footer_cache_capacity`: bytes of footers + hotcaches kept.
  uint64_t split_footer_cache_capacity = 500'000'000;
  // `searcher.fast_field_cache_capacity`: bytes of split byte ranges kept.
  uint64_t fast_field_cache_capacity = 1'000'000'000;
  // Ranged GETs in flight at once for all warmups of the node (the fetch pool's threads).
  int max_concurrent_fetches = 16;
  // Two ranges to fetch whose gap is at most this many bytes are fetched by one GET (the gap is
  // read and dropped), as long as the merged range stays within `coalesce_max_bytes`.
  uint64_t coalesce_max_gap_bytes = 64 * 1024;
  uint64_t coalesce_max_bytes = 16 * 1024 * 1024;
};

// What an OpenedSplit read from storage, for tests and benchmarks.
struct SplitReadStats {
  int64_t footer_fetches = 0;         // 0 or 1: the footer GET of Open
  int64_t warmup_fetches = 0;         // GETs issued by Warm (after coalescing)
  int64_t on_demand_fetches = 0;      // GETs of reads that were neither warm nor cached
  uint64_t fetched_bytes = 0;         // bytes of all the GETs above
  int64_t fast_field_cache_hits = 0;  // ranges served by the fast field cache
};

// One split opened for one request: its reader reads warm bytes first (those fetched by Warm
// for this request, held until the OpenedSplit is destroyed), then the fast field cache, then
// the storage with one GetSlice per read.
class OpenedSplit {
 public:
  virtual ~OpenedSplit() = default;

  virtual const std::string& split_id() const = 0;
  virtual const index::SplitReader& reader() const = 0;

  // Fetches the ranges of `ranges` that are neither warm nor in the fast field cache,
  // concurrently, and keeps them warm (and in the fast field cache). DataLoss naming the split
  // for a range past the end of the file; otherwise the error of the first GET that failed.
  virtual absl::Status Warm(const std::vector<index::ByteRange>& ranges) = 0;
  // Both rounds of reader().RangesFor(query, request, ...), each fetched with Warm. Afterwards
  // reader().Search(query, request) reads no byte that is not warm.
  absl::Status WarmForSearch(const index::Query& query, const index::SplitSearchRequest& request);
  // Warms the doc store blocks of `doc_ids` for reader().FetchDocument.
  absl::Status WarmDocuments(const std::vector<uint32_t>& doc_ids);

  virtual SplitReadStats read_stats() const = 0;
};

class SplitOpener {
 public:
  explicit SplitOpener(const SplitOpenerOptions& options);
  SplitOpener(const SplitOpener&) = delete;
  SplitOpener& operator=(const SplitOpener&) = delete;
  // Waits for the fetches in flight.
  ~SplitOpener();

  // Opens the split at `location` on `storage`: its footer + hotcache from the split footer
  // cache, or with one GetSlice of [footer_start, footer_end) (cached once it parses). DataLoss
  // naming the split when the footer range does not fit the file or the footer is corrupt;
  // NotFound when the file is missing; the storage's error otherwise.
  absl::StatusOr<std::unique_ptr<OpenedSplit>> Open(std::shared_ptr<storage::Storage> storage,
                                                    const SplitLocation& location);

  CacheStats split_footer_cache_stats() const { return footer_cache_.stats(); }
  CacheStats fast_field_cache_stats() const { return fast_field_cache_.stats(); }
  const SplitOpenerOptions& options() const { return options_; }

 private:
  const SplitOpenerOptions options_;
  LruCache<std::string> footer_cache_;
  LruCache<std::string> fast_field_cache_;
  ThreadPool fetch_pool_;
};

}  // namespace shale::split
