// Conformance suite for Storage implementations: every implementation must pass it.
// Usage in a test binary that links shale_storage_testing:
//
//   INSTANTIATE_TEST_SUITE_P(Ram, StorageConformanceTest,
//                            ::testing::Values(StorageFactory{"ram", [] { ... }}),
//                            StorageFactoryName);
//
// Each test calls the factory once and expects a fresh, empty storage. A factory that returns
// an Unimplemented status skips the test with that message (e.g. a test server is missing).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "storage/storage.h"

namespace shale::storage::testing {

struct StorageFactory {
  std::string name;  // used in test names: letters, digits and '_' only
  std::function<absl::StatusOr<std::unique_ptr<Storage>>()> make;
  // false skips ConcurrentPutsOfOneFileAreAtomic: only for test servers known not to replace
  // objects atomically (s3rver writes in place; real S3 is atomic).
  bool atomic_overwrites = true;
};

// Prints the factory's name in test failure messages.
void PrintTo(const StorageFactory& factory, std::ostream* os);

// Names instantiations after StorageFactory::name.
std::string StorageFactoryName(const ::testing::TestParamInfo<StorageFactory>& info);

class StorageConformanceTest : public ::testing::TestWithParam<StorageFactory> {
 protected:
  void SetUp() override;

  std::unique_ptr<Storage> storage_;
};

}  // namespace shale::storage::testing
