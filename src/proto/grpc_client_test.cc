// ClientCallError: remote errors pass unchanged, transport errors name the peer and the method.
#include "proto/grpc_client.h"

#include <string>

#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "proto/grpc_status.h"

namespace shale::proto {
namespace {

using ::testing::HasSubstr;

TEST(GrpcClientTest, RemoteErrorsComeBackUnchanged) {
  const absl::Status remote = absl::NotFoundError("index `logs` not found");
  const absl::Status error =
      ClientCallError(ToGrpcStatus(remote), "indexer n1 at 127.0.0.1:1", "Ingest", absl::Seconds(1));
  EXPECT_EQ(error, remote);
}

TEST(GrpcClientTest, UnavailableNamesPeerAndMethodAndKeepsPayloads) {
  absl::Status remote = absl::UnavailableError("connection refused");
  remote.SetPayload("type.shale/retry", absl::Cord("yes"));
  const absl::Status error = ClientCallError(ToGrpcStatus(remote), "indexer n1 at 127.0.0.1:1",
                                             "Ingest", absl::Seconds(1));
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(error.message(), "indexer n1 at 127.0.0.1:1 (Ingest): connection refused");
  ASSERT_TRUE(error.GetPayload("type.shale/retry").has_value());
  EXPECT_EQ(std::string(*error.GetPayload("type.shale/retry")), "yes");
}

TEST(GrpcClientTest, DeadlineExceededSaysHowLongItWaited) {
  const absl::Status error =
      ClientCallError(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                      "metastore service at 127.0.0.1:2", "ListSplits", absl::Seconds(3));
  EXPECT_EQ(error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(error.message()),
              HasSubstr("metastore service at 127.0.0.1:2 (ListSplits): no answer within 3s"));
}

}  // namespace
}  // namespace shale::proto
