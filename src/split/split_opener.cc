#include "split/split_opener.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <utility>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/metrics.h"
#include "common/status_macros.h"

namespace shale::split {
namespace {

struct SplitMetrics {
  Counter& warmup_fetches;
  Counter& warmup_bytes;
  Counter& on_demand_fetches;

  static SplitMetrics& Get() {
    static SplitMetrics* metrics = new SplitMetrics{
        MetricsRegistry::Global().GetCounter("shale_split_warmup_fetches_total",
                                             "Ranged GETs issued by warmups (after coalescing)"),
        MetricsRegistry::Global().GetCounter("shale_split_warmup_bytes_total",
                                             "Bytes fetched by warmups, coalescing gaps included"),
        MetricsRegistry::Global().GetCounter(
            "shale_split_on_demand_fetches_total",
            "Ranged GETs of split reads that no warmup nor cache served")};
    return *metrics;
  }
};

// A fetched range shared by the warm set of one request and the fast field cache.
using Bytes = std::shared_ptr<const std::string>;

// The ByteRangeSource of an OpenedSplit: warm bytes, then the fast field cache, then storage.
class CachingSplitSource final : public index::ByteRangeSource {
 public:
  CachingSplitSource(std::shared_ptr<index::ByteRangeSource> storage_source,
                     LruCache<std::string>* fast_field_cache, ThreadPool* fetch_pool,
                     const SplitOpenerOptions& options)
      : storage_source_(std::move(storage_source)),
        fast_field_cache_(fast_field_cache),
        fetch_pool_(fetch_pool),
        options_(options) {}

  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    if (std::optional<std::string> warm = ReadWarm(offset, length)) return *std::move(warm);
    const std::string key = CacheKey(offset, length);
    if (Bytes cached = fast_field_cache_->Get(key)) {
      ++fast_field_cache_hits_;
      return std::string(*cached);
    }
    ASSIGN_OR_RETURN(std::string bytes, storage_source_->Read(offset, length));
    CountFetch(bytes.size(), /*warmup=*/false);
    fast_field_cache_->Put(key, std::make_shared<const std::string>(bytes), bytes.size());
    return bytes;
  }
  uint64_t size() const override { return storage_source_->size(); }
  const std::string& name() const override { return storage_source_->name(); }

  // Fetches the ranges that are neither warm nor cached, concurrently.
  absl::Status Warm(std::vector<index::ByteRange> ranges) {
    std::sort(ranges.begin(), ranges.end());
    ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());
    std::vector<index::ByteRange> missing;
    for (const index::ByteRange& range : ranges) {
      if (range.length == 0 || IsWarm(range.offset, range.length)) continue;
      if (Bytes cached = fast_field_cache_->Get(CacheKey(range.offset, range.length))) {
        ++fast_field_cache_hits_;
        AddWarm(range, std::move(cached));
        continue;
      }
      missing.push_back(range);
    }
    if (missing.empty()) return absl::OkStatus();

    // Coalesce: consecutive missing ranges (sorted by offset) join the current group while the
    // gap and the group's size stay within bounds.
    struct Group {
      index::ByteRange span;
      size_t first = 0;  // index into `missing`
      size_t last = 0;   // inclusive
      absl::StatusOr<std::string> bytes;
    };
    std::vector<Group> groups;
    for (size_t i = 0; i < missing.size(); ++i) {
      const index::ByteRange& range = missing[i];
      if (!groups.empty()) {
        Group& group = groups.back();
        const uint64_t group_end = group.span.end();
        const uint64_t merged_end = std::max(group_end, range.end());
        if (range.offset <= group_end + options_.coalesce_max_gap_bytes &&
            merged_end - group.span.offset <= options_.coalesce_max_bytes) {
          group.span.length = merged_end - group.span.offset;
          group.last = i;
          continue;
        }
      }
      groups.push_back(Group{range, i, i, absl::UnknownError("not fetched")});
    }

