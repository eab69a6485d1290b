// SplitReader: opens a v1 or v2 split (docs/format/split.md) through a ByteRangeSource and
// answers queries on it. Reads are validated: every chunk read (term dict block, posting list,
// presence list, doc store block) is checked against the 32-bit checksum stored with its reference,
// and every fast field section, loaded whole, against the xxhash64 of its file table entry. Any
// inconsistency is DataLoss("split <name>: <what> at offset <n>").
//
// Doc-id sets are bitsets of num_docs bits: boolean combinations are word-wise loops. Scoring
// (BM25, only when a request sorts by `_score`) accumulates into one float per doc: each scored
// query node fills a zeroed vector for the docs it returns and its parent adds those in.
//
// Top-k searches by `_score` without an exact count, and counts of bool queries requiring
// several terms or phrases, go document at a time instead (internal/doc_scorers.h, BuildScorer):
// posting lists are intersected with skipping iterators, phrases read positions only for docs in
// every other required clause, only the surviving docs are scored, and unions skip the docs that
// cannot enter the top k (MaxScore). Those paths return the same docs and bit-identical scores;
// query shapes they do not cover fall back to the bitsets. Phrases of the bitset path use the same
// phrase scorer (positions read only for docs holding every term).
//
// The collector keeps the top k in a bounded heap of fixed-size candidates (no allocation per
// doc).

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/time_util.h"
#include "index/internal/agg_collector.h"
#include "index/internal/binary_values.h"
#include "index/internal/block_postings.h"
#include "index/internal/datetime.h"
#include "index/internal/doc_scorers.h"
#include "index/internal/doc_set.h"
#include "index/internal/encoding.h"
#include "index/internal/fast_column.h"
#include "index/internal/split_contents.h"
#include "index/internal/split_layout.h"
#include "index/internal/wildcard_pattern.h"
#include "index/split_format.h"
#include "index/tokenizer.h"
#include "re2/re2.h"
#include "zstd.h"

