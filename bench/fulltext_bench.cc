// shale_fulltext_bench: the search-benchmark-game query set against Shale, Xapian and Lucene++,
// side by side in one process, single thread, warm.
//
//   shale_fulltext_bench --corpus corpus.ndjson --queries queries.txt --work-dir DIR
//                        [--runs R] [--max-docs N] [--shale-only] [--kind KIND] [--dump FILE]
//
// --shale-only skips the peers (no Xapian / Lucene++ index is built: for profiling Shale alone);
// --kind keeps only the queries tagged KIND (e.g. phrase).
// --dump writes Shale's answer to every query to FILE (its COUNT, then its TOP_10 doc ids and
// BM25 scores as exact hex floats), so that two builds can be compared with diff.
//
// Indexes every line {"text": "..."} of the corpus into (a) one Shale split held in memory
// (SplitWriter, `default` tokenizer, positions), (b) a Xapian glass database in DIR/xapian and
// (c) a Lucene++ index in DIR/lucene (optimized to one segment). The corpus is already lowercased
// and reduced to ASCII alphanumeric words separated by spaces (bench/fulltext/build_corpus.py),
// and the peers are fed exactly those words (Xapian: one posting per word at its position;
// Lucene++: WhitespaceAnalyzer), so the three engines index the same terms at the same positions.
//
// Then, for COUNT (number of matches, exact) and TOP_10 (the 10 best by each engine's own
// relevance: BM25 for Shale and Xapian, Lucene 3's TF-IDF for Lucene++), a warm-up pass over the
// 962 queries and R timed passes; it prints per query kind (the tags of queries.txt) the mean /
// p50 / p99 latency of each engine and the ratios, and checks that the three engines' COUNTs
// agree, listing the queries where they do not.
//
// Query semantics are Lucene's (the benchmark's): `a b` is a union, `+a +b` an intersection,
// `"a b"` a phrase, `+a -b` a negation, `+a b` requires a and scores b. Shale parses each query
// with its own query language parser (src/query) on the default field `text`; where its syntax
// means something else (whitespace is AND there) the query is rewritten to the same meaning:
// a union becomes `a OR b`, and a mix of required and optional clauses is assembled as a
// BoolAst of the clauses the parser read.
//
// Use a Release build.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "index/split_format.h"
#include "lucene++/LuceneHeaders.h"
#include "nlohmann/json.hpp"
#include "query/query_language.h"
#include "xapian.h"

namespace {

constexpr char kField[] = "text";

// ---- the benchmark's Lucene syntax, parsed once for every engine ----------------------------

enum class Occur { kMust, kShould, kMustNot };

struct Clause {
  Occur occur = Occur::kShould;
  std::vector<std::string> words;  // several: a phrase
  std::string source;              // the clause's text without its +/- sign
};

struct BenchQuery {
  std::string text;
  std::vector<std::string> kinds;  // tags without ':' other than "global"
  std::vector<Clause> clauses;
};

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte)) {
      word.push_back(static_cast<char>(std::tolower(byte)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::vector<Clause> ParseLuceneSyntax(std::string_view text) {
  std::vector<Clause> clauses;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    Clause clause;
    if (text[pos] == '+' || text[pos] == '-') {
      clause.occur = text[pos] == '+' ? Occur::kMust : Occur::kMustNot;
      ++pos;
    }
    size_t end;
    if (pos < text.size() && text[pos] == '"') {
      end = text.find('"', pos + 1);
      end = end == std::string_view::npos ? text.size() : end + 1;
    } else {
      end = text.find(' ', pos);
      if (end == std::string_view::npos) end = text.size();
    }
    clause.source = std::string(text.substr(pos, end - pos));
    clause.words = Words(clause.source);
    pos = end;
    if (!clause.words.empty()) clauses.push_back(std::move(clause));
  }
  return clauses;
}

std::vector<BenchQuery> LoadQueries(const std::string& path) {
  std::vector<BenchQuery> queries;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json json = nlohmann::json::parse(line);
    BenchQuery query;
    query.text = json.at("query").get<std::string>();
    for (const auto& tag : json.at("tags")) {
      const std::string name = tag.get<std::string>();
      if (name.find(':') == std::string::npos && name != "global") query.kinds.push_back(name);
    }
    query.clauses = ParseLuceneSyntax(query.text);
    queries.push_back(std::move(query));
  }
  return queries;
}

// ---- engines ---------------------------------------------------------------------------------

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  virtual void Prepare(const BenchQuery& query) = 0;  // called once per query, before timing
  virtual uint64_t Count(size_t query_index) = 0;
  virtual uint64_t Top10(size_t query_index) = 0;  // returns the number of hits returned
};

