// SplitWriter: accumulates processed documents in memory and serializes a split of the current
// format version (docs/format/split.md).
//
// Memory layout while indexing: one FieldBuilder per (path, type). Terms are interned in a
// TermTable per field (internal/term_table.h) whose keys are stored once in the writer's
// ByteArena (no allocation per term, one hash per token); each term's doc ids and term
// frequencies (or positions) are appended to a chain of blocks in the writer's PostingArena,
// shared by every field (no allocation per term or per posting, and no page per field: a dynamic
// mapping may capture thousands of fields). Doc store blocks are compressed as soon as they
// reach `docstore_blocksize`, here or on SplitWriterOptions::docstore_executor.

#include <algorithm>
#include <charconv>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"

#include "common/check.h"
#include "index/internal/binary_values.h"
#include "index/internal/block_postings.h"
#include "index/internal/datetime.h"
#include "index/internal/encoding.h"
#include "index/internal/processed_doc.h"
#include "index/internal/section_writers.h"
#include "index/internal/split_layout.h"
#include "index/internal/term_table.h"
#include "index/split_format.h"

namespace shale::index {

namespace {

using internal::AppendBigEndian64;
using internal::ChunkRef;
using internal::ColumnHeader;
using internal::ColumnKind;
using internal::FieldEntry;
using internal::Hash32;
using internal::LeafValue;
using internal::PutBytes;
using internal::PutVarint;

constexpr size_t kMaxTagValues = 1000;
// Position distance between two values of one multi-valued text field in one doc, so that a
// phrase does not match across values unless its slop reaches over the gap.
constexpr uint32_t kPositionGapBetweenValues = 100;

absl::string_view AbslView(std::string_view view) { return {view.data(), view.size()}; }

// The postings of every term of a field, appended to chains of blocks in pages of uint32 values:
// no allocation per term or per growth, one page of 256 KiB holds the blocks of many terms. A
// term's stream is [doc, freq]* or, when positions are recorded, [doc | kDocMarker, position*]*.
// Blocks double from 4 to 256 values; the last value of a full block links to the next block.
// Addresses are 32 bits: 16 GiB of postings per split. Pipelines commit a split once its memory
// usage (counting the arena's pages) reaches SplitWriter::kMaxMemoryUsageBytes, below that.
class PostingArena {
 public:
  static constexpr uint32_t kDocMarker = uint32_t{1} << 31;  // doc ids are < kMaxDocs = 2^31

  struct Term {
    uint32_t* tail = nullptr;      // the next free value of the last block
    uint32_t* tail_end = nullptr;  // the last block's link slot (tail == tail_end: full)
    uint32_t head = kNoBlock;      // address of the first block
    uint32_t last_doc = UINT32_MAX;
    uint32_t next_block = kFirstBlock;
  };

  // Appends `value` to `term`'s stream (pages never move: term.tail - 1 then addresses it
  // until the next Append).
  void Append(Term& term, uint32_t value) {
    if (term.tail == term.tail_end) [[unlikely]]
      AddBlock(term);
    *term.tail++ = value;
  }

  // Calls `fn(begin, end)` for each run of consecutive values of `term`'s stream, in order.
  template <typename Fn>
  void ForEachRun(const Term& term, Fn&& fn) const {
    uint32_t block = term.head;
    uint32_t block_size = kFirstBlock;
    while (block != kNoBlock) {
      const uint32_t* begin = At(block);
      const uint32_t* link = begin + block_size - 1;
      if (link == term.tail_end) {  // the last block
        fn(begin, static_cast<const uint32_t*>(term.tail));
        return;
      }
      fn(begin, link);
      block = *link;
      block_size = std::min(block_size * 2, kMaxBlock);
    }
  }

  uint64_t memory_bytes() const {
    return static_cast<uint64_t>(pages_.size()) * (sizeof(uint32_t) << kPageBits);
  }

  // Hints that `term`'s stream will be read soon: fetches its first block.
  void PrefetchStream(const Term& term) const {
    if (term.head != kNoBlock) __builtin_prefetch(At(term.head));
  }

 private:
  static constexpr uint32_t kNoBlock = UINT32_MAX;
  static constexpr uint32_t kPageBits = 16;
  static constexpr uint32_t kPageMask = (uint32_t{1} << kPageBits) - 1;
  static constexpr uint32_t kFirstBlock = 4;
  static constexpr uint32_t kMaxBlock = 256;