namespace shale::index {

namespace {

using internal::Bm25Weight;
using internal::ByteReader;
using internal::ChunkRef;
using internal::Column;
using internal::ColumnKind;
using internal::CountPhraseMatches;
using internal::DecodedPostings;
using internal::DecodeF64;
using internal::DecodeI64;
using internal::DocScorer;
using internal::DocSet;
using internal::EncodeF64;
using internal::EncodeI64;
using internal::FieldEntry;
using internal::Hash32;
using internal::Hash64;
using internal::TermInfo;

constexpr size_t kMaxSortFields = 2;
// Bool intersections leapfrog when the rarest term is this many times rarer than the next.
constexpr uint64_t kLeapfrogMinRatio = 8;
constexpr uint64_t kMaxDocStoreBlockBytes = uint64_t{1} << 31;

// ---------------------------------------------------------------------------------------------
class MemoryByteRangeSource final : public ByteRangeSource {
 public:
  MemoryByteRangeSource(std::string name, std::string bytes)
      : name_(std::move(name)), bytes_(std::move(bytes)) {}
  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    if (offset > bytes_.size() || length > bytes_.size() - offset) {
      return absl::OutOfRangeError(
          fmt::format("split {}: read of {} bytes at offset {} beyond end", name_, length, offset));
    }
    return bytes_.substr(offset, length);
  }
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::string bytes_;
};

// A hit candidate of the collector: fixed size, so the heap never allocates per doc.
struct Candidate {
  uint32_t doc = 0;
  float score = 0;
  std::array<std::optional<uint64_t>, kMaxSortFields> keys;
};

struct EncodedInterval {
  uint64_t lo = 0;
  uint64_t hi = UINT64_MAX;
  bool empty = false;
};

using Int128 = __int128;

class SplitReaderImpl final : public SplitReader,
                              public internal::SplitContents,
                              public internal::AggSplitAccess {
 public:
  SplitReaderImpl(std::shared_ptr<ByteRangeSource> source, internal::Footer footer)
      : source_(std::move(source)), footer_(std::move(footer)) {
    const auto& fields = footer_.hotcache.fields;
    for (uint32_t i = 0; i < fields.size(); ++i) fields_by_path_[fields[i].path].push_back(i);
    num_docs_ = static_cast<uint32_t>(footer_.hotcache.num_docs);
  }

  uint64_t num_docs() const override { return num_docs_; }

  absl::StatusOr<SplitSearchResult> Search(const Query& query,
                                           const SplitSearchRequest& request) const override {
    const std::vector<SortField> sort_by = EffectiveSortBy(request);
    if (sort_by.size() > kMaxSortFields) {
      return absl::InvalidArgumentError(fmt::format("at most {} sort fields are supported, got {}",
                                                    kMaxSortFields, sort_by.size()));
    }
    if (ScoresDocAtATime(sort_by, request)) {
      internal::ScorerErrors errors;
      ASSIGN_OR_RETURN(std::unique_ptr<DocScorer> scorer, BuildScorer(query, true, &errors));
      if (scorer != nullptr) return TopKByScore(*scorer, request.top_k, errors);
    }
    if (CountsDocAtATime(query, request)) {
      internal::ScorerErrors errors;
      ASSIGN_OR_RETURN(std::unique_ptr<DocScorer> scorer, BuildScorer(query, false, &errors));
      SplitSearchResult result;
      for (uint32_t doc = scorer->doc(); doc != DocScorer::kEnd; doc = scorer->Next()) {
        ++result.num_hits;
      }
      RETURN_IF_ERROR(errors.first);
      return result;
    }
    std::vector<float> scores;
    if (Scores(sort_by, request)) scores.assign(num_docs_, 0.0f);
    ASSIGN_OR_RETURN(DocSet matches,
                     MatchingDocs(query, request, scores.empty() ? nullptr : &scores));
    SplitSearchResult result;
    if (request.aggregation != nullptr) {
      ASSIGN_OR_RETURN(result.aggregations,
                       internal::CollectAggregations(*this, matches, *request.aggregation,
                                                     request.aggregation_budget));
    }
    // Sorted by doc id, the first top_k matches in that order are the top k: without count_all
    // the scan stops there and num_hits is a lower bound.
    const bool doc_order = sort_by.size() == 1 && sort_by[0].field == "_doc";
    const bool reverse = doc_order && sort_by[0].order == SortOrder::kDesc;
    const bool stop_early = doc_order && !request.count_all;
    if (request.top_k == 0 || !stop_early) result.num_hits = matches.Count();
    if (request.top_k == 0 || (!stop_early && result.num_hits == 0)) return result;

    std::array<std::shared_ptr<const Column>, kMaxSortFields> columns;
    for (size_t i = 0; i < sort_by.size(); ++i) {
      const std::string& name = sort_by[i].field;
      if (name == "_doc" || name == "_score") continue;
      if (const FieldEntry* best = SortColumnField(name)) {
        ASSIGN_OR_RETURN(columns[i], LoadColumn(*best));
      }
    }
    const size_t num_keys = sort_by.size();
    std::array<SortKind, kMaxSortFields> kinds{};
    for (size_t i = 0; i < num_keys; ++i) kinds[i] = SortKindOf(sort_by[i]);
    // better(a, b): a ranks before b. Missing values sort last whatever the order; ties by doc.
    auto better = [&sort_by, num_keys](const Candidate& a, const Candidate& b) {
      for (size_t i = 0; i < num_keys; ++i) {
        const auto& ka = a.keys[i];
        const auto& kb = b.keys[i];
        if (ka.has_value() != kb.has_value()) return ka.has_value();
        if (!ka.has_value() || *ka == *kb) continue;
        return sort_by[i].order == SortOrder::kAsc ? *ka < *kb : *ka > *kb;
      }
      return a.doc < b.doc;
    };
    // A heap of at most top_k candidates whose front is the worst kept one.
    std::vector<Candidate> heap;
    heap.reserve(stop_early ? request.top_k : std::min<uint64_t>(request.top_k, result.num_hits));
    uint64_t visited = 0;
    auto collect = [&](uint32_t doc) {
      ++visited;
      Candidate candidate;
      candidate.doc = doc;
      candidate.score = scores.empty() ? 1.0f : scores[doc];
      for (size_t i = 0; i < num_keys; ++i) {
        candidate.keys[i] = SortKey(kinds[i], columns[i].get(), doc, candidate.score);
      }
      if (heap.size() < request.top_k) {
        heap.push_back(candidate);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(candidate, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = candidate;
        std::push_heap(heap.begin(), heap.end(), better);
      }
      return !stop_early || heap.size() < request.top_k;
    };
    if (reverse) {
      matches.ForEachReverseUntil(collect);
    } else {
      matches.ForEachUntil(collect);
    }
    if (stop_early) result.num_hits = visited;
    std::sort_heap(heap.begin(), heap.end(), better);
    result.hits.reserve(heap.size());
    for (const Candidate& candidate : heap) {
      SplitHit hit;
      hit.doc_id = candidate.doc;
      hit.score = candidate.score;
      hit.sort_keys.assign(candidate.keys.begin(),
                           candidate.keys.begin() + static_cast<std::ptrdiff_t>(num_keys));
      result.hits.push_back(std::move(hit));
    }
    return result;
  }

  absl::StatusOr<IntermediateAggs> Aggregate(const Query& query, const SplitSearchRequest& request,
                                             const AggregationRequest& aggregation) const override {
    SplitSearchRequest aggregate_only = request;
    aggregate_only.top_k = 0;
    aggregate_only.sort_by.clear();
    aggregate_only.aggregation = &aggregation;
    ASSIGN_OR_RETURN(SplitSearchResult result, Search(query, aggregate_only));
    return std::move(*result.aggregations);
  }

  absl::StatusOr<std::string> FetchDocument(uint32_t doc_id) const override {
    if (doc_id >= num_docs_) {
      return absl::NotFoundError(
          fmt::format("split {}: doc {} not found ({} docs)", name(), doc_id, num_docs_));
    }
    const auto& blocks = footer_.hotcache.docstore_blocks;
    auto it = std::upper_bound(blocks.begin(), blocks.end(), doc_id,
                               [](uint32_t doc, const internal::DocStoreBlockRef& block) {
                                 return doc < block.first_doc;
                               });
    if (it == blocks.begin()) {
      return DataLoss(fmt::format("doc {} missing from doc store index", doc_id), 0);
    }
    const internal::DocStoreBlockRef& block = *(it - 1);
    ASSIGN_OR_RETURN(std::string compressed, ReadCompressedDocStoreBlock(block));
    ASSIGN_OR_RETURN(std::string raw, DecompressDocStoreBlock(block, compressed));
    ASSIGN_OR_RETURN(std::vector<std::string_view> docs, ParseDocStoreBlock(block, raw));
    if (doc_id - block.first_doc >= docs.size()) {
      return DataLoss("bad doc store block header",
                      SectionOffset(footer_.hotcache.docstore_section) + block.chunk.offset);
    }
    return std::string(docs[doc_id - block.first_doc]);
  }

  // ---- internal::SplitContents ----

  const internal::Footer& footer() const override { return footer_; }

  absl::StatusOr<std::vector<TermInfo>> ReadTermBlock(const FieldEntry& field,
                                                      size_t block_index) const override {
    return LoadTermBlock(field, block_index);
  }

  absl::Status ReadPostings(const FieldEntry& field, const TermInfo& info,
                            DecodedPostings& out) const override {
    return DecodePostings(field, info, /*with_positions=*/false, out);
  }

  absl::StatusOr<std::string> ReadPositionList(const FieldEntry& field,
                                               const TermInfo& info) const override {
    if (!field.record_positions || field.positions_section == internal::kNoSection) {
      return absl::FailedPreconditionError(
          fmt::format("field `{}` has no positions indexed", field.path));
    }
    return ReadChunk(field.positions_section, info.positions, "position list");
  }

  absl::StatusOr<std::optional<std::string>> ReadFieldNorms(
      const FieldEntry& field) const override {
    if (!field.has_fieldnorms) return std::nullopt;
    return ReadFieldNormsUncached(field);
  }

  absl::StatusOr<std::vector<uint32_t>> ReadPresence(const FieldEntry& field) const override {
    std::vector<uint32_t> docs;
    if (field.presence.length == 0) return docs;
    DocSet set(num_docs_);
    RETURN_IF_ERROR(AddPresence(field, set));
    set.ForEach([&docs](uint32_t doc) { docs.push_back(doc); });
    return docs;
  }

  absl::StatusOr<internal::DecodedColumn> ReadColumn(const FieldEntry& field) const override {
    ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumnUncached(field));
    internal::DecodedColumn decoded;
    decoded.offsets = column->offsets;
    decoded.values.resize(field.column.num_values);
    for (uint64_t i = 0; i < decoded.values.size(); ++i) decoded.values[i] = column->RawValue(i);
    decoded.dict.assign(column->dict.begin(), column->dict.end());
    return decoded;
  }

  absl::StatusOr<DocStoreBlock> ReadDocStoreBlock(size_t block_index,
                                                  bool decompress) const override {
    const internal::DocStoreBlockRef& block = footer_.hotcache.docstore_blocks.at(block_index);
    DocStoreBlock result;
    ASSIGN_OR_RETURN(result.compressed, ReadCompressedDocStoreBlock(block));
    if (!decompress) return result;
    ASSIGN_OR_RETURN(std::string raw, DecompressDocStoreBlock(block, result.compressed));
    ASSIGN_OR_RETURN(std::vector<std::string_view> docs, ParseDocStoreBlock(block, raw));
    const size_t next_first = block_index + 1 < footer_.hotcache.docstore_blocks.size()
                                  ? footer_.hotcache.docstore_blocks[block_index + 1].first_doc
                                  : num_docs_;
    if (docs.size() != next_first - block.first_doc) {
      return DataLoss("doc store block holds the wrong number of docs",
                      SectionOffset(footer_.hotcache.docstore_section) + block.chunk.offset);
    }
    result.docs.assign(docs.begin(), docs.end());
    return result;
  }

  const std::string& name() const override { return source_->name(); }

  absl::StatusOr<std::vector<ByteRange>> RangesFor(const Query& query,
                                                   const SplitSearchRequest& request,
                                                   WarmupRound round) const override {
    RangePlan plan(round);
    const std::vector<SortField> sort_by = EffectiveSortBy(request);
    RETURN_IF_ERROR(PlanQuery(query, Scores(sort_by, request), plan));
    if (round == WarmupRound::kFromHotcache) {
      if (request.start_timestamp_nanos.has_value() || request.end_timestamp_nanos.has_value()) {
        if (const FieldEntry* ts_field = TimestampColumnField()) PlanColumn(*ts_field, plan);
      }
      if (request.aggregation != nullptr) PlanAggColumns(request.aggregation->aggregations, plan);
      if (request.top_k > 0 && sort_by.size() <= kMaxSortFields) {
        for (const SortField& sort : sort_by) {
          if (sort.field == "_doc" || sort.field == "_score") continue;
          if (const FieldEntry* field = SortColumnField(sort.field)) PlanColumn(*field, plan);
        }
      }
    }
    return plan.Finish();
  }

  std::vector<ByteRange> DocumentRanges(const std::vector<uint32_t>& doc_ids) const override {
    RangePlan plan(WarmupRound::kFromHotcache);
    const auto& blocks = footer_.hotcache.docstore_blocks;
    const uint32_t section = footer_.hotcache.docstore_section;
    if (section == internal::kNoSection) return {};
    for (uint32_t doc_id : doc_ids) {
      if (doc_id >= num_docs_) continue;
      auto it = std::upper_bound(blocks.begin(), blocks.end(), doc_id,
                                 [](uint32_t doc, const internal::DocStoreBlockRef& block) {
                                   return doc < block.first_doc;
                                 });
      if (it == blocks.begin()) continue;
      plan.AddChunk(SectionOffset(section), (it - 1)->chunk);
    }
    return plan.Finish();
  }

  // ---- internal::AggSplitAccess ----

  uint32_t max_doc() const override { return num_docs_; }

  absl::StatusOr<std::vector<std::shared_ptr<const Column>>> FastColumns(
      const std::string& path) const override {
    std::vector<std::shared_ptr<const Column>> columns;
    const std::vector<uint32_t>& ids = FieldIds(path);
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.column.kind == ColumnKind::kNone) continue;
      ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
      columns.push_back(std::move(column));
    }
    if (!ids.empty() && columns.empty()) {
      return absl::InvalidArgumentError(fmt::format("field `{}` is not a fast field", path));
    }
    return columns;
  }

  absl::StatusOr<DocSet> FilterDocs(const Query& query) const override {
    return Eval(query, nullptr);
  }

  absl::StatusOr<std::string> FetchSource(uint32_t doc) const override {
    return FetchDocument(doc);
  }

 private:
  // The request's sort fields, or the default: the timestamp field descending when the split
  // has one, else doc id ascending.
  std::vector<SortField> EffectiveSortBy(const SplitSearchRequest& request) const {
    std::vector<SortField> sort_by = request.sort_by;
    if (sort_by.empty()) {
      if (footer_.hotcache.timestamp_field.has_value()) {
        sort_by.push_back(SortField{*footer_.hotcache.timestamp_field, SortOrder::kDesc});
      } else {
        sort_by.push_back(SortField{"_doc", SortOrder::kAsc});
      }
    }
    return sort_by;
  }

  // Whether the search computes BM25 scores: hits are wanted and ranked by `_score`.
  static bool Scores(const std::vector<SortField>& sort_by, const SplitSearchRequest& request) {
    bool by_score = false;
    for (const SortField& sort : sort_by) by_score |= sort.field == "_score";
    return by_score && request.top_k > 0;
  }

  // The column a sort on `path` reads (a typed column before a text one), or null.
  const FieldEntry* SortColumnField(const std::string& path) const {
    const FieldEntry* best = nullptr;
    for (uint32_t id : FieldIds(path)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.column.kind == ColumnKind::kNone) continue;
      if (best == nullptr || (best->type == FieldType::kText && field.type != FieldType::kText)) {
        best = &field;
      }
    }
    return best;
  }

  absl::Status DataLoss(const std::string& what, uint64_t offset) const {
    return absl::DataLossError(fmt::format("split {}: {} at offset {}", name(), what, offset));
  }

  uint64_t SectionOffset(uint32_t section) const { return footer_.sections[section].offset; }

  const std::vector<uint32_t>& FieldIds(const std::string& path) const {
    static const std::vector<uint32_t> kNone;
    auto it = fields_by_path_.find(path);
    return it == fields_by_path_.end() ? kNone : it->second;
  }

  // Reads `length` bytes at absolute `offset`; short reads are DataLoss.
  absl::StatusOr<std::string> ReadAt(uint64_t offset, uint64_t length, const char* what) const {
    absl::StatusOr<std::string> bytes = source_->Read(offset, length);
    if (!bytes.ok()) {
      if (absl::IsOutOfRange(bytes.status()) || absl::IsDataLoss(bytes.status())) {
        return DataLoss(
            fmt::format("cannot read {} ({})", what, std::string(bytes.status().message())),
            offset);
      }
      return bytes.status();
    }
    if (bytes->size() != length) return DataLoss(fmt::format("short read of {}", what), offset);
    return bytes;
  }

  absl::StatusOr<std::string> ReadChunk(uint32_t section, const ChunkRef& chunk,
                                        const char* what) const {
    if (section == internal::kNoSection)
      return DataLoss(fmt::format("{} without section", what), 0);
    const uint64_t at = SectionOffset(section) + chunk.offset;
    ASSIGN_OR_RETURN(std::string bytes, ReadAt(at, chunk.length, what));
    if (Hash32(bytes) != chunk.checksum) {
      return DataLoss(fmt::format("{} checksum mismatch", what), at);
    }
    return bytes;
  }

  // ---- doc store ----

  absl::StatusOr<std::string> ReadCompressedDocStoreBlock(
      const internal::DocStoreBlockRef& block) const {
    return ReadChunk(footer_.hotcache.docstore_section, block.chunk, "doc store block");
  }

  absl::StatusOr<std::string> DecompressDocStoreBlock(const internal::DocStoreBlockRef& block,
                                                      const std::string& compressed) const {
    const uint64_t at = SectionOffset(footer_.hotcache.docstore_section) + block.chunk.offset;
    if (block.uncompressed_length > kMaxDocStoreBlockBytes) {
      return DataLoss("doc store block too large", at);
    }
    const unsigned long long frame_size =  // NOLINT(google-runtime-int): zstd's type
        ZSTD_getFrameContentSize(compressed.data(), compressed.size());
    if (frame_size != block.uncompressed_length) {
      return DataLoss("doc store block size mismatch", at);
    }
    std::string raw(block.uncompressed_length, '\0');
    const size_t size =
        ZSTD_decompress(raw.data(), raw.size(), compressed.data(), compressed.size());
    if (ZSTD_isError(size) || size != raw.size()) {
      return DataLoss("doc store block does not decompress", at);
    }
    return raw;
  }

  // The documents of a decompressed block, as views into `raw`.
  absl::StatusOr<std::vector<std::string_view>> ParseDocStoreBlock(
      const internal::DocStoreBlockRef& block, std::string_view raw) const {
    const uint64_t at = SectionOffset(footer_.hotcache.docstore_section) + block.chunk.offset;
    ByteReader reader(raw);
    const uint64_t count = reader.Varint();
    if (!reader.ok() || count > raw.size()) return DataLoss("bad doc store block header", at);
    std::vector<uint64_t> lengths(count);
    uint64_t total = 0;
    for (uint64_t& length : lengths) {
      length = reader.Varint();
      total += length;
    }
    if (!reader.ok() || total != reader.remaining()) {
      return DataLoss("bad doc store block lengths", at);
    }
    std::vector<std::string_view> docs;
    docs.reserve(count);
    for (uint64_t length : lengths) docs.push_back(reader.Bytes(length));
    return docs;
  }

  // ---- term dictionary and postings ----

  absl::StatusOr<std::vector<TermInfo>> LoadTermBlock(const FieldEntry& field,
                                                      size_t block_index) const {
    const internal::TermBlockRef& ref = field.term_blocks[block_index];
    ASSIGN_OR_RETURN(std::string bytes,
                     ReadChunk(field.terms_section, ref.chunk, "term dictionary block"));
    const uint64_t at = SectionOffset(field.terms_section) + ref.chunk.offset;
    ByteReader reader(bytes);
    const uint64_t count = reader.Varint();
    if (!reader.ok() || count > bytes.size()) return DataLoss("bad term block header", at);
    std::vector<TermInfo> terms(count);
    std::string previous;
    const uint64_t postings_length = footer_.sections[field.postings_section].length;
    // terms v2 entries of a field with positions end with the positions chunk.
    const bool with_positions =
        field.record_positions && footer_.sections[field.terms_section].version >= 2;
    const uint64_t positions_length =
        with_positions ? footer_.sections[field.positions_section].length : 0;
    for (TermInfo& info : terms) {
      const uint64_t shared = reader.Varint();
      std::string_view suffix = reader.LengthPrefixed();
      info.doc_freq = reader.Varint();
      info.postings.offset = reader.Varint();
      info.postings.length = reader.Varint();
      info.postings.checksum = reader.Fixed32();
      if (with_positions) {
        info.positions.offset = reader.Varint();
        info.positions.length = reader.Varint();
        info.positions.checksum = reader.Fixed32();
        if (info.positions.offset > positions_length ||
            info.positions.length > positions_length - info.positions.offset) {
          return DataLoss("bad term block positions entry", at + reader.position());
        }
      }
      if (!reader.ok() || shared > previous.size() || info.doc_freq == 0 ||
          info.doc_freq > num_docs_ || info.postings.offset > postings_length ||
          info.postings.length > postings_length - info.postings.offset) {
        return DataLoss("bad term block entry", at + reader.position());
      }
      info.term.reserve(shared + suffix.size());
      info.term.assign(previous, 0, shared);
      info.term.append(suffix.data(), suffix.size());
      previous = info.term;
    }
    return terms;
  }

  bool BlockPostings(const FieldEntry& field) const {
    return footer_.sections[field.postings_section].version >= 2;
  }

  absl::Status AddPostings(const FieldEntry& field, const TermInfo& info, DocSet& out) const {
    ASSIGN_OR_RETURN(std::string bytes,
                     ReadChunk(field.postings_section, info.postings, "posting list"));
    const uint64_t at = SectionOffset(field.postings_section) + info.postings.offset;
    if (!BlockPostings(field)) return DecodeDocList(bytes, info.doc_freq, at, out);
    internal::BlockPostingIterator it(bytes, info.doc_freq, num_docs_, field.record_freq,
                                      /*decode_freqs=*/false);
    for (uint32_t doc = it.doc(); doc != internal::BlockPostingIterator::kEnd; doc = it.Next()) {
      out.Set(doc);
    }
    if (it.corrupt()) return DataLoss("bad block posting list", at + it.corrupt_offset());
    return absl::OkStatus();
  }

  // A must/filter clause that is one term of one field with block postings: the Bool query
  // intersects those with skipping iterators instead of bitsets.
  struct SimpleTerm {
    bool simple = false;  // false: evaluate the clause as a bitset
    bool absent = false;  // the term is not in the dictionary: the clause matches nothing
    const FieldEntry* field = nullptr;
    TermInfo info;
  };

  absl::StatusOr<SimpleTerm> ResolveSimpleTerm(const Query& clause) const {
    SimpleTerm result;
    const auto* term = std::get_if<TermQuery>(&clause.node);
    if (term == nullptr) return result;
    const std::vector<uint32_t>& ids = FieldIds(term->field);
    if (ids.size() != 1) return result;
    const FieldEntry& field = footer_.hotcache.fields[ids[0]];
    if (!field.indexed || field.term_blocks.empty() || !BlockPostings(field)) return result;
    std::string encoded_term;
    if (field.type == FieldType::kText) {
      std::vector<std::string> tokens =
          TokenizeToStrings(field.tokenizer, ValueAsText(term->value));
      if (tokens.size() != 1) return result;
      encoded_term = std::move(tokens[0]);
    } else if (internal::IsByteStringType(field.type)) {
      absl::StatusOr<std::string> bytes = EncodeByteTerm(field, term->value);
      if (!bytes.ok()) return result;  // the bitset path reports the error
      encoded_term = *std::move(bytes);
    } else {
      absl::StatusOr<std::optional<uint64_t>> encoded = EncodeTerm(field, term->value);
      if (!encoded.ok()) return result;  // the bitset path reports the error
      std::optional<std::string> term_bytes =
          encoded->has_value() ? DictionaryTerm(field, **encoded) : std::nullopt;
      if (!term_bytes.has_value()) {
        result.simple = result.absent = true;
        return result;
      }
      encoded_term = *std::move(term_bytes);
    }
    ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, encoded_term));
    result.simple = true;
    result.field = &field;
    if (!info.has_value()) {
      result.absent = true;
    } else {
      result.info = *std::move(info);
    }
    return result;
  }

  // Sets in `out` the docs in every posting list of `terms` (leapfrog: the rarest leads, the
  // others SeekTo its candidate, skipping whole blocks). REQUIRES: !terms.empty(), none absent.
  absl::Status IntersectTerms(std::vector<SimpleTerm>& terms, DocSet& out) const {
    using Iterator = internal::BlockPostingIterator;
    std::sort(terms.begin(), terms.end(), [](const SimpleTerm& a, const SimpleTerm& b) {
      return a.info.doc_freq < b.info.doc_freq;
    });
    // Skipping pays when the lead is much rarer than the next term; when all are of similar
    // density every block gets decoded anyway and word-wise bitset ANDs are cheaper.
    if (terms.size() == 1 || terms[0].info.doc_freq * kLeapfrogMinRatio > terms[1].info.doc_freq) {
      for (size_t i = 0; i < terms.size(); ++i) {
        DocSet docs(num_docs_);
        RETURN_IF_ERROR(AddPostings(*terms[i].field, terms[i].info, i == 0 ? out : docs));
        if (i > 0) out.And(docs);
      }
      return absl::OkStatus();
    }
    std::vector<std::string> bytes(terms.size());
    std::vector<std::unique_ptr<Iterator>> iterators;
    iterators.reserve(terms.size());
    for (size_t i = 0; i < terms.size(); ++i) {
      ASSIGN_OR_RETURN(bytes[i], ReadChunk(terms[i].field->postings_section, terms[i].info.postings,
                                           "posting list"));
      iterators.push_back(std::make_unique<Iterator>(bytes[i], terms[i].info.doc_freq, num_docs_,
                                                     terms[i].field->record_freq,
                                                     /*decode_freqs=*/false));
    }
    Iterator& lead = *iterators[0];
    uint32_t candidate = lead.doc();
    size_t next = 1;
    while (candidate != Iterator::kEnd) {
      if (next == iterators.size()) {
        out.Set(candidate);
        candidate = lead.Next();
        next = 1;
        continue;
      }
      const uint32_t doc = iterators[next]->SeekTo(candidate);
      if (doc == candidate) {
        ++next;
        continue;
      }
      if (doc == Iterator::kEnd) break;
      candidate = lead.SeekTo(doc);
      next = 1;
    }
    for (size_t i = 0; i < terms.size(); ++i) {
      if (iterators[i]->corrupt()) {
        return DataLoss("bad block posting list", SectionOffset(terms[i].field->postings_section) +
                                                      terms[i].info.postings.offset +
                                                      iterators[i]->corrupt_offset());
      }
    }
    return absl::OkStatus();
  }

  // Decodes the posting list of `info` (doc ids and term frequencies) and, when
  // `with_positions`, its positions. DataLoss on any inconsistency.
  absl::Status DecodePostings(const FieldEntry& field, const TermInfo& info, bool with_positions,
                              DecodedPostings& out) const {
    ASSIGN_OR_RETURN(std::string bytes,
                     ReadChunk(field.postings_section, info.postings, "posting list"));
    const uint64_t at = SectionOffset(field.postings_section) + info.postings.offset;
    // doc_freq <= num_docs was checked with the term block.
    out.docs.resize(info.doc_freq);
    out.freqs.assign(info.doc_freq, 1);
    if (BlockPostings(field)) {
      internal::BlockPostingIterator it(bytes, info.doc_freq, num_docs_, field.record_freq);
      for (uint64_t i = 0; i < info.doc_freq; ++i) {
        if (it.doc() == internal::BlockPostingIterator::kEnd) break;
        out.docs[i] = it.doc();
        out.freqs[i] = it.freq();
        it.Next();
      }
      if (it.corrupt()) return DataLoss("bad block posting list", at + it.corrupt_offset());
    } else {
      RETURN_IF_ERROR(DecodeVarintPostings(field, info, bytes, at, out));
    }
    return DecodePositions(field, info, with_positions, out);
  }

  // Postings v1: doc_freq varint doc deltas, then doc_freq varint term frequencies.
  absl::Status DecodeVarintPostings(const FieldEntry& field, const TermInfo& info,
                                    std::string_view bytes, uint64_t at,
                                    DecodedPostings& out) const {
    ByteReader reader(bytes);
    uint64_t doc = 0;
    for (uint64_t i = 0; i < info.doc_freq; ++i) {
      const uint64_t delta = reader.Varint();
      doc += delta;
      if (!reader.ok() || (i > 0 && delta == 0) || doc >= num_docs_) {
        return DataLoss("bad doc id list", at + reader.position());
      }
      out.docs[i] = static_cast<uint32_t>(doc);
    }
    if (field.record_freq) {
      for (uint64_t i = 0; i < info.doc_freq; ++i) {
        const uint64_t freq = reader.Varint();
        if (!reader.ok() || freq == 0 || freq > UINT32_MAX) {
          return DataLoss("bad term frequency", at + reader.position());
        }
        out.freqs[i] = static_cast<uint32_t>(freq);
      }
    }
    return absl::OkStatus();
  }

  absl::Status DecodePositions(const FieldEntry& field, const TermInfo& info, bool with_positions,
                               DecodedPostings& out) const {
    if (!with_positions) return absl::OkStatus();
    if (!field.record_positions || field.positions_section == internal::kNoSection) {
      return absl::FailedPreconditionError(
          fmt::format("field `{}` has no positions indexed", field.path));
    }
    ASSIGN_OR_RETURN(std::string position_bytes,
                     ReadChunk(field.positions_section, info.positions, "position list"));
    const uint64_t positions_at = SectionOffset(field.positions_section) + info.positions.offset;
    uint64_t total = 0;
    for (uint32_t freq : out.freqs) total += freq;
    if (total > position_bytes.size()) return DataLoss("bad position list length", positions_at);
    out.positions.resize(total);
    out.position_starts.resize(info.doc_freq);
    ByteReader position_reader(position_bytes);
    size_t next = 0;
    for (uint64_t i = 0; i < info.doc_freq; ++i) {
      out.position_starts[i] = static_cast<uint32_t>(next);
      uint64_t position = 0;
      for (uint32_t j = 0; j < out.freqs[i]; ++j) {
        const uint64_t delta = position_reader.Varint();
        position += delta;
        if (!position_reader.ok() || (j > 0 && delta == 0) || position > UINT32_MAX) {
          return DataLoss("bad position list", positions_at + position_reader.position());
        }
        out.positions[next++] = static_cast<uint32_t>(position);
      }
    }
    return absl::OkStatus();
  }

  // The field norms of `field` (one byte per doc), or null when it has none.
  absl::StatusOr<std::shared_ptr<const std::string>> LoadFieldNorms(const FieldEntry& field) const {
    if (!field.has_fieldnorms) return std::shared_ptr<const std::string>();
    const auto field_index = static_cast<uint32_t>(&field - footer_.hotcache.fields.data());
    {
      absl::MutexLock lock(&mu_);
      auto it = fieldnorms_.find(field_index);
      if (it != fieldnorms_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(std::string data, ReadFieldNormsUncached(field));
    auto norms = std::make_shared<const std::string>(std::move(data));
    absl::MutexLock lock(&mu_);
    fieldnorms_.emplace(field_index, norms);
    return norms;
  }

  // REQUIRES: field.has_fieldnorms.
  absl::StatusOr<std::string> ReadFieldNormsUncached(const FieldEntry& field) const {
    const internal::FileTableEntry& section = footer_.sections[field.fieldnorms_section];
    ASSIGN_OR_RETURN(std::string data, ReadAt(section.offset, section.length, "field norms"));
    if (data.size() != num_docs_ || Hash64(data) != section.checksum) {
      return DataLoss(fmt::format("field norms of `{}` checksum mismatch", field.path),
                      section.offset);
    }
    return data;
  }

  absl::Status DecodeDocList(std::string_view bytes, uint64_t count, uint64_t at,
                             DocSet& out) const {
    ByteReader reader(bytes);
    uint64_t doc = 0;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t delta = reader.Varint();
      doc += delta;
      if (!reader.ok() || (i > 0 && delta == 0) || doc >= num_docs_) {
        return DataLoss("bad doc id list", at + reader.position());
      }
      out.Set(static_cast<uint32_t>(doc));
    }
    return absl::OkStatus();
  }

  // The index of the term dictionary block of `field` that may hold `term` (the last one whose
  // first term is <= `term`), or nullopt when `term` sorts before every block.
  static std::optional<size_t> TermBlockFor(const FieldEntry& field, const std::string& term) {
    const auto& blocks = field.term_blocks;
    auto it = std::upper_bound(blocks.begin(), blocks.end(), term,
                               [](const std::string& t, const internal::TermBlockRef& block) {
                                 return t < block.first_term;
                               });
    if (it == blocks.begin()) return std::nullopt;
    return static_cast<size_t>(it - blocks.begin() - 1);
  }

  // The first block ScanTerms(field, lower, ...) reads.
  static size_t ScanStartBlock(const FieldEntry& field, const std::string* lower) {
    return lower == nullptr ? 0 : TermBlockFor(field, *lower).value_or(0);
  }

  // Finds `term` in the dictionary of `field`.
  absl::StatusOr<std::optional<TermInfo>> FindTerm(const FieldEntry& field,
                                                   const std::string& term) const {
    const std::optional<size_t> block = TermBlockFor(field, term);
    if (!block.has_value()) return std::nullopt;
    ASSIGN_OR_RETURN(std::vector<TermInfo> terms, LoadTermBlock(field, *block));
    for (TermInfo& info : terms) {
      if (info.term == term) return std::move(info);
    }
    return std::nullopt;
  }

  // Calls `visit(TermInfo&)` for the terms in [lower, ...) in order until it returns false.
  template <typename Visit>
  absl::Status ScanTerms(const FieldEntry& field, const std::string* lower, Visit&& visit) const {
    const auto& blocks = field.term_blocks;
    for (size_t b = ScanStartBlock(field, lower); b < blocks.size(); ++b) {
      ASSIGN_OR_RETURN(std::vector<TermInfo> terms, LoadTermBlock(field, b));
      for (TermInfo& info : terms) {
        if (lower != nullptr && info.term < *lower) continue;
        ASSIGN_OR_RETURN(bool more, visit(info));
        if (!more) return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  // ---- fast field columns ----

  absl::StatusOr<std::shared_ptr<const Column>> LoadColumn(const FieldEntry& field) const {
    const auto field_index = static_cast<uint32_t>(&field - footer_.hotcache.fields.data());
    {
      absl::MutexLock lock(&mu_);
      auto it = columns_.find(field_index);
      if (it != columns_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const Column> shared, LoadColumnUncached(field));
    absl::MutexLock lock(&mu_);
    columns_.emplace(field_index, shared);
    return shared;
  }

  absl::StatusOr<std::shared_ptr<const Column>> LoadColumnUncached(const FieldEntry& field) const {
    const internal::FileTableEntry& section = footer_.sections[field.fast_section];
    ASSIGN_OR_RETURN(std::string data, ReadAt(section.offset, section.length, "fast field"));
    if (Hash64(data) != section.checksum) {
      return DataLoss(fmt::format("fast field `{}` checksum mismatch", field.path), section.offset);
    }
    auto column = std::make_shared<Column>();
    column->field = &field;
    column->data = std::move(data);
    const internal::ColumnHeader& header = field.column;
    column->values = column->data.data() + header.values.offset;
    column->min_value = header.min_value;
    column->gcd = header.gcd;
    if (field.datetime_micros && header.kind == ColumnKind::kNumeric) column->SetMicrosToNanos();
    if (!header.single_valued) {
      column->offsets.resize(num_docs_ + 1);
      const char* packed = column->data.data() + header.offsets.offset;
      uint64_t previous = 0;
      for (uint32_t doc = 0; doc <= num_docs_; ++doc) {
        const uint64_t offset = internal::BitUnpack(packed, header.offset_bit_width, doc);
        if (offset < previous || offset > header.num_values ||
            (doc == num_docs_ && offset != header.num_values)) {
          return DataLoss(fmt::format("bad offsets of fast field `{}`", field.path),
                          section.offset + header.offsets.offset);
        }
        column->offsets[doc] = static_cast<uint32_t>(offset);
        previous = offset;
      }
    }
    if (header.kind == ColumnKind::kTextDict) {
      ByteReader reader(
          std::string_view(column->data).substr(header.dict.offset, header.dict.length));
      column->dict.reserve(header.dict_num_terms);
      for (uint64_t i = 0; i < header.dict_num_terms; ++i) {
        column->dict.push_back(reader.LengthPrefixed());
      }
      if (!reader.ok()) {
        return DataLoss(fmt::format("bad dictionary of fast field `{}`", field.path),
                        section.offset + header.dict.offset);
      }
    }
    return std::shared_ptr<const Column>(std::move(column));
  }

  enum class SortKind { kDoc, kScore, kColumn };

  static SortKind SortKindOf(const SortField& sort) {
    if (sort.field == "_doc") return SortKind::kDoc;
    if (sort.field == "_score") return SortKind::kScore;
    return SortKind::kColumn;
  }

  // The sort key of `doc`; `column` is null when the split has no column for the field.
  static std::optional<uint64_t> SortKey(SortKind kind, const Column* column, uint32_t doc,
                                         float score) {
    if (kind == SortKind::kDoc) return doc;
    if (kind == SortKind::kScore) return EncodeF64(score);
    if (column == nullptr) return std::nullopt;
    auto [begin, end] = column->Range(doc);
    if (begin >= end) return std::nullopt;
    const uint64_t value = column->RawValue(begin);
    if (column->field->column.kind != ColumnKind::kTextDict) return value;
    if (value >= column->dict.size()) return std::nullopt;
    if (column->field->type == FieldType::kIp) return internal::IpSortKey(column->dict[value]);
    // Text sorts by its first 8 bytes, big-endian and zero-padded, so keys compare across splits.
    std::string_view prefix = column->dict[value].substr(0, 8);
    if (prefix.empty()) return 0;
    return internal::ReadBigEndian64(prefix) << (8 * (8 - prefix.size()));
  }

  // Sets in `out` the docs having a value in [lo, hi] (encoded or ordinals).
  static void ScanColumn(const Column& column, uint64_t lo, uint64_t hi, uint32_t num_docs,
                         DocSet& out) {
    const bool text = column.field->column.kind == ColumnKind::kTextDict;
    for (uint32_t doc = 0; doc < num_docs; ++doc) {
      auto [begin, end] = column.Range(doc);
      for (uint64_t i = begin; i < end; ++i) {
        const uint64_t value = column.RawValue(i);
        if (text && value >= column.dict.size()) continue;
        if (value >= lo && value <= hi) {
          out.Set(doc);
          break;
        }
      }
    }
  }

  // The docs matching `query` and the time filter of `request`; adds scores when `scores` is set.
  absl::StatusOr<DocSet> MatchingDocs(const Query& query, const SplitSearchRequest& request,
                                      std::vector<float>* scores) const {
    ASSIGN_OR_RETURN(DocSet matches, Eval(query, scores));
    if (request.start_timestamp_nanos.has_value() || request.end_timestamp_nanos.has_value()) {
      RETURN_IF_ERROR(ApplyTimeFilter(request, matches));
    }
    return matches;
  }

  // The column the time filter reads, or null when the split has none.
  const FieldEntry* TimestampColumnField() const {
    const FieldEntry* ts_field = nullptr;
    if (footer_.hotcache.timestamp_field.has_value()) {
      for (uint32_t id : FieldIds(*footer_.hotcache.timestamp_field)) {
        const FieldEntry& field = footer_.hotcache.fields[id];
        if (field.type == FieldType::kDatetime && field.column.kind == ColumnKind::kNumeric) {
          ts_field = &field;
        }
      }
    }
    return ts_field;
  }

  absl::Status ApplyTimeFilter(const SplitSearchRequest& request, DocSet& matches) const {
    const FieldEntry* ts_field = TimestampColumnField();
    DocSet in_range(num_docs_);
    if (ts_field != nullptr) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(*ts_field));
      const int64_t start = request.start_timestamp_nanos.value_or(INT64_MIN);
      const int64_t end = request.end_timestamp_nanos.value_or(INT64_MAX);
      if (start < end || !request.end_timestamp_nanos.has_value()) {
        uint64_t hi = EncodeI64(end);
        if (request.end_timestamp_nanos.has_value()) --hi;  // end is exclusive
        ScanColumn(*column, EncodeI64(start), hi, num_docs_, in_range);
      }
    }
    matches.And(in_range);
    return absl::OkStatus();
  }

  // ---- value conversion ----

  static absl::Status BadValue(const std::string& field, FieldType type, const TermValue& value) {
    std::string text = std::visit(
        [](const auto& v) -> std::string {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
            return v;
          } else {
            return fmt::format("{}", v);
          }
        },
        value);
    return absl::InvalidArgumentError(fmt::format("value `{}` is not a valid {} for field `{}`",
                                                  text, FieldTypeName(type), field));
  }

  // The term of the encoded value `encoded` in the dictionary of the typed field `field`: its 8
  // bytes big-endian, except in the microsecond datetime dictionaries of v1/v2 splits, which
  // cannot hold a value that is not a whole microsecond (nullopt).
  static std::optional<std::string> DictionaryTerm(const FieldEntry& field, uint64_t encoded) {
    if (!field.datetime_micros) return internal::BigEndianTerm(encoded);
    const int64_t nanos = DecodeI64(encoded);
    if (nanos % kNanosPerMicro != 0) return std::nullopt;
    return internal::BigEndianTerm(EncodeI64(nanos / kNanosPerMicro));
  }

  // The terms of the dictionary of `field` that `interval` (encoded values) covers: the same
  // interval, except for the microsecond datetime dictionaries of v1/v2 splits, where it becomes
  // the whole microseconds inside it. An unbounded end stays unbounded, so values beyond the
  // nanosecond range in old splits keep matching open ranges.
  static EncodedInterval DictionaryInterval(const FieldEntry& field, EncodedInterval interval) {
    if (!field.datetime_micros || interval.empty) return interval;
    const int64_t lo = DecodeI64(interval.lo);
    const int64_t hi = DecodeI64(interval.hi);
    int64_t lo_micros = FloorDiv(lo, kNanosPerMicro);
    if (lo % kNanosPerMicro != 0) ++lo_micros;  // rounded up (no product: it overflows near MIN)
    if (lo == INT64_MIN) lo_micros = INT64_MIN;
    const int64_t hi_micros = hi == INT64_MAX ? INT64_MAX : FloorDiv(hi, kNanosPerMicro);
    EncodedInterval result;
    result.lo = EncodeI64(lo_micros);
    result.hi = EncodeI64(hi_micros);
    result.empty = lo_micros > hi_micros;
    return result;
  }

  // Exact encoding of a term value for a typed (non-text) field; nullopt when the value cannot
  // be held by the field.
  static absl::StatusOr<std::optional<uint64_t>> EncodeTerm(const FieldEntry& field,
                                                            const TermValue& value) {
    RangeBound bound;
    RETURN_IF_ERROR(ToBound(field, value, bound));
    if (field.type == FieldType::kF64) {
      if (!bound.is_double) return EncodeF64(static_cast<double>(bound.integer));
      return EncodeF64(bound.real);
    }
    Int128 integer = bound.integer;
    if (bound.is_double) {
      if (!std::isfinite(bound.real) || std::trunc(bound.real) != bound.real ||
          std::fabs(bound.real) > 1.9e19) {
        return std::nullopt;
      }
      integer = static_cast<Int128>(bound.real);
    }
    return EncodeInteger(field.type, integer);
  }

  // The term of `value` in an ip field (16 bytes, from an address) or a bytes field (the bytes of
  // a base64 text). InvalidArgument naming field and value when it is neither.
  static absl::StatusOr<std::string> EncodeByteTerm(const FieldEntry& field,
                                                    const TermValue& value) {
    const std::string text = ValueAsText(value);
    std::optional<std::string> bytes = field.type == FieldType::kIp
                                           ? internal::ParseIp(text)
                                           : internal::DecodeBytes(text, BytesFormat::kBase64);
    if (!bytes.has_value()) return BadValue(field.path, field.type, value);
    return *std::move(bytes);
  }

  static std::optional<uint64_t> EncodeInteger(FieldType type, Int128 value) {
    switch (type) {
      case FieldType::kU64:
        if (value < 0 || value > static_cast<Int128>(UINT64_MAX)) return std::nullopt;
        return static_cast<uint64_t>(value);
      case FieldType::kBool:
        if (value < 0 || value > 1) return std::nullopt;
        return static_cast<uint64_t>(value);
      default:
        if (value < INT64_MIN || value > INT64_MAX) return std::nullopt;
        return EncodeI64(static_cast<int64_t>(value));
    }
  }

  struct RangeBound {
    bool is_double = false;
    double real = 0;
    Int128 integer = 0;
  };

  // A number given for a datetime field: a unix timestamp whose precision is inferred from its
  // magnitude (integers), or fractional unix seconds (floats); bounds are in nanoseconds.
  static absl::Status DatetimeNumberBound(const FieldEntry& field, const TermValue& value,
                                          RangeBound& out) {
    std::optional<internal::Timestamp> timestamp;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      timestamp = internal::UnixTimestampToTimestamp(*i);
    } else if (const auto* u = std::get_if<uint64_t>(&value)) {
      if (*u <= static_cast<uint64_t>(INT64_MAX)) {
        timestamp = internal::UnixTimestampToTimestamp(static_cast<int64_t>(*u));
      }
    } else if (const auto* d = std::get_if<double>(&value)) {
      timestamp = internal::UnixSecondsF64ToTimestamp(*d);
    }
    if (!timestamp.has_value()) return BadValue(field.path, field.type, value);
    out.integer = internal::ToUnixNanosWide(*timestamp);
    return absl::OkStatus();
  }

  static absl::Status ToBound(const FieldEntry& field, const TermValue& value, RangeBound& out) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      std::string_view view = *text;
      switch (field.type) {
        case FieldType::kDatetime: {
          std::optional<internal::Timestamp> timestamp = internal::ParseQueryDatetime(view);
          if (!timestamp.has_value()) return BadValue(field.path, field.type, value);
          out.integer = internal::ToUnixNanosWide(*timestamp);
          return absl::OkStatus();
        }
        case FieldType::kBool:
          if (view == "true" || view == "false") {
            out.integer = view == "true" ? 1 : 0;
            return absl::OkStatus();
          }
          return BadValue(field.path, field.type, value);
        default: {
          int64_t i = 0;
          auto [ptr, ec] = std::from_chars(view.data(), view.data() + view.size(), i);
          if (ec == std::errc() && ptr == view.data() + view.size() && !view.empty()) {
            out.integer = i;
            return absl::OkStatus();
          }
          uint64_t u = 0;
          auto [uptr, uec] = std::from_chars(view.data(), view.data() + view.size(), u);
          if (uec == std::errc() && uptr == view.data() + view.size() && !view.empty()) {
            out.integer = u;
            return absl::OkStatus();
          }
          double d = 0;
          auto [dptr, dec] = std::from_chars(view.data(), view.data() + view.size(), d);
          if (dec == std::errc() && dptr == view.data() + view.size() && !view.empty() &&
              !std::isnan(d)) {
            out.is_double = true;
            out.real = d;
            return absl::OkStatus();
          }
          return BadValue(field.path, field.type, value);
        }
      }
    }
    if (field.type == FieldType::kDatetime) return DatetimeNumberBound(field, value, out);
    if (const auto* i = std::get_if<int64_t>(&value)) {
      out.integer = *i;
    } else if (const auto* u = std::get_if<uint64_t>(&value)) {
      out.integer = *u;
    } else if (const auto* d = std::get_if<double>(&value)) {
      if (std::isnan(*d)) return BadValue(field.path, field.type, value);
      out.is_double = true;
      out.real = *d;
    } else if (const auto* b = std::get_if<bool>(&value)) {
      if (field.type != FieldType::kBool) return BadValue(field.path, field.type, value);
      out.integer = *b ? 1 : 0;
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<EncodedInterval> EncodeRange(const FieldEntry& field,
                                                     const RangeQuery& range) {
    EncodedInterval interval;
    if (field.type == FieldType::kF64) {
      double lo = -std::numeric_limits<double>::infinity();
      double hi = std::numeric_limits<double>::infinity();
      if (range.lower.has_value()) {
        RangeBound bound;
        RETURN_IF_ERROR(ToBound(field, *range.lower, bound));
        lo = bound.is_double ? bound.real : static_cast<double>(bound.integer);
        if (!range.lower_inclusive)
          lo = std::nextafter(lo, std::numeric_limits<double>::infinity());
      }
      if (range.upper.has_value()) {
        RangeBound bound;
        RETURN_IF_ERROR(ToBound(field, *range.upper, bound));
        hi = bound.is_double ? bound.real : static_cast<double>(bound.integer);
        if (!range.upper_inclusive)
          hi = std::nextafter(hi, -std::numeric_limits<double>::infinity());
      }
      interval.lo = EncodeF64(lo);
      interval.hi = EncodeF64(hi);
      interval.empty = lo > hi;
      return interval;
    }
    Int128 type_min = INT64_MIN;
    Int128 type_max = INT64_MAX;
    if (field.type == FieldType::kU64) {
      type_min = 0;
      type_max = UINT64_MAX;
    } else if (field.type == FieldType::kBool) {
      type_min = 0;
      type_max = 1;
    }
    Int128 lo = type_min;
    Int128 hi = type_max;
    constexpr double kClamp = 1e30;
    if (range.lower.has_value()) {
      RangeBound bound;
      RETURN_IF_ERROR(ToBound(field, *range.lower, bound));
      if (bound.is_double) {
        const double c = std::ceil(std::clamp(bound.real, -kClamp, kClamp));
        lo = static_cast<Int128>(c);
        if (!range.lower_inclusive && c == bound.real) ++lo;
      } else {
        lo = bound.integer + (range.lower_inclusive ? 0 : 1);
      }
    }
    if (range.upper.has_value()) {
      RangeBound bound;
      RETURN_IF_ERROR(ToBound(field, *range.upper, bound));
      if (bound.is_double) {
        const double f = std::floor(std::clamp(bound.real, -kClamp, kClamp));
        hi = static_cast<Int128>(f);
        if (!range.upper_inclusive && f == bound.real) --hi;
      } else {
        hi = bound.integer - (range.upper_inclusive ? 0 : 1);
      }
    }
    lo = std::max(lo, type_min);
    hi = std::min(hi, type_max);
    if (lo > hi) {
      interval.empty = true;
      return interval;
    }
    interval.lo = *EncodeInteger(field.type, lo);
    interval.hi = *EncodeInteger(field.type, hi);
    return interval;
  }

  static std::string ValueAsText(const TermValue& value) {
    return std::visit(
        [](const auto& v) -> std::string {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
            return v;
          } else {
            return fmt::format("{}", v);
          }
        },
        value);
  }

  // ---- query evaluation ----
  //
  // Every EvalNode returns the matching docs. When `scores` is not null it has num_docs zeroes on
  // entry and the node writes the (unboosted) score of each doc it returns; entries of other docs
  // are unspecified. Term and phrase queries on text score BM25, other leaves a constant 1.

  absl::StatusOr<DocSet> Eval(const Query& query, std::vector<float>* scores) const {
    ASSIGN_OR_RETURN(DocSet docs,
                     std::visit([this, scores](const auto& node) { return EvalNode(node, scores); },
                                query.node));
    if (scores != nullptr && query.boost != 1.0f) {
      docs.ForEach([scores, boost = query.boost](uint32_t doc) { (*scores)[doc] *= boost; });
    }
    return docs;
  }

  static void ConstantScore(const DocSet& docs, std::vector<float>* scores) {
    if (scores == nullptr) return;
    docs.ForEach([scores](uint32_t doc) { (*scores)[doc] = 1.0f; });
  }

  absl::StatusOr<DocSet> EvalNode(const AllQuery&, std::vector<float>* scores) const {
    DocSet all(num_docs_, true);
    ConstantScore(all, scores);
    return all;
  }
  absl::StatusOr<DocSet> EvalNode(const EmptyQuery&, std::vector<float>*) const {
    return DocSet(num_docs_);
  }

  absl::StatusOr<DocSet> EvalNode(const TermQuery& term, std::vector<float>* scores) const {
    DocSet result(num_docs_);
    DocSet typed(num_docs_);  // matches of typed (non-text) alternatives: constant score
    const std::vector<uint32_t>& ids = FieldIds(term.field);
    bool has_text = false;
    for (uint32_t id : ids) has_text |= footer_.hotcache.fields[id].type == FieldType::kText;
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type == FieldType::kText) {
        RETURN_IF_ERROR(MatchText(field, ValueAsText(term.value), result, scores));
        continue;
      }
      if (internal::IsByteStringType(field.type)) {
        absl::StatusOr<std::string> bytes = EncodeByteTerm(field, term.value);
        if (!bytes.ok()) {
          if (has_text || ids.size() > 1) continue;
          return bytes.status();
        }
        RETURN_IF_ERROR(MatchExactBytes(field, *bytes, typed));
        continue;
      }
      absl::StatusOr<std::optional<uint64_t>> encoded = EncodeTerm(field, term.value);
      if (!encoded.ok()) {
        // With several types on one path, text that fits none of the typed ones still matches
        // the text alternative.
        if (has_text || ids.size() > 1) continue;
        return encoded.status();
      }
      if (!encoded->has_value()) continue;
      if (field.indexed && !field.term_blocks.empty()) {
        const std::optional<std::string> term_bytes = DictionaryTerm(field, **encoded);
        if (!term_bytes.has_value()) continue;
        ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, *term_bytes));
        if (info.has_value()) RETURN_IF_ERROR(AddPostings(field, *info, typed));
      } else if (field.column.kind == ColumnKind::kNumeric) {
        ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
        ScanColumn(*column, **encoded, **encoded, num_docs_, typed);
      } else if (!field.indexed) {
        return NeitherIndexedNorFast(field);
      }
    }
    if (scores != nullptr) typed.ForEach([scores](uint32_t doc) { (*scores)[doc] += 1.0f; });
    result.Or(typed);
    return result;
  }

  // Adds to `out` the docs whose value of byte-string field `field` is exactly `bytes` (the term
  // itself, untokenized): through the term dictionary when indexed, else the dictionary column.
  absl::Status MatchExactBytes(const FieldEntry& field, const std::string& bytes,
                               DocSet& out) const {
    if (field.indexed && !field.term_blocks.empty()) {
      ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, bytes));
      if (info.has_value()) RETURN_IF_ERROR(AddPostings(field, *info, out));
      return absl::OkStatus();
    }
    if (!field.indexed && field.column.kind != ColumnKind::kTextDict) {
      return NeitherIndexedNorFast(field);
    }
    return MatchColumnBytes(field, std::span<const std::string>(&bytes, 1), out);
  }

  // Adds to `out` the docs whose value of byte-string field `field` is one of `values`, through
  // its dictionary fast column, in one scan of the column for all of them. Matches nothing when
  // the field has no such column (indexed, but without a term in this split).
  absl::Status MatchColumnBytes(const FieldEntry& field, std::span<const std::string> values,
                                DocSet& out) const {
    if (values.empty() || field.column.kind != ColumnKind::kTextDict) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
    std::vector<uint64_t> ordinals;
    for (const std::string& value : values) {
      auto it = std::lower_bound(column->dict.begin(), column->dict.end(), value);
      if (it != column->dict.end() && *it == value) {
        ordinals.push_back(static_cast<uint64_t>(it - column->dict.begin()));
      }
    }
    if (ordinals.empty()) return absl::OkStatus();
    std::sort(ordinals.begin(), ordinals.end());
    ScanColumnForValues(*column, ordinals, num_docs_, out);
    return absl::OkStatus();
  }

  static absl::Status NeitherIndexedNorFast(const FieldEntry& field) {
    return absl::InvalidArgumentError(
        fmt::format("field `{}` is neither indexed nor fast", field.path));
  }

  // Adds to `out` the docs matching user text `text` on text field `field`: one token is a term;
  // several are a phrase when the field records positions, else all of them (v1 behaviour).
  // With `scores`, adds each matching doc's BM25 score.
  absl::Status MatchText(const FieldEntry& field, const std::string& text, DocSet& out,
                         std::vector<float>* scores) const {
    if (!field.indexed) {
      DocSet docs(num_docs_);
      RETURN_IF_ERROR(MatchExactBytes(field, text, docs));
      if (scores != nullptr) docs.ForEach([scores](uint32_t doc) { (*scores)[doc] += 1.0f; });
      out.Or(docs);
      return absl::OkStatus();
    }
    std::vector<std::string> tokens = TokenizeToStrings(field.tokenizer, text);
    if (tokens.empty()) return absl::OkStatus();
    if (tokens.size() > 1 && field.record_positions) {
      return MatchPhrase(field, tokens, 0, out, scores);
    }
    if (tokens.size() == 1 && scores == nullptr) {
      ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, tokens[0]));
      if (info.has_value()) RETURN_IF_ERROR(AddPostings(field, *info, out));
      return absl::OkStatus();
    }
    std::vector<DecodedPostings> lists(tokens.size());
    std::vector<TermInfo> infos(tokens.size());
    std::optional<DocSet> all;
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, tokens[i]));
      if (!info.has_value()) return absl::OkStatus();
      infos[i] = *std::move(info);
      RETURN_IF_ERROR(DecodePostings(field, infos[i], false, lists[i]));
      DocSet docs(num_docs_);
      for (uint32_t doc : lists[i].docs) docs.Set(doc);
      if (all.has_value()) {
        all->And(docs);
      } else {
        all = std::move(docs);
      }
    }
    if (scores != nullptr) {
      ASSIGN_OR_RETURN(std::shared_ptr<const std::string> norms, LoadFieldNorms(field));
      for (size_t i = 0; i < tokens.size(); ++i) {
        const Bm25Weight weight(Bm25Weight::Idf(num_docs_, infos[i].doc_freq), field, norms.get());
        const DecodedPostings& list = lists[i];
        for (size_t j = 0; j < list.docs.size(); ++j) {
          if (all->Test(list.docs[j])) {
            (*scores)[list.docs[j]] += weight.Score(list.docs[j], list.freqs[j]);
          }
        }
      }
    }
    out.Or(*all);
    return absl::OkStatus();
  }

  // Adds to `out` the docs holding `tokens` in order with at most `slop` extra positions in
  // total. REQUIRES: field.record_positions, tokens.size() >= 2.
  absl::Status MatchPhrase(const FieldEntry& field, const std::vector<std::string>& tokens,
                           uint32_t slop, DocSet& out, std::vector<float>* scores) const {
    if (BlockPostings(field) && field.record_freq) {
      internal::ScorerErrors errors;
      ASSIGN_OR_RETURN(std::unique_ptr<DocScorer> phrase,
                       NewPhraseScorer(field, tokens, slop, scores != nullptr, &errors));
      for (uint32_t doc = phrase->doc(); doc != DocScorer::kEnd; doc = phrase->Next()) {
        out.Set(doc);
        if (scores != nullptr) (*scores)[doc] += phrase->Score();
      }
      return errors.first;
    }
    // Postings v1: every list decoded whole.
    std::vector<DecodedPostings> lists(tokens.size());
    float idf = 0;
    size_t lead = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, tokens[i]));
      if (!info.has_value()) return absl::OkStatus();
      RETURN_IF_ERROR(DecodePostings(field, *info, true, lists[i]));
      idf += Bm25Weight::Idf(num_docs_, info->doc_freq);
      if (lists[i].docs.size() < lists[lead].docs.size()) lead = i;
    }
    std::shared_ptr<const std::string> norms;
    std::optional<Bm25Weight> weight;
    if (scores != nullptr) {
      ASSIGN_OR_RETURN(norms, LoadFieldNorms(field));
      weight.emplace(idf, field, norms.get());
    }
    // Drive by the rarest term; the other cursors only move forward.
    std::vector<size_t> cursors(tokens.size(), 0);
    std::vector<std::span<const uint32_t>> positions(tokens.size());
    for (uint32_t doc : lists[lead].docs) {
      bool in_all = true;
      for (size_t i = 0; i < tokens.size() && in_all; ++i) {
        const std::vector<uint32_t>& docs = lists[i].docs;
        auto it = std::lower_bound(docs.begin() + static_cast<std::ptrdiff_t>(cursors[i]),
                                   docs.end(), doc);
        cursors[i] = static_cast<size_t>(it - docs.begin());
        if (it == docs.end()) return absl::OkStatus();
        in_all = *it == doc;
        if (in_all) {
          positions[i] = std::span<const uint32_t>(
              lists[i].positions.data() + lists[i].position_starts[cursors[i]],
              lists[i].freqs[cursors[i]]);
        }
      }
      if (!in_all) continue;
      const uint32_t phrase_freq = CountPhraseMatches(positions, slop);
      if (phrase_freq == 0) continue;
      out.Set(doc);
      if (scores != nullptr) (*scores)[doc] += weight->Score(doc, phrase_freq);
    }
    return absl::OkStatus();
  }

  // The scorer of the phrase `tokens` on `field` (scored with BM25 when `scored`).
  // REQUIRES: BlockPostings(field), field.record_freq, tokens.size() >= 2.
  absl::StatusOr<std::unique_ptr<DocScorer>> NewPhraseScorer(const FieldEntry& field,
                                                             const std::vector<std::string>& tokens,
                                                             uint32_t slop, bool scored,
                                                             internal::ScorerErrors* errors) const {
    if (!field.record_positions || field.positions_section == internal::kNoSection) {
      return absl::FailedPreconditionError(
          fmt::format("field `{}` has no positions indexed", field.path));
    }
    std::vector<internal::PhraseTerm> terms(tokens.size());
    float idf = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, tokens[i]));
      if (!info.has_value()) return internal::NewEmptyScorer();
      internal::PhraseTerm& term = terms[i];
      ASSIGN_OR_RETURN(term.postings,
                       ReadChunk(field.postings_section, info->postings, "posting list"));
      ASSIGN_OR_RETURN(term.positions,
                       ReadChunk(field.positions_section, info->positions, "position list"));
      term.doc_freq = info->doc_freq;
      term.postings_offset = SectionOffset(field.postings_section) + info->postings.offset;
      term.positions_offset = SectionOffset(field.positions_section) + info->positions.offset;
      idf += Bm25Weight::Idf(num_docs_, info->doc_freq);
    }
    std::optional<Bm25Weight> weight;
    std::shared_ptr<const std::string> norms;
    if (scored) {
      ASSIGN_OR_RETURN(norms, LoadFieldNorms(field));
      weight.emplace(idf, field, norms.get());
    }
    return internal::NewPhraseScorer(std::move(terms), slop, num_docs_, std::move(weight),
                                     std::move(norms), name(), errors);
  }

  absl::StatusOr<DocSet> EvalNode(const PhraseQuery& phrase, std::vector<float>* scores) const {
    const std::vector<uint32_t>& ids = FieldIds(phrase.field);
    if (ids.empty() || phrase.terms.empty()) return DocSet(num_docs_);
    if (phrase.terms.size() == 1) {
      return EvalNode(TermQuery{phrase.field, phrase.terms[0]}, scores);
    }
    DocSet result(num_docs_);
    bool has_positions = false;
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type != FieldType::kText) continue;
      if (!field.indexed || !field.record_positions) {
        return absl::FailedPreconditionError(
            fmt::format("field `{}` has no positions indexed", phrase.field));
      }
      has_positions = true;
      std::vector<std::string> tokens;
      for (const std::string& term : phrase.terms) {
        for (std::string& token : TokenizeToStrings(field.tokenizer, term)) {
          tokens.push_back(std::move(token));
        }
      }
      if (tokens.empty()) continue;
      if (tokens.size() == 1) {
        RETURN_IF_ERROR(MatchText(field, tokens[0], result, scores));
      } else {
        RETURN_IF_ERROR(MatchPhrase(field, tokens, phrase.slop, result, scores));
      }
    }
    if (!has_positions) {
      return absl::FailedPreconditionError(
          fmt::format("field `{}` has no positions indexed", phrase.field));
    }
    return result;
  }

  absl::StatusOr<DocSet> EvalNode(const RangeQuery& range, std::vector<float>* scores) const {
    DocSet result(num_docs_);
    for (uint32_t id : FieldIds(range.field)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (internal::IsByteStringType(field.type)) {
        ASSIGN_OR_RETURN(ByteBounds bounds, ByteRangeBounds(field, range));
        RETURN_IF_ERROR(TextRange(field, range, bounds, result));
        continue;
      }
      ASSIGN_OR_RETURN(EncodedInterval interval, EncodeRange(field, range));
      if (interval.empty) continue;
      if (field.column.kind == ColumnKind::kNumeric) {
        ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
        ScanColumn(*column, interval.lo, interval.hi, num_docs_, result);
      } else if (field.indexed) {
        const EncodedInterval terms = DictionaryInterval(field, interval);
        if (terms.empty) continue;
        const std::string lower = internal::BigEndianTerm(terms.lo);
        const std::string upper = internal::BigEndianTerm(terms.hi);
        RETURN_IF_ERROR(ScanTerms(field, &lower, [&](const TermInfo& info) -> absl::StatusOr<bool> {
          if (info.term > upper) return false;
          RETURN_IF_ERROR(AddPostings(field, info, result));
          return true;
        }));
      } else {
        return absl::InvalidArgumentError(
            fmt::format("range query on field `{}` requires it to be fast or indexed", field.path));
      }
    }
    ConstantScore(result, scores);
    return result;
  }

  // The bounds of a range on a byte-string field as terms: the user text for text fields, the
  // 16 bytes of an address for ip fields, the decoded base64 for bytes fields.
  struct ByteBounds {
    std::optional<std::string> lower;
    std::optional<std::string> upper;
  };

  static absl::StatusOr<ByteBounds> ByteRangeBounds(const FieldEntry& field,
                                                    const RangeQuery& range) {
    ByteBounds bounds;
    if (field.type == FieldType::kText) {
      if (range.lower.has_value()) bounds.lower = ValueAsText(*range.lower);
      if (range.upper.has_value()) bounds.upper = ValueAsText(*range.upper);
      return bounds;
    }
    if (range.lower.has_value()) {
      ASSIGN_OR_RETURN(bounds.lower, EncodeByteTerm(field, *range.lower));
    }
    if (range.upper.has_value()) {
      ASSIGN_OR_RETURN(bounds.upper, EncodeByteTerm(field, *range.upper));
    }
    return bounds;
  }

  absl::Status TextRange(const FieldEntry& field, const RangeQuery& range, const ByteBounds& bounds,
                         DocSet& out) const {
    const std::optional<std::string>& lower = bounds.lower;
    const std::optional<std::string>& upper = bounds.upper;
    auto in_range = [&](std::string_view term) {
      if (lower.has_value() && (range.lower_inclusive ? term < *lower : term <= *lower)) {
        return false;
      }
      return !(upper.has_value() && (range.upper_inclusive ? term > *upper : term >= *upper));
    };
    if (field.indexed && !field.term_blocks.empty()) {
      return ScanTerms(field, lower.has_value() ? &*lower : nullptr,
                       [&](const TermInfo& info) -> absl::StatusOr<bool> {
                         if (upper.has_value() && info.term > *upper) return false;
                         if (in_range(info.term)) RETURN_IF_ERROR(AddPostings(field, info, out));
                         return true;
                       });
    }
    if (field.column.kind == ColumnKind::kTextDict) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
      uint64_t lo = UINT64_MAX;
      uint64_t hi = 0;
      for (uint64_t ordinal = 0; ordinal < column->dict.size(); ++ordinal) {
        if (!in_range(column->dict[ordinal])) continue;
        lo = std::min(lo, ordinal);
        hi = std::max(hi, ordinal);
      }
      if (lo <= hi) ScanColumn(*column, lo, hi, num_docs_, out);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<DocSet> EvalNode(const ExistsQuery& exists, std::vector<float>* scores) const {
    DocSet result(num_docs_);
    const std::string child_prefix = exists.field + ".";
    for (const FieldEntry& field : footer_.hotcache.fields) {
      if (field.path != exists.field && !field.path.starts_with(child_prefix)) continue;
      if (field.presence.length == 0) continue;
      RETURN_IF_ERROR(AddPresence(field, result));
    }
    ConstantScore(result, scores);
    return result;
  }

  absl::Status AddPresence(const FieldEntry& field, DocSet& out) const {
    absl::StatusOr<std::string> bytes =
        ReadChunk(footer_.hotcache.presence_section, field.presence, "presence list");
    if (!bytes.ok()) return bytes.status();
    const uint64_t at = SectionOffset(footer_.hotcache.presence_section) + field.presence.offset;
    std::string_view view = *bytes;
    ByteReader reader(view);
    const uint64_t count = reader.Varint();
    if (!reader.ok() || count > num_docs_) return DataLoss("bad presence list", at);
    return DecodeDocList(view.substr(reader.position()), count, at, out);
  }

  absl::StatusOr<DocSet> EvalNode(const PrefixQuery& prefix, std::vector<float>* scores) const {
    return EvalPattern(prefix, scores);
  }

  // ---- term sets and pattern queries ----

  absl::StatusOr<DocSet> EvalNode(const TermSetQuery& set, std::vector<float>* scores) const {
    DocSet result(num_docs_);
    const std::vector<uint32_t>& ids = FieldIds(set.field);
    bool has_text = false;
    for (uint32_t id : ids) has_text |= footer_.hotcache.fields[id].type == FieldType::kText;
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      std::vector<std::string> terms;       // looked up in the term dictionary, in sorted order
      std::vector<uint64_t> column_values;  // numeric values matched on a fast column
      // Byte strings without a term dictionary to look them up in: matched on the dictionary
      // column in one scan for all of them, not one scan per value.
      std::vector<std::string> column_bytes;
      auto match_on_column = [&field, &column_bytes](std::string bytes) -> absl::Status {
        if (!field.indexed && field.column.kind != ColumnKind::kTextDict) {
          return NeitherIndexedNorFast(field);
        }
        column_bytes.push_back(std::move(bytes));
        return absl::OkStatus();
      };
      for (const TermValue& value : set.values) {
        if (field.type == FieldType::kText) {
          std::string text = ValueAsText(value);
          if (!field.indexed) {
            RETURN_IF_ERROR(match_on_column(std::move(text)));
            continue;
          }
          std::vector<std::string> tokens = TokenizeToStrings(field.tokenizer, text);
          if (tokens.size() == 1) {
            terms.push_back(std::move(tokens[0]));
          } else if (tokens.size() > 1) {
            RETURN_IF_ERROR(MatchText(field, text, result, nullptr));
          }
          continue;
        }
        if (internal::IsByteStringType(field.type)) {
          absl::StatusOr<std::string> bytes = EncodeByteTerm(field, value);
          if (!bytes.ok()) {
            if (has_text || ids.size() > 1) continue;
            return bytes.status();
          }
          if (field.indexed && !field.term_blocks.empty()) {
            terms.push_back(*std::move(bytes));
          } else {
            RETURN_IF_ERROR(match_on_column(*std::move(bytes)));
          }
          continue;
        }
        absl::StatusOr<std::optional<uint64_t>> encoded = EncodeTerm(field, value);
        if (!encoded.ok()) {
          if (has_text || ids.size() > 1) continue;
          return encoded.status();
        }
        if (!encoded->has_value()) continue;
        if (field.indexed && !field.term_blocks.empty()) {
          if (std::optional<std::string> term_bytes = DictionaryTerm(field, **encoded)) {
            terms.push_back(*std::move(term_bytes));
          }
        } else if (field.column.kind == ColumnKind::kNumeric) {
          column_values.push_back(**encoded);
        } else if (!field.indexed) {
          return NeitherIndexedNorFast(field);
        }
      }
      RETURN_IF_ERROR(AddSortedTerms(field, terms, result));
      RETURN_IF_ERROR(MatchColumnBytes(field, column_bytes, result));
      if (!column_values.empty()) {
        std::sort(column_values.begin(), column_values.end());
        ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
        ScanColumnForValues(*column, column_values, num_docs_, result);
      }
    }
    ConstantScore(result, scores);
    return result;
  }

  // Adds to `out` the postings of the terms of `terms` found in the dictionary of `field`. Sorts
  // `terms` first so that each term dictionary block is read at most once.
  absl::Status AddSortedTerms(const FieldEntry& field, std::vector<std::string>& terms,
                              DocSet& out) const {
    if (terms.empty() || field.term_blocks.empty()) return absl::OkStatus();
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    std::optional<size_t> loaded_block;
    std::vector<TermInfo> block_terms;
    for (const std::string& term : terms) {
      const std::optional<size_t> block = TermBlockFor(field, term);
      if (!block.has_value()) continue;
      if (loaded_block != block) {
        ASSIGN_OR_RETURN(block_terms, LoadTermBlock(field, *block));
        loaded_block = block;
      }
      auto it = std::lower_bound(
          block_terms.begin(), block_terms.end(), term,
          [](const TermInfo& info, const std::string& t) { return info.term < t; });
      if (it != block_terms.end() && it->term == term)
        RETURN_IF_ERROR(AddPostings(field, *it, out));
    }
    return absl::OkStatus();
  }

  // Sets in `out` the docs having a value in `sorted_values` (raw encodings or ordinals).
  static void ScanColumnForValues(const Column& column, const std::vector<uint64_t>& sorted_values,
                                  uint32_t num_docs, DocSet& out) {
    for (uint32_t doc = 0; doc < num_docs; ++doc) {
      auto [begin, end] = column.Range(doc);
      for (uint64_t i = begin; i < end; ++i) {
        if (std::binary_search(sorted_values.begin(), sorted_values.end(), column.RawValue(i))) {
          out.Set(doc);
          break;
        }
      }
    }
  }

  // Adds to `out` the docs of the terms of byte-string field `field` for which `matches` holds,
  // scanning from `lower` until `past_end` holds: through the term dictionary when indexed, else
  // the dictionary of its fast column. InvalidArgument naming `query` (a prefix, wildcard or
  // regex query) when more than kMaxPatternExpansions terms match.
  template <typename PastEnd, typename Matches, typename PatternQuery>
  absl::Status AddMatchingTerms(const FieldEntry& field, const std::string& lower,
                                PastEnd&& past_end, Matches&& matches, const PatternQuery& query,
                                DocSet& out) const {
    size_t expanded = 0;
    auto too_many = [&] {
      return absl::InvalidArgumentError(fmt::format("{} on field `{}` matches more than {} terms",
                                                    Describe(query), field.path,
                                                    kMaxPatternExpansions));
    };
    if (field.indexed && !field.term_blocks.empty()) {
      return ScanTerms(field, &lower, [&](const TermInfo& info) -> absl::StatusOr<bool> {
        if (past_end(std::string_view(info.term))) return false;
        if (!matches(std::string_view(info.term))) return true;
        if (++expanded > kMaxPatternExpansions) return too_many();
        RETURN_IF_ERROR(AddPostings(field, info, out));
        return true;
      });
    }
    if (field.column.kind != ColumnKind::kTextDict) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::shared_ptr<const Column> column, LoadColumn(field));
    std::vector<uint64_t> ordinals;
    for (auto it = std::lower_bound(column->dict.begin(), column->dict.end(), lower);
         it != column->dict.end() && !past_end(*it); ++it) {
      if (!matches(*it)) continue;
      if (++expanded > kMaxPatternExpansions) return too_many();
      ordinals.push_back(static_cast<uint64_t>(it - column->dict.begin()));
    }
    if (!ordinals.empty()) ScanColumnForValues(*column, ordinals, num_docs_, out);
    return absl::OkStatus();
  }

  absl::StatusOr<DocSet> EvalNode(const WildcardQuery& wildcard, std::vector<float>* scores) const {
    return EvalPattern(wildcard, scores);
  }

  absl::StatusOr<DocSet> EvalNode(const RegexQuery& regex, std::vector<float>* scores) const {
    return EvalPattern(regex, scores);
  }

  // A prefix, wildcard or regex query selects, on each text field at its path, the terms from
  // `lower` on, until `past_end` holds, for which `matches` holds. ForEachPatternField calls
  // `visit(field, lower, past_end, matches)` for each of those fields and returns the first error
  // of `visit`; EvalPattern and PlanPattern both walk it, so they select the same terms.
  template <typename Visit>
  absl::Status ForEachPatternField(const PrefixQuery& prefix, Visit&& visit) const {
    for (uint32_t id : FieldIds(prefix.field)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type != FieldType::kText) continue;
      RETURN_IF_ERROR(visit(
          field, prefix.prefix,
          [&prefix](std::string_view term) { return !term.starts_with(prefix.prefix); },
          [](std::string_view) { return true; }));
    }
    return absl::OkStatus();
  }

  template <typename Visit>
  absl::Status ForEachPatternField(const WildcardQuery& wildcard, Visit&& visit) const {
    for (uint32_t id : FieldIds(wildcard.field)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type != FieldType::kText) continue;
      const internal::WildcardPattern pattern(wildcard.pattern, LowercasesTerms(field.tokenizer));
      const std::string& prefix = pattern.literal_prefix();
      RETURN_IF_ERROR(visit(
          field, prefix, [&prefix](std::string_view term) { return !term.starts_with(prefix); },
          [&pattern](std::string_view term) { return pattern.Matches(term); }));
    }
    return absl::OkStatus();
  }

  // Also InvalidArgument for a bad pattern, when the path holds a text field (the pattern is not
  // compiled otherwise).
  template <typename Visit>
  absl::Status ForEachPatternField(const RegexQuery& regex, Visit&& visit) const {
    const std::vector<uint32_t>& ids = FieldIds(regex.field);
    bool any_text = false;
    for (uint32_t id : ids) any_text |= footer_.hotcache.fields[id].type == FieldType::kText;
    if (!any_text) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::unique_ptr<RE2> compiled, CompileRegex(regex.pattern));
    const RegexBounds bounds = BoundsOf(*compiled);
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type != FieldType::kText) continue;
      RETURN_IF_ERROR(visit(
          field, bounds.lower,
          [&bounds](std::string_view term) {
            return bounds.upper.has_value() && term > *bounds.upper;
          },
          [&compiled](std::string_view term) {
            return RE2::FullMatch(re2::StringPiece(term.data(), term.size()), *compiled);
          }));
    }
    return absl::OkStatus();
  }

  // A prefix, wildcard or regex query as error messages name it.
  static std::string Describe(const PrefixQuery& prefix) {
    return fmt::format("prefix `{}`", prefix.prefix);
  }
  static std::string Describe(const WildcardQuery& wildcard) {
    return fmt::format("wildcard `{}`", wildcard.pattern);
  }
  static std::string Describe(const RegexQuery& regex) {
    return fmt::format("regex `{}`", regex.pattern.substr(0, 100));
  }

  template <typename PatternQuery>
  absl::StatusOr<DocSet> EvalPattern(const PatternQuery& query, std::vector<float>* scores) const {
    DocSet result(num_docs_);
    RETURN_IF_ERROR(
        ForEachPatternField(query, [&](const FieldEntry& field, const std::string& lower,
                                       const auto& past_end, const auto& matches) {
          return AddMatchingTerms(field, lower, past_end, matches, query, result);
        }));
    ConstantScore(result, scores);
    return result;
  }

  // `pattern` compiled once, within the bounds of ValidateRegexPattern, which names the problem
  // when it does not compile (the error path compiles it a second time, the success path not).
  static absl::StatusOr<std::unique_ptr<RE2>> CompileRegex(const std::string& pattern) {
    if (pattern.size() <= kMaxRegexLength) {
      RE2::Options options;
      options.set_log_errors(false);
      options.set_max_mem(kMaxRegexMemoryBytes);
      auto compiled = std::make_unique<RE2>(pattern, options);
      if (compiled->ok()) return compiled;
    }
    RETURN_IF_ERROR(ValidateRegexPattern(pattern));
    return absl::InvalidArgumentError(fmt::format("invalid regex `{}`", pattern.substr(0, 100)));
  }

  // The range of terms a regex can fully match: [lower, upper] (upper unset: no bound).
  struct RegexBounds {
    std::string lower;
    std::optional<std::string> upper;
  };

  static RegexBounds BoundsOf(const RE2& regex) {
    constexpr int kMaxBoundLength = 64;
    RegexBounds bounds;
    std::string lower;
    std::string upper;
    if (regex.PossibleMatchRange(&lower, &upper, kMaxBoundLength)) {
      bounds.lower = std::move(lower);
      bounds.upper = std::move(upper);
    }
    return bounds;
  }

  // Whether the tokenizer lowercases its tokens (wildcard patterns are lowercased to match).
  static bool LowercasesTerms(TokenizerKind tokenizer) {
    return tokenizer != TokenizerKind::kRaw && tokenizer != TokenizerKind::kWhitespace;
  }

  absl::StatusOr<DocSet> EvalNode(const BoolQuery& query, std::vector<float>* scores) const {
    DocSet result(num_docs_, true);
    const bool has_required = !query.must.empty() || !query.filter.empty();
    std::vector<float> clause_scores;
    // Single-term required clauses are intersected with skipping iterators (not when the must
    // clauses need scores).
    std::vector<SimpleTerm> simple_terms;
    bool required_term_absent = false;
    auto take_simple = [&](const Query& clause) -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(SimpleTerm term, ResolveSimpleTerm(clause));
      if (!term.simple) return false;
      if (term.absent) {
        required_term_absent = true;
      } else {
        simple_terms.push_back(std::move(term));
      }
      return true;
    };
    // Evaluates a must/should clause and, when scoring, adds its scores to `scores`.
    auto eval_scored = [&](const Query& clause) -> absl::StatusOr<DocSet> {
      if (scores == nullptr) return Eval(clause, nullptr);
      clause_scores.assign(num_docs_, 0.0f);
      ASSIGN_OR_RETURN(DocSet docs, Eval(clause, &clause_scores));
      docs.ForEach([&](uint32_t doc) { (*scores)[doc] += clause_scores[doc]; });
      return docs;
    };
    for (const QueryPtr& clause : query.must) {
      if (clause == nullptr) continue;
      if (scores == nullptr) {
        ASSIGN_OR_RETURN(bool simple, take_simple(*clause));
        if (simple) continue;
      }
      ASSIGN_OR_RETURN(DocSet docs, eval_scored(*clause));
      result.And(docs);
    }
    for (const QueryPtr& clause : query.filter) {
      if (clause == nullptr) continue;
      ASSIGN_OR_RETURN(bool simple, take_simple(*clause));
      if (simple) continue;
      ASSIGN_OR_RETURN(DocSet docs, Eval(*clause, nullptr));
      result.And(docs);
    }
    if (required_term_absent) {
      result = DocSet(num_docs_);
    } else if (!simple_terms.empty()) {
      DocSet intersection(num_docs_);
      RETURN_IF_ERROR(IntersectTerms(simple_terms, intersection));
      result.And(intersection);
    }
    const uint32_t minimum_should_match =
        query.minimum_should_match.value_or(!has_required && !query.should.empty() ? 1 : 0);
    if (minimum_should_match > query.should.size()) return DocSet(num_docs_);
    if (minimum_should_match == 0 && scores != nullptr) {
      // Optional clauses only add to the score.
      for (const QueryPtr& clause : query.should) {
        if (clause == nullptr) continue;
        RETURN_IF_ERROR(eval_scored(*clause).status());
      }
    } else if (minimum_should_match == 1) {
      DocSet any(num_docs_);
      for (const QueryPtr& clause : query.should) {
        if (clause == nullptr) continue;
        ASSIGN_OR_RETURN(DocSet docs, eval_scored(*clause));
        any.Or(docs);
      }
      result.And(any);
    } else if (minimum_should_match > 1) {
      std::vector<uint32_t> counts(num_docs_, 0);
      for (const QueryPtr& clause : query.should) {
        if (clause == nullptr) continue;
        ASSIGN_OR_RETURN(DocSet docs, eval_scored(*clause));
        docs.ForEach([&counts](uint32_t doc) { ++counts[doc]; });
      }
      DocSet enough(num_docs_);
      for (uint32_t doc = 0; doc < num_docs_; ++doc) {
        if (counts[doc] >= minimum_should_match) enough.Set(doc);
      }
      result.And(enough);
    }
    for (const QueryPtr& clause : query.must_not) {
      if (clause == nullptr) continue;
      ASSIGN_OR_RETURN(DocSet docs, Eval(*clause, nullptr));
      result.AndNot(docs);
    }
    return result;
  }

  // ---- document-at-a-time scoring (internal/doc_scorers.h) ----
  //
  // BuildScorer mirrors Eval for the query shapes it supports and returns null for the others
  // (the caller then evaluates bitsets). Scores are bit-identical to Eval's. Unscored clauses
  // (filter, must_not) of any kind are evaluated by Eval and walked as bitsets.

  // Whether a search is served by TopKByScore: the k best by `_score` alone, no exact count, no
  // aggregation, no time filter.
  static bool ScoresDocAtATime(const std::vector<SortField>& sort_by,
                               const SplitSearchRequest& request) {
    return request.top_k > 0 && !request.count_all && request.aggregation == nullptr &&
           !request.start_timestamp_nanos.has_value() && !request.end_timestamp_nanos.has_value() &&
           sort_by.size() == 1 && sort_by[0].field == "_score" &&
           sort_by[0].order == SortOrder::kDesc;
  }

  // Whether a count is served by walking the query's scorers: a bool query requiring at least
  // two term or phrase clauses. The leapfrog visits only the docs of the rarest clause (and
  // skips blocks of the others) where Eval would fill and AND a bitset per clause, and a phrase
  // reads positions only for the docs the other required clauses hold.
  static bool CountsDocAtATime(const Query& query, const SplitSearchRequest& request) {
    const auto* bool_query = std::get_if<BoolQuery>(&query.node);
    if (request.top_k != 0 || request.aggregation != nullptr ||
        request.start_timestamp_nanos.has_value() || request.end_timestamp_nanos.has_value() ||
        bool_query == nullptr || bool_query->must.size() + bool_query->filter.size() < 2) {
      return false;
    }
    for (const auto* clauses : {&bool_query->must, &bool_query->filter}) {
      for (const QueryPtr& clause : *clauses) {
        if (clause == nullptr || !(std::holds_alternative<TermQuery>(clause->node) ||
                                   std::holds_alternative<PhraseQuery>(clause->node))) {
          return false;
        }
      }
    }
    return true;
  }

  // The top k of `scorer` by score, ties by doc id; num_hits counts the docs the scorer stopped
  // on (a lower bound once it prunes).
  absl::StatusOr<SplitSearchResult> TopKByScore(DocScorer& scorer, uint32_t top_k,
                                                const internal::ScorerErrors& errors) const {
    struct Scored {
      float score;
      uint32_t doc;
    };
    // better(a, b): a ranks before b; the heap's front is the worst kept hit.
    auto better = [](const Scored& a, const Scored& b) {
      return a.score != b.score ? a.score > b.score : a.doc < b.doc;
    };
    std::vector<Scored> heap;
    heap.reserve(std::min<uint32_t>(top_k, 4096));
    uint64_t visited = 0;
    for (uint32_t doc = scorer.doc(); doc != DocScorer::kEnd; doc = scorer.Next()) {
      ++visited;
      const float score = scorer.Score();
      if (heap.size() < top_k) {
        heap.push_back({score, doc});
        std::push_heap(heap.begin(), heap.end(), better);
        if (heap.size() == top_k) scorer.SetMinCompetitiveScore(heap.front().score);
      } else if (score > heap.front().score) {
        // Docs come in increasing id order: an equal score never displaces a kept hit.
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = {score, doc};
        std::push_heap(heap.begin(), heap.end(), better);
        scorer.SetMinCompetitiveScore(heap.front().score);
      }
    }
    RETURN_IF_ERROR(errors.first);
    std::sort_heap(heap.begin(), heap.end(), better);
    SplitSearchResult result;
    result.num_hits = visited;
    result.hits.reserve(heap.size());
    for (const Scored& scored : heap) {
      SplitHit hit;
      hit.doc_id = scored.doc;
      hit.score = scored.score;
      hit.sort_keys.push_back(EncodeF64(scored.score));
      result.hits.push_back(std::move(hit));
    }
    return result;
  }

  // The scorer of `query` (BM25 when `scored`), or null when Eval must evaluate it.
  absl::StatusOr<std::unique_ptr<DocScorer>> BuildScorer(const Query& query, bool scored,
                                                         internal::ScorerErrors* errors) const {
    std::unique_ptr<DocScorer> scorer;
    if (scored && !(query.boost >= 0.0f && std::isfinite(query.boost))) return scorer;
    if (const auto* term = std::get_if<TermQuery>(&query.node)) {
      ASSIGN_OR_RETURN(scorer,
                       BuildTermScorer(term->field, ValueAsText(term->value), scored, errors));
    } else if (const auto* phrase = std::get_if<PhraseQuery>(&query.node)) {
      ASSIGN_OR_RETURN(scorer, BuildPhraseScorer(*phrase, scored, errors));
    } else if (const auto* bool_query = std::get_if<BoolQuery>(&query.node)) {
      ASSIGN_OR_RETURN(scorer, BuildBoolScorer(*bool_query, scored, errors));
    }
    if (scorer == nullptr) {
      if (scored) return scorer;
      ASSIGN_OR_RETURN(DocSet docs, Eval(query, nullptr));
      return internal::NewDocSetScorer(std::move(docs));
    }
    if (scored && query.boost != 1.0f)
      scorer = internal::NewBoostScorer(std::move(scorer), query.boost);
    return scorer;
  }

  // The one text field at `path` with block postings, or null.
  const FieldEntry* SingleBlockTextField(const std::string& path) const {
    const std::vector<uint32_t>& ids = FieldIds(path);
    if (ids.size() != 1) return nullptr;
    const FieldEntry& field = footer_.hotcache.fields[ids[0]];
    if (field.type != FieldType::kText || !field.indexed || !BlockPostings(field)) return nullptr;
    return &field;
  }

  // As EvalNode(TermQuery) on a path holding one text field: MatchText.
  absl::StatusOr<std::unique_ptr<DocScorer>> BuildTermScorer(const std::string& path,
                                                             const std::string& text, bool scored,
                                                             internal::ScorerErrors* errors) const {
    const FieldEntry* field = SingleBlockTextField(path);
    if (field == nullptr) return std::unique_ptr<DocScorer>();
    return BuildTextScorer(*field, text, scored, errors);
  }

  // As MatchText(field, text): one token is a term, several a phrase (when positions).
  absl::StatusOr<std::unique_ptr<DocScorer>> BuildTextScorer(const FieldEntry& field,
                                                             const std::string& text, bool scored,
                                                             internal::ScorerErrors* errors) const {
    std::vector<std::string> tokens = TokenizeToStrings(field.tokenizer, text);
    if (tokens.empty()) return internal::NewEmptyScorer();
    if (tokens.size() > 1) {
      if (!field.record_positions || !field.record_freq) return std::unique_ptr<DocScorer>();
      return NewPhraseScorer(field, tokens, 0, scored, errors);
    }
    ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, tokens[0]));
    if (!info.has_value()) return internal::NewEmptyScorer();
    ASSIGN_OR_RETURN(std::string postings,
                     ReadChunk(field.postings_section, info->postings, "posting list"));
    std::optional<Bm25Weight> weight;
    std::shared_ptr<const std::string> norms;
    if (scored) {
      ASSIGN_OR_RETURN(norms, LoadFieldNorms(field));
      weight.emplace(Bm25Weight::Idf(num_docs_, info->doc_freq), field, norms.get());
    }
    return internal::NewTermScorer(std::move(postings), info->doc_freq, num_docs_,
                                   field.record_freq, std::move(weight), std::move(norms),
                                   SectionOffset(field.postings_section) + info->postings.offset,
                                   name(), errors);
  }

  // As EvalNode(PhraseQuery) on a path holding one text field.
  absl::StatusOr<std::unique_ptr<DocScorer>> BuildPhraseScorer(
      const PhraseQuery& phrase, bool scored, internal::ScorerErrors* errors) const {
    if (phrase.terms.size() == 1) {
      return BuildTermScorer(phrase.field, phrase.terms[0], scored, errors);
    }
    const FieldEntry* field = SingleBlockTextField(phrase.field);
    if (field == nullptr || phrase.terms.empty() || !field->record_positions ||
        !field->record_freq) {
      return std::unique_ptr<DocScorer>();
    }
    std::vector<std::string> tokens;
    for (const std::string& term : phrase.terms) {
      for (std::string& token : TokenizeToStrings(field->tokenizer, term)) {
        tokens.push_back(std::move(token));
      }
    }
    if (tokens.empty()) return internal::NewEmptyScorer();
    if (tokens.size() == 1) return BuildTextScorer(*field, tokens[0], scored, errors);
    return NewPhraseScorer(*field, tokens, phrase.slop, scored, errors);
  }

  // As EvalNode(BoolQuery), for: required clauses with optional scoring ones, or a union; both
  // minus the must_not clauses.
  absl::StatusOr<std::unique_ptr<DocScorer>> BuildBoolScorer(const BoolQuery& query, bool scored,
                                                             internal::ScorerErrors* errors) const {
    const bool has_required = !query.must.empty() || !query.filter.empty();
    const uint32_t minimum_should_match =
        query.minimum_should_match.value_or(!has_required && !query.should.empty() ? 1 : 0);
    if (minimum_should_match > query.should.size()) return internal::NewEmptyScorer();
    const bool union_only = !has_required && minimum_should_match == 1;
    if (!(has_required && minimum_should_match == 0) && !union_only) {
      return std::unique_ptr<DocScorer>();
    }
    // Builds the non-null clauses of `clauses`; false when one of them needs Eval.
    auto build_all = [&](const std::vector<QueryPtr>& clauses, bool clause_scored,
                         std::vector<std::unique_ptr<DocScorer>>& out) -> absl::StatusOr<bool> {
      for (const QueryPtr& clause : clauses) {
        if (clause == nullptr) continue;
        ASSIGN_OR_RETURN(std::unique_ptr<DocScorer> scorer,
                         BuildScorer(*clause, clause_scored, errors));
        if (scorer == nullptr) return false;
        out.push_back(std::move(scorer));
      }
      return true;
    };
    std::vector<std::unique_ptr<DocScorer>> excluded;
    ASSIGN_OR_RETURN(bool built, build_all(query.must_not, false, excluded));
    if (!built) return std::unique_ptr<DocScorer>();
    if (union_only) {
      std::vector<std::unique_ptr<DocScorer>> clauses;
      ASSIGN_OR_RETURN(built, build_all(query.should, scored, clauses));
      if (!built) return std::unique_ptr<DocScorer>();
      if (clauses.empty()) return internal::NewEmptyScorer();
      return internal::NewUnionScorer(std::move(clauses), std::move(excluded));
    }
    std::vector<internal::ScoredClause> required;
    for (const auto* clauses : {&query.must, &query.filter}) {
      const bool clause_scored = scored && clauses == &query.must;
      std::vector<std::unique_ptr<DocScorer>> scorers;
      ASSIGN_OR_RETURN(built, build_all(*clauses, clause_scored, scorers));
      if (!built) return std::unique_ptr<DocScorer>();
      for (auto& scorer : scorers) required.push_back({std::move(scorer), clause_scored});
    }
    if (required.empty()) return std::unique_ptr<DocScorer>();  // only null clauses: all docs
    std::vector<std::unique_ptr<DocScorer>> optional;
    if (scored) {
      ASSIGN_OR_RETURN(built, build_all(query.should, true, optional));
      if (!built) return std::unique_ptr<DocScorer>();
    }
    return internal::NewRequiredScorer(std::move(required), std::move(optional),
                                       std::move(excluded));
  }

  // ---- warmup planning ----
  //
  // PlanX mirrors EvalNode / MatchX / the collectors: it adds the ranges they read, in the round
  // where those ranges become known. Keep the two in step: split tests check that a warmed
  // search reads nothing more.

  class RangePlan {
   public:
    explicit RangePlan(WarmupRound round) : round_(round) {}
    bool first_round() const { return round_ == WarmupRound::kFromHotcache; }
    void Add(uint64_t offset, uint64_t length) {
      if (length > 0) ranges_.push_back(ByteRange{offset, length});
    }
    void AddChunk(uint64_t section_offset, const ChunkRef& chunk) {
      Add(section_offset + chunk.offset, chunk.length);
    }
    std::vector<ByteRange> Finish() {
      std::sort(ranges_.begin(), ranges_.end());
      ranges_.erase(std::unique(ranges_.begin(), ranges_.end()), ranges_.end());
      return std::move(ranges_);
    }

   private:
    WarmupRound round_;
    std::vector<ByteRange> ranges_;
  };

  void PlanColumn(const FieldEntry& field, RangePlan& plan) const {
    if (!plan.first_round() || field.fast_section == internal::kNoSection) return;
    const internal::FileTableEntry& section = footer_.sections[field.fast_section];
    plan.Add(section.offset, section.length);
  }

  void PlanFieldNorms(const FieldEntry& field, RangePlan& plan) const {
    if (!plan.first_round() || !field.has_fieldnorms ||
        field.fieldnorms_section == internal::kNoSection) {
      return;
    }
    const internal::FileTableEntry& section = footer_.sections[field.fieldnorms_section];
    plan.Add(section.offset, section.length);
  }

  void PlanAggColumns(const std::vector<AggregationSpec>& specs, RangePlan& plan) const {
    for (const AggregationSpec& spec : specs) {
      for (uint32_t id : FieldIds(spec.field)) {
        const FieldEntry& field = footer_.hotcache.fields[id];
        if (field.column.kind != ColumnKind::kNone) PlanColumn(field, plan);
      }
      PlanAggColumns(spec.sub_aggregations, plan);
    }
  }

  // FindTerm(field, term) then its posting list (and position list when `with_positions`).
  absl::Status PlanTermLookup(const FieldEntry& field, const std::string& term, bool with_positions,
                              RangePlan& plan) const {
    if (field.term_blocks.empty()) return absl::OkStatus();
    if (plan.first_round()) {
      if (const std::optional<size_t> block = TermBlockFor(field, term)) {
        plan.AddChunk(SectionOffset(field.terms_section), field.term_blocks[*block].chunk);
      }
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(std::optional<TermInfo> info, FindTerm(field, term));
    if (info.has_value()) PlanPostings(field, *info, with_positions, plan);
    return absl::OkStatus();
  }

  void PlanPostings(const FieldEntry& field, const TermInfo& info, bool with_positions,
                    RangePlan& plan) const {
    plan.AddChunk(SectionOffset(field.postings_section), info.postings);
    if (with_positions && field.record_positions &&
        field.positions_section != internal::kNoSection) {
      plan.AddChunk(SectionOffset(field.positions_section), info.positions);
    }
  }

  // ScanTerms(field, lower, ...) stopping at the first term for which `past_end` holds, adding
  // the posting lists of the terms for which `wanted` holds, at most `max_terms` of them.
  template <typename PastEnd, typename Wanted>
  absl::Status PlanTermScan(const FieldEntry& field, const std::string* lower, PastEnd&& past_end,
                            Wanted&& wanted, size_t max_terms, RangePlan& plan) const {
    const auto& blocks = field.term_blocks;
    if (blocks.empty()) return absl::OkStatus();
    if (plan.first_round()) {
      const size_t start = ScanStartBlock(field, lower);
      // The scan reads a block when the previous one held no term past the end, so the first
      // block starting past the end is read too (unless the previous block stopped the scan).
      const size_t max_blocks = max_terms / internal::kTermsPerBlock + 2;
      const uint64_t section_offset = SectionOffset(field.terms_section);
      for (size_t b = start; b < blocks.size() && b - start < max_blocks; ++b) {
        plan.AddChunk(section_offset, blocks[b].chunk);
        if (b > start && past_end(std::string_view(blocks[b].first_term))) break;
      }
      return absl::OkStatus();
    }
    size_t num_terms = 0;
    return ScanTerms(field, lower, [&](const TermInfo& info) -> absl::StatusOr<bool> {
      if (past_end(std::string_view(info.term))) return false;
      if (!wanted(std::string_view(info.term))) return true;
      PlanPostings(field, info, /*with_positions=*/false, plan);
      return ++num_terms < max_terms;
    });
  }

  absl::Status PlanQuery(const Query& query, bool scores, RangePlan& plan) const {
    return std::visit([&](const auto& node) { return PlanNode(node, scores, plan); }, query.node);
  }

  absl::Status PlanNode(const AllQuery&, bool, RangePlan&) const { return absl::OkStatus(); }
  absl::Status PlanNode(const EmptyQuery&, bool, RangePlan&) const { return absl::OkStatus(); }

  absl::Status PlanNode(const TermQuery& term, bool scores, RangePlan& plan) const {
    for (uint32_t id : FieldIds(term.field)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type == FieldType::kText) {
        RETURN_IF_ERROR(PlanMatchText(field, ValueAsText(term.value), scores, plan));
        continue;
      }
      if (internal::IsByteStringType(field.type)) {
        absl::StatusOr<std::string> bytes = EncodeByteTerm(field, term.value);
        if (!bytes.ok()) continue;
        RETURN_IF_ERROR(PlanExactBytes(field, *bytes, plan));
        continue;
      }
      absl::StatusOr<std::optional<uint64_t>> encoded = EncodeTerm(field, term.value);
      if (!encoded.ok() || !encoded->has_value()) continue;
      if (field.indexed && !field.term_blocks.empty()) {
        const std::optional<std::string> term_bytes = DictionaryTerm(field, **encoded);
        if (term_bytes.has_value())
          RETURN_IF_ERROR(PlanTermLookup(field, *term_bytes, false, plan));
      } else if (field.column.kind == ColumnKind::kNumeric) {
        PlanColumn(field, plan);
      }
    }
    return absl::OkStatus();
  }

  absl::Status PlanExactBytes(const FieldEntry& field, const std::string& bytes,
                              RangePlan& plan) const {
    if (field.indexed && !field.term_blocks.empty()) {
      return PlanTermLookup(field, bytes, /*with_positions=*/false, plan);
    }
    if (field.column.kind == ColumnKind::kTextDict) PlanColumn(field, plan);
    return absl::OkStatus();
  }

  absl::Status PlanMatchText(const FieldEntry& field, const std::string& text, bool scores,
                             RangePlan& plan) const {
    if (!field.indexed) return PlanExactBytes(field, text, plan);
    const std::vector<std::string> tokens = TokenizeToStrings(field.tokenizer, text);
    if (tokens.empty()) return absl::OkStatus();
    const bool phrase = tokens.size() > 1 && field.record_positions;
    for (const std::string& token : tokens) {
      RETURN_IF_ERROR(PlanTermLookup(field, token, phrase, plan));
    }
    if (scores) PlanFieldNorms(field, plan);
    return absl::OkStatus();
  }

  absl::Status PlanNode(const PhraseQuery& phrase, bool scores, RangePlan& plan) const {
    const std::vector<uint32_t>& ids = FieldIds(phrase.field);
    if (ids.empty() || phrase.terms.empty()) return absl::OkStatus();
    if (phrase.terms.size() == 1) {
      return PlanNode(TermQuery{phrase.field, phrase.terms[0]}, scores, plan);
    }
    for (uint32_t id : ids) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (field.type != FieldType::kText || !field.indexed || !field.record_positions) continue;
      std::vector<std::string> tokens;
      for (const std::string& term : phrase.terms) {
        for (std::string& token : TokenizeToStrings(field.tokenizer, term)) {
          tokens.push_back(std::move(token));
        }
      }
      if (tokens.size() == 1) {
        RETURN_IF_ERROR(PlanMatchText(field, tokens[0], scores, plan));
        continue;
      }
      for (const std::string& token : tokens) {
        RETURN_IF_ERROR(PlanTermLookup(field, token, /*with_positions=*/true, plan));
      }
      if (scores && !tokens.empty()) PlanFieldNorms(field, plan);
    }
    return absl::OkStatus();
  }

  absl::Status PlanNode(const RangeQuery& range, bool, RangePlan& plan) const {
    for (uint32_t id : FieldIds(range.field)) {
      const FieldEntry& field = footer_.hotcache.fields[id];
      if (internal::IsByteStringType(field.type)) {
        absl::StatusOr<ByteBounds> bounds = ByteRangeBounds(field, range);
        if (!bounds.ok()) continue;
        RETURN_IF_ERROR(PlanTextRange(field, range, *bounds, plan));
        continue;
      }
      absl::StatusOr<EncodedInterval> interval = EncodeRange(field, range);
      if (!interval.ok() || interval->empty) continue;
      if (field.column.kind == ColumnKind::kNumeric) {
        PlanColumn(field, plan);
      } else if (field.indexed) {
        const EncodedInterval terms = DictionaryInterval(field, *interval);
        if (terms.empty) continue;
        const std::string lower = internal::BigEndianTerm(terms.lo);
        const std::string upper = internal::BigEndianTerm(terms.hi);
        RETURN_IF_ERROR(PlanTermScan(
            field, &lower, [&upper](std::string_view term) { return term > upper; },
            [](std::string_view) { return true; }, SIZE_MAX, plan));
      }
    }
    return absl::OkStatus();
  }

  absl::Status PlanTextRange(const FieldEntry& field, const RangeQuery& range,
                             const ByteBounds& bounds, RangePlan& plan) const {
    const std::optional<std::string>& lower = bounds.lower;
    const std::optional<std::string>& upper = bounds.upper;
    if (field.indexed && !field.term_blocks.empty()) {
      auto past_end = [&upper](std::string_view term) {
        return upper.has_value() && term > *upper;
      };
      auto in_range = [&](std::string_view term) {
        if (lower.has_value() && (range.lower_inclusive ? term < *lower : term <= *lower)) {
          return false;
        }
        return !(upper.has_value() && (range.upper_inclusive ? term > *upper : term >= *upper));
      };
      return PlanTermScan(field, lower.has_value() ? &*lower : nullptr, past_end, in_range,
                          SIZE_MAX, plan);
    }
    if (field.column.kind == ColumnKind::kTextDict) PlanColumn(field, plan);
    return absl::OkStatus();
  }

  absl::Status PlanNode(const ExistsQuery& exists, bool, RangePlan& plan) const {
    if (!plan.first_round()) return absl::OkStatus();
    const uint32_t section = footer_.hotcache.presence_section;
    if (section == internal::kNoSection) return absl::OkStatus();
    const std::string child_prefix = exists.field + ".";
    for (const FieldEntry& field : footer_.hotcache.fields) {
      if (field.path != exists.field && !field.path.starts_with(child_prefix)) continue;
      plan.AddChunk(SectionOffset(section), field.presence);
    }
    return absl::OkStatus();
  }

  absl::Status PlanNode(const PrefixQuery& prefix, bool, RangePlan& plan) const {
    return PlanPattern(prefix, plan);
  }

  absl::Status PlanNode(const TermSetQuery& set, bool scores, RangePlan& plan) const {
    for (const TermValue& value : set.values) {
      RETURN_IF_ERROR(PlanNode(TermQuery{set.field, value}, scores, plan));
    }
    return absl::OkStatus();
  }

  // EvalPattern: the ranges AddMatchingTerms reads on each field. A bad regex plans nothing
  // (Search reports it).
  template <typename PatternQuery>
  absl::Status PlanPattern(const PatternQuery& query, RangePlan& plan) const {
    absl::Status planned;
    ForEachPatternField(query, [&](const FieldEntry& field, const std::string& lower,
                                   const auto& past_end, const auto& matches) {
      if (field.indexed && !field.term_blocks.empty()) {
        planned = PlanTermScan(field, &lower, past_end, matches, kMaxPatternExpansions, plan);
      } else if (field.column.kind == ColumnKind::kTextDict) {
        PlanColumn(field, plan);
      }
      return planned;
    }).IgnoreError();  // the errors of the visit are in `planned`; the others are Search's
    return planned;
  }

  absl::Status PlanNode(const WildcardQuery& wildcard, bool, RangePlan& plan) const {
    return PlanPattern(wildcard, plan);
  }

  absl::Status PlanNode(const RegexQuery& regex, bool, RangePlan& plan) const {
    return PlanPattern(regex, plan);
  }

  absl::Status PlanNode(const BoolQuery& query, bool scores, RangePlan& plan) const {
    auto plan_clauses = [&](const std::vector<QueryPtr>& clauses, bool scored) -> absl::Status {
      for (const QueryPtr& clause : clauses) {
        if (clause != nullptr) RETURN_IF_ERROR(PlanQuery(*clause, scored, plan));
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(plan_clauses(query.must, scores));
    RETURN_IF_ERROR(plan_clauses(query.filter, false));
    // As EvalNode(BoolQuery): optional should clauses are only evaluated to score.
    const bool has_required = !query.must.empty() || !query.filter.empty();
    const uint32_t minimum_should_match =
        query.minimum_should_match.value_or(!has_required && !query.should.empty() ? 1 : 0);
    if (minimum_should_match > query.should.size()) return absl::OkStatus();
    if (minimum_should_match > 0 || scores) RETURN_IF_ERROR(plan_clauses(query.should, scores));
    return plan_clauses(query.must_not, false);
  }

  std::shared_ptr<ByteRangeSource> source_;
  internal::Footer footer_;
  uint32_t num_docs_ = 0;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> fields_by_path_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<uint32_t, std::shared_ptr<const Column>> columns_
      ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<uint32_t, std::shared_ptr<const std::string>> fieldnorms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::shared_ptr<ByteRangeSource> NewMemoryByteRangeSource(std::string name, std::string bytes) {
  return std::make_shared<MemoryByteRangeSource>(std::move(name), std::move(bytes));
}

namespace {

absl::StatusOr<std::unique_ptr<SplitReaderImpl>> OpenImpl(std::shared_ptr<ByteRangeSource> source,
                                                          std::optional<std::string> hotcache) {
  const std::string& name = source->name();
  const uint64_t file_size = source->size();
  auto to_data_loss = [&name](const absl::Status& status) {
    if (absl::IsOutOfRange(status)) {
      return absl::DataLossError(
          fmt::format("split {}: {} at offset 0", name, std::string(status.message())));
    }
    return status;
  };
  if (hotcache.has_value()) {
    absl::StatusOr<internal::Footer> footer =
        internal::ParseFooter(*hotcache, file_size, name, nullptr);
    if (!footer.ok()) return to_data_loss(footer.status());
    return std::make_unique<SplitReaderImpl>(std::move(source), *std::move(footer));
  }
  if (file_size < internal::kTrailerSize) {
    return absl::DataLossError(
        fmt::format("split {}: file too short for a split trailer at offset 0", name));
  }
  uint64_t tail_length = std::min(file_size, internal::kTailReadSize);
  absl::StatusOr<std::string> tail = source->Read(file_size - tail_length, tail_length);
  if (!tail.ok()) return to_data_loss(tail.status());
  uint64_t needed = 0;
  absl::StatusOr<internal::Footer> footer = internal::ParseFooter(*tail, file_size, name, &needed);
  if (absl::IsOutOfRange(footer.status()) && needed > tail_length && needed <= file_size) {
    tail = source->Read(file_size - needed, needed);
    if (!tail.ok()) return to_data_loss(tail.status());
    footer = internal::ParseFooter(*tail, file_size, name, nullptr);
  }
  if (!footer.ok()) return to_data_loss(footer.status());
  return std::make_unique<SplitReaderImpl>(std::move(source), *std::move(footer));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SplitReader>> SplitReader::Open(
    std::shared_ptr<ByteRangeSource> source, std::optional<std::string> hotcache) {
  ASSIGN_OR_RETURN(std::unique_ptr<SplitReaderImpl> reader,
                   OpenImpl(std::move(source), std::move(hotcache)));
  return std::unique_ptr<SplitReader>(std::move(reader));
}

absl::StatusOr<std::unique_ptr<internal::SplitContents>> internal::OpenSplitContents(
    std::shared_ptr<ByteRangeSource> source, std::optional<std::string> hotcache) {
  ASSIGN_OR_RETURN(std::unique_ptr<SplitReaderImpl> reader,
                   OpenImpl(std::move(source), std::move(hotcache)));
  return std::unique_ptr<internal::SplitContents>(std::move(reader));
}

}  // namespace shale::index
