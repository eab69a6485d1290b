// JSON helpers shared by every module that renders user-provided text.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace shale {

// Serializes `value` compactly. Invalid UTF-8 (e.g. from a rejected ingest line or a query
// string) is replaced by U+FFFD instead of throwing, as nlohmann's default dump() would.
inline std::string DumpJson(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace shale