  const uint32_t* At(uint32_t address) const {
    return pages_[address >> kPageBits].get() + (address & kPageMask);
  }

  void AddBlock(Term& term) {
    const uint32_t size = term.next_block;
    if (pages_.empty() || used_ + size > (uint32_t{1} << kPageBits)) {
      SHALE_CHECK(pages_.size() < (size_t{1} << (32 - kPageBits)))
          << "the postings of a split exceed 16 GiB: lower resources.heap_size";
      pages_.push_back(std::make_unique_for_overwrite<uint32_t[]>(size_t{1} << kPageBits));
      used_ = 0;
    }
    const uint32_t address = (static_cast<uint32_t>(pages_.size() - 1) << kPageBits) | used_;
    uint32_t* block = pages_.back().get() + used_;
    used_ += size;
    if (term.head == kNoBlock) {
      term.head = address;
    } else {
      *term.tail_end = address;
    }
    term.tail = block;
    term.tail_end = block + size - 1;
    term.next_block = std::min(size * 2, kMaxBlock);
  }

  std::vector<std::unique_ptr<uint32_t[]>> pages_;
  uint32_t used_ = 0;
};

// A term's entry in its field's TermTable (key and postings state) fills one cache line.
static_assert(sizeof(PostingArena::Term) == 32);

struct NoValue {};

using TermTable = internal::TermTable<PostingArena::Term>;

struct TagCollector {
  std::string field;
  absl::flat_hash_set<std::string> values;
  bool overflow = false;
};

struct FieldBuilder {
  std::string path;
  FieldType type = FieldType::kText;
  internal::LeafOptions options;
  // Term → id, with the term's postings (in the writer's PostingArena) by id.
  TermTable terms;
  std::vector<std::pair<uint32_t, uint64_t>> fast_values;  // (doc, value or text id)
  internal::TermTable<NoValue> fast_text_ids;              // text (ip, bytes) fast value → id
  // Bytes of `terms` and `fast_text_ids` counted in the writer's memory_bytes_ so far.
  uint64_t tables_memory_bytes = 0;
  std::vector<uint32_t> presence;
  // Token counting of the doc being added (positions, field norms, BM25 statistics).
  uint32_t current_doc = UINT32_MAX;
  uint32_t next_position = 0;
  uint32_t doc_tokens = 0;
  uint64_t field_doc_count = 0;
  uint64_t total_tokens = 0;
  std::vector<uint8_t> norms;  // by doc id; grown lazily, padded to num_docs at Finish
  // The split's tag values of this field are collected there (tag fields only, else null).
  TagCollector* tag = nullptr;
};

class SplitWriterImpl final : public SplitWriter {
 public:
  SplitWriterImpl(const DocMapping& mapping, const SplitWriterOptions& options)
      : mapping_(mapping),
        docstore_(options.docstore_compression_level, options.docstore_blocksize,
                  options.docstore_executor, options.docstore_max_compressing_blocks) {
    // One collector per tag field, even if listed twice: a field's builder points to one.
    for (const std::string& tag : mapping_.tag_fields) {
      const bool listed = std::any_of(tags_.begin(), tags_.end(), [&tag](const TagCollector& seen) {
        return seen.field == tag;
      });
      if (!listed) tags_.push_back(TagCollector{tag, {}, false});
    }
  }

  void AddDocument(ProcessedDoc doc) override { AddDocuments(doc.docs(), 0, doc.docs().size()); }

  void AddDocuments(const ProcessedDocs& docs, size_t begin, size_t end) override {
    const ProcessedDocsImpl& batch = docs.impl();
    end = std::min(end, batch.docs.size());
    for (size_t i = begin; i < end; ++i) AddOne(batch, i);
    AddTokenBatch();
  }

  uint64_t num_docs() const override { return num_docs_; }

  uint64_t memory_usage_bytes() const override {
    return memory_bytes_ + postings_arena_.memory_bytes() + term_bytes_.memory_bytes() +
           docstore_.memory_usage_bytes() + fields_.size() * sizeof(FieldBuilder);
  }

