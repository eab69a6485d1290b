// FlakyMetastore (tests only): forwards every call to a real metastore, except that
// PublishSplits fails with Unavailable while `publish_failures` is positive (each failure
// decrements it). Used to test the retries of the indexing pipelines.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "metastore/testing/forwarding_metastore.h"

namespace shale::metastore::testing {

class FlakyMetastore : public ForwardingMetastore {
 public:
  using ForwardingMetastore::ForwardingMetastore;
  std::atomic<int> publish_failures{0};

  absl::Status PublishSplits(const std::string& uid, const std::vector<std::string>& staged,
                             const std::vector<std::string>& replaced,
                             const std::optional<CheckpointDelta>& delta) override {
    if (publish_failures.fetch_sub(1) > 0) return absl::UnavailableError("metastore is down");
    return ForwardingMetastore::PublishSplits(uid, staged, replaced, delta);
  }
};

}  // namespace shale::metastore::testing
