#include "common/uri.h"

#include <filesystem>

#include "fmt/format.h"

namespace shale {
namespace {

std::string_view SchemeOf(Uri::Protocol protocol) {
  switch (protocol) {
    case Uri::Protocol::kFile:
      return "file://";
    case Uri::Protocol::kS3:
      return "s3://";
    case Uri::Protocol::kRam:
      return "ram://";
    case Uri::Protocol::kPostgres:
      return "postgresql://";
  }
  return "";
}

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Uri::Uri(Protocol protocol, std::string path, std::string fragment)
    : protocol_(protocol),
      path_(std::move(path)),
      uri_(fmt::format("{}{}", SchemeOf(protocol), path_)),
      fragment_(std::move(fragment)) {}

absl::StatusOr<Uri> Uri::Parse(std::string_view text) {
  std::string fragment;
  if (const size_t hash = text.find('#'); hash != std::string_view::npos) {
    fragment = std::string(text.substr(hash + 1));
    text = text.substr(0, hash);
  }
  if (text.empty()) return absl::InvalidArgumentError("uri is empty");
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    // A plain path: make it absolute.
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(std::string(text), error);
    if (error) return absl::InvalidArgumentError(fmt::format("invalid path `{}`", text));
    return Uri(Protocol::kFile, StripTrailingSlashes(absolute.lexically_normal().string()),
               std::move(fragment));
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  std::string rest(text.substr(scheme_end + 3));
  if (scheme == "file") {
    if (rest.empty() || rest[0] != '/') {
      return absl::InvalidArgumentError(
          fmt::format("file uri `{}` must hold an absolute path (file:///path)", text));
    }
    return Uri(Protocol::kFile,
               StripTrailingSlashes(std::filesystem::path(rest).lexically_normal().string()),
               std::move(fragment));
  }
  if (scheme == "s3") {
    rest = StripTrailingSlashes(std::move(rest));
    if (rest.empty() || rest[0] == '/') {
      return absl::InvalidArgumentError(fmt::format("s3 uri `{}` has no bucket", text));
    }
    return Uri(Protocol::kS3, std::move(rest), std::move(fragment));
  }
  if (scheme == "ram") {
    if (rest.empty() || rest[0] != '/') rest.insert(rest.begin(), '/');
    return Uri(Protocol::kRam, StripTrailingSlashes(std::move(rest)), std::move(fragment));
  }
  if (scheme == "postgres" || scheme == "postgresql") {
    return Uri(Protocol::kPostgres, std::move(rest), std::move(fragment));
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown uri scheme `{}` in `{}` (expected a path, file://, s3://, "
                  "ram:// or postgresql://)",
                  scheme, text));
}

Uri Uri::Join(std::string_view child) const {
  while (!child.empty() && child.front() == '/') child.remove_prefix(1);
  std::string joined = path_;
  if (!joined.empty() && joined.back() != '/') joined.push_back('/');
  joined.append(child);
  return Uri(protocol_, StripTrailingSlashes(std::move(joined)), fragment_);
}

}  // namespace shale
