// Conformance suite for Metastore implementations: every implementation must pass it.
// Usage in a test binary that links shale_metastore_testing:
//
//   INSTANTIATE_TEST_SUITE_P(FileBacked, MetastoreConformanceTest,
//                            ::testing::Values(MetastoreFactory{"ram", MakeRamBackend}),
//                            MetastoreFactoryName);
//
// Each test asks the factory for a fresh, empty backend. A factory that returns an Unimplemented
// status skips the test (e.g. its test server is not installed).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "config/index_config.h"
#include "metastore/metastore.h"

namespace shale::metastore::testing {

// The state behind a metastore (a storage, a database). Each Open() returns a new metastore
// instance over the same state, so tests can check what a restarted process sees.
class MetastoreBackend {
 public:
  virtual ~MetastoreBackend() = default;
  virtual absl::StatusOr<std::unique_ptr<Metastore>> Open() = 0;
};

struct MetastoreFactory {
  std::string name;  // used in test names: letters, digits and '_' only
  std::function<absl::StatusOr<std::unique_ptr<MetastoreBackend>>()> make_backend;
};

// Prints the factory's name in test failure messages.
void PrintTo(const MetastoreFactory& factory, std::ostream* os);

// Names instantiations after MetastoreFactory::name.
std::string MetastoreFactoryName(const ::testing::TestParamInfo<MetastoreFactory>& info);

// A minimal valid index config with id `index_id`.
config::IndexConfig TestIndexConfig(const std::string& index_id);

// A split record for staging: `split_id`, with a time range when both bounds are given.
SplitMetadata TestSplit(const std::string& split_id, std::optional<int64_t> start_secs = {},
                        std::optional<int64_t> end_secs = {});

class MetastoreConformanceTest : public ::testing::TestWithParam<MetastoreFactory> {
 protected:
  void SetUp() override;

  std::unique_ptr<MetastoreBackend> backend_;
  std::unique_ptr<Metastore> metastore_;
};

}  // namespace shale::metastore::testing
