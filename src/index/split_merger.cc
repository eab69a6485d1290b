// MergeSplits (split_merger.h): reads every input through internal::SplitContents (validated
// like queries read) and writes the output with the section writers SplitWriter uses, field by
// field in the writer's order, so that the output has the writer's layout.

#include "index/split_merger.h"

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "common/time_util.h"
#include "index/internal/binary_values.h"
#include "index/internal/block_postings.h"
#include "index/internal/encoding.h"
#include "index/internal/section_writers.h"
#include "index/internal/split_contents.h"
#include "index/internal/split_layout.h"

namespace shale::index {
namespace {

using internal::ChunkRef;
using internal::ColumnKind;
using internal::FieldEntry;
using internal::SplitContents;
using internal::TermInfo;

constexpr size_t kMaxTagValues = 1000;

// Read-ahead over an input: a merge reads every section of every input front to back, in small
// chunks (a posting list, a position list, a term block) alternating between a few sections of
// the file. Serving them from a handful of large windows turns ~one source read per term into
// one per window (a source read may be a system call, or an HTTP request).
class ReadAheadSource final : public ByteRangeSource {
 public:
  static constexpr uint64_t kWindowBytes = uint64_t{1} << 20;
  static constexpr size_t kNumWindows = 4;

  explicit ReadAheadSource(std::shared_ptr<ByteRangeSource> inner) : inner_(std::move(inner)) {}

  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t length) const override {
    if (length >= kWindowBytes || offset > inner_->size() || length > inner_->size() - offset) {
      return inner_->Read(offset, length);
    }
    absl::MutexLock lock(&mu_);
    Window* target = nullptr;
    for (Window& window : windows_) {
      if (!window.bytes.empty() && offset >= window.offset &&
          offset + length <= window.offset + window.bytes.size()) {
        target = &window;
        break;
      }
    }
    if (target == nullptr) {
      // Replace the least recently used window with the one starting at `offset`.
      target = &*std::min_element(windows_.begin(), windows_.end(),
                                  [](const Window& a, const Window& b) { return a.used < b.used; });
      const uint64_t window_length = std::min(kWindowBytes, inner_->size() - offset);
      ASSIGN_OR_RETURN(target->bytes, inner_->Read(offset, window_length));
      target->offset = offset;
    }
    target->used = ++clock_;
    return target->bytes.substr(offset - target->offset, length);
  }
  uint64_t size() const override { return inner_->size(); }
  const std::string& name() const override { return inner_->name(); }

 private:
  struct Window {
    uint64_t offset = 0;
    std::string bytes;
    uint64_t used = 0;
  };
  const std::shared_ptr<ByteRangeSource> inner_;
  mutable absl::Mutex mu_;
  mutable std::array<Window, kNumWindows> windows_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

struct OpenInput {
  std::unique_ptr<SplitContents> contents;
  uint32_t doc_base = 0;  // doc id of its first document in the output
  uint32_t num_docs = 0;
};

// One (path, type) of the output, and the inputs holding it.
struct MergedField {
  std::string path;
  FieldType type = FieldType::kText;
  std::vector<std::pair<size_t, const FieldEntry*>> sources;  // (input index, its entry)
};

absl::Status Incompatible(const OpenInput& a, const OpenInput& b, const std::string& path,
                          const char* what) {
  return absl::InvalidArgumentError(fmt::format(
      "splits {} and {} index field `{}` with different {} (they do not share a doc mapping)",
      a.contents->name(), b.contents->name(), path, what));
}

// The inverted index of one field: a k-way merge of the inputs' term dictionaries, streaming one
// term dictionary block per input.
class TermMerger {
 public:
  TermMerger(const std::vector<OpenInput>& inputs, const MergedField& field)
      : inputs_(inputs), field_(field), cursors_(field.sources.size()) {}

