// Clock and timestamp helpers shared by the engine, the indexer (commit deadlines, split time
// ranges) and the API (elapsed times).
#pragma once

#include <chrono>
#include <cstdint>

namespace shale {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerMicro = 1'000;

// Integer division rounding toward negative infinity (-1 / 2 == -1), for timestamps before 1970.
constexpr int64_t FloorDiv(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) --quotient;
  return quotient;
}

// `seconds` in nanoseconds, saturated to the int64 range (datetimes are i64 nanoseconds since
// the epoch, years 1677 to 2262; a time filter bound beyond them holds every value).
constexpr int64_t SecondsToNanosSaturated(int64_t seconds) {
  constexpr int64_t kMaxSeconds = INT64_MAX / kNanosPerSecond;
  if (seconds > kMaxSeconds) return INT64_MAX;
  if (seconds < -kMaxSeconds) return INT64_MIN;
  return seconds * kNanosPerSecond;
}

// `micros` in nanoseconds, saturated to the int64 range.
constexpr int64_t MicrosToNanosSaturated(int64_t micros) {
  constexpr int64_t kMaxMicros = INT64_MAX / kNanosPerMicro;
  if (micros > kMaxMicros) return INT64_MAX;
  if (micros < -kMaxMicros) return INT64_MIN;
  return micros * kNanosPerMicro;
}

inline int64_t UnixMicrosNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t UnixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A monotonic stopwatch.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  int64_t ElapsedMicros() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace shale
