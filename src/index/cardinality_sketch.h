// CardinalitySketch: a HyperLogLog++-style distinct-value counter over 64-bit hashes, for the
// cardinality aggregation.
//
// Sparse while small: the sketch holds the distinct hashes themselves, so its estimate is exact
// (up to 64-bit hash collisions) until it holds kMaxSparseHashes of them. Then it turns dense:
// 2^kPrecision one-byte registers (HyperLogLog, standard error about 1.04 / sqrt(2^14) = 0.8 %),
// estimated with Ertl's improved estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), which needs no empirical bias tables.
//
// Merge is exact: merging the sketches of several value sets gives the same state (hence the
// same estimate) as one sketch fed every value, in any order.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace shale::index {

namespace internal {
struct SketchCodec;  // index/aggregation_codec.cc
}  // namespace internal

class CardinalitySketch {
 public:
  static constexpr int kPrecision = 14;
  static constexpr uint32_t kNumRegisters = uint32_t{1} << kPrecision;
  // The sparse form holds at most this many hashes (as much memory as the registers).
  static constexpr size_t kMaxSparseHashes = kNumRegisters / 8;

  void AddHash(uint64_t hash);
  void Merge(const CardinalitySketch& other);
  // Estimated number of distinct hashes added (exact while sparse).
  uint64_t Estimate() const;
  bool dense() const { return !registers_.empty(); }
  // Approximate heap bytes.
  uint64_t MemoryBytes() const;
  bool operator==(const CardinalitySketch& other) const;

  // Hash of a text value, and of a number (integral doubles hash like the integer, so a field
  // holding 3 in one split and 3.0 in another counts one value).
  static uint64_t HashText(std::string_view text);
  static uint64_t HashInteger(int64_t value);
  static uint64_t HashUnsigned(uint64_t value);
  static uint64_t HashDouble(double value);

 private:
  friend struct internal::SketchCodec;

  void AddToRegisters(uint64_t hash);
  void MakeDense();

  absl::flat_hash_set<uint64_t> sparse_;
  std::vector<uint8_t> registers_;  // empty while sparse
};

}  // namespace shale::index
