// ProcessedDocsImpl: the content of a ProcessedDocs, shared by the doc processor (producer) and
// the split writer (consumer). Private to index/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/doc_mapping.h"
#include "index/internal/append_buffer.h"
#include "index/tokenizer.h"

namespace shale::index {

namespace internal {

// Indexing options of one leaf value (copied from its field mapping or the dynamic mapping).
struct LeafOptions {
  bool indexed = true;
  bool fast = false;
  bool record_freq = false;
  bool record_positions = false;  // text only: record = position (implies record_freq)
  bool fieldnorms = false;        // text only: store per-doc token counts (or record >= freq)
  bool fast_lowercase = false;    // text fast fields: fast_normalizer "lowercase"
  TokenizerKind tokenizer = TokenizerKind::kDefault;
  DatetimePrecision fast_precision = DatetimePrecision::kSeconds;
};

// One typed leaf value of a document. `type` is never kObject or kJson. Its path and text are
// ranges of the batch's `bytes` (ProcessedDocsImpl::path / text read them).
struct LeafValue {
  FieldType type = FieldType::kText;
  LeafOptions options;
  uint32_t path_size = 0;
  uint32_t text_size = 0;  // kText, kIp, kBytes
  uint64_t path_offset = 0;
  uint64_t text_offset = 0;
  uint64_t value = 0;  // other types: order-preserving encoding (datetime: i64 nanoseconds)
};

}  // namespace internal

// The documents of a ProcessedDocs, back to back in four buffers: a batch costs a few
// allocations whatever its number of documents and leaves (this runs for every document
// ingested), and none once cleared and refilled.
class ProcessedDocsImpl {
 public:
  struct Doc {
    uint64_t values_end = 0;  // its leaves: values[previous doc's values_end, values_end)
    uint64_t stored_end = 0;  // its stored JSON: stored_json[previous stored_end, stored_end)
    uint64_t bytes_end = 0;   // its paths and texts end there in `bytes`
    std::optional<int64_t> timestamp_nanos;
    uint64_t num_bytes = 0;
  };

  std::vector<Doc> docs;
  std::vector<internal::LeafValue> values;
  // The paths and texts of `values`, one after the other.
  internal::AppendBuffer bytes;
  // The documents served by FetchDocument, back to back.
  internal::AppendBuffer stored_json;

  std::string_view path(const internal::LeafValue& leaf) const {
    return std::string_view(bytes.data() + leaf.path_offset, leaf.path_size);
  }
  std::string_view text(const internal::LeafValue& leaf) const {
    return std::string_view(bytes.data() + leaf.text_offset, leaf.text_size);
  }
  uint64_t values_begin(size_t doc) const { return doc == 0 ? 0 : docs[doc - 1].values_end; }
  std::string_view stored(size_t doc) const {
    const uint64_t begin = doc == 0 ? 0 : docs[doc - 1].stored_end;
    return std::string_view(stored_json.data() + begin, docs[doc].stored_end - begin);
  }

  // Drops what follows the last document of `docs` (a document being built, or documents
  // removed); the buffers keep their capacity.
  void CutToLastDoc() {
    const Doc end = docs.empty() ? Doc{} : docs.back();
    values.resize(end.values_end);
    bytes.Truncate(end.bytes_end);
    stored_json.Truncate(end.stored_end);
  }

  // Appends a leaf to the document being built (the one after `docs`) of `path` (copied into
  // `bytes`, or shared with the previous leaf when it has the same path: the items of an array)
  // and `text` (copied into `bytes`). False, and nothing added, when `path` or `text` passes
  // 4 GiB.
  bool AddLeaf(std::string_view path, FieldType type, const internal::LeafOptions& options,
               std::string_view text, uint64_t value) {
    if (path.size() > UINT32_MAX || text.size() > UINT32_MAX) return false;
    const uint64_t doc_values_begin = docs.empty() ? 0 : docs.back().values_end;
    uint64_t path_offset;
    if (values.size() > doc_values_begin && this->path(values.back()) == path) {
      path_offset = values.back().path_offset;
    } else {
      path_offset = bytes.size();
      bytes.append(path.data(), path.size());
    }
    const uint64_t text_offset = bytes.size();
    bytes.append(text.data(), text.size());
    // Written in place: a LeafValue built on the stack and copied is read back in 16-byte
    // moves that the narrower stores before them cannot forward (a stall per leaf).
    internal::LeafValue& leaf = values.emplace_back();
    leaf.type = type;
    leaf.options = options;
    leaf.path_size = static_cast<uint32_t>(path.size());
    leaf.text_size = static_cast<uint32_t>(text.size());
    leaf.path_offset = path_offset;
    leaf.text_offset = text_offset;
    leaf.value = value;
    return true;
  }
};

}  // namespace shale::index
