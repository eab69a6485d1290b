#include "config/internal/json_reader.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "fmt/format.h"

#include "common/status_macros.h"
#include "config/node_config.h"
#include "yaml-cpp/yaml.h"

namespace shale::config::internal {
namespace {

using nlohmann::json;

bool IsNullScalar(const std::string& text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<bool> AsBoolScalar(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  return std::nullopt;
}

bool LooksLikeInteger(const std::string& text) {
  size_t start = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (start == text.size()) {
    return false;
  }
  for (size_t i = start; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

bool LooksLikeFloat(const std::string& text) {
  // YAML 1.2 core schema floats: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    ++i;
  }
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    ++i, ++digits;
  }
  bool has_dot = false;
  if (i < text.size() && text[i] == '.') {
    has_dot = true;
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i, ++digits;
    }
  }
  if (digits == 0) {
    return false;
  }
  bool has_exponent = false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    has_exponent = true;
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      ++i;
    }
    size_t exponent_digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      ++exponent_digits;
    }
    if (exponent_digits == 0) {
      return false;
    }
  }
  return i == text.size() && (has_dot || has_exponent);
}

json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  // yaml-cpp tags quoted scalars "!" and plain ones "?".
  if (node.Tag() == "!") {
    return json(text);
  }
  if (IsNullScalar(text)) {
    return json(nullptr);
  }
  if (auto as_bool = AsBoolScalar(text)) {
    return json(*as_bool);
  }
  if (LooksLikeInteger(text)) {
    if (text[0] == '-') {
      int64_t value = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && ptr == text.data() + text.size()) {
        return json(value);
      }
    } else {
      size_t start = text[0] == '+' ? 1 : 0;
      uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + text.size(), value);
      if (ec == std::errc() && ptr == text.data() + text.size()) {
        if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return json(static_cast<int64_t>(value));
        }
        return json(value);
      }
    }
    return json(text);
  }
  if (LooksLikeFloat(text)) {
    try {
      return json(std::stod(text));
    } catch (const std::exception&) {
      return json(text);
    }
  }
  return json(text);
}

json YamlNodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const YAML::Node& item : node) {
        array.push_back(YamlNodeToJson(item));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        object[entry.first.as<std::string>()] = YamlNodeToJson(entry.second);
      }
      return object;
    }
  }
  return json(nullptr);
}

std::string Describe(const json& value) {
  if (value.is_string()) {
    return fmt::format("\"{}\"", value.get<std::string>());
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json* Find(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

}  // namespace

absl::StatusOr<json> YamlToJson(std::string_view yaml_text) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    return YamlNodeToJson(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("invalid yaml at line {}, column {}: {}",
                                                  e.mark.line + 1, e.mark.column + 1, e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("invalid yaml: {}", e.what()));
  }
}

absl::StatusOr<json> ParseJsonText(std::string_view json_text) {
  try {
    return json::parse(json_text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("invalid json at byte {}: {}", e.byte, e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("invalid json: {}", e.what()));
  }
}

std::string JoinPath(const std::string& path, std::string_view key) {
  if (path.empty()) {
    return std::string(key);
  }
  return fmt::format("{}.{}", path, key);
}

absl::Status KeyError(const std::string& path, std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, message));
}