class ShaleEngine final : public Engine {
 public:
  explicit ShaleEngine(std::unique_ptr<shale::index::SplitReader> reader)
      : reader_(std::move(reader)) {}
  ~ShaleEngine() override {
    if (dump_ != nullptr) std::fclose(dump_);
  }

  // Writes the answers of the first pass over the queries to `path` (see --dump).
  bool OpenDump(const std::string& path) {
    dump_ = std::fopen(path.c_str(), "w");
    return dump_ != nullptr;
  }
  std::string name() const override { return "shale"; }

  void Prepare(const BenchQuery& query) override {
    auto built = Build(query);
    if (!built.ok()) {
      fmt::print(stderr, "shale cannot build `{}`: {}\n", query.text,
                 std::string(built.status().message()));
      std::exit(1);
    }
    queries_.push_back(*std::move(built));
  }

  uint64_t Count(size_t query_index) override {
    shale::index::SplitSearchRequest request;
    request.top_k = 0;
    request.count_all = true;
    const uint64_t num_hits = Run(query_index, request).num_hits;
    if (dump_ != nullptr && dumped_counts_.insert(query_index).second) {
      fmt::print(dump_, "count {} {}\n", query_index, num_hits);
    }
    return num_hits;
  }

  uint64_t Top10(size_t query_index) override {
    shale::index::SplitSearchRequest request;
    request.top_k = 10;
    request.count_all = false;
    request.sort_by = {shale::index::SortField{"_score", shale::index::SortOrder::kDesc}};
    const shale::index::SplitSearchResult result = Run(query_index, request);
    if (dump_ != nullptr && dumped_tops_.insert(query_index).second) {
      fmt::print(dump_, "top10 {}", query_index);
      for (const shale::index::SplitHit& hit : result.hits) {
        fmt::print(dump_, " {}:{:a}", hit.doc_id, hit.score);
      }
      fmt::print(dump_, "\n");
    }
    return result.hits.size();
  }

 private:
  static absl::StatusOr<shale::index::QueryPtr> Build(const BenchQuery& query) {
    const std::vector<std::string> fields = {kField};
    bool has_must = false;
    bool has_should = false;
    for (const Clause& clause : query.clauses) {
      has_must |= clause.occur != Occur::kShould;
      has_should |= clause.occur == Occur::kShould;
    }
    if (!has_should) return shale::query::ParseUserQuery(query.text, fields);
    if (!has_must) {
      std::string union_text;
      for (const Clause& clause : query.clauses) {
        if (!union_text.empty()) union_text += " OR ";
        union_text += clause.source;
      }
      return shale::query::ParseUserQuery(union_text, fields);
    }
    shale::query::BoolAst bool_ast;
    for (const Clause& clause : query.clauses) {
      auto ast = shale::query::ParseQueryLanguage(clause.source);
      if (!ast.ok()) return ast.status();
      auto& target = clause.occur == Occur::kMust     ? bool_ast.must
                     : clause.occur == Occur::kShould ? bool_ast.should
                                                      : bool_ast.must_not;
      target.push_back(*std::move(ast));
    }
    return shale::query::BuildQuery(shale::query::QueryAst{std::move(bool_ast)}, fields);
  }

  shale::index::SplitSearchResult Run(size_t query_index,
                                      const shale::index::SplitSearchRequest& request) {
    auto result = reader_->Search(*queries_[query_index], request);
    if (!result.ok()) {
      fmt::print(stderr, "shale search failed: {}\n", std::string(result.status().message()));
      std::exit(1);
    }
    return *std::move(result);
  }

