#include "server/node.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <signal.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"

#include "cluster/cluster_grpc_service.h"
#include "cluster/membership.h"
#include "common/crash_point.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "indexing/indexing_grpc.h"
#include "indexing/ingest_service.h"
#include "indexing/merge_service.h"
#include "indexing/source_service.h"
#include "indexing/split_gc.h"
#include "metastore/grpc_metastore.h"
#include "metastore/metastore.h"
#include "search/leaf_grpc.h"
#include "search/search_service.h"
#include "search/searcher_pool.h"
#include "server/deployment.h"
#include "server/grpc_server.h"
#include "server/http_server.h"
#include "server/rest_api.h"
#include "split/disk_split_cache.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"

namespace shale::server {
namespace {

storage::S3Options S3OptionsFromConfig(const config::S3StorageConfig& s3) {
  storage::S3Options options;
  options.endpoint = s3.endpoint.value_or("");
  options.region = s3.region.value_or("");
  options.force_path_style_access = s3.force_path_style_access;
  options.access_key_id = s3.access_key_id.value_or("");
  options.secret_access_key = s3.secret_access_key.value_or("");
  return options;
}

absl::StatusOr<std::unique_ptr<metastore::Metastore>> OpenMetastore(
    const config::NodeConfig& config, storage::StorageResolver& resolver) {
  ASSIGN_OR_RETURN(Uri uri, Uri::Parse(config.metastore_uri));
  if (uri.protocol() == Uri::Protocol::kPostgres) {
    return absl::UnimplementedError(fmt::format(
        "metastore_uri `{}`: the postgresql metastore is not available yet", config.metastore_uri));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<storage::Storage> storage, resolver.Resolve(uri));
  metastore::FileBackedMetastoreOptions options;
  options.node_id = config.node_id;
  if (config.metastore_polling_interval_secs.has_value()) {
    options.polling_interval = absl::Seconds(*config.metastore_polling_interval_secs);
  }
  return metastore::NewFileBackedMetastore(std::move(storage), std::move(options));
}

// TEST ONLY: the storage failure rate of SHALE_TEST_STORAGE_FAILURE_RATE_FILE, re-read at most
// every 100 ms; a missing, empty or invalid file means 0.
class FailureRateFile {
 public:
  explicit FailureRateFile(std::string path) : path_(std::move(path)) {}

  double Get() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - read_at_ >= absl::Milliseconds(100)) {
      read_at_ = now;
      std::ifstream file(path_);
      std::string text;
      std::getline(file, text);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
      }
      const absl::StatusOr<double> rate =
          text.empty() ? absl::StatusOr<double>(0.0) : config::ParseFailureRate(text);
      if (!rate.ok()) {
        SHALE_LOG_ERROR("invalid test storage failure rate file={} error={}", path_,
                        rate.status().ToString());
      }
      rate_ = rate.value_or(0.0);
    }
    return rate_;
  }

 private:
  const std::string path_;
  absl::Mutex mu_;
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  double rate_ ABSL_GUARDED_BY(mu_) = 0;
};

storage::StorageResolverOptions StorageResolverOptionsFromConfig(const config::NodeConfig& config) {
  storage::StorageResolverOptions options;
  options.s3 = S3OptionsFromConfig(config.s3);
  if (!config.test_storage_failure_rate_file.empty()) {
    auto rate_file = std::make_shared<FailureRateFile>(config.test_storage_failure_rate_file);
    options.test_failure_rate = [rate_file] { return rate_file->Get(); };
  } else if (config.test_storage_failure_rate > 0) {
    const double rate = config.test_storage_failure_rate;
    options.test_failure_rate = [rate] { return rate; };
  }
  if (options.test_failure_rate) {
    // At a 20% failure rate, 10 attempts leave one call in 10^7 failing.
    options.retry.max_attempts = 10;
    options.test_failure_seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    SHALE_LOG_WARN(
        "TEST ONLY: storage fault injection is on (never use it in production) rate={} "
        "rate_file={} retry_attempts={}",
        config.test_storage_failure_rate, config.test_storage_failure_rate_file,
        options.retry.max_attempts);
  }
  return options;
}

indexing::MergeServiceOptions MergeOptionsFromConfig(const config::NodeConfig& config) {
  indexing::MergeServiceOptions options;
  options.node_id = config.node_id;
  options.merge_concurrency = config.indexer.merge_concurrency;
  options.scratch_dir = (std::filesystem::path(config.data_dir) / "merges").string();
  return options;
}

