// Logging: spdlog underneath. Messages are a constant text plus key=value fields, e.g.
//   SHALE_LOG_INFO("split published index_id={} split_id={} num_docs={}", ...);
#pragma once

#include <string_view>

#include "spdlog/spdlog.h"

namespace shale {

// Sets the global level from a name (trace, debug, info, warn, error, off). Unknown names keep
// the current level and return false.
bool SetLogLevel(std::string_view level_name);

}  // namespace shale

#define SHALE_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SHALE_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SHALE_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SHALE_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
