// What every gRPC client of the cluster (metastore, indexing, leaf search) sets up the same way:
// the channel's message size bound and the error a failed call returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/status.h"

namespace shale::proto {

// Channel arguments bounding the messages sent and received to `max_message_bytes`
// (`grpc.max_message_size`), clamped to gRPC's int range.
grpc::ChannelArguments MessageSizeArguments(int64_t max_message_bytes);

// The deadline of a call started now that may last `timeout`.
inline std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

// The error of a call to `peer` ("indexer n1 at host:port") that failed with `status`: the
// remote service's own error unchanged (FromGrpcStatus); a transport error (Unavailable, or
// DeadlineExceeded after `timeout`) keeps its code and payloads, its message naming the peer
// and the method: "<peer> (<method>): <gRPC message | no answer within <timeout>>".
absl::Status ClientCallError(const grpc::Status& status, std::string_view peer,
                             std::string_view method, absl::Duration timeout);

}  // namespace shale::proto
