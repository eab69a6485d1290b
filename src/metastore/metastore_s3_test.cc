// The file-backed metastore on S3 (s3rver on 127.0.0.1, storage/testing/s3rver.h): the
// metastore conformance suite and the single-writer guard tests, through the same
// retrying(counting(S3)) storage the node's resolver builds. Skipped without s3rver.
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "metastore/metastore.h"
#include "metastore/testing/metastore_conformance.h"
#include "metastore/testing/writer_guard_tests.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"
#include "storage/testing/s3rver.h"

// Linked with the storage test library for s3rver; its storage suite runs in storage_s3_test.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StorageConformanceTest);

namespace shale::metastore {
namespace {

using storage::testing::S3rver;
using testing::FileBackedWriterGuardTest;
using testing::GuardedStorageFactory;
using testing::MetastoreBackend;
using testing::MetastoreConformanceTest;
using testing::MetastoreFactory;

const S3rver* const kS3rver = storage::testing::RegisterS3rverEnvironment();

// A fresh root in the s3rver bucket, behind the resolver's decorators.
absl::StatusOr<std::shared_ptr<storage::Storage>> MakeS3Storage() {
  if (!S3rver::instance()->skip_reason().empty()) {
    return absl::UnimplementedError(S3rver::instance()->skip_reason());
  }
  std::unique_ptr<storage::StorageResolver> resolver =
      storage::NewStorageResolver(S3rver::instance()->Options());
  return resolver->Resolve(S3rver::instance()->NewRootUri());
}

class S3Backend final : public MetastoreBackend {
 public:
  explicit S3Backend(std::shared_ptr<storage::Storage> storage) : storage_(std::move(storage)) {}
  absl::StatusOr<std::unique_ptr<Metastore>> Open() override {
    return NewFileBackedMetastore(storage_);
  }

 private:
  std::shared_ptr<storage::Storage> storage_;
};

absl::StatusOr<std::unique_ptr<MetastoreBackend>> MakeS3Backend() {
  absl::StatusOr<std::shared_ptr<storage::Storage>> storage = MakeS3Storage();
  if (!storage.ok()) {
    return storage.status();
  }
  return std::unique_ptr<MetastoreBackend>(std::make_unique<S3Backend>(*std::move(storage)));
}

INSTANTIATE_TEST_SUITE_P(S3, MetastoreConformanceTest,
                         ::testing::Values(MetastoreFactory{"s3", MakeS3Backend}),
                         testing::MetastoreFactoryName);

INSTANTIATE_TEST_SUITE_P(S3, FileBackedWriterGuardTest,
                         ::testing::Values(GuardedStorageFactory{"s3", MakeS3Storage}),
                         testing::GuardedStorageFactoryName);

}  // namespace
}  // namespace shale::metastore
