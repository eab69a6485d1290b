// The metastore over gRPC: the conformance suite through an in-process gRPC server on loopback,
// plus what only a remote metastore has: errors kept whole, deadlines, a server that goes away
// and comes back, a metastore service that moves.
#include "metastore/grpc_metastore.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "common/ulid.h"
#include "common/uri.h"
#include "metastore/internal/writer_guard.h"
#include "metastore/testing/forwarding_metastore.h"
#include "metastore/testing/metastore_conformance.h"
#include "proto/testing/test_grpc_server.h"
#include "storage/storage.h"

namespace shale::metastore {
namespace {

using testing::MetastoreBackend;
using testing::MetastoreConformanceTest;
using testing::MetastoreFactory;
using testing::TestIndexConfig;
using ::testing::HasSubstr;

std::unique_ptr<Metastore> NewRamFileBackedMetastore() {
  auto storage = std::shared_ptr<storage::Storage>(storage::NewRamStorage(
      Uri::Parse(fmt::format("ram:///grpc-metastore/{}", NewUlid())).value()));
  return NewFileBackedMetastore(std::move(storage)).value();
}

// The service a TestServer serves (a base initialized before, destroyed after, the server).
struct MetastoreServiceHolder {
  explicit MetastoreServiceHolder(Metastore* metastore) : service(metastore) {}
  MetastoreGrpcService service;
};

// A gRPC server on 127.0.0.1 serving `metastore` (port 0: any free port).
class TestServer : private MetastoreServiceHolder,
                   public ::shale::proto::testing::TestGrpcServer {
 public:
  explicit TestServer(Metastore* metastore, int port = 0)
      : MetastoreServiceHolder(metastore), TestGrpcServer(&service, port) {}
};

GrpcMetastoreOptions FixedAddress(std::string address) {
  GrpcMetastoreOptions options;
  options.resolve_address = [address = std::move(address)]() -> absl::StatusOr<std::string> {
    return address;
  };
  options.call_timeout = absl::Seconds(10);
  return options;
}

// One file-backed metastore on RAM storage served over gRPC; each Open() is a new client.
class GrpcBackend final : public MetastoreBackend {
 public:
  GrpcBackend() : metastore_(NewRamFileBackedMetastore()), server_(metastore_.get()) {}
  absl::StatusOr<std::unique_ptr<Metastore>> Open() override {
    if (!server_.ok()) return absl::InternalError("the test gRPC server did not start");
    return NewGrpcMetastore(FixedAddress(server_.address()));
  }