  absl::Status Run(const FieldEntry& entry, internal::TermDictionaryWriter& dictionary) {
    for (size_t i = 0; i < cursors_.size(); ++i) RETURN_IF_ERROR(Advance(i));
    internal::DecodedPostings decoded;
    std::vector<uint32_t> docs;
    std::vector<uint32_t> freqs;
    std::string posting;
    std::string positions;
    while (true) {
      const std::string* smallest = nullptr;
      for (const Cursor& cursor : cursors_) {
        if (cursor.done) continue;
        const std::string& term = cursor.block[cursor.index].term;
        if (smallest == nullptr || term < *smallest) smallest = &term;
      }
      if (smallest == nullptr) break;
      const std::string term = *smallest;
      docs.clear();
      freqs.clear();
      positions.clear();
      // Inputs in order, so the shifted doc ids keep increasing.
      for (size_t i = 0; i < cursors_.size(); ++i) {
        Cursor& cursor = cursors_[i];
        if (cursor.done || cursor.block[cursor.index].term != term) continue;
        const auto& [input_index, source_entry] = field_.sources[i];
        const OpenInput& input = inputs_[input_index];
        const TermInfo& info = cursor.block[cursor.index];
        RETURN_IF_ERROR(input.contents->ReadPostings(*source_entry, info, decoded));
        for (size_t d = 0; d < decoded.docs.size(); ++d) {
          docs.push_back(decoded.docs[d] + input.doc_base);
          freqs.push_back(decoded.freqs[d]);
        }
        if (entry.record_positions) {
          ASSIGN_OR_RETURN(std::string list, input.contents->ReadPositionList(*source_entry, info));
          positions += list;
        }
        ++cursor.index;
        RETURN_IF_ERROR(Advance(i));
      }
      posting.clear();
      internal::EncodeBlockPostings(docs, freqs, entry.record_freq, posting);
      dictionary.Add(term, docs.size(), posting, positions);
    }
    dictionary.Finish();
    return absl::OkStatus();
  }

 private:
  struct Cursor {
    size_t next_block = 0;
    std::vector<TermInfo> block;
    size_t index = 0;
    bool done = false;
  };

  // Loads the next block of cursor `i` once its current one is consumed.
  absl::Status Advance(size_t i) {
    Cursor& cursor = cursors_[i];
    const auto& [input_index, source_entry] = field_.sources[i];
    while (!cursor.done && cursor.index >= cursor.block.size()) {
      if (cursor.next_block >= source_entry->term_blocks.size()) {
        cursor.done = true;
        cursor.block.clear();
        break;
      }
      ASSIGN_OR_RETURN(cursor.block, inputs_[input_index].contents->ReadTermBlock(
                                         *source_entry, cursor.next_block++));
      cursor.index = 0;
      if (source_entry->datetime_micros) {
        RETURN_IF_ERROR(MicrosTermsToNanos(*inputs_[input_index].contents, cursor.block));
      }
    }
    return absl::OkStatus();
  }

  // Rewrites the terms of a microsecond datetime dictionary (v1/v2 split) as nanoseconds, the
  // unit of the merged split; the order is kept. A value beyond the nanosecond range (years
  // before 1677 or after 2262) cannot be written and fails the merge (docs/adr/016).
  absl::Status MicrosTermsToNanos(const SplitContents& input, std::vector<TermInfo>& block) const {
    constexpr int64_t kMaxMicros = INT64_MAX / kNanosPerMicro;
    for (TermInfo& info : block) {
      if (info.term.size() != 8) {
        return absl::DataLossError(
            fmt::format("split {}: datetime term of field `{}` is not 8 bytes at offset 0",
                        input.name(), field_.path));
      }
      const int64_t micros = internal::DecodeI64(internal::ReadBigEndian64(info.term));
      if (micros > kMaxMicros || micros < -kMaxMicros) {
        return absl::FailedPreconditionError(fmt::format(
            "split {}: datetime field `{}` holds a value beyond the nanosecond range (years "
            "1677 to 2262), which the current split format cannot hold; the split cannot be "
            "merged",
            input.name(), field_.path));
      }
      info.term = internal::BigEndianTerm(internal::EncodeI64(micros * kNanosPerMicro));
    }
    return absl::OkStatus();
  }

  const std::vector<OpenInput>& inputs_;
  const MergedField& field_;
  std::vector<Cursor> cursors_;
};

class Merger {
 public:
  Merger(const DocMapping& mapping, const SplitWriterOptions& options)
      : mapping_(mapping),
        docstore_(options.docstore_compression_level, options.docstore_blocksize,
                  options.docstore_executor, options.docstore_max_compressing_blocks) {}

