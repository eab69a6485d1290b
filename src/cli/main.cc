// The `shale` binary: `shale run` starts a node; `shale index ...` are REST API clients;
// `shale tool ...` work offline on the node config's metastore and storage.
// Flags mirror Quickwit's CLI. Every error is printed as `error: <message>` and exits with 1.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

#include "CLI/CLI.hpp"
#include "cli/client_commands.h"
#include "cli/http_client.h"
#include "cli/source_commands.h"
#include "common/json_util.h"
#include "config/node_config.h"
#include "indexing/split_gc.h"
#include "server/node.h"

namespace shale::cli {
namespace {

constexpr char kVersion[] = "shale 0.1.0";
constexpr char kDefaultEndpoint[] = "http://127.0.0.1:7280";
constexpr char kDefaultConfigPath[] = "config/shale.yaml";

int ReportError(const absl::Status& status) {
  std::cerr << "error: " << status.message() << std::endl;
  return 1;
}

// Asks on stdin; false unless the answer starts with y. Without a terminal, refuses.
bool Confirm(const std::string& question) {
  if (isatty(STDIN_FILENO) == 0) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

struct RunFlags {
  std::string config_path;
  std::vector<std::string> services;
};

// The node config at `config_path`; without one, config/shale.yaml if present, else the
// built-in defaults. Environment overrides apply.
absl::StatusOr<config::NodeConfig> LoadConfig(const std::string& config_path) {
  const std::map<std::string, std::string> env = config::ProcessEnvironment();
  std::string path = config_path;
  if (path.empty()) {
    std::error_code ignored;
    if (std::filesystem::exists(kDefaultConfigPath, ignored)) path = kDefaultConfigPath;
  }
  return path.empty() ? config::LoadNodeConfig("", env) : config::LoadNodeConfigFile(path, env);
}

absl::Status RunNodeCommand(const RunFlags& flags) {
  absl::StatusOr<config::NodeConfig> node_config = LoadConfig(flags.config_path);
  if (!node_config.ok()) return node_config.status();
  if (!flags.services.empty()) {
    for (const std::string& service : flags.services) {
      bool known = false;
      for (std::string_view name : config::kAllServices) known = known || name == service;
      if (!known) {
        return absl::InvalidArgumentError(fmt::format(
            "unknown service `{}`: expected searcher, indexer, metastore, control_plane or "
            "janitor",
            service));
      }
    }
    node_config->enabled_services = flags.services;
  }
  return server::RunNode(*node_config);
}

struct ToolMergeFlags {
  std::string config_path;
  std::string index_id;
  std::optional<std::string> source_id;
};

// `shale tool merge`: merges offline, against the metastore and storage of the node config.
absl::Status RunToolMerge(const ToolMergeFlags& flags) {
  absl::StatusOr<config::NodeConfig> node_config = LoadConfig(flags.config_path);
  if (!node_config.ok()) return node_config.status();
  absl::StatusOr<indexing::MergeRunSummary> summary =
      server::RunMergeTool(*node_config, flags.index_id, flags.source_id);
  if (!summary.ok()) return summary.status();
  for (const std::string& error : summary->errors) std::cerr << "merge failed: " << error << "\n";
  std::cout << fmt::format("{} merges replaced {} splits ({} docs); {} failed", summary->num_merges,
                           summary->num_replaced_splits, summary->num_merged_docs,
                           summary->num_failed_merges)
            << std::endl;
  if (summary->num_failed_merges > 0) {
    return absl::InternalError(
        fmt::format("{} merges of index `{}` failed", summary->num_failed_merges, flags.index_id));
  }
  return absl::OkStatus();
}

struct ToolGcFlags {
  std::string config_path;
  std::optional<std::string> index_id;
  std::string grace_period = "1h";
  bool dry_run = false;
  bool json = false;
};

// One line per object, then the totals.
void PrintGarbageReport(const indexing::IndexGarbage& garbage, std::ostream& out) {
  auto file_text = [](const std::optional<uint64_t>& num_bytes) {
    return num_bytes.has_value() ? fmt::format("{} bytes", *num_bytes) : std::string("no file");
  };
  out << fmt::format("index {} ({} published splits kept)\n", garbage.index_id,
                     garbage.num_published_splits);
  for (const auto& [kind, splits] : {std::pair{"staged", &garbage.staged_splits},
                                     std::pair{"marked-for-deletion", &garbage.marked_splits}}) {
    for (const indexing::GarbageSplit& split : *splits) {
      out << fmt::format("  {} split {} node={} source={} {}\n", kind, split.split_id,
                         split.node_id, split.source_id, file_text(split.file_num_bytes));
    }
  }
  for (const indexing::OrphanFile& file : garbage.orphan_files) {
    out << fmt::format("  orphan file {} {} bytes\n", file.path, file.num_bytes);
  }
  out << fmt::format("  {} {} split records, {} files ({} bytes)\n",
                     garbage.deleted ? "deleted" : "would delete",
                     garbage.staged_splits.size() + garbage.marked_splits.size(),
                     garbage.NumFiles(), garbage.NumBytes());
}

// `shale tool gc`: collects the split garbage of one index (or all), against the metastore and
// storage of the node config.
absl::Status RunToolGc(const ToolGcFlags& flags) {
  // Stdout is the report: log lines go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stderr"));
  absl::StatusOr<config::NodeConfig> node_config = LoadConfig(flags.config_path);
  if (!node_config.ok()) return node_config.status();
  absl::StatusOr<int64_t> grace_period_secs = config::ParseDurationSecs(flags.grace_period);
  if (!grace_period_secs.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("--grace-period `{}`: {}", flags.grace_period,
                    std::string(grace_period_secs.status().message())));
  }
  indexing::GarbageCollectionOptions options;
  options.staged_grace_period_secs = *grace_period_secs;
  options.deletion_grace_period_secs = *grace_period_secs;
  options.dry_run = flags.dry_run;
  absl::StatusOr<std::vector<indexing::IndexGarbage>> reports =
      server::RunGcTool(*node_config, flags.index_id, options);
  if (!reports.ok()) return reports.status();
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const indexing::IndexGarbage& garbage : *reports) {
      out.push_back(indexing::GarbageReportJson(garbage));
    }
    std::cout << DumpJson(out) << std::endl;
  } else {
    for (const indexing::IndexGarbage& garbage : *reports) PrintGarbageReport(garbage, std::cout);
  }
  return absl::OkStatus();
}

