// FlakyMetastore (tests only): forwards every call to a real metastore, except that
// PublishSplits fails with Unavailable while `publish_failures` is positive (each failure
// decrements it). Used to test the retries of the indexing pipelines.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "metastore/metastore.h"

namespace shale::metastore::testing {

class FlakyMetastore : public Metastore {
 public:
  explicit FlakyMetastore(Metastore* inner) : inner_(inner) {}
  std::atomic<int> publish_failures{0};

  absl::StatusOr<IndexMetadata> CreateIndex(const config::IndexConfig& c) override {
    return inner_->CreateIndex(c);
  }
  absl::StatusOr<IndexMetadata> GetIndexMetadata(const std::string& id) override {
    return inner_->GetIndexMetadata(id);
  }
  absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() override {
    return inner_->ListIndexes();
  }
  absl::Status DeleteIndex(const std::string& uid) override { return inner_->DeleteIndex(uid); }
  absl::Status StageSplits(const std::string& uid,
                           const std::vector<SplitMetadata>& splits) override {
    return inner_->StageSplits(uid, splits);
  }
  absl::Status PublishSplits(const std::string& uid, const std::vector<std::string>& staged,
                             const std::vector<std::string>& replaced,
                             const std::optional<CheckpointDelta>& delta) override {
    if (publish_failures.fetch_sub(1) > 0) return absl::UnavailableError("metastore is down");
    return inner_->PublishSplits(uid, staged, replaced, delta);
  }
  absl::StatusOr<std::vector<Split>> ListSplits(const ListSplitsQuery& query) override {
    return inner_->ListSplits(query);
  }
  absl::Status MarkSplitsForDeletion(const std::string& uid,
                                     const std::vector<std::string>& ids) override {
    return inner_->MarkSplitsForDeletion(uid, ids);
  }
  absl::Status DeleteSplits(const std::string& uid, const std::vector<std::string>& ids) override {
    return inner_->DeleteSplits(uid, ids);
  }
  absl::Status AddSource(const std::string& uid, const config::SourceConfig& source) override {
    return inner_->AddSource(uid, source);
  }
  absl::Status UpdateSource(const std::string& uid, const config::SourceConfig& source) override {
    return inner_->UpdateSource(uid, source);
  }
  absl::Status ToggleSource(const std::string& uid, const std::string& id, bool enable) override {
    return inner_->ToggleSource(uid, id, enable);
  }
  absl::Status DeleteSource(const std::string& uid, const std::string& id) override {
    return inner_->DeleteSource(uid, id);
  }
  absl::Status ResetSourceCheckpoint(const std::string& uid, const std::string& id) override {
    return inner_->ResetSourceCheckpoint(uid, id);
  }

 private:
  Metastore* inner_;
};

}  // namespace shale::metastore::testing
