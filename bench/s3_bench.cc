// shale_s3_bench: leaf search latency and I/O on splits stored in S3 (s3rver on loopback, see
// tools/s3_bench.sh), cold and warm, for splits of several sizes.
//
//   shale_s3_bench --endpoint http://127.0.0.1:PORT --input docs.ndjson
//                  [--bucket test-bucket] [--split-docs 20000,100000,400000] [--runs 15]
//                  [--latency-ms 0] [--index-config bench/index-config.yaml]
//
// For each split size it builds one split from the first N lines of `--input` (HDFS-like logs
// from shale_gen_logs), uploads it, then measures through split::SplitOpener exactly what a
// searcher's leaf does (open, warm, search, warm doc store blocks, fetch the top 10 documents):
//   - open: cold (empty split footer cache: one GET) and warm (footer cached: no GET);
//   - per query, cold with warmup (fresh caches), cold without warmup (fresh caches, every read
//     on demand, one at a time: what the engine did before warmup), and warm (caches filled by
//     earlier runs): p50 / p90 latency, GETs and bytes read per query.
// `--latency-ms` adds a delay before every GET (a stand-in for S3's time to first byte).
// The partial request cache (search/) is not involved: a repeated identical request served by
// it costs a hash lookup.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"

#include "CLI/CLI.hpp"
#include "common/ulid.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "query/query_language.h"
#include "split/split_opener.h"
#include "split/split_store.h"
#include "storage/storage.h"
#include "storage/storage_decorators.h"
#include "storage/testing/latency_storage.h"

namespace {

using shale::index::SplitSearchRequest;
using shale::split::OpenedSplit;
using shale::split::SplitOpener;
using shale::split::SplitOpenerOptions;

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "shale_s3_bench: %s\n", message.c_str());
  std::exit(1);  // NOLINT(concurrency-mt-unsafe): single-threaded at this point
}

template <typename T>
T Must(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Die(fmt::format("{}: {}", what, std::string(value.status().message())));
  return *std::move(value);
}

void MustOk(const absl::Status& status, const char* what) {
  if (!status.ok()) Die(fmt::format("{}: {}", what, std::string(status.message())));
}

double Millis(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

struct Sample {
  double millis = 0;
  int64_t gets = 0;
  uint64_t bytes = 0;
};

struct Summary {
  double p50 = 0;
  double p90 = 0;
  int64_t gets = 0;    // median
  uint64_t bytes = 0;  // median
};

Summary Summarize(std::vector<Sample> samples) {
  Summary summary;
  if (samples.empty()) return summary;
  auto at = [&samples](double q) {
    return samples[std::min(samples.size() - 1,
                            static_cast<size_t>(q * static_cast<double>(samples.size())))];
  };
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.millis < b.millis; });
  summary.p50 = at(0.5).millis;
  summary.p90 = at(0.9).millis;
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.gets < b.gets; });
  summary.gets = at(0.5).gets;
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.bytes < b.bytes; });
  summary.bytes = at(0.5).bytes;
  return summary;
}

struct BenchQuery {
  std::string name;
  shale::index::QueryPtr query;
  SplitSearchRequest request;
  std::shared_ptr<shale::index::AggregationRequest> aggregation;
};

// The storage chain: [latency] -> counting -> S3.
struct BenchStorage {
  std::shared_ptr<shale::storage::CountingStorage> counting;
  std::shared_ptr<shale::storage::Storage> outer;

  int64_t gets() const { return counting->num_requests(shale::storage::StorageOp::kGetSlice); }
  uint64_t bytes() const { return static_cast<uint64_t>(counting->num_bytes_read()); }
};

// One leaf search as a searcher runs it: open, warm (optional), search, warm and fetch the
// documents of the hits.
void RunLeaf(SplitOpener& opener, const BenchStorage& storage,
             const shale::split::SplitLocation& location, const BenchQuery& query, bool warmup) {
  std::unique_ptr<OpenedSplit> split = Must(opener.Open(storage.outer, location), "open split");
  if (warmup) MustOk(split->WarmForSearch(*query.query, query.request), "warmup");
  shale::index::SplitSearchResult result =
      Must(split->reader().Search(*query.query, query.request), "search");
  std::vector<uint32_t> doc_ids;
  for (const shale::index::SplitHit& hit : result.hits) doc_ids.push_back(hit.doc_id);
  if (warmup) MustOk(split->WarmDocuments(doc_ids), "warm documents");
  for (uint32_t doc_id : doc_ids) Must(split->reader().FetchDocument(doc_id), "fetch document");
}

