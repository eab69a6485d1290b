#include "index/internal/datetime.h"

#include <charconv>
#include <cmath>
#include <utility>

#include "fmt/format.h"

#include "common/time_util.h"

namespace shale::index::internal {

namespace {

constexpr int64_t kMaxUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

// `value` (in units of 1 / `units_per_second` s) as whole seconds, floored, and the units left
// over, in [0, units_per_second). Unlike `value - FloorDiv(value, n) * n`, it cannot overflow
// near INT64_MIN.
std::pair<int64_t, int64_t> SplitSeconds(int64_t value, int64_t units_per_second) {
  int64_t seconds = value / units_per_second;
  int64_t units = value % units_per_second;
  if (units < 0) {
    --seconds;
    units += units_per_second;
  }
  return {seconds, units};
}

// Reads exactly `count` digits at `pos`.
bool ReadDigits(std::string_view text, size_t& pos, size_t count, int64_t& value) {
  if (pos + count > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

Civil CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{m <= 2 ? y + 1 : y, m, d};
}

std::optional<int64_t> ParseDate(std::string_view text, size_t& pos, char separator) {
  int64_t year = 0;
  int64_t month = 0;
  int64_t day = 0;
  if (!ReadDigits(text, pos, 4, year)) return std::nullopt;
  if (pos >= text.size() || text[pos] != separator) return std::nullopt;
  ++pos;
  if (!ReadDigits(text, pos, 2, month) || month < 1 || month > 12) return std::nullopt;
  if (pos >= text.size() || text[pos] != separator) return std::nullopt;
  ++pos;
  if (!ReadDigits(text, pos, 2, day) || day < 1 ||
      day > DaysInMonth(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ToUnixNanos(Timestamp timestamp) {
  const __int128 nanos = ToUnixNanosWide(timestamp);
  if (nanos < kMinDatetimeNanos || nanos > kMaxDatetimeNanos) return std::nullopt;
  return static_cast<int64_t>(nanos);
}

__int128 ToUnixNanosWide(Timestamp timestamp) {
  return static_cast<__int128>(timestamp.seconds) * kNanosPerSecond + timestamp.nanos;
}

std::optional<Timestamp> ParseRfc3339(std::string_view text, bool lenient_iso8601) {
  size_t pos = 0;
  std::optional<int64_t> days = ParseDate(text, pos, '-');
  if (!days.has_value()) return std::nullopt;
  int64_t seconds = *days * 86400;
  if (pos == text.size()) {
    if (!lenient_iso8601) return std::nullopt;
    return Timestamp{seconds, 0};
  }
  const char t = text[pos];
  if (!(t == 'T' || t == 't' || (lenient_iso8601 && t == ' '))) return std::nullopt;
  ++pos;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  if (!ReadDigits(text, pos, 2, hour) || hour > 23) return std::nullopt;
  if (pos >= text.size() || text[pos] != ':') return std::nullopt;
  ++pos;
  if (!ReadDigits(text, pos, 2, minute) || minute > 59) return std::nullopt;
  if (pos >= text.size() || text[pos] != ':') return std::nullopt;
  ++pos;
  if (!ReadDigits(text, pos, 2, second) || second > 60) return std::nullopt;
  if (second == 60) second = 59;  // leap second: clamp
  seconds += hour * 3600 + minute * 60 + second;
  int64_t nanos = 0;
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  if (pos == text.size()) {
    if (!lenient_iso8601) return std::nullopt;
  } else if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const int64_t sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int64_t offset_hours = 0;
    int64_t offset_minutes = 0;
    if (!ReadDigits(text, pos, 2, offset_hours) || offset_hours > 23) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!ReadDigits(text, pos, 2, offset_minutes) || offset_minutes > 59) return std::nullopt;
    seconds -= sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return Timestamp{seconds, nanos};
}

namespace {

// `value` counted in units of 10^9 / `units_per_second` nanoseconds.
Timestamp FromUnits(int64_t value, int64_t units_per_second) {
  const auto [seconds, units] = SplitSeconds(value, units_per_second);
  return Timestamp{seconds, units * (kNanosPerSecond / units_per_second)};
}

}  // namespace

Timestamp UnixTimestampToTimestamp(int64_t value) {
  // Magnitudes are compared as unsigned to handle INT64_MIN.
  const uint64_t magnitude =
      value < 0 ? static_cast<uint64_t>(-(value + 1)) + 1 : static_cast<uint64_t>(value);
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds)) return Timestamp{value, 0};
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds) * 1000 + 999) {
    return FromUnits(value, 1000);
  }
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds) * 1'000'000 + 999'999) {
    return FromUnits(value, kMicrosPerSecond);
  }
  return FromUnits(value, kNanosPerSecond);
}

