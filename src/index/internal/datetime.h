// Datetime parsing and formatting for engine v1. Datetimes are i64 microseconds since the Unix
// epoch, UTC. Private to index/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "index/doc_mapping.h"

namespace shale::index::internal {

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// Parses RFC 3339 ("2023-05-25T05:36:41.123Z", "...+02:00"). With `lenient_iso8601` it also
// accepts a space instead of 'T', a missing offset (UTC) and a date alone.
std::optional<int64_t> ParseRfc3339Micros(std::string_view text, bool lenient_iso8601);

// Parses RFC 2822 ("Tue, 1 Jul 2003 10:52:37 +0200"; day name optional, seconds optional,
// numeric offsets or the obsolete UT / GMT / EST ... PDT names, 2-digit years as 19xx / 20xx).
std::optional<int64_t> ParseRfc2822Micros(std::string_view text);

// Parses `text` with a strptime-style `pattern` (see ValidateStrptimePattern for the
// directives). The whole text must match (trailing spaces allowed); fields the pattern does not
// set default to 1970-01-01T00:00:00 UTC.
std::optional<int64_t> ParseStrptimeMicros(std::string_view text, std::string_view pattern);

// Unix timestamp with the precision inferred from its magnitude: seconds up to year 9999, then
// milliseconds, microseconds, nanoseconds.
std::optional<int64_t> UnixTimestampToMicros(int64_t value);
std::optional<int64_t> UnixSecondsF64ToMicros(double seconds);

// Parses a datetime written by a user in a query: RFC 3339, digits (unix timestamp, precision
// inferred), `YYYY-MM-DD` or `YYYY/MM/DD`.
std::optional<int64_t> ParseQueryDatetimeMicros(std::string_view text);

// Truncates to the precision kept in fast fields (floor division, also for negative values).
int64_t TruncateMicros(int64_t micros, DatetimePrecision precision);

// Renders as RFC 3339 UTC with fractional digits only when non-zero ("2023-05-25T05:36:41Z",
// "2023-05-25T05:36:41.5Z").
std::string FormatRfc3339(int64_t micros);
void AppendRfc3339(int64_t micros, std::string& out);
// Renders as a JSON value in `format` (a quoted string for RFC 3339, an integer otherwise).
std::string FormatDatetimeJson(int64_t micros, DatetimeOutputFormat format);
void AppendDatetimeJson(int64_t micros, DatetimeOutputFormat format, std::string& out);

}  // namespace shale::index::internal
