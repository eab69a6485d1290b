#include "index/cardinality_sketch.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "xxhash.h"

namespace shale::index {
namespace {

constexpr int kRegisterBits = 64 - CardinalitySketch::kPrecision;  // q in Ertl's paper

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for the registers at 0.
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  while (true) {
    x *= x;
    const double previous = z;
    z += x * y;
    y += y;
    if (z == previous) return z;
  }
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for the saturated registers.
double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  while (true) {
    x = std::sqrt(x);
    const double previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == previous) return z / 3.0;
  }
}

uint64_t Hash8(const void* bytes) { return XXH64(bytes, 8, 0x5348414c45u); }

}  // namespace

void CardinalitySketch::AddHash(uint64_t hash) {
  if (dense()) {
    AddToRegisters(hash);
    return;
  }
  sparse_.insert(hash);
  if (sparse_.size() > kMaxSparseHashes) MakeDense();
}

void CardinalitySketch::AddToRegisters(uint64_t hash) {
  const uint64_t index = hash >> kRegisterBits;
  const uint64_t rest = hash << kPrecision;  // the low q bits, left-aligned
  const int rank = rest == 0 ? kRegisterBits + 1 : std::countl_zero(rest) + 1;
  uint8_t& reg = registers_[index];
  if (rank > reg) reg = static_cast<uint8_t>(rank);
}

void CardinalitySketch::MakeDense() {
  registers_.assign(kNumRegisters, 0);
  for (uint64_t hash : sparse_) AddToRegisters(hash);
  absl::flat_hash_set<uint64_t>().swap(sparse_);
}

void CardinalitySketch::Merge(const CardinalitySketch& other) {
  if (other.dense()) {
    if (!dense()) MakeDense();
    for (uint32_t i = 0; i < kNumRegisters; ++i) {
      if (other.registers_[i] > registers_[i]) registers_[i] = other.registers_[i];
    }
    return;
  }
  for (uint64_t hash : other.sparse_) AddHash(hash);
}

uint64_t CardinalitySketch::Estimate() const {
  if (!dense()) return sparse_.size();
  // Ertl's improved raw estimator from the register histogram.
  uint64_t histogram[kRegisterBits + 2] = {};
  for (uint8_t reg : registers_) ++histogram[reg];
  const double m = kNumRegisters;
  double z = m * Tau(1.0 - static_cast<double>(histogram[kRegisterBits + 1]) / m);
  for (int k = kRegisterBits; k >= 1; --k) {
    z = 0.5 * (z + static_cast<double>(histogram[k]));
  }
  z += m * Sigma(static_cast<double>(histogram[0]) / m);
  const double alpha_infinity = 0.5 / std::log(2.0);
  return static_cast<uint64_t>(std::llround(alpha_infinity * m * m / z));
}

uint64_t CardinalitySketch::MemoryBytes() const {
  return sizeof(CardinalitySketch) + registers_.capacity() +
         sparse_.capacity() * (sizeof(uint64_t) + 1);
}

bool CardinalitySketch::operator==(const CardinalitySketch& other) const {
  return sparse_ == other.sparse_ && registers_ == other.registers_;
}

uint64_t CardinalitySketch::HashText(std::string_view text) {
  return XXH64(text.data(), text.size(), 0);
}

uint64_t CardinalitySketch::HashInteger(int64_t value) { return Hash8(&value); }

uint64_t CardinalitySketch::HashUnsigned(uint64_t value) {
  if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return HashInteger(static_cast<int64_t>(value));
  }
  const uint64_t tagged = value ^ 0x8000'0000'0000'0000u;  // above i64: cannot collide with one
  return XXH64(&tagged, 8, 1);
}

uint64_t CardinalitySketch::HashDouble(double value) {
  if (std::trunc(value) == value && std::fabs(value) < 9.2e18) {
    return HashInteger(static_cast<int64_t>(value));
  }
  if (value == 0.0) value = 0.0;  // -0.0
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return XXH64(&bits, 8, 2);
}

}  // namespace shale::index
