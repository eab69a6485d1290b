// The engine's public surface for building and reading one split. See docs/format/split.md.
//
// Building: DocProcessor turns JSON text into ProcessedDocs (validation against the DocMapping,
// typed conversion, timestamp and tag extraction). SplitWriter accumulates processed docs in
// memory and Finish() serializes the whole split file (sections + footer with a versioned file
// table and the hotcache).
//
// Reading: SplitReader::Open reads the footer through a ByteRangeSource (one read of the tail
// when no hotcache bytes are given, none when they are) and afterwards reads only the byte ranges
// a query needs. The engine does no I/O of its own.
//
// Thread safety: DocProcessor::Process(Into) and SplitReader methods are const and thread-safe.
// SplitWriter is single-threaded (it may hand doc store compression to an executor: see
// SplitWriterOptions::docstore_executor).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "index/aggregation.h"
#include "index/doc_mapping.h"
#include "index/query.h"

namespace shale::index {

class ProcessedDocsImpl;

// Documents after doc processing, in order. Their values are held together in a few buffers,
// so that a batch of many documents costs no allocation per document, and a batch cleared with
// Clear() is refilled without any. Move-only.
class ProcessedDocs {
 public:
  ProcessedDocs();
  ProcessedDocs(ProcessedDocs&&) noexcept;
  ProcessedDocs& operator=(ProcessedDocs&&) noexcept;
  ~ProcessedDocs();

  size_t size() const;
  bool empty() const { return size() == 0; }
  // Value of the timestamp field of document `i` in nanoseconds (truncated to its
  // fast_precision), when the mapping has one and the doc holds it.
  std::optional<int64_t> timestamp_nanos(size_t i) const;
  // Size of the source JSON text of document `i` in bytes.
  uint64_t num_bytes(size_t i) const;
  // Removes the last document.
  void RemoveLast();
  // Removes every document; the buffers keep their capacity.
  void Clear();
  // Bytes allocated by the buffers (their capacity).
  uint64_t capacity_bytes() const;

  ProcessedDocsImpl& impl() { return *impl_; }
  const ProcessedDocsImpl& impl() const { return *impl_; }

 private:
  std::unique_ptr<ProcessedDocsImpl> impl_;
};

// One document after doc processing (a ProcessedDocs of one). Move-only.
class ProcessedDoc {
 public:
  ProcessedDoc() = default;
  explicit ProcessedDoc(ProcessedDocs docs) : docs_(std::move(docs)) {}

  // See ProcessedDocs.
  std::optional<int64_t> timestamp_nanos() const { return docs_.timestamp_nanos(0); }
  uint64_t num_bytes() const { return docs_.num_bytes(0); }
  const ProcessedDocs& docs() const { return docs_; }
  ProcessedDocsImpl& impl() { return docs_.impl(); }
  const ProcessedDocsImpl& impl() const { return docs_.impl(); }

 private:
  ProcessedDocs docs_;
};

class DocProcessor {
 public:
  // InvalidArgument when the mapping fails ValidateDocMapping.
  static absl::StatusOr<std::unique_ptr<DocProcessor>> Create(const DocMapping& mapping);
  virtual ~DocProcessor() = default;