  absl::StatusOr<SerializedSplit> Finish() override {
    if (num_docs_ > internal::kMaxDocs) {
      return absl::InvalidArgumentError(fmt::format("split has too many docs: {}", num_docs_));
    }
    absl::Status status = docstore_.Finish();
    if (!status.ok()) return status;

    std::vector<FieldBuilder*> ordered;
    ordered.reserve(fields_.size());
    for (auto& field : fields_) ordered.push_back(field.get());
    std::sort(ordered.begin(), ordered.end(), [](const FieldBuilder* a, const FieldBuilder* b) {
      return std::tie(a->path, a->type) < std::tie(b->path, b->type);
    });

    internal::Hotcache hotcache;
    hotcache.num_docs = num_docs_;
    hotcache.timestamp_field = mapping_.timestamp_field;
    internal::SplitFileBuilder file;
    // An upper bound: the compressed doc store, and the in-memory index, which is larger than
    // its serialized form (terms, postings, columns, norms), plus room for the footer.
    file.Reserve(docstore_.bytes().size() + memory_bytes_ + postings_arena_.memory_bytes() +
                 term_bytes_.memory_bytes() + (uint64_t{1} << 20));
    std::string presence_section;
    for (size_t field_id = 0; field_id < ordered.size(); ++field_id) {
      FieldBuilder& builder = *ordered[field_id];
      FieldEntry entry;
      entry.path = builder.path;
      entry.type = builder.type;
      entry.indexed = builder.options.indexed;
      entry.fast = builder.options.fast;
      const bool text = builder.type == FieldType::kText;
      entry.record_freq = builder.options.record_freq && text;
      entry.tokenizer = builder.options.tokenizer;
      FlushDocTokens(builder);
      if (builder.terms.size() != 0) {
        entry.record_positions = builder.options.record_positions && text;
        entry.has_fieldnorms = builder.options.fieldnorms && text;
        entry.field_doc_count = builder.field_doc_count;
        entry.total_tokens = builder.total_tokens;
        internal::TermDictionaryWriter dictionary(entry, entry.record_positions);
        WriteInvertedIndex(builder, entry, dictionary);
        file.AddInvertedIndex(field_id, dictionary, entry);
        if (entry.has_fieldnorms) {
          builder.norms.resize(num_docs_, 0);
          entry.fieldnorms_section =
              file.AddSection(fmt::format("fieldnorms.{}", field_id),
                              std::string(reinterpret_cast<const char*>(builder.norms.data()),
                                          builder.norms.size()));
        }
      }
      if (!builder.fast_values.empty()) {
        std::string column;
        WriteColumn(builder, entry.column, column);
        entry.fast_section = file.AddSection(fmt::format("fast.{}", field_id), column);
      }
      std::string presence;
      internal::AppendDocList(builder.presence, presence);
      entry.presence = ChunkRef{presence_section.size(), presence.size(), Hash32(presence)};
      presence_section += presence;
      hotcache.fields.push_back(std::move(entry));
    }
    hotcache.presence_section = file.AddSection("presence", presence_section);
    hotcache.docstore_section = file.AddSection("docstore", docstore_.bytes());
    hotcache.docstore_blocks = std::move(docstore_.blocks());

    SerializedSplit split;
    split.bytes = file.Finish(std::move(hotcache), split.footer_start, split.footer_end);
    split.num_docs = num_docs_;
    split.uncompressed_docs_size_in_bytes = uncompressed_docs_size_;
    split.time_range_start_nanos = time_min_;
    split.time_range_end_nanos = time_max_;
    for (const TagCollector& tag : tags_) {
      if (tag.overflow) continue;
      split.tags.insert(tag.field + "!");
      for (const std::string& value : tag.values) split.tags.insert(tag.field + ":" + value);
    }
    field_by_leaf_index_.clear();
    fields_.clear();
    postings_arena_ = PostingArena();
    term_bytes_ = internal::ByteArena();
    field_index_.clear();
    return split;
  }

 private:
  void AddOne(const ProcessedDocsImpl& batch, size_t doc) {
    const ProcessedDocsImpl::Doc& entry = batch.docs[doc];
    const auto doc_id = static_cast<uint32_t>(num_docs_);
    const uint64_t values_begin = batch.values_begin(doc);
    for (uint64_t i = values_begin; i < entry.values_end; ++i) {
      AddLeaf(batch, doc_id, i - values_begin, batch.values[i]);
    }
    if (entry.timestamp_nanos.has_value()) {
      const int64_t ts = *entry.timestamp_nanos;
      time_min_ = time_min_.has_value() ? std::min(*time_min_, ts) : ts;
      time_max_ = time_max_.has_value() ? std::max(*time_max_, ts) : ts;
    }
    uncompressed_docs_size_ += entry.num_bytes;
    docstore_.Add(batch.stored(doc));
    ++num_docs_;
  }

