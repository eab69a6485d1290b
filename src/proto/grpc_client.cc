#include "proto/grpc_client.h"

#include <algorithm>
#include <climits>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"

#include "proto/grpc_status.h"

namespace shale::proto {

grpc::ChannelArguments MessageSizeArguments(int64_t max_message_bytes) {
  const int bytes = static_cast<int>(std::clamp<int64_t>(max_message_bytes, 1, INT_MAX));
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(bytes);
  arguments.SetMaxSendMessageSize(bytes);
  return arguments;
}

absl::Status ClientCallError(const grpc::Status& status, std::string_view peer,
                             std::string_view method, absl::Duration timeout) {
  const absl::Status error = FromGrpcStatus(status);
  const bool timed_out = error.code() == absl::StatusCode::kDeadlineExceeded;
  if (!timed_out && error.code() != absl::StatusCode::kUnavailable) return error;
  absl::Status with_context(
      error.code(),
      fmt::format("{} ({}): {}", peer, method,
                  timed_out ? fmt::format("no answer within {}", absl::FormatDuration(timeout))
                            : std::string(error.message())));
  error.ForEachPayload([&with_context](absl::string_view type_url, const absl::Cord& payload) {
    with_context.SetPayload(type_url, payload);
  });
  return with_context;
}

}  // namespace shale::proto
