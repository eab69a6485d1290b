// Runs the storage conformance suite and S3-specific tests against s3rver, a local
// S3-compatible server (storage/testing/s3rver.h). Every test is skipped when s3rver is not
// installed. Traffic goes to 127.0.0.1 only. s3rver does not check SigV4 signatures (s3_util_test
// checks ours against an independent computation), and it writes objects in place, so
// concurrent overwrites of one key are not atomic (that conformance test is skipped for it).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "common/uri.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"
#include "storage/testing/s3rver.h"
#include "storage/testing/storage_conformance.h"

namespace shale::storage {
namespace {

using testing::S3rver;
using testing::StorageConformanceTest;
using testing::StorageFactory;

constexpr const char* kBucket = testing::kS3rverBucket;

const S3rver* const kS3rver = testing::RegisterS3rverEnvironment();

#define SKIP_WITHOUT_S3RVER() SHALE_SKIP_WITHOUT_S3RVER()

RetryOptions FastRetries(int max_attempts) {
  RetryOptions options;
  options.max_attempts = max_attempts;
  options.base_delay = absl::Milliseconds(1);
  options.max_delay = absl::Milliseconds(10);
  return options;
}

absl::StatusOr<std::unique_ptr<Storage>> MakeS3Storage() {
  return S3rver::instance()->NewStorage(S3rver::instance()->Options());
}


// S3 behind a storage that fails 20% of the calls, behind retries.
absl::StatusOr<std::unique_ptr<Storage>> MakeRetryingFlakyS3Storage() {
  static std::atomic<uint64_t> seed{1};
  absl::StatusOr<std::unique_ptr<Storage>> s3 = MakeS3Storage();
  if (!s3.ok()) {
    return s3.status();
  }
  return NewRetryingStorage(NewFlakyStorage(*std::move(s3), 0.2, seed++), FastRetries(10));
}

constexpr bool kS3rverPutsAreAtomic = false;

INSTANTIATE_TEST_SUITE_P(S3, StorageConformanceTest,
                         ::testing::Values(StorageFactory{"s3", MakeS3Storage, kS3rverPutsAreAtomic},
                                           StorageFactory{"s3_retrying_flaky",
                                                          MakeRetryingFlakyS3Storage,
                                                          kS3rverPutsAreAtomic}),
                         testing::StorageFactoryName);

TEST(S3StorageTest, MultipartUploadRoundTrips) {
  SKIP_WITHOUT_S3RVER();
  S3Options options = S3rver::instance()->Options();
  options.multipart_threshold = 5 << 20;
  options.multipart_part_size = 5 << 20;
  std::unique_ptr<Storage> storage = S3rver::instance()->NewStorage(options).value();
  std::string data(11 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 7919) >> 8);
  }
  ASSERT_TRUE(storage->Put("big/file", data).ok());
  EXPECT_EQ(storage->FileNumBytes("big/file").value_or(0), data.size());
  const absl::StatusOr<std::string> all = storage->GetAll("big/file");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(*all == data);
  const uint64_t boundary = 5 << 20;
  EXPECT_EQ(storage->GetSlice("big/file", boundary - 3, 6).value_or(""),
            data.substr(boundary - 3, 6));
}

// s3rver deletes the keys of a multi-object delete concurrently and races on removing their
// now-empty folders, answering 500 now and then; retries (as in production) absorb it.
std::unique_ptr<Storage> MakeRetryingS3Storage() {
  return NewRetryingStorage(MakeS3Storage().value(), FastRetries(5));
}

