#include "cluster/failure_detector.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shale::cluster {

PhiAccrualFailureDetector::PhiAccrualFailureDetector(const FailureDetectorOptions& options)
    : options_(options) {
  options_.window_size = std::max<size_t>(options_.window_size, 1);
}

void PhiAccrualFailureDetector::Heartbeat(Clock::time_point now) {
  if (last_arrival_.has_value() && now > *last_arrival_) {
    const auto interval =
        std::chrono::duration_cast<std::chrono::microseconds>(now - *last_arrival_);
    if (interval <= options_.max_interval) {
      const auto micros = static_cast<double>(interval.count());
      intervals_micros_.push_back(micros);
      sum_ += micros;
      sum_of_squares_ += micros * micros;
      if (intervals_micros_.size() > options_.window_size) {
        const double oldest = intervals_micros_.front();
        intervals_micros_.pop_front();
        sum_ -= oldest;
        sum_of_squares_ -= oldest * oldest;
      }
    }
  }
  if (!last_arrival_.has_value() || now > *last_arrival_) last_arrival_ = now;
}

double PhiAccrualFailureDetector::mean_interval_micros() const {
  if (intervals_micros_.empty()) return static_cast<double>(options_.initial_interval.count());
  return sum_ / static_cast<double>(intervals_micros_.size());
}

double PhiAccrualFailureDetector::std_deviation_micros() const {
  const auto floor = static_cast<double>(options_.min_std_deviation.count());
  if (intervals_micros_.size() < 2) return std::max(floor, 1.0);
  const double n = static_cast<double>(intervals_micros_.size());
  const double mean = sum_ / n;
  // Running sums can dip below zero by rounding; clamp before the square root.
  const double variance = std::max(0.0, sum_of_squares_ / n - mean * mean);
  return std::max({std::sqrt(variance), floor, 1.0});
}

double PhiAccrualFailureDetector::Phi(Clock::time_point now) const {
  if (!last_arrival_.has_value() || now <= *last_arrival_) return 0.0;
  const auto silence = static_cast<double>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - *last_arrival_).count());
  const double y = (silence - mean_interval_micros()) / std_deviation_micros();
  // The normal tail P(X > silence) by the logistic approximation of Bowling et al. (2009):
  // P = e / (1 + e) with e = exp(-x), x = y (1.5976 + 0.070566 y^2). Then
  // phi = -log10(P) = ln(1 + exp(x)) / ln(10), computed so that neither exp overflows nor a long
  // silence turns into log10(0).
  const double x = y * (1.5976 + 0.070566 * y * y);
  const double softplus = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  return softplus / std::log(10.0);
}

}  // namespace shale::cluster
