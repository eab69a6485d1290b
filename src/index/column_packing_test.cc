// PackColumnValues: a column's values are stored as (value - min) / gcd in bit_width bits; the
// division is exact (a shift and a multiply by an inverse modulo 2^64), so every value must
// come back from min + packed * gcd, whatever the gcd's odd part and power of two.
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

#include "index/internal/encoding.h"
#include "index/internal/section_writers.h"
#include "index/internal/split_layout.h"

namespace shale::index::internal {
namespace {

struct Packed {
  ColumnHeader column;
  std::string bytes;
};

Packed Pack(const std::vector<uint64_t>& values) {
  std::vector<std::pair<uint32_t, uint64_t>> by_doc;
  for (size_t doc = 0; doc < values.size(); ++doc) {
    by_doc.emplace_back(static_cast<uint32_t>(doc), values[doc]);
  }
  Packed packed;
  PackColumnValues(by_doc, values.size(), packed.column, packed.bytes);
  return packed;
}

TEST(ColumnPackingTest, EveryGcdPacksExactlyAndUnpacksToTheValues) {
  std::mt19937_64 random(7);
  const std::vector<uint64_t> gcds = {
      1, 2, 3, 7, 1000, 1000000000, 3600000000000, 1ULL << 40, 6ULL << 20, (1ULL << 61) - 1};
  for (const uint64_t gcd : gcds) {
    for (const uint64_t min : {uint64_t{0}, uint64_t{12345}, uint64_t{1} << 62}) {
      // Multiples 0, 1 and coprime others of `gcd`, so that the column's gcd is exactly `gcd`.
      const uint64_t max_multiple = (UINT64_MAX - min) / gcd;
      std::vector<uint64_t> values = {min, min + gcd};
      for (int i = 0; i < 200; ++i) {
        values.push_back(min + random() % std::min<uint64_t>(max_multiple, 1000000) * gcd);
      }
      values.push_back(min + max_multiple * gcd);
      const Packed packed = Pack(values);
      ASSERT_EQ(packed.column.min_value, min) << gcd;
      ASSERT_EQ(packed.column.gcd, gcd) << "min " << min;
      for (size_t i = 0; i < values.size(); ++i) {
        const uint64_t unpacked = BitUnpack(packed.bytes.data() + packed.column.values.offset,
                                            packed.column.value_bit_width, i);
        ASSERT_EQ(min + unpacked * gcd, values[i]) << "gcd " << gcd << " min " << min << " #" << i;
      }
    }
  }
}

TEST(ColumnPackingTest, CoprimeDeltasHaveGcdOneAndEqualValuesGcdOne) {
  EXPECT_EQ(Pack({10, 16, 21}).column.gcd, 1u);  // deltas 6 and 11
  EXPECT_EQ(Pack({10, 16, 22}).column.gcd, 6u);
  const Packed same = Pack({42, 42, 42});
  EXPECT_EQ(same.column.gcd, 1u);
  EXPECT_EQ(same.column.value_bit_width, 0u);
}

}  // namespace
}  // namespace shale::index::internal
