#include "proto/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

#include "proto/status.pb.h"

namespace shale::proto {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  StatusDetails details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    (*details.mutable_payloads())[std::string(type_url)] = std::string(payload);
  });
  const auto code = static_cast<grpc::StatusCode>(static_cast<int>(status.code()));
  const std::string message(status.message());
  if (details.payloads().empty()) return grpc::Status(code, message);
  return grpc::Status(code, message, details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // Both enumerations are the canonical codes 1..16; anything else is unknown.
  const absl::StatusCode absl_code =
      code > 0 && code <= static_cast<int>(absl::StatusCode::kUnauthenticated)
          ? static_cast<absl::StatusCode>(code)
          : absl::StatusCode::kUnknown;
  absl::Status result(absl_code, status.error_message());
  if (!status.error_details().empty()) {
    StatusDetails details;
    if (details.ParseFromString(status.error_details())) {
      for (const auto& [type_url, payload] : details.payloads()) {
        result.SetPayload(type_url, absl::Cord(payload));
      }
    }
  }
  return result;
}

}  // namespace shale::proto