  std::unique_ptr<shale::index::SplitReader> reader_;
  std::vector<shale::index::QueryPtr> queries_;
  std::FILE* dump_ = nullptr;
  std::set<size_t> dumped_counts_;
  std::set<size_t> dumped_tops_;
};

class XapianEngine final : public Engine {
 public:
  explicit XapianEngine(const std::string& path)
      : db_(path), top_(db_), count_(db_), num_docs_(db_.get_doccount()) {
    count_.set_weighting_scheme(Xapian::BoolWeight());
    count_.set_docid_order(Xapian::Enquire::DONT_CARE);
  }
  std::string name() const override { return "xapian"; }

  void Prepare(const BenchQuery& query) override {
    std::vector<Xapian::Query> must;
    std::vector<Xapian::Query> should;
    std::vector<Xapian::Query> must_not;
    for (const Clause& clause : query.clauses) {
      Xapian::Query sub = clause.words.size() == 1
                              ? Xapian::Query(clause.words[0])
                              : Xapian::Query(Xapian::Query::OP_PHRASE, clause.words.begin(),
                                              clause.words.end(), clause.words.size());
      (clause.occur == Occur::kMust     ? must
       : clause.occur == Occur::kShould ? should
                                        : must_not)
          .push_back(std::move(sub));
    }
    Xapian::Query positive;
    if (!must.empty()) {
      positive = Xapian::Query(Xapian::Query::OP_AND, must.begin(), must.end());
      if (!should.empty()) {
        positive = Xapian::Query(Xapian::Query::OP_AND_MAYBE, positive,
                                 Xapian::Query(Xapian::Query::OP_OR, should.begin(), should.end()));
      }
    } else {
      positive = Xapian::Query(Xapian::Query::OP_OR, should.begin(), should.end());
    }
    if (!must_not.empty()) {
      positive = Xapian::Query(Xapian::Query::OP_AND_NOT, positive,
                               Xapian::Query(Xapian::Query::OP_OR, must_not.begin(), must_not.end()));
    }
    queries_.push_back(std::move(positive));
  }

  uint64_t Count(size_t query_index) override {
    count_.set_query(queries_[query_index]);
    // check_at_least = every document: the count is exact, not an estimate.
    return count_.get_mset(0, 0, num_docs_).get_matches_estimated();
  }

  uint64_t Top10(size_t query_index) override {
    top_.set_query(queries_[query_index]);
    return top_.get_mset(0, 10).size();
  }

 private:
  Xapian::Database db_;
  Xapian::Enquire top_;
  Xapian::Enquire count_;
  Xapian::doccount num_docs_;
  std::vector<Xapian::Query> queries_;
};

// Counts matches, in any doc order (Lucene 3 has no TotalHitCountCollector).
class CountingCollector final : public Lucene::Collector {
 public:
  void setScorer(const Lucene::ScorerPtr&) override {}
  void collect(int32_t) override { ++count_; }
  void setNextReader(const Lucene::IndexReaderPtr&, int32_t) override {}
  bool acceptsDocsOutOfOrder() override { return true; }
  uint64_t count() const { return count_; }
  void reset() { count_ = 0; }

 private:
  uint64_t count_ = 0;
};

class LuceneEngine final : public Engine {
 public:
  explicit LuceneEngine(const std::string& path)
      : reader_(Lucene::IndexReader::open(
            Lucene::FSDirectory::open(Lucene::StringUtils::toUnicode(path)), true)),
        searcher_(Lucene::newLucene<Lucene::IndexSearcher>(reader_)),
        collector_(Lucene::newLucene<CountingCollector>()) {}
  std::string name() const override { return "lucene++"; }

  void Prepare(const BenchQuery& query) override {
    Lucene::BooleanQueryPtr bool_query = Lucene::newLucene<Lucene::BooleanQuery>();
    for (const Clause& clause : query.clauses) {
      Lucene::QueryPtr sub;
      if (clause.words.size() == 1) {
        sub = Lucene::newLucene<Lucene::TermQuery>(Term(clause.words[0]));
      } else {
        Lucene::PhraseQueryPtr phrase = Lucene::newLucene<Lucene::PhraseQuery>();
        for (const std::string& word : clause.words) phrase->add(Term(word));
        sub = phrase;
      }
      bool_query->add(sub, clause.occur == Occur::kMust     ? Lucene::BooleanClause::MUST
                           : clause.occur == Occur::kShould ? Lucene::BooleanClause::SHOULD
                                                            : Lucene::BooleanClause::MUST_NOT);
    }
    queries_.push_back(bool_query);
  }

