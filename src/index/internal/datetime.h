// Datetime parsing and formatting. Datetimes are i64 nanoseconds since the Unix epoch, UTC
// (docs/adr/016-nanosecond-datetimes.md), so the values a document can hold lie between
// kMinDatetimeNanos (1677-09-21T00:12:44Z) and kMaxDatetimeNanos (2262-04-11T23:47:16.854775807Z).
// Parsers return a Timestamp (seconds and nanoseconds, for any year 0000-9999) and ToUnixNanos
// checks that range, so a caller can tell an unparsable text from a datetime out of range.
// Private to index/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "index/doc_mapping.h"

namespace shale::index::internal {

// The range of a datetime value. The lower bound is a whole second so that truncating any value
// to seconds stays in range.
inline constexpr int64_t kMinDatetimeNanos = -9'223'372'036'000'000'000;
inline constexpr int64_t kMaxDatetimeNanos = INT64_MAX;

// An instant as parsed, before the range check: `seconds` since the epoch and `nanos` in
// [0, 10^9).
struct Timestamp {
  int64_t seconds = 0;
  int64_t nanos = 0;

  bool operator==(const Timestamp&) const = default;
};

// Nanoseconds since the epoch of `timestamp`; nullopt outside [kMinDatetimeNanos,
// kMaxDatetimeNanos].
std::optional<int64_t> ToUnixNanos(Timestamp timestamp);

// `timestamp` in nanoseconds as a 128-bit integer (no range limit), for query bounds.
__int128 ToUnixNanosWide(Timestamp timestamp);

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// Parses RFC 3339 ("2023-05-25T05:36:41.123456789Z", "...+02:00"; up to 9 fractional digits are
// kept, further ones ignored). With `lenient_iso8601` it also accepts a space instead of 'T', a
// missing offset (UTC) and a date alone.
std::optional<Timestamp> ParseRfc3339(std::string_view text, bool lenient_iso8601);

// Parses RFC 2822 ("Tue, 1 Jul 2003 10:52:37 +0200"; day name optional, seconds optional,
// numeric offsets or the obsolete UT / GMT / EST ... PDT names, 2-digit years as 19xx / 20xx).
std::optional<Timestamp> ParseRfc2822(std::string_view text);

// Parses `text` with a strptime-style `pattern` (see ValidateStrptimePattern for the
// directives). The whole text must match (trailing spaces allowed); fields the pattern does not
// set default to 1970-01-01T00:00:00 UTC.
std::optional<Timestamp> ParseStrptime(std::string_view text, std::string_view pattern);

// Unix timestamp with the precision inferred from its magnitude: seconds up to year 9999, then
// milliseconds, microseconds, nanoseconds.
Timestamp UnixTimestampToTimestamp(int64_t value);
// Fractional unix seconds, rounded to the microsecond (a double holds no finer digits at today's
// epochs); magnitudes beyond year 9999 are integral timestamps of a finer unit, as above.
std::optional<Timestamp> UnixSecondsF64ToTimestamp(double seconds);

// Parses a datetime written by a user in a query: RFC 3339, digits (unix timestamp, precision
// inferred), `YYYY-MM-DD` or `YYYY/MM/DD`.
std::optional<Timestamp> ParseQueryDatetime(std::string_view text);

// Truncates to the precision kept in fast fields (floor division, also for negative values).
// REQUIRES: nanos >= kMinDatetimeNanos (so the result cannot overflow).
int64_t TruncateNanos(int64_t nanos, DatetimePrecision precision);

// Renders as RFC 3339 UTC with fractional digits only when non-zero ("2023-05-25T05:36:41Z",
// "2023-05-25T05:36:41.5Z", "2015-01-10T14:00:00.000000001Z").
std::string FormatRfc3339(int64_t nanos);
void AppendRfc3339(int64_t nanos, std::string& out);
// Renders as a JSON value in `format` (a quoted string for RFC 3339, an integer otherwise).
std::string FormatDatetimeJson(int64_t nanos, DatetimeOutputFormat format);
void AppendDatetimeJson(int64_t nanos, DatetimeOutputFormat format, std::string& out);

}  // namespace shale::index::internal
