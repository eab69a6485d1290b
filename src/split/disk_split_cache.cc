#include "split/disk_split_cache.h"

#include <algorithm>
#include <cerrno>
#include <list>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/logging.h"
#include "common/lru_cache.h"
#include "common/metrics.h"
#include "common/thread_pool.h"

namespace shale::split {
namespace {

constexpr std::string_view kSplitSuffix = ".split";
constexpr std::string_view kPartSuffix = ".split.part";
// Split ids whose misses the admission filter remembers; the memory is cleared beyond.
constexpr size_t kMaxCandidates = 10'000;
// A missed split replaces a cached one only when missed this many times more than it was used.
constexpr uint64_t kAdmissionMargin = 2;

// Reads a local split file through a descriptor opened while the file was in the cache, so an
// eviction (unlink) meanwhile does not affect it.
class LocalFileSource final : public index::ByteRangeSource {
 public:
  LocalFileSource(int fd, uint64_t size, std::string name)
      : fd_(fd), size_(size), name_(std::move(name)) {}
  LocalFileSource(const LocalFileSource&) = delete;
  LocalFileSource& operator=(const LocalFileSource&) = delete;
  ~LocalFileSource() override { ::close(fd_); }

  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    if (offset > size_ || length > size_ - offset) {
      return absl::DataLossError(fmt::format(
          "split {}: read of {} bytes at offset {} is past the end of the file ({} bytes)", name_,
          length, offset, size_));
    }
    std::string bytes(length, '\0');
    uint64_t done = 0;
    while (done < length) {
      const ssize_t n =
          ::pread(fd_, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::DataLossError(fmt::format(
            "split {}: cannot read the local copy at offset {}: {}", name_, offset + done,
            n < 0 ? std::error_code(errno, std::generic_category()).message()
                  : std::string("unexpected end of file")));
      }
      done += static_cast<uint64_t>(n);
    }
    return bytes;
  }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }

 private:
  const int fd_;
  const uint64_t size_;
  const std::string name_;
};

class DiskSplitCacheImpl final : public DiskSplitCache {
 public:
  explicit DiskSplitCacheImpl(const DiskSplitCacheOptions& options)
      : options_(options),
        metrics_("searcher_split"),
        downloads_(
            MetricsRegistry::Global().GetCounter("shale_searcher_split_cache_downloads_total",
                                                 "Splits copied to the on-disk split cache")),
        pending_metric_(MetricsRegistry::Global().GetGauge(
            "shale_searcher_split_cache_pending_downloads",
            "Downloads to the on-disk split cache queued or running")),
        download_errors_(
            MetricsRegistry::Global().GetCounter("shale_searcher_split_cache_download_errors_total",
                                                 "Failed copies to the on-disk split cache")),
        pool_("split_download", options.num_concurrent_downloads) {
    metrics_.capacity_bytes.Add(static_cast<int64_t>(options_.max_num_bytes));
  }

