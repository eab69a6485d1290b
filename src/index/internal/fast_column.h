// Column: one fast field section of a split loaded in memory (docs/format/split.md, "fast
// fields"). Built and validated by the split reader; read by its sort and aggregation code.
// Private to index/.
//
// Thread safety: immutable once built; shared as std::shared_ptr<const Column>.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time_util.h"
#include "index/internal/encoding.h"
#include "index/internal/split_layout.h"

namespace shale::index::internal {

struct Column {
  const FieldEntry* field = nullptr;  // not owned: the split's footer outlives its columns
  std::string data;
  std::vector<uint32_t> offsets;       // multi-valued only: num_docs + 1 entries
  std::vector<std::string_view> dict;  // text only: sorted terms, views into `data`
  const char* values = nullptr;
  // Value i is min_value + packed(i) * gcd: the header's, except for the datetime columns of
  // v1/v2 splits (microseconds), whose affine map is scaled by 1000 to give nanoseconds
  // (SetMicrosToNanos).
  uint64_t min_value = 0;
  uint64_t gcd = 1;
  // A microsecond column holding values outside the nanosecond range (years < 1677 or > 2262):
  // each value is converted and saturated on read instead.
  bool saturate_micros = false;

  // The stored value at `index`: the order-preserving u64 encoding of the field's type
  // (datetimes: i64 nanoseconds, whatever the split's version), or a term ordinal of `dict` for
  // text.
  uint64_t RawValue(uint64_t index) const {
    const uint64_t raw = min_value + BitUnpack(values, field->column.value_bit_width, index) * gcd;
    if (saturate_micros) [[unlikely]] {
      return EncodeI64(MicrosToNanosSaturated(DecodeI64(raw)));
    }
    return raw;
  }

  // Makes RawValue return nanoseconds for a column of i64 microseconds. REQUIRES: min_value, gcd
  // and values are set from the header.
  void SetMicrosToNanos() {
    constexpr int64_t kMaxMicros = INT64_MAX / kNanosPerMicro;
    const int64_t min_micros = DecodeI64(min_value);
    // The header bounds the largest value (min + (2^bit_width - 1) * gcd, in the order-preserving
    // encoding): only when that bound leaves the nanosecond range are the values scanned.
    const uint32_t bit_width = field->column.value_bit_width;
    const unsigned __int128 max_packed =
        bit_width >= 64 ? UINT64_MAX : (uint64_t{1} << bit_width) - 1;
    const unsigned __int128 bound = min_value + max_packed * gcd;
    int64_t max_micros = min_micros;
    if (bound > EncodeI64(kMaxMicros)) {
      for (uint64_t i = 0; i < field->column.num_values; ++i) {
        max_micros = std::max(max_micros, DecodeI64(RawValue(i)));
      }
    }
    if (min_micros < -kMaxMicros || max_micros > kMaxMicros) {
      saturate_micros = true;
      return;
    }
    min_value = EncodeI64(min_micros * kNanosPerMicro);
    gcd *= kNanosPerMicro;  // no overflow: gcd <= max - min < 2^64 / 1000 here
  }
  // Value index range [begin, end) of `doc`.
  std::pair<uint64_t, uint64_t> Range(uint32_t doc) const {
    if (field->column.single_valued) return {doc, uint64_t{doc} + 1};
    return {offsets[doc], offsets[doc + 1]};
  }
};

}  // namespace shale::index::internal