struct ClientFlags {
  std::string endpoint = kDefaultEndpoint;
  std::string index_id;
  std::string index_config_path;
  bool overwrite = false;
  bool yes = false;
  bool dry_run = false;
  // ingest
  std::string input_path;
  std::string batch_size_limit = "8MiB";
  std::string commit = "auto";
  bool detailed_response = false;
  std::string idempotency_key_prefix;
  // search
  std::string query;
  std::optional<uint64_t> max_hits;
  std::optional<uint64_t> start_offset;
  std::vector<std::string> search_fields;
  std::optional<std::string> sort_by;
  std::optional<int64_t> start_timestamp;
  std::optional<int64_t> end_timestamp;
  // source
  std::string source_id;
  std::string source_config_path;
};

absl::StatusOr<std::unique_ptr<HttpClient>> MakeClient(const ClientFlags& flags) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpointUrl(flags.endpoint);
  if (!endpoint.ok()) return endpoint.status();
  return std::make_unique<HttpClient>(*std::move(endpoint), HttpClientOptions{});
}

absl::Status RunIngest(HttpClient& client, const ClientFlags& flags) {
  IngestOptions options;
  options.index_id = flags.index_id;
  options.input_path = flags.input_path;
  absl::StatusOr<uint64_t> batch_size_limit = config::ParseByteSize(flags.batch_size_limit);
  if (!batch_size_limit.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("--batch-size-limit: {}", std::string(batch_size_limit.status().message())));
  }
  if (*batch_size_limit == 0) {
    return absl::InvalidArgumentError("--batch-size-limit must be greater than zero");
  }
  options.batch_size_limit = *batch_size_limit;
  absl::StatusOr<CommitMode> commit = ParseCommitMode(flags.commit);
  if (!commit.ok()) return commit.status();
  options.commit = *commit;
  options.detailed_response = flags.detailed_response;
  options.idempotency_key_prefix = flags.idempotency_key_prefix;
  options.show_progress = isatty(STDERR_FILENO) != 0;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, std::cerr);
  if (!summary.ok()) return summary.status();
  for (const std::string& failure : summary->parse_failures) {
    std::cerr << "parse failure: " << failure << "\n";
  }
  std::cout << FormatIngestSummary(*summary) << std::endl;
  if (summary->num_replayed_batches > 0) {
    std::cout << fmt::format("{} batches were accepted before (same idempotency key) and not "
                             "indexed again",
                             summary->num_replayed_batches)
              << std::endl;
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  CLI::App app{"Shale: a distributed search engine for logs", "shale"};
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);

  RunFlags run_flags;
  CLI::App* run = app.add_subcommand("run", "Starts a node with the services of its config");
  run->add_option("--config", run_flags.config_path,
                  "Node config file (default: config/shale.yaml if present, else built-in)")
      ->envname("SHALE_CONFIG");
  run->add_option("--service", run_flags.services,
                  "Service to run (repeatable): searcher, indexer, metastore, control_plane, "
                  "janitor");

  ToolMergeFlags merge_flags;
  CLI::App* tool = app.add_subcommand("tool", "Runs operations on the node's data, offline");
  tool->require_subcommand(1);
  CLI::App* merge = tool->add_subcommand(
      "merge", "Merges the splits of an index with its merge policy (stop the node first)");
  merge
      ->add_option("--config", merge_flags.config_path,
                   "Node config file (default: config/shale.yaml if present, else built-in)")
      ->envname("SHALE_CONFIG");
  merge->add_option("--index", merge_flags.index_id, "Index ID")->required();
  merge->add_option("--source", merge_flags.source_id, "Merge only the splits of this source");

  ToolGcFlags gc_flags;
  CLI::App* gc = tool->add_subcommand(
      "gc", "Deletes staged splits left by crashes, splits marked for deletion and orphan split "
            "files older than the grace period");
  gc->add_option("--config", gc_flags.config_path,
                 "Node config file (default: config/shale.yaml if present, else built-in)")
      ->envname("SHALE_CONFIG");
  gc->add_option("--index", gc_flags.index_id, "Index ID (default: every index)");
  gc->add_option("--grace-period", gc_flags.grace_period,
                 "Keep staged and marked splits younger than this (default 1h; e.g. 0s, 30m)");
  gc->add_flag("--dry-run", gc_flags.dry_run, "List what would be deleted; delete nothing");
  gc->add_flag("--json", gc_flags.json, "Print the report as JSON");

  ClientFlags flags;
  CLI::App* index = app.add_subcommand("index", "Manages indexes: create, ingest, search, ...");
  index->require_subcommand(1);
  auto add_endpoint = [&flags](CLI::App* command) {
    command->add_option("--endpoint", flags.endpoint, "URL of a Shale node")
        ->envname("SHALE_ENDPOINT")
        ->capture_default_str();
  };
  auto add_index_id = [&flags](CLI::App* command) {
    command->add_option("--index", flags.index_id, "Index ID")->required();
  };

  CLI::App* create = index->add_subcommand("create", "Creates an index from an index config");
  add_endpoint(create);
  create->add_option("--index-config", flags.index_config_path, "Index config file (YAML or JSON)")
      ->required();
  create->add_flag("--overwrite", flags.overwrite, "Replaces an existing index of the same ID");

  CLI::App* list = index->add_subcommand("list", "Lists the indexes");
  add_endpoint(list);

  CLI::App* describe = index->add_subcommand("describe", "Shows an index's statistics");
  add_endpoint(describe);
  add_index_id(describe);

  CLI::App* ingest = index->add_subcommand("ingest", "Sends NDJSON documents to an index");
  add_endpoint(ingest);
  add_index_id(ingest);
  ingest->add_option("--input-path", flags.input_path,
                     "NDJSON file, optionally gzipped (default: stdin)");
  ingest->add_option("--batch-size-limit", flags.batch_size_limit, "Max request body size")
      ->capture_default_str();
  ingest->add_option("--commit", flags.commit, "Commit behaviour of the last batch")
      ->check(CLI::IsMember({"auto", "wait_for", "force"}))
      ->capture_default_str();
  ingest->add_flag("--detailed-response", flags.detailed_response,
                   "Reports the documents the node rejected");
  ingest->add_option("--idempotency-key-prefix", flags.idempotency_key_prefix,
                     "Sends batch n with the idempotency key PREFIX-n: retries never index a "
                     "batch twice, and rerunning the command with the same prefix skips the "
                     "batches already accepted");

  CLI::App* search = index->add_subcommand("search", "Searches an index");
  add_endpoint(search);
  add_index_id(search);
  search->add_option("--query", flags.query, "Query in the query language")->required();
  search->add_option("--max-hits", flags.max_hits, "Max number of hits (default 20)");
  search->add_option("--start-offset", flags.start_offset, "Offset of the first hit");
  search->add_option("--search-fields", flags.search_fields, "Default fields of the query")
      ->delimiter(',');
  search->add_option("--sort-by", flags.sort_by, "Fields to sort by, `-field` descending");
  search->add_option("--start-timestamp", flags.start_timestamp,
                     "Only documents at or after this unix timestamp (seconds)");
  search->add_option("--end-timestamp", flags.end_timestamp,
                     "Only documents before this unix timestamp (seconds)");

  CLI::App* clear = index->add_subcommand("clear", "Deletes every split of an index");
  add_endpoint(clear);
  add_index_id(clear);
  clear->add_flag("--yes", flags.yes, "Does not ask for confirmation");

  CLI::App* remove = index->add_subcommand("delete", "Deletes an index and its splits");
  add_endpoint(remove);
  add_index_id(remove);
  remove->add_flag("--yes", flags.yes, "Does not ask for confirmation");
  remove->add_flag("--dry-run", flags.dry_run, "Lists the files that would be deleted");

  CLI::App* source = app.add_subcommand(
      "source", "Manages the sources of an index: create, list, describe, enable, ...");
  source->require_subcommand(1);
  auto add_source_id = [&flags](CLI::App* command) {
    command->add_option("--source", flags.source_id, "Source ID")->required();
  };
  CLI::App* source_create =
      source->add_subcommand("create", "Adds a source to an index from a source config");
  add_endpoint(source_create);
  add_index_id(source_create);
  source_create
      ->add_option("--source-config", flags.source_config_path, "Source config file (YAML or JSON)")
      ->required();
  CLI::App* source_list = source->add_subcommand("list", "Lists the sources of an index");
  add_endpoint(source_list);
  add_index_id(source_list);
  CLI::App* source_describe = source->add_subcommand(
      "describe", "Shows a source's config, checkpoint and pipeline state");
  CLI::App* source_enable = source->add_subcommand("enable", "Enables a source");
  CLI::App* source_disable = source->add_subcommand("disable", "Disables a source");
  CLI::App* source_reset = source->add_subcommand(
      "reset-checkpoint", "Resets a source's checkpoint: it is read again from its start");
  CLI::App* source_delete = source->add_subcommand("delete", "Deletes a source and its checkpoint");
  for (CLI::App* command :
       {source_describe, source_enable, source_disable, source_reset, source_delete}) {
    add_endpoint(command);
    add_index_id(command);
    add_source_id(command);
  }
  source_reset->add_flag("--yes", flags.yes, "Does not ask for confirmation");
  source_delete->add_flag("--yes", flags.yes, "Does not ask for confirmation");

  if (argc <= 1) {
    std::cout << app.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }

  if (run->parsed()) {
    const absl::Status status = RunNodeCommand(run_flags);
    return status.ok() ? 0 : ReportError(status);
  }
  if (merge->parsed()) {
    const absl::Status status = RunToolMerge(merge_flags);
    return status.ok() ? 0 : ReportError(status);
  }
  if (gc->parsed()) {
    const absl::Status status = RunToolGc(gc_flags);
    return status.ok() ? 0 : ReportError(status);
  }

  absl::StatusOr<std::unique_ptr<HttpClient>> client = MakeClient(flags);
  if (!client.ok()) return ReportError(client.status());
  absl::Status status;
  if (create->parsed()) {
    status = CreateIndex(**client, flags.index_config_path, flags.overwrite, std::cout);
  } else if (list->parsed()) {
    status = ListIndexes(**client, std::cout);
  } else if (describe->parsed()) {
    status = DescribeIndex(**client, flags.index_id, std::cout);
  } else if (ingest->parsed()) {
    status = RunIngest(**client, flags);
  } else if (search->parsed()) {
    SearchOptions options;
    options.index_id = flags.index_id;
    options.query = flags.query;
    options.max_hits = flags.max_hits;
    options.start_offset = flags.start_offset;
    options.search_fields = flags.search_fields;
    options.sort_by = flags.sort_by;
    options.start_timestamp = flags.start_timestamp;
    options.end_timestamp = flags.end_timestamp;
    status = SearchIndex(**client, options, std::cout);
  } else if (clear->parsed()) {
    if (!flags.yes && !Confirm(fmt::format("This deletes all the splits of index `{}`. Continue?",
                                           flags.index_id))) {
      status = absl::CancelledError("aborted, pass --yes to skip the confirmation");
    } else {
      status = ClearIndex(**client, flags.index_id, std::cout);
    }
  } else if (source_create->parsed()) {
    status = CreateSource(**client, flags.index_id, flags.source_config_path, std::cout);
  } else if (source_list->parsed()) {
    status = ListSources(**client, flags.index_id, std::cout);
  } else if (source_describe->parsed()) {
    status = DescribeSource(**client, flags.index_id, flags.source_id, std::cout);
  } else if (source_enable->parsed() || source_disable->parsed()) {
    status = ToggleSource(**client, flags.index_id, flags.source_id, source_enable->parsed(),
                          std::cout);
  } else if (source_reset->parsed()) {
    if (!flags.yes && !Confirm(fmt::format("This makes source `{}` read its input again from the "
                                           "start (documents are indexed again). Continue?",
                                           flags.source_id))) {
      status = absl::CancelledError("aborted, pass --yes to skip the confirmation");
    } else {
      status = ResetSourceCheckpoint(**client, flags.index_id, flags.source_id, std::cout);
    }
  } else if (source_delete->parsed()) {
    if (!flags.yes && !Confirm(fmt::format("This deletes source `{}` of index `{}` and its "
                                           "checkpoint. Continue?",
                                           flags.source_id, flags.index_id))) {
      status = absl::CancelledError("aborted, pass --yes to skip the confirmation");
    } else {
      status = DeleteSource(**client, flags.index_id, flags.source_id, std::cout);
    }
  } else if (remove->parsed()) {
    if (!flags.yes && !flags.dry_run &&
        !Confirm(
            fmt::format("This deletes index `{}` and all its splits. Continue?", flags.index_id))) {
      status = absl::CancelledError("aborted, pass --yes to skip the confirmation");
    } else {
      status = DeleteIndex(**client, flags.index_id, flags.dry_run, std::cout);
    }
  }
  return status.ok() ? 0 : ReportError(status);
}

}  // namespace
}  // namespace shale::cli

int main(int argc, char** argv) { return shale::cli::Main(argc, argv); }
