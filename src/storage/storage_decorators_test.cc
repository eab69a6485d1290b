#include "storage/storage_decorators.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

#include "common/metrics.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "storage/storage.h"
#include "storage/testing/storage_conformance.h"

namespace shale::storage {
namespace {

using testing::StorageConformanceTest;
using testing::StorageFactory;

std::unique_ptr<Storage> NewTestRamStorage() {
  return NewRamStorage(Uri::Parse(fmt::format("ram:///test/{}", NewUlid())).value());
}

RetryOptions FastRetries(int max_attempts) {
  RetryOptions options;
  options.max_attempts = max_attempts;
  options.base_delay = absl::Microseconds(100);
  options.max_delay = absl::Milliseconds(1);
  return options;
}

absl::StatusOr<std::unique_ptr<Storage>> MakeRetryingStorage() {
  return NewRetryingStorage(NewTestRamStorage(), FastRetries(5));
}

absl::StatusOr<std::unique_ptr<Storage>> MakeCountingStorage() {
  return std::unique_ptr<Storage>(NewCountingStorage(NewTestRamStorage()));
}

absl::StatusOr<std::unique_ptr<Storage>> MakePrefixStorage() {
  return NewPrefixStorage(NewTestRamStorage(), "some/prefix");
}

// 20% of the calls fail (half of them after taking effect); 10 attempts make a failure of the
// whole call a 1e-7 event, rare enough for the thousands of calls of the suite.
absl::StatusOr<std::unique_ptr<Storage>> MakeRetryingFlakyStorage() {
  static std::atomic<uint64_t> seed{1};
  return NewRetryingStorage(NewFlakyStorage(NewTestRamStorage(), 0.2, seed++), FastRetries(10));
}

INSTANTIATE_TEST_SUITE_P(Decorators, StorageConformanceTest,
                         ::testing::Values(StorageFactory{"retrying", MakeRetryingStorage},
                                           StorageFactory{"counting", MakeCountingStorage},
                                           StorageFactory{"prefix", MakePrefixStorage},
                                           StorageFactory{"retrying_flaky",
                                                          MakeRetryingFlakyStorage}),
                         testing::StorageFactoryName);

TEST(RetryingStorageTest, PersistentFailureReturnsTheLastErrorAndTheAttempts) {
  std::unique_ptr<Storage> storage =
      NewRetryingStorage(NewFlakyStorage(NewTestRamStorage(), 1.0, 7), FastRetries(3));
  const absl::Status status = storage->Put("dir/f", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("dir/f"), std::string::npos) << status;
  EXPECT_NE(status.message().find("gave up after 3 attempts"), std::string::npos) << status;
}

TEST(RetryingStorageTest, DoesNotRetryOtherErrors) {
  auto counting = NewCountingStorage(NewTestRamStorage());
  CountingStorage* counts = counting.get();
  std::unique_ptr<Storage> storage = NewRetryingStorage(std::move(counting), FastRetries(5));
  EXPECT_EQ(storage->GetAll("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(counts->num_requests(StorageOp::kGetAll), 1);
}

TEST(RetryingStorageTest, RetriesUnavailableUntilSuccess) {
  auto counting = NewCountingStorage(NewFlakyStorage(NewTestRamStorage(), 0.5, 3));
  CountingStorage* counts = counting.get();
  std::unique_ptr<Storage> storage = NewRetryingStorage(std::move(counting), FastRetries(30));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(storage->Put(fmt::format("f{}", i), "x").ok());
  }
  EXPECT_GT(counts->num_requests(StorageOp::kPut), 20);
  EXPECT_EQ(counts->num_requests(StorageOp::kPut) - counts->num_errors(StorageOp::kPut), 20);
}

TEST(FlakyStorageTest, FaultsAfterTheCallLetItTakeEffect) {
  std::unique_ptr<Storage> ram = NewTestRamStorage();
  Storage* inner = ram.get();
  std::unique_ptr<Storage> storage = NewFlakyStorage(std::move(ram), 1.0, 11);
  int num_applied = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string path = fmt::format("f{}", i);
    const absl::Status status = storage->Put(path, "x");
    ASSERT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    const bool applied = inner->Exists(path).value();
    EXPECT_EQ(applied, status.message().find("after it ran") != std::string::npos) << status;
    num_applied += applied ? 1 : 0;
  }
  // Half of the faults, in expectation, come after the call.
  EXPECT_GT(num_applied, 5);
  EXPECT_LT(num_applied, 35);
}

TEST(FlakyStorageTest, ReadsTheRateOnEveryCall) {
  std::atomic<double> failure_rate{0.0};
  std::unique_ptr<Storage> storage = NewFlakyStorage(
      NewTestRamStorage(), [&failure_rate] { return failure_rate.load(); }, 5);
  ASSERT_TRUE(storage->Put("f", "x").ok());
  failure_rate = 1.0;
  const absl::Status status = storage->GetAll("f").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(storage->uri().str()), std::string::npos) << status;
  failure_rate = 0.0;
  EXPECT_EQ(storage->GetAll("f").value_or(""), "x");
}

TEST(CountingStorageTest, CountsRequestsAndBytes) {
  std::unique_ptr<CountingStorage> storage = NewCountingStorage(NewTestRamStorage());
  Counter& global_gets = MetricsRegistry::Global().GetCounter(
      "shale_storage_requests_total", "Storage requests by operation", "op=\"get_slice\"");
  const int64_t global_gets_before = global_gets.value();
  ASSERT_TRUE(storage->Put("f", "0123456789").ok());
  ASSERT_TRUE(storage->GetSlice("f", 2, 3).ok());
  ASSERT_TRUE(storage->GetAll("f").ok());
  EXPECT_FALSE(storage->GetAll("missing").ok());
  EXPECT_EQ(storage->num_requests(StorageOp::kPut), 1);
  EXPECT_EQ(storage->num_requests(StorageOp::kGetSlice), 1);
  EXPECT_EQ(storage->num_requests(StorageOp::kGetAll), 2);
  EXPECT_EQ(storage->num_errors(StorageOp::kGetAll), 1);
  EXPECT_EQ(storage->num_bytes_written(), 10);
  EXPECT_EQ(storage->num_bytes_read(), 13);
  EXPECT_EQ(global_gets.value() - global_gets_before, 1);
  const std::string rendered = MetricsRegistry::Global().RenderPrometheus();
  EXPECT_NE(rendered.find("shale_storage_bytes_read_total"), std::string::npos);
}

TEST(PrefixStorageTest, StoresUnderThePrefix) {
  std::unique_ptr<Storage> ram = NewTestRamStorage();
  Storage* inner = ram.get();
  const Uri inner_uri = ram->uri();
  std::unique_ptr<Storage> storage = NewPrefixStorage(std::move(ram), "p/q").value();
  EXPECT_EQ(storage->uri(), inner_uri.Join("p/q"));
  ASSERT_TRUE(storage->Put("a/b", "x").ok());
  EXPECT_EQ(inner->GetAll("p/q/a/b").value_or(""), "x");
  ASSERT_TRUE(inner->Put("p/qq/outside", "y").ok());
  EXPECT_EQ(storage->List("").value(), std::vector<std::string>{"a/b"});
  EXPECT_EQ(NewPrefixStorage(NewTestRamStorage(), "../x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shale::storage
