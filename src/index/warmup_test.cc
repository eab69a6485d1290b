// SplitReader::RangesFor and DocumentRanges: a search warmed with the ranges of both rounds
// reads nothing else, and gives the same result as a cold search.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

#include "index/split_format.h"
#include "index/testing/log_corpus.h"

namespace shale::index {
namespace {

using testing::BuildLogCorpusSplit;
using testing::DescribeResult;
using testing::LogCorpusQueryCases;
using testing::QueryCase;

// Serves a split from memory and records every read that is not inside a warmed range.
class WarmOnlySource final : public ByteRangeSource {
 public:
  explicit WarmOnlySource(std::string bytes)
      : memory_(NewMemoryByteRangeSource("warm-split", std::move(bytes))) {}

  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    absl::MutexLock lock(&mu_);
    const bool warm = std::any_of(warm_.begin(), warm_.end(), [&](const ByteRange& range) {
      return range.offset <= offset && offset + length <= range.end();
    });
    if (!warm) cold_reads_.push_back(ByteRange{offset, length});
    return memory_->Read(offset, length);
  }
  uint64_t size() const override { return memory_->size(); }
  const std::string& name() const override { return memory_->name(); }

  void Warm(const std::vector<ByteRange>& ranges) {
    absl::MutexLock lock(&mu_);
    warm_.insert(warm_.end(), ranges.begin(), ranges.end());
  }
  std::vector<ByteRange> TakeColdReads() {
    absl::MutexLock lock(&mu_);
    std::vector<ByteRange> reads;
    reads.swap(cold_reads_);
    return reads;
  }

 private:
  std::shared_ptr<ByteRangeSource> memory_;
  mutable absl::Mutex mu_;
  std::vector<ByteRange> warm_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<ByteRange> cold_reads_ ABSL_GUARDED_BY(mu_);
};

std::string Describe(const std::vector<ByteRange>& ranges) {
  std::string out;
  for (const ByteRange& range : ranges)
    out += fmt::format("[{}, +{}) ", range.offset, range.length);
  return out;
}

class WarmupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto split = BuildLogCorpusSplit(2'000);
    ASSERT_TRUE(split.ok()) << split.status();
    split_ = new SerializedSplit(*std::move(split));
  }
  static void TearDownTestSuite() {
    delete split_;
    split_ = nullptr;
  }

  // A reader opened with the footer bytes (no read) over a WarmOnlySource.
  std::pair<std::unique_ptr<SplitReader>, std::shared_ptr<WarmOnlySource>> OpenWarmable() {
    auto source = std::make_shared<WarmOnlySource>(split_->bytes);
    auto reader = SplitReader::Open(
        source,
        split_->bytes.substr(split_->footer_start, split_->footer_end - split_->footer_start));
    EXPECT_TRUE(reader.ok()) << reader.status();
    EXPECT_TRUE(source->TakeColdReads().empty());
    return {reader.ok() ? *std::move(reader) : nullptr, source};
  }

  std::unique_ptr<SplitReader> OpenInMemory() {
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("cold-split", split_->bytes));
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? *std::move(reader) : nullptr;
  }

  static SerializedSplit* split_;
};

SerializedSplit* WarmupTest::split_ = nullptr;

