#include "server/node.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"
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

  std::unique_ptr<storage::StorageResolver> storage_resolver = storage::NewStorageResolver();
  ASSIGN_OR_RETURN(std::unique_ptr<metastore::Metastore> metastore,
                   OpenMetastore(config, *storage_resolver));

  std::unique_ptr<indexing::IngestService> ingest;
  if (config.IsServiceEnabled("indexer")) {
    indexing::IngestServiceOptions options;
    options.node_id = config.node_id;
    ingest = std::make_unique<indexing::IngestService>(metastore.get(), storage_resolver.get(),
                                                       options);
    ingest->Start();
  }
  std::unique_ptr<search::SearchService> search;
  if (config.IsServiceEnabled("searcher")) {
    search::SearchServiceOptions options;
    options.num_leaf_threads =
        static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
    options.max_num_concurrent_split_searches = config.searcher.max_num_concurrent_split_searches;
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