 private:
  std::unique_ptr<Metastore> metastore_;
  TestServer server_;
};

absl::StatusOr<std::unique_ptr<MetastoreBackend>> MakeGrpcBackend() {
  return std::unique_ptr<MetastoreBackend>(std::make_unique<GrpcBackend>());
}

INSTANTIATE_TEST_SUITE_P(Grpc, MetastoreConformanceTest,
                         ::testing::Values(MetastoreFactory{"grpc_ram_storage", MakeGrpcBackend}),
                         testing::MetastoreFactoryName);

TEST(GrpcMetastoreTest, ErrorsKeepTheirCodeAndMessage) {
  std::unique_ptr<Metastore> local = NewRamFileBackedMetastore();
  TestServer server(local.get());
  ASSERT_TRUE(server.ok());
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(FixedAddress(server.address()));

  const absl::Status direct = local->GetIndexMetadata("missing-index").status();
  const absl::Status through_grpc = remote->GetIndexMetadata("missing-index").status();
  EXPECT_EQ(direct.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(through_grpc, direct);

  ASSERT_TRUE(remote->CreateIndex(TestIndexConfig("logs-a")).ok());
  const absl::Status exists = remote->CreateIndex(TestIndexConfig("logs-a")).status();
  EXPECT_EQ(exists.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(exists.message(), HasSubstr("logs-a"));

  // Invalid input is refused by the server's own validation, not lost in transit.
  config::IndexConfig bad = TestIndexConfig("x");
  const absl::Status invalid = remote->CreateIndex(bad).status();
  EXPECT_EQ(invalid.code(), absl::StatusCode::kInvalidArgument) << invalid;
}

// Fails every write with a writer conflict, as a file-backed metastore whose lease another node
// holds does.
class ConflictingMetastore final : public testing::ForwardingMetastore {
 public:
  using ForwardingMetastore::ForwardingMetastore;
  absl::Status DeleteIndex(const std::string& index_uid) override {
    return internal::WriterConflictError(fmt::format("index {} is written by another node",
                                                     index_uid));
  }
};

TEST(GrpcMetastoreTest, WriterConflictsStayRecognizable) {
  std::unique_ptr<Metastore> local = NewRamFileBackedMetastore();
  ConflictingMetastore conflicting(local.get());
  TestServer server(&conflicting);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(FixedAddress(server.address()));
  const absl::Status status = remote->DeleteIndex("logs:01H");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsWriterConflict(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("written by another node"));
}

// Answers ListIndexes only once `release` is notified (or after a minute, never in a passing
// test): the answer can never arrive before the client's deadline, however loaded the machine.
// A fixed sleep could (a descheduled client may see the late answer before its timer fires).
class StuckMetastore final : public testing::ForwardingMetastore {
 public:
  using ForwardingMetastore::ForwardingMetastore;
  absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() override {
    release.WaitForNotificationWithTimeout(absl::Minutes(1));
    return ForwardingMetastore::ListIndexes();
  }
  absl::Notification release;
};

TEST(GrpcMetastoreTest, CallsPastTheirDeadlineFailNamingTheMethod) {
  std::unique_ptr<Metastore> local = NewRamFileBackedMetastore();
  StuckMetastore stuck(local.get());
  TestServer server(&stuck);
  ASSERT_TRUE(server.ok());
  GrpcMetastoreOptions options = FixedAddress(server.address());
  options.call_timeout = absl::Milliseconds(200);
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(std::move(options));
  const absl::Status status = remote->ListIndexes().status();
  stuck.release.Notify();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("ListIndexesMetadata"));
  EXPECT_THAT(status.message(), HasSubstr(server.address()));
}

TEST(GrpcMetastoreTest, UnreachableServerIsUnavailableThenRecoversWhenItComesBack) {
  std::unique_ptr<Metastore> local = NewRamFileBackedMetastore();
  auto server = std::make_unique<TestServer>(local.get());
  ASSERT_TRUE(server->ok());
  const int port = server->port();
  const std::string address = server->address();
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(FixedAddress(address));
  ASSERT_TRUE(remote->CreateIndex(TestIndexConfig("logs-before")).ok());

  server->Stop();
  const absl::Status down = remote->ListIndexes().status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_THAT(down.message(), HasSubstr(address));
  EXPECT_THAT(down.message(), HasSubstr("ListIndexesMetadata"));

  // The metastore node restarts on the same port: the client reconnects by itself.
  server = std::make_unique<TestServer>(local.get(), port);
  ASSERT_TRUE(server->ok()) << "port " << port << " was taken meanwhile";
  absl::StatusOr<std::vector<IndexMetadata>> indexes;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    indexes = remote->ListIndexes();
    if (indexes.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < give_up);
  ASSERT_TRUE(indexes.ok()) << indexes.status();
  ASSERT_EQ(indexes->size(), 1u);
  EXPECT_EQ(indexes->front().index_id(), "logs-before");
}

TEST(GrpcMetastoreTest, FollowsTheMetastoreServiceToAnotherNode) {
  std::unique_ptr<Metastore> local = NewRamFileBackedMetastore();
  auto first = std::make_unique<TestServer>(local.get());
  ASSERT_TRUE(first->ok());
  absl::Mutex mu;
  std::string current = first->address();
  int resolutions = 0;
  GrpcMetastoreOptions options;
  options.resolve_address = [&]() -> absl::StatusOr<std::string> {
    absl::MutexLock lock(&mu);
    ++resolutions;
    if (current.empty()) return absl::UnavailableError("no node runs the metastore service");
    return current;
  };
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(std::move(options));
  ASSERT_TRUE(remote->CreateIndex(TestIndexConfig("logs-moved")).ok());
  ASSERT_TRUE(remote->ListIndexes().ok());
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(resolutions, 1) << "a working connection is not resolved again";
    current.clear();
  }
  first->Stop();
  EXPECT_EQ(remote->ListIndexes().status().code(), absl::StatusCode::kUnavailable);

  TestServer second(local.get());
  ASSERT_TRUE(second.ok());
  {
    absl::MutexLock lock(&mu);
    current = second.address();
  }
  absl::StatusOr<IndexMetadata> metadata = remote->GetIndexMetadata("logs-moved");
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(metadata->index_id(), "logs-moved");
}

TEST(GrpcMetastoreTest, NoMetastoreNodeIsUnavailable) {
  GrpcMetastoreOptions options;
  options.resolve_address = []() -> absl::StatusOr<std::string> {
    return absl::UnavailableError("no live node of the cluster runs the metastore service");
  };
  std::unique_ptr<Metastore> remote = NewGrpcMetastore(std::move(options));
  const absl::Status status = remote->ListIndexes().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("runs the metastore service"));
}

}  // namespace

namespace testing {
// The single-writer tests are about the file-backed metastore's storage, which a gRPC client
// never touches: the server's file-backed metastore runs them in metastore_test.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FileBackedWriterGuardTest);
}  // namespace testing

}  // namespace shale::metastore
