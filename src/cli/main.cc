// The `shale` binary: `shale run` starts a node; `shale index ...` are REST API clients.
// Flags mirror Quickwit's CLI. Every error is printed as `error: <message>` and exits with 1.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "CLI/CLI.hpp"
#include "cli/client_commands.h"
#include "cli/http_client.h"
#include "cli/source_commands.h"
#include "config/node_config.h"
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

absl::Status RunNodeCommand(const RunFlags& flags) {
  const std::map<std::string, std::string> env = config::ProcessEnvironment();
  std::string path = flags.config_path;
  if (path.empty()) {
    std::error_code ignored;
    if (std::filesystem::exists(kDefaultConfigPath, ignored)) path = kDefaultConfigPath;
  }
  absl::StatusOr<config::NodeConfig> node_config =
      path.empty() ? config::LoadNodeConfig("", env) : config::LoadNodeConfigFile(path, env);
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
  options.show_progress = isatty(STDERR_FILENO) != 0;
  absl::StatusOr<IngestSummary> summary = IngestFile(client, options, std::cerr);
  if (!summary.ok()) return summary.status();
  for (const std::string& failure : summary->parse_failures) {
    std::cerr << "parse failure: " << failure << "\n";
  }
  std::cout << FormatIngestSummary(*summary) << std::endl;
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