  absl::StatusOr<SerializedSplit> Run(const std::vector<MergeInput>& inputs) {
    RETURN_IF_ERROR(Open(inputs));
    internal::Hotcache hotcache;
    hotcache.num_docs = num_docs_;
    hotcache.timestamp_field = mapping_.timestamp_field;
    std::vector<MergedField> fields = CollectFields();
    std::string presence_section;
    for (size_t field_id = 0; field_id < fields.size(); ++field_id) {
      FieldEntry entry;
      RETURN_IF_ERROR(MergeField(fields[field_id], field_id, entry, presence_section));
      hotcache.fields.push_back(std::move(entry));
    }
    hotcache.presence_section = file_.AddSection("presence", presence_section);
    RETURN_IF_ERROR(MergeDocStore());
    hotcache.docstore_section = file_.AddSection("docstore", docstore_.bytes());
    hotcache.docstore_blocks = std::move(docstore_.blocks());

    SerializedSplit split;
    split.bytes = file_.Finish(std::move(hotcache), split.footer_start, split.footer_end);
    split.num_docs = num_docs_;
    for (const MergeInput& input : inputs) {
      split.uncompressed_docs_size_in_bytes += input.uncompressed_docs_size_in_bytes;
      split.time_range_start_nanos =
          MergeBound(split.time_range_start_nanos, input.time_range_start_nanos, false);
      split.time_range_end_nanos =
          MergeBound(split.time_range_end_nanos, input.time_range_end_nanos, true);
    }
    split.tags = MergeTags(inputs);
    return split;
  }

 private:
  static std::optional<int64_t> MergeBound(std::optional<int64_t> a, std::optional<int64_t> b,
                                           bool max) {
    if (!a.has_value()) return b;
    if (!b.has_value()) return a;
    return max ? std::max(*a, *b) : std::min(*a, *b);
  }

  absl::Status Open(const std::vector<MergeInput>& inputs) {
    if (inputs.empty()) return absl::InvalidArgumentError("no splits to merge");
    uint64_t num_docs = 0;
    for (const MergeInput& input : inputs) {
      OpenInput open;
      ASSIGN_OR_RETURN(open.contents,
                       internal::OpenSplitContents(std::make_shared<ReadAheadSource>(input.source),
                                                   input.hotcache));
      const internal::Hotcache& hotcache = open.contents->footer().hotcache;
      if (hotcache.timestamp_field != mapping_.timestamp_field) {
        return absl::InvalidArgumentError(fmt::format(
            "split {} has timestamp field `{}`, the doc mapping `{}` (they do not share a doc "
            "mapping)",
            open.contents->name(), hotcache.timestamp_field.value_or(""),
            mapping_.timestamp_field.value_or("")));
      }
      open.doc_base = static_cast<uint32_t>(num_docs);
      open.num_docs = static_cast<uint32_t>(hotcache.num_docs);
      num_docs += hotcache.num_docs;
      if (num_docs > internal::kMaxDocs) {
        return absl::InvalidArgumentError(
            fmt::format("merged split would have too many docs: more than {}", internal::kMaxDocs));
      }
      inputs_.push_back(std::move(open));
    }
    num_docs_ = num_docs;
    return absl::OkStatus();
  }

  // The union of the inputs' (path, type) fields, in the writer's order.
  std::vector<MergedField> CollectFields() const {
    std::vector<MergedField> fields;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      for (const FieldEntry& entry : inputs_[i].contents->footer().hotcache.fields) {
        auto it = std::lower_bound(fields.begin(), fields.end(), entry,
                                   [](const MergedField& field, const FieldEntry& key) {
                                     return std::tie(field.path, field.type) <
                                            std::tie(key.path, key.type);
                                   });
        if (it == fields.end() || it->path != entry.path || it->type != entry.type) {
          it = fields.insert(it, MergedField{entry.path, entry.type, {}});
        }
        it->sources.emplace_back(i, &entry);
      }
    }
    return fields;
  }

  // Checks that the inputs holding postings of `field` index it alike.
  absl::Status CheckIndexOptions(const MergedField& field) const {
    const FieldEntry* first = nullptr;
    size_t first_input = 0;
    for (const auto& [input, entry] : field.sources) {
      if (entry->term_blocks.empty()) continue;
      if (first == nullptr) {
        first = entry;
        first_input = input;
        continue;
      }
      const char* what = nullptr;
      if (entry->tokenizer != first->tokenizer) what = "tokenizers";
      if (entry->record_freq != first->record_freq) what = "term frequency options";
      if (entry->record_positions != first->record_positions) what = "position options";
      if (entry->has_fieldnorms != first->has_fieldnorms) what = "field norm options";
      if (what != nullptr) {
        return Incompatible(inputs_[first_input], inputs_[input], field.path, what);
      }
    }
    return absl::OkStatus();
  }

