#include "common/logging.h"

#include <string>

namespace shale {

bool SetLogLevel(std::string_view level_name) {
  const spdlog::level::level_enum level = spdlog::level::from_str(std::string(level_name));
  if (level == spdlog::level::off && level_name != "off") return false;
  spdlog::set_level(level);
  return true;
}

}  // namespace shale
