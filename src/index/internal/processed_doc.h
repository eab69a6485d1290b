// ProcessedDocImpl: the content of a ProcessedDoc, shared by the doc processor (producer) and
// the split writer (consumer). Private to index/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

// One typed leaf value of a document. `type` is never kObject or kJson.
struct LeafValue {
  std::string path;
  FieldType type = FieldType::kText;
  LeafOptions options;
  std::string text;    // kText
  uint64_t value = 0;  // other types: order-preserving encoding (datetime: i64 nanoseconds)
};

}  // namespace internal

class ProcessedDocImpl {
 public:
  std::vector<internal::LeafValue> values;
  std::string stored_json;  // the document served by FetchDocument
  std::optional<int64_t> timestamp_nanos;
  uint64_t num_bytes = 0;
};

}  // namespace shale::index