  static FieldBuilder& MergeOptions(FieldBuilder& field, const LeafValue& leaf) {
    field.options.indexed |= leaf.options.indexed;
    field.options.fast |= leaf.options.fast;
    field.options.record_freq |= leaf.options.record_freq;
    // record_positions and fieldnorms stay as the first leaf set them: positions must be
    // recorded for every occurrence or for none.
    return field;
  }

  // The builder of the `leaf_index`-th leaf of a document. Documents of one source mostly hold
  // the same leaves in the same order, so the field of the same leaf of the previous document is
  // tried first: a string compare instead of a hash lookup.
  FieldBuilder& GetField(size_t leaf_index, const LeafValue& leaf, std::string_view path) {
    if (leaf_index < field_by_leaf_index_.size()) {
      FieldBuilder* previous = field_by_leaf_index_[leaf_index];
      if (previous->type == leaf.type && internal::ShortBytesEqual(previous->path, path)) {
        return MergeOptions(*previous, leaf);
      }
    } else {
      field_by_leaf_index_.resize(leaf_index + 1);
    }
    FieldBuilder& field = LookUpField(leaf, path);
    field_by_leaf_index_[leaf_index] = &field;
    return field;
  }

  FieldBuilder& LookUpField(const LeafValue& leaf, std::string_view path) {
    key_scratch_.assign(path);
    key_scratch_.push_back('\0');
    key_scratch_.push_back(static_cast<char>(leaf.type));
    auto it = field_index_.find(AbslView(key_scratch_));
    if (it != field_index_.end()) return MergeOptions(*fields_[it->second], leaf);
    auto field = std::make_unique<FieldBuilder>();
    field->path = path;
    field->type = leaf.type;
    field->options = leaf.options;
    for (TagCollector& tag : tags_) {
      if (tag.field == path) {
        field->tag = &tag;
        break;
      }
    }
    field_index_.emplace(key_scratch_, fields_.size());
    fields_.push_back(std::move(field));
    memory_bytes_ += 256 + path.size();
    return *fields_.back();
  }

  // Counts the growth of `field`'s term tables in memory_bytes_ (their long keys' bytes are
  // term_bytes_', counted apart).
  void CountTablesMemory(FieldBuilder& field) {
    const uint64_t bytes = field.terms.memory_bytes() + field.fast_text_ids.memory_bytes();
    memory_bytes_ += bytes - field.tables_memory_bytes;
    field.tables_memory_bytes = bytes;
  }

  void AddTerm(FieldBuilder& field, std::string_view term, uint32_t doc_id,
               std::optional<uint32_t> position) {
    AddTerm(field, term, TermTable::Hash(term), doc_id, position);
  }

  // REQUIRES: hash == TermTable::Hash(term).
  void AddTerm(FieldBuilder& field, std::string_view term, uint64_t hash, uint32_t doc_id,
               std::optional<uint32_t> position) {
    const auto [term_id, inserted] = field.terms.FindOrInsert(term, hash, term_bytes_);
    if (inserted) CountTablesMemory(field);
    PostingArena::Term& postings = field.terms.value(term_id);
    if (position.has_value()) {
      if (postings.last_doc != doc_id) {
        postings.last_doc = doc_id;
        postings_arena_.Append(postings, doc_id | PostingArena::kDocMarker);
      }
      postings_arena_.Append(postings, *position);
    } else if (postings.last_doc != doc_id) {
      postings.last_doc = doc_id;
      postings_arena_.Append(postings, doc_id);
      postings_arena_.Append(postings, 1);
    } else {
      // [doc, freq] streams: the doc's freq is the last value appended (tail only moves on
      // Append, and a new block is only started by the next Append).
      ++postings.tail[-1];
    }
  }