// Starts gossiping on gossip_listen_port (UDP) with the node's identity, services and addresses.
// The node publishes itself NOT_READY until its REST server is up.
absl::StatusOr<std::unique_ptr<cluster::ClusterMembership>> StartClusterMembership(
    const config::NodeConfig& config) {
  absl::StatusOr<std::string> advertise_host =
      cluster::ResolveAdvertiseHost(config.advertise_address);
  if (!advertise_host.ok()) {
    return absl::InvalidArgumentError(fmt::format("advertise_address `{}`: {}",
                                                  config.advertise_address,
                                                  std::string(advertise_host.status().message())));
  }
  cluster::ClusterMembershipOptions options;
  options.cluster_id = config.cluster_id;
  options.node_id = config.node_id;
  options.listen_host = config.listen_address;
  options.listen_port = config.gossip_listen_port;
  options.advertise_host = *advertise_host;
  options.peer_seeds = config.peer_seeds;
  options.default_seed_port = config.gossip_listen_port;
  options.enabled_services = config.enabled_services;
  options.rest_advertise_addr = FormatHostPort(*advertise_host, config.rest_listen_port);
  options.grpc_advertise_addr = FormatHostPort(*advertise_host, config.grpc_listen_port);
  options.gossip_interval = std::chrono::milliseconds(config.cluster.gossip_interval_ms);
  options.phi_threshold = config.cluster.phi_threshold;
  options.dead_node_grace_period = std::chrono::seconds(config.cluster.dead_node_grace_period_secs);
  options.peer_seeds_refresh_interval =
      std::chrono::seconds(config.cluster.peer_seeds_refresh_interval_secs);
  std::unique_ptr<cluster::ClusterMembership> membership =
      cluster::NewGossipMembership(std::move(options));
  absl::Status started = membership->Start();
  if (!started.ok()) {
    return absl::Status(started.code(),
                        fmt::format("cannot start cluster membership (gossip_listen_port {}): {}",
                                    config.gossip_listen_port, std::string(started.message())));
  }
  return membership;
}

// The metastore of a node without the metastore service: the gRPC client of the one found in
// the cluster, waiting up to kMetastoreNodeWaitTimeout for it to join.
absl::StatusOr<std::unique_ptr<metastore::Metastore>> ConnectToMetastoreNode(
    const config::NodeConfig& config, const cluster::ClusterMembership* membership) {
  constexpr absl::Duration kMetastoreNodeWaitTimeout = absl::Seconds(60);
  RETURN_IF_ERROR(WaitForMetastoreNode(*membership, kMetastoreNodeWaitTimeout).status());
  metastore::GrpcMetastoreOptions options;
  options.resolve_address = [membership] { return FindMetastoreNode(*membership); };
  options.max_message_bytes = static_cast<int64_t>(config.grpc.max_message_size);
  return metastore::NewGrpcMetastore(std::move(options));
}

}  // namespace

absl::StatusOr<indexing::MergeRunSummary> RunMergeTool(
    const config::NodeConfig& config, const std::string& index_id,
    const std::optional<std::string>& source_id) {
  std::unique_ptr<storage::StorageResolver> storage_resolver =
      storage::NewStorageResolver(S3OptionsFromConfig(config.s3));
  ASSIGN_OR_RETURN(std::unique_ptr<metastore::Metastore> metastore,
                   OpenMetastore(config, *storage_resolver));
  indexing::MergeServiceOptions options = MergeOptionsFromConfig(config);
  options.only_own_splits = false;
  indexing::MergeService service(metastore.get(), storage_resolver.get(), options);
  return service.MergeUntilIdle(index_id, source_id);
}

absl::StatusOr<std::vector<indexing::IndexGarbage>> RunGcTool(
    const config::NodeConfig& config, const std::optional<std::string>& index_id,
    const indexing::GarbageCollectionOptions& options) {
  std::unique_ptr<storage::StorageResolver> storage_resolver =
      storage::NewStorageResolver(S3OptionsFromConfig(config.s3));
  ASSIGN_OR_RETURN(std::unique_ptr<metastore::Metastore> metastore,
                   OpenMetastore(config, *storage_resolver));
  std::vector<metastore::IndexMetadata> indexes;
  if (index_id.has_value()) {
    ASSIGN_OR_RETURN(metastore::IndexMetadata index, metastore->GetIndexMetadata(*index_id));
    indexes.push_back(std::move(index));
  } else {
    ASSIGN_OR_RETURN(indexes, metastore->ListIndexes());
  }
  std::vector<indexing::IndexGarbage> reports;
  for (const metastore::IndexMetadata& index : indexes) {
    ASSIGN_OR_RETURN(indexing::IndexGarbage garbage,
                     indexing::CollectIndexGarbage(*metastore, *storage_resolver, index, options));
    reports.push_back(std::move(garbage));
  }
  return reports;
}