  uint64_t Count(size_t query_index) override {
    collector_->reset();
    searcher_->search(queries_[query_index], collector_);
    return collector_->count();
  }

  uint64_t Top10(size_t query_index) override {
    return searcher_->search(queries_[query_index], 10)->scoreDocs.size();
  }

 private:
  static Lucene::TermPtr Term(const std::string& word) {
    return Lucene::newLucene<Lucene::Term>(L"text", Lucene::StringUtils::toUnicode(word));
  }

  Lucene::IndexReaderPtr reader_;
  Lucene::IndexSearcherPtr searcher_;
  boost::shared_ptr<CountingCollector> collector_;
  std::vector<Lucene::QueryPtr> queries_;
};

// ---- indexing --------------------------------------------------------------------------------

double ThreadCpuSeconds() {
  timespec ts = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

uint64_t DirectoryBytes(const std::string& path) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

struct BuildReport {
  std::string engine;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  uint64_t bytes = 0;
};

void PrintBuild(const BuildReport& report, uint64_t num_docs) {
  fmt::print("| {} | {:.1f} | {:.1f} | {:.0f} | {:.1f} |\n", report.engine, report.wall_seconds,
             report.cpu_seconds, static_cast<double>(num_docs) / report.wall_seconds,
             static_cast<double>(report.bytes) / (1024.0 * 1024.0));
}

// The "text" value of each corpus line (the builder writes {"text":"words"} with no escapes).
std::vector<std::string_view> CorpusTexts(const std::string& corpus, uint64_t max_docs) {
  std::vector<std::string_view> texts;
  constexpr std::string_view kPrefix = "{\"text\":\"";
  size_t pos = 0;
  while (pos < corpus.size() && texts.size() < max_docs) {
    size_t end = corpus.find('\n', pos);
    if (end == std::string::npos) end = corpus.size();
    std::string_view line(corpus.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    if (!line.starts_with(kPrefix) || !line.ends_with("\"}")) {
      fmt::print(stderr, "unexpected corpus line (rebuild it with build_corpus.py): {}\n",
                 line.substr(0, 80));
      std::exit(1);
    }
    texts.push_back(line.substr(kPrefix.size(), line.size() - kPrefix.size() - 2));
  }
  return texts;
}

std::unique_ptr<shale::index::SplitReader> BuildShale(const std::string& corpus, uint64_t max_docs,
                                                      BuildReport& report) {
  using namespace shale::index;  // NOLINT(google-build-using-namespace): bench brevity
  DocMapping mapping;
  mapping.mode = DocMappingMode::kStrict;
  FieldMapping text;
  text.name = kField;
  text.tokenizer = "default";
  text.record = IndexRecordOption::kPosition;
  mapping.field_mappings.push_back(text);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  auto processor = DocProcessor::Create(mapping);
  auto writer = SplitWriter::Create(mapping, SplitWriterOptions{});
  if (!processor.ok() || !writer.ok()) {
    fmt::print(stderr, "bad mapping\n");
    std::exit(1);
  }
  size_t pos = 0;
  uint64_t num_docs = 0;
  while (pos < corpus.size() && num_docs < max_docs) {
    size_t end = corpus.find('\n', pos);
    if (end == std::string::npos) end = corpus.size();
    std::string_view line(corpus.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto doc = (*processor)->Process(line);
    if (!doc.ok()) {
      fmt::print(stderr, "bad corpus line: {}\n", std::string(doc.status().message()));
      std::exit(1);
    }
    (*writer)->AddDocument(*std::move(doc));
    ++num_docs;
  }
  auto split = (*writer)->Finish();
  if (!split.ok()) {
    fmt::print(stderr, "split finish failed: {}\n", std::string(split.status().message()));
    std::exit(1);
  }
  report = {"shale (one split, in memory)", Seconds(start), ThreadCpuSeconds() - cpu_start,
            split->bytes.size()};
  auto reader = SplitReader::Open(NewMemoryByteRangeSource("fulltext", std::move(split->bytes)));
  if (!reader.ok()) {
    fmt::print(stderr, "split open failed: {}\n", std::string(reader.status().message()));
    std::exit(1);
  }
  return *std::move(reader);
}

void BuildXapian(const std::vector<std::string_view>& texts, const std::string& path,
                 BuildReport& report) {
  std::filesystem::remove_all(path);
  setenv("XAPIAN_FLUSH_THRESHOLD", "200000", 1);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  {
    Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OVERWRITE);
    for (std::string_view text : texts) {
      Xapian::Document doc;
      Xapian::termpos position = 0;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        if (end > pos) doc.add_posting(std::string(text.substr(pos, end - pos)), ++position);
        pos = end + 1;
      }
      db.add_document(doc);
    }
    db.commit();
  }
  report = {"xapian (glass, on disk)", Seconds(start), ThreadCpuSeconds() - cpu_start,
            DirectoryBytes(path)};
}

void BuildLucene(const std::vector<std::string_view>& texts, const std::string& path,
                 BuildReport& report) {
  std::filesystem::remove_all(path);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  Lucene::IndexWriterPtr writer = Lucene::newLucene<Lucene::IndexWriter>(
      Lucene::FSDirectory::open(Lucene::StringUtils::toUnicode(path)),
      Lucene::newLucene<Lucene::WhitespaceAnalyzer>(), true,
      Lucene::IndexWriter::MaxFieldLengthUNLIMITED);
  writer->setRAMBufferSizeMB(256);
  for (std::string_view text : texts) {
    Lucene::DocumentPtr doc = Lucene::newLucene<Lucene::Document>();
    doc->add(Lucene::newLucene<Lucene::Field>(
        L"text", Lucene::StringUtils::toUnicode(std::string(text)), Lucene::Field::STORE_NO,
        Lucene::Field::INDEX_ANALYZED));
    writer->addDocument(doc);
  }
  writer->optimize();
  writer->close();
  report = {"lucene++ (one segment, on disk)", Seconds(start), ThreadCpuSeconds() - cpu_start,
            DirectoryBytes(path)};
}

// ---- timing and the report -------------------------------------------------------------------

enum class Mode { kCount, kTop10 };

struct Samples {
  std::vector<double> micros;
  double Mean() const {
    double sum = 0;
    for (double value : micros) sum += value;
    return micros.empty() ? 0 : sum / static_cast<double>(micros.size());
  }
  double Percentile(double fraction) const {
    if (micros.empty()) return 0;
    std::vector<double> sorted = micros;
    std::sort(sorted.begin(), sorted.end());
    const size_t index = std::min(sorted.size() - 1,
                                  static_cast<size_t>(fraction * static_cast<double>(sorted.size())));
    return sorted[index];
  }
};

// Per query: the mean over the timed runs of the wall-clock and of the thread's CPU time, in
// microseconds (on a loaded machine the CPU time is the steadier of the two: it leaves out the
// time the thread waited for a core). Also the result of the last run.
struct ModeRun {
  std::vector<double> micros;
  std::vector<double> cpu_micros;
  std::vector<uint64_t> results;
  double cpu_seconds = 0;
  double wall_seconds = 0;
};

ModeRun RunMode(Engine& engine, Mode mode, size_t num_queries, int runs) {
  ModeRun out;
  out.micros.assign(num_queries, 0.0);
  out.cpu_micros.assign(num_queries, 0.0);
  out.results.assign(num_queries, 0);
  auto once = [&](size_t q) {
    return mode == Mode::kCount ? engine.Count(q) : engine.Top10(q);
  };
  for (size_t q = 0; q < num_queries; ++q) out.results[q] = once(q);  // warm-up pass
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (int run = 0; run < runs; ++run) {
    for (size_t q = 0; q < num_queries; ++q) {
      const auto query_start = std::chrono::steady_clock::now();
      const double query_cpu_start = ThreadCpuSeconds();
      out.results[q] = once(q);
      out.cpu_micros[q] += (ThreadCpuSeconds() - query_cpu_start) * 1e6;
      out.micros[q] += std::chrono::duration<double, std::micro>(
                           std::chrono::steady_clock::now() - query_start)
                           .count();
    }
  }
  out.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  out.wall_seconds = Seconds(start);
  for (double& micros : out.micros) micros /= runs;
  for (double& micros : out.cpu_micros) micros /= runs;
  return out;
}

// One row per query kind: mean / p50 / p99 of `column` for each engine, and each peer's mean over
// Shale's.
void PrintLatencyTable(const std::string& title, const std::vector<std::unique_ptr<Engine>>& engines,
                       const std::vector<BenchQuery>& queries,
                       const std::vector<std::string>& kinds, const std::vector<ModeRun>& results,
                       std::vector<double> ModeRun::*column) {
  fmt::print("### {}\n\n| kind | queries |", title);
  for (const auto& engine : engines) fmt::print(" {} mean / p50 / p99 µs |", engine->name());
  for (size_t e = 1; e < engines.size(); ++e) fmt::print(" {} / shale |", engines[e]->name());
  fmt::print("\n|---|---|");
  for (size_t c = 0; c < 2 * engines.size() - 1; ++c) fmt::print("---|");
  fmt::print("\n");
  for (const std::string& kind : kinds) {
    std::vector<Samples> per_engine(engines.size());
    size_t count = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      const auto& query_kinds = queries[q].kinds;
      if (kind != "all" &&
          std::find(query_kinds.begin(), query_kinds.end(), kind) == query_kinds.end()) {
        continue;
      }
      ++count;
      for (size_t e = 0; e < engines.size(); ++e) {
        per_engine[e].micros.push_back((results[e].*column)[q]);
      }
    }
    fmt::print("| {} | {} |", kind, count);
    for (const Samples& samples : per_engine) {
      fmt::print(" {:.0f} / {:.0f} / {:.0f} |", samples.Mean(), samples.Percentile(0.5),
                 samples.Percentile(0.99));
    }
    for (size_t e = 1; e < engines.size(); ++e) {
      fmt::print(" {:.2f}× |", per_engine[e].Mean() / per_engine[0].Mean());
    }
    fmt::print("\n");
  }
  fmt::print("\n");
}