  // Parses and converts one JSON object and appends it to `docs`. InvalidArgument with a reason
  // naming the field on any mismatch, and `docs` as it was: malformed JSON, not an object, a
  // strict-mode unknown field, a value of the wrong type, an unparsable datetime. Lenient mode
  // drops unmapped fields; dynamic mode captures them with the `dynamic_mapping` options.
  virtual absl::Status ProcessInto(std::string_view json_text, ProcessedDocs& docs) const = 0;
  // The same for a document of its own.
  absl::StatusOr<ProcessedDoc> Process(std::string_view json_text) const;
};

// True when DocProcessor::Process failed because the text is not a JSON object at all
// (malformed JSON, or a value that is not an object), as opposed to a mismatch with the mapping.
bool IsInvalidJsonError(const absl::Status& status);
// True when DocProcessor::Process failed because a strict mapping does not declare a field of
// the document. Other mapping errors (a value of the wrong type, an unparsable datetime) are
// neither this nor IsInvalidJsonError.
bool IsUnknownFieldError(const absl::Status& status);

struct SplitWriterOptions {
  int docstore_compression_level = 1;       // zstd level (docs/adr/014)
  uint32_t docstore_blocksize = 1'000'000;  // uncompressed bytes per doc store block
  // Where full doc store blocks are compressed (also by MergeSplits). Unset: inside the
  // AddDocument that fills a block, on the caller's thread. Set: called with each block's
  // compression task, it either runs the task soon on any thread and returns true, or returns
  // false (the writer then runs it itself); AddDocument returns without waiting and Finish waits
  // for the blocks in flight. The split bytes are the same either way. A ThreadPool fits:
  //   options.docstore_executor = [&pool](std::function<void()> task) {
  //     return pool.Submit(std::move(task));
  //   };
  // The executor must stay callable while the writer lives. A task refers to nothing of the
  // writer (it may still run after the writer is gone) and the writer never waits for a task the
  // executor has not started (it runs it itself), so any pool will do, even a busy one or the
  // one running AddDocument.
  std::function<bool(std::function<void()>)> docstore_executor;
  // At most this many blocks are compressing at once (each holds about three times
  // docstore_blocksize bytes, counted by memory_usage_bytes); AddDocument waits past that.
  uint32_t docstore_max_compressing_blocks = 4;
};

// Everything the metastore records about a finished split, plus its bytes.
struct SerializedSplit {
  std::string bytes;  // the whole split file
  uint64_t num_docs = 0;
  uint64_t uncompressed_docs_size_in_bytes = 0;   // sum of ProcessedDoc::num_bytes
  std::optional<int64_t> time_range_start_nanos;  // min timestamp, inclusive
  std::optional<int64_t> time_range_end_nanos;    // max timestamp, inclusive
  // Tags. For each tag field with at most 1000 distinct values in the split: the marker "field!"
  // (this field's list is exhaustive) and "field:value" per distinct value. A tag field with
  // more values contributes nothing, so the split cannot be pruned on it. A split may be skipped
  // for `field:v` iff it holds "field!" and not "field:v".
  std::set<std::string> tags;
  // Byte range [footer_start, footer_end) of the footer + hotcache inside `bytes`.
  uint64_t footer_start = 0;
  uint64_t footer_end = 0;
};

class SplitWriter {
 public:
  static absl::StatusOr<std::unique_ptr<SplitWriter>> Create(const DocMapping& mapping,
                                                             const SplitWriterOptions& options);
  virtual ~SplitWriter() = default;

  virtual void AddDocument(ProcessedDoc doc) = 0;
  // Adds documents [begin, end) of `docs`, in order.
  virtual void AddDocuments(const ProcessedDocs& docs, size_t begin, size_t end) = 0;
  virtual uint64_t num_docs() const = 0;
  // Approximate heap bytes held by the in-memory index (used for `resources.heap_size`).
  virtual uint64_t memory_usage_bytes() const = 0;
  // The writer addresses at most 16 GiB of postings: a split must be committed once its memory
  // usage (which counts the postings) reaches this, whatever `resources.heap_size` says.
  static constexpr uint64_t kMaxMemoryUsageBytes = uint64_t{15} << 30;
  // Serializes the split. The writer must not be used afterwards.
  virtual absl::StatusOr<SerializedSplit> Finish() = 0;
};

// Random access to the bytes of one split file.
class ByteRangeSource {
 public:
  virtual ~ByteRangeSource() = default;
  // Returns exactly `length` bytes at `offset`. OutOfRange/DataLoss when the file is shorter.
  virtual absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const = 0;
  virtual uint64_t size() const = 0;
  // Used in error messages, e.g. the split id.
  virtual const std::string& name() const = 0;
};

// A ByteRangeSource over bytes held in memory (tests, freshly built splits).
std::shared_ptr<ByteRangeSource> NewMemoryByteRangeSource(std::string name, std::string bytes);

// The byte range [offset, offset + length) of a split file.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;