  absl::Status MergeField(const MergedField& field, size_t field_id, FieldEntry& entry,
                          std::string& presence_section) {
    RETURN_IF_ERROR(CheckIndexOptions(field));
    entry.path = field.path;
    entry.type = field.type;
    entry.tokenizer = field.sources.front().second->tokenizer;
    const FieldEntry* indexed_source = nullptr;
    bool has_column = false;
    for (const auto& [input, source] : field.sources) {
      entry.indexed |= source->indexed;
      entry.fast |= source->fast;
      entry.record_freq |= source->record_freq;
      has_column |= source->column.kind != ColumnKind::kNone;
      if (source->term_blocks.empty()) continue;
      if (indexed_source == nullptr) indexed_source = source;
      entry.field_doc_count += source->field_doc_count;
      entry.total_tokens += source->total_tokens;
    }
    if (indexed_source != nullptr) {
      entry.tokenizer = indexed_source->tokenizer;
      entry.record_positions = indexed_source->record_positions;
      entry.has_fieldnorms = indexed_source->has_fieldnorms;
      internal::TermDictionaryWriter dictionary(entry, entry.record_positions);
      RETURN_IF_ERROR(TermMerger(inputs_, field).Run(entry, dictionary));
      file_.AddInvertedIndex(field_id, dictionary, entry);
      if (entry.has_fieldnorms) {
        ASSIGN_OR_RETURN(std::string norms, MergeFieldNorms(field));
        entry.fieldnorms_section = file_.AddSection(fmt::format("fieldnorms.{}", field_id), norms);
      }
    }
    if (has_column) {
      std::string column;
      RETURN_IF_ERROR(MergeColumn(field, entry.column, column));
      entry.fast_section = file_.AddSection(fmt::format("fast.{}", field_id), column);
    }
    std::vector<uint32_t> presence;
    for (const auto& [input, source] : field.sources) {
      ASSIGN_OR_RETURN(std::vector<uint32_t> docs, inputs_[input].contents->ReadPresence(*source));
      for (uint32_t doc : docs) presence.push_back(doc + inputs_[input].doc_base);
    }
    std::string encoded;
    internal::AppendDocList(presence, encoded);
    entry.presence = ChunkRef{presence_section.size(), encoded.size(), internal::Hash32(encoded)};
    presence_section += encoded;
    return absl::OkStatus();
  }

  // One byte per output doc; 0 (no token) for the docs of inputs without norms of the field.
  absl::StatusOr<std::string> MergeFieldNorms(const MergedField& field) const {
    std::string norms(num_docs_, '\0');
    for (const auto& [input, source] : field.sources) {
      ASSIGN_OR_RETURN(std::optional<std::string> input_norms,
                       inputs_[input].contents->ReadFieldNorms(*source));
      if (input_norms.has_value())
        norms.replace(inputs_[input].doc_base, input_norms->size(), *input_norms);
    }
    return norms;
  }

