// QuantileSketch: a DDSketch (Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable quantile
// sketch with relative-error guarantees", VLDB 2019) for the percentiles aggregation.
//
// Values are counted in logarithmic bins of ratio gamma = (1 + a) / (1 - a) with relative
// accuracy a = 1 %: a quantile is reported as the representative value of the bin holding the
// value of that rank, within 1 % of it. Positive and negative values have separate bin stores;
// values with magnitude below kMinIndexable count as zero. A store keeps at most kMaxBins bins;
// beyond that its lowest bins are folded into one (only the quantiles of the smallest
// magnitudes lose accuracy), which keeps memory bounded whatever the value range.
//
// Merge is exact: merging sketches gives the same bins as one sketch fed every value.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace shale::index {

namespace internal {
struct SketchCodec;  // index/aggregation_codec.cc
}  // namespace internal

class QuantileSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  static constexpr double kMinIndexable = 1e-9;
  static constexpr int32_t kMaxBins = 2048;

  void Add(double value);
  void Merge(const QuantileSketch& other);
  // The value at quantile `q` in [0, 1] (clamped into [min, max] of the values seen): the value
  // of rank floor(q * (count - 1)) in ascending order, within the relative accuracy. nullopt
  // when the sketch is empty.
  std::optional<double> Quantile(double q) const;
  uint64_t count() const { return count_; }
  uint64_t MemoryBytes() const;
  bool operator==(const QuantileSketch& other) const;

 private:
  friend struct internal::SketchCodec;

  // Counts per bin key, dense from `min_key`.
  struct Store {
    int32_t min_key = 0;
    std::vector<uint64_t> bins;
    void Add(int32_t key, uint64_t count);
    // Folds bins below max_key - kMaxBins + 1 into the lowest kept one.
    void Collapse();
    bool operator==(const Store& other) const {
      return bins == other.bins && (bins.empty() || min_key == other.min_key);
    }
  };
  static int32_t Key(double magnitude);
  static double Value(int32_t key);

  Store positive_;
  Store negative_;  // keys of the magnitudes of negative values
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace shale::index
