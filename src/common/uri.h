// Uri: a parsed storage or metastore location. Accepted forms: plain paths (relative paths are
// made absolute against the current directory), file:///abs/path, s3://bucket/prefix,
// ram:///path (tests), postgres://... and postgresql://... . A trailing `#key=value&...`
// fragment (e.g. `#polling_interval=30s`) is split off into `fragment()`.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shale {

class Uri {
 public:
  enum class Protocol { kFile, kS3, kRam, kPostgres };

  // Parses `text`; InvalidArgument names the uri when the scheme is unknown or the path empty.
  static absl::StatusOr<Uri> Parse(std::string_view text);

  Protocol protocol() const { return protocol_; }
  // Full normalised uri without the fragment, e.g. "file:///data/indexes".
  const std::string& str() const { return uri_; }
  // Part after "scheme://": the absolute path for file and ram, "bucket/prefix" for s3.
  const std::string& path() const { return path_; }
  const std::string& fragment() const { return fragment_; }

  // Returns this uri with `/child` appended (no duplicate slashes).
  Uri Join(std::string_view child) const;

  bool operator==(const Uri& other) const { return uri_ == other.uri_; }

 private:
  Uri(Protocol protocol, std::string path, std::string fragment);

  Protocol protocol_;
  std::string path_;
  std::string uri_;
  std::string fragment_;
};

}  // namespace shale
