// shale_index_bench: builds one split single-threaded from an NDJSON file with the index engine
// (DocProcessor + SplitWriter + Finish) and prints throughput, compression ratio and peak RSS.
//
//   shale_index_bench FILE.ndjson [--mapping logs|dynamic] [--record basic|freq|position]
//   shale_index_bench --synthetic N [--write FILE.ndjson] [...]   generated log lines instead
//   --queries R   afterwards, time a few queries on the `logs` mapping (R warm runs each after one
//                 untimed run, in memory, one thread): mean, p50 and p99 per query
//   --merge K     afterwards, build K splits of slices of the input and time MergeSplits of them
//                 (in memory; with --merge-dir DIR, written there and read with a pread per read)
//   --docstore-level L   zstd level of the doc store (default: SplitWriterOptions')
//   --aggs R      afterwards, time aggregations over every doc of the split (R runs each)
//   --dump FILE   write the finished split's bytes to FILE (to compare writers byte for byte)
//   --docstore-threads T   compress doc store blocks on a pool of T threads (docstore_executor)
//   --index-config FILE.yaml   the doc mapping and doc store settings of an index config (e.g.
//                 bench/index-config.yaml, the node benchmark's) instead of --mapping
//
// The `logs` mapping: timestamp (datetime, fast, the timestamp field), severity_text (raw, fast),
// body (default tokenizer, `--record`), attributes/resource objects captured dynamically.
// Use a Release build (-DCMAKE_BUILD_TYPE=Release) for meaningful figures.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fmt/format.h"

#include "common/thread_pool.h"
#include "config/index_config.h"
#include "index/split_format.h"
#include "index/split_merger.h"
#include "index/testing/aggregation_spec.h"

