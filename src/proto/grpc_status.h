// Conversions between absl::Status (our errors) and grpc::Status (the wire), used by every gRPC
// service and client so that an error keeps its meaning through a call: absl and gRPC share the
// canonical codes (NotFound stays NotFound, so a REST 404 stays a 404), the message is kept as is
// and absl payloads travel in error_details (proto/status.proto).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace shale::proto {

// The code, message and payloads of `status`. OK maps to OK.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Inverse of ToGrpcStatus. Error details that are not a StatusDetails are ignored.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace shale::proto
