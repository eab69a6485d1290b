// DiskSplitCache: the searcher's optional on-disk split cache (`searcher.split_cache`). Whole
// split files are copied from their storage into a local folder so that later searches of those
// splits read local disk instead of issuing ranged GETs. It sits under the in-memory caches:
// SplitOpener reads a split from its local copy when there is one, else from the storage (and
// asks for a copy).
//
// Admission: a request of a split not on disk queues its download (once; at most
// `max_pending_downloads` queued) when the split fits beside the cached and pending ones, or
// when it was missed at least twice more often than every split eviction would drop for it
// was used (a frequency filter; counts are halved every 10 lookups per cacheable split). So a
// scan over more splits than the cache holds does not churn it. Downloads run in the background on
// `num_concurrent_downloads` threads and never delay a search.
// Eviction: least recently used splits are deleted until the cache fits `max_num_bytes` and
// `max_num_splits` again. A deleted file stays readable by the requests that opened it (POSIX
// unlink semantics), so eviction never fails a search.
//
// Files (docs/storage.md, "On-disk split cache"): `{root}/{split_id}.split`, complete copies
// only: a download writes `{split_id}.split.part` and renames it once its size matches the
// split's recorded size. Open() deletes leftover `.part` files and adopts complete files (in
// modification time order), so the cache survives restarts. The files are disposable: a copy
// whose size does not match the split's is deleted and downloaded again, and the reader's
// checksums still guard the content.
//
// Thread safety: thread-safe. The destructor drops queued downloads and waits for running ones.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

#include "index/split_format.h"
#include "split/split_store.h"
#include "storage/storage.h"

namespace shale::split {

struct DiskSplitCacheOptions {
  std::filesystem::path root;  // created when missing; the cache owns its content
  uint64_t max_num_bytes = 1'000'000'000;
  uint64_t max_num_splits = 10'000;
  int num_concurrent_downloads = 1;
  uint64_t max_pending_downloads = 100;
};

struct DiskSplitCacheStats {
  uint64_t num_splits = 0;
  uint64_t num_bytes = 0;
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t downloads = 0;        // completed
  int64_t download_errors = 0;  // failed or size mismatch
  int64_t evictions = 0;
};

class DiskSplitCache {
 public:
  // Creates `options.root`, removes partial downloads, adopts complete split files (evicting
  // down to the limits). InvalidArgument for limits of 0 or no download thread;
  // FailedPrecondition naming the folder when it cannot be created or listed.
  static absl::StatusOr<std::unique_ptr<DiskSplitCache>> Open(const DiskSplitCacheOptions& options);
  virtual ~DiskSplitCache() = default;

  // A source reading the local copy of the split at `location` (now the most recently used),
  // or null when there is none; then a download from `storage` may be queued (see Admission).
  virtual std::shared_ptr<index::ByteRangeSource> GetOrDownload(
      std::shared_ptr<storage::Storage> storage, const SplitLocation& location) = 0;

  // Blocks until no download is queued or running (tests, benchmarks).
  virtual void WaitForDownloads() = 0;

  virtual DiskSplitCacheStats stats() const = 0;
};

}  // namespace shale::split
