#include "split/disk_split_cache.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "common/ulid.h"
#include "index/testing/log_corpus.h"
#include "split/split_opener.h"
#include "storage/storage_decorators.h"

namespace shale::split {
namespace {

using index::testing::DescribeResult;
using index::testing::LogCorpusQueryCases;
using storage::StorageOp;

class DiskSplitCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("disk-split-cache-" + NewUlid());
    counting_ = storage::NewCountingStorage(
        storage::NewRamStorage(*Uri::Parse("ram:///disk-split-cache-" + NewUlid())));
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  // Uploads a copy of the corpus split under a new id.
  SplitLocation Upload() {
    SplitLocation location{NewUlid(), split_->bytes.size(), split_->footer_start,
                           split_->footer_end};
    EXPECT_TRUE(UploadSplit(*counting_, location.split_id, *split_).ok());
    return location;
  }

  std::shared_ptr<DiskSplitCache> MustOpen(uint64_t max_num_splits = 100,
                                           uint64_t max_num_bytes = 1'000'000'000) {
    DiskSplitCacheOptions options;
    options.root = root_;
    options.max_num_splits = max_num_splits;
    options.max_num_bytes = max_num_bytes;
    auto cache = DiskSplitCache::Open(options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? std::shared_ptr<DiskSplitCache>(*std::move(cache)) : nullptr;
  }

  // Requests `location` `misses` times, waits for the downloads, then requests it once more:
  // returns the local source, or null when the split was not admitted.
  std::shared_ptr<index::ByteRangeSource> Download(DiskSplitCache& cache,
                                                   const SplitLocation& location, int misses = 1) {
    for (int i = 0; i < misses; ++i) EXPECT_EQ(cache.GetOrDownload(counting_, location), nullptr);
    cache.WaitForDownloads();
    return cache.GetOrDownload(counting_, location);
  }

  bool OnDisk(const SplitLocation& location) const {
    return std::filesystem::exists(root_ / SplitFileName(location.split_id));
  }

  int64_t StorageReads() const {
    return counting_->num_requests(StorageOp::kGetSlice) +
           counting_->num_requests(StorageOp::kCopyToFile);
  }

  const index::SerializedSplit* split_ = &index::testing::SharedLogCorpusSplit(300);
  std::filesystem::path root_;
  std::shared_ptr<storage::CountingStorage> counting_;
};

TEST_F(DiskSplitCacheTest, TheFirstRequestDownloadsTheSplitAndLaterOnesReadItLocally) {
  std::shared_ptr<DiskSplitCache> cache = MustOpen();
  const SplitLocation location = Upload();
  std::shared_ptr<index::ByteRangeSource> local = Download(*cache, location);
  ASSERT_NE(local, nullptr);
  EXPECT_TRUE(OnDisk(location));
  EXPECT_EQ(local->size(), split_->bytes.size());
  EXPECT_EQ(*local->Read(0, split_->bytes.size()), split_->bytes);
  EXPECT_EQ(*local->Read(100, 50), split_->bytes.substr(100, 50));
  EXPECT_TRUE(absl::IsDataLoss(local->Read(split_->bytes.size() - 1, 2).status()));
  const DiskSplitCacheStats stats = cache->stats();
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.downloads, 1);
  EXPECT_EQ(stats.num_splits, 1u);
  EXPECT_EQ(stats.num_bytes, split_->bytes.size());
}

TEST_F(DiskSplitCacheTest, SearchesOfALocalCopyIssueNoStorageRead) {
  const SplitLocation location = Upload();
  SplitOpenerOptions options;
  options.split_footer_cache_capacity = 0;
  options.fast_field_cache_capacity = 0;
  options.disk_split_cache = MustOpen();
  SplitOpener opener(options);
  const std::unique_ptr<index::SplitReader> cold =
      *index::SplitReader::Open(index::NewMemoryByteRangeSource("cold", split_->bytes));
  ASSERT_EQ(options.disk_split_cache->GetOrDownload(counting_, location), nullptr);
  options.disk_split_cache->WaitForDownloads();
  for (const index::testing::QueryCase& test_case : LogCorpusQueryCases()) {
    SCOPED_TRACE(test_case.name);
    const int64_t before = StorageReads();
    auto opened = opener.Open(counting_, location);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_TRUE((*opened)->read_stats().local_copy);
    ASSERT_TRUE((*opened)->WarmForSearch(*test_case.query, test_case.request).ok());
    auto result = (*opened)->reader().Search(*test_case.query, test_case.request);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(DescribeResult(*result),
              DescribeResult(*cold->Search(*test_case.query, test_case.request)));
    EXPECT_EQ(StorageReads(), before);
  }
}

TEST_F(DiskSplitCacheTest, EvictsTheLeastRecentlyUsedSplitBeyondMaxNumSplits) {
  std::shared_ptr<DiskSplitCache> cache = MustOpen(/*max_num_splits=*/2);
  const SplitLocation a = Upload();
  const SplitLocation b = Upload();
  const SplitLocation c = Upload();
  ASSERT_NE(Download(*cache, a), nullptr);                 // a: 2 accesses
  ASSERT_NE(Download(*cache, b), nullptr);                 // b: 2 accesses
  ASSERT_NE(cache->GetOrDownload(counting_, a), nullptr);  // b is now the least recently used
  // Missed 4 times, at least 2 more than b was used: c replaces it.
  ASSERT_NE(Download(*cache, c, /*misses=*/4), nullptr);
  EXPECT_TRUE(OnDisk(a));
  EXPECT_FALSE(OnDisk(b));
  EXPECT_TRUE(OnDisk(c));
  EXPECT_EQ(cache->stats().evictions, 1);
  EXPECT_EQ(cache->stats().num_splits, 2u);
}

TEST_F(DiskSplitCacheTest, ASplitSearchedLessThanTheCachedOnesIsNotAdmitted) {
  std::shared_ptr<DiskSplitCache> cache = MustOpen(/*max_num_splits=*/2);
  const SplitLocation a = Upload();
  const SplitLocation b = Upload();
  ASSERT_NE(Download(*cache, a), nullptr);
  ASSERT_NE(Download(*cache, b), nullptr);
  // A scan touching a third split about as often as the cached ones (each used twice) does not
  // churn the cache.
  const SplitLocation c = Upload();
  EXPECT_EQ(Download(*cache, c, /*misses=*/2), nullptr);  // 3 misses
  cache->WaitForDownloads();
  EXPECT_EQ(cache->stats().downloads, 2);
  EXPECT_EQ(cache->stats().evictions, 0);
  EXPECT_TRUE(OnDisk(a));
  EXPECT_TRUE(OnDisk(b));
  EXPECT_FALSE(OnDisk(c));
}

TEST_F(DiskSplitCacheTest, EvictsBeyondMaxNumBytesAndNeverDownloadsASplitTooLarge) {
  const uint64_t size = split_->bytes.size();
  std::shared_ptr<DiskSplitCache> cache = MustOpen(100, 2 * size + size / 2);
  const SplitLocation a = Upload();
  const SplitLocation b = Upload();
  const SplitLocation c = Upload();
  ASSERT_NE(Download(*cache, a), nullptr);
  ASSERT_NE(Download(*cache, b), nullptr);
  ASSERT_NE(Download(*cache, c, /*misses=*/4), nullptr);
  EXPECT_FALSE(OnDisk(a));
  EXPECT_LE(cache->stats().num_bytes, 2 * size + size / 2);

  std::shared_ptr<DiskSplitCache> small = MustOpen(100, size - 1);
  const SplitLocation d = Upload();
  EXPECT_EQ(small->GetOrDownload(counting_, d), nullptr);
  small->WaitForDownloads();
  EXPECT_EQ(small->GetOrDownload(counting_, d), nullptr);
  EXPECT_EQ(small->stats().downloads, 0);
  EXPECT_FALSE(OnDisk(d));
}

TEST_F(DiskSplitCacheTest, AnEvictedFileStaysReadableByItsOpenSource) {
  std::shared_ptr<DiskSplitCache> cache = MustOpen(/*max_num_splits=*/1);
  const SplitLocation a = Upload();
  std::shared_ptr<index::ByteRangeSource> local = Download(*cache, a);
  ASSERT_NE(local, nullptr);
  ASSERT_NE(Download(*cache, Upload(), /*misses=*/4), nullptr);
  EXPECT_FALSE(OnDisk(a));
  EXPECT_EQ(*local->Read(0, split_->bytes.size()), split_->bytes);
}

TEST_F(DiskSplitCacheTest, ReopeningAdoptsCompleteFilesAndDeletesPartialOnes) {
  const SplitLocation a = Upload();
  {
    std::shared_ptr<DiskSplitCache> cache = MustOpen();
    ASSERT_NE(Download(*cache, a), nullptr);
  }
  const std::filesystem::path partial = root_ / "01PARTIAL.split.part";
  std::ofstream(partial) << "half a split";
  std::shared_ptr<DiskSplitCache> reopened = MustOpen();
  EXPECT_FALSE(std::filesystem::exists(partial));
  EXPECT_EQ(reopened->stats().num_splits, 1u);
  const int64_t before = StorageReads();
  std::shared_ptr<index::ByteRangeSource> local = reopened->GetOrDownload(counting_, a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(*local->Read(0, split_->bytes.size()), split_->bytes);
  EXPECT_EQ(StorageReads(), before);
}

TEST_F(DiskSplitCacheTest, ACopyOfTheWrongSizeIsDroppedAndDownloadedAgain) {
  const SplitLocation a = Upload();
  {
    std::shared_ptr<DiskSplitCache> cache = MustOpen();
    ASSERT_NE(Download(*cache, a), nullptr);
  }
  std::filesystem::resize_file(root_ / SplitFileName(a.split_id), split_->bytes.size() / 2);
  std::shared_ptr<DiskSplitCache> reopened = MustOpen();
  std::shared_ptr<index::ByteRangeSource> local = Download(*reopened, a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(*local->Read(0, split_->bytes.size()), split_->bytes);
  EXPECT_EQ(reopened->stats().downloads, 1);
}

TEST_F(DiskSplitCacheTest, AFailedDownloadLeavesNoFileAndIsRetriedLater) {
  std::shared_ptr<DiskSplitCache> cache = MustOpen();
  SplitLocation missing{NewUlid(), 1'000, 900, 1'000};
  EXPECT_EQ(cache->GetOrDownload(counting_, missing), nullptr);
  cache->WaitForDownloads();
  EXPECT_EQ(cache->stats().download_errors, 1);
  EXPECT_FALSE(OnDisk(missing));
  EXPECT_TRUE(std::filesystem::is_empty(root_));
  EXPECT_EQ(cache->GetOrDownload(counting_, missing), nullptr);
  cache->WaitForDownloads();
  EXPECT_EQ(cache->stats().download_errors, 2);
}

TEST_F(DiskSplitCacheTest, RejectsLimitsOfZero) {
  DiskSplitCacheOptions options;
  options.root = root_;
  options.max_num_splits = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(DiskSplitCache::Open(options).status()));
  options.max_num_splits = 1;
  options.num_concurrent_downloads = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(DiskSplitCache::Open(options).status()));
}

}  // namespace
}  // namespace shale::split
