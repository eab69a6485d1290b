#include "storage/testing/storage_conformance.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/ulid.h"

namespace shale::storage::testing {

std::string StorageFactoryName(const ::testing::TestParamInfo<StorageFactory>& info) {
  return info.param.name;
}

void PrintTo(const StorageFactory& factory, std::ostream* os) { *os << factory.name; }

void StorageConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<Storage>> storage = GetParam().make();
  if (storage.status().code() == absl::StatusCode::kUnimplemented) {
    GTEST_SKIP() << storage.status().message();
  }
  ASSERT_TRUE(storage.ok()) << storage.status();
  storage_ = *std::move(storage);
  ASSERT_NE(storage_, nullptr);
}

namespace {

std::string ReadLocalFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> InvalidPaths() {
  return {"", "/abs/file", "../escape", "a/../../b", "a/..", "a//b", "a/", "./a", "a/./b"};
}

TEST_P(StorageConformanceTest, PutThenGetAllReturnsContent) {
  ASSERT_TRUE(storage_->Put("file.bin", "hello").ok());
  absl::StatusOr<std::string> content = storage_->GetAll("file.bin");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "hello");
}

TEST_P(StorageConformanceTest, PutCreatesNestedFolders) {
  ASSERT_TRUE(storage_->Put("a/b/c/file.json", "{}").ok());
  EXPECT_EQ(storage_->GetAll("a/b/c/file.json").value_or(""), "{}");
}

TEST_P(StorageConformanceTest, PutReplacesExistingFileWhole) {
  ASSERT_TRUE(storage_->Put("f", std::string(1000, 'a')).ok());
  ASSERT_TRUE(storage_->Put("f", "short").ok());
  EXPECT_EQ(storage_->GetAll("f").value_or(""), "short");
  EXPECT_EQ(storage_->FileNumBytes("f").value_or(0), 5u);
  // Replacing leaves exactly one visible file.
  EXPECT_EQ(storage_->List("").value_or(std::vector<std::string>{}), std::vector<std::string>{"f"});
}

TEST_P(StorageConformanceTest, PutEmptyAndBinaryContent) {
  ASSERT_TRUE(storage_->Put("empty", "").ok());
  EXPECT_EQ(storage_->GetAll("empty").value_or("x"), "");
  EXPECT_EQ(storage_->FileNumBytes("empty").value_or(1), 0u);
  std::string binary;
  for (int i = 0; i < 512; ++i) {
    binary.push_back(static_cast<char>(i % 256));
  }
  ASSERT_TRUE(storage_->Put("binary", binary).ok());
  EXPECT_EQ(storage_->GetAll("binary").value_or(""), binary);
}

