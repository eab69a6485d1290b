#include "indexing/source_service.h"

#include <utility>

#include "common/logging.h"
#include "common/status_macros.h"
#include "config/index_config.h"

namespace shale::indexing {

SourceService::SourceService(metastore::Metastore* metastore,
                             storage::StorageResolver* storage_resolver,
                             SourcePipelineOptions options)
    : metastore_(metastore), storage_resolver_(storage_resolver), options_(std::move(options)) {}

SourceService::~SourceService() { Stop(); }

absl::Status SourceService::Start() {
  ASSIGN_OR_RETURN(std::vector<metastore::IndexMetadata> indexes, metastore_->ListIndexes());
  for (const metastore::IndexMetadata& metadata : indexes) {
    absl::Status status = SyncIndex(metadata.index_id());
    if (!status.ok()) {
      SHALE_LOG_ERROR("source pipelines not started index_id={} error={}", metadata.index_id(),
                      status.ToString());
    }
  }
  return absl::OkStatus();
}

void SourceService::Stop() {
  std::lock_guard<std::mutex> ops_lock(ops_mu_);
  stopped_ = true;
  StopMatchingLocked([](const Key&, const SourcePipeline&) { return true; });
}

template <typename Predicate>
void SourceService::StopMatchingLocked(Predicate&& predicate) {
  std::vector<std::unique_ptr<SourcePipeline>> stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = pipelines_.begin(); it != pipelines_.end();) {
      if (predicate(it->first, *it->second)) {
        stopping.push_back(std::move(it->second));
        it = pipelines_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Outside mu_: a stop waits for a commit in progress, Stats must not.
  for (std::unique_ptr<SourcePipeline>& pipeline : stopping) pipeline->Stop();
}

absl::Status SourceService::SyncIndex(const std::string& index_id) {
  std::lock_guard<std::mutex> ops_lock(ops_mu_);
  if (stopped_) return absl::OkStatus();
  auto metadata = metastore_->GetIndexMetadata(index_id);
  if (absl::IsNotFound(metadata.status())) {
    StopMatchingLocked(
        [&](const Key& key, const SourcePipeline&) { return key.first == index_id; });
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(metadata.status());
  std::map<std::string, const config::SourceConfig*> wanted;
  for (const auto& [source_id, source] : metadata->sources) {
    if (source.enabled && IsPipelineSourceType(source.source_type)) wanted[source_id] = &source;
  }
  StopMatchingLocked([&](const Key& key, const SourcePipeline& pipeline) {
    if (key.first != index_id) return false;
    auto it = wanted.find(key.second);
    return it == wanted.end() || pipeline.index_uid() != metadata->index_uid ||
           pipeline.Stats().state == SourcePipelineState::kStopped ||
           config::SourceConfigToJson(pipeline.source_config()) !=
               config::SourceConfigToJson(*it->second);
  });
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [source_id, source] : wanted) {
    auto& slot = pipelines_[Key(index_id, source_id)];
    if (slot != nullptr) continue;
    slot = std::make_unique<SourcePipeline>(metastore_, storage_resolver_, index_id,
                                            metadata->index_uid, *source, options_);
    slot->Start();
  }
  return absl::OkStatus();
}

void SourceService::StopSource(const std::string& index_id, const std::string& source_id) {
  std::lock_guard<std::mutex> ops_lock(ops_mu_);
  StopMatchingLocked([&](const Key& key, const SourcePipeline&) {
    return key.first == index_id && key.second == source_id;
  });
}

void SourceService::StopIndex(const std::string& index_id) {
  std::lock_guard<std::mutex> ops_lock(ops_mu_);
  StopMatchingLocked([&](const Key& key, const SourcePipeline&) { return key.first == index_id; });
}

std::vector<SourcePipelineStats> SourceService::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SourcePipelineStats> stats;
  stats.reserve(pipelines_.size());
  for (const auto& [key, pipeline] : pipelines_) stats.push_back(pipeline->Stats());
  return stats;
}

}  // namespace shale::indexing
