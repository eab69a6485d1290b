// ForwardingMetastore (tests only): forwards every call to another metastore, so that a test can
// override the few calls it wants to fail or to observe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "metastore/metastore.h"

namespace shale::metastore::testing {

class ForwardingMetastore : public Metastore {
 public:
  // Does not take ownership; `inner` must outlive this metastore.
  explicit ForwardingMetastore(Metastore* inner) : inner_(inner) {}

  absl::StatusOr<IndexMetadata> CreateIndex(const config::IndexConfig& config) override {
    return inner_->CreateIndex(config);
  }
  absl::StatusOr<IndexMetadata> GetIndexMetadata(const std::string& index_id) override {
    return inner_->GetIndexMetadata(index_id);
  }
  absl::StatusOr<std::vector<IndexMetadata>> ListIndexes() override {
    return inner_->ListIndexes();
  }
  absl::Status DeleteIndex(const std::string& index_uid) override {
    return inner_->DeleteIndex(index_uid);
  }
  absl::Status StageSplits(const std::string& index_uid,
                           const std::vector<SplitMetadata>& splits) override {
    return inner_->StageSplits(index_uid, splits);
  }
  absl::Status PublishSplits(const std::string& index_uid,
                             const std::vector<std::string>& staged_split_ids,
                             const std::vector<std::string>& replaced_split_ids,
                             const std::optional<CheckpointDelta>& checkpoint_delta) override {
    return inner_->PublishSplits(index_uid, staged_split_ids, replaced_split_ids, checkpoint_delta);
  }
  absl::StatusOr<std::vector<Split>> ListSplits(const ListSplitsQuery& query) override {
    return inner_->ListSplits(query);
  }
  absl::Status MarkSplitsForDeletion(const std::string& index_uid,
                                     const std::vector<std::string>& split_ids) override {
    return inner_->MarkSplitsForDeletion(index_uid, split_ids);
  }
  absl::Status DeleteSplits(const std::string& index_uid,
                            const std::vector<std::string>& split_ids) override {
    return inner_->DeleteSplits(index_uid, split_ids);
  }
  absl::Status AddSource(const std::string& index_uid,
                         const config::SourceConfig& source) override {
    return inner_->AddSource(index_uid, source);
  }
  absl::Status UpdateSource(const std::string& index_uid,
                            const config::SourceConfig& source) override {
    return inner_->UpdateSource(index_uid, source);
  }
  absl::Status ToggleSource(const std::string& index_uid, const std::string& source_id,
                            bool enable) override {
    return inner_->ToggleSource(index_uid, source_id, enable);
  }
  absl::Status DeleteSource(const std::string& index_uid, const std::string& source_id) override {
    return inner_->DeleteSource(index_uid, source_id);
  }
  absl::Status ResetSourceCheckpoint(const std::string& index_uid,
                                     const std::string& source_id) override {
    return inner_->ResetSourceCheckpoint(index_uid, source_id);
  }

 protected:
  Metastore* inner() { return inner_; }

 private:
  Metastore* inner_;
};

}  // namespace shale::metastore::testing
