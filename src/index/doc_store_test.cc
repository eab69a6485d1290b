// The doc store writer's compression on an executor (SplitWriterOptions::docstore_executor):
// same split bytes as without one whatever the executor does (run tasks on a pool, refuse them,
// run them inline, or put them off), bounded blocks in flight, tasks outliving the writer.

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/thread_pool.h"
#include "index/internal/section_writers.h"
#include "index/split_format.h"
#include "index/split_merger.h"
#include "index/testing/split_builder.h"

namespace shale::index {
namespace {

using Executor = std::function<bool(std::function<void()>)>;

// Keeps every task without running it until RunAll (after the writer is done with them).
class DeferringExecutor {
 public:
  Executor executor() {
    return [this](std::function<void()> task) {
      tasks_.push_back(std::move(task));
      return true;
    };
  }
  size_t num_tasks() const { return tasks_.size(); }
  void RunAll() {
    for (auto& task : tasks_) task();
    tasks_.clear();
  }

 private:
  std::vector<std::function<void()>> tasks_;
};

// Equal bytes, or where the first difference is (the bytes themselves are too long to print).
::testing::AssertionResult SameBytes(const std::string& actual, const std::string& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  const auto [first, unused] =
      std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
  return ::testing::AssertionFailure()
         << actual.size() << " bytes instead of " << expected.size()
         << ", the first difference at offset " << (first - actual.begin());
}

DocMapping Mapping() {
  DocMapping mapping;
  mapping.mode = DocMappingMode::kDynamic;
  return mapping;
}

std::vector<std::string> RandomDocs(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> docs;
  for (int i = 0; i < count; ++i) {
    std::string text;
    const int words = 1 + static_cast<int>(rng() % 60);
    for (int w = 0; w < words; ++w) text += fmt::format(" w{}", rng() % 5000);
    docs.push_back(fmt::format(R"({{"id":{},"level":"l{}","text":"{}"}})", i, rng() % 7, text));
  }
  return docs;
}

SplitWriterOptions SmallBlocks(Executor executor = nullptr, uint32_t max_compressing = 4) {
  SplitWriterOptions options;
  options.docstore_blocksize = 2'000;  // a few docs per block: hundreds of blocks
  options.docstore_executor = std::move(executor);
  options.docstore_max_compressing_blocks = max_compressing;
  return options;
}

TEST(DocStoreExecutorTest, SplitBytesAreTheSameWhateverTheExecutorDoes) {
  const std::vector<std::string> docs = RandomDocs(3'000, 1);
  const std::string expected = testing::BuildTestSplit(Mapping(), docs, SmallBlocks()).bytes;
  ASSERT_FALSE(expected.empty());

  ThreadPool pool("docstore-test", 2);
  const Executor on_pool = [&pool](std::function<void()> task) {
    return pool.Submit(std::move(task));
  };
  const Executor refusing = [](std::function<void()>) { return false; };
  const Executor inline_runner = [](std::function<void()> task) {
    task();
    return true;
  };
  for (uint32_t max_compressing : {1u, 4u, 64u}) {
    EXPECT_TRUE(SameBytes(
        testing::BuildTestSplit(Mapping(), docs, SmallBlocks(on_pool, max_compressing)).bytes,
        expected))
        << "pool, " << max_compressing << " blocks in flight";
  }
  EXPECT_TRUE(
      SameBytes(testing::BuildTestSplit(Mapping(), docs, SmallBlocks(refusing)).bytes, expected));
  EXPECT_TRUE(SameBytes(testing::BuildTestSplit(Mapping(), docs, SmallBlocks(inline_runner)).bytes,
                        expected));
  // Tasks never started by the executor are run by the writer: Finish does not wait forever.
  DeferringExecutor deferring;
  EXPECT_TRUE(SameBytes(
      testing::BuildTestSplit(Mapping(), docs, SmallBlocks(deferring.executor())).bytes, expected));
  EXPECT_GT(deferring.num_tasks(), 100u);
  deferring.RunAll();  // each one already claimed by the writer: a no-op

  // The documents come back from the split built on the pool.
  auto reader = SplitReader::Open(NewMemoryByteRangeSource(
      "pool", testing::BuildTestSplit(Mapping(), docs, SmallBlocks(on_pool, 2)).bytes));
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (uint32_t doc : {0u, 1u, 1'234u, 2'999u}) {
    auto fetched = (*reader)->FetchDocument(doc);
    ASSERT_TRUE(fetched.ok()) << fetched.status();
    EXPECT_NE(fetched->find(fmt::format(R"("id":{})", doc)), std::string::npos) << *fetched;
  }
}

TEST(DocStoreExecutorTest, MergeOnAnExecutorEqualsMergeWithout) {
  std::vector<SerializedSplit> splits;
  for (uint32_t seed : {2u, 3u, 4u}) {
    splits.push_back(testing::BuildTestSplit(Mapping(), RandomDocs(700, seed), SmallBlocks()));
  }
  std::vector<MergeInput> inputs;
  for (size_t i = 0; i < splits.size(); ++i) {
    MergeInput input;
    input.source = NewMemoryByteRangeSource(fmt::format("split-{}", i), splits[i].bytes);
    inputs.push_back(std::move(input));
  }
  // Blocks of the inputs are smaller than the merge's block size: their docs are recompressed.
  SplitWriterOptions options = SmallBlocks();
  options.docstore_blocksize = 16'000;
  auto expected = MergeSplits(Mapping(), inputs, options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ThreadPool pool("docstore-test", 2);
  options.docstore_executor = [&pool](std::function<void()> task) {
    return pool.Submit(std::move(task));
  };
  auto merged = MergeSplits(Mapping(), inputs, options);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(SameBytes(merged->bytes, expected->bytes));
}

// A block's header (doc count and lengths) is written into the room left before its documents
// when it fits, and joined to them by a copy when it does not (tiny documents): either way,
// the documents sampled across the blocks come back whole, the split's first and last too.
TEST(DocStoreWriterTest, HeadersInTheRoomBeforeTheDocsAndPastItReadBack) {
  for (const bool tiny : {false, true}) {
    std::vector<std::string> docs;
    for (int i = 0; i < 40'000; ++i) {
      docs.push_back(tiny ? fmt::format(R"({{"i":{}}})", i)
                          : fmt::format(R"({{"i":{},"text":"{}"}})", i, std::string(200, 'x')));
    }
    const SerializedSplit split = testing::BuildTestSplit(Mapping(), docs);  // 1 MB blocks
    auto reader = SplitReader::Open(NewMemoryByteRangeSource("split", split.bytes));
    ASSERT_TRUE(reader.ok()) << reader.status();
    // Tiny docs: one block of 40,000 lengths of a byte each, over the room. The others: blocks
    // of about 4,700 docs, 2 bytes per length, within it.
    const uint64_t docs_per_block = tiny ? docs.size() : 1'000'000 / docs[0].size() + 1;
    EXPECT_EQ(docs_per_block * (tiny ? 1 : 2) > internal::kDocStoreHeaderRoom, tiny);
    for (uint32_t doc = 0; doc < docs.size(); doc += doc % 1'000 == 0 ? 1 : 331) {
      auto fetched = (*reader)->FetchDocument(doc);
      ASSERT_TRUE(fetched.ok()) << fetched.status();
      ASSERT_EQ(*fetched, docs[doc]) << (tiny ? "tiny " : "") << doc;
    }
    auto last = (*reader)->FetchDocument(static_cast<uint32_t>(docs.size() - 1));
    ASSERT_TRUE(last.ok()) << last.status();
    EXPECT_EQ(*last, docs.back());
  }
}

// Compressible docs of 50 KB, blocks of 200 KB: what the writer holds is mostly the blocks in
// flight, which memory_usage_bytes counts and max_compressing_blocks bounds.
TEST(DocStoreExecutorTest, BlocksInFlightAreBoundedCountedAndMayOutliveTheWriter) {
  constexpr uint32_t kBlocksize = 200'000;
  const std::string doc(50'000, 'd');
  auto memory_after_40_blocks = [&](uint32_t max_compressing, DeferringExecutor& deferring) {
    internal::DocStoreWriter writer(1, kBlocksize, deferring.executor(), max_compressing);
    for (int i = 0; i < 160; ++i) writer.Add(doc);
    EXPECT_EQ(deferring.num_tasks(), 40u);
    return writer.memory_usage_bytes();
    // The writer is destroyed with blocks in flight: their tasks run afterwards (under ASan, a
    // task touching the writer would fail).
  };
  DeferringExecutor bounded_tasks;
  const uint64_t bounded = memory_after_40_blocks(2, bounded_tasks);
  bounded_tasks.RunAll();
  DeferringExecutor unbounded_tasks;
  const uint64_t unbounded = memory_after_40_blocks(100, unbounded_tasks);
  unbounded_tasks.RunAll();
  // Each block in flight holds its docs and room for its compressed bytes.
  EXPECT_GE(bounded, 2 * kBlocksize);
  EXPECT_LT(bounded, 4 * 3 * kBlocksize);
  EXPECT_GE(unbounded, 40 * kBlocksize);

  // Finish compresses what the executor never started, in order.
  DeferringExecutor deferring;
  internal::DocStoreWriter writer(1, kBlocksize, deferring.executor(), 3);
  internal::DocStoreWriter reference(1, kBlocksize);
  for (int i = 0; i < 41; ++i) {
    const std::string numbered = fmt::format("{}{}", i, doc);
    writer.Add(numbered);
    reference.Add(numbered);
  }
  ASSERT_TRUE(writer.Finish().ok());
  ASSERT_TRUE(reference.Finish().ok());
  EXPECT_TRUE(SameBytes(writer.bytes(), reference.bytes()));
  ASSERT_EQ(writer.blocks().size(), reference.blocks().size());
  for (size_t b = 0; b < writer.blocks().size(); ++b) {
    EXPECT_EQ(writer.blocks()[b].first_doc, reference.blocks()[b].first_doc) << b;
    EXPECT_EQ(writer.blocks()[b].chunk.offset, reference.blocks()[b].chunk.offset) << b;
  }
  deferring.RunAll();
}

}  // namespace
}  // namespace shale::index