absl::Status CheckObject(const json& value, const std::string& path,
                         std::initializer_list<std::string_view> allowed) {
  if (value.is_null()) {
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return KeyError(path.empty() ? std::string("config") : path,
                    fmt::format("expected an object, got {}", Describe(value)));
  }
  for (const auto& [key, unused] : value.items()) {
    bool known = false;
    for (std::string_view candidate : allowed) {
      if (candidate == key) {
        known = true;
        break;
      }
    }
    if (!known) {
      return KeyError(JoinPath(path, key), "unknown key");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadString(const json& object, std::string_view key, const std::string& path,
                        std::string& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  if (value->is_string()) {
    out = value->get<std::string>();
  } else if (value->is_number()) {
    out = value->dump();  // e.g. `version: 0.8` or a numeric node id
  } else {
    return KeyError(JoinPath(path, key),
                    fmt::format("expected a string, got {}", Describe(*value)));
  }
  return absl::OkStatus();
}

absl::Status ReadOptionalString(const json& object, std::string_view key, const std::string& path,
                                std::optional<std::string>& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  std::string text;
  absl::Status status = ReadString(object, key, path, text);
  if (!status.ok()) {
    return status;
  }
  out = std::move(text);
  return absl::OkStatus();
}

absl::Status ReadBool(const json& object, std::string_view key, const std::string& path,
                      bool& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  if (value->is_boolean()) {
    out = value->get<bool>();
    return absl::OkStatus();
  }
  if (value->is_string()) {
    if (auto as_bool = AsBoolScalar(value->get<std::string>())) {
      out = *as_bool;
      return absl::OkStatus();
    }
  }
  return KeyError(JoinPath(path, key), fmt::format("expected a boolean, got {}", Describe(*value)));
}

absl::Status ReadInt(const json& object, std::string_view key, const std::string& path, int64_t min,
                     int64_t max, int64_t& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  std::optional<int64_t> parsed;
  if (value->is_number_unsigned()) {
    uint64_t unsigned_value = value->get<uint64_t>();
    if (unsigned_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      parsed = static_cast<int64_t>(unsigned_value);
    }
  } else if (value->is_number_integer()) {
    parsed = value->get<int64_t>();
  } else if (value->is_string()) {
    const std::string text = value->get<std::string>();
    int64_t number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (!text.empty() && ec == std::errc() && ptr == text.data() + text.size()) {
      parsed = number;
    }
  }
  if (!parsed.has_value()) {
    return KeyError(JoinPath(path, key),
                    fmt::format("expected an integer, got {}", Describe(*value)));
  }
  if (*parsed < min || *parsed > max) {
    return KeyError(JoinPath(path, key),
                    fmt::format("value {} is out of range [{}, {}]", *parsed, min, max));
  }
  out = *parsed;
  return absl::OkStatus();
}

absl::Status ReadUint(const json& object, std::string_view key, const std::string& path,
                      uint64_t max, uint64_t& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  std::optional<uint64_t> parsed;
  if (value->is_number_unsigned()) {
    parsed = value->get<uint64_t>();
  } else if (value->is_number_integer()) {
    int64_t signed_value = value->get<int64_t>();
    if (signed_value < 0) {
      return KeyError(JoinPath(path, key),
                      fmt::format("expected a non-negative integer, got {}", signed_value));
    }
    parsed = static_cast<uint64_t>(signed_value);
  } else if (value->is_string()) {
    const std::string text = value->get<std::string>();
    uint64_t number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (!text.empty() && ec == std::errc() && ptr == text.data() + text.size()) {
      parsed = number;
    }
  }
  if (!parsed.has_value()) {
    return KeyError(JoinPath(path, key),
                    fmt::format("expected a non-negative integer, got {}", Describe(*value)));
  }
  if (*parsed > max) {
    return KeyError(JoinPath(path, key),
                    fmt::format("value {} is out of range [0, {}]", *parsed, max));
  }
  out = *parsed;
  return absl::OkStatus();
}

absl::Status ReadDouble(const json& object, std::string_view key, const std::string& path,
                        double min, double max, double& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  std::optional<double> parsed;
  if (value->is_number()) {
    parsed = value->get<double>();
  } else if (value->is_string()) {
    const std::string text = value->get<std::string>();
    double number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (!text.empty() && ec == std::errc() && ptr == text.data() + text.size()) {
      parsed = number;
    }
  }
  if (!parsed.has_value() || !std::isfinite(*parsed)) {
    return KeyError(JoinPath(path, key),
                    fmt::format("expected a number, got {}", Describe(*value)));
  }
  if (*parsed < min || *parsed > max) {
    return KeyError(JoinPath(path, key),
                    fmt::format("value {} is out of range [{}, {}]", *parsed, min, max));
  }
  out = *parsed;
  return absl::OkStatus();
}

absl::Status ReadByteSize(const json& object, std::string_view key, const std::string& path,
                          uint64_t& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  if (value->is_number_unsigned() || (value->is_number_integer() && value->get<int64_t>() >= 0)) {
    out = value->get<uint64_t>();
    return absl::OkStatus();
  }
  if (value->is_string()) {
    absl::StatusOr<uint64_t> bytes = ParseByteSize(value->get<std::string>());
    if (bytes.ok()) {
      out = *bytes;
      return absl::OkStatus();
    }
  }
  return KeyError(JoinPath(path, key), fmt::format("invalid byte size {}", Describe(*value)));
}

absl::Status ReadStringList(const json& object, std::string_view key, const std::string& path,
                            bool allow_comma_string, std::vector<std::string>& out) {
  const json* value = Find(object, key);
  if (value == nullptr) {
    return absl::OkStatus();
  }
  if (value->is_string() && allow_comma_string) {
    out = SplitCommaList(value->get<std::string>());
    return absl::OkStatus();
  }
  if (!value->is_array()) {
    return KeyError(JoinPath(path, key),
                    fmt::format("expected a list of strings, got {}", Describe(*value)));
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string()) {
      return KeyError(fmt::format("{}[{}]", JoinPath(path, key), i),
                      fmt::format("expected a string, got {}", Describe(item)));
    }
    items.push_back(item.get<std::string>());
  }
  out = std::move(items);
  return absl::OkStatus();
}

namespace {

// Durations as a sum of `<amount> <unit>` components, in milliseconds; `ms` units are accepted
// only when `allow_millis`.
absl::StatusOr<int64_t> ParseDurationMillisImpl(std::string_view text, bool allow_millis) {
  auto invalid = [&]() {
    return absl::InvalidArgumentError(fmt::format("invalid duration \"{}\"", text));
  };
  size_t i = 0;
  int64_t total_millis = 0;
  bool any_component = false;
  auto skip_spaces = [&]() {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
  };
  skip_spaces();
  while (i < text.size()) {
    size_t digits_start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    if (digits_start == i) {
      return invalid();
    }
    int64_t amount = 0;
    auto [ptr, ec] = std::from_chars(text.data() + digits_start, text.data() + i, amount);
    if (ec != std::errc()) {
      return invalid();
    }
    skip_spaces();
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string unit(text.substr(unit_start, i - unit_start));
    for (char& c : unit) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    int64_t multiplier = 0;
    if (allow_millis &&
        (unit == "ms" || unit == "millis" || unit == "millisecond" || unit == "milliseconds")) {
      multiplier = 1;
    } else if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" ||
               unit == "seconds") {
      multiplier = 1000;
    } else if (unit == "m" || unit == "min" || unit == "mins" || unit == "minute" ||
               unit == "minutes") {
      multiplier = 60'000;
    } else if (unit == "h" || unit == "hr" || unit == "hrs" || unit == "hour" || unit == "hours") {
      multiplier = 3'600'000;
    } else if (unit == "d" || unit == "day" || unit == "days") {
      multiplier = 86'400'000;
    } else if (unit == "w" || unit == "week" || unit == "weeks") {
      multiplier = int64_t{7} * 86'400'000;
    } else if (unit == "month" || unit == "months") {
      multiplier = int64_t{2'630'016} * 1000;  // 30.44 days, like humantime
    } else if (unit == "y" || unit == "year" || unit == "years") {
      multiplier = int64_t{31'557'600} * 1000;  // 365.25 days
    } else {
      return invalid();
    }
    if (amount > std::numeric_limits<int64_t>::max() / multiplier) {
      return invalid();
    }
    if (total_millis > std::numeric_limits<int64_t>::max() - amount * multiplier) {
      return invalid();
    }
    total_millis += amount * multiplier;
    any_component = true;
    skip_spaces();
  }
  if (!any_component) {
    return invalid();
  }
  return total_millis;
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationSecs(std::string_view text) {
  ASSIGN_OR_RETURN(int64_t millis, ParseDurationMillisImpl(text, /*allow_millis=*/false));
  return millis / 1000;
}

absl::StatusOr<int64_t> ParseDurationMillis(std::string_view text) {
  return ParseDurationMillisImpl(text, /*allow_millis=*/true);
}

std::vector<std::string> SplitCommaList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      items.emplace_back(item);
    }
    start = end + 1;
  }
  return items;
}

}  // namespace shale::config::internal
