// absl::Status <-> grpc::Status keeps code, message and payloads.
#include "proto/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace shale::proto {
namespace {

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, EveryCanonicalCodeAndMessageRoundTrips) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code),
                              "index `logs` not found " + std::to_string(code));
    const grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_EQ(wire.error_message(), status.message());
    EXPECT_EQ(FromGrpcStatus(wire), status);
  }
}

TEST(GrpcStatusTest, PayloadsRoundTrip) {
  absl::Status status = absl::FailedPreconditionError("another writer holds the lease");
  status.SetPayload("shale.metastore/writer-conflict", absl::Cord("1"));
  status.SetPayload("other", absl::Cord(std::string("\0binary", 7)));
  const absl::Status back = FromGrpcStatus(ToGrpcStatus(status));
  EXPECT_EQ(back, status);
  ASSERT_TRUE(back.GetPayload("other").has_value());
  EXPECT_EQ(std::string(*back.GetPayload("other")), std::string("\0binary", 7));
}

TEST(GrpcStatusTest, ForeignErrorDetailsAreIgnored) {
  const absl::Status status =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::INTERNAL, "strange", "not a proto"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "strange");
}

}  // namespace
}  // namespace shale::proto
