#include "split/split_opener.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "common/ulid.h"
#include "index/testing/log_corpus.h"
#include "storage/storage_decorators.h"
#include "storage/testing/latency_storage.h"

namespace shale::split {
namespace {

using index::ByteRange;
using index::testing::DescribeResult;
using index::testing::LogCorpusQueryCases;
using index::testing::QueryCase;
using storage::StorageOp;

constexpr int kNumDocs = 2'000;

class SplitOpenerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto split = index::testing::BuildLogCorpusSplit(kNumDocs);
    ASSERT_TRUE(split.ok()) << split.status();
    split_ = new index::SerializedSplit(*std::move(split));
  }
  static void TearDownTestSuite() {
    delete split_;
    split_ = nullptr;
  }

  void SetUp() override {
    auto root = Uri::Parse("ram:///split-opener-test-" + NewUlid());
    ASSERT_TRUE(root.ok());
    counting_ = storage::NewCountingStorage(storage::NewRamStorage(*root));
    location_.split_id = NewUlid();
    location_.file_size = split_->bytes.size();
    location_.footer_start = split_->footer_start;
    location_.footer_end = split_->footer_end;
    ASSERT_TRUE(UploadSplit(*counting_, location_.split_id, *split_).ok());
    cold_reader_ =
        *index::SplitReader::Open(index::NewMemoryByteRangeSource("cold", split_->bytes));
  }

  int64_t GetSlices() const { return counting_->num_requests(StorageOp::kGetSlice); }

  static SplitOpenerOptions NoFastFieldCache() {
    SplitOpenerOptions options;
    options.fast_field_cache_capacity = 0;
    return options;
  }

  std::unique_ptr<OpenedSplit> MustOpen(SplitOpener& opener,
                                        std::shared_ptr<storage::Storage> storage = nullptr) {
    auto opened = opener.Open(storage != nullptr ? storage : counting_, location_);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? *std::move(opened) : nullptr;
  }

  std::string ColdResult(const QueryCase& test_case) {
    auto result = cold_reader_->Search(*test_case.query, test_case.request);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? DescribeResult(*result) : result.status().ToString();
  }

  static index::SerializedSplit* split_;
  std::shared_ptr<storage::CountingStorage> counting_;
  SplitLocation location_;
  std::unique_ptr<index::SplitReader> cold_reader_;
};

index::SerializedSplit* SplitOpenerTest::split_ = nullptr;

TEST_F(SplitOpenerTest, OpeningCostsOneGetThenNoneFromTheFooterCache) {
  SplitOpener opener(SplitOpenerOptions{});
  const int64_t before = GetSlices();
  auto first = MustOpen(opener);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(GetSlices() - before, 1);
  EXPECT_EQ(first->read_stats().footer_fetches, 1);
  EXPECT_EQ(first->read_stats().fetched_bytes, split_->footer_end - split_->footer_start);
  auto second = MustOpen(opener);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(GetSlices() - before, 1) << "a warm open reads nothing";
  EXPECT_EQ(second->read_stats().footer_fetches, 0);
  EXPECT_EQ(opener.split_footer_cache_stats().hits, 1);
  EXPECT_EQ(opener.split_footer_cache_stats().misses, 1);
  EXPECT_EQ(second->reader().num_docs(), static_cast<uint64_t>(kNumDocs));
}

TEST_F(SplitOpenerTest, DisabledFooterCacheReadsTheFooterOnEveryOpen) {
  SplitOpenerOptions options;
  options.split_footer_cache_capacity = 0;
  SplitOpener opener(options);
  const int64_t before = GetSlices();
  ASSERT_NE(MustOpen(opener), nullptr);
  ASSERT_NE(MustOpen(opener), nullptr);
  EXPECT_EQ(GetSlices() - before, 2);
}

TEST_F(SplitOpenerTest, AWarmedSearchIssuesNoOtherGetAndMatchesAColdOne) {
  SplitOpener opener(NoFastFieldCache());
  for (const QueryCase& test_case : LogCorpusQueryCases()) {
    SCOPED_TRACE(test_case.name);
    auto opened = MustOpen(opener);
    ASSERT_NE(opened, nullptr);
    ASSERT_TRUE(opened->WarmForSearch(*test_case.query, test_case.request).ok());
    const int64_t after_warmup = GetSlices();
    auto result = opened->reader().Search(*test_case.query, test_case.request);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(GetSlices(), after_warmup);
    EXPECT_EQ(opened->read_stats().on_demand_fetches, 0);
    EXPECT_EQ(DescribeResult(*result), ColdResult(test_case));

    std::vector<uint32_t> doc_ids;
    for (const index::SplitHit& hit : result->hits) doc_ids.push_back(hit.doc_id);
    ASSERT_TRUE(opened->WarmDocuments(doc_ids).ok());
    const int64_t after_documents = GetSlices();
    for (uint32_t doc_id : doc_ids) {
      auto document = opened->reader().FetchDocument(doc_id);
      ASSERT_TRUE(document.ok()) << document.status();
      EXPECT_EQ(*document, *cold_reader_->FetchDocument(doc_id));
    }
    EXPECT_EQ(GetSlices(), after_documents);
  }
}