Sample Measure(const BenchStorage& storage, const std::function<void()>& run) {
  const int64_t gets = storage.gets();
  const uint64_t bytes = storage.bytes();
  const Clock::time_point start = Clock::now();
  run();
  Sample sample;
  sample.millis = Millis(Clock::now() - start);
  sample.gets = storage.gets() - gets;
  sample.bytes = storage.bytes() - bytes;
  return sample;
}

std::vector<BenchQuery> MakeQueries(const shale::index::SerializedSplit& split,
                                    const std::vector<std::string>& default_fields) {
  std::vector<BenchQuery> queries;
  auto add = [&](std::string name, const std::string& text, SplitSearchRequest request) {
    BenchQuery query;
    query.name = std::move(name);
    query.query = Must(shale::query::ParseUserQuery(text, default_fields), "parse query");
    query.request = std::move(request);
    queries.push_back(std::move(query));
    return &queries.back();
  };
  SplitSearchRequest top10;
  top10.top_k = 10;
  add("term `severity_text:ERROR`, top 10 by timestamp", "severity_text:ERROR", top10);
  add("full-text term `body:terminating`, top 10", "body:terminating", top10);
  add("3 terms `severity_text:ERROR AND resource.service:datanode AND tenant_id:3`, top 10",
      "severity_text:ERROR AND resource.service:datanode AND tenant_id:3", top10);
  SplitSearchRequest time_range = top10;
  const int64_t start = *split.time_range_start_nanos;
  const int64_t span = *split.time_range_end_nanos - start;
  time_range.start_timestamp_nanos = start + span / 4;
  time_range.end_timestamp_nanos = start + span / 2;
  add("time range (25 % of the split), top 10", "*", time_range);
  SplitSearchRequest count_only;
  count_only.top_k = 0;
  BenchQuery* aggregation =
      add("aggregation: date_histogram 1m + terms severity_text", "*", count_only);
  aggregation->aggregation = std::make_shared<shale::index::AggregationRequest>();
  shale::index::AggregationSpec histogram;
  histogram.name = "per_minute";
  histogram.kind = shale::index::AggregationKind::kDateHistogram;
  histogram.field = "timestamp";
  histogram.interval = 60'000;
  aggregation->aggregation->aggregations.push_back(histogram);
  shale::index::AggregationSpec terms;
  terms.name = "severity";
  terms.kind = shale::index::AggregationKind::kTerms;
  terms.field = "severity_text";
  aggregation->aggregation->aggregations.push_back(terms);
  aggregation->request.aggregation = aggregation->aggregation.get();
  return queries;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): CLI11, std::bad_alloc
  CLI::App app{"Leaf search latency and I/O on splits in S3 (s3rver)"};
  std::string endpoint;
  std::string bucket = "test-bucket";
  std::string input;
  std::string index_config_path = "bench/index-config.yaml";
  std::string split_docs_text = "20000,100000,400000";
  int runs = 15;
  int latency_ms = 0;
  app.add_option("--endpoint", endpoint, "S3 endpoint, e.g. http://127.0.0.1:4568")->required();
  app.add_option("--bucket", bucket, "bucket (must exist)");
  app.add_option("--input", input, "NDJSON documents (shale_gen_logs)")->required();
  app.add_option("--index-config", index_config_path, "index config YAML (doc mapping)");
  app.add_option("--split-docs", split_docs_text, "comma list of split sizes in documents");
  app.add_option("--runs", runs, "measured runs per figure");
  app.add_option("--latency-ms", latency_ms, "delay added before every GET");
  CLI11_PARSE(app, argc, argv);

  std::vector<uint64_t> split_sizes;
  {
    std::stringstream list(split_docs_text);
    std::string item;
    while (std::getline(list, item, ',')) {
      uint64_t size = 0;
      const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), size);
      if (error != std::errc() || end != item.data() + item.size() || size == 0) {
        Die("--split-docs: `" + item + "` is not a positive number");
      }
      split_sizes.push_back(size);
    }
  }
  std::ifstream config_file(index_config_path);
  if (!config_file) Die("cannot read " + index_config_path);
  std::stringstream config_text;
  config_text << config_file.rdbuf();
  const shale::config::IndexConfig index_config =
      Must(shale::config::ParseIndexConfigYaml(config_text.str()), "index config");
  const uint64_t max_docs = *std::max_element(split_sizes.begin(), split_sizes.end());
  std::vector<std::string> lines;
  {
    std::ifstream docs(input);
    if (!docs) Die("cannot read " + input);
    std::string line;
    while (lines.size() < max_docs && std::getline(docs, line)) lines.push_back(line);
  }

  shale::storage::S3Options s3_options;
  s3_options.endpoint = endpoint;
  s3_options.force_path_style_access = true;
  s3_options.access_key_id = "S3RVER";
  s3_options.secret_access_key = "S3RVER";
  const shale::Uri root =
      Must(shale::Uri::Parse(fmt::format("s3://{}/s3-bench-{}", bucket, shale::NewUlid())), "uri");
  BenchStorage storage;
  storage.counting = shale::storage::NewCountingStorage(
      Must(shale::storage::NewS3Storage(root, s3_options), "s3 storage"));
  storage.outer = storage.counting;
  if (latency_ms > 0) {
    storage.outer = std::make_shared<shale::storage::testing::LatencyStorage>(
        storage.counting, absl::Milliseconds(latency_ms));
  }

  std::string open_table =
      "| docs | split MiB | footer + hotcache KiB | open cold p50 ms (1 GET) | open warm p50 ms "
      "(0 GET) |\n|---|---|---|---|---|\n";
  std::string query_table =
      "| docs | query | cold p50 / p90 ms | cold GETs | cold KiB read | no-warmup cold p50 ms | "
      "no-warmup GETs | warm p50 / p90 ms | warm GETs |\n|---|---|---|---|---|---|---|---|---|\n";
  for (uint64_t num_docs : split_sizes) {
    if (num_docs > lines.size()) Die(fmt::format("--input holds fewer than {} lines", num_docs));
    auto processor =
        Must(shale::index::DocProcessor::Create(index_config.doc_mapping), "doc processor");
    auto writer = Must(shale::index::SplitWriter::Create(index_config.doc_mapping, {}), "writer");
    for (uint64_t i = 0; i < num_docs; ++i) {
      writer->AddDocument(Must(processor->Process(lines[i]), "process document"));
    }
    const shale::index::SerializedSplit split = Must(writer->Finish(), "finish split");
    const std::string split_id = shale::NewUlid();
    MustOk(shale::split::UploadSplit(*storage.counting, split_id, split), "upload split");
    const shale::split::SplitLocation location{split_id, split.bytes.size(), split.footer_start,
                                               split.footer_end};
    std::fprintf(stderr, "[s3-bench] %llu docs: split of %.1f MiB uploaded\n",
                 static_cast<unsigned long long>(num_docs),  // NOLINT(google-runtime-int)
                 static_cast<double>(split.bytes.size()) / (1 << 20));

    std::vector<Sample> open_cold;
    std::vector<Sample> open_warm;
    for (int run = 0; run < runs; ++run) {
      SplitOpener opener(SplitOpenerOptions{});
      open_cold.push_back(
          Measure(storage, [&] { Must(opener.Open(storage.outer, location), "open"); }));
      open_warm.push_back(
          Measure(storage, [&] { Must(opener.Open(storage.outer, location), "open"); }));
    }
    const Summary cold_open = Summarize(open_cold);
    const Summary warm_open = Summarize(open_warm);
    open_table += fmt::format("| {} | {:.1f} | {:.0f} | {:.2f} | {:.2f} |\n", num_docs,
                              static_cast<double>(split.bytes.size()) / (1 << 20),
                              static_cast<double>(split.footer_end - split.footer_start) / 1024,
                              cold_open.p50, warm_open.p50);

    for (const BenchQuery& query :
         MakeQueries(split, index_config.search_settings.default_search_fields)) {
      std::vector<Sample> cold;
      std::vector<Sample> no_warmup;
      std::vector<Sample> warm;
      SplitOpener warm_opener(SplitOpenerOptions{});
      RunLeaf(warm_opener, storage, location, query, true);  // fills its caches
      for (int run = 0; run < runs; ++run) {
        {
          SplitOpener opener(SplitOpenerOptions{});
          cold.push_back(
              Measure(storage, [&] { RunLeaf(opener, storage, location, query, true); }));
        }
        {
          SplitOpener opener(SplitOpenerOptions{});
          no_warmup.push_back(
              Measure(storage, [&] { RunLeaf(opener, storage, location, query, false); }));
        }
        warm.push_back(
            Measure(storage, [&] { RunLeaf(warm_opener, storage, location, query, true); }));
      }
      const Summary c = Summarize(cold);
      const Summary n = Summarize(no_warmup);
      const Summary w = Summarize(warm);
      query_table += fmt::format(
          "| {} | {} | {:.1f} / {:.1f} | {} | {:.0f} | {:.1f} | {} | {:.2f} / {:.2f} | {} |\n",
          num_docs, query.name, c.p50, c.p90, c.gets, static_cast<double>(c.bytes) / 1024, n.p50,
          n.gets, w.p50, w.p90, w.gets);
    }
  }
  std::printf(
      "Split open (GET latency added: %d ms)\n\n%s\nLeaf search (GET latency added: %d ms)\n\n%s",
      latency_ms, open_table.c_str(), latency_ms, query_table.c_str());
  return 0;
}