namespace {

using shale::index::DocMapping;
using shale::index::FieldMapping;
using shale::index::FieldType;
using shale::index::IndexRecordOption;

DocMapping LogsMapping(IndexRecordOption record) {
  DocMapping mapping;
  mapping.mode = shale::index::DocMappingMode::kDynamic;
  FieldMapping timestamp;
  timestamp.name = "timestamp";
  timestamp.type = FieldType::kDatetime;
  timestamp.fast = true;
  mapping.field_mappings.push_back(timestamp);
  FieldMapping severity;
  severity.name = "severity_text";
  severity.tokenizer = "raw";
  severity.fast = true;
  mapping.field_mappings.push_back(severity);
  FieldMapping body;
  body.name = "body";
  body.tokenizer = "default";
  body.record = record;
  mapping.field_mappings.push_back(body);
  mapping.timestamp_field = "timestamp";
  return mapping;
}

std::string SyntheticLines(uint64_t count) {
  static const char* const kSeverities[] = {"INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"};
  static const char* const kServices[] = {"api", "auth", "billing", "search", "frontend"};
  static const char* const kWords[] = {
      "request",  "completed", "failed", "user",    "session",  "timeout", "connection",
      "cache",    "miss",      "hit",    "query",   "latency",  "retry",   "upstream",
      "database", "index",     "shard",  "refused", "accepted", "token",   "expired"};
  std::mt19937_64 rng(42);
  std::string out;
  out.reserve(count * 260);
  int64_t ts = 1'700'000'000'000;
  for (uint64_t i = 0; i < count; ++i) {
    ts += static_cast<int64_t>(rng() % 50);
    std::string body;
    const uint64_t words = 6 + rng() % 12;
    for (uint64_t w = 0; w < words; ++w) {
      if (w > 0) body += ' ';
      body += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    }
    body += fmt::format(" id={}", rng() % 100'000);
    out += fmt::format(
        R"({{"timestamp":{},"severity_text":"{}","body":"{}","resource":{{"service":"{}","host":"node-{}"}},"attributes":{{"status":{},"latency_ms":{},"user_id":{}}}}})",
        ts / 1000, kSeverities[rng() % 6], body, kServices[rng() % 5], rng() % 40,
        200 + 100 * (rng() % 4), static_cast<double>(rng() % 100'000) / 100.0, rng() % 5000);
    out += '\n';
  }
  return out;
}

// User + system CPU seconds of this process so far (the machine is shared: wall clock is noisy,
// CPU time is not).
// CPU time (user + system) of the process, or of the calling thread only.
double CpuSeconds(int who = RUSAGE_SELF) {
  struct rusage usage = {};
  getrusage(who, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double PeakRssMiB() {
  struct rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB on Linux
}

shale::index::QueryPtr Wrap(auto node) {
  auto query = std::make_unique<shale::index::Query>();
  query->node = std::move(node);
  return query;
}

// Times a few typical log queries on the built split (all reads from memory).
void RunQueries(const std::string& split_bytes, int runs) {
  using namespace shale::index;  // NOLINT(google-build-using-namespace): bench brevity
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("bench", split_bytes));
  if (!reader.ok()) {
    fmt::print("cannot open split: {}\n", std::string(reader.status().message()));
    return;
  }
  struct NamedQuery {
    std::string name;
    QueryPtr query;
    std::vector<SortField> sort_by;
  };
  std::vector<NamedQuery> queries;
  queries.push_back({"term body:timeout", MakeTermQuery("body", std::string("timeout")), {}});
  {
    BoolQuery two_terms;
    two_terms.must.push_back(MakeTermQuery("body", std::string("timeout")));
    two_terms.must.push_back(MakeTermQuery("body", std::string("upstream")));
    queries.push_back({"AND body:timeout body:upstream", Wrap(std::move(two_terms)), {}});
  }
  {
    BoolQuery bool_query;
    bool_query.must.push_back(MakeTermQuery("body", std::string("timeout")));
    bool_query.must.push_back(MakeTermQuery("severity_text", std::string("ERROR")));
    bool_query.filter.push_back(MakeTermQuery("resource.service", std::string("api")));
    queries.push_back({"bool 3 terms", Wrap(std::move(bool_query)), {}});
  }
  {
    BoolQuery sparse;
    sparse.must.push_back(MakeTermQuery("body", std::string("4242")));
    sparse.filter.push_back(MakeTermQuery("severity_text", std::string("INFO")));
    sparse.filter.push_back(MakeTermQuery("body", std::string("request")));
    queries.push_back({"bool rare+dense terms", Wrap(std::move(sparse)), {}});
  }
  queries.push_back({"phrase \"cache miss\"", Wrap(PhraseQuery{"body", {"cache", "miss"}, 0}), {}});
  {
    BoolQuery scored;
    scored.should.push_back(MakeTermQuery("body", std::string("connection")));
    scored.should.push_back(MakeTermQuery("body", std::string("refused")));
    queries.push_back({"bm25 top10 connection|refused",
                       Wrap(std::move(scored)),
                       {SortField{"_score", SortOrder::kDesc}}});
  }
  for (const NamedQuery& named : queries) {
    SplitSearchRequest request;
    request.top_k = 10;
    request.sort_by = named.sort_by;
    uint64_t hits = 0;
    std::vector<double> millis;  // one per run, warm: the first (untimed) run loads the split
    for (int run = 0; run <= runs; ++run) {
      const auto start = std::chrono::steady_clock::now();
      auto result = (*reader)->Search(*named.query, request);
      if (!result.ok()) {
        fmt::print("{}: {}\n", named.name, std::string(result.status().message()));
        break;
      }
      if (run > 0) {
        millis.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
      }
      hits = result->num_hits;
    }
    if (millis.empty()) continue;
    double sum = 0;
    for (double ms : millis) sum += ms;
    std::sort(millis.begin(), millis.end());
    auto percentile = [&](double fraction) {
      return millis[std::min(millis.size() - 1,
                             static_cast<size_t>(fraction * static_cast<double>(millis.size())))];
    };
    fmt::print("query {:<32} {:>9} hits  mean {:>8.3f}  p50 {:>8.3f}  p99 {:>8.3f} ms\n",
               named.name, hits, sum / static_cast<double>(millis.size()), percentile(0.5),
               percentile(0.99));
  }
}

// Wall and CPU time (of the calling thread) spent in SplitWriter::AddDocument: the part of
// ingest that runs under the index's lock in a node.
struct AddTimes {
  double wall_seconds = 0;
  double cpu_seconds = 0;
};

double ThreadCpuSeconds() {
  timespec now = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Processes and adds every non-empty line of `lines` to `writer`, counting docs, rejected lines
// and raw bytes. With `add_times`, docs are processed by batches of 4,096, each then added in a
// timed loop (as in a node, where docs are processed before the writer's lock is taken).
void AddLines(std::string_view lines, const shale::index::DocProcessor& processor,
              shale::index::SplitWriter& writer, uint64_t& num_docs, uint64_t& num_errors,
              uint64_t& raw_bytes, AddTimes* add_times = nullptr) {
  constexpr size_t kBatchDocs = 4'096;
  std::vector<shale::index::ProcessedDoc> batch;
  auto add_batch = [&] {
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = ThreadCpuSeconds();
    for (auto& doc : batch) writer.AddDocument(std::move(doc));
    add_times->cpu_seconds += ThreadCpuSeconds() - cpu_start;
    add_times->wall_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    batch.clear();
  };
  size_t line_start = 0;
  while (line_start < lines.size()) {
    size_t line_end = lines.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = lines.size();
    std::string_view line = lines.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.empty()) continue;
    raw_bytes += line.size();
    auto doc = processor.Process(line);
    if (!doc.ok()) {
      ++num_errors;
      continue;
    }
    ++num_docs;
    if (add_times == nullptr) {
      writer.AddDocument(*std::move(doc));
      continue;
    }
    batch.push_back(*std::move(doc));
    if (batch.size() == kBatchDocs) add_batch();
  }
  if (add_times != nullptr) add_batch();
}

// A split file read like LocalStorage::GetSlice does: open, pread, close on every read.
class FileByteRangeSource final : public shale::index::ByteRangeSource {
 public:
  FileByteRangeSource(std::string path, uint64_t size) : path_(std::move(path)), size_(size) {}
  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    const int fd = open(path_.c_str(), O_RDONLY);
    if (fd < 0) return absl::NotFoundError(path_);
    std::string bytes(length, '\0');
    const ssize_t got = pread(fd, bytes.data(), length, static_cast<off_t>(offset));
    close(fd);
    if (got != static_cast<ssize_t>(length)) return absl::DataLossError("short read");
    return bytes;
  }
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  uint64_t size_;
};

// --merge K: builds K splits of consecutive slices of the input, times MergeSplits of the K, and
// compares the result with the split built from the whole input (`single`).
int RunMergeBench(const shale::index::DocMapping& mapping, const std::string& input, int num_inputs,
                  const std::string& merge_dir, const shale::index::SerializedSplit& single) {
  using namespace shale::index;  // NOLINT(google-build-using-namespace): bench brevity
  auto processor = DocProcessor::Create(mapping);
  if (!processor.ok()) return 1;
  std::vector<SerializedSplit> splits;
  uint64_t input_bytes = 0;
  size_t begin = 0;
  for (int i = 0; i < num_inputs; ++i) {
    size_t end = i + 1 == num_inputs ? input.size() : (input.size() * (i + 1)) / num_inputs;
    while (end < input.size() && input[end - 1] != '\n') ++end;
    auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
    if (!writer.ok()) return 1;
    uint64_t num_docs = 0;
    uint64_t num_errors = 0;
    uint64_t raw_bytes = 0;
    AddLines(std::string_view(input).substr(begin, end - begin), **processor, **writer, num_docs,
             num_errors, raw_bytes);
    auto split = (*writer)->Finish();
    if (!split.ok()) return 1;
    input_bytes += split->bytes.size();
    splits.push_back(*std::move(split));
    begin = end;
  }
  std::vector<MergeInput> inputs;
  for (size_t i = 0; i < splits.size(); ++i) {
    MergeInput merge_input;
    if (merge_dir.empty()) {
      merge_input.source = NewMemoryByteRangeSource(fmt::format("input-{}", i), splits[i].bytes);
    } else {
      const std::string path = fmt::format("{}/input-{}.split", merge_dir, i);
      std::ofstream(path, std::ios::binary) << splits[i].bytes;
      merge_input.source = std::make_shared<FileByteRangeSource>(path, splits[i].bytes.size());
    }
    merge_input.uncompressed_docs_size_in_bytes = splits[i].uncompressed_docs_size_in_bytes;
    merge_input.time_range_start_nanos = splits[i].time_range_start_nanos;
    merge_input.time_range_end_nanos = splits[i].time_range_end_nanos;
    merge_input.tags = splits[i].tags;
    inputs.push_back(std::move(merge_input));
  }
  const double rss_before = PeakRssMiB();
  const auto start = std::chrono::steady_clock::now();
  auto merged = MergeSplits(mapping, inputs, SplitWriterOptions{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!merged.ok()) {
    fmt::print("merge failed: {}\n", std::string(merged.status().message()));
    return 1;
  }
  const double mib = static_cast<double>(input_bytes) / (1024.0 * 1024.0);
  fmt::print("merge           {} splits, {:.1f} MiB -> {:.1f} MiB in {:.2f} s\n", num_inputs, mib,
             static_cast<double>(merged->bytes.size()) / (1024.0 * 1024.0), seconds);
  fmt::print("merge rate      {:.1f} MiB/s of input splits, {:.0f} docs/s\n", mib / seconds,
             static_cast<double>(merged->num_docs) / seconds);
  fmt::print("peak rss        {:.1f} MiB before the merge, {:.1f} MiB after\n", rss_before,
             PeakRssMiB());
  fmt::print("vs one split    {:.1f} MiB built from all docs ({} docs, merged {})\n",
             static_cast<double>(single.bytes.size()) / (1024.0 * 1024.0), single.num_docs,
             merged->num_docs);
  return merged->num_docs == single.num_docs ? 0 : 1;
}

// Times typical aggregations over all the docs of the built split (all reads from memory; the
// first run loads the fast field columns).
void RunAggregations(const std::string& split_bytes, int runs) {
  using namespace shale::index;  // NOLINT(google-build-using-namespace): bench brevity
  using testing::Spec;
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("bench", split_bytes));
  if (!reader.ok()) {
    fmt::print("cannot open split: {}\n", std::string(reader.status().message()));
    return;
  }
  std::vector<AggregationSpec> cases;
  cases.push_back(Spec("terms severity_text", AggregationKind::kTerms, "severity_text"));
  cases.push_back(Spec("terms resource.host", AggregationKind::kTerms, "resource.host"));
  cases.push_back(
      Spec("terms attributes.user_id", AggregationKind::kTerms, "attributes.user_id"));
  {
    AggregationSpec spec =
        Spec("terms service > avg latency", AggregationKind::kTerms, "resource.service");
    spec.sub_aggregations.push_back(Spec("avg", AggregationKind::kAvg, "attributes.latency_ms"));
    cases.push_back(spec);
  }
  {
    AggregationSpec spec =
        Spec("date_histogram 1m", AggregationKind::kDateHistogram, "timestamp");
    spec.date_interval.fixed_interval_millis = 60'000;
    cases.push_back(spec);
  }
  {
    AggregationSpec spec =
        Spec("date_histogram hour Paris", AggregationKind::kDateHistogram, "timestamp");
    spec.date_interval.calendar = CalendarUnit::kHour;
    spec.date_interval.time_zone = "Europe/Paris";
    cases.push_back(spec);
  }
  cases.push_back(
      Spec("stats latency", AggregationKind::kExtendedStats, "attributes.latency_ms"));
  cases.push_back(
      Spec("cardinality user_id", AggregationKind::kCardinality, "attributes.user_id"));
  cases.push_back(
      Spec("percentiles latency", AggregationKind::kPercentiles, "attributes.latency_ms"));
  {
    AggregationSpec spec = Spec("composite service x severity", AggregationKind::kComposite, "");
    spec.size = 100;
    KeySource service;
    service.name = "service";
    service.field = "resource.service";
    KeySource severity;
    severity.name = "severity";
    severity.field = "severity_text";
    spec.sources = {service, severity};
    cases.push_back(spec);
  }
  const QueryPtr all = MakeAllQuery();
  for (const AggregationSpec& spec : cases) {
    AggregationRequest request;
    request.aggregations.push_back(spec);
    if (!(*reader)->Aggregate(*all, SplitSearchRequest{}, request).ok()) {
      fmt::print("{}: failed\n", spec.name);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    for (int run = 0; run < runs; ++run) {
      auto result = (*reader)->Aggregate(*all, SplitSearchRequest{}, request);
      if (!result.ok()) {
        fmt::print("{}: {}\n", spec.name, std::string(result.status().message()));
        break;
      }
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count() /
        runs;
    fmt::print("agg   {:<32} {:>9.3f} ms {:>7.1f} ns/doc\n", spec.name, ms,
               ms * 1e6 / static_cast<double>((*reader)->num_docs()));
  }
}

int Usage() {
  std::fprintf(stderr,
               "usage: shale_index_bench FILE.ndjson | --synthetic N [--write FILE]\n"
               "       [--dump SPLIT_FILE] [--docstore-threads T] [--index-config FILE.yaml]\n"
               "       [--mapping logs|dynamic] [--record basic|freq|position] [--queries R]\n"
               "       [--aggs R] [--merge K [--merge-dir DIR]] [--docstore-level L]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::string write_path;
  std::string dump_path;
  int docstore_threads = 0;
  std::string index_config_path;
  uint64_t synthetic = 0;
  std::string mapping_name = "logs";
  IndexRecordOption record = IndexRecordOption::kPosition;
  int query_runs = 0;
  int merge_inputs = 0;
  std::string merge_dir;
  int agg_runs = 0;
  shale::index::SplitWriterOptions writer_options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--synthetic" && has_value) {
      synthetic = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--queries" && has_value) {
      query_runs = std::atoi(argv[++i]);
    } else if (arg == "--merge" && has_value) {
      merge_inputs = std::atoi(argv[++i]);
      if (merge_inputs < 1) return Usage();
    } else if (arg == "--merge-dir" && has_value) {
      merge_dir = argv[++i];
    } else if (arg == "--aggs" && has_value) {
      agg_runs = std::atoi(argv[++i]);
    } else if (arg == "--docstore-level" && has_value) {
      writer_options.docstore_compression_level = std::atoi(argv[++i]);
    } else if (arg == "--write" && has_value) {
      write_path = argv[++i];
    } else if (arg == "--dump" && has_value) {
      dump_path = argv[++i];
    } else if (arg == "--index-config" && has_value) {
      index_config_path = argv[++i];
    } else if (arg == "--docstore-threads" && has_value) {
      docstore_threads = std::atoi(argv[++i]);
      if (docstore_threads < 1) return Usage();
    } else if (arg == "--mapping" && has_value) {
      mapping_name = argv[++i];
    } else if (arg == "--record" && has_value) {
      std::string_view value = argv[++i];
      if (value == "basic") {
        record = IndexRecordOption::kBasic;
      } else if (value == "freq") {
        record = IndexRecordOption::kFreq;
      } else if (value == "position") {
        record = IndexRecordOption::kPosition;
      } else {
        return Usage();
      }
    } else if (!arg.starts_with("--") && path.empty()) {
      path = arg;
    } else {
      return Usage();
    }
  }
  if (path.empty() == (synthetic == 0)) return Usage();

  std::string input;
  if (synthetic > 0) {
    input = SyntheticLines(synthetic);
    if (!write_path.empty()) std::ofstream(write_path, std::ios::binary) << input;
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", path.c_str());
      return 1;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    input = buffer.str();
  }

  DocMapping mapping;
  if (!index_config_path.empty()) {
    std::ifstream config_file(index_config_path, std::ios::binary);
    std::stringstream config_text;
    config_text << config_file.rdbuf();
    auto config = shale::config::ParseIndexConfigYaml(config_text.str());
    if (!config_file || !config.ok()) {
      std::fprintf(stderr, "bad index config %s: %s\n", index_config_path.c_str(),
                   config.ok() ? "unreadable" : std::string(config.status().message()).c_str());
      return 1;
    }
    mapping = config->doc_mapping;
    writer_options.docstore_compression_level =
        config->indexing_settings.docstore_compression_level;
    writer_options.docstore_blocksize = config->indexing_settings.docstore_blocksize;
  } else if (mapping_name == "logs") {
    mapping = LogsMapping(record);
  } else if (mapping_name != "dynamic") {
    return Usage();
  }
  std::unique_ptr<shale::ThreadPool> docstore_pool;
  if (docstore_threads > 0) {
    docstore_pool = std::make_unique<shale::ThreadPool>("docstore", docstore_threads);
    writer_options.docstore_executor = [pool = docstore_pool.get()](std::function<void()> task) {
      return pool->Submit(std::move(task));
    };
  }
  auto processor = shale::index::DocProcessor::Create(mapping);
  auto writer = shale::index::SplitWriter::Create(mapping, writer_options);
  if (!processor.ok() || !writer.ok()) {
    std::fprintf(
        stderr, "bad mapping: %s\n",
        std::string(processor.ok() ? writer.status().message() : processor.status().message())
            .c_str());
    return 1;
  }

  const double cpu_start = CpuSeconds();
  const double thread_cpu_start = CpuSeconds(RUSAGE_THREAD);
  const auto start = std::chrono::steady_clock::now();
  uint64_t num_docs = 0;
  uint64_t num_errors = 0;
  uint64_t raw_bytes = 0;
  AddTimes add_times;
  AddLines(input, **processor, **writer, num_docs, num_errors, raw_bytes, &add_times);
  const auto indexed = std::chrono::steady_clock::now();
  const uint64_t writer_memory = (*writer)->memory_usage_bytes();
  auto split = (*writer)->Finish();
  const auto finished = std::chrono::steady_clock::now();
  const double cpu_seconds = CpuSeconds() - cpu_start;
  const double thread_cpu_seconds = CpuSeconds(RUSAGE_THREAD) - thread_cpu_start;
  if (!split.ok()) {
    std::fprintf(stderr, "finish failed: %s\n", std::string(split.status().message()).c_str());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(finished - start).count();
  const double finish_seconds = std::chrono::duration<double>(finished - indexed).count();
  const double mib = static_cast<double>(raw_bytes) / (1024.0 * 1024.0);
  fmt::print("docs            {} ({} rejected)\n", num_docs, num_errors);
  fmt::print("raw             {:.1f} MiB\n", mib);
  fmt::print("time            {:.2f} s (finish {:.2f} s)\n", seconds, finish_seconds);
  fmt::print("AddDocument     {:.2f} s wall, {:.2f} s CPU of its thread\n", add_times.wall_seconds,
             add_times.cpu_seconds);
  fmt::print("throughput      {:.1f} MiB/s, {:.0f} docs/s\n", mib / seconds,
             static_cast<double>(num_docs) / seconds);
  fmt::print("cpu             {:.2f} s user+sys: {:.1f} MiB/s, {:.1f} MB/s per CPU-second\n",
             cpu_seconds, mib / cpu_seconds, static_cast<double>(raw_bytes) / 1e6 / cpu_seconds);
  if (docstore_threads > 0) {
    fmt::print("cpu of adder    {:.2f} s (the rest compressed the doc store)\n",
               thread_cpu_seconds);
  }
  fmt::print("split           {:.1f} MiB, {:.3f} of raw\n",
             static_cast<double>(split->bytes.size()) / (1024.0 * 1024.0),
             static_cast<double>(split->bytes.size()) / static_cast<double>(raw_bytes));
  fmt::print("peak rss        {:.1f} MiB (input held in memory: {:.1f} MiB)\n", PeakRssMiB(),
             static_cast<double>(input.size()) / (1024.0 * 1024.0));
  fmt::print("writer memory   {:.1f} MiB (memory_usage_bytes before Finish)\n",
             static_cast<double>(writer_memory) / (1024.0 * 1024.0));
  if (!dump_path.empty()) std::ofstream(dump_path, std::ios::binary) << split->bytes;
  if (query_runs > 0) RunQueries(split->bytes, query_runs);
  if (agg_runs > 0) RunAggregations(split->bytes, agg_runs);
  if (merge_inputs > 0) return RunMergeBench(mapping, input, merge_inputs, merge_dir, *split);
  return 0;
}