TEST_F(WarmupTest, WarmedSearchesReadNothingElseAndMatchColdOnes) {
  std::unique_ptr<SplitReader> cold_reader = OpenInMemory();
  ASSERT_NE(cold_reader, nullptr);
  for (const QueryCase& test_case : LogCorpusQueryCases()) {
    SCOPED_TRACE(test_case.name);
    auto expected = cold_reader->Search(*test_case.query, test_case.request);
    ASSERT_TRUE(expected.ok()) << expected.status();

    auto [reader, source] = OpenWarmable();
    ASSERT_NE(reader, nullptr);
    auto first = reader->RangesFor(*test_case.query, test_case.request, WarmupRound::kFromHotcache);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_TRUE(source->TakeColdReads().empty()) << "round 1 must read nothing";
    EXPECT_TRUE(std::is_sorted(first->begin(), first->end()));
    source->Warm(*first);
    auto second =
        reader->RangesFor(*test_case.query, test_case.request, WarmupRound::kFromTermBlocks);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(Describe(source->TakeColdReads()), "") << "round 2 reads only round 1 ranges";
    source->Warm(*second);

    auto warmed = reader->Search(*test_case.query, test_case.request);
    ASSERT_TRUE(warmed.ok()) << warmed.status();
    EXPECT_EQ(Describe(source->TakeColdReads()), "") << "a warmed search reads nothing else";
    EXPECT_EQ(DescribeResult(*warmed), DescribeResult(*expected));

    std::vector<uint32_t> doc_ids;
    for (const SplitHit& hit : warmed->hits) doc_ids.push_back(hit.doc_id);
    source->Warm(reader->DocumentRanges(doc_ids));
    for (uint32_t doc_id : doc_ids) {
      auto document = reader->FetchDocument(doc_id);
      ASSERT_TRUE(document.ok()) << document.status();
      EXPECT_EQ(*document, *cold_reader->FetchDocument(doc_id));
    }
    EXPECT_EQ(Describe(source->TakeColdReads()), "") << "documents of warmed blocks";
  }
}

TEST_F(WarmupTest, ATermQueryNeedsOneTermBlockThenOnePostingList) {
  auto [reader, source] = OpenWarmable();
  ASSERT_NE(reader, nullptr);
  const QueryPtr query = MakeTermQuery("severity", std::string("ERROR"));
  SplitSearchRequest request;
  request.top_k = 0;
  auto first = reader->RangesFor(*query, request, WarmupRound::kFromHotcache);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 1u) << Describe(*first);
  source->Warm(*first);
  auto second = reader->RangesFor(*query, request, WarmupRound::kFromTermBlocks);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->size(), 1u) << Describe(*second);
  // With hits sorted by timestamp, the timestamp column joins round 1.
  request.top_k = 10;
  auto with_hits = reader->RangesFor(*query, request, WarmupRound::kFromHotcache);
  ASSERT_TRUE(with_hits.ok());
  EXPECT_EQ(with_hits->size(), 2u) << Describe(*with_hits);
}

TEST_F(WarmupTest, AnAbsentTermNeedsNoPostings) {
  auto [reader, source] = OpenWarmable();
  ASSERT_NE(reader, nullptr);
  const QueryPtr query = MakeTermQuery("body", std::string("nosuchword"));
  SplitSearchRequest request;
  request.top_k = 0;
  auto first = reader->RangesFor(*query, request, WarmupRound::kFromHotcache);
  ASSERT_TRUE(first.ok());
  source->Warm(*first);
  auto second = reader->RangesFor(*query, request, WarmupRound::kFromTermBlocks);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty()) << Describe(*second);
}

TEST_F(WarmupTest, ABadValueIsLeftForSearchToReport) {
  auto [reader, source] = OpenWarmable();
  ASSERT_NE(reader, nullptr);
  const QueryPtr query = MakeTermQuery("tenant", std::string("not-a-number"));
  SplitSearchRequest request;
  request.top_k = 0;
  auto first = reader->RangesFor(*query, request, WarmupRound::kFromHotcache);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->empty());
  EXPECT_TRUE(absl::IsInvalidArgument(reader->Search(*query, request).status()));
}

TEST_F(WarmupTest, DocumentRangesAreTheBlocksOfTheDocs) {
  auto [reader, source] = OpenWarmable();
  ASSERT_NE(reader, nullptr);
  // Two docs of one block share a range; the last doc is in another block; ids past the end
  // are ignored.
  const std::vector<ByteRange> ranges = reader->DocumentRanges({0, 1, 1999, 5000});
  ASSERT_EQ(ranges.size(), 2u) << Describe(ranges);
  EXPECT_LT(ranges[0].end(), ranges[1].offset + 1);
  EXPECT_LE(ranges[1].end(), split_->footer_start);
  EXPECT_TRUE(reader->DocumentRanges({}).empty());
}

}  // namespace
}  // namespace shale::index