TEST_F(SplitOpenerTest, TheFastFieldCacheServesARepeatedQueryWithoutGets) {
  SplitOpener opener(SplitOpenerOptions{});
  for (const QueryCase& test_case : LogCorpusQueryCases()) {
    SCOPED_TRACE(test_case.name);
    auto cold = MustOpen(opener);
    ASSERT_NE(cold, nullptr);
    ASSERT_TRUE(cold->WarmForSearch(*test_case.query, test_case.request).ok());
    ASSERT_TRUE(cold->reader().Search(*test_case.query, test_case.request).ok());

    const int64_t before = GetSlices();
    auto warm = MustOpen(opener);
    ASSERT_NE(warm, nullptr);
    ASSERT_TRUE(warm->WarmForSearch(*test_case.query, test_case.request).ok());
    auto result = warm->reader().Search(*test_case.query, test_case.request);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(GetSlices(), before) << "footer and ranges all come from the caches";
    EXPECT_EQ(warm->read_stats().fetched_bytes, 0u);
    EXPECT_EQ(DescribeResult(*result), ColdResult(test_case));
  }
  EXPECT_GT(opener.fast_field_cache_stats().hits, 0);
  EXPECT_EQ(opener.fast_field_cache_stats().evictions, 0);
}

TEST_F(SplitOpenerTest, ATinyFastFieldCacheEvictsAndResultsStayExact) {
  SplitOpenerOptions options;
  options.fast_field_cache_capacity = 4'096;
  SplitOpener opener(options);
  for (int pass = 0; pass < 2; ++pass) {
    for (const QueryCase& test_case : LogCorpusQueryCases()) {
      SCOPED_TRACE(test_case.name);
      auto opened = MustOpen(opener);
      ASSERT_NE(opened, nullptr);
      ASSERT_TRUE(opened->WarmForSearch(*test_case.query, test_case.request).ok());
      auto result = opened->reader().Search(*test_case.query, test_case.request);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(DescribeResult(*result), ColdResult(test_case));
      EXPECT_EQ(opened->read_stats().on_demand_fetches, 0);
    }
  }
  const CacheStats stats = opener.fast_field_cache_stats();
  EXPECT_GT(stats.evictions, 0);
  EXPECT_LE(stats.bytes, 4'096u);
}

TEST_F(SplitOpenerTest, WarmupFetchesConcurrently) {
  auto slow = std::make_shared<storage::testing::LatencyStorage>(counting_, absl::Milliseconds(20));
  SplitOpenerOptions options = NoFastFieldCache();
  options.coalesce_max_bytes = 1;  // the split is small: no coalescing, one GET per range
  SplitOpener opener(options);
  auto opened = MustOpen(opener, slow);
  ASSERT_NE(opened, nullptr);
  // The aggregation case needs a term block and three columns in round 1, far apart.
  for (const QueryCase& test_case : LogCorpusQueryCases()) {
    if (test_case.name != "aggregations_with_hits_and_time_filter") continue;
    auto ranges = opened->reader().RangesFor(*test_case.query, test_case.request,
                                             index::WarmupRound::kFromHotcache);
    ASSERT_TRUE(ranges.ok());
    ASSERT_GE(ranges->size(), 3u);
    const int64_t before = slow->num_get_slices();
    ASSERT_TRUE(opened->WarmForSearch(*test_case.query, test_case.request).ok());
    EXPECT_GE(slow->num_get_slices() - before, static_cast<int64_t>(ranges->size()));
    EXPECT_GE(slow->max_get_slices_in_flight(), 2);
    return;
  }
  FAIL() << "query case not found";
}

TEST_F(SplitOpenerTest, WarmCoalescesCloseRangesIntoOneGet) {
  SplitOpenerOptions options = NoFastFieldCache();
  options.coalesce_max_gap_bytes = 100;
  options.coalesce_max_bytes = 1'000;
  SplitOpener opener(options);
  auto opened = MustOpen(opener);
  ASSERT_NE(opened, nullptr);
  int64_t before = GetSlices();
  // Adjacent, then a gap of 100: one GET of [0, 450).
  ASSERT_TRUE(opened->Warm({{0, 100}, {100, 200}, {400, 50}}).ok());
  EXPECT_EQ(GetSlices() - before, 1);
  EXPECT_EQ(opened->read_stats().fetched_bytes - (split_->footer_end - split_->footer_start), 450u);
  // Every warmed range now reads without I/O, and so does a range inside one of them.
  before = GetSlices();
  EXPECT_EQ(*opened->reader().FetchDocument(0), *cold_reader_->FetchDocument(0));
  EXPECT_EQ(GetSlices() - before, 1) << "the doc store block was not warmed";
  before = GetSlices();
  ASSERT_TRUE(opened->Warm({{0, 100}, {120, 30}, {400, 50}}).ok());
  EXPECT_EQ(GetSlices() - before, 0) << "already warm";
  // A gap of 101 and a group over 1000 bytes both split the fetch.
  ASSERT_TRUE(opened->Warm({{2'000, 10}, {2'111, 10}}).ok());
  EXPECT_EQ(GetSlices() - before, 2);
  ASSERT_TRUE(opened->Warm({{5'000, 600}, {5'600, 600}}).ok());
  EXPECT_EQ(GetSlices() - before, 4);
}

TEST_F(SplitOpenerTest, CoalescedFetchesAreSlicedBackIntoTheirRanges) {
  SplitOpener opener(NoFastFieldCache());
  auto opened = MustOpen(opener);
  ASSERT_NE(opened, nullptr);
  // Consecutive doc store blocks coalesce into one GET; each block is checksummed when read, so
  // a wrong slice would fail.
  const std::vector<uint32_t> docs = {0, 40, 80, 120, 777, 1'999};
  const std::vector<ByteRange> blocks = opened->reader().DocumentRanges(docs);
  ASSERT_GE(blocks.size(), 4u);
  const int64_t before = GetSlices();
  ASSERT_TRUE(opened->WarmDocuments(docs).ok());
  const int64_t after_warmup = GetSlices();
  EXPECT_LT(after_warmup - before, static_cast<int64_t>(blocks.size()));
  for (uint32_t doc : docs) {
    auto document = opened->reader().FetchDocument(doc);
    ASSERT_TRUE(document.ok()) << document.status();
    EXPECT_EQ(*document, *cold_reader_->FetchDocument(doc));
  }
  EXPECT_EQ(GetSlices(), after_warmup);
}

TEST_F(SplitOpenerTest, ErrorsNameTheSplit) {
  SplitOpener opener(SplitOpenerOptions{});
  SplitLocation missing = location_;
  missing.split_id = NewUlid();
  auto not_found = opener.Open(counting_, missing);
  EXPECT_TRUE(absl::IsNotFound(not_found.status())) << not_found.status();

  SplitLocation bad_range = location_;
  bad_range.footer_end = bad_range.file_size + 1;
  auto data_loss = opener.Open(counting_, bad_range);
  EXPECT_TRUE(absl::IsDataLoss(data_loss.status())) << data_loss.status();
  EXPECT_NE(data_loss.status().message().find(location_.split_id), std::string::npos);

  auto opened = MustOpen(opener);
  ASSERT_NE(opened, nullptr);
  const absl::Status past_end = opened->Warm({{location_.file_size - 10, 20}});
  EXPECT_TRUE(absl::IsDataLoss(past_end)) << past_end;
  EXPECT_NE(past_end.message().find(location_.split_id), std::string::npos);
}

TEST_F(SplitOpenerTest, ACorruptFooterIsNotCached) {
  std::string corrupt = split_->bytes;
  corrupt[split_->footer_start + 3] ^= 0x55;
  SplitLocation location = location_;
  location.split_id = NewUlid();
  ASSERT_TRUE(counting_->Put(SplitFileName(location.split_id), corrupt).ok());
  SplitOpener opener(SplitOpenerOptions{});
  const int64_t before = GetSlices();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto opened = opener.Open(counting_, location);
    EXPECT_TRUE(absl::IsDataLoss(opened.status())) << opened.status();
  }
  EXPECT_EQ(GetSlices() - before, 2);
  EXPECT_EQ(opener.split_footer_cache_stats().items, 0u);
}

}  // namespace
}  // namespace shale::split
