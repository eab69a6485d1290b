// ProcessedDocImpl: the content of a ProcessedDoc, shared by the doc processor (producer) and
// the split writer (consumer). Private to index/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/doc_mapping.h"
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
// ranges of the document's `bytes` (ProcessedDocImpl::path / text read them).
struct LeafValue {
  FieldType type = FieldType::kText;
  LeafOptions options;
  uint32_t path_offset = 0;
  uint32_t path_size = 0;
  uint32_t text_offset = 0;  // kText, kIp, kBytes
  uint32_t text_size = 0;
  uint64_t value = 0;  // other types: order-preserving encoding (datetime: i64 nanoseconds)
};

}  // namespace internal

// A document holds few allocations whatever its number of leaves (this runs for every document
// ingested): the leaves, one buffer with their paths and texts, the stored JSON.
class ProcessedDocImpl {
 public:
  std::vector<internal::LeafValue> values;
  // The paths and texts of `values`, one after the other.
  std::string bytes;
  std::string stored_json;  // the document served by FetchDocument
  std::optional<int64_t> timestamp_nanos;
  uint64_t num_bytes = 0;

  std::string_view path(const internal::LeafValue& leaf) const {
    return std::string_view(bytes.data() + leaf.path_offset, leaf.path_size);
  }
  std::string_view text(const internal::LeafValue& leaf) const {
    return std::string_view(bytes.data() + leaf.text_offset, leaf.text_size);
  }

  // Appends a leaf of `path` (copied into `bytes`, or shared with the previous leaf when it has
  // the same path: the items of an array) and `text` (copied into `bytes`). False, and nothing
  // added, when `bytes` would pass 4 GiB.
  bool AddLeaf(std::string_view path, FieldType type, const internal::LeafOptions& options,
               std::string_view text, uint64_t value) {
    if (bytes.size() + path.size() + text.size() > UINT32_MAX) return false;
    internal::LeafValue leaf;
    leaf.type = type;
    leaf.options = options;
    if (!values.empty() && this->path(values.back()) == path) {
      leaf.path_offset = values.back().path_offset;
    } else {
      leaf.path_offset = static_cast<uint32_t>(bytes.size());
      bytes.append(path.data(), path.size());
    }
    leaf.path_size = static_cast<uint32_t>(path.size());
    leaf.text_offset = static_cast<uint32_t>(bytes.size());
    leaf.text_size = static_cast<uint32_t>(text.size());
    bytes.append(text.data(), text.size());
    leaf.value = value;
    values.push_back(leaf);
    return true;
  }
};

}  // namespace shale::index