  ~DiskSplitCacheImpl() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    pool_.Stop();
    absl::MutexLock lock(&mu_);
    metrics_.bytes.Add(-static_cast<int64_t>(stats_.num_bytes));
    metrics_.items.Add(-static_cast<int64_t>(stats_.num_splits));
    metrics_.capacity_bytes.Add(-static_cast<int64_t>(options_.max_num_bytes));
  }

  // Adopts the complete files of the folder, oldest first, and deletes partial downloads.
  absl::Status Load() {
    std::error_code error;
    std::filesystem::create_directories(options_.root, error);
    if (error) {
      return absl::FailedPreconditionError(
          fmt::format("cannot create the split cache folder `{}`: {}", options_.root.string(),
                      error.message()));
    }
    struct Found {
      std::string split_id;
      uint64_t size;
      std::filesystem::file_time_type modified;
    };
    std::vector<Found> found;
    std::filesystem::directory_iterator it(options_.root, error);
    for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
      if (!it->is_regular_file()) continue;
      const std::string name = it->path().filename().string();
      if (name.ends_with(kPartSuffix)) {
        std::filesystem::remove(it->path(), error);
        error.clear();
      } else if (name.ends_with(kSplitSuffix)) {
        found.push_back(Found{name.substr(0, name.size() - kSplitSuffix.size()), it->file_size(),
                              it->last_write_time()});
      }
    }
    if (error) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot list the split cache folder `{}`: {}", options_.root.string(), error.message()));
    }
    std::sort(found.begin(), found.end(),
              [](const Found& a, const Found& b) { return a.modified < b.modified; });
    absl::MutexLock lock(&mu_);
    for (const Found& file : found) InsertLocked(file.split_id, file.size, /*accesses=*/0);
    EvictLocked();
    return absl::OkStatus();
  }

  std::shared_ptr<index::ByteRangeSource> GetOrDownload(std::shared_ptr<storage::Storage> storage,
                                                        const SplitLocation& location) override {
    absl::MutexLock lock(&mu_);
    auto found = entries_.find(location.split_id);
    if (found != entries_.end()) {
      if (found->second.bytes == location.file_size) {
        // Opened under the lock: an eviction cannot unlink the file between check and open.
        const int fd = ::open(PathOf(location.split_id).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          lru_.splice(lru_.begin(), lru_, found->second.position);
          ++found->second.accesses;
          CountLookupLocked();
          ++stats_.hits;
          metrics_.hits.Increment();
          return std::make_shared<LocalFileSource>(fd, location.file_size, location.split_id);
        }
      }
      // Not the split's size, or gone from the folder: drop it and copy it again.
      SHALE_LOG_WARN("dropping a local split copy split_id={} size={} expected={}",
                     location.split_id, found->second.bytes, location.file_size);
      RemoveLocked(found);
    }
    ++stats_.misses;
    metrics_.misses.Increment();
    if (candidates_.size() >= kMaxCandidates) candidates_.clear();
    const uint64_t misses = ++candidates_[location.split_id];
    CountLookupLocked();
    if (!stopping_ && !pending_.contains(location.split_id) &&
        pending_.size() < options_.max_pending_downloads &&
        AdmitLocked(location.file_size, misses)) {
      pending_.emplace(location.split_id, location.file_size);
      pending_bytes_ += location.file_size;
      pending_metric_.Add(1);
      pool_.Submit(
          [this, storage = std::move(storage), location] { Download(*storage, location); });
    }
    return nullptr;
  }

  void WaitForDownloads() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](absl::flat_hash_map<std::string, uint64_t>* pending) { return pending->empty(); },
        &pending_));
  }

  DiskSplitCacheStats stats() const override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  struct Entry {
    uint64_t bytes = 0;
    uint64_t accesses = 0;  // lookups of the split (misses before its download included), aged
    std::list<std::string>::iterator position;  // in lru_
  };

  // Admission (frequency filter, LRU eviction): a split of `bytes` missed `misses` times is
  // downloaded when it fits beside the cached and pending splits, or when every split that
  // eviction would drop to make room for it (least recently used first) was accessed at least
  // kAdmissionMargin times less than it was missed. So a scan of more splits than the cache
  // holds does not churn it (splits searched together differ by at most one lookup at any
  // moment), and a split searched clearly more often than a cached one replaces it.
  bool AdmitLocked(uint64_t bytes, uint64_t misses) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (bytes == 0 || bytes > options_.max_num_bytes) return false;
    uint64_t total_bytes = stats_.num_bytes + pending_bytes_ + bytes;
    uint64_t total_splits = stats_.num_splits + pending_.size() + 1;
    for (auto victim = lru_.rbegin();
         total_bytes > options_.max_num_bytes || total_splits > options_.max_num_splits; ++victim) {
      if (victim == lru_.rend()) return false;  // pending downloads hold the room
      const Entry& entry = entries_.at(*victim);
      if (misses < entry.accesses + kAdmissionMargin) return false;
      total_bytes -= entry.bytes;
      --total_splits;
    }
    return true;
  }

  // Ages the access counts: every 10 lookups per cacheable split, all counts are halved, so
  // splits that were hot long ago make room for those hot now.
  void CountLookupLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (++lookups_ < 10 * options_.max_num_splits) return;
    lookups_ = 0;
    for (auto& [split_id, entry] : entries_) entry.accesses /= 2;
    for (auto it = candidates_.begin(); it != candidates_.end();) {
      it->second /= 2;
      if (it->second == 0) {
        candidates_.erase(it++);
      } else {
        ++it;
      }
    }
  }

  std::filesystem::path PathOf(const std::string& split_id) const {
    return options_.root / (split_id + std::string(kSplitSuffix));
  }

  void Download(storage::Storage& storage, const SplitLocation& location) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        pending_.erase(location.split_id);
        pending_bytes_ -= location.file_size;
        pending_metric_.Add(-1);
        return;
      }
    }
    const std::filesystem::path part =
        options_.root / (location.split_id + std::string(kPartSuffix));
    absl::Status status = storage.CopyToFile(SplitFileName(location.split_id), part);
    std::error_code error;
    if (status.ok()) {
      const uint64_t size = std::filesystem::file_size(part, error);
      if (error || size != location.file_size) {
        status = absl::DataLossError(fmt::format("split {}: copied {} bytes, expected {}",
                                                 location.split_id, error ? 0 : size,
                                                 location.file_size));
      }
    }
    if (status.ok()) {
      std::filesystem::rename(part, PathOf(location.split_id), error);
      if (error) status = absl::InternalError(error.message());
    }
    absl::MutexLock lock(&mu_);
    pending_.erase(location.split_id);
    pending_bytes_ -= location.file_size;
    pending_metric_.Add(-1);
    if (!status.ok()) {
      std::filesystem::remove(part, error);
      ++stats_.download_errors;
      download_errors_.Increment();
      SHALE_LOG_WARN("split cache download failed split_id={} error={}", location.split_id,
                     std::string(status.message()));
      return;
    }
    auto existing = entries_.find(location.split_id);
    if (existing != entries_.end()) ForgetLocked(existing);
    uint64_t accesses = 0;
    if (auto candidate = candidates_.find(location.split_id); candidate != candidates_.end()) {
      accesses = candidate->second;
      candidates_.erase(candidate);
    }
    InsertLocked(location.split_id, location.file_size, accesses);
    EvictLocked();
    ++stats_.downloads;
    downloads_.Increment();
  }

  // Records `split_id` as the most recently used split.
  void InsertLocked(const std::string& split_id, uint64_t bytes, uint64_t accesses)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    lru_.push_front(split_id);
    entries_[split_id] = Entry{bytes, accesses, lru_.begin()};
    stats_.num_bytes += bytes;
    ++stats_.num_splits;
    metrics_.bytes.Add(static_cast<int64_t>(bytes));
    metrics_.items.Add(1);
  }

  // Drops the entry, keeping the file (replaced by the caller).
  void ForgetLocked(absl::flat_hash_map<std::string, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    stats_.num_bytes -= it->second.bytes;
    --stats_.num_splits;
    metrics_.bytes.Add(-static_cast<int64_t>(it->second.bytes));
    metrics_.items.Add(-1);
    lru_.erase(it->second.position);
    entries_.erase(it);
  }

  // Drops the entry and deletes its file.
  void RemoveLocked(absl::flat_hash_map<std::string, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::error_code error;
    std::filesystem::remove(PathOf(it->first), error);
    ForgetLocked(it);
  }

  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!lru_.empty() && (stats_.num_bytes > options_.max_num_bytes ||
                             stats_.num_splits > options_.max_num_splits)) {
      RemoveLocked(entries_.find(lru_.back()));
      ++stats_.evictions;
      metrics_.evictions.Increment();
    }
  }

  const DiskSplitCacheOptions options_;
  CacheMetrics metrics_;
  Counter& downloads_;
  Gauge& pending_metric_;
  Counter& download_errors_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  // Queued or running downloads, and their bytes.
  absl::flat_hash_map<std::string, uint64_t> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Misses of splits not in the cache (admission), forgotten past kMaxCandidates.
  absl::flat_hash_map<std::string, uint64_t> candidates_ ABSL_GUARDED_BY(mu_);
  uint64_t lookups_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  DiskSplitCacheStats stats_ ABSL_GUARDED_BY(mu_);

  // Last: its threads stop before the members they use are destroyed.
  ThreadPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DiskSplitCache>> DiskSplitCache::Open(
    const DiskSplitCacheOptions& options) {
  if (options.max_num_bytes == 0 || options.max_num_splits == 0) {
    return absl::InvalidArgumentError(
        "split cache: max_num_bytes and max_num_splits must be greater than 0");
  }
  if (options.num_concurrent_downloads <= 0) {
    return absl::InvalidArgumentError(
        "split cache: num_concurrent_downloads must be greater than 0");
  }
  auto cache = std::make_unique<DiskSplitCacheImpl>(options);
  if (absl::Status status = cache->Load(); !status.ok()) return status;
  return std::unique_ptr<DiskSplitCache>(std::move(cache));
}

}  // namespace shale::split