int Usage() {
  std::fprintf(stderr,
               "usage: shale_fulltext_bench --corpus FILE.ndjson --queries queries.txt "
               "--work-dir DIR [--runs R] [--max-docs N]\n");
  return 2;
}

int Main(int argc, char** argv) {
  std::string corpus_path;
  std::string queries_path;
  std::string work_dir;
  int runs = 3;
  uint64_t max_docs = UINT64_MAX;
  std::string only_kind;
  bool shale_only = false;
  std::string dump_path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc && arg != "--shale-only") return Usage();
    if (arg == "--corpus") {
      corpus_path = argv[++i];
    } else if (arg == "--queries") {
      queries_path = argv[++i];
    } else if (arg == "--work-dir") {
      work_dir = argv[++i];
    } else if (arg == "--runs") {
      runs = std::atoi(argv[++i]);
    } else if (arg == "--max-docs") {
      max_docs = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--kind") {
      only_kind = argv[++i];
    } else if (arg == "--dump") {
      dump_path = argv[++i];
    } else if (arg == "--shale-only") {
      shale_only = true;
    } else {
      return Usage();
    }
  }
  if (corpus_path.empty() || queries_path.empty() || work_dir.empty() || runs < 1) return Usage();

  std::string corpus;
  {
    std::ifstream in(corpus_path, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "cannot open {}\n", corpus_path);
      return 1;
    }
    corpus.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<BenchQuery> queries = LoadQueries(queries_path);
  if (!only_kind.empty()) {
    std::erase_if(queries, [&](const BenchQuery& query) {
      return std::find(query.kinds.begin(), query.kinds.end(), only_kind) == query.kinds.end();
    });
  }
  const std::vector<std::string_view> texts = CorpusTexts(corpus, max_docs);
  std::filesystem::create_directories(work_dir);
  fmt::print("corpus {}: {} docs, {:.1f} MiB; {} queries; {} timed runs after one warm-up pass\n",
             corpus_path, texts.size(), static_cast<double>(corpus.size()) / (1024.0 * 1024.0),
             queries.size(), runs);
  fmt::print("load average at start: {}\n\n", LoadAverage());

  std::vector<BuildReport> builds(shale_only ? 1 : 3);
  auto shale_reader = BuildShale(corpus, texts.size(), builds[0]);
  if (!shale_only) {
    BuildXapian(texts, work_dir + "/xapian", builds[1]);
    BuildLucene(texts, work_dir + "/lucene", builds[2]);
  }
  fmt::print("| index build | wall s | CPU s | docs/s | index MiB |\n|---|---|---|---|---|\n");
  for (const BuildReport& report : builds) PrintBuild(report, texts.size());
  fmt::print("\n");

  std::vector<std::unique_ptr<Engine>> engines;
  auto shale_engine = std::make_unique<ShaleEngine>(std::move(shale_reader));
  if (!dump_path.empty() && !shale_engine->OpenDump(dump_path)) {
    fmt::print(stderr, "cannot write {}\n", dump_path);
    return 1;
  }
  engines.push_back(std::move(shale_engine));
  if (!shale_only) {
    engines.push_back(std::make_unique<XapianEngine>(work_dir + "/xapian"));
    engines.push_back(std::make_unique<LuceneEngine>(work_dir + "/lucene"));
  }
  for (auto& engine : engines) {
    for (const BenchQuery& query : queries) engine->Prepare(query);
  }

  std::vector<std::string> kinds = {"all"};
  for (const BenchQuery& query : queries) {
    for (const std::string& kind : query.kinds) {
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    }
  }

  int exit_code = 0;
  for (Mode mode : {Mode::kCount, Mode::kTop10}) {
    const char* mode_name = mode == Mode::kCount ? "COUNT" : "TOP_10";
    std::vector<ModeRun> results;
    for (auto& engine : engines) results.push_back(RunMode(*engine, mode, queries.size(), runs));
    PrintLatencyTable(fmt::format("{}, wall-clock time per query", mode_name), engines, queries,
                      kinds, results, &ModeRun::micros);
    PrintLatencyTable(fmt::format("{}, CPU time per query", mode_name), engines, queries, kinds,
                      results, &ModeRun::cpu_micros);
    fmt::print("| {} pass ({} runs) | wall s | CPU s |\n|---|---|---|\n", mode_name, runs);
    for (size_t e = 0; e < engines.size(); ++e) {
      fmt::print("| {} | {:.2f} | {:.2f} |\n", engines[e]->name(), results[e].wall_seconds,
                 results[e].cpu_seconds);
    }
    fmt::print("\n");
    // Agreement: COUNTs must be equal; TOP_10 sizes must be min(10, count).
    size_t disagreements = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      bool agree = true;
      for (size_t e = 1; e < engines.size(); ++e) {
        agree &= results[e].results[q] == results[0].results[q];
      }
      if (agree) continue;
      if (++disagreements <= 20) {
        fmt::print("{} disagreement on `{}`:", mode_name, queries[q].text);
        for (size_t e = 0; e < engines.size(); ++e) {
          fmt::print(" {}={}", engines[e]->name(), results[e].results[q]);
        }
        fmt::print("\n");
      }
    }
    fmt::print("{}: the engines agree on {} of {} queries\n\n", mode_name,
               queries.size() - disagreements, queries.size());
    if (disagreements > 0) exit_code = 1;
  }
  fmt::print("load average at end: {}\n", LoadAverage());
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const Xapian::Error& error) {
    fmt::print(stderr, "xapian: {}\n", error.get_description());
  } catch (const Lucene::LuceneException& error) {
    fmt::print(stderr, "lucene++: {}\n", Lucene::StringUtils::toUTF8(error.getError()));
  } catch (const std::exception& error) {
    fmt::print(stderr, "error: {}\n", error.what());
  }
  return 1;
}
