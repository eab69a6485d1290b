#include "cli/ndjson_batcher.h"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "gtest/gtest.h"

namespace shale::cli {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
}

void WriteGzipFile(const std::string& path, const std::string& content) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())),
            static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::vector<NdjsonBatch> ReadAllBatches(const std::string& path, uint64_t limit) {
  absl::StatusOr<std::unique_ptr<NdjsonBatcher>> batcher = NdjsonBatcher::Open(path, limit);
  EXPECT_TRUE(batcher.ok()) << batcher.status();
  std::vector<NdjsonBatch> batches;
  if (!batcher.ok()) return batches;
  while (true) {
    absl::StatusOr<std::optional<NdjsonBatch>> batch = (*batcher)->Next();
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok() || !batch->has_value()) break;
    batches.push_back(std::move(**batch));
  }
  return batches;
}

// Lines of random length in [1, max_len], with newline terminators.
std::vector<std::string> RandomLines(int count, int max_len, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> length(1, max_len);
  std::vector<std::string> lines;
  for (int i = 0; i < count; ++i) {
    std::string line = "{\"i\":" + std::to_string(i) + ",\"p\":\"";
    line.append(static_cast<size_t>(length(rng)), 'x');
    line += "\"}";
    lines.push_back(line);
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// Checks the batch invariants of ndjson_batcher.h and that the batches rebuild `expected`.
void CheckBatches(const std::vector<NdjsonBatch>& batches, const std::vector<std::string>& lines,
                  uint64_t limit) {
  std::string rebuilt;
  uint64_t total_lines = 0;
  for (const NdjsonBatch& batch : batches) {
    ASSERT_FALSE(batch.body.empty());
    EXPECT_EQ(batch.body.back(), '\n');
    const uint64_t newlines =
        static_cast<uint64_t>(std::count(batch.body.begin(), batch.body.end(), '\n'));
    EXPECT_EQ(newlines, batch.num_lines);
    if (batch.body.size() > limit) {
      EXPECT_EQ(batch.num_lines, 1u) << "only a single oversized line may exceed the limit";
    }
    rebuilt += batch.body;
    total_lines += batch.num_lines;
  }
  EXPECT_EQ(total_lines, lines.size());
  EXPECT_EQ(rebuilt, Join(lines));
}

TEST(NdjsonBatcherTest, BatchesNeverSplitLinesNorExceedTheLimit) {
  const std::vector<std::string> lines = RandomLines(2000, 300, 42);
  const std::string path = TempPath("batcher_plain.ndjson");
  WriteFile(path, Join(lines));
  for (const uint64_t limit : {400ULL, 1000ULL, 4096ULL, 65536ULL, 1ULL << 30}) {
    SCOPED_TRACE(limit);
    const std::vector<NdjsonBatch> batches = ReadAllBatches(path, limit);
    CheckBatches(batches, lines, limit);
    if (limit >= 1ULL << 30) {
      EXPECT_EQ(batches.size(), 1u);
    }
  }
}

// The CLI hands each sent batch's body back (Recycle) and the next batch is built in it: the
// batches still hold exactly their lines, whatever the earlier, larger ones held.
TEST(NdjsonBatcherTest, RecycledBodiesHoldOnlyTheirOwnLines) {
  const std::vector<std::string> lines = RandomLines(2000, 300, 7);
  const std::string path = TempPath("batcher_recycled.ndjson");
  WriteFile(path, Join(lines));
  absl::StatusOr<std::unique_ptr<NdjsonBatcher>> batcher = NdjsonBatcher::Open(path, 4096);
  ASSERT_TRUE(batcher.ok()) << batcher.status();
  std::vector<NdjsonBatch> batches;
  while (true) {
    absl::StatusOr<std::optional<NdjsonBatch>> batch = (*batcher)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (!batch->has_value()) break;
    NdjsonBatch copy{(*batch)->body, (*batch)->num_lines};
    batches.push_back(copy);
    // A larger buffer full of other bytes comes back now and then.
    std::string body = std::move((*batch)->body);
    if (batches.size() % 3 == 0) body.assign(20000, '#');
    (*batcher)->Recycle(std::move(body));
  }
  ASSERT_GT(batches.size(), 10u);
  CheckBatches(batches, lines, 4096);
}

TEST(NdjsonBatcherTest, OversizedLineIsSentAlone) {
  std::vector<std::string> lines = {"{\"a\":1}", std::string(5000, 'z'), "{\"b\":2}", "{\"c\":3}"};
  const std::string path = TempPath("batcher_oversized.ndjson");
  WriteFile(path, Join(lines));
  const std::vector<NdjsonBatch> batches = ReadAllBatches(path, 100);
  CheckBatches(batches, lines, 100);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].body, "{\"a\":1}\n");
  EXPECT_EQ(batches[1].body, std::string(5000, 'z') + "\n");
  EXPECT_EQ(batches[2].body, "{\"b\":2}\n{\"c\":3}\n");
}