    auto fetch = [this](Group& group) {
      group.bytes = storage_source_->Read(group.span.offset, group.span.length);
    };
    if (groups.size() == 1) {
      fetch(groups[0]);
    } else {
      absl::BlockingCounter pending(static_cast<int>(groups.size()));
      for (Group& group : groups) {
        const bool submitted = fetch_pool_->Submit([&fetch, &group, &pending] {
          fetch(group);
          pending.DecrementCount();
        });
        if (!submitted) {
          group.bytes =
              absl::UnavailableError(fmt::format("split {}: searcher is shutting down", name()));
          pending.DecrementCount();
        }
      }
      pending.Wait();
    }

    absl::Status status;
    for (Group& group : groups) {
      if (!group.bytes.ok()) {
        if (status.ok()) status = group.bytes.status();
        continue;
      }
      CountFetch(group.bytes->size(), /*warmup=*/true);
      for (size_t i = group.first; i <= group.last; ++i) {
        const index::ByteRange& range = missing[i];
        auto piece = std::make_shared<const std::string>(
            group.bytes->substr(range.offset - group.span.offset, range.length));
        fast_field_cache_->Put(CacheKey(range.offset, range.length), piece, range.length);
        AddWarm(range, std::move(piece));
      }
    }
    return status;
  }

  // Reads the footer range straight from storage (the split footer cache sits in front).
  absl::StatusOr<std::string> ReadFooter(uint64_t offset, uint64_t length) {
    ASSIGN_OR_RETURN(std::string bytes, storage_source_->Read(offset, length));
    ++footer_fetches_;
    fetched_bytes_ += bytes.size();
    return bytes;
  }

  SplitReadStats stats() const {
    SplitReadStats stats;
    stats.footer_fetches = footer_fetches_;
    stats.warmup_fetches = warmup_fetches_;
    stats.on_demand_fetches = on_demand_fetches_;
    stats.fetched_bytes = fetched_bytes_;
    stats.fast_field_cache_hits = fast_field_cache_hits_;
    return stats;
  }

 private:
  std::string CacheKey(uint64_t offset, uint64_t length) const {
    return fmt::format("{}/{}+{}", name(), offset, length);
  }

  void CountFetch(uint64_t bytes, bool warmup) const {
    SplitMetrics& metrics = SplitMetrics::Get();
    if (warmup) {
      ++warmup_fetches_;
      metrics.warmup_fetches.Increment();
      metrics.warmup_bytes.Increment(static_cast<int64_t>(bytes));
    } else {
      ++on_demand_fetches_;
      metrics.on_demand_fetches.Increment();
    }
    fetched_bytes_ += bytes;
  }

  // The warm range starting at or before `offset` that holds [offset, offset + length), if any.
  // Warm ranges are the exact ranges warmed, so a read finds its own range (or a longer one
  // starting at the same offset).
  std::map<uint64_t, Bytes>::const_iterator FindWarmLocked(uint64_t offset, uint64_t length) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = warm_.upper_bound(offset);
    if (it == warm_.begin()) return warm_.end();
    --it;
    if (offset + length > it->first + it->second->size()) return warm_.end();
    return it;
  }

  bool IsWarm(uint64_t offset, uint64_t length) const {
    absl::MutexLock lock(&mu_);
    return FindWarmLocked(offset, length) != warm_.end();
  }

  std::optional<std::string> ReadWarm(uint64_t offset, uint64_t length) const {
    Bytes bytes;
    uint64_t start = 0;
    {
      absl::MutexLock lock(&mu_);
      auto it = FindWarmLocked(offset, length);
      if (it == warm_.end()) return std::nullopt;
      start = it->first;
      bytes = it->second;
    }
    return bytes->substr(offset - start, length);
  }

  void AddWarm(const index::ByteRange& range, Bytes bytes) {
    absl::MutexLock lock(&mu_);
    Bytes& slot = warm_[range.offset];
    // Keep the longer of two ranges starting at one offset.
    if (slot == nullptr || slot->size() < bytes->size()) slot = std::move(bytes);
  }

  const std::shared_ptr<index::ByteRangeSource> storage_source_;
  LruCache<std::string>* const fast_field_cache_;
  ThreadPool* const fetch_pool_;
  const SplitOpenerOptions& options_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Bytes> warm_ ABSL_GUARDED_BY(mu_);  // by offset
  // Updated by const reads.
  mutable std::atomic<int64_t> footer_fetches_{0};
  mutable std::atomic<int64_t> warmup_fetches_{0};
  mutable std::atomic<int64_t> on_demand_fetches_{0};
  mutable std::atomic<uint64_t> fetched_bytes_{0};
  mutable std::atomic<int64_t> fast_field_cache_hits_{0};
};