  // Adds the batched tokens to their fields' postings, in order, and empties the batch. Tokens
  // are batched across values and documents (until kTokenBatch of them, or the end of
  // AddDocuments), so that a term's lookup is prepared well ahead of it even in short values:
  // its slot was prefetched as it was tokenized, its entry is prefetched kEntryPrefetchDistance
  // tokens ahead of its lookup, then the end of its postings kPostingsPrefetchDistance tokens
  // ahead. The terms of a large field are mostly out of the CPU caches: overlapping these
  // misses, rather than taking them one after the other, is most of the time saved.
  void AddTokenBatch() {
    constexpr size_t kEntryPrefetchDistance = 16;
    constexpr size_t kPostingsPrefetchDistance = 8;
    const size_t n = token_batch_.size();
    for (size_t i = 0; i < n; ++i) {
      if (i + kEntryPrefetchDistance < n) {
        const BatchedToken& ahead = token_batch_[i + kEntryPrefetchDistance];
        ahead.field->terms.PrefetchEntry(ahead.hash);
      }
      if (i + kPostingsPrefetchDistance < n) {
        const BatchedToken& ahead = token_batch_[i + kPostingsPrefetchDistance];
        const PostingArena::Term* postings = ahead.field->terms.ProbableValue(ahead.hash);
        if (postings != nullptr && postings->tail != nullptr) {
          __builtin_prefetch(postings->tail, /*rw=*/1);
        }
      }
      const BatchedToken& token = token_batch_[i];
      AddTerm(*token.field, std::string_view(token_batch_bytes_).substr(token.offset, token.size),
              token.hash, token.doc_id,
              token.field->options.record_positions ? std::optional<uint32_t>(token.position)
                                                    : std::nullopt);
    }
    token_batch_.clear();
    token_batch_bytes_.clear();
  }

  // Records the token count of the doc last added to `field` (statistics and field norm).
  void FlushDocTokens(FieldBuilder& field) {
    if (field.current_doc == UINT32_MAX || field.doc_tokens == 0) return;
    ++field.field_doc_count;
    field.total_tokens += field.doc_tokens;
    if (field.options.fieldnorms) {
      if (field.norms.size() <= field.current_doc) {
        memory_bytes_ += field.current_doc + 1 - field.norms.size();
        field.norms.resize(field.current_doc + 1, 0);
      }
      field.norms[field.current_doc] = internal::EncodeFieldNorm(field.doc_tokens);
    }
    field.doc_tokens = 0;
  }

  void AddLeaf(const ProcessedDocsImpl& doc, uint32_t doc_id, size_t leaf_index,
               const LeafValue& leaf) {
    FieldBuilder& field = GetField(leaf_index, leaf, doc.path(leaf));
    const std::string_view leaf_text = doc.text(leaf);
    if (field.tag != nullptr) CollectTag(*field.tag, leaf, leaf_text);
    if (field.presence.empty() || field.presence.back() != doc_id) {
      field.presence.push_back(doc_id);
      memory_bytes_ += 4;
    }
    if (leaf.options.indexed) {
      if (leaf.type == FieldType::kText) {
        if (field.current_doc != doc_id) {
          FlushDocTokens(field);
          field.current_doc = doc_id;
          field.next_position = 0;
        } else {
          field.next_position += kPositionGapBetweenValues;
        }
        Tokenize(leaf.options.tokenizer, leaf_text, token_scratch_, [&](std::string_view token) {
          const uint64_t hash = TermTable::Hash(token);
          field.terms.PrefetchSlot(hash);
          const uint32_t position = field.next_position++;
          ++field.doc_tokens;
          token_batch_.push_back(BatchedToken{static_cast<uint32_t>(token_batch_bytes_.size()),
                                              static_cast<uint32_t>(token.size()), hash, &field,
                                              doc_id, position});
          token_batch_bytes_.append(token);
          if (token_batch_.size() == kTokenBatch) AddTokenBatch();
        });
      } else if (internal::IsByteStringType(leaf.type)) {
        AddTerm(field, leaf_text, doc_id, std::nullopt);  // ip, bytes: the exact bytes
      } else {
        term_scratch_.clear();
        AppendBigEndian64(leaf.value, term_scratch_);
        AddTerm(field, term_scratch_, doc_id, std::nullopt);
      }
    }
    if (leaf.options.fast) {
      uint64_t value = leaf.value;
      if (internal::IsByteStringType(leaf.type)) {
        std::string_view text = leaf_text;
        if (leaf.options.fast_lowercase && leaf.type == FieldType::kText)
          text = ::shale::index::internal_tokenizer::Lower(text, token_scratch_);
        const auto [text_id, inserted] = field.fast_text_ids.FindOrInsert(text, term_bytes_);
        if (inserted) CountTablesMemory(field);
        value = text_id;
      } else if (leaf.type == FieldType::kDatetime) {
        value = internal::EncodeI64(
            internal::TruncateNanos(internal::DecodeI64(leaf.value), leaf.options.fast_precision));
      }
      field.fast_values.emplace_back(doc_id, value);
      memory_bytes_ += 16;
    }
  }