TEST(NdjsonBatcherTest, OversizedLineLongerThanTheReadChunk) {
  std::vector<std::string> lines = {"{\"a\":1}", std::string(3 << 20, 'q'), "{\"b\":2}"};
  const std::string path = TempPath("batcher_huge_line.ndjson");
  WriteFile(path, Join(lines));
  const std::vector<NdjsonBatch> batches = ReadAllBatches(path, 1000);
  CheckBatches(batches, lines, 1000);
  EXPECT_EQ(batches.size(), 3u);
}

TEST(NdjsonBatcherTest, DropsBlankLinesAndTerminatesTheLastLine) {
  const std::string path = TempPath("batcher_blank.ndjson");
  WriteFile(path, "\n{\"a\":1}\n\n  \r\n{\"b\":2}\n\n{\"c\":3}");
  const std::vector<NdjsonBatch> batches = ReadAllBatches(path, 1 << 20);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].body, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  EXPECT_EQ(batches[0].num_lines, 3u);
}

TEST(NdjsonBatcherTest, EmptyInputYieldsNoBatch) {
  const std::string path = TempPath("batcher_empty.ndjson");
  WriteFile(path, "");
  EXPECT_TRUE(ReadAllBatches(path, 100).empty());
  WriteFile(path, "\n\n \n");
  EXPECT_TRUE(ReadAllBatches(path, 100).empty());
}

TEST(NdjsonBatcherTest, UnterminatedLastLineStaysWithinTheLimit) {
  const std::string path = TempPath("batcher_unterminated.ndjson");
  // 9 bytes + 1 added newline = 10 = the limit; then 10 bytes + newline must go alone.
  WriteFile(path, "123456789");
  std::vector<NdjsonBatch> batches = ReadAllBatches(path, 10);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].body, "123456789\n");
  WriteFile(path, "abc\n123456789");
  batches = ReadAllBatches(path, 10);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].body, "abc\n");
  EXPECT_EQ(batches[1].body, "123456789\n");
}

TEST(NdjsonBatcherTest, DecodesGzipInput) {
  const std::vector<std::string> lines = RandomLines(5000, 200, 7);
  const std::string path = TempPath("batcher.ndjson.gz");
  WriteGzipFile(path, Join(lines));
  const std::vector<NdjsonBatch> batches = ReadAllBatches(path, 8192);
  CheckBatches(batches, lines, 8192);
  EXPECT_GT(batches.size(), 10u);
}

TEST(NdjsonBatcherTest, CorruptGzipIsDataLoss) {
  const std::vector<std::string> lines = RandomLines(5000, 200, 9);
  const std::string path = TempPath("batcher_corrupt.ndjson.gz");
  WriteGzipFile(path, Join(lines));
  std::string compressed;
  {
    std::ifstream file(path, std::ios::binary);
    compressed.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  for (size_t i = compressed.size() / 2; i < compressed.size() / 2 + 64; ++i) compressed[i] ^= 0x5A;
  WriteFile(path, compressed);
  absl::StatusOr<std::unique_ptr<NdjsonBatcher>> batcher = NdjsonBatcher::Open(path, 1 << 30);
  ASSERT_TRUE(batcher.ok());
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<std::optional<NdjsonBatch>> batch = (*batcher)->Next();
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    if (!batch->has_value()) break;
  }
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
}

TEST(NdjsonBatcherTest, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<NdjsonBatcher>> batcher =
      NdjsonBatcher::Open(TempPath("does-not-exist.ndjson"), 100);
  EXPECT_TRUE(absl::IsNotFound(batcher.status())) << batcher.status();
  EXPECT_NE(batcher.status().message().find("does-not-exist.ndjson"), absl::string_view::npos);
}

}  // namespace
}  // namespace shale::cli
