// ShortBytesEqual: equality of short byte strings without a call to memcmp, for the hot loops
// of document processing and split writing. Private to index/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace shale::index::internal {

// Whether the `n` bytes at `a` and `b` are equal, by overlapping 8-byte (or 4-byte) loads
// without a call to memcmp: for the short keys of the writer's hot loops (terms, field paths),
// where a call costs more than the compare. Fine for any n, best for a few dozen bytes.
[[gnu::always_inline]] inline bool ShortBytesEqual(const char* a, const char* b, size_t n) {
  const auto load64 = [](const char* bytes) {
    uint64_t word;
    std::memcpy(&word, bytes, sizeof(word));
    return word;
  };
  const auto load32 = [](const char* bytes) {
    uint32_t word;
    std::memcpy(&word, bytes, sizeof(word));
    return word;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load64(a + i) != load64(b + i)) return false;
    }
    return load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  // 0 to 3 bytes: the first, middle and last ones are all of them.
  return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

// Whether `a` == `b`, with ShortBytesEqual.
[[gnu::always_inline]] inline bool ShortBytesEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ShortBytesEqual(a.data(), b.data(), a.size());
}

}  // namespace shale::index::internal
