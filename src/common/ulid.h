// ULIDs: 128-bit ids, 48-bit millisecond timestamp + 80 random bits, written as 26 characters
// of Crockford base32. They sort by creation time, which is why split ids use them.
// Thread safety: NewUlid() may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shale {

// Returns a new ULID string for the current wall-clock time.
std::string NewUlid();

// Returns the ULID string for the given millisecond timestamp and 80 bits of randomness
// (`random_high` holds the top 16 bits, `random_low` the bottom 64).
std::string FormatUlid(uint64_t unix_millis, uint16_t random_high, uint64_t random_low);

// True if `text` is 26 valid Crockford base32 characters.
bool IsValidUlid(std::string_view text);

}  // namespace shale
