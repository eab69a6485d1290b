#include <string>
#include <string_view>

#include "fmt/format.h"

#include "storage/internal/path.h"
#include "storage/storage.h"

namespace shale::storage {

absl::Status ValidateStoragePath(std::string_view path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("storage path is empty");
  }
  if (path.front() == '/') {
    return absl::InvalidArgumentError(
        fmt::format("storage path `{}` is absolute (paths are relative to the root)", path));
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    const std::string_view component = path.substr(start, end - start);
    if (component.empty() || component == "." || component == "..") {
      return absl::InvalidArgumentError(fmt::format(
          "storage path `{}` has an invalid component `{}` (empty, `.` or `..`)", path, component));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

namespace internal {

absl::Status ValidateListPrefix(std::string_view prefix) {
  if (!prefix.empty() && prefix.front() == '/') {
    return absl::InvalidArgumentError(
        fmt::format("storage prefix `{}` is absolute (paths are relative to the root)", prefix));
  }
  size_t start = 0;
  while (start < prefix.size()) {
    size_t end = prefix.find('/', start);
    if (end == std::string_view::npos) {
      end = prefix.size();
    }
    if (prefix.substr(start, end - start) == "..") {
      return absl::InvalidArgumentError(
          fmt::format("storage prefix `{}` has a `..` component", prefix));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace shale::storage
