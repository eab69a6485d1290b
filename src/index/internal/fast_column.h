// Column: one fast field section of a split loaded in memory (docs/format/split.md, "fast
// fields"). Built and validated by the split reader; read by its sort and aggregation code.
// Private to index/.
//
// Thread safety: immutable once built; shared as std::shared_ptr<const Column>.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/internal/encoding.h"
#include "index/internal/split_layout.h"

namespace shale::index::internal {

struct Column {
  const FieldEntry* field = nullptr;  // not owned: the split's footer outlives its columns
  std::string data;
  std::vector<uint32_t> offsets;       // multi-valued only: num_docs + 1 entries
  std::vector<std::string_view> dict;  // text only: sorted terms, views into `data`
  const char* values = nullptr;

  // The stored value at `index`: the order-preserving u64 encoding of the field's type, or a
  // term ordinal of `dict` for text.
  uint64_t RawValue(uint64_t index) const {
    return field->column.min_value +
           BitUnpack(values, field->column.value_bit_width, index) * field->column.gcd;
  }
  // Value index range [begin, end) of `doc`.
  std::pair<uint64_t, uint64_t> Range(uint32_t doc) const {
    if (field->column.single_valued) return {doc, uint64_t{doc} + 1};
    return {offsets[doc], offsets[doc + 1]};
  }
};

}  // namespace shale::index::internal
