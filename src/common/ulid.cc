#include "common/ulid.h"

#include <chrono>
#include <random>

namespace shale {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

uint64_t NowMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::string FormatUlid(uint64_t unix_millis, uint16_t random_high, uint64_t random_low) {
  // 128 bits = 48-bit time | 80-bit randomness, encoded as 26 base32 digits (130 bits, the top
  // two always zero).
  const unsigned __int128 value = (static_cast<unsigned __int128>(unix_millis & 0xFFFFFFFFFFFFull) << 80) |
                                  (static_cast<unsigned __int128>(random_high) << 64) | random_low;
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kCrockford[static_cast<unsigned>((value >> ((25 - i) * 5)) & 31)];
  }
  return out;
}

std::string NewUlid() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  const uint64_t random_low = generator();
  const auto random_high = static_cast<uint16_t>(generator());
  return FormatUlid(NowMillis(), random_high, random_low);
}

bool IsValidUlid(std::string_view text) {
  if (text.size() != 26) return false;
  for (char c : text) {
    bool found = false;
    for (const char* p = kCrockford; *p != '\0'; ++p) {
      if (*p == c) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return text[0] <= '7';
}

}  // namespace shale
