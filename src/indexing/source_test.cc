#include "indexing/source.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "indexing/testing/gzip.h"
#include "indexing/wal.h"

namespace shale::indexing {
namespace {

using ::shale::indexing::testing::Gzip;
using ::testing::HasSubstr;

std::string Lines(int first, int count) {
  std::string out;
  for (int i = first; i < first + count; ++i) {
    out += "{\"id\": \"doc-" + std::to_string(i) + "\", \"body\": \"" + std::string(i % 50, 'x') +
           "\"}\n";
  }
  return out;
}

config::SourceConfig FileConfig(const std::string& filepath) {
  config::SourceConfig config;
  config.source_id = "my-file";
  config.source_type = "file";
  config.params = nlohmann::json{{"filepath", filepath}};
  return config;
}

struct ReadResult {
  std::string ndjson;
  std::vector<metastore::PartitionDelta> deltas;
  uint64_t num_oversized_lines = 0;
  absl::Status status;
};

// Reads the source to its end (or first error), checking that the deltas chain.
ReadResult ReadAll(Source& source, const std::string& partition) {
  ReadResult result;
  while (true) {
    auto batch = source.NextBatch();
    if (!batch.ok()) {
      result.status = batch.status();
      return result;
    }
    if (!batch->has_value()) return result;
    result.ndjson += (*batch)->ndjson;
    result.num_oversized_lines += (*batch)->num_oversized_lines;
    EXPECT_EQ((*batch)->checkpoint_delta.size(), 1u);
    const metastore::PartitionDelta& delta = (*batch)->checkpoint_delta.at(partition);
    if (!result.deltas.empty()) {
      EXPECT_EQ(delta.from, result.deltas.back().to);
    }
    EXPECT_LT(delta.from, delta.to);
    result.deltas.push_back(delta);
  }
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = storage::NewStorageResolver();
    root_ = "ram:///files-" + NewUlid();
    auto storage = resolver_->Resolve(*Uri::Parse(root_));
    ASSERT_TRUE(storage.ok());
    storage_ = *storage;
  }

  // Writes `name` and returns its uri.
  std::string Put(const std::string& name, const std::string& data) {
    EXPECT_TRUE(storage_->Put(name, data).ok());
    return root_ + "/" + name;
  }

  std::unique_ptr<Source> Open(const std::string& uri,
                               const metastore::SourceCheckpoint& checkpoint,
                               uint64_t batch_bytes = 4096) {
    SourceOptions options;
    options.batch_bytes = batch_bytes;
    options.read_chunk_bytes = 1000;  // smaller than a batch, not a multiple of lines
    auto source = NewSource(FileConfig(uri), checkpoint, *resolver_, options);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? std::move(source).value() : nullptr;
  }

