#include "cluster/failure_detector.h"

#include <cmath>

#include "gtest/gtest.h"

namespace shale::cluster {
namespace {

using std::chrono::milliseconds;
using Clock = PhiAccrualFailureDetector::Clock;

Clock::time_point At(int64_t millis) { return Clock::time_point(milliseconds(millis)); }

FailureDetectorOptions Options(int64_t interval_ms) {
  FailureDetectorOptions options;
  options.phi_threshold = 8.0;
  options.initial_interval = milliseconds(interval_ms);
  options.min_std_deviation = milliseconds(interval_ms / 2);
  options.max_interval = milliseconds(interval_ms * 10);
  return options;
}

// The first moment, in ms after the last heartbeat at `last_ms`, the detector declares death.
int64_t DetectionDelayMs(const PhiAccrualFailureDetector& detector, int64_t last_ms) {
  for (int64_t t = last_ms; t < last_ms + 1'000'000; ++t) {
    if (!detector.IsAlive(At(t))) return t - last_ms;
  }
  return -1;
}

TEST(PhiAccrualFailureDetectorTest, PhiIsZeroBeforeAnyHeartbeat) {
  PhiAccrualFailureDetector detector(Options(100));
  EXPECT_EQ(detector.Phi(At(50'000)), 0.0);
  EXPECT_TRUE(detector.IsAlive(At(50'000)));
}

TEST(PhiAccrualFailureDetectorTest, RegularHeartbeatsGiveAFewIntervalsOfGrace) {
  PhiAccrualFailureDetector detector(Options(100));
  int64_t t = 0;
  for (int i = 0; i < 50; ++i, t += 100) detector.Heartbeat(At(t));
  const int64_t last = t - 100;
  EXPECT_EQ(detector.num_samples(), 49u);
  EXPECT_NEAR(detector.mean_interval_micros(), 100'000, 1);
  EXPECT_NEAR(detector.std_deviation_micros(), 50'000, 1);  // the floor, intervals are exact
  // mean + 5.22 standard deviations is where phi reaches 8 under the logistic approximation.
  EXPECT_NEAR(static_cast<double>(DetectionDelayMs(detector, last)), 100 + 5.22 * 50, 3);
  EXPECT_LT(detector.Phi(At(last + 100)), 1.0);  // on time: not suspicious
  EXPECT_TRUE(detector.IsAlive(At(last + 250)));
  EXPECT_FALSE(detector.IsAlive(At(last + 400)));
}

TEST(PhiAccrualFailureDetectorTest, PhiGrowsWithSilenceAndStaysFinite) {
  PhiAccrualFailureDetector detector(Options(100));
  for (int64_t t = 0; t <= 1000; t += 100) detector.Heartbeat(At(t));
  double previous = -1;
  for (int64_t silence = 0; silence <= 5000; silence += 50) {
    const double phi = detector.Phi(At(1000 + silence));
    EXPECT_GE(phi, previous) << silence;
    EXPECT_TRUE(std::isfinite(phi)) << silence;
    previous = phi;
  }
  EXPECT_GT(previous, 1000.0);
  EXPECT_TRUE(std::isfinite(detector.Phi(At(1000 + 100'000'000))));
}

TEST(PhiAccrualFailureDetectorTest, IrregularHeartbeatsWidenTheGrace) {
  PhiAccrualFailureDetector regular(Options(100));
  PhiAccrualFailureDetector irregular(Options(100));
  int64_t t_regular = 0;
  int64_t t_irregular = 0;
  for (int i = 0; i < 60; ++i) {
    regular.Heartbeat(At(t_regular));
    irregular.Heartbeat(At(t_irregular));
    t_regular += 100;
    t_irregular += (i % 2 == 0) ? 20 : 180;  // same mean, a 80 ms deviation
  }
  EXPECT_NEAR(irregular.mean_interval_micros(), 100'000, 3'000);
  EXPECT_GT(irregular.std_deviation_micros(), regular.std_deviation_micros());
  EXPECT_GT(DetectionDelayMs(irregular, t_irregular - 180),
            DetectionDelayMs(regular, t_regular - 100));
}

TEST(PhiAccrualFailureDetectorTest, OutagesAreNotSampledAndTheWindowSlides) {
  FailureDetectorOptions options = Options(100);
  options.window_size = 10;
  PhiAccrualFailureDetector detector(options);
  int64_t t = 0;
  for (int i = 0; i < 20; ++i, t += 100) detector.Heartbeat(At(t));
  EXPECT_EQ(detector.num_samples(), 10u);  // the window's size
  t += 60'000;                             // a one-minute outage
  detector.Heartbeat(At(t));
  EXPECT_EQ(detector.num_samples(), 10u);
  EXPECT_NEAR(detector.mean_interval_micros(), 100'000, 1);  // not dragged up by the outage
  // Slower heartbeats replace the window's samples one by one.
  for (int i = 0; i < 10; ++i) {
    t += 400;
    detector.Heartbeat(At(t));
  }
  EXPECT_NEAR(detector.mean_interval_micros(), 400'000, 1);
}

TEST(PhiAccrualFailureDetectorTest, OutOfOrderArrivalsAreIgnored) {
  PhiAccrualFailureDetector detector(Options(100));
  detector.Heartbeat(At(1000));
  detector.Heartbeat(At(900));
  EXPECT_EQ(detector.num_samples(), 0u);
  EXPECT_EQ(detector.Phi(At(950)), 0.0);
  detector.Heartbeat(At(1100));
  EXPECT_EQ(detector.num_samples(), 1u);
  EXPECT_NEAR(detector.mean_interval_micros(), 100'000, 1);
}

}  // namespace
}  // namespace shale::cluster