absl::Status RunNode(const config::NodeConfig& config) {
  if (config.test_crash_at.has_value()) {
    SHALE_LOG_WARN(
        "TEST ONLY: crash point armed (never use it in production) point={} nth={} exit_code={}",
        config.test_crash_at->point, config.test_crash_at->nth, kCrashPointExitCode);
  }
  ArmCrashPoint(config.test_crash_at);
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

  // Gossip starts first: peers see the node (not ready) while it recovers, and a port in use
  // fails start-up before any recovery work.
  ASSIGN_OR_RETURN(std::unique_ptr<cluster::ClusterMembership> membership,
                   StartClusterMembership(config));

  std::unique_ptr<storage::StorageResolver> storage_resolver =
      storage::NewStorageResolver(StorageResolverOptionsFromConfig(config));
  // The node running the metastore service owns the metastore (metastore_uri) and serves it over
  // gRPC; the other nodes reach it through the cluster membership (docs/deployment.md), except a
  // node whose metastore_uri asks for polling (`#polling_interval=`): it reads the metastore
  // files itself with a delayed view, and its writes are refused (a reader).
  std::unique_ptr<metastore::Metastore> metastore;
  const bool uses_grpc_metastore =
      !config.IsServiceEnabled("metastore") && !config.metastore_polling_interval_secs.has_value();
  if (!uses_grpc_metastore) {
    ASSIGN_OR_RETURN(metastore, OpenMetastore(config, *storage_resolver));
  } else {
    ASSIGN_OR_RETURN(metastore, ConnectToMetastoreNode(config, membership.get()));
  }
  if (config.IsServiceEnabled("searcher")) {
    RETURN_IF_ERROR(CheckIndexesOnSharedStorage(*metastore, *membership));
  }

  // Declared before the ingest service, which notifies it of every publish until it is gone.
  std::unique_ptr<indexing::MergeService> merges;
  std::unique_ptr<indexing::IngestService> ingest;
  if (config.IsServiceEnabled("indexer")) {
    merges = std::make_unique<indexing::MergeService>(metastore.get(), storage_resolver.get(),
                                                      MergeOptionsFromConfig(config));
    indexing::IngestServiceOptions options;
    options.node_id = config.node_id;
    options.on_split_published = [merge_service = merges.get()](const std::string& index_uid) {
      merge_service->NotifySplitsPublished(index_uid);
    };
    options.wal_root = (std::filesystem::path(config.data_dir) / "wal").string();
    options.max_wal_disk_usage_bytes = config.ingest_api.max_queue_disk_usage;
    options.idempotency_retention_millis = config.ingest_api.idempotency_retention_secs * 1000;
    options.idempotency_max_keys = config.ingest_api.idempotency_max_keys;
    options.num_pipelines_per_index = static_cast<int>(config.ingest_api.num_pipelines_per_index);
    options.wal_durability = config.ingest_api.durability == config::IngestDurability::kAsync
                                 ? indexing::WalDurability::kAsync
                                 : indexing::WalDurability::kRequest;
    // Large ingest bodies are parsed on every core (docs/adr/014).
    options.num_processing_threads =
        std::max(0, static_cast<int>(std::thread::hardware_concurrency()) - 1);
    ingest =
        std::make_unique<indexing::IngestService>(metastore.get(), storage_resolver.get(), options);
    // No pipeline of this process has staged anything yet: the staged splits of this node are
    // leftovers of a crashed run (files and records; logged one by one).
    indexing::DeleteStagedSplitsOfNode(*metastore, *storage_resolver, config.node_id);
    // Replays and commits what the WAL holds beyond the published checkpoints before the node
    // is ready, so a restart makes every acknowledged document searchable without waiting.
    RETURN_IF_ERROR(ingest->Recover());
    ingest->Start();
    merges->Start();
  }
  // Source pipelines (file sources, ...) of every enabled source, resumed from their checkpoints.
  std::unique_ptr<indexing::SourceService> sources;
  if (config.IsServiceEnabled("indexer")) {
    indexing::SourcePipelineOptions options;
    options.node_id = config.node_id;
    sources =
        std::make_unique<indexing::SourceService>(metastore.get(), storage_resolver.get(), options);
    RETURN_IF_ERROR(sources->Start());
  }
  // Every node is a search root; a node with the searcher service is also a leaf, for itself
  // (in process) and for the other roots of the cluster (over gRPC).
  search::SearchServiceOptions search_options;
  search_options.num_leaf_threads =
      static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  search_options.max_num_concurrent_split_searches =
      config.searcher.max_num_concurrent_split_searches;
  search_options.split_opener.split_footer_cache_capacity =
      config.searcher.split_footer_cache_capacity;
  search_options.split_opener.fast_field_cache_capacity = config.searcher.fast_field_cache_capacity;
  search_options.partial_request_cache_capacity = config.searcher.partial_request_cache_capacity;
  search_options.aggregation_memory_limit_bytes = config.searcher.aggregation_memory_limit;
  search_options.request_timeout =
      absl::Seconds(static_cast<int64_t>(config.searcher.request_timeout_secs));
  std::unique_ptr<search::LeafSearcher> leaf_searcher;
  if (config.IsServiceEnabled("searcher")) {
    if (config.searcher.split_cache.has_value()) {
      split::DiskSplitCacheOptions split_cache;
      split_cache.root = std::filesystem::path(config.data_dir) / "searcher-split-cache";
      split_cache.max_num_bytes = config.searcher.split_cache->max_num_bytes;
      split_cache.max_num_splits = config.searcher.split_cache->max_num_splits;
      split_cache.num_concurrent_downloads =
          static_cast<int>(config.searcher.split_cache->num_concurrent_downloads);
      ASSIGN_OR_RETURN(search_options.split_opener.disk_split_cache,
                       split::DiskSplitCache::Open(split_cache));
    }
    leaf_searcher = std::make_unique<search::LeafSearcher>(storage_resolver.get(), search_options);
  }
  std::unique_ptr<search::SearcherPool> searchers = search::NewClusterSearcherPool(
      membership.get(), leaf_searcher.get(), static_cast<int64_t>(config.grpc.max_message_size));
  auto search = std::make_unique<search::SearchService>(metastore.get(), searchers.get(),
                                                        leaf_searcher.get(), search_options);
  std::unique_ptr<search::LeafSearchGrpcService> leaf_grpc_service;
  if (leaf_searcher != nullptr) {
    leaf_grpc_service = std::make_unique<search::LeafSearchGrpcService>(leaf_searcher.get());
  }
  std::atomic<bool> ready{false};
  NodeServices services;
  services.config = &config;
  services.metastore = metastore.get();
  services.storage_resolver = storage_resolver.get();
  services.ingest = ingest.get();
  services.merges = merges.get();
  services.search = search.get();
  services.ready = &ready;
  services.sources = sources.get();
  services.cluster = membership.get();
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

  // The gRPC server (internal RPCs) starts once every service it serves exists and stops before
  // any of them is stopped or destroyed (it is declared after them).
  GrpcServerOptions grpc_options;
  grpc_options.listen_address = config.listen_address;
  grpc_options.port = config.grpc_listen_port;
  grpc_options.max_message_bytes = static_cast<int64_t>(config.grpc.max_message_size);
  GrpcServer grpc_server(grpc_options);
  cluster::ClusterGrpcService cluster_grpc_service(membership.get());
  grpc_server.AddService(&cluster_grpc_service);
  std::unique_ptr<metastore::MetastoreGrpcService> metastore_grpc_service;
  if (config.IsServiceEnabled("metastore")) {
    metastore_grpc_service = std::make_unique<metastore::MetastoreGrpcService>(metastore.get());
    grpc_server.AddService(metastore_grpc_service.get());
  }
  // Serves this node's leaf to the roots of the cluster.
  if (leaf_grpc_service != nullptr) grpc_server.AddService(leaf_grpc_service.get());
  // Serves this node's ingest and pipeline states to the other nodes.
  std::unique_ptr<indexing::IndexingGrpcService> indexing_grpc_service;
  if (ingest != nullptr) {
    indexing_grpc_service = std::make_unique<indexing::IndexingGrpcService>(
        indexing::IndexerServices{config.node_id, ingest.get(), sources.get(), merges.get()});
    grpc_server.AddService(indexing_grpc_service.get());
  }
  RETURN_IF_ERROR(grpc_server.Start());

  ready = true;
  membership->SetReady(true);
  // The metastore this node really uses: its own files, or the metastore node's gRPC service.
  const std::string metastore_in_use =
      uses_grpc_metastore
          ? fmt::format("grpc://{}", FindMetastoreNode(*membership).value_or("(not found)"))
          : config.metastore_uri;
  SHALE_LOG_INFO("node ready node_id={} rest=http://{}:{} grpc={}:{} metastore={} data_dir={}",
                 config.node_id, config.listen_address, http_server.port(), config.listen_address,
                 grpc_server.port(), metastore_in_use, config.data_dir);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  SHALE_LOG_INFO("node stopping signal={}", signal_number);
  ready = false;
  membership->Stop();  // peers see this node not ready at once
  http_server.Stop();
  grpc_server.Stop();
  rest_workers.Stop();
  if (sources != nullptr) sources->Stop();
  // Merges first, so that the final commits of the ingest service start none; the next start
  // plans them.
  if (merges != nullptr) merges->Stop();
  if (ingest != nullptr) ingest->Stop();
  search->Stop();
  if (leaf_searcher != nullptr) leaf_searcher->Stop();
  SHALE_LOG_INFO("node stopped node_id={}", config.node_id);
  return absl::OkStatus();
}

}  // namespace shale::server