  // Adds a value of a tag field to the split's tags (text and integers; other types are no
  // tags), or marks the field's tags overflown past kMaxTagValues.
  static void CollectTag(TagCollector& tag, const LeafValue& leaf, std::string_view text) {
    if (tag.overflow) return;
    // Formatted on the stack and looked up by view: no allocation for a known value.
    char digits[24];
    std::string_view value;
    if (leaf.type == FieldType::kText) {
      value = text;
    } else if (leaf.type == FieldType::kI64) {
      value = {digits,
               std::to_chars(digits, std::end(digits), internal::DecodeI64(leaf.value)).ptr};
    } else if (leaf.type == FieldType::kU64) {
      value = {digits, std::to_chars(digits, std::end(digits), leaf.value).ptr};
    } else {
      return;
    }
    if (tag.values.contains(AbslView(value))) return;
    tag.values.emplace(value);
    if (tag.values.size() > kMaxTagValues) {
      tag.overflow = true;
      tag.values.clear();
    }
  }

  void WriteInvertedIndex(const FieldBuilder& builder, const FieldEntry& entry,
                          internal::TermDictionaryWriter& dictionary) const {
    const PostingArena& arena = postings_arena_;
    // Sorted by term. Each term's first 8 bytes, big-endian in an integer (zero-padded, which
    // keeps the order), settle most comparisons without a memcmp.
    struct SortKey {
      uint64_t prefix;
      std::string_view term;
      uint32_t id;
    };
    std::vector<SortKey> sorted;
    sorted.reserve(builder.terms.size());
    for (uint32_t id = 0; id < builder.terms.size(); ++id) {
      const std::string_view term = builder.terms.key(id);
      uint64_t prefix = 0;
      for (size_t i = 0; i < 8; ++i) {
        prefix = (prefix << 8) | (i < term.size() ? static_cast<unsigned char>(term[i]) : 0);
      }
      sorted.push_back(SortKey{prefix, term, id});
    }
    std::sort(sorted.begin(), sorted.end(), [](const SortKey& a, const SortKey& b) {
      return a.prefix != b.prefix ? a.prefix < b.prefix : a.term < b.term;
    });
    std::string posting;
    std::string positions;
    std::vector<uint32_t> docs;
    std::vector<uint32_t> freqs;
    // Terms in sorted order visit their entries and postings in random order: each entry is
    // fetched kEntryPrefetchDistance terms ahead, then the first block of its postings
    // kStreamPrefetchDistance terms ahead.
    constexpr size_t kEntryPrefetchDistance = 16;
    constexpr size_t kStreamPrefetchDistance = 8;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i + kEntryPrefetchDistance < sorted.size()) {
        builder.terms.PrefetchValue(sorted[i + kEntryPrefetchDistance].id);
      }
      if (i + kStreamPrefetchDistance < sorted.size()) {
        arena.PrefetchStream(builder.terms.value(sorted[i + kStreamPrefetchDistance].id));
      }
      const auto& [prefix, term, id] = sorted[i];
      const PostingArena::Term& stream = builder.terms.value(id);
      // Reused across terms: no allocation once they have grown to the longest list.
      docs.clear();
      freqs.clear();
      positions.clear();
      if (entry.record_positions) {
        // Per doc, its positions as deltas (the first from 0); the freq is their number.
        uint32_t previous_position = 0;
        arena.ForEachRun(stream, [&](const uint32_t* value, const uint32_t* end) {
          for (; value != end; ++value) {
            if (*value & PostingArena::kDocMarker) {
              docs.push_back(*value & ~PostingArena::kDocMarker);
              freqs.push_back(0);
              previous_position = 0;
            } else {
              ++freqs.back();
              PutVarint(positions, *value - previous_position);
              previous_position = *value;
            }
          }
        });
      } else {
        // [doc, freq] pairs; a block boundary may fall between the two.
        bool is_doc = true;
        arena.ForEachRun(stream, [&](const uint32_t* value, const uint32_t* end) {
          if (!is_doc && value != end) {
            freqs.push_back(*value++);
            is_doc = true;
          }
          const size_t pairs = static_cast<size_t>(end - value) / 2;
          const size_t old_size = docs.size();
          docs.resize(old_size + pairs);
          freqs.resize(old_size + pairs);
          uint32_t* doc_out = docs.data() + old_size;
          uint32_t* freq_out = freqs.data() + old_size;
          for (size_t pair = 0; pair < pairs; ++pair) {
            doc_out[pair] = value[2 * pair];
            freq_out[pair] = value[2 * pair + 1];
          }
          value += 2 * pairs;
          if (value != end) {
            docs.push_back(*value);
            is_doc = false;
          }
        });
      }
      posting.clear();
      internal::EncodeBlockPostings(docs, freqs, entry.record_freq, posting);
      dictionary.Add(term, docs.size(), posting, positions);
    }
    dictionary.Finish();
  }

