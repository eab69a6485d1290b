// Helpers shared by the config parsers: YAML → JSON conversion and typed, path-aware readers over
// nlohmann::json objects. Every reader returns InvalidArgument naming the full key path
// (e.g. `searcher.fast_field_cache_capacity: invalid byte size "12QB"`). A missing key leaves the
// output untouched and returns OK. None of these functions throw.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "nlohmann/json.hpp"

namespace shale::config::internal {

// Parses YAML text into JSON. Plain scalars are typed with YAML 1.2 core-schema rules (null,
// booleans, integers, floats, else strings); quoted scalars are always strings. An empty document
// gives null. InvalidArgument with the line and column on a YAML syntax error.
absl::StatusOr<nlohmann::json> YamlToJson(std::string_view yaml_text);

// Parses JSON text. InvalidArgument with the byte offset on a syntax error.
absl::StatusOr<nlohmann::json> ParseJsonText(std::string_view json_text);

// "a.b" + "c" → "a.b.c"; "" + "c" → "c".
std::string JoinPath(const std::string& path, std::string_view key);

// InvalidArgument "`path`: message".
absl::Status KeyError(const std::string& path, std::string_view message);

// `value` must be an object (or null, treated as empty) whose keys are all in `allowed`.
absl::Status CheckObject(const nlohmann::json& value, const std::string& path,
                         std::initializer_list<std::string_view> allowed);

// Typed readers of `object[key]`; `path` is the path of `object`.
absl::Status ReadString(const nlohmann::json& object, std::string_view key, const std::string& path,
                        std::string& out);
absl::Status ReadOptionalString(const nlohmann::json& object, std::string_view key,
                                const std::string& path, std::optional<std::string>& out);
absl::Status ReadBool(const nlohmann::json& object, std::string_view key, const std::string& path,
                      bool& out);
// Accepts JSON integers and strings of decimal digits, within [min, max].
absl::Status ReadInt(const nlohmann::json& object, std::string_view key, const std::string& path,
                     int64_t min, int64_t max, int64_t& out);
absl::Status ReadUint(const nlohmann::json& object, std::string_view key, const std::string& path,
                      uint64_t max, uint64_t& out);
// Accepts JSON numbers and decimal strings, finite and within [min, max].
absl::Status ReadDouble(const nlohmann::json& object, std::string_view key, const std::string& path,
                        double min, double max, double& out);
// Accepts a byte size string ("500M", "2GiB") or a non-negative integer.
absl::Status ReadByteSize(const nlohmann::json& object, std::string_view key,
                          const std::string& path, uint64_t& out);
// Accepts a list of strings, or a comma-separated string when `allow_comma_string`.
absl::Status ReadStringList(const nlohmann::json& object, std::string_view key,
                            const std::string& path, bool allow_comma_string,
                            std::vector<std::string>& out);

// Parses durations such as "48h", "2 days", "1h 30m", "90 days", "30s" into seconds.
absl::StatusOr<int64_t> ParseDurationSecs(std::string_view text);
// The same, in milliseconds, also accepting `ms` ("250ms", "1s 500ms").
absl::StatusOr<int64_t> ParseDurationMillis(std::string_view text);

// Splits "a, b,c" into {"a", "b", "c"}, dropping empty items.
std::vector<std::string> SplitCommaList(std::string_view text);

}  // namespace shale::config::internal