  std::unique_ptr<storage::StorageResolver> resolver_;
  std::string root_;
  std::shared_ptr<storage::Storage> storage_;
};

TEST_F(FileSourceTest, ReadsEveryLineInBatchesWithChainedOffsets) {
  const std::string data = Lines(0, 1000);
  const std::string uri = Put("logs.ndjson", data);
  std::unique_ptr<Source> source = Open(uri, {});
  ReadResult result = ReadAll(*source, uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, data);
  ASSERT_GT(result.deltas.size(), 5u);
  EXPECT_EQ(result.deltas.front().from, "");
  EXPECT_EQ(result.deltas.back().to, WalPositionToCheckpoint(data.size()));
  // Each position is the offset of a line start.
  for (const metastore::PartitionDelta& delta : result.deltas) {
    const uint64_t offset = *WalPositionFromCheckpoint(delta.to);
    EXPECT_TRUE(offset == data.size() || data[offset - 1] == '\n') << offset;
  }
  // An exhausted source stays exhausted.
  auto again = source->NextBatch();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(FileSourceTest, ResumesAfterTheCheckpointedLine) {
  const std::string head = Lines(0, 300);
  const std::string tail = Lines(300, 200);
  const std::string uri = Put("logs.ndjson", head + tail);
  const std::string checkpoint = WalPositionToCheckpoint(head.size());
  std::unique_ptr<Source> source = Open(uri, {{uri, checkpoint}});
  ReadResult result = ReadAll(*source, uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, tail);
  EXPECT_EQ(result.deltas.front().from, checkpoint);
}

TEST_F(FileSourceTest, KeepsBlankLinesAndALastLineWithoutNewline) {
  const std::string uri = Put("logs.json", "{\"a\": 1}\n\n{\"a\": 2}\r\n{\"a\": 3}");
  ReadResult result = ReadAll(*Open(uri, {}), uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, "{\"a\": 1}\n\n{\"a\": 2}\r\n{\"a\": 3}\n");
  EXPECT_EQ(result.deltas.back().to, WalPositionToCheckpoint(28));
}

TEST_F(FileSourceTest, EmptyFileEndsAtOnce) {
  const std::string uri = Put("empty.ndjson", "");
  ReadResult result = ReadAll(*Open(uri, {}), uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(result.deltas.empty());
}

TEST_F(FileSourceTest, GzipPositionsAreDecompressedOffsets) {
  const std::string first = Lines(0, 700);
  const std::string second = Lines(700, 300);
  // Two concatenated members read as one stream.
  const std::string uri = Put("logs.ndjson.gz", Gzip(first) + Gzip(second));
  ReadResult result = ReadAll(*Open(uri, {}), uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, first + second);
  EXPECT_EQ(result.deltas.back().to, WalPositionToCheckpoint(first.size() + second.size()));

  // Resuming decompresses up to the checkpoint, wherever it falls in a member.
  const std::string middle = Lines(0, 650);
  ReadResult resumed = ReadAll(*Open(uri, {{uri, WalPositionToCheckpoint(middle.size())}}), uri);
  ASSERT_TRUE(resumed.status.ok()) << resumed.status;
  EXPECT_EQ(resumed.ndjson, (first + second).substr(middle.size()));
}

TEST_F(FileSourceTest, GzipDetectedByMagicBytesWhateverTheName) {
  const std::string data = Lines(0, 50);
  const std::string uri = Put("logs.ndjson", Gzip(data));
  ReadResult result = ReadAll(*Open(uri, {}), uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, data);
}

TEST_F(FileSourceTest, CorruptOrTruncatedGzipIsDataLossAfterTheGoodLines) {
  const std::string data = Lines(0, 2000);
  const std::string gzip = Gzip(data);
  const std::string truncated_uri = Put("truncated.gz", gzip.substr(0, gzip.size() / 2));
  ReadResult truncated = ReadAll(*Open(truncated_uri, {}), truncated_uri);
  EXPECT_EQ(truncated.status.code(), absl::StatusCode::kDataLoss) << truncated.status;
  EXPECT_THAT(truncated.status.message(), HasSubstr("truncated.gz"));
  EXPECT_GT(truncated.ndjson.size(), 0u);
  EXPECT_EQ(data.substr(0, truncated.ndjson.size()), truncated.ndjson);

  std::string corrupt = gzip;
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 64; ++i) corrupt[i] ^= 0x5a;
  const std::string corrupt_uri = Put("corrupt.gz", corrupt);
  ReadResult damaged = ReadAll(*Open(corrupt_uri, {}), corrupt_uri);
  EXPECT_EQ(damaged.status.code(), absl::StatusCode::kDataLoss) << damaged.status;

  const std::string fake_uri = Put("plain.gz", data);
  ReadResult fake = ReadAll(*Open(fake_uri, {}), fake_uri);
  EXPECT_EQ(fake.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(fake.status.message(), HasSubstr("not gzip"));
}

TEST_F(FileSourceTest, CheckpointPastTheEndAndMissingFileAreErrors) {
  const std::string uri = Put("short.ndjson", Lines(0, 3));
  ReadResult past = ReadAll(*Open(uri, {{uri, WalPositionToCheckpoint(1'000'000)}}), uri);
  EXPECT_EQ(past.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(past.status.message(), HasSubstr("past its end"));

  const std::string missing = root_ + "/missing.ndjson";
  ReadResult absent = ReadAll(*Open(missing, {}), missing);
  EXPECT_EQ(absent.status.code(), absl::StatusCode::kNotFound);

  auto bad_checkpoint = NewSource(FileConfig(uri), {{uri, "not-an-offset"}}, *resolver_);
  EXPECT_EQ(bad_checkpoint.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FileSourceTest, SkipsOversizedLines) {
  const std::string huge(kMaxSourceLineBytes + 10, 'y');
  const std::string data = "{\"a\": 1}\n" + huge + "\n{\"a\": 2}\n" + huge;
  const std::string uri = Put("huge.ndjson", data);
  ReadResult result = ReadAll(*Open(uri, {}, 1 << 20), uri);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.ndjson, "{\"a\": 1}\n{\"a\": 2}\n");
  EXPECT_EQ(result.num_oversized_lines, 2u);
  EXPECT_EQ(result.deltas.back().to, WalPositionToCheckpoint(data.size()));
}

TEST(SourceParamsTest, ErrorsNameTheKey) {
  config::SourceConfig file = FileConfig("/tmp/x.ndjson");
  EXPECT_TRUE(ValidateSourceParams(file).ok());
  file.params = nlohmann::json::object();
  EXPECT_THAT(ValidateSourceParams(file).message(), HasSubstr("params.filepath"));
  file.params = {{"filepath", 3}};
  EXPECT_THAT(ValidateSourceParams(file).message(), HasSubstr("params.filepath"));
  file.params = {{"filepath", "s3://bucket"}};
  EXPECT_THAT(ValidateSourceParams(file).message(), HasSubstr("names no file"));
  file.params = {{"filepath", "/tmp/x.ndjson"}, {"filepth", "y"}};
  EXPECT_THAT(ValidateSourceParams(file).message(), HasSubstr("params.filepth"));
  file.params = {{"filepath", "/tmp/x.ndjson"}};
  file.num_pipelines = 2;
  EXPECT_THAT(ValidateSourceParams(file).message(), HasSubstr("num_pipelines"));

  config::SourceConfig vec;
  vec.source_type = "vec";
  vec.params = {{"docs", 3}};
  EXPECT_THAT(ValidateSourceParams(vec).message(), HasSubstr("params.docs"));
  vec.params = {{"docs", nlohmann::json::array()}, {"batch_num_docs", 0}};
  EXPECT_THAT(ValidateSourceParams(vec).message(), HasSubstr("params.batch_num_docs"));

  config::SourceConfig kafka;
  kafka.source_type = "kafka";
  EXPECT_TRUE(ValidateSourceParams(kafka).ok());
  EXPECT_FALSE(IsPipelineSourceType("kafka"));
  EXPECT_TRUE(IsPipelineSourceType("file"));
}

TEST(VecSourceTest, ResumesAtTheCheckpointedIndex) {
  auto resolver = storage::NewStorageResolver();
  config::SourceConfig vec;
  vec.source_id = "my-vec";
  vec.source_type = "vec";
  vec.params = {{"docs", {{{"n", 0}}, {{"n", 1}}, "{\"n\": 2}"}}, {"batch_num_docs", 2}};
  auto source = NewSource(vec, {}, *resolver);
  ASSERT_TRUE(source.ok()) << source.status();
  ReadResult all = ReadAll(**source, "0");
  EXPECT_EQ(all.ndjson, "{\"n\":0}\n{\"n\":1}\n{\"n\": 2}\n");
  ASSERT_EQ(all.deltas.size(), 2u);
  EXPECT_EQ(all.deltas[1].to, WalPositionToCheckpoint(3));

  auto resumed = NewSource(vec, {{"0", WalPositionToCheckpoint(2)}}, *resolver);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(ReadAll(**resumed, "0").ndjson, "{\"n\": 2}\n");

  config::SourceConfig empty;
  empty.source_type = "void";
  auto void_source = NewSource(empty, {}, *resolver);
  ASSERT_TRUE(void_source.ok());
  EXPECT_TRUE(ReadAll(**void_source, "0").deltas.empty());
}

}  // namespace
}  // namespace shale::indexing