  void WriteColumn(FieldBuilder& builder, ColumnHeader& column, std::string& out) const {
    std::vector<std::pair<uint32_t, uint64_t>>& values = builder.fast_values;
    if (internal::IsByteStringType(builder.type)) {
      // Dictionary-encode: ids in insertion order → ordinals in sorted order.
      std::vector<std::pair<std::string_view, uint32_t>> dict;
      dict.reserve(builder.fast_text_ids.size());
      for (uint32_t id = 0; id < builder.fast_text_ids.size(); ++id) {
        dict.emplace_back(builder.fast_text_ids.key(id), id);
      }
      std::sort(dict.begin(), dict.end());
      std::vector<uint32_t> ordinal_of_id(dict.size());
      std::string dict_bytes;
      for (size_t ordinal = 0; ordinal < dict.size(); ++ordinal) {
        ordinal_of_id[dict[ordinal].second] = static_cast<uint32_t>(ordinal);
        PutBytes(dict_bytes, dict[ordinal].first);
      }
      for (auto& [doc, value] : values) value = ordinal_of_id[value];
      column.kind = ColumnKind::kTextDict;
      column.dict_num_terms = dict.size();
      column.dict = ChunkRef{out.size(), dict_bytes.size(), Hash32(dict_bytes)};
      out += dict_bytes;
    } else {
      column.kind = ColumnKind::kNumeric;
    }
    // Values arrive in doc order; sort each doc's values so the first one is the smallest. Most
    // columns hold one value per doc and are sorted already: the check is cheaper than a sort.
    if (!std::is_sorted(values.begin(), values.end())) std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    internal::PackColumnValues(values, num_docs_, column, out);
  }

  DocMapping mapping_;
  uint64_t num_docs_ = 0;
  uint64_t uncompressed_docs_size_ = 0;
  uint64_t memory_bytes_ = 0;  // estimate of the fields' memory, postings_arena_ aside
  std::optional<int64_t> time_min_;
  std::optional<int64_t> time_max_;
  std::vector<TagCollector> tags_;  // filled by the constructor: FieldBuilder::tag points here
  std::vector<std::unique_ptr<FieldBuilder>> fields_;
  absl::flat_hash_map<std::string, size_t> field_index_;
  std::vector<FieldBuilder*> field_by_leaf_index_;  // see GetField; never null
  PostingArena postings_arena_;                     // the postings of every field's terms
  internal::ByteArena term_bytes_;                  // the bytes of every field's terms
  std::string key_scratch_;
  std::string term_scratch_;
  std::string token_scratch_;
  // Tokens of the text values being added, hashed and waiting for AddTokenBatch.
  struct BatchedToken {
    uint32_t offset;  // in token_batch_bytes_
    uint32_t size;
    uint64_t hash;
    FieldBuilder* field;
    uint32_t doc_id;
    uint32_t position;  // recorded when the field records positions
  };
  static constexpr size_t kTokenBatch = 256;
  std::vector<BatchedToken> token_batch_;
  std::string token_batch_bytes_;
  internal::DocStoreWriter docstore_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SplitWriter>> SplitWriter::Create(
    const DocMapping& mapping, const SplitWriterOptions& options) {
  absl::Status status = ValidateDocMapping(mapping);
  if (!status.ok()) return status;
  if (options.docstore_blocksize == 0) {
    return absl::InvalidArgumentError("docstore_blocksize must be positive");
  }
  return std::unique_ptr<SplitWriter>(std::make_unique<SplitWriterImpl>(mapping, options));
}

}  // namespace shale::index
