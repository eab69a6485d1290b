// Tests of the file-backed metastore's single-writer guard and of readers' delayed view, run
// over any storage: two or more metastore instances share one storage and one fake clock.
// Usage in a test binary that links shale_metastore_testing:
//
//   INSTANTIATE_TEST_SUITE_P(Ram, FileBackedWriterGuardTest,
//                            ::testing::Values(GuardedStorageFactory{"ram", MakeRamStorage}),
//                            GuardedStorageFactoryName);
//
// A factory that returns an Unimplemented status skips the test (e.g. s3rver is missing).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "metastore/metastore.h"
#include "storage/storage.h"

namespace shale::metastore::testing {

struct GuardedStorageFactory {
  std::string name;  // letters, digits and '_' only
  // A fresh, empty storage.
  std::function<absl::StatusOr<std::shared_ptr<storage::Storage>>()> make_storage;
};

void PrintTo(const GuardedStorageFactory& factory, std::ostream* os);
std::string GuardedStorageFactoryName(const ::testing::TestParamInfo<GuardedStorageFactory>& info);

class FileBackedWriterGuardTest : public ::testing::TestWithParam<GuardedStorageFactory> {
 protected:
  static constexpr absl::Duration kLeaseTtl = absl::Seconds(60);

  void SetUp() override;

  // A new metastore instance on the shared storage, with the fake clock.
  std::unique_ptr<Metastore> Open(const std::string& node_id,
                                  std::optional<absl::Duration> polling_interval = std::nullopt);
  void Advance(absl::Duration duration);

  std::shared_ptr<storage::Storage> storage_;
  std::atomic<int64_t> now_secs_{1'700'000'000};
};

}  // namespace shale::metastore::testing