std::optional<Timestamp> UnixSecondsF64ToTimestamp(double seconds) {
  if (!std::isfinite(seconds)) return std::nullopt;
  if (std::fabs(seconds) > static_cast<double>(kMaxUnixSeconds)) {
    // Large floats are integral timestamps in a finer unit.
    if (std::fabs(seconds) > 9.2e18) return std::nullopt;
    return UnixTimestampToTimestamp(static_cast<int64_t>(seconds));
  }
  return FromUnits(static_cast<int64_t>(std::llround(seconds * 1e6)), kMicrosPerSecond);
}

std::optional<Timestamp> ParseQueryDatetime(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool all_digits = true;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] >= '0' && text[i] <= '9') && !(i == 0 && text[i] == '-')) all_digits = false;
  }
  if (all_digits) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return UnixTimestampToTimestamp(value);
  }
  if (text.size() == 10 && text[4] == '/') {
    size_t pos = 0;
    std::optional<int64_t> days = ParseDate(text, pos, '/');
    if (!days.has_value() || pos != text.size()) return std::nullopt;
    return Timestamp{*days * 86400, 0};
  }
  if (std::optional<Timestamp> timestamp = ParseRfc3339(text, false)) return timestamp;
  return ParseRfc3339(text, true);
}

int64_t TruncateNanos(int64_t nanos, DatetimePrecision precision) {
  int64_t unit = 1;
  switch (precision) {
    case DatetimePrecision::kSeconds:
      unit = kNanosPerSecond;
      break;
    case DatetimePrecision::kMilliseconds:
      unit = 1'000'000;
      break;
    case DatetimePrecision::kMicroseconds:
      unit = kNanosPerMicro;
      break;
    case DatetimePrecision::kNanoseconds:
      return nanos;
  }
  return FloorDiv(nanos, unit) * unit;
}

namespace {

// Writes `value` (0 <= value < 10^width) as exactly `width` digits at `out`.
char* PutDigits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

void AppendInteger(int64_t value, std::string& out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

}  // namespace

void AppendRfc3339(int64_t nanos, std::string& out) {
  const auto [seconds, fraction] = SplitSeconds(nanos, kNanosPerSecond);
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t second_of_day = seconds - days * 86400;
  const Civil civil = CivilFromDays(days);
  // No formatting library, no allocation: the hot path of stored documents. Years are within
  // 1677-2262 (the i64 nanosecond range), so always four digits.
  char text[19];
  char* cursor = PutDigits(text, civil.year, 4);
  *cursor++ = '-';
  cursor = PutDigits(cursor, civil.month, 2);
  *cursor++ = '-';
  cursor = PutDigits(cursor, civil.day, 2);
  *cursor++ = 'T';
  cursor = PutDigits(cursor, second_of_day / 3600, 2);
  *cursor++ = ':';
  cursor = PutDigits(cursor, (second_of_day / 60) % 60, 2);
  *cursor++ = ':';
  cursor = PutDigits(cursor, second_of_day % 60, 2);
  out.append(text, cursor);
  if (fraction != 0) {
    char digits[10];
    digits[0] = '.';
    PutDigits(digits + 1, fraction, 9);
    size_t length = sizeof(digits);
    while (digits[length - 1] == '0') --length;
    out.append(digits, length);
  }
  out.push_back('Z');
}

std::string FormatRfc3339(int64_t nanos) {
  std::string out;
  AppendRfc3339(nanos, out);
  return out;
}

void AppendDatetimeJson(int64_t nanos, DatetimeOutputFormat format, std::string& out) {
  switch (format) {
    case DatetimeOutputFormat::kRfc3339:
      out.push_back('"');
      AppendRfc3339(nanos, out);
      out.push_back('"');
      return;
    case DatetimeOutputFormat::kUnixTimestampSecs:
      AppendInteger(FloorDiv(nanos, kNanosPerSecond), out);
      return;
    case DatetimeOutputFormat::kUnixTimestampMillis:
      AppendInteger(FloorDiv(nanos, 1'000'000), out);
      return;
    case DatetimeOutputFormat::kUnixTimestampMicros:
      AppendInteger(FloorDiv(nanos, kNanosPerMicro), out);
      return;
    case DatetimeOutputFormat::kUnixTimestampNanos:
      AppendInteger(nanos, out);
      return;
  }
  AppendInteger(nanos, out);
}

std::string FormatDatetimeJson(int64_t nanos, DatetimeOutputFormat format) {
  std::string out;
  AppendDatetimeJson(nanos, format, out);
  return out;
}

}  // namespace shale::index::internal

