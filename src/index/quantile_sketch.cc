#include "index/quantile_sketch.h"

#include <algorithm>
#include <cmath>

namespace shale::index {
namespace {

const double kGamma =
    (1 + QuantileSketch::kRelativeAccuracy) / (1 - QuantileSketch::kRelativeAccuracy);
const double kLogGamma =
    std::log1p(2 * QuantileSketch::kRelativeAccuracy / (1 - QuantileSketch::kRelativeAccuracy));

}  // namespace

int32_t QuantileSketch::Key(double magnitude) {
  return static_cast<int32_t>(std::ceil(std::log(magnitude) / kLogGamma));
}

double QuantileSketch::Value(int32_t key) {
  // The bin (gamma^(key-1), gamma^key] is represented by the value with equal relative error to
  // both ends.
  return std::exp(static_cast<double>(key) * kLogGamma) * 2.0 / (1.0 + kGamma);
}

void QuantileSketch::Store::Add(int32_t key, uint64_t count) {
  if (bins.empty()) {
    min_key = key;
    bins.assign(1, 0);
  } else if (key < min_key) {
    bins.insert(bins.begin(), static_cast<size_t>(min_key - key), 0);
    min_key = key;
  } else if (key >= min_key + static_cast<int32_t>(bins.size())) {
    bins.resize(static_cast<size_t>(key - min_key) + 1, 0);
  }
  bins[static_cast<size_t>(key - min_key)] += count;
  if (bins.size() > static_cast<size_t>(kMaxBins)) Collapse();
}

void QuantileSketch::Store::Collapse() {
  const size_t excess = bins.size() - static_cast<size_t>(kMaxBins);
  uint64_t folded = 0;
  for (size_t i = 0; i <= excess; ++i) folded += bins[i];
  bins.erase(bins.begin(), bins.begin() + static_cast<std::ptrdiff_t>(excess));
  bins[0] = folded;
  min_key += static_cast<int32_t>(excess);
}

void QuantileSketch::Add(double value) {
  if (std::isnan(value)) return;
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  const double magnitude = std::fabs(value);
  if (magnitude < kMinIndexable) {
    ++zero_count_;
  } else if (std::isinf(magnitude)) {
    // Infinities land in the outermost bin the store can hold; min/max clamp their quantiles.
    (value > 0 ? positive_ : negative_).Add(Key(std::numeric_limits<double>::max()), 1);
  } else {
    (value > 0 ? positive_ : negative_).Add(Key(magnitude), 1);
  }
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < other.positive_.bins.size(); ++i) {
    if (other.positive_.bins[i] != 0) {
      positive_.Add(other.positive_.min_key + static_cast<int32_t>(i), other.positive_.bins[i]);
    }
  }
  for (size_t i = 0; i < other.negative_.bins.size(); ++i) {
    if (other.negative_.bins[i] != 0) {
      negative_.Add(other.negative_.min_key + static_cast<int32_t>(i), other.negative_.bins[i]);
    }
  }
  zero_count_ += other.zero_count_;
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::optional<double> QuantileSketch::Quantile(double q) const {
  if (count_ == 0 || std::isnan(q)) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1));
  double value = max_;
  uint64_t seen = 0;
  bool found = false;
  // Ascending order: negatives by decreasing magnitude, zeros, positives.
  for (size_t i = negative_.bins.size(); i-- > 0 && !found;) {
    seen += negative_.bins[i];
    if (seen > rank) {
      value = -Value(negative_.min_key + static_cast<int32_t>(i));
      found = true;
    }
  }
  if (!found) {
    seen += zero_count_;
    if (seen > rank) {
      value = 0;
      found = true;
    }
  }
  for (size_t i = 0; i < positive_.bins.size() && !found; ++i) {
    seen += positive_.bins[i];
    if (seen > rank) {
      value = Value(positive_.min_key + static_cast<int32_t>(i));
      found = true;
    }
  }
  return std::clamp(value, min_, max_);
}

uint64_t QuantileSketch::MemoryBytes() const {
  return sizeof(QuantileSketch) +
         (positive_.bins.capacity() + negative_.bins.capacity()) * sizeof(uint64_t);
}

bool QuantileSketch::operator==(const QuantileSketch& other) const {
  return positive_ == other.positive_ && negative_ == other.negative_ &&
         zero_count_ == other.zero_count_ && count_ == other.count_ &&
         (count_ == 0 || (min_ == other.min_ && max_ == other.max_));
}

}  // namespace shale::index
