// CardinalitySketch and QuantileSketch: accuracy against exact answers computed by the test, and
// merges equal to one sketch of all the values.

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

#include "index/cardinality_sketch.h"
#include "index/quantile_sketch.h"

namespace shale::index {
namespace {

TEST(CardinalitySketchTest, SparseIsExactAndDenseIsWithinThreePercent) {
  std::mt19937_64 rng(1);
  CardinalitySketch sketch;
  std::set<uint64_t> values;
  for (int i = 0; i < 300'000; ++i) {
    const uint64_t value = rng() % 150'000;
    values.insert(value);
    sketch.AddHash(CardinalitySketch::HashUnsigned(value));
    if (values.size() <= CardinalitySketch::kMaxSparseHashes) {
      ASSERT_FALSE(sketch.dense());
      ASSERT_EQ(sketch.Estimate(), values.size());
    }
  }
  ASSERT_TRUE(sketch.dense());
  const double truth = static_cast<double>(values.size());
  EXPECT_NEAR(static_cast<double>(sketch.Estimate()), truth, 0.03 * truth);
}

TEST(CardinalitySketchTest, SmallAndLargeCardinalitiesStayAccurateWhenDense) {
  for (uint64_t distinct : {3'000u, 20'000u, 1'000'000u}) {
    CardinalitySketch sketch;
    for (uint64_t i = 0; i < distinct; ++i) {
      sketch.AddHash(CardinalitySketch::HashInteger(static_cast<int64_t>(i * 7919)));
    }
    const double truth = static_cast<double>(distinct);
    EXPECT_NEAR(static_cast<double>(sketch.Estimate()), truth, 0.03 * truth) << distinct;
  }
}

TEST(CardinalitySketchTest, MergeEqualsOneSketchOfAllValuesInAnyOrder) {
  std::mt19937_64 rng(2);
  for (int sizes : {100, 1'500, 40'000}) {
    CardinalitySketch all;
    std::vector<CardinalitySketch> parts(4);
    for (int i = 0; i < sizes; ++i) {
      const uint64_t hash = CardinalitySketch::HashText(std::to_string(rng() % (sizes * 2)));
      all.AddHash(hash);
      parts[rng() % parts.size()].AddHash(hash);
    }
    CardinalitySketch forward;
    CardinalitySketch backward;
    for (size_t i = 0; i < parts.size(); ++i) {
      forward.Merge(parts[i]);
      backward.Merge(parts[parts.size() - 1 - i]);
    }
    EXPECT_TRUE(forward == all) << sizes;
    EXPECT_TRUE(backward == all) << sizes;
    EXPECT_EQ(forward.Estimate(), all.Estimate());
  }
}

TEST(CardinalitySketchTest, IntegralDoublesHashLikeIntegers) {
  EXPECT_EQ(CardinalitySketch::HashDouble(3.0), CardinalitySketch::HashInteger(3));
  EXPECT_EQ(CardinalitySketch::HashUnsigned(3), CardinalitySketch::HashInteger(3));
  EXPECT_NE(CardinalitySketch::HashDouble(3.5), CardinalitySketch::HashInteger(3));
}

// The value of rank floor(q * (n - 1)) in `sorted`.
double ExactQuantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

TEST(QuantileSketchTest, QuantilesAreWithinTheRelativeAccuracy) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> lognormal(3.0, 2.0);
  std::normal_distribution<double> normal(0.0, 50.0);
  for (int distribution = 0; distribution < 2; ++distribution) {
    QuantileSketch sketch;
    std::vector<double> values;
    for (int i = 0; i < 50'000; ++i) {
      const double value = distribution == 0 ? lognormal(rng) : normal(rng);
      values.push_back(value);
      sketch.Add(value);
    }
    std::sort(values.begin(), values.end());
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1.0}) {
      const double exact = ExactQuantile(values, q);
      const double estimate = *sketch.Quantile(q);
      EXPECT_NEAR(estimate, exact, QuantileSketch::kRelativeAccuracy * std::fabs(exact) + 1e-9)
          << "distribution " << distribution << " q " << q;
    }
  }
}

TEST(QuantileSketchTest, MergeEqualsOneSketchOfAllValues) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  QuantileSketch all;
  std::vector<QuantileSketch> parts(3);
  for (int i = 0; i < 20'000; ++i) {
    const double value = i % 97 == 0 ? 0.0 : uniform(rng);
    all.Add(value);
    parts[rng() % parts.size()].Add(value);
  }
  QuantileSketch merged;
  for (const QuantileSketch& part : parts) merged.Merge(part);
  EXPECT_TRUE(merged == all);
  EXPECT_EQ(*merged.Quantile(0.5), *all.Quantile(0.5));
}

TEST(QuantileSketchTest, WideValueRangesCollapseTheLowestBinsOnly) {
  QuantileSketch sketch;
  std::vector<double> values;
  for (int exponent = -8; exponent <= 300; ++exponent) {
    values.push_back(std::pow(10.0, exponent));
    sketch.Add(values.back());
  }
  // The top quantiles keep their accuracy; memory stays bounded.
  EXPECT_NEAR(*sketch.Quantile(1.0), 1e300, 1e298);
  EXPECT_NEAR(*sketch.Quantile(0.99), ExactQuantile(values, 0.99),
              0.01 * ExactQuantile(values, 0.99));
  EXPECT_LT(sketch.MemoryBytes(), 2 * 2048 * sizeof(uint64_t) + 1024);
}

TEST(QuantileSketchTest, EmptySketchHasNoQuantile) {
  QuantileSketch sketch;
  EXPECT_FALSE(sketch.Quantile(0.5).has_value());
  sketch.Add(7);
  EXPECT_EQ(*sketch.Quantile(0.0), 7);  // clamped into [min, max]
}

}  // namespace
}  // namespace shale::index
