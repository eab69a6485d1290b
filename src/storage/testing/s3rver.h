// S3rver (tests only): a local S3-compatible server (the npm package s3rver, installed in
// tests/s3 by tools/install_deps.sh) started once per test binary on a free port of 127.0.0.1,
// with the bucket `test-bucket`. A test binary registers it with RegisterS3rverEnvironment();
// when s3rver is not installed, skip_reason() says so and tests skip (SHALE_SKIP_WITHOUT_S3RVER).
// s3rver 3.7.1 limits: it checks access key ids but not SigV4 signatures, it writes objects in
// place (concurrent overwrites of one key are not atomic), it ignores conditional-write headers,
// and its continuation tokens use DES, which Node 20 only offers with --openssl-legacy-provider
// (set here).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "common/uri.h"
#include "storage/storage.h"

namespace shale::storage::testing {

inline constexpr char kS3rverBucket[] = "test-bucket";

class S3rver : public ::testing::Environment {
 public:
  // The environment registered by RegisterS3rverEnvironment(); null before.
  static S3rver* instance();

  void SetUp() override;
  void TearDown() override;

  // Non-empty when the server could not be started (tests then skip).
  const std::string& skip_reason() const { return skip_reason_; }
  // Options reaching this server (path-style, its fixed credentials).
  S3Options Options() const;
  // A fresh root, s3://test-bucket/<ulid>.
  Uri NewRootUri() const;
  // A fresh, empty storage rooted at NewRootUri(); Unimplemented (skip) without the server.
  absl::StatusOr<std::unique_ptr<Storage>> NewStorage(const S3Options& options) const;

 private:
  std::string skip_reason_;
  std::filesystem::path directory_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// Creates the shared S3rver and registers it as a global test environment (gtest owns it).
// Call once per test binary, from a namespace-scope initializer.
S3rver* RegisterS3rverEnvironment();

}  // namespace shale::storage::testing

#define SHALE_SKIP_WITHOUT_S3RVER()                                               \
  if (!::shale::storage::testing::S3rver::instance()->skip_reason().empty()) {    \
    GTEST_SKIP() << ::shale::storage::testing::S3rver::instance()->skip_reason(); \
  }