  uint64_t end() const { return offset + length; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
  friend auto operator<=>(const ByteRange&, const ByteRange&) = default;
};

// The two rounds of a warmup (see SplitReader::RangesFor).
enum class WarmupRound {
  // Ranges known from the hotcache alone: term dictionary blocks of the query's terms, fast field
  // columns (sort, range, time filter, aggregations), field norms (scoring), presence lists.
  kFromHotcache,
  // Ranges known once the term dictionary blocks of the first round are read: posting lists and
  // position lists of the query's terms.
  kFromTermBlocks,
};

enum class SortOrder { kAsc, kDesc };

struct SortField {
  std::string field;  // a fast field path, or "_score", or "_doc"
  SortOrder order = SortOrder::kDesc;
};

struct SplitSearchRequest {
  // Half-open time filter [start, end) on the timestamp field, in nanoseconds.
  std::optional<int64_t> start_timestamp_nanos;
  std::optional<int64_t> end_timestamp_nanos;
  // Number of top hits to keep (start_offset + max_hits of the API request).
  uint32_t top_k = 20;
  // Up to two sort fields. Empty: by the timestamp field descending when the mapping has one,
  // else by doc id ascending.
  std::vector<SortField> sort_by;
  // When false the engine may stop counting once top_k is known (num_hits is then a lower bound).
  bool count_all = true;
  // When set, every matching doc also feeds these aggregations (computed over the same matches,
  // so the query is evaluated once). Does not take ownership; must outlive the call.
  const AggregationRequest* aggregation = nullptr;
  // The request's aggregation memory budget, shared by its splits; a default-sized one per call
  // when null. Does not take ownership; must outlive the call.
  AggregationMemoryBudget* aggregation_budget = nullptr;
};

struct SplitHit {
  uint32_t doc_id = 0;
  // One sort key per sort field, in the order-preserving u64 encoding (so hits of different
  // splits compare by plain integer comparison after applying the sort order); nullopt when the
  // doc has no value (missing values sort last whatever the order).
  std::vector<std::optional<uint64_t>> sort_keys;
  float score = 0.0f;
};

struct SplitSearchResult {
  uint64_t num_hits = 0;
  std::vector<SplitHit> hits;  // best first, at most top_k
  // Set when the request asked for aggregations: one IntermediateAgg per requested one.
  std::optional<IntermediateAggs> aggregations;
};

class SplitReader {
 public:
  // Opens a split. With `hotcache` (the bytes [footer_start, footer_end) that the metastore
  // records) no read happens; without, the tail of `source` is read once to find the footer.
  // DataLoss naming the split and offset when the footer or a checksum is bad.
  static absl::StatusOr<std::unique_ptr<SplitReader>> Open(
      std::shared_ptr<ByteRangeSource> source, std::optional<std::string> hotcache = std::nullopt);
  virtual ~SplitReader() = default;

  virtual uint64_t num_docs() const = 0;
  // Runs `query` and the collector described by `request`.
  virtual absl::StatusOr<SplitSearchResult> Search(const Query& query,
                                                   const SplitSearchRequest& request) const = 0;
  // Runs `query` with the time filter of `request` (its top_k, sort_by and count_all are ignored)
  // and feeds the fast field values of the matching docs to the aggregations of `aggregation`.
  // Same as Search with top_k 0 and `aggregation` set; a caller that also wants hits should make
  // that one Search call instead of two.
  // Returns one IntermediateAgg per requested aggregation, in request order, cut off per split
  // (CutOffAggs). InvalidArgument naming the field when an aggregated field exists in the split
  // but is not fast, "aggregation exceeds 65000 buckets" when the split's result holds more
  // buckets, and "aggregation memory limit ..." when the budget is exceeded. A field absent from
  // the split contributes nothing.
  virtual absl::StatusOr<IntermediateAggs> Aggregate(
      const Query& query, const SplitSearchRequest& request,
      const AggregationRequest& aggregation) const = 0;
  // Returns the stored document `doc_id` as JSON text (stored fields, datetimes in the field's
  // output_format).
  virtual absl::StatusOr<std::string> FetchDocument(uint32_t doc_id) const = 0;

  // Warmup: the byte ranges that Search(query, request) (and so Aggregate) will read, sorted
  // and without duplicates, so that a caller on remote storage can fetch them concurrently
  // before executing instead of waiting on one read at a time. Two rounds:
  //   1. kFromHotcache: reads nothing.
  //   2. kFromTermBlocks: reads the term dictionary blocks listed by round 1 through the source,
  //      so a caller fetches round 1 first.
  // Best effort, never wrong: a superset of at most one extra term dictionary block per scanned
  // range or prefix, and columns that Search may skip when nothing matches. A range it misses is
  // simply read on demand by Search. Errors in the query (a bad value for a field type) are
  // left for Search to report: the faulty clause contributes no range. Fails only when a read of
  // round 2 fails (the error of the source, or DataLoss for a corrupt term block).
  virtual absl::StatusOr<std::vector<ByteRange>> RangesFor(const Query& query,
                                                           const SplitSearchRequest& request,
                                                           WarmupRound round) const = 0;
  // The doc store blocks that FetchDocument reads for `doc_ids`, sorted, without duplicates
  // (ids past num_docs() contribute nothing). Reads nothing.
  virtual std::vector<ByteRange> DocumentRanges(const std::vector<uint32_t>& doc_ids) const = 0;
};

}  // namespace shale::index