TEST(S3StorageTest, KeysWithSpecialCharactersRoundTrip) {
  SKIP_WITHOUT_S3RVER();
  std::unique_ptr<Storage> storage = MakeRetryingS3Storage();
  const std::vector<std::string> paths = {"dir/a b+c=d&e.txt", "dir/ü<>'\"", "dir/~x_y-z.1"};
  for (const std::string& path : paths) {
    ASSERT_TRUE(storage->Put(path, path).ok()) << path;
    EXPECT_EQ(storage->GetAll(path).value_or(""), path);
  }
  std::vector<std::string> sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(storage->List("dir/").value_or(std::vector<std::string>{}), sorted);
  const absl::Status deleted = storage->BulkDelete(paths);
  ASSERT_TRUE(deleted.ok()) << deleted;
  EXPECT_TRUE(storage->List("").value_or(std::vector<std::string>{"x"}).empty());
}

TEST(S3StorageTest, ListFollowsContinuationTokens) {
  SKIP_WITHOUT_S3RVER();
  std::unique_ptr<Storage> storage = MakeRetryingS3Storage();
  constexpr int kNumFiles = 1010;  // more than one page of 1000 keys
  constexpr int kNumThreads = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kNumThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kNumFiles; i += kNumThreads) {
        if (!storage->Put(fmt::format("f{:05}", i), "x").ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  ASSERT_EQ(failures.load(), 0);
  const absl::StatusOr<std::vector<std::string>> listed = storage->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), static_cast<size_t>(kNumFiles));
  EXPECT_EQ(listed->front(), "f00000");
  EXPECT_EQ(listed->back(), fmt::format("f{:05}", kNumFiles - 1));
  std::vector<std::string> paths = *listed;
  const absl::Status deleted = storage->BulkDelete(paths);  // two requests of <= 1000 keys
  ASSERT_TRUE(deleted.ok()) << deleted;
  EXPECT_TRUE(storage->List("").value_or(std::vector<std::string>{"x"}).empty());
}

TEST(S3StorageTest, UnknownAccessKeyIsPermissionDenied) {
  SKIP_WITHOUT_S3RVER();
  S3Options options = S3rver::instance()->Options();
  options.access_key_id = "UNKNOWN";
  std::unique_ptr<Storage> storage = S3rver::instance()->NewStorage(options).value();
  const absl::Status status = storage->Put("f", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_NE(status.message().find("/f`"), std::string::npos) << status;
  EXPECT_NE(status.message().find("403"), std::string::npos) << status;
}

TEST(S3StorageTest, MissingBucketIsNotFound) {
  SKIP_WITHOUT_S3RVER();
  std::unique_ptr<Storage> storage =
      NewS3Storage(Uri::Parse("s3://no-such-bucket/p").value(), S3rver::instance()->Options())
          .value();
  EXPECT_EQ(storage->GetAll("f").status().code(), absl::StatusCode::kNotFound);
}

TEST(S3StorageTest, ResolverBuildsCountedRetryingStorage) {
  SKIP_WITHOUT_S3RVER();
  std::unique_ptr<StorageResolver> resolver = NewStorageResolver(S3rver::instance()->Options());
  const Uri uri = Uri::Parse(fmt::format("s3://{}/{}", kBucket, NewUlid())).value();
  std::shared_ptr<Storage> storage = resolver->Resolve(uri).value();
  ASSERT_TRUE(storage->Put("a/b", "hello").ok());
  EXPECT_EQ(resolver->Resolve(uri).value()->GetSlice("a/b", 1, 3).value_or(""), "ell");
  EXPECT_EQ(storage->List("a").value_or(std::vector<std::string>{}),
            std::vector<std::string>{"a/b"});
}

TEST(S3StorageTest, PersistentFailureThroughRetriesIsClear) {
  SKIP_WITHOUT_S3RVER();
  std::unique_ptr<Storage> storage =
      NewRetryingStorage(NewFlakyStorage(MakeS3Storage().value(), 1.0, 1), FastRetries(3));
  const absl::Status status = storage->GetAll("x/y").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("x/y"), std::string::npos) << status;
  EXPECT_NE(status.message().find("gave up after 3 attempts"), std::string::npos) << status;
}

}  // namespace
}  // namespace shale::storage