  absl::Status MergeColumn(const MergedField& field, internal::ColumnHeader& column,
                           std::string& out) const {
    const bool text = internal::IsByteStringType(field.type);
    const ColumnKind kind = text ? ColumnKind::kTextDict : ColumnKind::kNumeric;
    std::vector<std::pair<size_t, internal::DecodedColumn>> decoded;
    for (const auto& [input, source] : field.sources) {
      if (source->column.kind == ColumnKind::kNone) continue;
      if (source->column.kind != kind) {
        return absl::InvalidArgumentError(
            fmt::format("split {}: fast field `{}` has an unexpected column kind",
                        inputs_[input].contents->name(), field.path));
      }
      ASSIGN_OR_RETURN(internal::DecodedColumn input_column,
                       inputs_[input].contents->ReadColumn(*source));
      decoded.emplace_back(input, std::move(input_column));
    }
    column.kind = kind;
    // Text: the union of the dictionaries, and each input's ordinal -> output ordinal. The map
    // is increasing, so each doc's values stay sorted.
    std::vector<std::string> dict;
    std::vector<std::vector<uint64_t>> ordinal_maps(decoded.size());
    if (text) {
      for (const auto& [input, input_column] : decoded) {
        dict.insert(dict.end(), input_column.dict.begin(), input_column.dict.end());
      }
      std::sort(dict.begin(), dict.end());
      dict.erase(std::unique(dict.begin(), dict.end()), dict.end());
      for (size_t i = 0; i < decoded.size(); ++i) {
        for (const std::string& term : decoded[i].second.dict) {
          ordinal_maps[i].push_back(static_cast<uint64_t>(
              std::lower_bound(dict.begin(), dict.end(), term) - dict.begin()));
        }
      }
      std::string dict_bytes;
      for (const std::string& term : dict) internal::PutBytes(dict_bytes, term);
      column.dict_num_terms = dict.size();
      column.dict = ChunkRef{out.size(), dict_bytes.size(), internal::Hash32(dict_bytes)};
      out += dict_bytes;
    }
    std::vector<std::pair<uint32_t, uint64_t>> values;
    for (size_t i = 0; i < decoded.size(); ++i) {
      const auto& [input, input_column] = decoded[i];
      const OpenInput& open = inputs_[input];
      auto add = [&](uint32_t doc, uint64_t value) -> absl::Status {
        if (text) {
          if (value >= ordinal_maps[i].size()) {
            return absl::DataLossError(fmt::format(
                "split {}: ordinal {} of fast field `{}` beyond its dictionary at offset 0",
                open.contents->name(), value, field.path));
          }
          value = ordinal_maps[i][value];
        }
        values.emplace_back(doc + open.doc_base, value);
        return absl::OkStatus();
      };
      if (input_column.offsets.empty()) {
        for (uint32_t doc = 0; doc < input_column.values.size(); ++doc) {
          RETURN_IF_ERROR(add(doc, input_column.values[doc]));
        }
      } else {
        for (uint32_t doc = 0; doc < open.num_docs; ++doc) {
          for (uint32_t v = input_column.offsets[doc]; v < input_column.offsets[doc + 1]; ++v) {
            RETURN_IF_ERROR(add(doc, input_column.values[v]));
          }
        }
      }
    }
    // Inputs in doc order with sorted, distinct values per doc: already sorted; sorting again
    // is cheap and protects the layout against inputs written by other writers.
    if (!std::is_sorted(values.begin(), values.end())) std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    internal::PackColumnValues(values, num_docs_, column, out);
    return absl::OkStatus();
  }

  // Re-blocks the doc store. Blocks of at least our block size are copied whole, without
  // being decompressed (the docs pending before them become a block of their own); smaller ones
  // (typically the last block of each input) are decompressed and their docs re-blocked.
  // Recompressing every doc would cost most of the merge: the doc store is the bulk of a split.
  absl::Status MergeDocStore() {
    for (const OpenInput& input : inputs_) {
      const auto& blocks = input.contents->footer().hotcache.docstore_blocks;
      for (size_t b = 0; b < blocks.size(); ++b) {
        const bool last = b + 1 == blocks.size();
        const uint32_t block_docs =
            (last ? input.num_docs : blocks[b + 1].first_doc) - blocks[b].first_doc;
        const bool copy = blocks[b].uncompressed_length >= docstore_.blocksize();
        ASSIGN_OR_RETURN(SplitContents::DocStoreBlock block,
                         input.contents->ReadDocStoreBlock(b, /*decompress=*/!copy));
        if (copy) {
          docstore_.AddCompressedBlock(block_docs, blocks[b].uncompressed_length, block.compressed);
          continue;
        }
        for (const std::string& doc : block.docs) docstore_.Add(doc);
      }
    }
    return docstore_.Finish();
  }

  std::set<std::string> MergeTags(const std::vector<MergeInput>& inputs) const {
    std::set<std::string> tags;
    for (const std::string& field : mapping_.tag_fields) {
      const std::string marker = field + "!";
      const std::string prefix = field + ":";
      std::set<std::string> values;
      bool exhaustive = true;
      for (const MergeInput& input : inputs) {
        if (!input.tags.contains(marker)) {
          exhaustive = false;
          break;
        }
        for (auto it = input.tags.lower_bound(prefix);
             it != input.tags.end() && it->starts_with(prefix); ++it) {
          values.insert(*it);
        }
        if (values.size() > kMaxTagValues) {
          exhaustive = false;
          break;
        }
      }
      if (!exhaustive) continue;
      tags.insert(marker);
      tags.insert(values.begin(), values.end());
    }
    return tags;
  }

  const DocMapping& mapping_;
  std::vector<OpenInput> inputs_;
  uint64_t num_docs_ = 0;
  internal::SplitFileBuilder file_;
  internal::DocStoreWriter docstore_;
};

}  // namespace

absl::StatusOr<SerializedSplit> MergeSplits(const DocMapping& mapping,
                                            const std::vector<MergeInput>& inputs,
                                            const SplitWriterOptions& options) {
  if (options.docstore_blocksize == 0) {
    return absl::InvalidArgumentError("docstore_blocksize must be positive");
  }
  return Merger(mapping, options).Run(inputs);
}

}  // namespace shale::index