TEST_P(StorageConformanceTest, GetAllOfMissingFileReturnsNotFound) {
  EXPECT_EQ(storage_->GetAll("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->GetAll("no/such/dir/file").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, GetSliceReturnsRange) {
  ASSERT_TRUE(storage_->Put("f", "0123456789").ok());
  EXPECT_EQ(storage_->GetSlice("f", 2, 3).value_or(""), "234");
  EXPECT_EQ(storage_->GetSlice("f", 0, 10).value_or(""), "0123456789");
  EXPECT_EQ(storage_->GetSlice("f", 10, 0).value_or("x"), "");
  EXPECT_EQ(storage_->GetSlice("f", 4, 0).value_or("x"), "");
}

TEST_P(StorageConformanceTest, GetSlicePastEndReturnsOutOfRange) {
  ASSERT_TRUE(storage_->Put("f", "0123456789").ok());
  EXPECT_EQ(storage_->GetSlice("f", 8, 3).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(storage_->GetSlice("f", 11, 0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(storage_->GetSlice("f", 1, UINT64_MAX).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(storage_->GetSlice("f", UINT64_MAX, 2).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_P(StorageConformanceTest, GetSliceOfMissingFileReturnsNotFound) {
  EXPECT_EQ(storage_->GetSlice("missing", 0, 1).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, CopyToFileWritesLocalCopy) {
  ASSERT_TRUE(storage_->Put("dir/f", "copied bytes").ok());
  const std::filesystem::path target =
      std::filesystem::path(::testing::TempDir()) / fmt::format("copy_{}", NewUlid());
  ASSERT_TRUE(storage_->CopyToFile("dir/f", target).ok());
  EXPECT_EQ(ReadLocalFile(target), "copied bytes");
  // Overwrites an existing local file.
  ASSERT_TRUE(storage_->Put("dir/g", "x").ok());
  ASSERT_TRUE(storage_->CopyToFile("dir/g", target).ok());
  EXPECT_EQ(ReadLocalFile(target), "x");
  std::filesystem::remove(target);
}

TEST_P(StorageConformanceTest, CopyToFileOfMissingFileReturnsNotFound) {
  const std::filesystem::path target =
      std::filesystem::path(::testing::TempDir()) / fmt::format("copy_{}", NewUlid());
  EXPECT_EQ(storage_->CopyToFile("missing", target).code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, DeleteRemovesFileAndIgnoresMissing) {
  ASSERT_TRUE(storage_->Put("d/f", "x").ok());
  ASSERT_TRUE(storage_->Delete("d/f").ok());
  EXPECT_FALSE(storage_->Exists("d/f").value_or(true));
  EXPECT_EQ(storage_->GetAll("d/f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(storage_->Delete("d/f").ok());
  EXPECT_TRUE(storage_->Delete("never/existed").ok());
}

TEST_P(StorageConformanceTest, BulkDeleteRemovesAllAndIgnoresMissing) {
  ASSERT_TRUE(storage_->Put("a", "1").ok());
  ASSERT_TRUE(storage_->Put("b/c", "2").ok());
  ASSERT_TRUE(storage_->Put("keep", "3").ok());
  ASSERT_TRUE(storage_->BulkDelete({"a", "b/c", "missing"}).ok());
  EXPECT_EQ(storage_->List("").value_or(std::vector<std::string>{}),
            std::vector<std::string>{"keep"});
  EXPECT_TRUE(storage_->BulkDelete({}).ok());
}

TEST_P(StorageConformanceTest, BulkDeleteWithInvalidPathFailsNamingIt) {
  ASSERT_TRUE(storage_->Put("a", "1").ok());
  const absl::Status status = storage_->BulkDelete({"a", "../bad"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("../bad"), std::string::npos) << status;
}

TEST_P(StorageConformanceTest, ListIsRecursiveSortedAndFiltersByPrefix) {
  for (const char* path : {"idx/b.split", "idx/a.split", "idx/sub/c.split", "other/d", "idz"}) {
    ASSERT_TRUE(storage_->Put(path, "x").ok());
  }
  EXPECT_EQ(storage_->List("").value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"idx/a.split", "idx/b.split", "idx/sub/c.split", "idz",
                                      "other/d"}));
  EXPECT_EQ(storage_->List("idx/").value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"idx/a.split", "idx/b.split", "idx/sub/c.split"}));
  EXPECT_EQ(storage_->List("id").value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"idx/a.split", "idx/b.split", "idx/sub/c.split", "idz"}));
  EXPECT_EQ(storage_->List("idx/a").value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"idx/a.split"}));
  EXPECT_EQ(storage_->List("idx/sub/").value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"idx/sub/c.split"}));
  absl::StatusOr<std::vector<std::string>> none = storage_->List("nothing/here/");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_P(StorageConformanceTest, ListRejectsEscapingPrefix) {
  EXPECT_EQ(storage_->List("../").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage_->List("/abs").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StorageConformanceTest, ExistsAndFileNumBytes) {
  EXPECT_FALSE(storage_->Exists("f").value_or(true));
  ASSERT_TRUE(storage_->Put("dir/f", "12345").ok());
  EXPECT_TRUE(storage_->Exists("dir/f").value_or(false));
  EXPECT_EQ(storage_->FileNumBytes("dir/f").value_or(0), 5u);
  EXPECT_EQ(storage_->FileNumBytes("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, InvalidPathsAreRejectedByEveryMethod) {
  const std::filesystem::path target =
      std::filesystem::path(::testing::TempDir()) / fmt::format("copy_{}", NewUlid());
  for (const std::string& path : InvalidPaths()) {
    SCOPED_TRACE(fmt::format("path `{}`", path));
    constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
    EXPECT_EQ(storage_->Put(path, "x").code(), kInvalid);
    EXPECT_EQ(storage_->GetAll(path).status().code(), kInvalid);
    EXPECT_EQ(storage_->GetSlice(path, 0, 0).status().code(), kInvalid);
    EXPECT_EQ(storage_->CopyToFile(path, target).code(), kInvalid);
    EXPECT_EQ(storage_->Delete(path).code(), kInvalid);
    EXPECT_EQ(storage_->BulkDelete({path}).code(), kInvalid);
    EXPECT_EQ(storage_->Exists(path).status().code(), kInvalid);
    EXPECT_EQ(storage_->FileNumBytes(path).status().code(), kInvalid);
  }
  const absl::Status status = storage_->Put("a/../b", "x");
  EXPECT_NE(status.message().find("a/../b"), std::string::npos) << status;
}

TEST_P(StorageConformanceTest, ConcurrentPutsAndGetsOnDistinctFiles) {
  constexpr int kNumThreads = 6;
  constexpr int kNumFilesPerThread = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kNumThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kNumFilesPerThread; ++i) {
        const std::string path = fmt::format("t{}/f{}", t, i);
        const std::string content = fmt::format("thread {} file {}", t, i);
        if (!storage_->Put(path, content).ok()) {
          ++failures;
        }
        if (storage_->GetAll(path).value_or("") != content) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(storage_->List("").value_or(std::vector<std::string>{}).size(),
            static_cast<size_t>(kNumThreads * kNumFilesPerThread));
}

// Writers replace one file with uniform contents of different lengths while readers check
// they always see one whole version, never a mix or a partial file.
TEST_P(StorageConformanceTest, ConcurrentPutsOfOneFileAreAtomic) {
  if (!GetParam().atomic_overwrites) {
    GTEST_SKIP() << GetParam().name << " does not replace files atomically";
  }
  constexpr int kNumWriters = 3;
  constexpr int kNumReaders = 3;
  constexpr int kNumPutsPerWriter = 30;
  ASSERT_TRUE(storage_->Put("shared", std::string(100, 'a')).ok());
  std::atomic<int> failures{0};
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kNumWriters; ++w) {
    writers.emplace_back([this, w, &failures] {
      for (int i = 0; i < kNumPutsPerWriter; ++i) {
        const char letter = static_cast<char>('b' + w);
        const size_t size = 1000 * static_cast<size_t>(1 + (i % 7));
        if (!storage_->Put("shared", std::string(size, letter)).ok()) {
          ++failures;
        }
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < kNumReaders; ++r) {
    readers.emplace_back([this, &failures, &writers_done] {
      while (!writers_done.load()) {
        absl::StatusOr<std::string> content = storage_->GetAll("shared");
        if (!content.ok() || content->empty() ||
            content->find_first_not_of(content->front()) != std::string::npos ||
            (content->size() % 100) != 0) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& writer : writers) {
    writer.join();
  }
  writers_done.store(true);
  for (std::thread& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(storage_->List("").value_or(std::vector<std::string>{}),
            std::vector<std::string>{"shared"});
}

}  // namespace
}  // namespace shale::storage::testing