class OpenedSplitImpl final : public OpenedSplit {
 public:
  OpenedSplitImpl(std::string split_id, std::shared_ptr<CachingSplitSource> source,
                  std::unique_ptr<index::SplitReader> reader)
      : split_id_(std::move(split_id)), source_(std::move(source)), reader_(std::move(reader)) {}

  const std::string& split_id() const override { return split_id_; }
  const index::SplitReader& reader() const override { return *reader_; }
  absl::Status Warm(const std::vector<index::ByteRange>& ranges) override {
    return source_->Warm(ranges);
  }
  SplitReadStats read_stats() const override { return source_->stats(); }

 private:
  const std::string split_id_;
  const std::shared_ptr<CachingSplitSource> source_;
  const std::unique_ptr<index::SplitReader> reader_;
};

}  // namespace

absl::Status OpenedSplit::WarmForSearch(const index::Query& query,
                                        const index::SplitSearchRequest& request) {
  for (index::WarmupRound round :
       {index::WarmupRound::kFromHotcache, index::WarmupRound::kFromTermBlocks}) {
    ASSIGN_OR_RETURN(std::vector<index::ByteRange> ranges,
                     reader().RangesFor(query, request, round));
    RETURN_IF_ERROR(Warm(ranges));
  }
  return absl::OkStatus();
}

absl::Status OpenedSplit::WarmDocuments(const std::vector<uint32_t>& doc_ids) {
  return Warm(reader().DocumentRanges(doc_ids));
}

SplitOpener::SplitOpener(const SplitOpenerOptions& options)
    : options_(options),
      footer_cache_("split_footer", options.split_footer_cache_capacity),
      fast_field_cache_("fast_field", options.fast_field_cache_capacity),
      fetch_pool_("split_fetch", std::max(1, options.max_concurrent_fetches)) {}

SplitOpener::~SplitOpener() { fetch_pool_.Stop(); }

absl::StatusOr<std::unique_ptr<OpenedSplit>> SplitOpener::Open(
    std::shared_ptr<storage::Storage> storage, const SplitLocation& location) {
  if (location.footer_end < location.footer_start || location.footer_end > location.file_size) {
    return absl::DataLossError(fmt::format(
        "split {}: footer range [{}, {}) does not fit in the file ({} bytes)", location.split_id,
        location.footer_start, location.footer_end, location.file_size));
  }
  auto source = std::make_shared<CachingSplitSource>(
      NewStorageByteRangeSource(std::move(storage), SplitFileName(location.split_id),
                                location.file_size, location.split_id),
      &fast_field_cache_, &fetch_pool_, options_);
  std::optional<std::string> footer;
  std::shared_ptr<const std::string> fetched_footer;  // to cache once it parses
  if (location.footer_end > location.footer_start) {
    if (std::shared_ptr<const std::string> cached = footer_cache_.Get(location.split_id)) {
      footer = *cached;
    } else {
      ASSIGN_OR_RETURN(
          std::string bytes,
          source->ReadFooter(location.footer_start, location.footer_end - location.footer_start));
      fetched_footer = std::make_shared<const std::string>(std::move(bytes));
      footer = *fetched_footer;
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<index::SplitReader> reader,
                   index::SplitReader::Open(source, std::move(footer)));
  if (fetched_footer != nullptr) {
    footer_cache_.Put(location.split_id, fetched_footer, fetched_footer->size());
  }
  return std::unique_ptr<OpenedSplit>(
      std::make_unique<OpenedSplitImpl>(location.split_id, std::move(source), std::move(reader)));
}

}  // namespace shale::split
