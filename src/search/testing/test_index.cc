#include "search/testing/test_index.h"

#include <utility>

#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/ulid.h"
#include "common/uri.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "split/split_store.h"

namespace shale::search::testing {

absl::StatusOr<std::unique_ptr<metastore::Metastore>> NewRamMetastore(
    storage::StorageResolver& resolver) {
  ASSIGN_OR_RETURN(Uri uri, Uri::Parse("ram:///metastore-" + NewUlid()));
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage, resolver.Resolve(uri));
  return metastore::NewFileBackedMetastore(std::move(storage));
}

absl::StatusOr<metastore::IndexMetadata> CreateRamIndex(metastore::Metastore& metastore,
                                                        const std::string& index_config_json) {
  ASSIGN_OR_RETURN(config::IndexConfig config, config::ParseIndexConfigJson(index_config_json));
  config.index_uri = "ram:///indexes-" + NewUlid() + "/" + config.index_id;
  return metastore.CreateIndex(config);
}

absl::StatusOr<RamIndex> NewRamIndex(storage::StorageResolver& resolver,
                                     const std::string& index_config_json) {
  RamIndex index;
  ASSIGN_OR_RETURN(index.metastore, NewRamMetastore(resolver));
  ASSIGN_OR_RETURN(index.metadata, CreateRamIndex(*index.metastore, index_config_json));
  return index;
}

absl::StatusOr<std::string> PublishSplit(storage::StorageResolver& resolver,
                                         metastore::Metastore& metastore,
                                         const metastore::IndexMetadata& index,
                                         const std::vector<std::string>& json_docs) {
  const config::IndexConfig& config = index.index_config;
  ASSIGN_OR_RETURN(Uri uri, Uri::Parse(config.index_uri.value_or("")));
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage, resolver.Resolve(uri));
  ASSIGN_OR_RETURN(std::unique_ptr<index::DocProcessor> processor,
                   index::DocProcessor::Create(config.doc_mapping));
  ASSIGN_OR_RETURN(std::unique_ptr<index::SplitWriter> writer,
                   index::SplitWriter::Create(config.doc_mapping, {}));
  for (const std::string& json : json_docs) {
    ASSIGN_OR_RETURN(index::ProcessedDoc doc, processor->Process(json));
    writer->AddDocument(std::move(doc));
  }
  ASSIGN_OR_RETURN(index::SerializedSplit serialized, writer->Finish());
  metastore::SplitMetadata split;
  split.split_id = NewUlid();
  split.index_uid = index.index_uid;
  split.num_docs = serialized.num_docs;
  split.split_size_bytes = serialized.bytes.size();
  if (serialized.time_range_start_nanos.has_value()) {
    split.time_range_start_secs = FloorDiv(*serialized.time_range_start_nanos, kNanosPerSecond);
    split.time_range_end_secs = FloorDiv(*serialized.time_range_end_nanos, kNanosPerSecond);
  }
  split.footer_start = serialized.footer_start;
  split.footer_end = serialized.footer_end;
  split.tags = serialized.tags;
  RETURN_IF_ERROR(metastore.StageSplits(index.index_uid, {split}));
  RETURN_IF_ERROR(split::UploadSplit(*storage, split.split_id, serialized));
  RETURN_IF_ERROR(metastore.PublishSplits(index.index_uid, {split.split_id}, {}, {}));
  return split.split_id;
}

}  // namespace shale::search::testing
