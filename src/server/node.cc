#include "server/node.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include <signal.h>

#include "fmt/format.h"

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "indexing/ingest_service.h"
#include "metastore/metastore.h"
#include "search/search_service.h"
#include "server/http_server.h"
#include "server/rest_api.h"
#include "storage/storage.h"

namespace shale::server {
namespace {

absl::StatusOr<std::unique_ptr<metastore::Metastore>> OpenMetastore(
    const config::NodeConfig& config, storage::StorageResolver& resolver) {
  ASSIGN_OR_RETURN(Uri uri, Uri::Parse(config.metastore_uri));
  if (uri.protocol() == Uri::Protocol::kPostgres) {
    return absl::UnimplementedError(
        fmt::format("metastore_uri `{}`: the postgresql metastore is not available yet",
                    config.metastore_uri));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage, resolver.Resolve(uri));
  return metastore::NewFileBackedMetastore(std::move(storage));
}

storage::S3Options S3OptionsFromConfig(const config::S3StorageConfig& s3) {
  storage::S3Options options;
  options.endpoint = s3.endpoint.value_or("");
  options.region = s3.region.value_or("");
  options.force_path_style_access = s3.force_path_style_access;
  options.access_key_id = s3.access_key_id.value_or("");
  options.secret_access_key = s3.secret_access_key.value_or("");
  return options;
}

}  // namespace

absl::Status RunNode(const config::NodeConfig& config) {
  // Block the termination signals in every thread; this thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create data_dir `{}`: {}", config.data_dir, error.message()));
  }

  std::unique_ptr<storage::StorageResolver> storage_resolver =
      storage::NewStorageResolver(S3OptionsFromConfig(config.s3));
  ASSIGN_OR_RETURN(std::unique_ptr<metastore::Metastore> metastore,
                   OpenMetastore(config, *storage_resolver));

  std::unique_ptr<indexing::IngestService> ingest;
  if (config.IsServiceEnabled("indexer")) {
    indexing::IngestServiceOptions options;
    options.node_id = config.node_id;
    options.wal_root = (std::filesystem::path(config.data_dir) / "wal").string();
    options.max_wal_disk_usage_bytes = config.ingest_api.max_queue_disk_usage;
    ingest = std::make_unique<indexing::IngestService>(metastore.get(), storage_resolver.get(),
                                                       options);
    // Replays and commits what the WAL holds beyond the published checkpoints before the node
    // is ready, so a restart makes every acknowledged document searchable without waiting.
    RETURN_IF_ERROR(ingest->Recover());
    ingest->Start();
  }
  std::unique_ptr<search::SearchService> search;
  if (config.IsServiceEnabled("searcher")) {
    search::SearchServiceOptions options;
    options.num_leaf_threads =
        static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
    options.max_num_concurrent_split_searches = config.searcher.max_num_concurrent_split_searches;
    options.aggregation_memory_limit_bytes = config.searcher.aggregation_memory_limit;
    search = std::make_unique<search::SearchService>(metastore.get(), storage_resolver.get(),
                                                     options);
  }

  std::atomic<bool> ready{false};
  NodeServices services;
  services.config = &config;
  services.metastore = metastore.get();
  services.storage_resolver = storage_resolver.get();
  services.ingest = ingest.get();
  services.search = search.get();
  services.ready = &ready;
  RestApi rest_api(services);

  // Handlers may block (commit=wait_for, searches), so the worker pool is larger than the core
  // count; the network threads never block.
  ThreadPool rest_workers("rest", 32);
  HttpServerOptions http_options;
  http_options.listen_address = config.listen_address;
  http_options.port = config.rest_listen_port;
  http_options.num_io_threads = 2;
  http_options.body_limit_bytes = config.ingest_api.content_length_limit;
  HttpServer http_server(
      http_options, [&rest_api](HttpRequest& request) { return rest_api.Handle(request); },
      &rest_workers);
  RETURN_IF_ERROR(http_server.Start());
  ready = true;
  SHALE_LOG_INFO("node ready node_id={} rest=http://{}:{} metastore_uri={} data_dir={}",
                 config.node_id, config.listen_address, http_server.port(), config.metastore_uri,
                 config.data_dir);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  SHALE_LOG_INFO("node stopping signal={}", signal_number);
  ready = false;
  http_server.Stop();
  rest_workers.Stop();
  if (ingest != nullptr) ingest->Stop();
  if (search != nullptr) search->Stop();
  SHALE_LOG_INFO("node stopped node_id={}", config.node_id);
  return absl::OkStatus();
}

}  // namespace shale::server
