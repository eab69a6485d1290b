// PhiAccrualFailureDetector: how suspicious the silence of one peer is (Hayashibara et al., "The
// phi accrual failure detector", 2004). It keeps a window of the intervals between the peer's
// heartbeat arrivals and, at any moment, computes
//   phi = -log10(P(an interval at least as long as the current silence))
// under a normal distribution fitted to the window. phi = 1 means a 10% chance the peer is still
// alive and merely late, phi = 8 one in 10^8. The peer is deemed dead once phi reaches the
// threshold.
//
// The standard deviation is floored at `min_std_deviation`, so a peer whose heartbeats were
// perfectly regular is not declared dead by the first small delay, and intervals longer than
// `max_interval` (an outage, not the normal rhythm) are not sampled. With the defaults that
// ClusterMembership derives from a gossip interval I (min_std_deviation = I / 2), a peer
// observed every I is declared dead about 3.6 I after its last heartbeat.
//
// Thread safety: none.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace shale::cluster {

struct FailureDetectorOptions {
  double phi_threshold = 8.0;
  size_t window_size = 100;
  // The interval assumed before two heartbeats have been seen.
  std::chrono::microseconds initial_interval = std::chrono::seconds(1);
  std::chrono::microseconds min_std_deviation = std::chrono::milliseconds(500);
  std::chrono::microseconds max_interval = std::chrono::seconds(10);
};

class PhiAccrualFailureDetector {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PhiAccrualFailureDetector(const FailureDetectorOptions& options);

  // Records a heartbeat arrival. Arrivals must be given in time order.
  void Heartbeat(Clock::time_point now);
  // The suspicion level at `now`; 0 before the first heartbeat, +infinity when the silence is
  // far beyond anything the window explains.
  double Phi(Clock::time_point now) const;
  bool IsAlive(Clock::time_point now) const { return Phi(now) < options_.phi_threshold; }

  // The mean and standard deviation used by Phi, in microseconds.
  double mean_interval_micros() const;
  double std_deviation_micros() const;
  size_t num_samples() const { return intervals_micros_.size(); }

 private:
  FailureDetectorOptions options_;
  std::optional<Clock::time_point> last_arrival_;
  std::deque<double> intervals_micros_;
  double sum_ = 0;
  double sum_of_squares_ = 0;
};

}  // namespace shale::cluster