// ---- RFC 2822 and strptime patterns ----

namespace shale::index::internal {

namespace {

constexpr std::string_view kMonthNames[] = {"january", "february", "march",     "april",
                                            "may",     "june",     "july",      "august",
                                            "september", "october", "november", "december"};
constexpr std::string_view kWeekdayNames[] = {"monday", "tuesday",  "wednesday", "thursday",
                                              "friday", "saturday", "sunday"};

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void SkipSpaces(std::string_view text, size_t& pos) {
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
}

// Reads 1..max_digits digits.
bool ReadNumber(std::string_view text, size_t& pos, size_t max_digits, int64_t& value) {
  const size_t start = pos;
  value = 0;
  while (pos < text.size() && pos - start < max_digits && text[pos] >= '0' && text[pos] <= '9') {
    value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  return pos > start;
}

// Matches a full or a 3-letter abbreviated name of `names`, case-insensitively; longest first.
template <size_t N>
bool ReadName(std::string_view text, size_t& pos, const std::string_view (&names)[N],
              int& index) {
  for (bool full : {true, false}) {
    for (size_t i = 0; i < N; ++i) {
      const std::string_view name = full ? names[i] : names[i].substr(0, 3);
      if (pos + name.size() > text.size()) continue;
      bool match = true;
      for (size_t k = 0; k < name.size() && match; ++k) {
        match = AsciiLower(text[pos + k]) == name[k];
      }
      if (match) {
        pos += name.size();
        index = static_cast<int>(i);
        return true;
      }
    }
  }
  return false;
}

// "+hhmm", "-hh:mm", "+hh" or "Z"; sets the offset in seconds east of UTC.
bool ReadNumericOffset(std::string_view text, size_t& pos, int64_t& offset_seconds) {
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
    offset_seconds = 0;
    return true;
  }
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
  const int64_t sign = text[pos] == '-' ? -1 : 1;
  ++pos;
  int64_t hours = 0;
  int64_t minutes = 0;
  if (!ReadDigits(text, pos, 2, hours) || hours > 23) return false;
  if (pos < text.size() && text[pos] == ':') ++pos;
  if (pos + 2 <= text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (!ReadDigits(text, pos, 2, minutes) || minutes > 59) return false;
  }
  offset_seconds = sign * (hours * 3600 + minutes * 60);
  return true;
}

// The fields a pattern sets; unset ones default to 1970-01-01T00:00:00Z.
struct Parts {
  int64_t year = 1970;
  int64_t month = 1;
  int64_t day = 1;
  int64_t day_of_year = 0;  // 1..366 when %j was read
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t nanos = 0;
  int64_t offset_seconds = 0;
  int pm = -1;  // %p: 0 AM, 1 PM
  std::optional<int64_t> unix_seconds;  // %s
};

std::optional<Timestamp> PartsToTimestamp(const Parts& parts) {
  if (parts.unix_seconds.has_value()) {
    if (*parts.unix_seconds > kMaxUnixSeconds || *parts.unix_seconds < -kMaxUnixSeconds) {
      return std::nullopt;
    }
    return Timestamp{*parts.unix_seconds, parts.nanos};
  }
  int64_t hour = parts.hour;
  if (parts.pm >= 0) {
    if (hour < 1 || hour > 12) return std::nullopt;
    hour = hour % 12 + (parts.pm == 1 ? 12 : 0);
  }
  if (parts.year < 0 || parts.year > 9999 || parts.month < 1 || parts.month > 12 ||
      parts.day < 1 || parts.day > DaysInMonth(parts.year, static_cast<unsigned>(parts.month)) ||
      hour > 23 || parts.minute > 59 || parts.second > 60) {
    return std::nullopt;
  }
  int64_t days = 0;
  if (parts.day_of_year > 0) {
    if (parts.day_of_year > (IsLeap(parts.year) ? 366 : 365)) return std::nullopt;
    days = DaysFromCivil(parts.year, 1, 1) + parts.day_of_year - 1;
  } else {
    days = DaysFromCivil(parts.year, static_cast<unsigned>(parts.month),
                         static_cast<unsigned>(parts.day));
  }
  const int64_t seconds =
      days * 86400 + hour * 3600 + parts.minute * 60 + parts.second - parts.offset_seconds;
  return Timestamp{seconds, parts.nanos};
}

// Applies `pattern` to `text` from `pos`. Returns false on a mismatch. With `text` empty and
// `validate_only`, checks the pattern's directives instead (error in `error`).
bool ApplyPattern(std::string_view pattern, std::string_view text, size_t& pos, Parts& parts,
                  std::string* error) {
  const bool validate_only = error != nullptr;
  for (size_t p = 0; p < pattern.size(); ++p) {
    const char c = pattern[p];
    if (c != '%') {
      if (validate_only) continue;
      if (IsSpace(c)) {
        SkipSpaces(text, pos);
      } else if (pos < text.size() && text[pos] == c) {
        ++pos;
      } else {
        return false;
      }
      continue;
    }
    if (++p >= pattern.size()) {
      if (validate_only) *error = "ends with a lone `%`";
      return false;
    }
    // "%.f": an optional '.' and fraction digits (absent: zero).
    const bool dotted = pattern[p] == '.';
    if (dotted && ++p >= pattern.size()) {
      if (validate_only) *error = "ends inside a directive";
      return false;
    }
    // Optional width for %f: %3f, %6f, %9f.
    size_t width = 0;
    while (p < pattern.size() && pattern[p] >= '0' && pattern[p] <= '9') {
      width = width * 10 + static_cast<size_t>(pattern[p] - '0');
      ++p;
    }
    if (p >= pattern.size()) {
      if (validate_only) *error = "ends inside a directive";
      return false;
    }
    const char directive = pattern[p];
    if ((width != 0 || dotted) && directive != 'f') {
      if (validate_only) {
        *error = fmt::format("a width or '.' is only allowed on %f, not %{}", directive);
      }
      return false;
    }
    if (width > 9) {
      if (validate_only) *error = "%f takes at most 9 digits";
      return false;
    }
    // Composite directives expand to their definitions.
    std::string_view expansion;
    switch (directive) {
      case 'T':
        expansion = "%H:%M:%S";
        break;
      case 'R':
        expansion = "%H:%M";
        break;
      case 'D':
        expansion = "%m/%d/%y";
        break;
      case 'F':
        expansion = "%Y-%m-%d";
        break;
      default:
        break;
    }
    if (!expansion.empty()) {
      if (!ApplyPattern(expansion, text, pos, parts, error)) return false;
      continue;
    }
    static constexpr std::string_view kKnown = "YyCmdejHIMSfzZbBhaApsn%t";
    if (kKnown.find(directive) == std::string_view::npos) {
      if (validate_only) *error = fmt::format("unsupported directive %{}", directive);
      return false;
    }
    if (validate_only) continue;
    int64_t value = 0;
    int name_index = 0;
    switch (directive) {
      case 'Y': {
        const bool negative = pos < text.size() && text[pos] == '-';
        if (negative || (pos < text.size() && text[pos] == '+')) ++pos;
        if (!ReadNumber(text, pos, 4, value)) return false;
        parts.year = negative ? -value : value;
        break;
      }
      case 'y':
        if (!ReadNumber(text, pos, 2, value)) return false;
        parts.year = value < 69 ? 2000 + value : 1900 + value;  // POSIX pivot
        break;
      case 'C':
        if (!ReadNumber(text, pos, 2, value)) return false;
        parts.year = value * 100 + parts.year % 100;
        break;
      case 'm':
        if (!ReadNumber(text, pos, 2, parts.month)) return false;
        break;
      case 'e':
        SkipSpaces(text, pos);
        [[fallthrough]];
      case 'd':
        if (!ReadNumber(text, pos, 2, parts.day)) return false;
        break;
      case 'j':
        if (!ReadNumber(text, pos, 3, parts.day_of_year) || parts.day_of_year < 1) return false;
        break;
      case 'H':
      case 'I':
        if (!ReadNumber(text, pos, 2, parts.hour)) return false;
        break;
      case 'M':
        if (!ReadNumber(text, pos, 2, parts.minute)) return false;
        break;
      case 'S':
        if (!ReadNumber(text, pos, 2, parts.second)) return false;
        break;
      case 'f': {
        if (dotted) {
          if (pos >= text.size() || text[pos] != '.') break;  // no fraction
          ++pos;
        }
        const size_t start = pos;
        if (!ReadNumber(text, pos, width == 0 ? 9 : width, value)) return false;
        const size_t digits = pos - start;
        if (width != 0 && digits != width) return false;
        for (size_t d = digits; d < 9; ++d) value *= 10;
        parts.nanos = value;
        break;
      }
      case 'z':
        if (!ReadNumericOffset(text, pos, parts.offset_seconds)) return false;
        break;
      case 'Z': {
        // Only zone names with a fixed offset of zero; others are ambiguous.
        for (std::string_view name : {"UTC", "GMT", "UT", "Z"}) {
          if (text.substr(pos, name.size()) == name) {
            pos += name.size();
            parts.offset_seconds = 0;
            value = 1;
            break;
          }
        }
        if (value != 1) return false;
        break;
      }
      case 'b':
      case 'B':
      case 'h':
        if (!ReadName(text, pos, kMonthNames, name_index)) return false;
        parts.month = name_index + 1;
        break;
      case 'a':
      case 'A':
        if (!ReadName(text, pos, kWeekdayNames, name_index)) return false;
        break;
      case 'p':
        if (pos + 2 > text.size()) return false;
        if (AsciiLower(text[pos + 1]) != 'm') return false;
        if (AsciiLower(text[pos]) == 'a') {
          parts.pm = 0;
        } else if (AsciiLower(text[pos]) == 'p') {
          parts.pm = 1;
        } else {
          return false;
        }
        pos += 2;
        break;
      case 's': {
        const bool negative = pos < text.size() && text[pos] == '-';
        if (negative) ++pos;
        if (!ReadNumber(text, pos, 12, value)) return false;
        parts.unix_seconds = negative ? -value : value;
        break;
      }
      case 'n':
      case 't':
        SkipSpaces(text, pos);
        break;
      case '%':
        if (pos >= text.size() || text[pos] != '%') return false;
        ++pos;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Timestamp> ParseStrptime(std::string_view text, std::string_view pattern) {
  Parts parts;
  size_t pos = 0;
  if (!ApplyPattern(pattern, text, pos, parts, nullptr)) return std::nullopt;
  SkipSpaces(text, pos);
  if (pos != text.size()) return std::nullopt;
  return PartsToTimestamp(parts);
}

std::optional<Timestamp> ParseRfc2822(std::string_view text) {
  // [day-of-week ","] day month year hour ":" minute [":" second] zone
  Parts parts;
  size_t pos = 0;
  int name_index = 0;
  SkipSpaces(text, pos);
  if (ReadName(text, pos, kWeekdayNames, name_index)) {
    SkipSpaces(text, pos);
    if (pos >= text.size() || text[pos] != ',') return std::nullopt;
    ++pos;
    SkipSpaces(text, pos);
  }
  if (!ReadNumber(text, pos, 2, parts.day)) return std::nullopt;
  SkipSpaces(text, pos);
  if (!ReadName(text, pos, kMonthNames, name_index)) return std::nullopt;
  parts.month = name_index + 1;
  SkipSpaces(text, pos);
  const size_t year_start = pos;
  if (!ReadNumber(text, pos, 4, parts.year)) return std::nullopt;
  if (pos - year_start == 2) parts.year += parts.year < 50 ? 2000 : 1900;  // obsolete 2-digit
  else if (pos - year_start == 3) parts.year += 1900;
  SkipSpaces(text, pos);
  if (!ReadDigits(text, pos, 2, parts.hour) || pos >= text.size() || text[pos] != ':') {
    return std::nullopt;
  }
  ++pos;
  if (!ReadDigits(text, pos, 2, parts.minute)) return std::nullopt;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!ReadDigits(text, pos, 2, parts.second)) return std::nullopt;
  }
  SkipSpaces(text, pos);
  if (!ReadNumericOffset(text, pos, parts.offset_seconds)) {
    // Obsolete zone names (RFC 2822 section 4.3).
    static constexpr std::pair<std::string_view, int64_t> kZones[] = {
        {"UT", 0},       {"GMT", 0},      {"EST", -5 * 3600}, {"EDT", -4 * 3600},
        {"CST", -6 * 3600}, {"CDT", -5 * 3600}, {"MST", -7 * 3600}, {"MDT", -6 * 3600},
        {"PST", -8 * 3600}, {"PDT", -7 * 3600}};
    bool found = false;
    for (const auto& [name, offset] : kZones) {
      if (text.substr(pos, name.size()) == name &&
          (pos + name.size() == text.size() || IsSpace(text[pos + name.size()]))) {
        pos += name.size();
        parts.offset_seconds = offset;
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  SkipSpaces(text, pos);
  if (pos != text.size()) return std::nullopt;
  return PartsToTimestamp(parts);
}

}  // namespace shale::index::internal

namespace shale::index {

absl::Status ValidateStrptimePattern(std::string_view pattern) {
  if (pattern.find('%') == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("strptime pattern `{}` has no % directive", pattern));
  }
  internal::Parts parts;
  size_t pos = 0;
  std::string error;
  if (!internal::ApplyPattern(pattern, std::string_view(), pos, parts, &error) && !error.empty()) {
    return absl::InvalidArgumentError(fmt::format("strptime pattern `{}`: {}", pattern, error));
  }
  return absl::OkStatus();
}

}  // namespace shale::index
