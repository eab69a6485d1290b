// Helpers of the S3 client: AWS Signature Version 4, hashing and encoding, and the small XML
// scanning the S3 answers need. Private to src/storage/. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shale::storage::internal {

// Lowercase hex of the SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw (32-byte) HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Base64 of the MD5 of `data` (the Content-MD5 header).
std::string Md5Base64(std::string_view data);
std::string HexEncode(std::string_view bytes);

// Percent-encodes every byte but the unreserved ones (A-Z a-z 0-9 - _ . ~), as SigV4 requires;
// '/' is kept when `keep_slash` (object keys in paths) and encoded otherwise (query values).
std::string UriEncode(std::string_view text, bool keep_slash);

// Escapes & < > " ' for XML text.
std::string XmlEscape(std::string_view text);
// Replaces the five named entities and numeric references (&#38; &#x26;); unknown entities are
// kept as they are.
std::string XmlUnescape(std::string_view text);
// The raw (still escaped) contents of every `<tag>...</tag>` in `xml`, in document order.
// Elements are not nested in S3 answers for the tags we read, so plain scanning is enough.
std::vector<std::string_view> XmlRawElements(std::string_view xml, std::string_view tag);
// The unescaped text of the first `<tag>...</tag>`, or nullopt.
std::optional<std::string> XmlFirstText(std::string_view xml, std::string_view tag);

// One request to sign with AWS Signature Version 4 (service "s3"). Signed headers are always
// host, x-amz-content-sha256 and x-amz-date.
struct SigV4Request {
  std::string_view method;           // "GET"
  std::string_view host;             // Host header value, with a non-default port
  std::string_view canonical_uri;    // already encoded, e.g. "/bucket/a%20b"
  std::string_view canonical_query;  // already encoded and sorted, e.g. "list-type=2&prefix=a"
  std::string_view payload_sha256;   // Sha256Hex of the body
  std::string_view amz_date;         // "20260102T030405Z"
};

// The value of the Authorization header.
std::string SigV4Authorization(const SigV4Request& request, std::string_view access_key_id,
                               std::string_view secret_access_key, std::string_view region);

}  // namespace shale::storage::internal
