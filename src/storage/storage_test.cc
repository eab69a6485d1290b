#include "storage/storage.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "common/uri.h"
#include "storage/storage_decorators.h"
#include "storage/testing/storage_conformance.h"

namespace shale::storage {
namespace {

using testing::StorageConformanceTest;
using testing::StorageFactory;

std::filesystem::path NewTempRoot() {
  return std::filesystem::path(::testing::TempDir()) / fmt::format("shale_storage_{}", NewUlid());
}

absl::StatusOr<std::unique_ptr<Storage>> MakeLocalStorage() {
  absl::StatusOr<Uri> uri = Uri::Parse(fmt::format("file://{}", NewTempRoot().string()));
  if (!uri.ok()) {
    return uri.status();
  }
  return NewLocalStorage(*uri);
}

absl::StatusOr<std::unique_ptr<Storage>> MakeRamStorage() {
  absl::StatusOr<Uri> uri = Uri::Parse(fmt::format("ram:///test/{}", NewUlid()));
  if (!uri.ok()) {
    return uri.status();
  }
  return NewRamStorage(*uri);
}

INSTANTIATE_TEST_SUITE_P(AllStorages, StorageConformanceTest,
                         ::testing::Values(StorageFactory{"local", MakeLocalStorage},
                                           StorageFactory{"ram", MakeRamStorage}),
                         testing::StorageFactoryName);

TEST(LocalStorageTest, RejectsNonFileUri) {
  const Uri uri = Uri::Parse("ram:///x").value();
  EXPECT_EQ(NewLocalStorage(uri).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LocalStorageTest, CreatesRootAndWritesUnderIt) {
  const std::filesystem::path root = NewTempRoot();
  const Uri uri = Uri::Parse(fmt::format("file://{}", root.string())).value();
  std::unique_ptr<Storage> storage = NewLocalStorage(uri).value();
  EXPECT_TRUE(std::filesystem::is_directory(root));
  EXPECT_EQ(storage->uri(), uri);
  ASSERT_TRUE(storage->Put("a/b.txt", "data").ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(root / "a" / "b.txt"));
}

// Payloads of 4 MiB and more go to the device through O_DIRECT in 2 MiB pieces copied into an
// aligned buffer, their last partial page through the page cache: every size around those
// boundaries, from aligned and unaligned addresses, reads back byte for byte, and a smaller
// file put over a larger one leaves none of its bytes behind.
TEST(LocalStorageTest, LargePayloadsReadBackByteForByte) {
  std::unique_ptr<Storage> storage = MakeLocalStorage().value();
  constexpr size_t kMiB = size_t{1} << 20;
  std::string source(10 * kMiB + 8192, '\0');
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (char& c : source) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  for (const size_t size : {4 * kMiB - 1, 4 * kMiB, 4 * kMiB + 1, 6 * kMiB + 4095, 6 * kMiB + 4096,
                            10 * kMiB + 123, 3 * kMiB}) {
    for (const size_t offset : {size_t{0}, size_t{1}, size_t{4096}}) {
      const std::string_view payload = std::string_view(source).substr(offset, size);
      const std::string path = "large/file.bin";
      ASSERT_TRUE(storage->Put(path, payload).ok()) << size << " at " << offset;
      absl::StatusOr<std::string> read = storage->GetAll(path);
      ASSERT_TRUE(read.ok()) << read.status();
      ASSERT_EQ(read->size(), payload.size()) << size << " at " << offset;
      EXPECT_TRUE(*read == payload) << "bytes differ: " << size << " at " << offset;
    }
  }
}

TEST(LocalStorageTest, ListHidesTempFilesAndFolders) {
  const std::filesystem::path root = NewTempRoot();
  std::unique_ptr<Storage> storage =
      NewLocalStorage(Uri::Parse(fmt::format("file://{}", root.string())).value()).value();
  ASSERT_TRUE(storage->Put("dir/real", "x").ok());
  // A temp file left by a crash in the middle of Put().
  std::ofstream(root / "dir" / "real.shale-tmp-01ARZ3NDEKTSV4RRFFQ69G5FAV") << "partial";
  std::filesystem::create_directories(root / "empty_folder");
  EXPECT_EQ(storage->List("").value(), std::vector<std::string>{"dir/real"});
  EXPECT_FALSE(storage->Exists("empty_folder").value());
  EXPECT_EQ(storage->FileNumBytes("empty_folder").status().code(), absl::StatusCode::kNotFound);
}

TEST(LocalStorageTest, ErrorsNameThePathAndTheSystemError) {
  std::unique_ptr<Storage> storage = MakeLocalStorage().value();
  const absl::Status status = storage->GetAll("missing/file").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("missing/file"), std::string::npos) << status;
  EXPECT_NE(status.message().find("No such file or directory"), std::string::npos) << status;
}

TEST(StorageResolverTest, ResolvesFileUrisToLocalStorage) {
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver();
  const Uri uri = Uri::Parse(fmt::format("file://{}", NewTempRoot().string())).value();
  std::shared_ptr<Storage> storage = resolver->Resolve(uri).value();
  ASSERT_TRUE(storage->Put("f", "x").ok());
  EXPECT_EQ(storage->uri(), uri);
  EXPECT_EQ(resolver->Resolve(uri).value()->GetAll("f").value(), "x");
}

TEST(StorageResolverTest, SharesRamStoragePerUri) {
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver();
  const Uri uri = Uri::Parse("ram:///indexes").value();
  ASSERT_TRUE(resolver->Resolve(uri).value()->Put("f", "x").ok());
  EXPECT_EQ(resolver->Resolve(uri).value()->GetAll("f").value(), "x");
  const Uri other = Uri::Parse("ram:///other").value();
  EXPECT_FALSE(resolver->Resolve(other).value()->Exists("f").value());
}

// Resolving does no network I/O; the endpoint is a closed loopback port.
TEST(StorageResolverTest, ResolvesS3UrisToOneStoragePerUri) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:1";
  options.force_path_style_access = true;
  options.access_key_id = "key";
  options.secret_access_key = "secret";
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver(options);
  const Uri uri = Uri::Parse("s3://bucket/prefix").value();
  absl::StatusOr<std::shared_ptr<Storage>> storage = resolver->Resolve(uri);
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ((*storage)->uri(), uri);
  EXPECT_EQ(resolver->Resolve(uri).value(), *storage);
}

TEST(S3StorageTest, RejectsInvalidUrisAndOptions) {
  S3Options options;
  EXPECT_EQ(NewS3Storage(Uri::Parse("ram:///x").value(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewS3Storage(Uri::Parse("s3://bucket/a/../b").value(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.endpoint = "127.0.0.1:9000";
  EXPECT_EQ(NewS3Storage(Uri::Parse("s3://bucket").value(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.endpoint = "ftp://127.0.0.1";
  EXPECT_EQ(NewS3Storage(Uri::Parse("s3://bucket").value(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.endpoint = "http://127.0.0.1:1";
  options.access_key_id = "key";
  EXPECT_EQ(NewS3Storage(Uri::Parse("s3://bucket").value(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(S3StorageTest, ConnectionFailuresAreUnavailableAndNameTheObject) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  options.force_path_style_access = true;
  options.access_key_id = "key";
  options.secret_access_key = "secret";
  std::unique_ptr<Storage> storage =
      NewS3Storage(Uri::Parse("s3://bucket/prefix").value(), options).value();
  const absl::Status status = storage->GetAll("dir/file").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("s3://bucket/prefix/dir/file"), std::string::npos) << status;
  EXPECT_EQ(storage->Put("../x", "y").code(), absl::StatusCode::kInvalidArgument);
}

TEST(StorageResolverTest, InjectsFailuresIntoFileStoragesWhenAsked) {
  std::atomic<double> failure_rate{1.0};
  StorageResolverOptions options;
  options.retry.max_attempts = 2;
  options.retry.base_delay = absl::Microseconds(10);
  options.test_failure_rate = [&failure_rate] { return failure_rate.load(); };
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver(options);
  const Uri uri = Uri::Parse(fmt::format("file://{}", NewTempRoot().string())).value();
  std::shared_ptr<Storage> storage = resolver->Resolve(uri).value();
  const absl::Status status = storage->Put("f", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("injected storage failure: put `f`"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find(uri.str()), std::string::npos) << status;
  EXPECT_NE(status.message().find("gave up after 2 attempts"), std::string::npos) << status;
  failure_rate = 0.0;
  ASSERT_TRUE(storage->Put("f", "y").ok());
  EXPECT_EQ(storage->GetAll("f").value_or(""), "y");
}

TEST(StorageResolverTest, PostgresIsNotAStorage) {
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver();
  EXPECT_EQ(resolver->Resolve(Uri::Parse("postgresql://localhost/db").value()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateStoragePathTest, AcceptsRelativePaths) {
  EXPECT_TRUE(ValidateStoragePath("a").ok());
  EXPECT_TRUE(ValidateStoragePath("a/b/c.split").ok());
  EXPECT_TRUE(ValidateStoragePath(".hidden/..dots").ok());
}

}  // namespace
}  // namespace shale::storage
