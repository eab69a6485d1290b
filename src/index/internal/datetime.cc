#include "index/internal/datetime.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "fmt/format.h"

namespace shale::index::internal {

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMaxUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
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

std::optional<int64_t> ParseRfc3339Micros(std::string_view text, bool lenient_iso8601) {
  size_t pos = 0;
  std::optional<int64_t> days = ParseDate(text, pos, '-');
  if (!days.has_value()) return std::nullopt;
  int64_t seconds = *days * 86400;
  if (pos == text.size()) {
    if (!lenient_iso8601) return std::nullopt;
    return seconds * kMicrosPerSecond;
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
  int64_t micros = 0;
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 6; ++i) micros *= 10;
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
  return seconds * kMicrosPerSecond + micros;
}

std::optional<int64_t> UnixTimestampToMicros(int64_t value) {
  // Magnitudes are compared as unsigned to handle INT64_MIN.
  const uint64_t magnitude =
      value < 0 ? static_cast<uint64_t>(-(value + 1)) + 1 : static_cast<uint64_t>(value);
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds)) return value * kMicrosPerSecond;
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds) * 1000 + 999) return value * 1000;
  if (magnitude <= static_cast<uint64_t>(kMaxUnixSeconds) * 1'000'000 + 999'999) return value;
  return FloorDiv(value, 1000);
}

std::optional<int64_t> UnixSecondsF64ToMicros(double seconds) {
  if (!std::isfinite(seconds)) return std::nullopt;
  if (std::fabs(seconds) > static_cast<double>(kMaxUnixSeconds)) {
    // Large floats are integral timestamps in a finer unit.
    if (std::fabs(seconds) > 9.2e18) return std::nullopt;
    return UnixTimestampToMicros(static_cast<int64_t>(seconds));
  }
  return static_cast<int64_t>(std::llround(seconds * 1e6));
}

std::optional<int64_t> ParseQueryDatetimeMicros(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool all_digits = true;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] >= '0' && text[i] <= '9') && !(i == 0 && text[i] == '-')) all_digits = false;
  }
  if (all_digits) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return UnixTimestampToMicros(value);
  }
  if (text.size() == 10 && text[4] == '/') {
    size_t pos = 0;
    std::optional<int64_t> days = ParseDate(text, pos, '/');
    if (!days.has_value() || pos != text.size()) return std::nullopt;
    return *days * 86400 * kMicrosPerSecond;
  }
  if (std::optional<int64_t> micros = ParseRfc3339Micros(text, false)) return micros;
  return ParseRfc3339Micros(text, true);
}

int64_t TruncateMicros(int64_t micros, DatetimePrecision precision) {
  switch (precision) {
    case DatetimePrecision::kSeconds:
      return FloorDiv(micros, kMicrosPerSecond) * kMicrosPerSecond;
    case DatetimePrecision::kMilliseconds:
      return FloorDiv(micros, 1000) * 1000;
    case DatetimePrecision::kMicroseconds:
      return micros;
  }
  return micros;
}

std::string FormatRfc3339(int64_t micros) {
  const int64_t seconds = FloorDiv(micros, kMicrosPerSecond);
  const int64_t fraction = micros - seconds * kMicrosPerSecond;
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t second_of_day = seconds - days * 86400;
  const Civil civil = CivilFromDays(days);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", civil.year, civil.month, civil.day,
                  second_of_day / 3600, (second_of_day / 60) % 60, second_of_day % 60);
  if (fraction != 0) {
    std::string digits = fmt::format("{:06}", fraction);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += ".";
    out += digits;
  }
  out += "Z";
  return out;
}

std::string FormatDatetimeJson(int64_t micros, DatetimeOutputFormat format) {
  switch (format) {
    case DatetimeOutputFormat::kRfc3339:
      return fmt::format("\"{}\"", FormatRfc3339(micros));
    case DatetimeOutputFormat::kUnixTimestampSecs:
      return fmt::format("{}", FloorDiv(micros, kMicrosPerSecond));
    case DatetimeOutputFormat::kUnixTimestampMillis:
      return fmt::format("{}", FloorDiv(micros, 1000));
    case DatetimeOutputFormat::kUnixTimestampMicros:
      return fmt::format("{}", micros);
    case DatetimeOutputFormat::kUnixTimestampNanos: {
      if (micros > std::numeric_limits<int64_t>::max() / 1000 ||
          micros < std::numeric_limits<int64_t>::min() / 1000) {
        return fmt::format("{}", micros);
      }
      return fmt::format("{}", micros * 1000);
    }
  }
  return fmt::format("{}", micros);
}

}  // namespace shale::index::internal
